import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { keyInputs, renderTree } from '../../infra/plan';
import { REPO_ROOT, SECRET_STAND_IN } from '../../infra/stack-files';
import { runStack } from './support';

describe('infra offline plan', function () {
  this.timeout(180_000);

  it('prints components, their resources and key inputs as a tree, secrets hidden', async () => {
    const run = await runStack('prod', { authApiKeyHashes: { secure: 'v1:AAAA' } });
    assert.equal(run.error, undefined);
    const lines = renderTree(run.mocks.tree);
    const text = lines.join('\n');

    const fleet = lines.indexOf('+ breed-identifier:infra:Fleet (component)  fleet');
    assert.ok(fleet >= 0, 'the fleet component is a top-level node');
    const group = lines.indexOf('  + aws:autoscaling/group:Group  fleet-group', fleet);
    assert.ok(group > fleet, 'the group is a child of the fleet');
    assert.ok(lines.slice(group).includes('      warmPool.poolState=Stopped'));
    assert.ok(
      text.includes('    + aws:iam/rolePolicy:RolePolicy  fleet-instance-inline'),
      'grandchildren indent twice',
    );
    assert.ok(!text.includes(SECRET_STAND_IN), 'a secret value is printed');
    assert.ok(!/\bvalue=/.test(text));
  });

  it('flattens nested inputs to dotted paths, lists of scalars inline', () => {
    assert.deepEqual(
      keyInputs({
        a: { b: [1, 2], c: [{ d: 'x' }] },
        tags: { secret: 'no' },
        value: 's3cr3t',
        e: true,
      }),
      ['a.b=[1,2]', 'a.c[0].d=x', 'e=true'],
    );
    assert.deepEqual(keyInputs({ long: 'y'.repeat(200) }), [`long=${'y'.repeat(90)}...`]);
  });

  it('npm run infra:plan prints the fixes and exits 1 for a bad stack file', () => {
    const dir = path.join(REPO_ROOT, 'test-output', 'infra-plan');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'Pulumi.broken.yaml');
    const prod = fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.prod.yaml'), 'utf8');
    fs.writeFileSync(file, prod.replace('warmPoolState: Stopped', 'warmPoolState: Hibernated'));

    const result = spawnSync('npm', ['run', '-s', 'infra:plan', '--', file], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /plan for stack broken failed/);
    assert.match(result.stderr, /fix: pulumi config set breed-identifier:warmPoolState Stopped/);
    assert.equal(result.stdout, '');
  });

  it('npm run infra:plan without a stack prints its usage and exits 2', () => {
    const result = spawnSync('npm', ['run', '-s', 'infra:plan'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /usage: npm run infra:plan -- <stack name/);
  });
});
