/**
 * Server configuration from environment variables, validated once at start-up. Every setting
 * has a default here; a bad value stops start-up with a message naming the variable.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { loadAuthConfig, type AuthConfig } from './auth/auth-config';
import { DEFAULT_MAX_BODY_BYTES, SERVER_PORT } from './contract';
import { DEFAULT_MAX_INPUT_PIXELS } from './inference/core';

/** The validated, frozen server configuration. */
export interface ServerConfig {
  port: number;
  host: string;
  modelDir: string;
  /** Metadata outside the model directory, or undefined for `<modelDir>/metadata.json`. */
  metadataPath: string | undefined;
  backend: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  /** Worker threads for the pure-JS backends. */
  workers: number;
  /** Undefined: the core's default for the backend (16 native, 4 otherwise). */
  maxBatchSize: number | undefined;
  maxBatchWaitMs: number | undefined;
  maxQueue: number;
  maxBodyBytes: number;
  maxInputPixels: number;
  shutdownTimeoutMs: number;
  /** Socket timeout for reading a whole request, against slow uploads that hold a slot. */
  requestTimeoutMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Serve the try-it page at `/`. */
  page: boolean;
  auth: AuthConfig;
}

/** The repository (or installed app) root: the nearest folder above with a package.json. */
export function packageRoot(from = __dirname): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
  return dir;
}

/** The sample model beside the repository, with the metadata kept in the repository. */
export function sampleModel(root = packageRoot()): { dir: string; metadata: string } {
  return {
    dir: path.resolve(root, '..', 'shared', 'models', 'mobilenet_v1_0.75_224'),
    metadata: path.join(root, 'server', 'sample-model', 'metadata.json'),
  };
}

const blankIsUnset = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const int = (min: number, max: number) =>
  z.preprocess(blankIsUnset, z.coerce.number().int().min(min).max(max).optional());

const onOff = z.preprocess(blankIsUnset, z.enum(['on', 'off']).optional());

const ENV_SCHEMA = z.object({
  PORT: int(1, 65535),
  HOST: z.preprocess(blankIsUnset, z.string().optional()),
  MODEL_DIR: z.preprocess(blankIsUnset, z.string().optional()),
  MODEL_METADATA: z.preprocess(blankIsUnset, z.string().optional()),
  BACKEND: z.preprocess(
    blankIsUnset,
    z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).optional(),
  ),
  INFERENCE_WORKERS: int(1, 64),
  MAX_BATCH_SIZE: int(1, 256),
  MAX_BATCH_WAIT_MS: int(0, 1000),
  MAX_QUEUE: int(1, 100_000),
  MAX_BODY_BYTES: int(1024, 1024 * 1024 * 1024),
  MAX_INPUT_PIXELS: int(1, 1_000_000_000),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000),
  REQUEST_TIMEOUT_MS: int(1000, 600_000),
  LOG_LEVEL: z.preprocess(
    blankIsUnset,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  ),
  PAGE: onOff,
});

/** Raised for a bad setting; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration; throws {@link ConfigError} naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ServerConfig> {
  const parsed = ENV_SCHEMA.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;

  let auth: AuthConfig;
  try {
    auth = loadAuthConfig(env);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }

  const sample = sampleModel();
  return Object.freeze({
    port: e.PORT ?? SERVER_PORT,
    host: e.HOST ?? '0.0.0.0',
    modelDir: path.resolve(e.MODEL_DIR ?? sample.dir),
    metadataPath: e.MODEL_METADATA ?? (e.MODEL_DIR ? undefined : sample.metadata),
    backend: e.BACKEND ?? 'auto',
    workers: e.INFERENCE_WORKERS ?? os.availableParallelism(),
    maxBatchSize: e.MAX_BATCH_SIZE,
    maxBatchWaitMs: e.MAX_BATCH_WAIT_MS,
    maxQueue: e.MAX_QUEUE ?? 64,
    maxBodyBytes: e.MAX_BODY_BYTES ?? DEFAULT_MAX_BODY_BYTES,
    maxInputPixels: e.MAX_INPUT_PIXELS ?? DEFAULT_MAX_INPUT_PIXELS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS ?? 25_000,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS ?? 30_000,
    logLevel: e.LOG_LEVEL ?? 'info',
    page: (e.PAGE ?? 'on') === 'on',
    auth,
  });
}
