/**
 * The boot agent: runs on every boot of an instance started from the golden image, before the
 * server. It reads the Auto Scaling target lifecycle state over IMDSv2, pulls the model's
 * blocks from the snapshot, fetches the secrets (or keeps the cached copy), and then either
 * prepares only (warm pool) or starts the server and completes the launch lifecycle action
 * once the server is ready. On a batch instance (`INSTANCE_ENV.role`) it pulls the model's
 * blocks the same way and starts the batch worker instead; the server never starts there.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Logger } from 'pino';

import { INSTANCE_ROLES, type InstanceRoleName } from '../contract';
import type { CloudWatchOutcome } from './cloudwatch';
import type { BootAgentConfig } from './config';
import type { ImdsClient } from './imds';
import {
  type BootPlan,
  type CompletionOutcome,
  IN_SERVICE,
  LifecycleCompleter,
  type LifecycleResult,
  planForBatch,
  planForTargetState,
} from './lifecycle';
import { waitForReady } from './readiness';
import { refreshSecrets, type SecretsSource } from './secrets';
import type { ServiceManager } from './service-manager';
import { readFilesOnce } from './warm-files';

/** Metadata item holding the state the group wants this instance in. */
export const TARGET_STATE_PATH = 'autoscaling/target-lifecycle-state';

/** Everything the agent talks to; each piece is injectable so tests can use local stand-ins. */
export interface BootAgentDeps {
  config: BootAgentConfig;
  imds: ImdsClient;
  createSsm: (region: string) => SSMClient;
  createAutoScaling: (region: string) => AutoScalingClient;
  services: ServiceManager;
  /** Renders the CloudWatch agent's configuration for the stack and starts the agent. */
  configureLogs: (stack: string | undefined) => Promise<CloudWatchOutcome>;
  logger: Logger;
}

/** What one run of the agent did, for the log and the tests. */
export interface BootOutcome {
  role: InstanceRoleName;
  targetState: string | null;
  plan: BootPlan;
  secrets: SecretsSource | 'skipped';
  /** The server was started and became ready. */
  served: boolean;
  /** The batch worker was started (batch instances only). */
  working: boolean;
  lifecycle: { result: LifecycleResult; outcome: CompletionOutcome }[];
}

/** Runs the boot sequence once; rejects (after giving the launch up, when one is pending). */
export async function runBootAgent(deps: BootAgentDeps): Promise<BootOutcome> {
  const { imds, logger } = deps;
  const { role } = deps.config;
  const batch = role === INSTANCE_ROLES.batch;
  const targetState = await imds.getMetadata(TARGET_STATE_PATH);
  const plan = batch ? planForBatch(targetState) : planForTargetState(targetState);
  const outcome: BootOutcome = {
    role,
    targetState,
    plan,
    secrets: 'skipped',
    served: false,
    working: false,
    lifecycle: [],
  };
  logger.info({ role, targetState, plan: plan.reason }, 'boot plan');
  if (!plan.prepare) return outcome;
  if (batch) return startBatchWorker(deps, outcome);

  const region = deps.config.region ?? (await requiredMetadata(imds, 'placement/region'));
  const lifecycle = plan.completeLifecycle ? await completer(deps, region) : null;
  const giveUp = async (error: unknown): Promise<never> => {
    if (lifecycle) await completeQuietly(lifecycle, 'ABANDON', outcome, logger);
    throw error;
  };

  const stopHeartbeats = lifecycle ? startHeartbeats(lifecycle, deps) : () => undefined;
  try {
    return await prepareAndServe(deps, region, outcome, lifecycle, giveUp);
  } finally {
    stopHeartbeats();
  }
}

async function prepareAndServe(
  deps: BootAgentDeps,
  region: string,
  outcome: BootOutcome,
  lifecycle: LifecycleCompleter | null,
  giveUp: (error: unknown) => Promise<never>,
): Promise<BootOutcome> {
  const { plan } = outcome;
  const { logger } = deps;
  await prepare(deps, region, outcome).catch(giveUp);
  if (!plan.serve && !plan.waitForInService) {
    if (lifecycle) await complete(lifecycle, 'CONTINUE', outcome, logger);
    return outcome;
  }
  if (plan.waitForInService) {
    if (lifecycle) await complete(lifecycle, 'CONTINUE', outcome, logger);
    await waitForInService(deps);
  }

  await serve(deps).catch(giveUp);
  outcome.served = true;
  if (lifecycle) await complete(lifecycle, 'CONTINUE', outcome, logger);
  return outcome;
}

