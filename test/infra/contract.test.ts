import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { amiFilters } from '../../infra/golden-ami';
import { configKeyOf } from '../../infra/secrets';
import type { RecordedResource } from '../../infra/mocks';
import { REPO_ROOT, declaredKeys } from '../../infra/stack-files';
import {
  AMI_TAGS,
  BATCH_INSTANCE_ENV,
  DEFAULT_MAX_BODY_BYTES,
  INSTANCE_ENV,
  LAUNCH_LIFECYCLE_HOOK,
  PATHS,
  PULUMI_PROJECT,
  PUBLIC_API_PREFIX,
  SECRETS,
  SERVER_PORT,
  SERVICE_NAME,
  STACK_CONFIG_KEYS,
} from '../../server/contract';
import { environmentOf, input, named, ofType, resourcesOf, runStack } from './support';

/** Every literal of the contract that the infrastructure must take from it, not repeat. */
const CONTRACT_LITERALS = [
  String(SERVER_PORT),
  PATHS.ready,
  PATHS.metrics,
  LAUNCH_LIFECYCLE_HOOK,
  SECRETS.parameterPathPrefix,
  ...Object.values(AMI_TAGS),
  ...Object.values(INSTANCE_ENV),
  ...Object.values(BATCH_INSTANCE_ENV),
  ...Object.keys(SECRETS.parameters),
  '/etc/breed-identifier',
];

describe('infra follows the shared contract', function () {
  this.timeout(180_000);
  let prod: RecordedResource[];

  before(async () => {
    prod = await resourcesOf(runStack('prod', { authApiKeyHashes: { secure: 'v1:AAAA' } }));
  });

  it('the project name in Pulumi.yaml is the contract name, and main points at infra/', () => {
    const project = fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.yaml'), 'utf8');
    assert.match(project, new RegExp(`^name: ${PULUMI_PROJECT}$`, 'm'));
    assert.match(project, /^main: infra\/$/m);
    for (const key of Object.values(STACK_CONFIG_KEYS)) assert.ok(key in declaredKeys());
  });

  it('the entry point exports every stack output', async () => {
    const { outputs } = await runStack('prod', { authApiKeyHashes: { secure: 'v1:AAAA' } });
    const index = fs.readFileSync(path.join(REPO_ROOT, 'infra', 'index.ts'), 'utf8');
    const exported = [...index.matchAll(/^export const (\w+) = outputs\.(\w+);$/gm)];
    assert.ok(exported.every(([, name, source]) => name === source));
    assert.deepEqual(exported.map(([, name]) => name).sort(), Object.keys(outputs).sort());
  });

  it('the target group checks the readiness path on the server port', () => {
    const group = named(prod, 'aws:lb/targetGroup:TargetGroup', 'edge-fleet');
    assert.equal(input(group, 'healthCheck.path'), PATHS.ready);
    assert.equal(group.inputs.port, SERVER_PORT);
  });

  it('the listener forwards the public API prefix', () => {
    const rule = named(prod, 'aws:lb/listenerRule:ListenerRule', 'edge-public-api');
    assert.deepEqual(input(rule, 'conditions.0.pathPattern.values'), [`${PUBLIC_API_PREFIX}*`]);
  });

  it('the lifecycle hook and the user data use the contract names', () => {
    const group = named(prod, 'aws:autoscaling/group:Group', 'fleet-group');
    assert.equal(input(group, 'initialLifecycleHooks.0.name'), LAUNCH_LIFECYCLE_HOOK);
    const environment = environmentOf(
      named(prod, 'aws:ec2/launchTemplate:LaunchTemplate', 'fleet-template'),
    );
    assert.deepEqual(Object.keys(environment).sort(), Object.values(INSTANCE_ENV).sort());
  });

  it('the AMI is looked up by the tags the AMI pipeline writes', () => {
    const config = { amiId: undefined, modelVersion: '2.1.0' } as Parameters<typeof amiFilters>[0];
    const filters = amiFilters(config);
    assert.deepEqual(filters.find((f) => f.name === `tag:${AMI_TAGS.modelVersion}`)?.values, [
      '2.1.0',
    ]);
    assert.deepEqual(filters.find((f) => f.name === `tag:${AMI_TAGS.service}`)?.values, [
      SERVICE_NAME,
    ]);
  });

  it('every secret of the contract becomes a parameter under the stack path', () => {
    const names = ofType(prod, 'aws:ssm/parameter:Parameter')
      .map((p) => p.inputs.name)
      .sort();
    assert.deepEqual(
      names,
      Object.keys(SECRETS.parameters)
        .map((suffix) => `${SECRETS.parameterPathPrefix}/prod/${suffix}`)
        .sort(),
    );
  });

  it('every secret of the contract has a configuration key of the same name', () => {
    assert.equal(configKeyOf('auth/jwks-url'), 'authJwksUrl');
    for (const suffix of Object.keys(SECRETS.parameters)) {
      assert.ok(configKeyOf(suffix) in declaredKeys(), `Pulumi.yaml lacks ${configKeyOf(suffix)}`);
    }
  });

  it('the WAF size rule uses the server body limit', () => {
    const acl = named(prod, 'aws:wafv2/webAcl:WebAcl', 'waf-acl');
    const size = (
      acl.inputs.rules as {
        name: string;
        statement: { regexMatchStatement: { regexString: string } };
      }[]
    ).find((r) => r.name === 'body-size')!;
    const regex = new RegExp(size.statement.regexMatchStatement.regexString);
    assert.ok(
      regex.test(String(DEFAULT_MAX_BODY_BYTES + 1)) && !regex.test(String(DEFAULT_MAX_BODY_BYTES)),
    );
  });

  it('no infra source repeats a contract literal: each is imported', () => {
    const dir = path.join(REPO_ROOT, 'infra');
    const offenders: string[] = [];
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'mocks.ts')) {
      const code = fs
        .readFileSync(path.join(dir, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const literal of CONTRACT_LITERALS) {
        if (
          new RegExp(`['"\`]${literal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}['"\`/]`).test(code)
        ) {
          offenders.push(`${file}: ${literal}`);
        }
      }
    }
    assert.deepEqual(offenders, []);
  });
});
