/**
 * Authentication and rate-limit settings, read from the environment once at start-up. Every bad
 * value stops the server with a message naming the variable, so a broken secret or a typo is
 * found at boot rather than by the first caller.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

import { assertUniqueApiKeys, parseApiKeyEntries, type ApiKeyRecord } from './api-keys';
import { readKeySetFile, type JwtConfig, type KeySetSource } from './jwt';

/** Token bucket settings, per caller. */
export interface RateLimitConfig {
  /** Requests per second a caller may sustain. */
  readonly ratePerSecond: number;
  /** Requests a caller may send at once after being idle (the bucket's size). */
  readonly burst: number;
}

/** The validated authentication settings. */
export interface AuthConfig {
  /** False only when `AUTH=off`. */
  readonly enabled: boolean;
  /** Active API keys (hashes only), from `AUTH_API_KEY_HASHES` and `AUTH_API_KEYS_FILE`. */
  readonly apiKeys: readonly ApiKeyRecord[];
  /** JWT verification, or null when no issuer is configured. */
  readonly jwt: JwtConfig | null;
  /** Per-caller rate limit. */
  readonly rateLimit: RateLimitConfig;
}

/** Defaults of the settings that have one. */
export const AUTH_DEFAULTS = Object.freeze({
  clockSkewS: 30,
  maxClockSkewS: 300,
  ratePerSecond: 5,
  burst: 10,
  keySetCooldownMs: 30_000,
  keySetMaxAgeMs: 600_000,
  keySetTimeoutMs: 5_000,
});

/** Unset and empty are the same: environment files often carry `NAME=` for "not set". */
const optionalText = z.preprocess(
  (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
  z.string().trim().optional(),
);

/** A decimal number within bounds; `whole` refuses fractions. */
function boundedNumber(min: number, max: number, whole: boolean, fallback: number) {
  const words = whole ? 'a whole number' : 'a number';
  const message = `must be ${words} from ${min} to ${max}`;
  const pattern = whole ? /^\d+$/ : /^\d+(\.\d+)?$/;
  return optionalText.pipe(
    z
      .string()
      .regex(pattern, message)
      .transform(Number)
      .pipe(z.number().min(min, message).max(max, message))
      .optional()
      .transform((value) => value ?? fallback),
  );
}

const ENV_SCHEMA = z.object({
  AUTH: optionalText.pipe(
    z.enum(['on', 'off'], { error: 'must be "on" or "off"' }).optional().default('on'),
  ),
  AUTH_API_KEY_HASHES: optionalText,
  AUTH_API_KEYS_FILE: optionalText,
  AUTH_JWT_ISSUER: optionalText,
  AUTH_JWT_AUDIENCE: optionalText,
  AUTH_JWKS_URL: optionalText,
  AUTH_JWKS_FILE: optionalText,
  AUTH_CLOCK_SKEW_S: boundedNumber(0, AUTH_DEFAULTS.maxClockSkewS, true, AUTH_DEFAULTS.clockSkewS),
  RATE_LIMIT_PER_S: boundedNumber(0.001, 100_000, false, AUTH_DEFAULTS.ratePerSecond),
  RATE_LIMIT_BURST: boundedNumber(1, 1_000_000, true, AUTH_DEFAULTS.burst),
});

type AuthEnv = z.infer<typeof ENV_SCHEMA>;

/** Parses the environment with the schema; the first problem becomes `NAME: problem`. */
function parseEnv(env: NodeJS.ProcessEnv): AuthEnv {
  const result = ENV_SCHEMA.safeParse(env);
  if (result.success) return result.data;

  const issue = result.error.issues[0];
  const name = String(issue?.path[0] ?? 'environment');
  throw new Error(`${name} ${issue?.message ?? 'is not valid'}`);
}

/** Reads the per-caller rate limit settings (`RATE_LIMIT_PER_S`, `RATE_LIMIT_BURST`). */
export function loadRateLimitConfig(env: NodeJS.ProcessEnv): RateLimitConfig {
  const parsed = parseEnv(env);
  return Object.freeze({ ratePerSecond: parsed.RATE_LIMIT_PER_S, burst: parsed.RATE_LIMIT_BURST });
}

/** Collects the API keys from the variable and the file; both may be used at once. */
function loadApiKeys(parsed: AuthEnv): ApiKeyRecord[] {
  const records: ApiKeyRecord[] = [];
  if (parsed.AUTH_API_KEY_HASHES !== undefined) {
    records.push(
      ...parseApiKeyEntries(parsed.AUTH_API_KEY_HASHES.split(','), 'AUTH_API_KEY_HASHES'),
    );
  }

  const file = parsed.AUTH_API_KEYS_FILE;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`AUTH_API_KEYS_FILE: cannot read ${file} (${errorCode(err)})`);
    }
    const fromFile = parseApiKeyEntries(text.split(/\r?\n/), `AUTH_API_KEYS_FILE (${file})`);
    if (fromFile.length === 0) throw new Error(`AUTH_API_KEYS_FILE: ${file} holds no key`);
    records.push(...fromFile);
  }

  assertUniqueApiKeys(records, 'AUTH_API_KEY_HASHES and AUTH_API_KEYS_FILE');
  return records;
}

