/**
 * Worker mode for the Spot fleet: takes messages naming S3 objects from the queue, identifies
 * each object, writes its result under a key derived from the input key, and deletes the
 * message only once every result it asked for is stored. A message seen twice therefore costs
 * some work but never a second result. While a message is held its visibility is extended, so
 * a long batch does not hand it to another worker; on a Spot interruption notice (or SIGTERM)
 * the worker stops receiving, finishes what it holds while there is time, and hands back the
 * rest (visibility 0) just before the deadline.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { identifyPhoto, type BatchCore } from '../identify-photo';
import { isFailure, type ResultRecord } from '../record';
import { putResult } from '../s3-sink';
import { readObject } from '../s3-source';
import { parseMessage, type ObjectRef } from './messages';
import type { SpotNotice } from './spot-notice';

/** Something that reports a Spot interruption notice. */
export interface NoticeSource {
  start(onNotice: (notice: SpotNotice) => void): void;
  stop(): void;
}

/** Everything the worker needs. */
export interface SqsWorkerOptions {
  sqs: SQSClient;
  s3: S3Client;
  queueUrl: string;
  /** When set, messages naming another bucket are refused (they go to the dead-letter queue). */
  inputBucket: string | null;
  output: { bucket: string; prefix: string };
  core: BatchCore;
  top: number;
  /** Objects larger than this get `payload_too_large` without being downloaded whole. */
  maxBytes: number;
  /** Messages held at once (enough to keep the model's batches full). */
  maxInFlight: number;
  /** Visibility asked for on receive and renewed while a message is held, in seconds. */
  visibilityTimeoutSeconds: number;
  /** Long-polling wait of each receive, in seconds (at most 20). */
  waitTimeSeconds: number;
  /** Visibility given to a message that failed, before it is tried again, in seconds. */
  retryDelaySeconds: number;
  /** Stop after this long with an empty queue and nothing held, in seconds; 0 for never. */
  idleExitSeconds: number;
  /** Time kept in hand before an interruption deadline, in seconds. */
  noticeMarginSeconds: number;
  /** Time given to held messages after SIGTERM, in seconds. */
  drainSeconds: number;
  spotNotices: NoticeSource | null;
  logger: Logger;
  onRecord?: (record: ResultRecord) => void;
}

/** Counts of a worker's life. */
export interface WorkerStats {
  /** Messages completed and deleted. */
  messages: number;
  succeeded: number;
  failed: number;
  /** Messages handed back because they failed for a reason other than the photo. */
  retried: number;
  /** Messages that are not work this worker can do; the redrive policy moves them aside. */
  poisoned: number;
  /** Messages handed back unfinished at a deadline. */
  released: number;
  /** Why the worker stopped. */
  stopReason: 'idle' | 'notice' | 'signal';
}

interface Held {
  message: Message;
  receipt: string;
  released: boolean;
  heartbeat: NodeJS.Timeout;
  done: Promise<void>;
}

/** The queue consumer. */
export class SqsWorker {
  private readonly held = new Set<Held>();
  private readonly receiveAbort = new AbortController();
  private stopReason: WorkerStats['stopReason'] | null = null;
  private deadline = Number.POSITIVE_INFINITY;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private wakeUp: () => void = () => undefined;
  private onDeadline: () => void = () => undefined;
  private readonly stats: Omit<WorkerStats, 'stopReason'> = {
    messages: 0,
    succeeded: 0,
    failed: 0,
    retried: 0,
    poisoned: 0,
    released: 0,
  };

  /** Photos in work at once, whatever the number of objects per message. */
  private readonly slots: Semaphore;

  constructor(private readonly options: SqsWorkerOptions) {
    this.slots = new Semaphore(options.maxInFlight);
  }

