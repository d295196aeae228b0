/**
 * The contract every part of breed-identifier reads: the server, the Pulumi program, the AMI
 * provisioning tests and the release tooling import these names instead of repeating them, so
 * a change here reaches all of them and a test catches any part that drifts.
 */

/** Name of the service: systemd unit, Unix user, log group prefix, resource name prefix. */
export const SERVICE_NAME = 'breed-identifier';

/** TCP port the server listens on, on the instance and behind the load balancer. */
export const SERVER_PORT = 8080;

/** HTTP paths that are part of the contract with the load balancer and the boot agent. */
export const PATHS = Object.freeze({
  /** 200 once the model is loaded and warm; 503 before that and while draining. */
  ready: '/health/ready',
  /** 200 while the process is up and its event loop turns. */
  live: '/health/live',
  /** Prometheus text format; scraped from inside the VPC only. */
  metrics: '/metrics',
  /** The identification endpoint. */
  identify: '/v1/identify',
  /** Model description: name, version, backend, labels. */
  models: '/v1/models',
  /** OpenAPI 3 description of the HTTP API. */
  openapi: '/openapi.json',
  /** The try-it page. */
  page: '/',
});

/**
 * Largest upload the server reads (bytes), unless `MAX_BODY_BYTES` says otherwise; the load
 * balancer's web ACL refuses larger bodies before they reach an instance.
 */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Prefix under which every public API path lives; the load balancer forwards only these. */
export const PUBLIC_API_PREFIX = '/v1/';

/** Where things live on the golden image. */
export const IMAGE_LAYOUT = Object.freeze({
  /** Installed server (compiled JavaScript and production node_modules). */
  appDir: '/opt/breed-identifier/app',
  /** One read-only directory per model version: `<modelsDir>/<version>/`. */
  modelsDir: '/opt/breed-identifier/models',
  /** Symbolic link to the model version the server loads. */
  currentModelLink: '/opt/breed-identifier/models/current',
  /** Environment file read by the systemd unit. */
  envFile: '/etc/breed-identifier/server.env',
  /** Written by the instance's user data: stack name, region, secrets parameter path. */
  instanceEnvFile: '/etc/breed-identifier/instance.env',
  /**
   * Secrets fetched at boot by the boot agent (environment-file syntax, mode 0600), kept on the
   * root volume so that a warm-pool instance that starts again needs no call to the store.
   */
  secretsEnvFile: '/var/lib/breed-identifier/secrets.env',
  /** systemd unit of the server. */
  serverUnit: 'breed-identifier.service',
  /** systemd unit of the boot agent. */
  bootAgentUnit: 'breed-identifier-boot.service',
  /** systemd unit of the night batch worker; the boot agent starts it on batch instances. */
  batchUnit: 'breed-identifier-batch.service',
});

/** File names inside a model directory. */
export const MODEL_FILES = Object.freeze({
  /** TF.js model topology and weights manifest. */
  modelJson: 'model.json',
  /** Our metadata: name, version, preprocessing, labels. */
  metadata: 'metadata.json',
  /** `sha256sum` format manifest of every other file in the directory. */
  manifest: 'SHA256SUMS',
  /** Golden photos and their expected breeds, in release artifacts. */
  goldenDir: 'golden',
  goldenIndex: 'golden/expected.json',
});

/** Tags the AMI pipeline writes on every golden image; the Pulumi program looks AMIs up by them. */
export const AMI_TAGS = Object.freeze({
  service: 'breed-identifier:service',
  modelName: 'breed-identifier:model-name',
  modelVersion: 'breed-identifier:model-version',
  modelSha256: 'breed-identifier:model-sha256',
  gitCommit: 'breed-identifier:git-commit',
  nvidiaDriver: 'breed-identifier:nvidia-driver',
  cuda: 'breed-identifier:cuda',
  cudnn: 'breed-identifier:cudnn',
  node: 'breed-identifier:node',
  tfjs: 'breed-identifier:tfjs',
});

/** Pulumi stack configuration keys that other parts (the release workflow) set or read. */
export const STACK_CONFIG_KEYS = Object.freeze({
  modelVersion: 'modelVersion',
  amiId: 'amiId',
});

/** The Pulumi project name, as written in Pulumi.yaml. */
export const PULUMI_PROJECT = SERVICE_NAME;

/**
 * Secrets in SSM Parameter Store (SecureString), under `<prefix>/<stack>/`. The Pulumi program
 * creates them and lets only the fleet role read them; the boot agent turns each into the
 * environment variable named here in `IMAGE_LAYOUT.secretsEnvFile`.
 */
export const SECRETS = Object.freeze({
  parameterPathPrefix: '/breed-identifier',
  parameters: Object.freeze({
    'auth/api-key-hashes': 'AUTH_API_KEY_HASHES',
    'auth/jwt-issuer': 'AUTH_JWT_ISSUER',
    'auth/jwt-audience': 'AUTH_JWT_AUDIENCE',
    'auth/jwks-url': 'AUTH_JWKS_URL',
  }),
});

/** Environment variables that the instance's user data writes into `instanceEnvFile`. */
export const INSTANCE_ENV = Object.freeze({
  stack: 'BREED_STACK',
  region: 'AWS_REGION',
  secretsParameterPath: 'SECRETS_PARAMETER_PATH',
  lifecycleHookName: 'LIFECYCLE_HOOK_NAME',
  /** What the instance is for, one of `INSTANCE_ROLES`; absent means inference. */
  role: 'BREED_ROLE',
});

/**
 * Values of `INSTANCE_ENV.role`. Both groups boot the same image; the role, written by each
 * launch template, tells the boot agent whether to start the server or the batch worker.
 */
export const INSTANCE_ROLES = Object.freeze({
  inference: 'inference',
  batch: 'batch',
});

/** One of the values of {@link INSTANCE_ROLES}. */
export type InstanceRoleName = (typeof INSTANCE_ROLES)[keyof typeof INSTANCE_ROLES];

/**
 * Variables that the batch group's user data writes into `instanceEnvFile`, besides the stack,
 * region and role: the work queue and the buckets the worker reads from and writes to.
 */
export const BATCH_INSTANCE_ENV = Object.freeze({
  queueUrl: 'BATCH_QUEUE_URL',
  inputBucket: 'BATCH_INPUT_BUCKET',
  outputBucket: 'BATCH_OUTPUT_BUCKET',
});

/** Name of the launch lifecycle hook on the inference Auto Scaling group. */
export const LAUNCH_LIFECYCLE_HOOK = 'breed-identifier-launch';
