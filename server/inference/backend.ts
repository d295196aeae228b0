/**
 * Choosing the TensorFlow.js backend. In production the AMI carries `@tensorflow/tfjs-node-gpu`
 * (CUDA); elsewhere the native CPU binding may be present; failing both, the pure-JS packages
 * run: wasm measured about 7x faster than the plain `cpu` kernels here (README), so it comes
 * first.
 */
import type * as TF from '@tensorflow/tfjs';

/** What a setting may ask for. */
export type BackendRequest = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** A backend that actually initialised. */
export type BackendName = Exclude<BackendRequest, 'auto'>;

/** The initialised TensorFlow.js namespace and the backend it runs on. */
export interface InitialisedBackend {
  tf: typeof TF;
  name: BackendName;
  /** Native backends run in-process (they have their own threads and batch best on a GPU). */
  native: boolean;
}

const ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** The backends to try for a request, in order. */
export function candidates(request: BackendRequest): BackendName[] {
  return request === 'auto' ? [...ORDER] : [request];
}

/**
 * Initialises the first backend that works. A forced backend that fails is an error; under
 * `auto` each failure is recorded and the next one is tried.
 */
export async function initBackend(
  request: BackendRequest,
  onSkip: (name: BackendName, reason: string) => void = () => undefined,
): Promise<InitialisedBackend> {
  const failures: string[] = [];
  for (const name of candidates(request)) {
    try {
      return await tryBackend(name);
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0] ?? 'unknown error';
      failures.push(`${name}: ${reason}`);
      onSkip(name, reason);
    }
  }
  throw new Error(`no TensorFlow.js backend could start (${failures.join('; ')})`);
}

async function tryBackend(name: BackendName): Promise<InitialisedBackend> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
    // Loaded by name at run time: the package is optional and absent off the AMI.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tf = require(pkg) as typeof TF;
    await tf.setBackend('tensorflow');
    await tf.ready();
    return { tf, name, native: true };
  }

  // Loaded lazily: the main thread of a worker-pool server never needs TensorFlow.js itself.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tf = require('@tensorflow/tfjs') as typeof TF;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} did not initialise`);
  await tf.ready();
  return { tf, name, native: false };
}
