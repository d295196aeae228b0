/**
 * `npm run bench`: the server's figures side by side in one run, on the real photos.
 * Absolute times on a shared 2-core machine are noisy; read the ratios.
 *
 * Prints: process start to ready; latency p50/p95/p99 at concurrency 1, 8 and 32; throughput
 * for worker and batching settings; the bare decode and predict times for one photo; resident
 * memory over 2,000 requests; and the old design's cold start (load the model, answer one).
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { initBackend } from '../../server/inference/backend';
import { ModelRunner } from '../../server/inference/model-runner';
import { decodeImage } from '../../server/inference/preprocess';
import { readModelDirectory } from '../../server/model/load-model';
import { listPetPhotos, SAMPLE_METADATA, SAMPLE_MODEL_DIR } from '../support/shared-data';

const MAIN = path.join(__dirname, '..', '..', 'server', 'main.js');
const BENCH_ENV = { AUTH: 'off', RATE_LIMIT_PER_S: '100000', RATE_LIMIT_BURST: '1000000' };

interface Running {
  url: string;
  child: ChildProcess;
  readyMs: number;
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function start(env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      ...BENCH_ENV,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    const res = await fetch(`${url}/health/ready`).catch(() => null);
    if (res?.status === 200) break;
    if (child.exitCode !== null) throw new Error('server exited');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { url, child, readyMs: performance.now() - started };
}

async function stop(server: Running): Promise<void> {
  server.child.kill('SIGTERM');
  await new Promise((resolve) => server.child.once('exit', resolve));
}

type Photo = { body: Buffer };

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Sends `amount` photo uploads over `connections` connections; exact percentiles per request. */
async function load(url: string, photos: Photo[], connections: number, amount: number) {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        amount,
        timeout: 60,
        requests: photos.map((p) => ({
          method: 'POST' as const,
          path: '/v1/identify',
          headers: { 'content-type': 'image/jpeg' },
          body: p.body,
        })),
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${result.non2xx} non-2xx and ${result.errors} errors at c=${connections}`);
  }
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    rps: result.requests.total / (result.duration || 1),
  };
}

async function bare(photos: Photo[]): Promise<{ decodeMs: number; predictMs: number }> {
  const files = await readModelDirectory(SAMPLE_MODEL_DIR, { metadataPath: SAMPLE_METADATA });
  const { tf } = await initBackend('wasm');
  const runner = await ModelRunner.load(tf, {
    format: files.format,
    artifacts: files.artifacts,
    input: files.metadata.input,
    labelCount: files.metadata.labels.length,
    metadataPath: files.metadataPath,
  });
  await runner.warmUp([1]);
  let decodeMs = 0;
  let predictMs = 0;
  for (const photo of photos) {
    const decoded = await decodeImage(photo.body, files.metadata, { maxInputPixels: 5e7 });
    decodeMs += decoded.decodeMs;
    const t = performance.now();
    await runner.run(decoded.input, 1);
    predictMs += performance.now() - t;
  }
  return { decodeMs: decodeMs / photos.length, predictMs: predictMs / photos.length };
}

async function coldStart(photo: Photo): Promise<number> {
  const started = performance.now();
  const server = await start({ INFERENCE_WORKERS: '1', MAX_BATCH_SIZE: '1' });
  const res = await fetch(`${server.url}/v1/identify`, {
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: new Uint8Array(photo.body),
  });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  await stop(server);
  return ms;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

const fmt = (n: number) => n.toFixed(1).padStart(8);

async function main(): Promise<void> {
  const photos: Photo[] = await Promise.all(
    listPetPhotos().map(async (p) => ({ body: await readFile(p.file) })),
  );
  const sample = photos.slice(0, 40);
  console.log(
    `breed-identifier benchmark: ${photos.length} real photos, ${new Date().toISOString()}`,
  );

  const { decodeMs, predictMs } = await bare(photos);
  const bareRate = 1000 / (decodeMs + predictMs);
  console.log(`\nbare, one photo at a time in one thread (mean of ${photos.length} photos)`);
  const rate = bareRate.toFixed(2);
  console.log(`  decode ${fmt(decodeMs)} ms   predict ${fmt(predictMs)} ms   => ${rate} photos/s`);

  const cold = await coldStart(photos[0] as Photo);
  console.log('\nold design (Lambda-style): start a process, load the model, answer one:');
  console.log(`  ${cold.toFixed(0)} ms`);

  console.log(
    '\nsettings                        ready ms   c   p50 ms   p95 ms   p99 ms   req/s  x bare',
  );
  const settings: [string, Record<string, string>][] = [
    ['2 workers, no batching (default)', {}],
    ['2 workers, batch up to 4', { MAX_BATCH_SIZE: '4' }],
    ['1 worker, batch up to 4', { INFERENCE_WORKERS: '1', MAX_BATCH_SIZE: '4' }],
    ['1 worker, no batching', { INFERENCE_WORKERS: '1' }],
  ];
  for (const [name, env] of settings) {
    const server = await start(env);
    await load(server.url, sample, 4, 40);
    const levels = name.includes('default') ? [1, 8, 32] : [32];
    for (const c of levels) {
      const r = await load(server.url, photos, c, c === 1 ? 80 : 240);
      const cells = [fmt(server.readyMs), String(c).padStart(3), fmt(r.p50), fmt(r.p95)];
      cells.push(fmt(r.p99), fmt(r.rps), (r.rps / bareRate).toFixed(2).padStart(7));
      console.log(`${name.padEnd(34)}${cells.join(' ')}`);
      if (c === 1) {
        const ratio = (r.p50 / (decodeMs + predictMs)).toFixed(2);
        console.log(`${''.padEnd(34)}p50 at c=1 / (bare decode + predict) = ${ratio}`);
      }
    }
    if (name.includes('default')) {
      // Let the heap and the allocator settle first: growth after that is what a leak shows.
      await load(server.url, photos, 8, 300);
      const before = await rssKb(server.child.pid as number);
      await load(server.url, photos, 8, 2000);
      const after = await rssKb(server.child.pid as number);
      const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;
      const growth = (((after - before) / before) * 100).toFixed(1);
      console.log(
        `${''.padEnd(34)}RSS ${mib(before)} -> ${mib(after)} over 2000 requests (${growth} %)`,
      );
    }
    await stop(server);
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