  /** Works until idle, a notice, or `signal`; resolves once nothing is held any more. */
  async run(signal?: AbortSignal): Promise<WorkerStats> {
    const { logger, spotNotices } = this.options;
    const stopped = new Promise<void>((resolve) => (this.wakeUp = resolve));
    const deadline = new Promise<void>((resolve) => (this.onDeadline = resolve));
    spotNotices?.start((notice) => this.onNotice(notice));
    const onAbort = () => this.stop('signal', Date.now() + this.options.drainSeconds * 1000);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();

    try {
      const loop = this.receiveLoop(stopped);
      await Promise.race([loop, stopped]);
      logger.info({ held: this.held.size, reason: this.stopReason }, 'worker draining');
      // The receive in progress ends within its long-poll wait; what it brings is handed back.
      const settled = loop.then(() => this.allDone());
      await Promise.race([settled, deadline]);
      this.receiveAbort.abort();
      await this.releaseAll();
      await loop;
    } finally {
      spotNotices?.stop();
      signal?.removeEventListener('abort', onAbort);
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    }
    return { ...this.stats, stopReason: this.stopReason ?? 'idle' };
  }

  /** Counts so far, and the messages held now (for progress lines). */
  progress(): Omit<WorkerStats, 'stopReason'> & { held: number } {
    return { ...this.stats, held: this.held.size };
  }

