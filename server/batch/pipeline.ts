/**
 * The batch loop: keeps a window of photos in flight through the core, stores each result as
 * it comes, and syncs the sink after every batch's worth of records. Keeping about two model
 * batches in flight means one batch is decoding while the other is in the model, so neither
 * sharp nor the model waits for the other.
 */
import type { Outcome } from './identify-photo';
import type { PhotoRef } from './photo-source';
import { isFailure, type ResultRecord } from './record';
import type { ResultSink } from './result-sink';

/** Options of one pass over the photos. */
export interface PipelineOptions {
  photos: readonly PhotoRef[];
  sink: ResultSink;
  identify: (ref: PhotoRef) => Promise<Outcome>;
  /** Photos in flight at once. */
  concurrency: number;
  /** Records between two syncs of the sink. */
  flushEvery: number;
  /** Once aborted, no new photo starts; those in flight finish and are stored. */
  signal?: AbortSignal;
  /** Called after each stored record. */
  onRecord?: (record: ResultRecord) => void;
  /** Called for each photo left for a later run. */
  onRetry?: (outcome: Extract<Outcome, { kind: 'retry' }>) => void;
}

/** Counts of one pass. */
export interface PipelineStats {
  /** Photos listed. */
  total: number;
  /** Photos skipped because the sink already had them. */
  skipped: number;
  /** Photos identified in this pass. */
  succeeded: number;
  /** Photos recorded with an error in this pass. */
  failed: number;
  /** Photos left without a record (the job failed on them, not the photo). */
  retryLater: number;
  /** True when the signal stopped the pass before every photo was started. */
  interrupted: boolean;
}

/** Runs the photos the sink does not have yet through `identify`. */
export async function runPipeline(options: PipelineOptions): Promise<PipelineStats> {
  const { photos, sink, concurrency, signal } = options;
  const pending = photos.filter((ref) => !sink.done.has(ref.key));
  const stats: PipelineStats = {
    total: photos.length,
    skipped: photos.length - pending.length,
    succeeded: 0,
    failed: 0,
    retryLater: 0,
    interrupted: false,
  };
  const store = recordStorer(options, stats);
  const inFlight = new Set<Promise<void>>();

  for (const ref of pending) {
    if (signal?.aborted) {
      stats.interrupted = true;
      break;
    }
    const task = options.identify(ref).then(store);
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task)).catch(() => undefined);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await sink.flush();
  return stats;
}

function recordStorer(options: PipelineOptions, stats: PipelineStats) {
  let sinceFlush = 0;
  return async (outcome: Outcome): Promise<void> => {
    if (outcome.kind === 'retry') {
      stats.retryLater += 1;
      options.onRetry?.(outcome);
      return;
    }
    const record = outcome.record;
    await options.sink.write(record);
    if (isFailure(record)) stats.failed += 1;
    else stats.succeeded += 1;
    options.onRecord?.(record);
    sinceFlush += 1;
    if (sinceFlush >= options.flushEvery) {
      sinceFlush = 0;
      await options.sink.flush();
    }
  };
}
