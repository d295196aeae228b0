/**
 * Starting the real server for tests: in-process (the app over a shared, warmed core) for most
 * tests, or as a child process (`server/main.ts`) where signals and start-up are under test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config';
import { createApp } from '../../server/http/app';
import { createInferenceCore, type InferenceCore } from '../../server/inference/core';
import { createLogger } from '../../server/log';
import { REPO_ROOT, SAMPLE_METADATA, SAMPLE_MODEL_DIR } from './shared-data';

let shared: Promise<InferenceCore> | null = null;

/** Authentication off and a rate limit no test reaches, unless a test sets its own. */
export const UNLIMITED = { AUTH: 'off', RATE_LIMIT_PER_S: '100000', RATE_LIMIT_BURST: '1000000' };

/** One warmed core on the sample model, shared by the tests of a run (closed at exit). */
export function sharedCore(): Promise<InferenceCore> {
  shared ??= createInferenceCore({
    modelDir: SAMPLE_MODEL_DIR,
    metadataPath: SAMPLE_METADATA,
    workers: 2,
  });
  return shared;
}

/** A running in-process server. */
export interface TestServer {
  url: string;
  logs: string[];
  close(): Promise<void>;
}

/** Serves the app on a free port, over `core` (default: the shared core). */
export async function startApp(
  env: Record<string, string> = {},
  core?: InferenceCore,
): Promise<TestServer> {
  const config = loadConfig({ ...UNLIMITED, ...env });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger('info', sink);
  const app = createApp({ config, logger, core: core ?? (await sharedCore()) });
  const server: Server = createServer(app.callback());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    logs,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A server started as its own process from the TypeScript sources. */
export interface ChildServer {
  url: string;
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

/** Starts `server/main.ts` on a free port with `env` added; resolves once it listens. */
export async function spawnServer(env: Record<string, string>): Promise<ChildServer> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--require', 'ts-node/register/transpile-only', path.join(REPO_ROOT, 'server', 'main.ts')],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...UNLIMITED, HOST: '127.0.0.1', PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!output.includes('"listening"')) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`server did not listen:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, child, output: () => output, exit };
}

/** Polls the readiness path until it answers 200. */
export async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/health/ready`).catch(() => null);
    if (res?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become ready`);
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** POSTs a photo as the raw body. */
export async function identify(
  url: string,
  body: Buffer | string,
  type = 'image/jpeg',
  query = '',
): Promise<Response> {
  return fetch(`${url}/v1/identify${query}`, {
    method: 'POST',
    headers: { 'Content-Type': type },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}