/** `ENOENT` and friends, for messages that should not carry a stack. */
function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : String((err as Error | null)?.message ?? err);
}

/** Loopback hosts, where a plain-HTTP key set cannot be tampered with on the way. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Checks `AUTH_JWKS_URL`: HTTPS, or HTTP on the loopback interface only. */
function parseKeySetUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('AUTH_JWKS_URL is not a valid URL');
  }
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) {
    throw new Error('AUTH_JWKS_URL must use https (plain http only on 127.0.0.1 or localhost)');
  }
  return url;
}

/** Reads and checks `AUTH_JWKS_FILE` now, so a bad file stops the start-up. */
function checkKeySetFile(file: string): KeySetSource {
  try {
    readKeySetFile(file);
  } catch (err) {
    throw new Error(`AUTH_JWKS_FILE: ${file}: ${errorCode(err)}`);
  }
  return { kind: 'file', path: file };
}

/** JWT settings: issuer, audience and exactly one key set, or none of them. */
function loadJwt(parsed: AuthEnv): JwtConfig | null {
  const named = {
    AUTH_JWT_ISSUER: parsed.AUTH_JWT_ISSUER,
    AUTH_JWT_AUDIENCE: parsed.AUTH_JWT_AUDIENCE,
    AUTH_JWKS_URL: parsed.AUTH_JWKS_URL,
    AUTH_JWKS_FILE: parsed.AUTH_JWKS_FILE,
  };
  if (Object.values(named).every((value) => value === undefined)) return null;

  if (named.AUTH_JWKS_URL !== undefined && named.AUTH_JWKS_FILE !== undefined) {
    throw new Error('[AUTH_JWKS_URL, AUTH_JWKS_FILE] are exclusive: set one key set');
  }
  if (named.AUTH_JWT_ISSUER === undefined) throw new Error('AUTH_JWT_ISSUER is required for JWT');
  if (named.AUTH_JWT_AUDIENCE === undefined) {
    throw new Error('AUTH_JWT_AUDIENCE is required for JWT');
  }
  const audience = named.AUTH_JWT_AUDIENCE.split(',').map((value) => value.trim());
  if (audience.some((value) => value === '')) {
    throw new Error('AUTH_JWT_AUDIENCE has an empty entry');
  }

  const keySet = keySetSource(named.AUTH_JWKS_URL, named.AUTH_JWKS_FILE);
  return Object.freeze({
    issuer: named.AUTH_JWT_ISSUER,
    audience: Object.freeze(audience),
    keySet: Object.freeze(keySet),
    clockSkewS: parsed.AUTH_CLOCK_SKEW_S,
    keySetCooldownMs: AUTH_DEFAULTS.keySetCooldownMs,
    keySetMaxAgeMs: AUTH_DEFAULTS.keySetMaxAgeMs,
    keySetTimeoutMs: AUTH_DEFAULTS.keySetTimeoutMs,
  });
}

function keySetSource(url: string | undefined, file: string | undefined): KeySetSource {
  if (url !== undefined) return { kind: 'url', url: parseKeySetUrl(url) };
  if (file !== undefined) return checkKeySetFile(file);
  throw new Error('[AUTH_JWKS_URL, AUTH_JWKS_FILE]: one is required for JWT');
}

/**
 * Reads and validates every authentication and rate-limit variable. Throws an Error whose
 * message starts with the variable's name. With `AUTH=on` (the default) at least API keys or
 * JWT must be configured; with `AUTH=off` the rest is still validated when set.
 */
export function loadAuthConfig(env: NodeJS.ProcessEnv): AuthConfig {
  const parsed = parseEnv(env);
  const apiKeys = loadApiKeys(parsed);
  const jwt = loadJwt(parsed);
  const enabled = parsed.AUTH === 'on';

  if (enabled && apiKeys.length === 0 && jwt === null) {
    throw new Error(
      'AUTH is on but no credentials are configured: set AUTH_API_KEY_HASHES or ' +
        'AUTH_API_KEYS_FILE, or AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and AUTH_JWKS_URL ' +
        '(or AUTH_JWKS_FILE); AUTH=off serves without credentials (never in production)',
    );
  }
  return Object.freeze({
    enabled,
    apiKeys: Object.freeze(apiKeys),
    jwt,
    rateLimit: loadRateLimitConfig(env),
  });
}
