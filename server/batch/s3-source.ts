/**
 * Photos under an S3 prefix. Keys are the full object keys, so that a result names its object
 * exactly and the worker mode (which receives keys from S3 events) derives the same output key.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { appError } from '../errors';
import { byKey, hasExtension, type PhotoRef, type PhotoSource } from './photo-source';
import { UnreadableFileError } from './record';

/** Options of an S3 source. */
export interface S3SourceOptions {
  client: S3Client;
  bucket: string;
  prefix: string;
  /** Extensions to take (lower case, no dot), or null for every object. */
  extensions: readonly string[] | null;
  /** Objects larger than this get `payload_too_large` instead of being downloaded. */
  maxBytes: number;
}

/** Photos under an S3 prefix. */
export class S3Source implements PhotoSource {
  constructor(private readonly options: S3SourceOptions) {}

  /** Lists every object under the prefix, page by page. */
  async list(): Promise<PhotoRef[]> {
    const { client, bucket, prefix, extensions } = this.options;
    const refs: PhotoRef[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key;
        // Keys ending in a slash are the "folders" that consoles create: never photos.
        if (!key || key.endsWith('/') || !hasExtension(key, extensions)) continue;
        refs.push(this.ref(key, object.Size ?? 0));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return refs.sort(byKey);
  }

  private ref(key: string, size: number): PhotoRef {
    const { client, bucket, maxBytes } = this.options;
    return {
      key,
      read: async () => {
        if (size > maxBytes) {
          throw appError(
            'payload_too_large',
            `The object has ${size} bytes; the limit is ${maxBytes}.`,
          );
        }
        return readObject(client, bucket, key, maxBytes);
      },
    };
  }
}

/**
 * Downloads one object whole. A missing object is a verdict about that photo
 * (`unreadable_file`); any other failure (network, permissions, throttling) is left as it is,
 * so the caller retries the photo later instead of recording an error for it.
 */
export async function readObject(
  client: S3Client,
  bucket: string,
  key: string,
  maxBytes: number,
): Promise<Buffer> {
  let response;
  try {
    response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') {
      throw new UnreadableFileError(key, { cause: err });
    }
    throw err;
  }
  const size = response.ContentLength ?? 0;
  if (size > maxBytes) {
    // In Node the body is a stream; destroying it drops the connection instead of reading it.
    (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
    throw appError('payload_too_large', `The object has ${size} bytes; the limit is ${maxBytes}.`);
  }
  if (!response.Body) throw new Error(`empty response body for ${key}`);
  return Buffer.from(await response.Body.transformToByteArray());
}
