/**
 * Executors run one batch at a time: in a worker thread (pure-JS backends, one per core) or in
 * the main thread (native backends, which thread and batch on their own, best on a GPU).
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendName } from './backend';
import type { ModelRunner, RunnerModel } from './model-runner';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker';

/** Output of one batch and how long the model took. */
export interface BatchOutput {
  output: Float32Array;
  ms: number;
}

/** Something that runs the model on a batch. */
export interface Executor {
  run(input: Float32Array, batch: number): Promise<BatchOutput>;
  numTensors(): Promise<number>;
  close(): Promise<void>;
}

/** Runs the model in the calling thread. */
export class InProcessExecutor implements Executor {
  constructor(private readonly runner: ModelRunner) {}

  async run(input: Float32Array, batch: number): Promise<BatchOutput> {
    const started = performance.now();
    const output = await this.runner.run(input, batch);
    return { output, ms: performance.now() - started };
  }

  async numTensors(): Promise<number> {
    return this.runner.numTensors();
  }

  async close(): Promise<void> {}
}

type Pending = { resolve: (reply: WorkerReply) => void; reject: (err: Error) => void };

/** Runs the model in a worker thread that holds its own copy of it. */
export class WorkerExecutor implements Executor {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => this.settle(reply));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => this.failAll(new Error(`inference worker exited (${code})`)));
  }

  /** Starts a worker and resolves once its model is loaded and warm. */
  static start(backend: BackendName, model: RunnerModel, warmUpSizes: number[]) {
    const init: WorkerInit = { backend, model, warmUpSizes };
    const worker = new Worker(workerEntry(), { workerData: init, execArgv: workerExecArgv() });
    return new Promise<WorkerExecutor>((resolve, reject) => {
      const onMessage = (reply: WorkerReply) => {
        if (reply.type === 'ready') resolve(new WorkerExecutor(worker));
        if (reply.type === 'failed') {
          void worker.terminate();
          reject(new Error(reply.message));
        }
        if (reply.type === 'ready' || reply.type === 'failed') worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  async run(input: Float32Array, batch: number): Promise<BatchOutput> {
    const reply = await this.request({ type: 'run', id: 0, input, batch }, [input.buffer]);
    if (reply.type === 'result') return { output: reply.output, ms: reply.ms };
    throw new Error(reply.type === 'error' ? reply.message : `unexpected reply ${reply.type}`);
  }

  async numTensors(): Promise<number> {
    const reply = await this.request({ type: 'stats', id: 0 }, []);
    return reply.type === 'stats' ? reply.numTensors : Number.NaN;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  private request(msg: WorkerRequest, transfer: ArrayBufferLike[]): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer as ArrayBuffer[]);
    });
  }

  private settle(reply: WorkerReply): void {
    if (!('id' in reply)) return;
    const pending = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    pending?.resolve(reply);
  }

  private failAll(err: Error): void {
    if (this.closing) return;
    for (const pending of this.pending.values()) pending.reject(err);
    this.pending.clear();
  }
}

/** The compiled worker, or its TypeScript source when running under ts-node (tests). */
function workerEntry(): string {
  const ext = path.extname(__filename);
  return path.join(__dirname, `worker${ext}`);
}

function workerExecArgv(): string[] {
  return __filename.endsWith('.ts') ? ['--require', 'ts-node/register/transpile-only'] : [];
}
