import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CONFIG_KEYS, parseConfig, StackConfigError, type ConfigKey } from '../../infra/config';
import { declaredKeys, loadStackSettings, REPO_ROOT } from '../../infra/stack-files';
import { PULUMI_PROJECT, STACK_CONFIG_KEYS } from '../../server/contract';
import { runStack } from './support';

/** The prod stack's raw values with some keys replaced (undefined unsets a key). */
function prodWith(overrides: Partial<Record<ConfigKey, string | undefined>>) {
  const values = { ...loadStackSettings('prod').values };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete values[`${PULUMI_PROJECT}:${key}`];
    else values[`${PULUMI_PROJECT}:${key}`] = value;
  }
  return (key: ConfigKey) => values[`${PULUMI_PROJECT}:${key}`];
}

/** Parses and returns the error, failing the test when there is none. */
function problemsOf(overrides: Partial<Record<ConfigKey, string | undefined>>): StackConfigError {
  try {
    parseConfig('prod', prodWith(overrides));
  } catch (err) {
    assert.ok(err instanceof StackConfigError, String(err));
    return err;
  }
  assert.fail(`no error for ${JSON.stringify(overrides)}`);
}

/** Asserts one problem naming `key`, matching `pattern`, with the fixing command. */
function assertProblem(
  overrides: Partial<Record<ConfigKey, string | undefined>>,
  key: ConfigKey,
  pattern: RegExp,
  fixValue?: string,
) {
  const error = problemsOf(overrides);
  const problem = error.problems.find((p) => p.key === key);
  assert.ok(problem, `no problem for ${key}: ${error.message}`);
  assert.match(problem.message, new RegExp(`^${PULUMI_PROJECT}:${key} `));
  assert.match(problem.message, pattern);
  assert.ok(problem.fix.startsWith(`pulumi config set `), problem.fix);
  assert.ok(problem.fix.includes(` ${PULUMI_PROJECT}:${key} `), problem.fix);
  if (fixValue !== undefined) assert.ok(problem.fix.endsWith(` ${fixValue}`), problem.fix);
  assert.ok(error.message.includes(problem.message) && error.message.includes(problem.fix));
}

