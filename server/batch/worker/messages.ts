/**
 * What a queue message asks for. The queue is fed by S3 event notifications, possibly wrapped
 * in an SNS envelope or sent by EventBridge; an operator can also send a plain
 * `{"bucket": ..., "key": ...}` by hand to redo one photo. Anything else is a poisoned message:
 * the worker leaves it alone and the queue's redrive policy moves it to the dead-letter queue.
 */

/** One S3 object to identify. */
export interface ObjectRef {
  bucket: string;
  key: string;
}

/** The objects a message names; empty for notifications that need no work (S3's test event). */
export type ParsedMessage = { ok: true; objects: ObjectRef[] } | { ok: false; reason: string };

/** Parses a message body; never throws. */
export function parseMessage(body: string | undefined): ParsedMessage {
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  return parseValue(value);
}

function parseValue(value: unknown): ParsedMessage {
  if (!isObject(value)) return { ok: false, reason: 'body is not a JSON object' };
  if (value.Type === 'Notification' && typeof value.Message === 'string') {
    return parseMessage(value.Message);
  }
  if (value.Event === 's3:TestEvent') return { ok: true, objects: [] };
  if (Array.isArray(value.Records)) return parseRecords(value.Records);
  if (isObject(value.detail) && value.source === 'aws.s3') return parseEventBridge(value.detail);
  if (typeof value.bucket === 'string' && typeof value.key === 'string' && value.key !== '') {
    return { ok: true, objects: [{ bucket: value.bucket, key: value.key }] };
  }
  return { ok: false, reason: 'not an S3 event notification nor a {bucket, key} object' };
}

function parseRecords(records: unknown[]): ParsedMessage {
  const objects: ObjectRef[] = [];
  for (const record of records) {
    if (!isObject(record) || !isObject(record.s3)) return malformed('record without s3');
    // Removals and other events name objects that are gone or unchanged: nothing to do.
    if (typeof record.eventName === 'string' && !record.eventName.startsWith('ObjectCreated:')) {
      continue;
    }
    const bucket = isObject(record.s3.bucket) ? record.s3.bucket.name : undefined;
    const key = isObject(record.s3.object) ? record.s3.object.key : undefined;
    if (typeof bucket !== 'string' || typeof key !== 'string') {
      return malformed('record without bucket name or object key');
    }
    const decoded = decodeEventKey(key);
    if (decoded === null) return malformed(`object key is not URL-encoded: ${key}`);
    objects.push({ bucket, key: decoded });
  }
  return { ok: true, objects };
}

function parseEventBridge(detail: Record<string, unknown>): ParsedMessage {
  const bucket = isObject(detail.bucket) ? detail.bucket.name : undefined;
  const key = isObject(detail.object) ? detail.object.key : undefined;
  if (typeof bucket !== 'string' || typeof key !== 'string') {
    return malformed('EventBridge event without bucket name or object key');
  }
  return { ok: true, objects: [{ bucket, key }] };
}

/**
 * S3 event notifications URL-encode object keys, with `+` for a space (a literal plus arrives
 * as `%2B`), so the key must be decoded before it is used with the API.
 */
export function decodeEventKey(key: string): string | null {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

function malformed(reason: string): ParsedMessage {
  return { ok: false, reason };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
