/**
 * The S3 and SQS clients of the batch job. In production they use the instance's role and
 * region; an explicit endpoint (a local server that speaks the same APIs) switches S3 to
 * path-style addressing, since such servers are reached by address, not by bucket host name.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

/** Where and how to reach AWS. */
export interface AwsOptions {
  /** Region; the SDK's own lookup (AWS_REGION, profile) when absent. */
  region?: string;
  /** Endpoint URL of every service, for local servers; AWS itself when absent. */
  endpoint?: string;
}

/** An S3 client for these options. */
export function createS3Client(options: AwsOptions): S3Client {
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
  });
}

/** An SQS client for these options. */
export function createSqsClient(options: AwsOptions): SQSClient {
  return new SQSClient({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
}
