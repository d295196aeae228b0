/**
 * Worker mode wiring: the SQS and S3 clients, the Spot notice watcher and the queue consumer.
 */
import type { Logger } from 'pino';
import { createS3Client, createSqsClient } from './aws-clients';
import type { BatchCore } from './identify-photo';
import type { WorkerModeOptions } from './options';
import { inFlightFor } from './run-batch';
import { SpotNoticeWatcher } from './worker/spot-notice';
import { SqsWorker, type WorkerStats } from './worker/sqs-worker';

/** Consumes the queue until idle, a Spot notice or `signal`. */
export async function runWorker(
  options: WorkerModeOptions,
  core: BatchCore & { maxBatchSize: number; executors: number },
  logger: Logger,
  signal?: AbortSignal,
): Promise<WorkerStats> {
  const spot = options.spot;
  const spotNotices = spot
    ? new SpotNoticeWatcher({
        imdsBaseUrl: spot.imdsUrl,
        intervalMs: spot.pollMs,
        onError: (err) => logger.debug({ err }, 'spot notice poll failed'),
      })
    : null;
  const worker = new SqsWorker({
    sqs: createSqsClient(options.aws),
    s3: createS3Client(options.aws),
    queueUrl: options.queueUrl,
    inputBucket: options.inputBucket,
    output: { bucket: options.output.bucket, prefix: options.output.prefix },
    core,
    top: options.top,
    maxBytes: options.maxBytes,
    maxInFlight: inFlightFor(core),
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    waitTimeSeconds: options.waitTimeSeconds,
    retryDelaySeconds: options.retryDelaySeconds,
    idleExitSeconds: options.idleExitSeconds,
    noticeMarginSeconds: spot?.marginSeconds ?? 0,
    drainSeconds: options.drainSeconds,
    spotNotices,
    logger,
  });
  logger.info({ queueUrl: options.queueUrl, output: options.output }, 'worker started');
  const progress = setInterval(
    () => logger.info(worker.progress(), 'worker progress'),
    options.logIntervalMs,
  );
  progress.unref();
  try {
    return await worker.run(signal);
  } finally {
    clearInterval(progress);
  }
}
