/**
 * Worker mode and S3 run mode against a real local SQS and S3 server (fauxqs, started here) and
 * a stand-in metadata service: S3 event messages become result objects named after their
 * input keys, a redelivered or duplicated message rewrites the same object, an interruption
 * notice stops the intake and the held work is finished or handed back before the deadline,
 * and a poisoned message ends in the dead-letter queue after the configured receives.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { parseMessage } from '../../server/batch/worker/messages';
import { cliEnv, logLines, runCli, startCli } from './support/cli';
import { startImdsStandIn, type ImdsStandIn } from './support/imds-stand-in';
import { awsEnv, startLocalAws, type LocalAws } from './support/local-aws';
import { samplePhotos } from './support/photo-folder';
import { s3Event } from './support/s3-event';

const INPUT = 'photos';
const OUTPUT = 'results';
const QUEUES = ['redelivery', 'long', 'notice', 'deadline', 'term', 'poison'] as const;
const MAX_RECEIVE_COUNT = 2;

describe('breed-batch --worker (local SQS and S3)', function () {
  this.timeout(300_000);
  let aws: LocalAws;
  let imds: ImdsStandIn;
  let keys: string[];

  before(async () => {
    aws = await startLocalAws(
      QUEUES.map((name) => ({
        name,
        deadLetterName: `${name}-dead-letters`,
        maxReceiveCount: MAX_RECEIVE_COUNT,
        visibilityTimeoutSeconds: 30,
      })),
      [INPUT, OUTPUT],
    );
    imds = await startImdsStandIn();
    const photos = samplePhotos(24);
    keys = photos.map((photo) => `uploads/${photo.relative}`);
    for (const [i, photo] of photos.entries()) await put(keys[i] ?? '', await readFile(photo.file));
    // A key with a space, which S3 event notifications encode as "+".
    await put('uploads/my dog.jpg', await readFile(photos[0]?.file ?? ''));
  });
  after(async () => {
    await imds?.close();
    await aws?.stop();
  });
  afterEach(() => imds.setNotice(null));

  it('stores one result per object, named after its key, despite redelivery', async () => {
    const url = await aws.queueUrl('redelivery');
    const chosen = [...keys.slice(0, 6), 'uploads/my dog.jpg'];
    await sendEvents(url, [...chosen, chosen[0] ?? '']);
    // A worker that took two messages and died: they come back once their visibility ends.
    const taken = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 2, VisibilityTimeout: 1 }),
    );
    assert.equal(taken.Messages?.length, 2);
    await sleep(1500);

    const run = await runCli(workerArgs(url, 'redelivery/'), env());
    assert.equal(run.code, 0, run.stderr);

    const stored = await listKeys('redelivery/');
    assert.deepEqual(stored, chosen.map((key) => `redelivery/${key}.json`).sort());
    for (const key of chosen) {
      const result = await getJson(`redelivery/${key}.json`);
      assert.equal(result.key, key);
      assert.equal(typeof result.isPet, 'boolean');
    }
    assert.equal(logLines(run.stderr, 'worker stopped')[0]?.messages, chosen.length + 1);
    assert.deepEqual(await counts(url), { visible: 0, inFlight: 0 });
    assert.deepEqual(await counts(await aws.queueUrl('redelivery-dead-letters')), {
      visible: 0,
      inFlight: 0,
    });
  });

  it('keeps a long message invisible while it works on it, then deletes it once', async () => {
    const url = await aws.queueUrl('long');
    // One message naming every photo: several times longer to do than its 1 s visibility.
    const body = s3Event(INPUT, keys.map(encodeKey));
    await aws.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: '0', MessageBody: body }] }),
    );
    const slow = ['--workers', '1', '--max-batch-size', '2', '--visibility-timeout', '1'];
    const run = await runCli(workerArgs(url, 'long/', slow), env());
    assert.equal(run.code, 0, run.stderr);

    const started = logLines(run.stderr, 'worker started')[0]?.time as number;
    const stats = logLines(run.stderr, 'worker stopped')[0] ?? {};
    const workSeconds = ((stats.time as number) - started) / 1000 - 3; // less the idle wait
    assert.ok(workSeconds > 2, `the message took ${workSeconds} s: too short to tell`);
    assert.equal(stats.messages, 1, 'the message was taken twice');
    assert.equal(stats.succeeded, keys.length);
    assert.equal(logLines(run.stderr, 'visibility change failed').length, 0);
    assert.equal((await listKeys('long/')).length, keys.length);
    assert.deepEqual(await counts(url), { visible: 0, inFlight: 0 });
  });

  it('on SIGTERM finishes what it holds, stores it and exits cleanly', async () => {
    const url = await aws.queueUrl('term');
    await sendEvents(url, keys);
    const worker = startCli(
      workerArgs(url, 'term/', ['--workers', '1', '--max-batch-size', '2']),
      env(),
    );
    await until(async () => (await listKeys('term/')).length >= 2);
    worker.child.kill('SIGTERM');
    const run = await worker.done;
    assert.equal(run.code, 0, run.stderr);
    const stats = logLines(run.stderr, 'worker stopped')[0] ?? {};
    assert.equal(stats.stopReason, 'signal');
    const left = await counts(url);
    assert.equal(left.inFlight, 0);
    const done = (await listKeys('term/')).length;
    assert.ok(done < keys.length);
    assert.equal(done + left.visible, keys.length);
  });

  it('on a Spot notice stops taking work, finishes what it holds, exits in time', async () => {
    const url = await aws.queueUrl('notice');
    await sendEvents(url, keys);
    const slow = ['--workers', '1', '--max-batch-size', '2', '--notice-margin', '10'];
    const worker = startCli(workerArgs(url, 'notice/', slow), env());
    await until(async () => (await listKeys('notice/')).length >= 2);

    const interruption = Date.now() + 40_000;
    imds.setNotice({ action: 'terminate', time: new Date(interruption).toISOString() });
    const noticeAt = Date.now();
    const run = await worker.done;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(Date.now() < interruption - 10_000, 'the worker did not leave before its deadline');
    assert.equal(logLines(run.stderr, 'spot interruption notice').length, 1);
    assert.ok(Date.now() - noticeAt < 25_000);

    // Nothing lost: every photo has its result or its message is back in the queue, visible.
    const done = (await listKeys('notice/')).length;
    const left = await counts(url);
    assert.equal(left.inFlight, 0);
    assert.ok(done < keys.length, 'the worker kept taking work after the notice');
    assert.equal(done + left.visible, keys.length);
    assert.equal(imds.refused(), 0, 'a metadata read went without a token');

    // The next worker (no notice now) takes the rest.
    imds.setNotice(null);
    const rest = await runCli(workerArgs(url, 'notice/'), env());
    assert.equal(rest.code, 0, rest.stderr);
    assert.equal((await listKeys('notice/')).length, keys.length);
    assert.deepEqual(await counts(url), { visible: 0, inFlight: 0 });
  });

  it('hands back what it holds when the deadline is too near to finish it', async () => {
    const url = await aws.queueUrl('deadline');
    await sendEvents(url, keys);
    const worker = startCli(
      workerArgs(url, 'deadline/', ['--workers', '1', '--max-batch-size', '4']),
      env(),
    );
    await until(async () => (await listKeys('deadline/')).length >= 1);

    // Due now: with the 15 s margin the deadline has already passed.
    imds.setNotice({ action: 'stop', time: new Date(Date.now() + 1000).toISOString() });
    const noticeAt = Date.now();
    const run = await worker.done;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(Date.now() - noticeAt < 15_000, 'the worker took too long to leave');

    const stats = logLines(run.stderr, 'worker stopped')[0] ?? {};
    assert.equal(stats.stopReason, 'notice');
    assert.ok((stats.released as number) >= 1, run.stderr);
    assert.equal((await counts(url)).inFlight, 0, 'a held message was not handed back');
    // Photos that were finishing as the worker left may have a result as well as a message back
    // in the queue: the next worker rewrites the same object. None may have neither.
    const stored = (await listKeys('deadline/')).map((key) => key.slice('deadline/'.length, -5));
    const queued = await drainKeys(url);
    assert.deepEqual([...new Set([...stored, ...queued])].sort(), [...keys].sort());
  });

  it('leaves poisoned messages to the dead-letter queue and records missing objects', async () => {
    const url = await aws.queueUrl('poison');
    const poison = ['this is not JSON', JSON.stringify({ bucket: 'someone-else', key: 'x.jpg' })];
    const missing = JSON.stringify({ bucket: INPUT, key: 'uploads/never-uploaded.jpg' });
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [...poison, missing, s3Event(INPUT, [encodeKey(keys[0] ?? '')])].map(
          (body, i) => ({ Id: String(i), MessageBody: body }),
        ),
      }),
    );

    const run = await runCli(workerArgs(url, 'poison/', ['--retry-delay', '0']), env());
    assert.equal(run.code, 1, run.stderr);

    const dead = await aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: await aws.queueUrl('poison-dead-letters'),
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    assert.deepEqual((dead.Messages ?? []).map((m) => m.Body).sort(), [...poison].sort());
    assert.ok(logLines(run.stderr, 'message refused').length >= poison.length * MAX_RECEIVE_COUNT);
    assert.deepEqual(await counts(url), { visible: 0, inFlight: 0 });

    const gone = await getJson('poison/uploads/never-uploaded.jpg.json');
    assert.equal((gone.error as { code: string }).code, 'unreadable_file');
    assert.equal(typeof (await getJson(`poison/${keys[0]}.json`)).isPet, 'boolean');
  });

  it('runs over an S3 prefix into an S3 prefix, with the same answers as worker mode', async () => {
    const args = [`s3://${INPUT}/uploads/`, `s3://${OUTPUT}/run/`, '--progress', 'none'];
    const run = await runCli(args, env());
    assert.equal(run.code, 0, run.stderr);
    const all = [...keys, 'uploads/my dog.jpg'];
    assert.deepEqual(await listKeys('run/'), all.map((key) => `run/${key}.json`).sort());
    for (const key of all.slice(0, 6)) {
      assert.deepEqual(await getJson(`run/${key}.json`), await getJson(`redelivery/${key}.json`));
    }

    const again = await runCli(args, env());
    assert.equal(again.code, 0, again.stderr);
    assert.equal(logLines(again.stderr, 'nothing to do').length, 1);
  });

  function env() {
    return cliEnv(awsEnv(aws));
  }

  function workerArgs(queueUrl: string, prefix: string, extra: string[] = []): string[] {
    return [
      '--worker',
      '--queue-url',
      queueUrl,
      '--input-bucket',
      INPUT,
      '--output',
      `s3://${OUTPUT}/${prefix}`,
      '--wait-time',
      '1',
      '--idle-exit',
      '3',
      '--visibility-timeout',
      '20',
      '--imds-url',
      imds.url,
      '--spot-poll',
      '1',
      ...extra,
    ];
  }

  async function put(key: string, body: Buffer): Promise<void> {
    await aws.s3.send(new PutObjectCommand({ Bucket: INPUT, Key: key, Body: body }));
  }

  async function sendEvents(queueUrl: string, objectKeys: string[]): Promise<void> {
    for (let i = 0; i < objectKeys.length; i += 10) {
      const entries = objectKeys.slice(i, i + 10).map((key, j) => ({
        Id: String(j),
        MessageBody: s3Event(INPUT, [encodeKey(key)]),
      }));
      await aws.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
  }

  async function listKeys(prefix: string): Promise<string[]> {
    const page = await aws.s3.send(new ListObjectsV2Command({ Bucket: OUTPUT, Prefix: prefix }));
    return (page.Contents ?? []).map((object) => object.Key ?? '').sort();
  }

  async function getJson(key: string): Promise<Record<string, unknown>> {
    const object = await aws.s3.send(new GetObjectCommand({ Bucket: OUTPUT, Key: key }));
    return JSON.parse((await object.Body?.transformToString()) ?? '') as Record<string, unknown>;
  }

  /** Receives every visible message and returns the object keys they name. */
  async function drainKeys(queueUrl: string): Promise<string[]> {
    const found: string[] = [];
    for (;;) {
      const { Messages = [] } = await aws.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 60,
        }),
      );
      if (Messages.length === 0) return found;
      for (const message of Messages) {
        const parsed = parseMessage(message.Body);
        if (parsed.ok) found.push(...parsed.objects.map((object) => object.key));
      }
    }
  }

  async function counts(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
    const { Attributes = {} } = await aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
    };
  }
});

/** Encodes a key the way S3 event notifications do: URL-encoded, spaces as "+", "/" kept. */
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/%20/g, '+'))
    .join('/');
}

async function until(condition: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
