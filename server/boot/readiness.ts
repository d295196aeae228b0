/** Waits for the server's readiness endpoint to answer 200. */

/** Options of {@link waitForReady}. */
export interface WaitForReadyOptions {
  /** Give up after this long, in milliseconds. */
  timeoutMs: number;
  /** Pause between probes, in milliseconds. */
  intervalMs?: number;
}

/** Raised when the server did not become ready in time. */
export class NotReadyError extends Error {
  override readonly name = 'NotReadyError';
}

/**
 * Polls `url` until it answers 200. Connection errors and 503 are expected while the server
 * starts and loads the model, so they only mean "not yet".
 */
export async function waitForReady(url: string, options: WaitForReadyOptions): Promise<number> {
  const started = Date.now();
  const intervalMs = options.intervalMs ?? 500;
  let last = 'no answer';

  while (Date.now() - started < options.timeoutMs) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(intervalMs * 4) });
      await response.arrayBuffer();
      if (response.status === 200) return Date.now() - started;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new NotReadyError(`${url} not ready after ${options.timeoutMs} ms (last: ${last})`);
}
