/**
 * Run mode: every photo of a folder or an S3 prefix through the core, into a JSON Lines file
 * or an S3 prefix, skipping what an earlier run already stored.
 */
import type { Logger } from 'pino';
import { createS3Client } from './aws-clients';
import { identifyPhoto, type BatchCore } from './identify-photo';
import { JsonlSink } from './jsonl-sink';
import { LocalSource } from './local-source';
import { formatLocation } from './location';
import type { RunOptions } from './options';
import type { PhotoRef, PhotoSource } from './photo-source';
import { runPipeline, type PipelineStats } from './pipeline';
import { createProgress, defaultProgressMode } from './progress';
import { isFailure, type ResultRecord } from './record';
import type { ResultSink } from './result-sink';
import { S3Sink } from './s3-sink';
import { S3Source } from './s3-source';
import { SummaryTable } from './summary';

/** What a run found and did. */
export interface RunReport extends PipelineStats {
  /** Failed photos recorded by earlier runs (known for JSON Lines output only). */
  earlierFailures: number;
  /** Time spent on the photos (model loading excluded), in seconds. */
  seconds: number;
  /** Photos done in this run per second of `seconds`. */
  photosPerSecond: number;
}

/** The input listed and the output opened: everything checked before the model loads. */
export interface PreparedRun {
  photos: PhotoRef[];
  sink: ResultSink;
  summary: SummaryTable;
  earlierFailures: number;
}

/** Lists the input and opens the output; rejects when either cannot be used. */
export async function prepareRun(options: RunOptions, logger: Logger): Promise<PreparedRun> {
  const summary = new SummaryTable();
  let earlierFailures = 0;
  const onExisting = (record: ResultRecord) => {
    summary.add(record);
    if (isFailure(record)) earlierFailures += 1;
  };
  const sink = await openSink(options, onExisting, logger);
  try {
    const photos = await sourceFor(options).list();
    logger.info(
      { input: formatLocation(options.input), photos: photos.length, alreadyDone: sink.done.size },
      'input listed',
    );
    return { photos, sink, summary, earlierFailures };
  } catch (err) {
    await sink.close();
    throw err;
  }
}

/** Runs the prepared photos through the core; stops starting photos once `signal` aborts. */
export async function executeRun(
  prepared: PreparedRun,
  core: BatchCore & { maxBatchSize: number; executors: number },
  options: RunOptions,
  logger: Logger,
  signal?: AbortSignal,
): Promise<RunReport> {
  const { photos, sink, summary } = prepared;
  const mode = options.progress === 'auto' ? defaultProgressMode() : options.progress;
  const progress = createProgress(mode, logger, options.logIntervalMs);
  progress.start(photos.filter((p) => !sink.done.has(p.key)).length);
  const started = performance.now();
  try {
    const stats = await runPipeline({
      photos,
      sink,
      identify: (ref) => identifyPhoto(core, ref, options.top),
      concurrency: inFlightFor(core),
      flushEvery: core.maxBatchSize,
      signal,
      onRecord: (record) => {
        summary.add(record);
        progress.tick(isFailure(record));
      },
      onRetry: ({ key, error }) => {
        progress.tick(true);
        logger.error({ key, err: error }, 'photo left for a later run');
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const handled = stats.succeeded + stats.failed + stats.retryLater;
    return {
      ...stats,
      earlierFailures: prepared.earlierFailures,
      seconds: round(seconds),
      photosPerSecond: seconds > 0 ? round(handled / seconds) : 0,
    };
  } finally {
    progress.stop();
    await sink.close();
    if (options.summary) await summary.write(options.summary);
  }
}

/**
 * Photos kept in flight: two batches per executor, so that while one batch is in the model
 * the next is already decoded and waiting.
 */
export function inFlightFor(core: { maxBatchSize: number; executors: number }): number {
  return 2 * core.maxBatchSize * core.executors;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function sourceFor(options: RunOptions): PhotoSource {
  const { input, extensions, maxBytes } = options;
  if (input.kind === 'local') return new LocalSource({ root: input.path, extensions, maxBytes });
  const client = createS3Client(options.aws);
  return new S3Source({ client, bucket: input.bucket, prefix: input.prefix, extensions, maxBytes });
}

async function openSink(
  options: RunOptions,
  onExisting: (record: ResultRecord) => void,
  logger: Logger,
): Promise<ResultSink> {
  const { output } = options;
  if (output.kind === 's3') {
    const client = createS3Client(options.aws);
    return S3Sink.open({ client, bucket: output.bucket, prefix: output.prefix });
  }
  const sink = await JsonlSink.open(output.path, { onExisting });
  const { report } = sink;
  if (report.records > 0 || report.tornBytes > 0 || report.invalidLines > 0) {
    logger.info({ output: output.path, ...report }, 'resuming');
  }
  if (report.invalidLines > 0) {
    logger.warn({ lines: report.invalidLines }, 'output has lines that are not results');
  }
  return sink;
}