  /**
   * Stops receiving; held messages get until `deadline` (epoch ms) to finish. The receive in
   * progress is not cut short: messages that SQS already picked for it would otherwise stay
   * invisible for the whole visibility timeout; they are handed back as soon as they arrive.
   */
  stop(reason: WorkerStats['stopReason'], deadline: number): void {
    this.stopReason ??= reason;
    if (deadline >= this.deadline) return this.wakeUp();
    this.deadline = deadline;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.onDeadline(), Math.max(0, deadline - Date.now()));
    this.wakeUp();
  }

  private onNotice(notice: SpotNotice): void {
    const deadline = notice.time.getTime() - this.options.noticeMarginSeconds * 1000;
    this.options.logger.warn(
      { action: notice.action, time: notice.time.toISOString(), held: this.held.size },
      'spot interruption notice',
    );
    this.stop('notice', deadline);
  }

  private async receiveLoop(stopped: Promise<void>): Promise<void> {
    const { maxInFlight, idleExitSeconds } = this.options;
    let lastWork = Date.now();
    while (this.stopReason === null) {
      if (this.held.size >= maxInFlight) {
        await Promise.race([stopped, ...[...this.held].map((h) => h.done)]);
        continue;
      }
      const messages = await this.receive(Math.min(10, maxInFlight - this.held.size));
      if (this.stopReason !== null) {
        await this.handBack(messages);
        break;
      }
      for (const message of messages) this.hold(message);
      if (messages.length > 0 || this.held.size > 0) lastWork = Date.now();
      const idleFor = Date.now() - lastWork;
      if (idleExitSeconds > 0 && idleFor >= idleExitSeconds * 1000) this.stopReason ??= 'idle';
    }
  }

  private async receive(max: number): Promise<Message[]> {
    const { sqs, queueUrl, visibilityTimeoutSeconds, waitTimeSeconds, logger } = this.options;
    try {
      const answer = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: waitTimeSeconds,
          VisibilityTimeout: visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: this.receiveAbort.signal },
      );
      return answer.Messages ?? [];
    } catch (err) {
      if (this.receiveAbort.signal.aborted) return [];
      logger.error({ err }, 'receive failed');
      await sleep(2000);
      return [];
    }
  }

  private hold(message: Message): void {
    const period = Math.max(0.2, this.options.visibilityTimeoutSeconds / 3) * 1000;
    const held: Held = {
      message,
      receipt: message.ReceiptHandle ?? '',
      released: false,
      heartbeat: setInterval(() => void this.extend(held), period),
      done: Promise.resolve(),
    };
    this.held.add(held);
    held.done = this.handle(held).finally(() => {
      clearInterval(held.heartbeat);
      this.held.delete(held);
    });
  }

  private async handle(held: Held): Promise<void> {
    const { logger, inputBucket } = this.options;
    const id = held.message.MessageId;
    const receives = held.message.Attributes?.ApproximateReceiveCount;
    const parsed = parseMessage(held.message.Body);
    const foreign =
      parsed.ok && inputBucket !== null
        ? parsed.objects.find((o) => o.bucket !== inputBucket)
        : undefined;
    if (!parsed.ok || foreign) {
      const reason = parsed.ok ? `object of another bucket: ${foreign?.bucket}` : parsed.reason;
      this.stats.poisoned += 1;
      logger.warn({ messageId: id, receives, reason }, 'message refused');
      return this.release(held, this.options.retryDelaySeconds);
    }

    try {
      const records = await Promise.all(parsed.objects.map((object) => this.process(object)));
      if (held.released) return;
      await this.options.sqs.send(
        new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: held.receipt }),
      );
      this.stats.messages += 1;
      this.count(records);
    } catch (err) {
      this.stats.retried += 1;
      logger.warn({ err, messageId: id, receives }, 'message failed; it will be retried');
      await this.release(held, this.options.retryDelaySeconds);
    }
  }

  /** Identifies one object and stores its result; rejects when the job, not the photo, failed. */
  private async process(object: ObjectRef): Promise<ResultRecord> {
    await this.slots.acquire();
    try {
      return await this.processNow(object);
    } finally {
      this.slots.release();
    }
  }

  private async processNow(object: ObjectRef): Promise<ResultRecord> {
    const { s3, core, top, maxBytes, output } = this.options;
    const ref = {
      key: object.key,
      read: () => readObject(s3, object.bucket, object.key, maxBytes),
    };
    const outcome = await identifyPhoto(core, ref, top);
    if (outcome.kind === 'retry') throw outcome.error;
    await putResult({ client: s3, bucket: output.bucket, prefix: output.prefix }, outcome.record);
    return outcome.record;
  }

  private count(records: ResultRecord[]): void {
    for (const record of records) {
      if (isFailure(record)) this.stats.failed += 1;
      else this.stats.succeeded += 1;
      this.options.onRecord?.(record);
    }
  }

  private async extend(held: Held): Promise<void> {
    if (held.released) return;
    await this.changeVisibility(held, this.options.visibilityTimeoutSeconds);
  }

  private async release(held: Held, seconds: number): Promise<void> {
    held.released = true;
    clearInterval(held.heartbeat);
    await this.changeVisibility(held, seconds);
  }

  private async changeVisibility(held: Held, seconds: number): Promise<void> {
    try {
      await this.options.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.options.queueUrl,
          ReceiptHandle: held.receipt,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (err) {
      // The receipt may have expired (the message went back to the queue on its own): the
      // result key stays the same, so whoever takes it next simply rewrites the same object.
      this.options.logger.warn(
        { err, messageId: held.message.MessageId },
        'visibility change failed',
      );
    }
  }

  private allDone(): Promise<void> {
    return Promise.all([...this.held].map((h) => h.done)).then(() => undefined);
  }

  /** Hands back every message still held, so another worker can take it at once. */
  private async releaseAll(): Promise<void> {
    const left = [...this.held].filter((h) => !h.released);
    this.stats.released += left.length;
    await Promise.all(left.map((h) => this.release(h, 0)));
    if (left.length > 0) this.options.logger.warn({ released: left.length }, 'messages released');
  }

  /** Returns messages received after the stop to the queue at once, untouched. */
  private async handBack(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    const { sqs, queueUrl } = this.options;
    this.stats.released += messages.length;
    await Promise.all(
      messages.map((message) =>
        sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: 0,
            }),
          )
          .catch((err: unknown) => this.options.logger.warn({ err }, 'hand-back failed')),
      ),
    );
    this.options.logger.info(
      { released: messages.length },
      'messages received while stopping handed back',
    );
  }
}

/**
 * Limits the photos in work to what the core's queue takes: a message may name many objects
 * (an S3 event can carry several records, a hand-written one any number).
 */
class Semaphore {
  private readonly waiting: (() => void)[] = [];

  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
