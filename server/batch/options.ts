/**
 * The batch job's command line, checked once. Model and inference settings read the same
 * environment variables as the server (MODEL_DIR, BACKEND, MAX_BATCH_SIZE...) so that both
 * front ends load the same model the same way; flags override them for one run. Worker
 * settings come from flags or from the environment the instance's user data writes.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sampleModel } from '../config';
import { BATCH_INSTANCE_ENV, DEFAULT_MAX_BODY_BYTES } from '../contract';
import type { BackendRequest } from '../inference/backend';
import { DEFAULT_MAX_INPUT_PIXELS } from '../inference/core';
import { parseLocation, type Location, type S3Location } from './location';
import { IMAGE_EXTENSIONS } from './photo-source';
import type { ProgressMode } from './progress';

/** A bad command line; the CLI prints the message and the usage and exits with 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Settings shared by both modes. */
export interface CommonOptions {
  core: {
    modelDir: string;
    metadataPath: string | undefined;
    backend: BackendRequest;
    workers: number;
    maxBatchSize: number | undefined;
    maxInputPixels: number;
  };
  top: number;
  maxBytes: number;
  aws: { region?: string; endpoint?: string };
  logLevel: string;
  /** Time between two progress log lines. */
  logIntervalMs: number;
}

/** `breed-batch <input> <output>`. */
export interface RunOptions extends CommonOptions {
  mode: 'run';
  input: Location;
  output: Location;
  /** Extensions taken from the input, or null for every file. */
  extensions: readonly string[] | null;
  summary: string | null;
  progress: ProgressMode | 'auto';
}

/** `breed-batch --worker`. */
export interface WorkerModeOptions extends CommonOptions {
  mode: 'worker';
  queueUrl: string;
  inputBucket: string | null;
  output: S3Location;
  visibilityTimeoutSeconds: number;
  waitTimeSeconds: number;
  retryDelaySeconds: number;
  idleExitSeconds: number;
  drainSeconds: number;
  spot: { imdsUrl: string; pollMs: number; marginSeconds: number } | null;
}

/** What the command line asks for. */
export type BatchOptions = RunOptions | WorkerModeOptions | { mode: 'help' };

/**
 * Environment variables of worker mode. The batch fleet's user data writes the contract's
 * `BATCH_INSTANCE_ENV` (queue and buckets); the prefix is optional and defaults to the top of
 * the output bucket.
 */
export const WORKER_ENV = Object.freeze({
  ...BATCH_INSTANCE_ENV,
  outputPrefix: 'BATCH_OUTPUT_PREFIX',
});

/** Default address of the instance metadata service. */
const DEFAULT_IMDS_URL = 'http://169.254.169.254';

/** The usage text. */
export const USAGE = `Usage:
  breed-batch <input> <output> [options]   input: folder or s3://bucket/prefix
                                           output: file.jsonl or s3://bucket/prefix
  breed-batch --worker [options]           take S3 objects named by SQS messages

Options (both modes):
  --model-dir DIR          model directory (MODEL_DIR; default: the sample model)
  --metadata FILE          metadata outside the model directory (MODEL_METADATA)
  --backend NAME           auto, tensorflow-gpu, tensorflow, wasm, cpu (BACKEND)
  --workers N              inference worker threads (INFERENCE_WORKERS)
  --max-batch-size N       photos per model call (MAX_BATCH_SIZE)
  --top N                  predictions kept per photo, 1-10 (default 5)
  --max-bytes N            larger photos get payload_too_large (MAX_BODY_BYTES)
  --endpoint URL           S3 and SQS endpoint, for local servers (AWS_ENDPOINT_URL)
  --region NAME            AWS region (AWS_REGION)
  --log-interval SECONDS   time between progress log lines (default 10)
Run mode:
  --all-files              take every file, not only image extensions
  --summary FILE.csv       write a CSV summary of outcomes by breed and error code
  --progress MODE          bar, log or none (default: bar on a terminal, log otherwise)
Worker mode:
  --queue-url URL          SQS queue (${WORKER_ENV.queueUrl})
  --input-bucket NAME      refuse messages naming another bucket (${WORKER_ENV.inputBucket})
  --output s3://B/PREFIX   where results go (${WORKER_ENV.outputBucket}, ${WORKER_ENV.outputPrefix})
  --visibility-timeout S   held message visibility, renewed while working (default 300)
  --wait-time S            long-polling wait, 1-20 (default 20)
  --retry-delay S          visibility after a failed attempt (default 30)
  --idle-exit S            stop after S seconds with nothing to do (default 0: never)
  --drain S                time to finish held work after SIGTERM (default 60)
  --imds-url URL           metadata service (AWS_EC2_METADATA_SERVICE_ENDPOINT)
  --no-spot-watch          do not watch for Spot interruption notices
  --notice-margin S        leave this long before the interruption time (default 15)
  --spot-poll S            time between two looks for a notice (default 5)
Exit codes: 0 all photos identified, 1 some photos failed, 2 could not run.`;

