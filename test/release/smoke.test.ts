/**
 * The staging smoke test against a local stand-in of the endpoint: it must send each golden
 * photo with the API key, retry while the fleet is still turning over, and fail naming the
 * photo on a wrong breed, a wrong model version or a refusal.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { MODEL_FILES, PATHS } from '../../server/contract';
import { writeManifest } from '../../server/release/manifest';
import { runSmokeTest, SmokeUsageError } from '../../server/release/smoke';

interface Seen {
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
}

/** A stand-in endpoint: answers each photo by the hash of its bytes, from `answers`. */
async function startEndpoint(
  respond: (body: Buffer, seen: Seen[]) => { status: number; json?: unknown },
): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({
        path: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
      });
      const answer = respond(Buffer.concat(chunks), seen);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.json ?? { error: { code: 'x', message: 'x' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, server };
}

function digest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('runSmokeTest', () => {
  let dir: string;
  let server: Server | undefined;
  const photos = {
    'golden/01-cat.jpg': { bytes: Buffer.from('cat photo bytes'), breed: 'Persian' },
    'golden/02-dog.png': { bytes: Buffer.from('dog photo bytes'), breed: 'Beagle' },
  };
  const byHash = new Map(Object.values(photos).map((p) => [digest(p.bytes), p.breed]));
  const right = (body: Buffer) => ({
    status: 200,
    json: { breed: byHash.get(digest(body)), model: { version: '1.4.0' } },
  });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'smoke-test-'));
    await mkdir(path.join(dir, MODEL_FILES.goldenDir));
    const index = { photos: [] as { file: string; breed: string; species: string }[] };
    for (const [file, photo] of Object.entries(photos)) {
      await writeFile(path.join(dir, file), photo.bytes);
      index.photos.push({ file, breed: photo.breed, species: 'dog' });
    }
    await writeFile(path.join(dir, MODEL_FILES.goldenIndex), JSON.stringify(index));
    await writeManifest(dir);
  });

  afterEach(async () => {
    server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('passes when every photo comes back with its breed and version, sending the key', async () => {
    const endpoint = await startEndpoint(right);
    server = endpoint.server;
    const report = await runSmokeTest(dir, {
      url: endpoint.url,
      expectVersion: '1.4.0',
      apiKey: 'k-123',
    });
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
    assert.deepEqual(
      endpoint.seen.map((s) => [s.path, s.authorization, s.contentType]),
      [
        [PATHS.identify, 'ApiKey k-123', 'image/jpeg'],
        [PATHS.identify, 'ApiKey k-123', 'image/png'],
      ],
    );
  });

  it('names the photo whose breed differs', async () => {
    const endpoint = await startEndpoint((body) =>
      body.toString().startsWith('dog')
        ? { status: 200, json: { breed: 'Boxer', model: { version: '1.4.0' } } }
        : right(body),
    );
    server = endpoint.server;
    const report = await runSmokeTest(dir, { url: endpoint.url });
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems, [
      'golden/02-dog.png: expected Beagle, the endpoint answered Boxer',
    ]);
  });

  it('fails when the fleet still serves another model version', async () => {
    const endpoint = await startEndpoint((body) => ({
      status: 200,
      json: { breed: byHash.get(digest(body)), model: { version: '1.3.0' } },
    }));
    server = endpoint.server;
    const report = await runSmokeTest(dir, { url: endpoint.url, expectVersion: '1.4.0' });
    assert.equal(report.ok, false);
    assert.match(report.problems[0] ?? '', /01-cat\.jpg: served by model version 1\.3\.0/);
  });

  it('retries a 503 while instances turn over, but not a refusal', async () => {
    const endpoint = await startEndpoint((body, seen) =>
      seen.length === 1 ? { status: 503 } : right(body),
    );
    server = endpoint.server;
    const report = await runSmokeTest(dir, { url: endpoint.url, retryDelayMs: 10 });
    assert.equal(report.ok, true, report.problems.join('\n'));
    assert.equal(endpoint.seen.length, 3);

    const refusing = await startEndpoint(() => ({ status: 401 }));
    try {
      const refused = await runSmokeTest(dir, { url: refusing.url, retryDelayMs: 10 });
      assert.equal(refused.ok, false);
      assert.equal(refusing.seen.length, 2, 'one request per photo, no retry');
      assert.match(refused.problems[0] ?? '', /the endpoint answered 401/);
    } finally {
      refusing.server.close();
    }
  });

  it('refuses golden photos that do not match their manifest, and a bad URL', async () => {
    await writeFile(path.join(dir, 'golden/01-cat.jpg'), 'other bytes');
    await assert.rejects(
      runSmokeTest(dir, { url: 'http://127.0.0.1:1' }),
      (err: unknown) =>
        err instanceof SmokeUsageError && /01-cat\.jpg: has SHA-256/.test(err.message),
    );
    await assert.rejects(runSmokeTest(dir, { url: 'ftp://host' }), /must be http or https/);
  });
});
