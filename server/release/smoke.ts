/**
 * The staging smoke test of the release workflow: sends the artifact's golden photos to a live
 * endpoint and checks that each comes back with its expected breed and, when asked, that the
 * fleet serves the expected model version. It exercises what verification cannot: the load
 * balancer, authentication, and the model actually baked into the running AMI.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { PATHS } from '../contract';
import { extractArchive } from './archive';
import { checkManifest } from './manifest';
import { readGoldenIndex } from './verify';

/** Options of {@link runSmokeTest}. */
export interface SmokeOptions {
  /** Base URL of the endpoint, e.g. the staging load balancer. */
  url: string;
  /** Model version the answers must carry. */
  expectVersion?: string;
  /** API key, sent as `Authorization: ApiKey <key>`; never printed. */
  apiKey?: string;
  /** Attempts per photo while the endpoint answers 502/503/504 or not at all. */
  attempts?: number;
  /** Pause between attempts, in milliseconds. */
  retryDelayMs?: number;
  /** Time limit of one request, in milliseconds. */
  timeoutMs?: number;
}

/** The endpoint's answer for one golden photo. */
export interface SmokePhoto {
  file: string;
  expected: string;
  actual: string | null;
  version: string | null;
  /** HTTP status, or the network error's message. */
  status: number | string;
  ok: boolean;
}

/** Result of a smoke test; `ok` when every photo came back right. */
export interface SmokeReport {
  ok: boolean;
  url: string;
  photos: SmokePhoto[];
  problems: string[];
}

/** The URL or artifact is unusable: the caller's mistake. */
export class SmokeUsageError extends Error {
  override name = 'SmokeUsageError';
}

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
};

const RETRIED_STATUSES = new Set([502, 503, 504]);

/** Sends every golden photo of `target` (artifact or model folder) to `options.url`. */
export async function runSmokeTest(target: string, options: SmokeOptions): Promise<SmokeReport> {
  const endpoint = identifyUrl(options.url);
  const info = await stat(target).catch(() => null);
  if (!info) throw new SmokeUsageError(`${target}: no such artifact or folder`);
  const unpacked = info.isDirectory()
    ? null
    : await mkdtemp(path.join(os.tmpdir(), 'breed-smoke-'));
  try {
    if (unpacked) await extractArchive(target, unpacked);
    const dir = unpacked ?? target;
    const damaged = await checkManifest(dir);
    if (damaged[0]) throw new SmokeUsageError(`${damaged[0].file}: ${damaged[0].problem}`);
    return await sendGoldenPhotos(dir, endpoint, options);
  } finally {
    if (unpacked) await rm(unpacked, { recursive: true, force: true });
  }
}

function identifyUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL(PATHS.identify, base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new SmokeUsageError(`--url ${base} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SmokeUsageError(`--url ${base} must be http or https`);
  }
  return url;
}

async function sendGoldenPhotos(
  dir: string,
  endpoint: URL,
  options: SmokeOptions,
): Promise<SmokeReport> {
  const index = await readGoldenIndex(dir);
  const report: SmokeReport = { ok: false, url: endpoint.origin, photos: [], problems: [] };
  for (const photo of index.photos) {
    const body = await readFile(path.join(dir, photo.file));
    const type = CONTENT_TYPES[path.extname(photo.file).toLowerCase()] ?? 'image/jpeg';
    const answer = await postWithRetries(endpoint, body, type, options);
    const result: SmokePhoto = { file: photo.file, expected: photo.breed, ...answer, ok: false };
    result.ok =
      answer.status === 200 &&
      answer.actual === photo.breed &&
      (!options.expectVersion || answer.version === options.expectVersion);
    report.photos.push(result);
    if (!result.ok) report.problems.push(describeMiss(result, options.expectVersion));
  }
  report.ok = report.problems.length === 0;
  return report;
}

function describeMiss(photo: SmokePhoto, expectVersion: string | undefined): string {
  if (photo.status !== 200) return `${photo.file}: the endpoint answered ${photo.status}`;
  if (photo.actual !== photo.expected) {
    return `${photo.file}: expected ${photo.expected}, the endpoint answered ${photo.actual}`;
  }
  return `${photo.file}: served by model version ${photo.version}, expected ${expectVersion}`;
}

type Answer = Pick<SmokePhoto, 'actual' | 'version' | 'status'>;

async function postWithRetries(
  endpoint: URL,
  body: Buffer,
  type: string,
  options: SmokeOptions,
): Promise<Answer> {
  const attempts = options.attempts ?? 5;
  let answer: Answer = { actual: null, version: null, status: 'not sent' };
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    answer = await postOnce(endpoint, body, type, options);
    const transient = typeof answer.status === 'string' || RETRIED_STATUSES.has(answer.status);
    if (!transient || attempt === attempts) return answer;
    await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 5000));
  }
  return answer;
}

async function postOnce(
  endpoint: URL,
  body: Buffer,
  type: string,
  options: SmokeOptions,
): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': type };
  if (options.apiKey) headers.authorization = `ApiKey ${options.apiKey}`;
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers,
      body: new Uint8Array(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await response.text();
    if (response.status !== 200) return { actual: null, version: null, status: response.status };
    const json = JSON.parse(text) as { breed?: unknown; model?: { version?: unknown } };
    const actual = typeof json.breed === 'string' ? json.breed : null;
    const version = typeof json.model?.version === 'string' ? json.model.version : null;
    return { actual, version, status: 200 };
  } catch (error) {
    return { actual: null, version: null, status: (error as Error).message };
  }
}
