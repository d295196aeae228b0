/**
 * Configuration of the boot agent, read once from its environment: the instance environment
 * file written by user data (`INSTANCE_ENV` names) plus optional overrides that let the tests
 * point every remote call at local stand-ins.
 */
import { z } from 'zod';

import {
  BATCH_INSTANCE_ENV,
  IMAGE_LAYOUT,
  INSTANCE_ENV,
  INSTANCE_ROLES,
  type InstanceRoleName,
  LAUNCH_LIFECYCLE_HOOK,
  PATHS,
  SERVER_PORT,
} from '../contract';
import { DEFAULT_IMDS_BASE_URL } from './imds';

/** Everything the boot agent needs to know, validated and frozen. */
export interface BootAgentConfig {
  /** Instance metadata service (the AWS SDKs read the same variable). */
  imdsBaseUrl: string;
  /** What this instance runs: the server (default) or the night batch worker. */
  role: InstanceRoleName;
  /** Stack name, for the CloudWatch log group names; logs are not shipped when unset. */
  stack: string | undefined;
  /** Region for the SSM and Auto Scaling clients; read from instance metadata when unset. */
  region: string | undefined;
  /** SSM path holding this stack's secrets; no secrets are fetched when unset. */
  secretsParameterPath: string | undefined;
  lifecycleHookName: string;
  /** Endpoint overrides (tests, VPC endpoints with custom names); the SDK default otherwise. */
  ssmEndpoint: string | undefined;
  autoScalingEndpoint: string | undefined;
  modelDir: string;
  secretsFile: string;
  serverUnit: string;
  /** Unit started instead of the server on a batch instance. */
  batchUnit: string;
  readyUrl: string;
  readyTimeoutMs: number;
  /** How often a running warm-pool instance asks whether it has been put in service. */
  warmPollIntervalMs: number;
  /** How often a pending launch action is kept alive while the agent works. */
  heartbeatIntervalMs: number;
}

const url = z.url({ protocol: /^https?$/ });
const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();
const seconds = (fallback: number) =>
  z.coerce.number().int().positive().max(86_400).default(fallback);

const roles = Object.values(INSTANCE_ROLES) as [InstanceRoleName, ...InstanceRoleName[]];

const schema = z.object({
  AWS_EC2_METADATA_SERVICE_ENDPOINT: url.default(DEFAULT_IMDS_BASE_URL),
  [INSTANCE_ENV.role]: optionalText.pipe(z.enum(roles).default(INSTANCE_ROLES.inference)),
  [BATCH_INSTANCE_ENV.queueUrl]: optionalText,
  [BATCH_INSTANCE_ENV.outputBucket]: optionalText,
  [INSTANCE_ENV.stack]: optionalText,
  [INSTANCE_ENV.region]: optionalText,
  [INSTANCE_ENV.secretsParameterPath]: optionalText.pipe(
    z
      .string()
      .regex(/^\/[A-Za-z0-9_.\-/]+$/, 'must be an SSM path such as /a/b')
      .optional(),
  ),
  [INSTANCE_ENV.lifecycleHookName]: optionalText,
  AWS_ENDPOINT_URL_SSM: url.optional(),
  AWS_ENDPOINT_URL_AUTO_SCALING: url.optional(),
  BOOT_MODEL_DIR: z.string().default(IMAGE_LAYOUT.currentModelLink),
  BOOT_SECRETS_FILE: z.string().default(IMAGE_LAYOUT.secretsEnvFile),
  BOOT_READY_URL: url.default(`http://127.0.0.1:${SERVER_PORT}${PATHS.ready}`),
  BOOT_READY_TIMEOUT_S: seconds(900),
  BOOT_WARM_POLL_S: seconds(5),
  BOOT_HEARTBEAT_S: seconds(60),
});

/** Reads and validates the configuration; the error names every offending variable. */
export function loadBootAgentConfig(env: NodeJS.ProcessEnv = process.env): BootAgentConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.')}: ${issue.message}`,
    );
    throw new Error(`boot agent configuration: ${problems.join('; ')}`);
  }
  const value = parsed.data;
  const role = value[INSTANCE_ENV.role];
  if (role === INSTANCE_ROLES.batch) requireBatchWork(value);
  return Object.freeze({
    imdsBaseUrl: value.AWS_EC2_METADATA_SERVICE_ENDPOINT,
    role,
    stack: value[INSTANCE_ENV.stack],
    region: value[INSTANCE_ENV.region],
    secretsParameterPath: value[INSTANCE_ENV.secretsParameterPath],
    lifecycleHookName: value[INSTANCE_ENV.lifecycleHookName] ?? LAUNCH_LIFECYCLE_HOOK,
    ssmEndpoint: value.AWS_ENDPOINT_URL_SSM,
    autoScalingEndpoint: value.AWS_ENDPOINT_URL_AUTO_SCALING,
    modelDir: value.BOOT_MODEL_DIR,
    secretsFile: value.BOOT_SECRETS_FILE,
    serverUnit: IMAGE_LAYOUT.serverUnit,
    batchUnit: IMAGE_LAYOUT.batchUnit,
    readyUrl: value.BOOT_READY_URL,
    readyTimeoutMs: value.BOOT_READY_TIMEOUT_S * 1000,
    warmPollIntervalMs: value.BOOT_WARM_POLL_S * 1000,
    heartbeatIntervalMs: value.BOOT_HEARTBEAT_S * 1000,
  });
}

/**
 * A batch instance without its queue or output bucket would start a worker that exits at once
 * and is restarted forever; the agent refuses to start it and says which variable is missing.
 */
function requireBatchWork(value: Record<string, unknown>): void {
  const missing = [BATCH_INSTANCE_ENV.queueUrl, BATCH_INSTANCE_ENV.outputBucket].filter(
    (name) => value[name] === undefined,
  );
  if (missing.length === 0) return;
  throw new Error(
    `boot agent configuration: ${INSTANCE_ENV.role}=${INSTANCE_ROLES.batch} needs ` +
      `${missing.join(' and ')} in ${IMAGE_LAYOUT.instanceEnvFile}`,
  );
}
