/**
 * Groups concurrent requests into batches and hands each batch to the first idle executor.
 * While an executor is idle a request goes straight through (no added latency at low load);
 * requests that arrive while every executor is busy wait and leave together as one batch.
 * Batches are padded up to a fixed set of sizes so that every shape the model sees was warmed
 * up at start (on a GPU each new shape costs a kernel selection).
 */
import { appError } from '../errors';
import type { Executor } from './executors';

/** Tuning of the queue. */
export interface QueueOptions {
  /** Largest batch handed to the model. */
  maxBatchSize: number;
  /** How long a request may wait for others to fill a batch while an executor is idle. */
  maxBatchWaitMs: number;
  /** Requests waiting beyond this many are refused with `queue_full`. */
  maxQueue: number;
  /** Values per image in the model's input (height x width x 3). */
  inputSize: number;
  /** Classes per image in the model's output. */
  outputSize: number;
}

/** One image's output and where its time went. */
export interface QueueResult {
  probabilities: Float32Array;
  queueMs: number;
  inferenceMs: number;
  batchSize: number;
}

/** Observer of each batch, for metrics. */
export type BatchObserver = (batch: { size: number; padded: number; ms: number }) => void;

interface Job {
  input: Float32Array;
  enqueuedAt: number;
  resolve: (result: QueueResult) => void;
  reject: (err: Error) => void;
}

/** Batch sizes used: powers of two up to the maximum, and the maximum itself. */
export function batchSizesFor(maxBatchSize: number): number[] {
  const sizes: number[] = [];
  for (let size = 1; size < maxBatchSize; size *= 2) sizes.push(size);
  sizes.push(maxBatchSize);
  return sizes;
}

/** The bounded batching queue in front of the executors. */
export class InferenceQueue {
  private readonly waiting: Job[] = [];
  private readonly idle: Executor[];
  private readonly sizes: number[];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private closed = false;
  private recentImagesPerSecond = 0;

  constructor(
    executors: readonly Executor[],
    private readonly options: QueueOptions,
    private readonly observe: BatchObserver = () => undefined,
  ) {
    this.idle = [...executors];
    this.sizes = batchSizesFor(options.maxBatchSize);
  }

  /** Largest batch handed to the model. */
  get maxBatchSize(): number {
    return this.options.maxBatchSize;
  }

  /** Requests waiting for an executor. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Requests waiting or running. */
  get pending(): number {
    return this.waiting.length + this.inFlight;
  }

  /** Queues one preprocessed image; rejects at once with `queue_full` when the queue is full. */
  submit(input: Float32Array): Promise<QueueResult> {
    if (this.closed) return Promise.reject(appError('not_ready'));
    if (this.waiting.length >= this.options.maxQueue) {
      return Promise.reject(
        appError('queue_full', undefined, { 'Retry-After': this.retryAfter() }),
      );
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, enqueuedAt: performance.now(), resolve, reject });
      this.pump();
    });
  }

  /** Refuses new work; waits for what is queued and running to finish. */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.pending > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private pump(): void {
    while (this.idle.length > 0 && this.waiting.length > 0) {
      if (this.shouldWait()) return;
      // Most recently used first: at low load one executor stays hot (caches, tiered-up wasm).
      const executor = this.idle.pop() as Executor;
      const jobs = this.waiting.splice(0, this.options.maxBatchSize);
      void this.dispatch(executor, jobs);
    }
  }

  /** True (and a timer set) while a partial batch may still grow within the wait budget. */
  private shouldWait(): boolean {
    const { maxBatchWaitMs, maxBatchSize } = this.options;
    if (maxBatchWaitMs <= 0 || this.waiting.length >= maxBatchSize) return false;

    const oldest = this.waiting[0] as Job;
    const left = maxBatchWaitMs - (performance.now() - oldest.enqueuedAt);
    if (left <= 0) return false;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, left);
    }
    return true;
  }

  private async dispatch(executor: Executor, jobs: Job[]): Promise<void> {
    const padded = this.sizes.find((size) => size >= jobs.length) ?? jobs.length;
    const input = new Float32Array(padded * this.options.inputSize);
    jobs.forEach((job, i) => input.set(job.input, i * this.options.inputSize));

    const started = performance.now();
    this.inFlight += jobs.length;
    try {
      const { output, ms } = await executor.run(input, padded);
      this.recordRate(jobs.length, ms);
      this.observe({ size: jobs.length, padded, ms });
      jobs.forEach((job, i) => {
        const offset = i * this.options.outputSize;
        job.resolve({
          probabilities: output.slice(offset, offset + this.options.outputSize),
          queueMs: started - job.enqueuedAt,
          inferenceMs: ms,
          batchSize: jobs.length,
        });
      });
    } catch (err) {
      const failure = appError('internal', undefined, {}, { cause: err });
      jobs.forEach((job) => job.reject(failure));
    } finally {
      this.inFlight -= jobs.length;
      this.idle.push(executor);
      this.pump();
    }
  }

  private recordRate(images: number, ms: number): void {
    const rate = (images * 1000 * (this.idle.length + 1)) / Math.max(ms, 1);
    this.recentImagesPerSecond = this.recentImagesPerSecond * 0.8 + rate * 0.2;
  }

  /** Seconds until the queue has probably room again, at least 1. */
  private retryAfter(): string {
    const rate = this.recentImagesPerSecond || 1;
    return String(Math.max(1, Math.ceil(this.waiting.length / rate)));
  }
}
