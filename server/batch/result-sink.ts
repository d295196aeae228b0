/**
 * Where results go. A sink knows which keys are already done (read when it opens, so a rerun
 * skips them), takes records one by one, and makes them durable on `flush`.
 */
import type { ResultRecord } from './record';

/** A destination for results. */
export interface ResultSink {
  /** Keys that already have a result. */
  readonly done: ReadonlySet<string>;
  /** Stores one record; durable only after the next `flush`. */
  write(record: ResultRecord): Promise<void>;
  /** Makes every record written so far durable. */
  flush(): Promise<void>;
  /** Flushes and releases the destination. */
  close(): Promise<void>;
}