const FLAGS = {
  help: { type: 'boolean', short: 'h' },
  worker: { type: 'boolean' },
  'model-dir': { type: 'string' },
  metadata: { type: 'string' },
  backend: { type: 'string' },
  workers: { type: 'string' },
  'max-batch-size': { type: 'string' },
  top: { type: 'string' },
  'max-bytes': { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  'all-files': { type: 'boolean' },
  summary: { type: 'string' },
  progress: { type: 'string' },
  'log-interval': { type: 'string' },
  'queue-url': { type: 'string' },
  'input-bucket': { type: 'string' },
  output: { type: 'string' },
  'visibility-timeout': { type: 'string' },
  'wait-time': { type: 'string' },
  'retry-delay': { type: 'string' },
  'idle-exit': { type: 'string' },
  drain: { type: 'string' },
  'imds-url': { type: 'string' },
  'no-spot-watch': { type: 'boolean' },
  'notice-margin': { type: 'string' },
  'spot-poll': { type: 'string' },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>
>['values'];

/** Parses the arguments (without `node` and the script) against the environment. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BatchOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { mode: 'help' };
  const common = commonOptions(values, env);
  return values.worker
    ? workerOptions(values, positionals, env, common)
    : runOptions(values, positionals, common);
}

function commonOptions(v: Values, env: NodeJS.ProcessEnv): CommonOptions {
  const modelDirSetting = v['model-dir'] ?? blankToUndefined(env.MODEL_DIR);
  const sample = sampleModel();
  const metadataPath =
    v.metadata ??
    blankToUndefined(env.MODEL_METADATA) ??
    (modelDirSetting ? undefined : sample.metadata);
  const backend = v.backend ?? blankToUndefined(env.BACKEND) ?? 'auto';
  if (!['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new UsageError(`--backend: unknown backend "${backend}"`);
  }
  const maxBatch = v['max-batch-size'] ?? blankToUndefined(env.MAX_BATCH_SIZE);
  return {
    core: {
      modelDir: path.resolve(modelDirSetting ?? sample.dir),
      metadataPath,
      backend: backend as BackendRequest,
      workers: integer(
        '--workers',
        v.workers ?? env.INFERENCE_WORKERS,
        1,
        64,
        os.availableParallelism(),
      ),
      maxBatchSize:
        maxBatch === undefined ? undefined : integer('--max-batch-size', maxBatch, 1, 256, 0),
      maxInputPixels: integer(
        'MAX_INPUT_PIXELS',
        env.MAX_INPUT_PIXELS,
        1,
        1e9,
        DEFAULT_MAX_INPUT_PIXELS,
      ),
    },
    top: integer('--top', v.top, 1, 10, 5),
    maxBytes: integer(
      '--max-bytes',
      v['max-bytes'] ?? env.MAX_BODY_BYTES,
      1,
      2 ** 31,
      DEFAULT_MAX_BODY_BYTES,
    ),
    aws: {
      region: v.region ?? blankToUndefined(env.AWS_REGION),
      endpoint: v.endpoint ?? blankToUndefined(env.AWS_ENDPOINT_URL),
    },
    logLevel: blankToUndefined(env.LOG_LEVEL) ?? 'info',
    logIntervalMs: integer('--log-interval', v['log-interval'], 1, 3600, 10) * 1000,
  };
}

function runOptions(v: Values, positionals: string[], common: CommonOptions): RunOptions {
  if (positionals.length !== 2) {
    throw new UsageError(`expected <input> and <output>, got ${positionals.length} argument(s)`);
  }
  const [inputText = '', outputText = ''] = positionals;
  const progress = v.progress ?? 'auto';
  if (!['auto', 'bar', 'log', 'none'].includes(progress)) {
    throw new UsageError(`--progress: expected bar, log or none, got "${progress}"`);
  }
  return {
    ...common,
    mode: 'run',
    input: location('<input>', inputText),
    output: location('<output>', outputText),
    extensions: v['all-files'] ? null : IMAGE_EXTENSIONS,
    summary: v.summary ?? null,
    progress: progress as RunOptions['progress'],
  };
}

function workerOptions(
  v: Values,
  positionals: string[],
  env: NodeJS.ProcessEnv,
  common: CommonOptions,
): WorkerModeOptions {
  if (positionals.length > 0) throw new UsageError('--worker takes no positional arguments');
  const queueUrl = v['queue-url'] ?? blankToUndefined(env[WORKER_ENV.queueUrl]);
  if (!queueUrl) throw new UsageError(`--queue-url or ${WORKER_ENV.queueUrl} is required`);
  const outputText = v.output ?? outputFromEnv(env);
  if (!outputText) throw new UsageError(`--output or ${WORKER_ENV.outputBucket} is required`);
  const output = location('--output', outputText);
  if (output.kind !== 's3') throw new UsageError('--output must be an s3://bucket/prefix URL');
  const imdsUrl =
    v['imds-url'] ?? blankToUndefined(env.AWS_EC2_METADATA_SERVICE_ENDPOINT) ?? DEFAULT_IMDS_URL;
  return {
    ...common,
    mode: 'worker',
    queueUrl,
    inputBucket: v['input-bucket'] ?? blankToUndefined(env[WORKER_ENV.inputBucket]) ?? null,
    output,
    visibilityTimeoutSeconds: integer(
      '--visibility-timeout',
      v['visibility-timeout'],
      1,
      43200,
      300,
    ),
    waitTimeSeconds: integer('--wait-time', v['wait-time'], 1, 20, 20),
    retryDelaySeconds: integer('--retry-delay', v['retry-delay'], 0, 43200, 30),
    idleExitSeconds: integer('--idle-exit', v['idle-exit'], 0, 86400, 0),
    drainSeconds: integer('--drain', v.drain, 0, 3600, 60),
    spot: v['no-spot-watch']
      ? null
      : {
          imdsUrl,
          pollMs: integer('--spot-poll', v['spot-poll'], 1, 60, 5) * 1000,
          marginSeconds: integer('--notice-margin', v['notice-margin'], 0, 110, 15),
        },
  };
}

function outputFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const bucket = blankToUndefined(env[WORKER_ENV.outputBucket]);
  if (!bucket) return undefined;
  return `s3://${bucket}/${env[WORKER_ENV.outputPrefix] ?? ''}`;
}

function location(name: string, text: string): Location {
  try {
    return parseLocation(text);
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
}

function integer(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
  fallback: number,
) {
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name}: expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function blankToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
