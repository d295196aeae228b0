/**
 * The server as a process and under load: readiness only once warm, SIGTERM drains what was
 * accepted, a full queue answers 503 with Retry-After, batched and single inference agree,
 * and no tensor is leaked by hundreds of requests, good and bad.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import {
  createInferenceCore,
  type Identification,
  type InferenceCore,
} from '../../server/inference/core';
import { identify, sharedCore, spawnServer, startApp, waitReady } from '../support/server-harness';
import { PETS_DIR, SAMPLE_METADATA, SAMPLE_MODEL_DIR, listPetPhotos } from '../support/shared-data';

const PHOTO = path.join(PETS_DIR, 'pytorch-hub', 'Samoyed_dog.jpg');

describe('server lifecycle', function () {
  this.timeout(180_000);

  it('answers 503 on readiness and on /v1 until the model is warm, then 200', async () => {
    const server = await spawnServer({});
    try {
      const early = await fetch(`${server.url}/health/ready`);
      const live = await fetch(`${server.url}/health/live`);
      assert.equal(live.status, 200, 'live while loading');
      assert.equal(early.status, 503, 'not ready while loading');
      assert.ok(early.headers.get('retry-after'));
      const models = await fetch(`${server.url}/v1/models`);
      assert.equal(models.status, 503);

      await waitReady(server.url);
      const ready = (await (await fetch(`${server.url}/health/ready`)).json()) as {
        backend: string;
      };
      assert.equal(ready.backend, 'wasm');
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('on SIGTERM, finishes every request in flight, reports not ready, exits 0', async () => {
    const server = await spawnServer({});
    await waitReady(server.url);
    const photo = await readFile(PHOTO);

    const inFlight = Array.from({ length: 12 }, () => identify(server.url, photo));
    await new Promise((resolve) => setTimeout(resolve, 150));
    server.child.kill('SIGTERM');

    const statuses = await Promise.all(inFlight.map(async (r) => (await r).status));
    assert.deepEqual(statuses, new Array(12).fill(200), 'no accepted request fails');
    assert.equal(await server.exit, 0, server.output());
    assert.match(server.output(), /"draining"/);
  });

  it('refuses a model directory with a problem at start-up, naming the file', async () => {
    const server = await spawnServer({ MODEL_METADATA: path.join(PETS_DIR, 'labels.csv') });
    assert.equal(await server.exit, 1);
    assert.match(server.output(), /labels\.csv/);
    assert.match(server.output(), /model failed to load/);
  });

  it('cuts a slow upload off at REQUEST_TIMEOUT_MS, not 30 s later', async () => {
    const server = await spawnServer({ REQUEST_TIMEOUT_MS: '1500' });
    try {
      await waitReady(server.url);
      const { port } = new URL(server.url);
      const socket = connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      const started = Date.now();
      socket.write(
        'POST /v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n' +
          'Content-Length: 100000\r\n\r\n\xff\xd8',
      );
      let reply = '';
      socket.on('data', (d: Buffer) => (reply += d.toString()));
      await once(socket, 'close');
      const seconds = (Date.now() - started) / 1000;
      assert.ok(reply === '' || reply.startsWith('HTTP/1.1 408'), `reply: ${reply.slice(0, 40)}`);
      assert.ok(seconds < 5, `closed after ${seconds} s`);
      assert.doesNotMatch(server.output(), /\n\s+at /, 'no stack trace in the log');
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('refuses bad settings before listening, naming the variable', async () => {
    await assert.rejects(spawnServer({ MAX_BATCH_SIZE: 'many' }), /MAX_BATCH_SIZE/);
  });
});

describe('inference queue under load', function () {
  this.timeout(180_000);
  let single: InferenceCore;

  before(async () => {
    single = await createInferenceCore({
      modelDir: SAMPLE_MODEL_DIR,
      metadataPath: SAMPLE_METADATA,
      workers: 1,
      maxBatchSize: 4,
      maxQueue: 3,
    });
  });

  after(() => single.close());

  it('answers 503 queue_full with Retry-After past the queue bound, and no 500', async () => {
    const server = await startApp({}, single);
    try {
      const photo = await readFile(PHOTO);
      const responses = await Promise.all(
        Array.from({ length: 16 }, () => identify(server.url, photo)),
      );
      const statuses = responses.map((r) => r.status);
      assert.ok(statuses.includes(503), `some refused: ${statuses}`);
      assert.ok(statuses.includes(200), `some served: ${statuses}`);
      assert.ok(
        statuses.every((s) => s === 200 || s === 503),
        `${statuses}`,
      );
      const refused = responses.find((r) => r.status === 503) as Response;
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.equal(
        ((await refused.json()) as { error: { code: string } }).error.code,
        'queue_full',
      );
    } finally {
      await server.close();
    }
  });

  it('gives the same probabilities batched as one at a time', async () => {
    const photos = listPetPhotos().slice(0, 3);
    const decoded = await Promise.all(
      photos.map(async (p) => single.decode(await readFile(p.file))),
    );
    const alone: Identification[] = [];
    for (const d of decoded) alone.push(await single.classify(d, { top: 5 }));
    const together = await Promise.all(decoded.map((d) => single.classify(d, { top: 5 })));

    assert.ok(
      together.some((r) => r.timingsMs.queue > 1),
      'the second and third waited (batched)',
    );
    together.forEach((batched, i) => {
      const one = alone[i] as Identification;
      assert.equal(batched.breed, one.breed);
      batched.predictions.forEach((p, k) => {
        assert.equal(p.label, one.predictions[k]?.label);
        assert.ok(Math.abs(p.confidence - (one.predictions[k]?.confidence ?? -1)) < 1e-4);
      });
    });
  });

  it('leaves the tensor count unchanged after hundreds of requests, good and bad', async () => {
    const core = await sharedCore();
    const server = await startApp({}, core);
    try {
      const photo = await readFile(PHOTO);
      const truncated = photo.subarray(0, 5000);
      await identify(server.url, photo);
      const before = await core.tensorCounts();
      for (let round = 0; round < 50; round++) {
        await Promise.all([
          identify(server.url, photo),
          identify(server.url, photo),
          identify(server.url, truncated),
          identify(server.url, 'not an image'),
          identify(server.url, Buffer.alloc(0)),
          identify(server.url, photo, 'image/jpeg', '?top=1'),
        ]);
      }
      assert.deepEqual(await core.tensorCounts(), before);
    } finally {
      await server.close();
    }
  });
});
