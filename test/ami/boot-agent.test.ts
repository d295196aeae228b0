/**
 * The boot agent against local stand-ins of the metadata service, SSM and Auto Scaling, through
 * the real AWS SDK clients: each target lifecycle state leads to its action, every metadata read
 * carries a session token, and the secrets file is written, kept or refused as the README says.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SSMClient } from '@aws-sdk/client-ssm';
import pino from 'pino';

import {
  BATCH_INSTANCE_ENV,
  IMAGE_LAYOUT,
  INSTANCE_ENV,
  INSTANCE_ROLES,
  LAUNCH_LIFECYCLE_HOOK,
  PATHS,
  SECRETS,
} from '../../server/contract';
import { type BootOutcome, runBootAgent } from '../../server/boot/agent';
import { type CloudWatchPaths, configureCloudWatchAgent } from '../../server/boot/cloudwatch';
import { loadBootAgentConfig } from '../../server/boot/config';
import { parseEnvFile } from '../../server/boot/env-file';
import { ImdsClient } from '../../server/boot/imds';
import { SecretsUnavailableError } from '../../server/boot/secrets';
import { readFilesOnce } from '../../server/boot/warm-files';
import {
  type AwsState,
  type ImdsState,
  type StandIn,
  startAws,
  startImds,
  startReadiness,
} from './stand-ins';

const STACK_PATH = `${SECRETS.parameterPathPrefix}/rehearsal`;
const KEY_HASHES = 'ci:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const CREDENTIALS = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

describe('boot agent', function () {
  this.timeout(20_000);

  let work: string;
  let imdsState: ImdsState;
  let awsState: AwsState;
  let readyFlag: { ready: boolean };
  let imds: StandIn;
  let aws: StandIn;
  let readiness: StandIn;
  let started: string[];
  let readyDelayMs: number;
  let cloudWatch: CloudWatchPaths;
  let logLines: Record<string, unknown>[];

  beforeEach(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'boot-agent-'));
    await mkdir(path.join(work, 'models', '1.0.0', 'golden'), { recursive: true });
    await writeFile(path.join(work, 'models', '1.0.0', 'model.json'), '{"format":"layers-model"}');
    await writeFile(
      path.join(work, 'models', '1.0.0', 'group1-shard1of1'),
      Buffer.alloc(3 << 20, 7),
    );
    await writeFile(path.join(work, 'models', '1.0.0', 'golden', 'a.jpg'), Buffer.alloc(1000, 1));
    await symlink('1.0.0', path.join(work, 'models', 'current'));

    imdsState = {
      targetState: 'InService',
      instanceId: 'i-0abc',
      region: 'eu-west-1',
      tokens: new Set(),
    };
    awsState = {
      parameters: {
        [`${STACK_PATH}/auth/api-key-hashes`]: KEY_HASHES,
        [`${STACK_PATH}/auth/jwt-issuer`]: 'https://issuer.example/',
        [`${STACK_PATH}/unrelated/setting`]: 'ignored',
      },
      failSsm: false,
      groupName: 'breed-identifier-production-fleet',
      pendingAction: true,
      completions: [],
      heartbeats: [],
    };
    cloudWatch = {
      template: path.resolve(
        __dirname,
        '../../ami/rootfs/etc/breed-identifier/cloudwatch-agent.json',
      ),
      config: path.join(work, 'cloudwatch', 'agent.json'),
      ctl: path.join(work, 'amazon-cloudwatch-agent-ctl'),
    };
    // A stand-in control tool: records its arguments, as the real one would read them.
    await writeFile(cloudWatch.ctl, `#!/bin/sh\necho "$@" > "${work}/ctl-args"\n`);
    await chmod(cloudWatch.ctl, 0o755);
    readyFlag = { ready: false };
    started = [];
    logLines = [];
    readyDelayMs = 300;
    [imds, aws, readiness] = await Promise.all([
      startImds(imdsState),
      startAws(awsState),
      startReadiness(readyFlag),
    ]);
  });

  afterEach(async () => {
    await Promise.all([imds.close(), aws.close(), readiness.close()]);
    await rm(work, { recursive: true, force: true });
  });

  function run(env: NodeJS.ProcessEnv = {}, awsUrl = aws.url): Promise<BootOutcome> {
    const config = loadBootAgentConfig({
      AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
      SECRETS_PARAMETER_PATH: STACK_PATH,
      BREED_STACK: 'rehearsal',
      BOOT_MODEL_DIR: path.join(work, 'models', 'current'),
      BOOT_SECRETS_FILE: path.join(work, 'secrets.env'),
      BOOT_READY_URL: `${readiness.url}${PATHS.ready}`,
      BOOT_READY_TIMEOUT_S: '5',
      BOOT_WARM_POLL_S: '1',
      ...env,
    });
    const options = { endpoint: awsUrl, credentials: CREDENTIALS, maxAttempts: 1 };
    return runBootAgent({
      config,
      imds: new ImdsClient(config.imdsBaseUrl, { attempts: 2, retryDelayMs: 10 }),
      createSsm: (region) => new SSMClient({ region, ...options }),
      createAutoScaling: (region) => new AutoScalingClient({ region, ...options }),
      services: {
        start: async (unit) => {
          started.push(unit);
          setTimeout(() => (readyFlag.ready = true), readyDelayMs);
        },
      },
      configureLogs: (stack) => configureCloudWatchAgent(stack, cloudWatch),
      logger: pino(
        { level: 'info' },
        { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) },
      ),
    });
  }

  /** The instance environment the batch launch template writes (no secrets path, no hook). */
  const BATCH_ENV = {
    [INSTANCE_ENV.role]: INSTANCE_ROLES.batch,
    [INSTANCE_ENV.secretsParameterPath]: '',
    [BATCH_INSTANCE_ENV.queueUrl]: 'https://sqs.eu-west-1.example/123456789012/batch-work',
    [BATCH_INSTANCE_ENV.inputBucket]: 'batch-input',
    [BATCH_INSTANCE_ENV.outputBucket]: 'batch-output',
  };

  function logMessages(): string[] {
    return logLines.map((line) => String(line.msg));
  }

  function assertEveryMetadataReadUsedAToken(): void {
    const reads = imds.requests.filter((r) => r.method === 'GET');
    assert.ok(reads.length > 0, 'the agent read no metadata');
    assert.ok(
      imds.requests.some((r) => r.method === 'PUT'),
      'no session token was requested',
    );
    for (const read of reads) {
      assert.match(String(read.headers['x-aws-ec2-metadata-token']), /^token-\d+$/, read.url);
    }
  }

  it('the metadata stand-in refuses a read without a token', async () => {
    const response = await fetch(`${imds.url}/latest/meta-data/instance-id`);
    assert.equal(response.status, 401);
  });

  it('InService: starts the server, waits for readiness, completes the launch action', async () => {
    const outcome = await run();

    assert.deepEqual(started, [IMAGE_LAYOUT.serverUnit]);
    assert.equal(outcome.served, true);
    assert.equal(awsState.completions.length, 1);
    const [completion] = awsState.completions;
    assert.equal(completion?.LifecycleHookName, LAUNCH_LIFECYCLE_HOOK);
    assert.equal(completion?.InstanceId, 'i-0abc');
    assert.equal(completion?.AutoScalingGroupName, awsState.groupName);
    assert.equal(completion?.LifecycleActionResult, 'CONTINUE');
    assertEveryMetadataReadUsedAToken();
  });

  it('InService: writes the secrets file, mode 0600, known parameters only', async () => {
    const outcome = await run();

    assert.equal(outcome.secrets, 'store');
    const file = path.join(work, 'secrets.env');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(parseEnvFile(await readFile(file, 'utf8')), {
      AUTH_API_KEY_HASHES: KEY_HASHES,
      AUTH_JWT_ISSUER: 'https://issuer.example/',
    });
  });

  for (const state of ['Warmed:Stopped', 'Warmed:Hibernated']) {
    it(`${state}: prepares and completes the action without starting the server`, async () => {
      imdsState.targetState = state;
      const outcome = await run();

      assert.deepEqual(started, []);
      assert.equal(outcome.served, false);
      assert.equal(outcome.secrets, 'store');
      assert.deepEqual(
        awsState.completions.map((c) => c.LifecycleActionResult),
        ['CONTINUE'],
      );
      assertEveryMetadataReadUsedAToken();
    });
  }

  it('keeps the pending launch action alive with heartbeats during a slow warm-up', async () => {
    readyDelayMs = 2500;
    const outcome = await run({ BOOT_HEARTBEAT_S: '1' });

    assert.equal(outcome.served, true);
    assert.ok(awsState.heartbeats.length >= 1, 'no heartbeat sent');
    const [beat] = awsState.heartbeats;
    assert.equal(beat?.LifecycleHookName, LAUNCH_LIFECYCLE_HOOK);
    assert.equal(beat?.InstanceId, 'i-0abc');
    const count = awsState.heartbeats.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(awsState.heartbeats.length, count, 'heartbeats continue after the boot');
  });

  it('Warmed:Running: prepares, then serves once the group puts it in service', async () => {
    imdsState.targetState = 'Warmed:Running';
    setTimeout(() => (imdsState.targetState = 'InService'), 1500);
    const outcome = await run();

    assert.deepEqual(started, [IMAGE_LAYOUT.serverUnit]);
    assert.equal(
      awsState.completions.length,
      2,
      'one completion leaving Warmed:Pending, one Pending',
    );
    assert.equal(outcome.served, true);
  });

  it('outside any Auto Scaling group (404): serves and completes nothing', async () => {
    imdsState.targetState = null;
    const outcome = await run();

    assert.deepEqual(started, [IMAGE_LAYOUT.serverUnit]);
    assert.equal(outcome.served, true);
    assert.equal(aws.requests.filter((r) => !r.headers['x-amz-target']).length, 0);
  });

  it('Terminated: does nothing at all', async () => {
    imdsState.targetState = 'Warmed:Terminated';
    const outcome = await run();

    assert.deepEqual(started, []);
    assert.equal(outcome.secrets, 'skipped');
    assert.equal(aws.requests.length, 0);
  });

  it('a reboot with no pending launch action still serves', async () => {
    awsState.pendingAction = false;
    const outcome = await run();

    assert.equal(outcome.served, true);
    assert.deepEqual(outcome.lifecycle, [{ result: 'CONTINUE', outcome: 'no-pending-action' }]);
  });

  it('a token that expires mid-boot is replaced, never dropped', async () => {
    const client = new ImdsClient(imds.url);
    assert.equal(await client.getMetadata('instance-id'), 'i-0abc');
    imdsState.tokens.clear();
    assert.equal(await client.getMetadata('placement/region'), 'eu-west-1');
    assert.equal(imds.requests.filter((r) => r.method === 'PUT').length, 2);
  });

  it('store unreachable with a cached file: keeps the cache and serves', async () => {
    const file = path.join(work, 'secrets.env');
    await writeFile(file, `AUTH_API_KEY_HASHES="${KEY_HASHES}"\n`, { mode: 0o600 });
    awsState.failSsm = true;
    const outcome = await run();

    assert.equal(outcome.secrets, 'cache');
    assert.equal(outcome.served, true);
    assert.match(await readFile(file, 'utf8'), /AUTH_API_KEY_HASHES/);
  });

  it('store refusing connections, cache present: boots on the cache', async () => {
    await writeFile(path.join(work, 'secrets.env'), `AUTH_API_KEY_HASHES="${KEY_HASHES}"\n`);
    imdsState.targetState = null;
    const closed = await startReadiness({ ready: false });
    await closed.close();
    const outcome = await run({}, closed.url);

    assert.equal(outcome.secrets, 'cache');
    assert.equal(outcome.served, true);
  });

  it('store unreachable, nothing cached: abandons the launch, no server', async () => {
    awsState.failSsm = true;

    await assert.rejects(run(), SecretsUnavailableError);
    assert.deepEqual(started, []);
    assert.deepEqual(
      awsState.completions.map((c) => c.LifecycleActionResult),
      ['ABANDON'],
    );
  });

  it('an empty store is an error even with a cache (revoked keys must not come back)', async () => {
    await writeFile(path.join(work, 'secrets.env'), `AUTH_API_KEY_HASHES="old:00"\n`);
    awsState.parameters = {};

    await assert.rejects(run(), /no known parameters/);
    assert.deepEqual(started, []);
  });

  it('a server that never becomes ready gets the launch abandoned', async () => {
    readyFlag.ready = false;
    const config = { BOOT_READY_TIMEOUT_S: '1' };
    const outcome = run(config);
    const neverReady = setInterval(() => (readyFlag.ready = false), 10);
    try {
      await assert.rejects(outcome, /not ready after 1000 ms/);
    } finally {
      clearInterval(neverReady);
    }
    assert.deepEqual(
      awsState.completions.map((c) => c.LifecycleActionResult),
      ['ABANDON'],
    );
  });

  it('configures the CloudWatch agent for the stack, warm pool included', async () => {
    imdsState.targetState = 'Warmed:Stopped';
    await run();

    const config = JSON.parse(await readFile(cloudWatch.config, 'utf8')) as {
      logs: { logs_collected: { files: { collect_list: { log_group_name: string }[] } } };
    };
    const groups = config.logs.logs_collected.files.collect_list.map((f) => f.log_group_name);
    assert.deepEqual(groups, [
      '/breed-identifier/rehearsal/server',
      '/breed-identifier/rehearsal/boot',
      '/breed-identifier/rehearsal/batch',
    ]);
    assert.equal(
      (await readFile(path.join(work, 'ctl-args'), 'utf8')).trim(),
      `-a fetch-config -m ec2 -s -c file:${cloudWatch.config}`,
    );
  });

  it('a missing or failing CloudWatch agent does not stop the launch', async () => {
    await writeFile(cloudWatch.ctl, '#!/bin/sh\nexit 3\n');
    assert.equal((await run()).served, true);
    await rm(cloudWatch.ctl);
    assert.equal(await configureCloudWatchAgent('rehearsal', cloudWatch), 'agent-absent');
  });

  for (const state of ['InService', null]) {
    it(`batch, target state ${state}: reads the model, starts the worker only`, async () => {
      imdsState.targetState = state;
      const outcome = await run(BATCH_ENV);

      assert.deepEqual(started, [IMAGE_LAYOUT.batchUnit]);
      assert.equal(outcome.role, INSTANCE_ROLES.batch);
      assert.equal(outcome.working, true);
      assert.equal(outcome.served, false);
      assert.equal(outcome.secrets, 'skipped');
      // No lifecycle hook, no secrets: neither Auto Scaling nor SSM is called.
      assert.equal(aws.requests.length, 0);
      assert.deepEqual(outcome.lifecycle, []);
      assert.equal(readiness.requests.length, 0, 'the worker has no readiness endpoint to wait on');
      const read = logLines.find((line) => line.msg === 'model files read');
      assert.equal(read?.files, 3);
      assert.equal(read?.bytes, '{"format":"layers-model"}'.length + (3 << 20) + 1000);
      const messages = logMessages();
      assert.ok(
        messages.indexOf('model files read') < messages.indexOf('batch worker started'),
        `the model is read before the worker starts: ${messages.join(', ')}`,
      );
      assertEveryMetadataReadUsedAToken();
    });
  }

  it('batch: model files that cannot be read stop the boot before the worker', async () => {
    await rm(path.join(work, 'models', '1.0.0'), { recursive: true });

    await assert.rejects(run(BATCH_ENV));
    assert.deepEqual(started, []);
  });

  it('batch in a warm-pool state (the group has none): prepares, starts nothing', async () => {
    imdsState.targetState = 'Warmed:Stopped';
    const outcome = await run(BATCH_ENV);

    assert.deepEqual(started, []);
    assert.equal(outcome.working, false);
    assert.ok(logMessages().includes('model files read'));
    assert.equal(aws.requests.length, 0);
  });

  it('batch, Terminated: does nothing at all', async () => {
    imdsState.targetState = 'Terminated';
    const outcome = await run(BATCH_ENV);

    assert.deepEqual(started, []);
    assert.equal(outcome.working, false);
    assert.ok(!logMessages().includes('model files read'));
  });

  it('batch: a failing worker start fails the boot; the server is not started', async () => {
    const config = loadBootAgentConfig({
      AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
      BOOT_MODEL_DIR: path.join(work, 'models', 'current'),
      ...BATCH_ENV,
    });
    const attempts: string[] = [];
    const outcome = runBootAgent({
      config,
      imds: new ImdsClient(config.imdsBaseUrl, { attempts: 2, retryDelayMs: 10 }),
      createSsm: () => assert.fail('a batch boot needs no SSM client'),
      createAutoScaling: () => assert.fail('a batch boot needs no Auto Scaling client'),
      services: {
        start: async (unit) => {
          attempts.push(unit);
          throw new Error(`systemctl start ${unit} failed: unit not found`);
        },
      },
      configureLogs: async () => 'no-stack',
      logger: pino({ level: 'silent' }),
    });

    await assert.rejects(outcome, /systemctl start breed-identifier-batch\.service failed/);
    assert.deepEqual(attempts, [IMAGE_LAYOUT.batchUnit]);
  });

  it('an explicit inference role serves as the default does', async () => {
    const outcome = await run({ [INSTANCE_ENV.role]: INSTANCE_ROLES.inference });

    assert.equal(outcome.role, INSTANCE_ROLES.inference);
    assert.deepEqual(started, [IMAGE_LAYOUT.serverUnit]);
    assert.equal(outcome.working, false);
  });

  it('refuses a batch role without its queue or output bucket, and an unknown role', () => {
    assert.throws(
      () => loadBootAgentConfig({ ...BATCH_ENV, [BATCH_INSTANCE_ENV.queueUrl]: '' }),
      new RegExp(`BREED_ROLE=batch needs ${BATCH_INSTANCE_ENV.queueUrl} in `),
    );
    assert.throws(
      () =>
        loadBootAgentConfig({
          [INSTANCE_ENV.role]: INSTANCE_ROLES.batch,
          [BATCH_INSTANCE_ENV.inputBucket]: 'batch-input',
        }),
      /needs BATCH_QUEUE_URL and BATCH_OUTPUT_BUCKET/,
    );
    assert.throws(() => loadBootAgentConfig({ [INSTANCE_ENV.role]: 'worker' }), /BREED_ROLE/);
  });

  it('reads every model file once, through the current link', async () => {
    const result = await readFilesOnce(path.join(work, 'models', 'current'));
    assert.equal(result.files, 3);
    assert.equal(result.bytes, '{"format":"layers-model"}'.length + (3 << 20) + 1000);
  });

  it('refuses a bad configuration with the variable named', () => {
    assert.throws(
      () => loadBootAgentConfig({ SECRETS_PARAMETER_PATH: 'no-slash', BOOT_READY_TIMEOUT_S: '-1' }),
      /SECRETS_PARAMETER_PATH.*BOOT_READY_TIMEOUT_S|BOOT_READY_TIMEOUT_S.*SECRETS_PARAMETER_PATH/,
    );
  });
});
