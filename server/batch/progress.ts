/**
 * Progress of a run: a bar on a terminal (done, failed, photos per second, time left), and
 * plain log lines at a fixed interval otherwise, so that a log collector gets a readable
 * history instead of carriage returns.
 */
import { SingleBar } from 'cli-progress';
import type { Logger } from 'pino';

/** How progress is shown. */
export type ProgressMode = 'bar' | 'log' | 'none';

/** Receives the counts of a run. */
export interface Progress {
  /** `total` photos to do in this run. */
  start(total: number): void;
  /** One more photo done (failed or not). */
  tick(failed: boolean): void;
  /** Final update; stops timers and the bar. */
  stop(): void;
}

/** Counts and rate, as shown and logged. */
export interface ProgressSnapshot {
  done: number;
  failed: number;
  total: number;
  photosPerSecond: number;
  etaSeconds: number | null;
}

/** Picks the bar when stderr is a terminal, log lines otherwise. */
export function defaultProgressMode(stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  return stream.isTTY ? 'bar' : 'log';
}

/** Creates the progress display for `mode`. */
export function createProgress(mode: ProgressMode, logger: Logger, intervalMs = 10_000): Progress {
  const counter = new ProgressCounter();
  if (mode === 'none') return counter;
  if (mode === 'bar') return new BarProgress(counter);
  return new LogProgress(counter, logger, intervalMs);
}

class ProgressCounter implements Progress {
  private done = 0;
  private failed = 0;
  private total = 0;
  private started = performance.now();

  start(total: number): void {
    this.total = total;
    this.started = performance.now();
  }

  tick(failed: boolean): void {
    this.done += 1;
    if (failed) this.failed += 1;
  }

  stop(): void {}

  snapshot(): ProgressSnapshot {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const left = this.total - this.done;
    return {
      done: this.done,
      failed: this.failed,
      total: this.total,
      photosPerSecond: Math.round(rate * 100) / 100,
      etaSeconds: rate > 0 ? Math.round(left / rate) : null,
    };
  }
}

class BarProgress implements Progress {
  private readonly bar = new SingleBar({
    format: 'photos [{bar}] {value}/{total} | failed {failed} | {rate} photos/s | ETA {eta_left}',
    stream: process.stderr,
    hideCursor: true,
    fps: 5,
  });

  constructor(private readonly counter: ProgressCounter) {}

  start(total: number): void {
    this.counter.start(total);
    this.bar.start(total, 0, this.payload());
  }

  tick(failed: boolean): void {
    this.counter.tick(failed);
    this.bar.update(this.counter.snapshot().done, this.payload());
  }

  stop(): void {
    this.bar.update(this.counter.snapshot().done, this.payload());
    this.bar.stop();
  }

  private payload() {
    const { failed, photosPerSecond, etaSeconds } = this.counter.snapshot();
    return { failed, rate: photosPerSecond.toFixed(1), eta_left: formatEta(etaSeconds) };
  }
}

class LogProgress implements Progress {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly counter: ProgressCounter,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(total: number): void {
    this.counter.start(total);
    this.timer = setInterval(() => this.log(), this.intervalMs);
    this.timer.unref();
  }

  tick(failed: boolean): void {
    this.counter.tick(failed);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.log();
  }

  private log(): void {
    this.logger.info(this.counter.snapshot(), 'progress');
  }
}

/** `1h02m`, `3m05s`, `42s`, or `-` when unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}
