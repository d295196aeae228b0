/**
 * What the batch job reads photos from: a listing of keys, each with a way to fetch its bytes.
 * The listing comes first (and whole) so that the run knows its total for the progress display
 * and can skip the keys already done before it starts any work.
 */

/** One photo to identify. */
export interface PhotoRef {
  /** Stable name of the photo: the path under the input folder, or the S3 object key. */
  key: string;
  /** Fetches the photo's bytes; rejects with `UnreadableFileError` or a coded `AppError`. */
  read(): Promise<Buffer>;
}

/** A place holding photos. */
export interface PhotoSource {
  /** Every photo, sorted by key so that runs and resumes walk the same order. */
  list(): Promise<PhotoRef[]>;
}

/** File name extensions taken by default: the image types the server accepts. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  'jpg',
  'jpeg',
  'jpe',
  'png',
  'webp',
  'gif',
  'avif',
  'tif',
  'tiff',
]);

/** True when `key` ends with one of `extensions` (case-insensitive); any key when null. */
export function hasExtension(key: string, extensions: readonly string[] | null): boolean {
  if (extensions === null) return true;
  const dot = key.lastIndexOf('.');
  if (dot === -1 || key.lastIndexOf('/') > dot) return false;
  return extensions.includes(key.slice(dot + 1).toLowerCase());
}

/** Orders photos by key, with the plain code-unit order that S3 listings use too. */
export function byKey(a: PhotoRef, b: PhotoRef): number {
  if (a.key === b.key) return 0;
  return a.key < b.key ? -1 : 1;
}
