/**
 * What the authentication tests share: key pairs and tokens made in the test, a key set served
 * over HTTP on 127.0.0.1, a tiny Koa app with the authenticator in front of a handler and the
 * service's error shape, and a pino logger whose output is kept for inspection.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import Koa from 'koa';
import pino from 'pino';

import { createAuthenticator } from '../../server/auth/authenticate';
import type { AuthConfig } from '../../server/auth/auth-config';
import { callerOf } from '../../server/auth/caller';
import { createRateLimiter, type RateLimiterOptions } from '../../server/auth/rate-limit';
import { toErrorResponse } from '../../server/errors';

/** Issuer and audience the test tokens and configurations use. */
export const ISSUER = 'https://id.example.test/';
export const AUDIENCE = 'breed-identifier-api';

/** A signing key pair with its public JWK, as an identity provider would publish it. */
export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

/** Generates a key pair and its public JWK. */
export async function makeSigningKey(kid: string, alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** Options of `signToken`: claims default to a valid token for ISSUER and AUDIENCE. */
export interface TokenOptions {
  iss?: string;
  aud?: string;
  sub?: string | null;
  /** Seconds from now; null leaves the claim out. */
  expInS?: number | null;
  nbfInS?: number;
  kid?: string;
}

/** Signs a JWT with `key`, valid unless the options say otherwise. */
export async function signToken(key: SigningKey, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iss: options.iss ?? ISSUER, aud: options.aud ?? AUDIENCE };
  payload.iat = now;
  if (options.sub !== null) payload.sub = options.sub ?? 'user-1';
  if (options.expInS !== null) payload.exp = now + (options.expInS ?? 300);
  if (options.nbfInS !== undefined) payload.nbf = now + options.nbfInS;

  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

/** A fresh random API key, in the form the README tells people to make. */
export function makeApiKey(): string {
  return randomBytes(32).toString('base64url');
}

/** A key set served on 127.0.0.1: `keys` can be replaced to rotate; `fetches` counts reads. */
export interface KeySetServer {
  url: string;
  keys: JWK[];
  fetches: number;
  close(): Promise<void>;
}

/** Starts an HTTP server that answers every GET with the current key set. */
export async function startKeySetServer(keys: JWK[]): Promise<KeySetServer> {
  const state: KeySetServer = { url: '', keys, fetches: 0, close: async () => undefined };
  const server = http.createServer((_req, res) => {
    state.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}/.well-known/jwks.json`;
  state.close = () => new Promise((resolve) => server.close(() => resolve()));
  return state;
}

/** A pino logger writing into `lines`, one JSON line per entry. */
export function captureLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

/** A running test app. */
export interface TestApp {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a Koa app: the service's error shape, the authenticator, optionally the rate limiter,
 * then a handler that answers `{ caller }` so a test sees who the server thinks called.
 */
export async function startApp(
  config: AuthConfig,
  logger: pino.Logger,
  rateLimit?: RateLimiterOptions,
): Promise<TestApp> {
  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const answer = toErrorResponse(err);
      ctx.status = answer.status;
      ctx.set({ ...answer.headers });
      ctx.body = answer.body;
    }
  });
  app.use(createAuthenticator(config, logger));
  if (rateLimit !== undefined) app.use(createRateLimiter(rateLimit));
  app.use((ctx) => {
    ctx.body = { caller: callerOf(ctx.state) ?? null };
  });

  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** One answer, body parsed. */
export interface Answer {
  status: number;
  headers: Headers;
  body: { caller?: { id: string; kind: string } | null; error?: { code: string; message: string } };
}

/** GETs `path` with the given Authorization header (none when undefined). */
export async function call(app: TestApp, path: string, authorization?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`${app.url}${path}`, { headers });
  return { status: response.status, headers: response.headers, body: await response.json() };
}
