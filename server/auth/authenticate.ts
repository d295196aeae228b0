/**
 * The authentication middleware. Every request under the public API prefix (`/v1/`) must carry
 * `Authorization: Bearer <JWT>` or `Authorization: ApiKey <key>`; health, metrics, the OpenAPI
 * description and the page pass without. A refusal is a 401 with a `WWW-Authenticate` challenge
 * and the catalogue's fixed message, whatever went wrong: the reason goes to the log only, and
 * the log never gets the credential itself.
 */
import type Koa from 'koa';
import type pino from 'pino';

import { PUBLIC_API_PREFIX, SERVICE_NAME } from '../contract';
import { appError, type AppError } from '../errors';
import { createApiKeyMatcher } from './api-keys';
import type { AuthConfig } from './auth-config';
import type { Caller } from './caller';
import { createJwtVerifier, KeySetUnavailableError, TokenRefusedError } from './jwt';

/** The warning logged once when the authenticator is created with `AUTH=off`. */
export const AUTH_OFF_WARNING =
  'AUTHENTICATION IS OFF (AUTH=off): every /v1 request is served without credentials; ' +
  'never run like this in production';

/** The realm named in every challenge. */
export const AUTH_REALM = SERVICE_NAME;

/** Longest credential looked at; longer ones are refused before any parsing or hashing. */
const MAX_TOKEN_LENGTH = 8192;

/** `scheme credentials`: a token68-like value, as RFC 6750 allows for bearer tokens. */
const AUTHORIZATION_PATTERN = /^([A-Za-z]+) +([A-Za-z0-9\-._~+/]+=*) *$/;

/** Seconds a caller should wait when the identity provider's keys cannot be read. */
const KEY_SET_RETRY_AFTER_S = '5';

type Scheme = 'Bearer' | 'ApiKey';

/** RFC 6750 error codes carried in the challenge. */
type ChallengeError = 'invalid_request' | 'invalid_token';

/**
 * True for paths under the public API prefix. Compared after decoding, without case and with
 * repeated slashes collapsed, because the router matches `/V1/identify` and `//v1/identify`
 * too; a path that does not decode is treated as protected.
 */
export function needsCredentials(path: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return true;
  }
  const normalised = decoded.replace(/\/{2,}/g, '/').toLowerCase();
  const prefix = PUBLIC_API_PREFIX.toLowerCase();
  return normalised.startsWith(prefix) || normalised === prefix.slice(0, -1);
}

/** The `WWW-Authenticate` value: every configured scheme, the error on the one that failed. */
function challenge(schemes: readonly Scheme[], failed?: Scheme, error?: ChallengeError): string {
  return schemes
    .map((scheme) => {
      const base = `${scheme} realm="${AUTH_REALM}"`;
      return scheme === failed && error !== undefined ? `${base}, error="${error}"` : base;
    })
    .join(', ');
}

/** Splits the Authorization header; null when it is not `scheme credentials`. */
function parseAuthorization(header: string): { scheme: string; credentials: string } | null {
  if (header.length > MAX_TOKEN_LENGTH + 32) return null;

  const match = AUTHORIZATION_PATTERN.exec(header);
  if (match === null || match[1] === undefined || match[2] === undefined) return null;
  return { scheme: match[1].toLowerCase(), credentials: match[2] };
}

/**
 * Koa middleware that authenticates `/v1/` requests and sets `ctx.state.caller`. With auth off
 * it logs `AUTH_OFF_WARNING` once, here, and lets every request through as an anonymous caller
 * keyed by client address (so the rate limit still applies per client).
 */
export function createAuthenticator(config: AuthConfig, logger: pino.Logger): Koa.Middleware {
  if (!config.enabled) {
    logger.warn({ auth: 'off' }, AUTH_OFF_WARNING);
    return async (ctx, next) => {
      if (needsCredentials(ctx.path)) {
        ctx.state.caller = { id: `anonymous:${ctx.ip}`, kind: 'anonymous' } satisfies Caller;
      }
      await next();
    };
  }

  const identify = createIdentifier(config, logger);
  return async (ctx, next) => {
    if (!needsCredentials(ctx.path)) return next();

    ctx.state.caller = await identify(ctx.get('Authorization'), ctx.path);
    await next();
  };
}

/** Returns the function that turns an Authorization header into a caller, or throws 401. */
function createIdentifier(
  config: AuthConfig,
  logger: pino.Logger,
): (header: string, path: string) => Promise<Caller> {
  const matchKey = config.apiKeys.length > 0 ? createApiKeyMatcher(config.apiKeys) : null;
  const verifyJwt = config.jwt === null ? null : createJwtVerifier(config.jwt);
  const schemes: Scheme[] = [];
  if (verifyJwt !== null) schemes.push('Bearer');
  if (matchKey !== null) schemes.push('ApiKey');

  const refuse = (path: string, reason: string, failed?: Scheme, error?: ChallengeError) => {
    logger.info({ auth: { scheme: failed ?? null, reason }, path }, 'credentials refused');
    return appError('unauthorized', undefined, {
      'WWW-Authenticate': challenge(schemes, failed, error),
    });
  };

  return async (header, path) => {
    if (header === '') throw refuse(path, 'missing');

    const parsed = parseAuthorization(header);
    if (parsed === null) throw refuse(path, 'malformed-header');

    if (parsed.scheme === 'apikey' && matchKey !== null) {
      const id = matchKey(parsed.credentials);
      if (id === null) throw refuse(path, 'unknown-key', 'ApiKey', 'invalid_token');
      return { id: `api-key:${id}`, kind: 'api-key' };
    }
    if (parsed.scheme === 'bearer' && verifyJwt !== null) {
      const subject = await verifyBearer(verifyJwt, parsed.credentials, logger, (reason) =>
        refuse(path, reason, 'Bearer', 'invalid_token'),
      );
      return { id: `jwt:${subject}`, kind: 'jwt' };
    }
    throw refuse(path, 'unsupported-scheme');
  };
}

/** Verifies a bearer token; refusals go through `refuse`, an unreadable key set is a 503. */
async function verifyBearer(
  verify: (token: string) => Promise<{ subject: string }>,
  token: string,
  logger: pino.Logger,
  refuse: (reason: string) => AppError,
): Promise<string> {
  if (token.length > MAX_TOKEN_LENGTH) throw refuse('too-long');

  try {
    return (await verify(token)).subject;
  } catch (err) {
    if (err instanceof TokenRefusedError) throw refuse(err.reason);
    if (!(err instanceof KeySetUnavailableError)) throw err;

    logger.error({ err: err.cause }, 'JWT key set unavailable');
    throw appError('not_ready', "The identity provider's keys cannot be read; retry later.", {
      'Retry-After': KEY_SET_RETRY_AFTER_S,
    });
  }
}
