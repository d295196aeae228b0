/**
 * Results as one S3 object per photo under an output prefix. A PUT is atomic, so an object is
 * either the whole result or absent: a run killed at any moment leaves no torn result, and a
 * rerun lists the prefix to skip the photos already done.
 */
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ResultRecord } from './record';
import { inputKeyOf, resultKey } from './result-key';
import type { ResultSink } from './result-sink';

/** Options of an S3 sink. */
export interface S3SinkOptions {
  client: S3Client;
  bucket: string;
  prefix: string;
}

/** Writes one record as one object. */
export async function putResult(options: S3SinkOptions, record: ResultRecord): Promise<void> {
  await options.client.send(
    new PutObjectCommand({
      Bucket: options.bucket,
      Key: resultKey(options.prefix, record.key),
      Body: JSON.stringify(record),
      ContentType: 'application/json',
    }),
  );
}

/** Results stored as S3 objects. */
export class S3Sink implements ResultSink {
  private constructor(
    private readonly options: S3SinkOptions,
    readonly done: Set<string>,
  ) {}

  /** Lists the output prefix to learn which photos already have a result. */
  static async open(options: S3SinkOptions): Promise<S3Sink> {
    const done = new Set<string>();
    let token: string | undefined;
    do {
      const page = await options.client.send(
        new ListObjectsV2Command({
          Bucket: options.bucket,
          Prefix: options.prefix,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key ? inputKeyOf(options.prefix, object.Key) : null;
        if (key !== null) done.add(key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return new S3Sink(options, done);
  }

  /** Stores the record; the object is durable once the PUT returns. */
  async write(record: ResultRecord): Promise<void> {
    await putResult(this.options, record);
    this.done.add(record.key);
  }

  /** Nothing to do: every write is already durable. */
  async flush(): Promise<void> {}

  /** Nothing to release. */
  async close(): Promise<void> {}
}