describe('infra configuration', () => {
  describe('Pulumi.yaml', () => {
    it('declares exactly the keys the program reads, each with a type and a description', () => {
      const declared = declaredKeys();
      assert.deepEqual(Object.keys(declared).sort(), [...CONFIG_KEYS].sort());
      for (const [key, spec] of Object.entries(declared)) {
        assert.ok(['string', 'integer', 'boolean', 'array'].includes(spec.type), key);
        assert.ok((spec.description ?? '').length > 15, `${key} needs a description`);
      }
    });

    it('the README documents every key with its default', () => {
      const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
      const start = readme.indexOf('## Infrastructure (Pulumi)');
      assert.ok(start >= 0, 'README has no Infrastructure (Pulumi) section');
      const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
      for (const [key, spec] of Object.entries(declaredKeys())) {
        const row = section.split('\n').find((line) => line.startsWith(`| \`${key}\``));
        assert.ok(row, `README lacks ${key}`);
        const shown = Array.isArray(spec.default) ? spec.default.join(', ') : spec.default;
        if (shown !== undefined)
          assert.ok(row.includes(`\`${String(shown)}\``), `README default of ${key}`);
      }
    });

    it('declares the keys the release workflow sets', () => {
      for (const key of Object.values(STACK_CONFIG_KEYS)) assert.ok(key in declaredKeys(), key);
    });

    it('the example stacks set only declared keys of this project, and both are valid', () => {
      for (const stack of ['dev', 'prod']) {
        const settings = loadStackSettings(stack);
        for (const key of Object.keys(settings.values)) {
          assert.ok(key.startsWith(`${PULUMI_PROJECT}:`), key);
          assert.ok(CONFIG_KEYS.includes(key.split(':')[1] as ConfigKey), key);
        }
        const raw = (key: ConfigKey) => settings.values[`${PULUMI_PROJECT}:${key}`];
        assert.equal(parseConfig(stack, raw).stack, stack);
      }
    });

    it('the dev stack is small and may use a CPU type; prod runs GPUs with a baseline', () => {
      const dev = parseConfig(
        'dev',
        (k) => loadStackSettings('dev').values[`${PULUMI_PROJECT}:${k}`],
      );
      const prod = parseConfig('prod', prodWith({}));
      assert.equal(dev.fleet.family.gpu, false);
      assert.ok(dev.fleet.maxSize <= 2);
      assert.equal(prod.fleet.family.gpu, true);
      assert.ok(prod.fleet.baselineCount >= 1);
      assert.ok(prod.edge.certificateArn);
    });
  });

  describe('each configuration error fails with the key and the command that fixes it', () => {
    it('a baseline above the maximum', () => {
      assertProblem(
        { baselineCount: '6', minSize: '6', maxSize: '4' },
        'baselineCount',
        /above maxSize 4/,
        '4',
      );
    });

    it('a minimum below the baseline', () => {
      assertProblem({ baselineCount: '3', minSize: '2' }, 'minSize', /below baselineCount 3/, '3');
    });

    it('a Hibernated warm pool on a GPU instance type', () => {
      assertProblem(
        { warmPoolState: 'Hibernated' },
        'warmPoolState',
        /g5\.xlarge is a GPU family, which cannot hibernate/,
        'Stopped',
      );
    });

    it('a Hibernated warm pool on a CPU family that cannot hibernate', () => {
      assertProblem(
        {
          environment: 'dev',
          allowCpuInstances: 'true',
          instanceType: 'c6a.xlarge',
          warmPoolState: 'Hibernated',
        },
        'warmPoolState',
        /c6a\.xlarge is a family that cannot hibernate/,
      );
    });

    it('an unknown instance type family', () => {
      assertProblem(
        { instanceType: 'zz9.huge' },
        'instanceType',
        /"zz9\.huge", whose instance family is unknown/,
      );
      assertProblem({ instanceType: 'g5' }, 'instanceType', /instance family is unknown/);
      assertProblem(
        { batchInstanceTypes: '["g5.xlarge","qq1.large"]' },
        'batchInstanceTypes',
        /qq1\.large/,
      );
    });

    it('an Arm instance type for the x86_64 image', () => {
      assertProblem(
        { instanceType: 't4g.large' },
        'instanceType',
        /arm64 type; the golden AMI is x86_64/,
      );
    });

    it('a CPU instance type outside dev, or allowed outside dev', () => {
      assertProblem({ instanceType: 'c6i.xlarge' }, 'instanceType', /has no GPU/);
      assertProblem(
        { allowCpuInstances: 'true' },
        'allowCpuInstances',
        /CPU fleets are for dev only/,
        'false',
      );
    });

    it('a missing certificate for HTTPS in production (and staging)', () => {
      assertProblem(
        { certificateArn: undefined },
        'certificateArn',
        /is not set; a prod stack serves HTTPS only/,
      );
      assertProblem(
        { certificateArn: undefined, environment: 'staging' },
        'certificateArn',
        /staging stack/,
      );
    });

    it('a certificate from another region', () => {
      assertProblem(
        { certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' },
        'certificateArn',
        /not an ACM certificate ARN in eu-west-1/,
      );
    });

    it('zones outside the region, or fewer than two', () => {
      assertProblem(
        { availabilityZones: '["us-east-1a","eu-west-1b"]' },
        'availabilityZones',
        /us-east-1a, not zones of eu-west-1/,
      );
      assertProblem({ availabilityZones: '["eu-west-1a"]' }, 'availabilityZones', /two or more/);
      assertProblem(
        { availabilityZones: '["eu-west-1a"' },
        'availabilityZones',
        /not a list of strings/,
      );
    });

    it('a missing model version, a malformed AMI id', () => {
      assertProblem({ modelVersion: undefined }, 'modelVersion', /is not set/);
      assertProblem({ amiId: 'ami-XYZ' }, 'amiId', /not an AMI id/);
    });

    it('numbers that are not integers in range', () => {
      assertProblem({ maxSize: 'ten' }, 'maxSize', /"ten", not an integer from 1 to 1000/);
      assertProblem({ rootVolumeGiB: '12' }, 'rootVolumeGiB', /not an integer from 30/);
      assertProblem(
        { logRetentionDays: '31' },
        'logRetentionDays',
        /not a CloudWatch Logs retention value/,
        '30',
      );
    });

    it('batch settings: one type only, night above maximum, bad cron, unknown time zone', () => {
      assertProblem(
        { batchInstanceTypes: '["g5.xlarge"]' },
        'batchInstanceTypes',
        /two or more distinct types/,
      );
      assertProblem(
        { batchNightSize: '9', batchMaxSize: '3' },
        'batchMaxSize',
        /below batchNightSize 9/,
        '9',
      );
      assertProblem({ batchStartCron: '0 1 * *' }, 'batchStartCron', /not a five-field cron/);
      assertProblem(
        { batchTimeZone: 'Mars/Olympus' },
        'batchTimeZone',
        /not an IANA time zone/,
        'Etc/UTC',
      );
    });

    it('authentication: nothing set, or a partial JWT setup', () => {
      assertProblem(
        { authJwtIssuer: undefined, authJwtAudience: undefined, authJwksUrl: undefined },
        'authApiKeyHashes',
        /the API would accept no caller/,
      );
      assertProblem({ authJwtAudience: undefined }, 'authJwtAudience', /other JWT settings are/);
      assertProblem(
        { authJwksUrl: 'http://login.example.com/jwks' },
        'authJwksUrl',
        /not an https URL/,
      );
    });

    it('API key entries not in the server format, without showing them', () => {
      const good = `billing:${'ab'.repeat(32)}`;
      assertProblem(
        { authApiKeyHashes: `${good}, ${'cd'.repeat(32)}` },
        'authApiKeyHashes',
        /entries \(2\) that are not caller-id:sha256-hex/,
      );
      const error = problemsOf({ authApiKeyHashes: `${good},x:${'ef'.repeat(31)}`, maxSize: 'x' });
      assert.ok(!error.message.includes('abab') && !error.message.includes('efef'), error.message);
      assert.doesNotThrow(() =>
        parseConfig('prod', prodWith({ authApiKeyHashes: `${good}, ops:${'01'.repeat(32)}` })),
      );
    });

    it('secret keys are fixed with --secret', () => {
      const error = problemsOf({
        authJwtIssuer: undefined,
        authJwtAudience: undefined,
        authJwksUrl: undefined,
      });
      const fix = error.problems.find((p) => p.key === 'authApiKeyHashes')!.fix;
      assert.match(fix, /^pulumi config set --secret breed-identifier:authApiKeyHashes /);
    });

    it('reports every problem at once, not only the first', () => {
      const error = problemsOf({
        maxSize: '1',
        warmPoolState: 'Hibernated',
        certificateArn: undefined,
      });
      assert.deepEqual(
        error.problems.map((p) => p.key).sort(),
        ['baselineCount', 'certificateArn', 'maxSize', 'warmPoolState'].sort(),
      );
    });
  });

  describe('validation runs before any resource is declared', function () {
    this.timeout(180_000);

    for (const [label, overrides] of [
      ['baseline above maximum', { baselineCount: 12 }],
      ['Hibernated GPU warm pool', { warmPoolState: 'Hibernated' }],
      ['unknown family', { instanceType: 'x9z.large' }],
      ['no certificate in prod', { certificateArn: undefined }],
    ] as const) {
      it(`${label}: the program throws and declares nothing`, async () => {
        const run = await runStack('prod', overrides);
        // The program is loaded fresh for every run, so its error class is not this file's.
        assert.equal(run.error?.name, 'StackConfigError', String(run.error));
        assert.match(run.error.message, /fix: pulumi config set breed-identifier:/);
        assert.deepEqual(run.mocks.resources, []);
        assert.deepEqual(run.mocks.tree, []);
      });
    }
  });
});
