/**
 * `npm run bench:batch`: photos per second of the batch job against the same photos sent one by
 * one to the server, side by side, with the ratio (target: the batch at least 1.5 times
 * faster). Both use the compiled code in `dist/` and the same model, backend and worker count;
 * they run one after the other so that neither takes CPU from the other. The server is warmed
 * with a few requests first, and the batch figure leaves model loading out (it is printed
 * apart), since a server that answers requests has already paid for it.
 *
 * `BENCH_PHOTOS=N` takes N photos instead of all of `../shared/pets` (`SHARED_DIR` moves it).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LocalSource } from '../../server/batch/local-source';
import { IMAGE_EXTENSIONS } from '../../server/batch/photo-source';
import { packageRoot } from '../../server/config';
import { DEFAULT_MAX_BODY_BYTES } from '../../server/contract';

const DIST = path.join(__dirname, '..', '..');
const SERVER_MAIN = path.join(DIST, 'server', 'main.js');
const BATCH_CLI = path.join(DIST, 'server', 'batch', 'cli.js');
const TARGET_RATIO = 1.5;
const WARM_UP_REQUESTS = 5;

/** A photo of the pets folder. */
interface PetPhoto {
  /** Path under the pets folder. */
  relative: string;
  file: string;
}

interface Figure {
  photos: number;
  seconds: number;
}

async function main(): Promise<void> {
  const all = await petPhotos();
  const count = Number(process.env.BENCH_PHOTOS ?? all.length);
  const photos = all.slice(0, Math.max(1, Math.min(all.length, count)));
  console.log(`batch bench: ${photos.length} photos, ${os.availableParallelism()} cores\n`);

  const server = await serverOneByOne(photos);
  const batch = await batchJob(photos);
  const serverRate = server.photos / server.seconds;
  const batchRate = batch.photos / batch.seconds;
  const ratio = batchRate / serverRate;

  const rows = [
    ['server, one photo at a time', serverRate, server.seconds],
    ['batch job', batchRate, batch.seconds],
  ] as const;
  for (const [name, rate, seconds] of rows) {
    console.log(
      `${name.padEnd(30)} ${rate.toFixed(1).padStart(7)} photos/s  (${seconds.toFixed(1)} s)`,
    );
  }
  console.log(
    `${'batch model load (not counted)'.padEnd(30)} ${batch.loadSeconds.toFixed(1).padStart(7)} s`,
  );
  const verdict = ratio >= TARGET_RATIO ? 'meets' : 'MISSES';
  console.log(
    `${'ratio'.padEnd(30)} ${ratio.toFixed(2).padStart(7)} x     ` +
      `(${verdict} the ${TARGET_RATIO}x target)`,
  );
  process.exitCode = ratio >= TARGET_RATIO ? 0 : 1;
}

/**
 * The photos of `../shared/pets`, found from the package root: the shared test helper resolves
 * the folder from its own place, which is one level deeper once compiled into `dist/`.
 */
async function petPhotos(): Promise<PetPhoto[]> {
  const shared = process.env.SHARED_DIR ?? path.resolve(packageRoot(__dirname), '..', 'shared');
  const root = path.join(shared, 'pets');
  const source = new LocalSource({
    root,
    extensions: IMAGE_EXTENSIONS,
    maxBytes: DEFAULT_MAX_BODY_BYTES,
  });
  const refs = await source.list();
  return refs.map((ref) => ({ relative: ref.key, file: path.join(root, ref.key) }));
}

/** Starts the compiled server, warms it, then posts every photo and waits for each answer. */
async function serverOneByOne(photos: PetPhoto[]): Promise<Figure> {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER_MAIN], {
    env: {
      ...process.env,
      AUTH: 'off',
      RATE_LIMIT_PER_S: '100000',
      RATE_LIMIT_BURST: '1000000',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady(url, () => child.exitCode !== null);
    const bodies = await Promise.all(photos.map((photo) => readFile(photo.file)));
    for (const body of bodies.slice(0, WARM_UP_REQUESTS)) await post(url, body);
    const started = performance.now();
    for (const body of bodies) await post(url, body);
    return { photos: bodies.length, seconds: (performance.now() - started) / 1000 };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
  }
}

/** Runs the compiled batch command over a folder of links to the photos. */
async function batchJob(photos: PetPhoto[]): Promise<Figure & { loadSeconds: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'batch-bench-'));
  try {
    for (const photo of photos) {
      const target = path.join(dir, 'in', photo.relative);
      await mkdir(path.dirname(target), { recursive: true });
      await symlink(photo.file, target);
    }
    const stderr = await runBatch([
      path.join(dir, 'in'),
      path.join(dir, 'out.jsonl'),
      '--progress',
      'none',
    ]);
    const entries = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, number | string>);
    const finished = entries.find((entry) => entry.msg === 'run finished');
    const ready = entries.find((entry) => entry.msg === 'model ready');
    if (!finished || !ready) throw new Error(`the batch did not finish:\n${stderr}`);
    return {
      photos: Number(finished.succeeded) + Number(finished.failed),
      seconds: Number(finished.seconds),
      loadSeconds: Number(ready.loadSeconds),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runBatch(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [BATCH_CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stderr) : reject(new Error(`batch exited with ${code}:\n${stderr}`)),
    );
  });
}

async function post(url: string, body: Buffer): Promise<void> {
  const res = await fetch(`${url}/v1/identify`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/jpeg' },
    body: new Uint8Array(body),
  });
  if (res.status !== 200) throw new Error(`server answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

async function waitReady(url: string, exited: () => boolean): Promise<void> {
  for (;;) {
    const res = await fetch(`${url}/health/ready`).catch(() => null);
    if (res?.status === 200) return;
    if (exited()) throw new Error('the server exited before it was ready');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 2;
});
