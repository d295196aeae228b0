/**
 * The batch loop with a stand-in for the identification step (the real core is exercised by
 * the CLI tests): the window of photos in flight, skipping what is done, flushing per batch,
 * stopping on the signal with the in-flight photos stored, and photos left for a later run.
 */
import assert from 'node:assert/strict';
import type { Outcome } from '../../server/batch/identify-photo';
import type { PhotoRef } from '../../server/batch/photo-source';
import { runPipeline } from '../../server/batch/pipeline';
import type { ResultRecord } from '../../server/batch/record';
import type { ResultSink } from '../../server/batch/result-sink';

class MemorySink implements ResultSink {
  readonly done = new Set<string>();
  readonly records: ResultRecord[] = [];
  flushedAt: number[] = [];

  constructor(done: string[] = []) {
    for (const key of done) this.done.add(key);
  }
  async write(record: ResultRecord) {
    this.records.push(record);
    this.done.add(record.key);
  }
  async flush() {
    this.flushedAt.push(this.records.length);
  }
  async close() {}
}

const photos = (n: number): PhotoRef[] =>
  Array.from({ length: n }, (_, i) => ({
    key: `p${String(i).padStart(2, '0')}.jpg`,
    read: async () => Buffer.alloc(0),
  }));

const identified = (key: string): Outcome => ({
  kind: 'record',
  record: {
    key,
    isPet: false,
    species: null,
    breed: null,
    confidence: 0.1,
    predictions: [],
    model: { name: 'm', version: '1' },
  },
});

describe('runPipeline', () => {
  it('never has more photos in flight than the window, and stores each once', async () => {
    let inFlight = 0;
    let peak = 0;
    const sink = new MemorySink();
    const stats = await runPipeline({
      photos: photos(30),
      sink,
      concurrency: 4,
      flushEvery: 8,
      identify: async (ref) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1 + (ref.key.charCodeAt(2) % 3)));
        inFlight -= 1;
        return identified(ref.key);
      },
    });
    assert.equal(peak, 4);
    assert.equal(stats.succeeded, 30);
    assert.equal(new Set(sink.records.map((r) => r.key)).size, 30);
    assert.deepEqual(sink.flushedAt, [8, 16, 24, 30]);
  });

  it('skips the keys the sink already has', async () => {
    const sink = new MemorySink(['p00.jpg', 'p03.jpg']);
    const seen: string[] = [];
    const stats = await runPipeline({
      photos: photos(5),
      sink,
      concurrency: 2,
      flushEvery: 10,
      identify: async (ref) => {
        seen.push(ref.key);
        return identified(ref.key);
      },
    });
    assert.deepEqual(seen.sort(), ['p01.jpg', 'p02.jpg', 'p04.jpg']);
    assert.equal(stats.skipped, 2);
    assert.equal(stats.total, 5);
  });

  it('on abort starts nothing new but stores the photos already in flight', async () => {
    const controller = new AbortController();
    const sink = new MemorySink();
    const started: string[] = [];
    const stats = await runPipeline({
      photos: photos(20),
      sink,
      concurrency: 3,
      flushEvery: 100,
      signal: controller.signal,
      identify: async (ref) => {
        started.push(ref.key);
        if (started.length === 5) controller.abort();
        await new Promise((resolve) => setTimeout(resolve, 5));
        return identified(ref.key);
      },
    });
    assert.equal(stats.interrupted, true);
    assert.deepEqual(sink.records.map((r) => r.key).sort(), started.sort());
    assert.ok(started.length >= 5 && started.length < 20);
    assert.equal(sink.flushedAt.at(-1), started.length);
  });

  it('writes nothing for a photo the job failed on, and counts it', async () => {
    const sink = new MemorySink();
    const retried: string[] = [];
    const stats = await runPipeline({
      photos: photos(3),
      sink,
      concurrency: 2,
      flushEvery: 1,
      identify: async (ref) =>
        ref.key === 'p01.jpg'
          ? { kind: 'retry', key: ref.key, error: new Error('model crashed') }
          : identified(ref.key),
      onRetry: (outcome) => retried.push(outcome.key),
    });
    assert.deepEqual(retried, ['p01.jpg']);
    assert.equal(stats.retryLater, 1);
    assert.deepEqual(sink.records.map((r) => r.key).sort(), ['p00.jpg', 'p02.jpg']);
  });

  it('rejects when the sink cannot store a record', async () => {
    const sink = new MemorySink();
    sink.write = async () => {
      throw new Error('disk full');
    };
    await assert.rejects(
      runPipeline({
        photos: photos(6),
        sink,
        concurrency: 2,
        flushEvery: 1,
        identify: async (ref) => identified(ref.key),
      }),
      /disk full/,
    );
  });
});
