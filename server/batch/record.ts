/**
 * One result per photo, as the batch job writes it: a JSON Lines line or an S3 object. The
 * success form carries the fields of the server's answer (without timings, which differ from
 * run to run); the failure form carries the same `{ code, message }` pair the server answers
 * with, or `unreadable_file` when the photo's bytes could not be read at all.
 */
import type { Identification, Prediction } from '../inference/core';
import { AppError } from '../errors';

/** A photo that was identified. */
export interface PhotoResult {
  key: string;
  isPet: boolean;
  species: 'dog' | 'cat' | null;
  breed: string | null;
  confidence: number;
  predictions: Prediction[];
  model: { name: string; version: string };
}

/** A photo that could not be read, decoded or identified. */
export interface PhotoFailure {
  key: string;
  error: { code: string; message: string };
}

/** Either outcome. */
export type ResultRecord = PhotoResult | PhotoFailure;

/** Thrown when a photo's bytes cannot be read (missing, unreadable, a directory...). */
export class UnreadableFileError extends Error {
  readonly code = 'unreadable_file';

  constructor(key: string, options?: { cause?: unknown }) {
    const cause = options?.cause;
    const reason = cause instanceof Error ? cause.message : 'read failed';
    super(`Could not read "${key}": ${reason}`, options);
    this.name = 'UnreadableFileError';
  }
}

/** The record of an identified photo. */
export function successRecord(key: string, identification: Identification): PhotoResult {
  const { isPet, species, breed, confidence, predictions, model } = identification;
  return { key, isPet, species, breed, confidence, predictions, model };
}

/** The record of a photo that failed; errors other than coded ones become `internal`. */
export function failureRecord(key: string, err: unknown): PhotoFailure {
  if (err instanceof AppError || err instanceof UnreadableFileError) {
    return { key, error: { code: err.code, message: err.message } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { key, error: { code: 'internal', message } };
}

/** True for the failure form. */
export function isFailure(record: ResultRecord): record is PhotoFailure {
  return 'error' in record;
}

/** Parses one stored line or object; null when it is not a record (no string `key`). */
export function parseRecord(text: string): ResultRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const key = (value as { key?: unknown }).key;
  return typeof key === 'string' ? (value as ResultRecord) : null;
}

/** One JSON Lines line, newline included. */
export function formatLine(record: ResultRecord): string {
  return `${JSON.stringify(record)}\n`;
}
