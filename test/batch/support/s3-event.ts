/** Test messages shaped like those S3 sends to SQS. */

/** An S3 event notification as S3 sends it to SQS, with the key URL-encoded. */
export function s3Event(bucket: string, encodedKeys: string[], eventName = 'ObjectCreated:Put') {
  return JSON.stringify({
    Records: encodedKeys.map((key) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      eventName,
      s3: { bucket: { name: bucket }, object: { key, size: 1234 } },
    })),
  });
}
