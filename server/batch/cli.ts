#!/usr/bin/env node
/**
 * `breed-batch`: identifies many photos at once with the server's inference core, in process.
 * Exit codes: 0 every photo identified, 1 some photos failed (their error lines are written),
 * 2 the job could not run (bad arguments, unreadable input or output, model failed to load).
 * SIGTERM (or Ctrl-C) stops taking new photos, finishes those in flight, stores them and exits;
 * a second signal exits at once (the output stays consistent: that is what resuming is for).
 */
import pino, { type Logger } from 'pino';
import { createInferenceCore, describeCore, type InferenceCore } from '../inference/core';
import { parseOptions, USAGE, UsageError, type BatchOptions } from './options';
import { executeRun, inFlightFor, prepareRun } from './run-batch';
import { runWorker } from './run-worker';

/** Exit codes of the command. */
export const EXIT = Object.freeze({ ok: 0, someFailed: 1, couldNotRun: 2 });

/** Runs the command with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: BatchOptions;
  try {
    options = parseOptions(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`breed-batch: ${err.message}\n\n${USAGE}\n`);
    return EXIT.couldNotRun;
  }
  if (options.mode === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const logger = pino(
    { level: options.logLevel, base: { service: 'breed-batch' } },
    pino.destination(2),
  );
  const stop = stopOnSignals(logger);
  try {
    return options.mode === 'run'
      ? await runMode(options, logger, stop.signal)
      : await workerMode(options, logger, stop.signal);
  } catch (err) {
    logger.fatal({ err }, 'could not run');
    return EXIT.couldNotRun;
  } finally {
    stop.dispose();
  }
}

async function runMode(
  options: Extract<BatchOptions, { mode: 'run' }>,
  logger: Logger,
  signal: AbortSignal,
): Promise<number> {
  const prepared = await prepareRun(options, logger);
  if (prepared.photos.every((photo) => prepared.sink.done.has(photo.key))) {
    // Nothing left: report without spending seconds on loading the model.
    await prepared.sink.close();
    if (options.summary) await prepared.summary.write(options.summary);
    logger.info(
      { total: prepared.photos.length, earlierFailures: prepared.earlierFailures },
      'nothing to do',
    );
    return prepared.earlierFailures > 0 ? EXIT.someFailed : EXIT.ok;
  }
  let core: InferenceCore;
  try {
    core = await loadCore(options, logger);
  } catch (err) {
    await prepared.sink.close();
    throw err;
  }
  try {
    const report = await executeRun(prepared, core, options, logger, signal);
    logger.info(report, report.interrupted ? 'run stopped early' : 'run finished');
    const failures = report.failed + report.retryLater + report.earlierFailures;
    return failures > 0 ? EXIT.someFailed : EXIT.ok;
  } finally {
    await core.close();
  }
}

async function workerMode(
  options: Extract<BatchOptions, { mode: 'worker' }>,
  logger: Logger,
  signal: AbortSignal,
): Promise<number> {
  const core = await loadCore(options, logger);
  try {
    const stats = await runWorker(options, core, logger, signal);
    logger.info(stats, 'worker stopped');
    return stats.failed > 0 ? EXIT.someFailed : EXIT.ok;
  } finally {
    // After a deadline the held photos were handed back: do not wait for them to finish.
    await Promise.race([core.close(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }
}

async function loadCore(
  options: Extract<BatchOptions, { mode: 'run' | 'worker' }>,
  logger: Logger,
): Promise<InferenceCore> {
  const { core: settings } = options;
  const batch = settings.maxBatchSize ?? 16;
  const core = await createInferenceCore({
    ...settings,
    // The queue must hold every photo the batch keeps in flight, with room to spare.
    maxQueue: 2 * inFlightFor({ maxBatchSize: batch, executors: settings.workers }),
    logger,
  });
  logger.info(describeCore(core), 'model ready');
  return core;
}

/** The first SIGTERM or SIGINT aborts the signal; a second one exits at once. */
function stopOnSignals(logger: Logger): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      logger.warn({ signal: name }, 'second signal: exiting now');
      process.exit(128 + (name === 'SIGINT' ? 2 : 15));
    }
    logger.info({ signal: name }, 'stopping: finishing the photos in flight');
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`breed-batch: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(EXIT.couldNotRun);
    },
  );
}
