/**
 * One photo through the inference core: read, decode, classify. Decoding and classifying are
 * separate calls so that, with several photos in flight, sharp decodes the next photos while
 * the model runs on the current batch. The core is the server's own, so a photo gets the same
 * answer here as from `POST /v1/identify`.
 */
import type { InferenceCore } from '../inference/core';
import { AppError } from '../errors';
import { failureRecord, successRecord, UnreadableFileError, type ResultRecord } from './record';
import type { PhotoRef } from './photo-source';

/** The part of the inference core the batch job uses. */
export type BatchCore = Pick<InferenceCore, 'decode' | 'classify'>;

/**
 * What became of a photo: a record to store (its result, or the verdict that it cannot be
 * identified), or a failure of the job itself that a later run should retry.
 */
export type Outcome =
  { kind: 'record'; record: ResultRecord } | { kind: 'retry'; key: string; error: Error };

/** How many times a `queue_full` answer is retried before the photo is left for a later run. */
const QUEUE_FULL_ATTEMPTS = 5;

/** Identifies one photo; never rejects. */
export async function identifyPhoto(core: BatchCore, ref: PhotoRef, top: number): Promise<Outcome> {
  try {
    const bytes = await ref.read();
    const decoded = await core.decode(bytes);
    const identification = await classifyPatiently(core, decoded, top);
    return { kind: 'record', record: successRecord(ref.key, identification) };
  } catch (err) {
    if (isVerdict(err)) return { kind: 'record', record: failureRecord(ref.key, err) };
    return {
      kind: 'retry',
      key: ref.key,
      error: err instanceof Error ? err : new Error(String(err)),
    };
  }
}

/**
 * True for errors that say something about the photo itself (bad bytes, too large, missing):
 * those are its result. Anything else (an internal error, a full queue) says something about
 * this run, and recording it would make every later run skip a photo that may well be fine.
 */
export function isVerdict(err: unknown): boolean {
  if (err instanceof UnreadableFileError) return true;
  return err instanceof AppError && err.status >= 400 && err.status < 500;
}

async function classifyPatiently(
  core: BatchCore,
  decoded: Awaited<ReturnType<BatchCore['decode']>>,
  top: number,
) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await core.classify(decoded, { top });
    } catch (err) {
      const full = err instanceof AppError && err.code === 'queue_full';
      if (!full || attempt >= QUEUE_FULL_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }
}
