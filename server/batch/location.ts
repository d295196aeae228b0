/**
 * Where photos come from and where results go: a local path or an `s3://bucket/prefix` URL.
 * Parsed once from the command line so that every later step works on a checked value.
 */

/** A local file or folder. */
export interface LocalLocation {
  kind: 'local';
  path: string;
}

/** A bucket and a key prefix (empty for the whole bucket). */
export interface S3Location {
  kind: 's3';
  bucket: string;
  prefix: string;
}

/** Either kind of location. */
export type Location = LocalLocation | S3Location;

/** S3 bucket names: 3 to 63 lower-case letters, digits, dots and hyphens. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses `s3://bucket/prefix` or a local path; throws an Error naming the problem. */
export function parseLocation(text: string): Location {
  if (!text.startsWith('s3://')) {
    if (text.trim() === '') throw new Error('empty path');
    return { kind: 'local', path: text };
  }
  const rest = text.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1);
  if (!BUCKET_NAME.test(bucket)) throw new Error(`not a valid S3 bucket name: "${bucket}"`);
  return { kind: 's3', bucket, prefix };
}

/** Prints a location the way a user writes it. */
export function formatLocation(location: Location): string {
  return location.kind === 'local' ? location.path : `s3://${location.bucket}/${location.prefix}`;
}
