/**
 * Worker-thread entry: one model on a pure-JS backend (wasm or cpu). The wasm backend runs a
 * single thread in Node, so the pool starts one of these per core to use the whole machine.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendName } from './backend';
import { ModelRunner, type RunnerModel } from './model-runner';

/** What the pool hands a worker when it starts it. */
export interface WorkerInit {
  backend: BackendName;
  model: RunnerModel;
  warmUpSizes: number[];
}

/** Messages from the pool. */
export type WorkerRequest =
  { type: 'run'; id: number; input: Float32Array; batch: number } | { type: 'stats'; id: number };

/** Messages to the pool. */
export type WorkerReply =
  | { type: 'ready'; backend: BackendName }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; output: Float32Array; ms: number }
  | { type: 'stats'; id: number; numTensors: number }
  | { type: 'error'; id: number; message: string };

async function start(port: NonNullable<typeof parentPort>, init: WorkerInit): Promise<void> {
  let runner: ModelRunner;
  try {
    const backend = await initBackend(init.backend);
    runner = await ModelRunner.load(backend.tf, init.model);
    await runner.warmUp(init.warmUpSizes);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message } satisfies WorkerReply);
    return;
  }

  port.on('message', (msg: WorkerRequest) => void handle(port, runner, msg));
  port.postMessage({ type: 'ready', backend: init.backend } satisfies WorkerReply);
}

async function handle(
  port: NonNullable<typeof parentPort>,
  runner: ModelRunner,
  msg: WorkerRequest,
): Promise<void> {
  if (msg.type === 'stats') {
    port.postMessage({ type: 'stats', id: msg.id, numTensors: runner.numTensors() });
    return;
  }

  const started = performance.now();
  try {
    const output = await runner.run(msg.input, msg.batch);
    const reply: WorkerReply = {
      type: 'result',
      id: msg.id,
      output,
      ms: performance.now() - started,
    };
    port.postMessage(reply, [output.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ type: 'error', id: msg.id, message: (err as Error).message });
  }
}

if (parentPort) void start(parentPort, workerData as WorkerInit);