/** Heartbeats every interval until stopped; a failed heartbeat is logged, never fatal. */
function startHeartbeats(lifecycle: LifecycleCompleter, deps: BootAgentDeps): () => void {
  const timer = setInterval(() => {
    lifecycle
      .heartbeat()
      .then((result) => deps.logger.debug({ result }, 'lifecycle heartbeat'))
      .catch((error: Error) =>
        deps.logger.warn({ err: error.message }, 'lifecycle heartbeat failed'),
      );
  }, deps.config.heartbeatIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * A batch instance: logs, model blocks, then the worker. No secrets (the worker needs none) and
 * no lifecycle action (the batch group has no hook), so no Auto Scaling or SSM call is made.
 */
async function startBatchWorker(deps: BootAgentDeps, outcome: BootOutcome): Promise<BootOutcome> {
  const { config, logger } = deps;
  await shipLogs(deps);
  await warmModel(deps);
  if (!outcome.plan.serve) return outcome;

  await deps.services.start(config.batchUnit);
  outcome.working = true;
  logger.info({ unit: config.batchUnit }, 'batch worker started');
  return outcome;
}

async function prepare(deps: BootAgentDeps, region: string, outcome: BootOutcome): Promise<void> {
  const { config, logger } = deps;
  await shipLogs(deps);
  await warmModel(deps);

  if (!config.secretsParameterPath) {
    logger.warn('no secrets parameter path configured: secrets not fetched');
    return;
  }
  outcome.secrets = await refreshSecrets({
    ssm: deps.createSsm(region),
    parameterPath: config.secretsParameterPath,
    file: config.secretsFile,
    onFallback: (error) =>
      logger.warn(
        { err: error.message, file: config.secretsFile },
        'secrets store unreachable: cached copy kept',
      ),
  });
  logger.info({ source: outcome.secrets, file: config.secretsFile }, 'secrets ready');
}

/** Reads every model file once, so the first photos do not wait for blocks from the snapshot. */
async function warmModel(deps: BootAgentDeps): Promise<void> {
  const { config, logger } = deps;
  const warm = await readFilesOnce(config.modelDir);
  logger.info({ ...warm, dir: config.modelDir }, 'model files read');
}

/** Logs are worth having but not worth failing a launch for: errors are only reported. */
async function shipLogs(deps: BootAgentDeps): Promise<void> {
  try {
    const result = await deps.configureLogs(deps.config.stack);
    deps.logger.info({ result }, 'CloudWatch agent');
  } catch (error) {
    deps.logger.warn({ err: (error as Error).message }, 'CloudWatch agent not configured');
  }
}

async function serve(deps: BootAgentDeps): Promise<void> {
  const { config, logger } = deps;
  await deps.services.start(config.serverUnit);
  logger.info({ unit: config.serverUnit }, 'server started');

  const waitedMs = await waitForReady(config.readyUrl, { timeoutMs: config.readyTimeoutMs });
  logger.info({ waitedMs }, 'server ready');
}

async function waitForInService(deps: BootAgentDeps): Promise<void> {
  const { imds, logger, config } = deps;
  logger.info('waiting in the running warm pool to be put in service');
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, config.warmPollIntervalMs));
    if ((await imds.getMetadata(TARGET_STATE_PATH)) === IN_SERVICE) return;
  }
}

async function completer(deps: BootAgentDeps, region: string): Promise<LifecycleCompleter> {
  const instanceId = await requiredMetadata(deps.imds, 'instance-id');
  const client = deps.createAutoScaling(region);
  return new LifecycleCompleter(client, instanceId, deps.config.lifecycleHookName);
}

async function complete(
  lifecycle: LifecycleCompleter,
  result: LifecycleResult,
  outcome: BootOutcome,
  logger: Logger,
): Promise<void> {
  const done = await lifecycle.complete(result);
  outcome.lifecycle.push({ result, outcome: done });
  logger.info({ result, outcome: done }, 'launch lifecycle action');
}

/** Gives a launch up without hiding the error that caused it. */
async function completeQuietly(
  lifecycle: LifecycleCompleter,
  result: LifecycleResult,
  outcome: BootOutcome,
  logger: Logger,
): Promise<void> {
  try {
    await complete(lifecycle, result, outcome, logger);
  } catch (error) {
    logger.error({ err: (error as Error).message }, 'could not complete the lifecycle action');
  }
}

async function requiredMetadata(imds: ImdsClient, path: string): Promise<string> {
  const value = await imds.getMetadata(path);
  if (!value) throw new Error(`instance metadata has no ${path}`);
  return value;
}
