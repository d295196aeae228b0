/**
 * The inference core: model loading and validation, backend choice, preprocessing and the
 * batching queue. The HTTP server and the batch job are thin front ends over it, so a photo
 * gets the same answer whichever way it comes in.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { appError } from '../errors';
import type { ModelMetadata } from '../model/metadata';
import { readModelDirectory, type ModelFiles } from '../model/load-model';
import { initBackend, type BackendName, type BackendRequest } from './backend';
import { judge, type Prediction } from './classify';
import { InProcessExecutor, WorkerExecutor, type Executor } from './executors';
import { batchSizesFor, InferenceQueue, type BatchObserver } from './inference-queue';
import { ModelRunner, type RunnerModel } from './model-runner';
import { decodeImage, type DecodedImage } from './preprocess';

export type { DecodedImage } from './preprocess';
export type { Prediction } from './classify';

/** The answer for one photo. */
export interface Identification {
  isPet: boolean;
  species: 'dog' | 'cat' | null;
  breed: string | null;
  confidence: number;
  predictions: Prediction[];
  model: { name: string; version: string };
  timingsMs: { decode: number; queue: number; inference: number; total: number };
}

/** How to build the core. */
export interface CoreOptions {
  modelDir: string;
  metadataPath?: string;
  backend?: BackendRequest;
  /** Worker threads for pure-JS backends; default one per core. Native backends use one. */
  workers?: number;
  maxBatchSize?: number;
  maxBatchWaitMs?: number;
  maxQueue?: number;
  maxInputPixels?: number;
  logger?: Logger;
  /** Called after each batch (metrics). */
  onBatch?: BatchObserver;
}

/** The loaded, warmed-up model behind a queue. */
export interface InferenceCore {
  readonly metadata: ModelMetadata;
  /** The backend actually in use. */
  readonly backend: BackendName;
  /** Executors running the model (worker threads, or 1 in-process). */
  readonly executors: number;
  readonly maxBatchSize: number;
  /** Seconds from the start of loading to warm. */
  readonly loadSeconds: number;
  /** Requests waiting for an executor. */
  queueDepth(): number;
  /** Decodes and identifies one photo. */
  identify(image: Buffer, options?: { top?: number }): Promise<Identification>;
  /** Decodes one photo into model input (throws the same coded errors as `identify`). */
  decode(image: Buffer): Promise<DecodedImage>;
  /** Identifies an already decoded photo. */
  classify(decoded: DecodedImage, options?: { top?: number }): Promise<Identification>;
  /** Live tensors per executor (a leak shows as growth). */
  tensorCounts(): Promise<number[]>;
  /** Finishes queued work, then stops the executors. */
  close(): Promise<void>;
}

/** The fields every front end logs once the core is ready. */
export function describeCore(core: InferenceCore): Record<string, string | number> {
  return {
    model: core.metadata.name,
    version: core.metadata.version,
    backend: core.backend,
    executors: core.executors,
    maxBatchSize: core.maxBatchSize,
    loadSeconds: Math.round(core.loadSeconds * 1000) / 1000,
  };
}

/** Default largest input: 50 megapixels, more than any phone camera produces. */
export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000;

/** Loads, validates and warms the model, then returns the core. */
export async function createInferenceCore(options: CoreOptions): Promise<InferenceCore> {
  const started = performance.now();
  const files = await readModelDirectory(options.modelDir, { metadataPath: options.metadataPath });
  const backend = await initBackend(options.backend ?? 'auto', (name, reason) =>
    options.logger?.info({ backend: name, reason }, 'backend unavailable'),
  );
  // Measured (README, Performance): on wasm, batching lowers throughput and delays readiness,
  // while one worker per core nearly doubles it; on a GPU, batching is where throughput is.
  const maxBatchSize = options.maxBatchSize ?? (backend.native ? 16 : 1);
  const spec = runnerModel(files);
  const warmUpSizes = batchSizesFor(maxBatchSize);

  const executors: Executor[] = backend.native
    ? [new InProcessExecutor(await loadInProcess(backend.tf, spec, warmUpSizes))]
    : await Promise.all(
        Array.from({ length: options.workers ?? os.availableParallelism() }, () =>
          WorkerExecutor.start(backend.name, spec, warmUpSizes),
        ),
      );

  const meta = files.metadata;
  const queue = new InferenceQueue(
    executors,
    {
      maxBatchSize,
      maxBatchWaitMs: options.maxBatchWaitMs ?? (backend.native ? 2 : 0),
      maxQueue: options.maxQueue ?? 64,
      inputSize: meta.input.width * meta.input.height * 3,
      outputSize: meta.labels.length,
    },
    options.onBatch,
  );
  const limits = { maxInputPixels: options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS };
  const loadSeconds = (performance.now() - started) / 1000;
  return buildCore({ meta, backend: backend.name, executors, queue, limits, loadSeconds });
}

function runnerModel(files: ModelFiles): RunnerModel {
  return {
    format: files.format,
    artifacts: files.artifacts,
    input: files.metadata.input,
    labelCount: files.metadata.labels.length,
    metadataPath: files.metadataPath,
  };
}

async function loadInProcess(
  tf: Parameters<typeof ModelRunner.load>[0],
  spec: RunnerModel,
  warmUpSizes: number[],
): Promise<ModelRunner> {
  const runner = await ModelRunner.load(tf, spec);
  await runner.warmUp(warmUpSizes);
  return runner;
}

interface CoreParts {
  meta: ModelMetadata;
  backend: BackendName;
  executors: Executor[];
  queue: InferenceQueue;
  limits: { maxInputPixels: number };
  loadSeconds: number;
}

function buildCore(parts: CoreParts): InferenceCore {
  const { meta, queue, executors } = parts;
  const model = { name: meta.name, version: meta.version };

  const classify = async (decoded: DecodedImage, options: { top?: number } = {}) => {
    const top = clampTop(options.top);
    const result = await queue.submit(decoded.input);
    const verdict = judge(result.probabilities, meta, top);
    const decode = decoded.decodeMs;
    const total = decode + result.queueMs + result.inferenceMs;
    return {
      ...verdict,
      model,
      timingsMs: {
        decode: round(decode),
        queue: round(result.queueMs),
        inference: round(result.inferenceMs),
        total: round(total),
      },
    };
  };

  const decode = (image: Buffer) => decodeImage(image, meta, parts.limits);

  return {
    metadata: meta,
    backend: parts.backend,
    executors: executors.length,
    maxBatchSize: queue.maxBatchSize,
    loadSeconds: parts.loadSeconds,
    queueDepth: () => queue.depth,
    decode,
    classify,
    identify: async (image, options) => classify(await decode(image), options),
    tensorCounts: () => Promise.all(executors.map((e) => e.numTensors())),
    close: async () => {
      await queue.drain();
      await Promise.all(executors.map((e) => e.close()));
    },
  };
}

function clampTop(top: number | undefined): number {
  if (top === undefined) return 5;
  if (!Number.isInteger(top) || top < 1 || top > 10) {
    throw appError('bad_request', 'top must be an integer from 1 to 10.');
  }
  return top;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
