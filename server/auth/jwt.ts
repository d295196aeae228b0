/**
 * Bearer JWT verification with `jose`. Only asymmetric signatures (RS256, ES256) are accepted,
 * so neither an unsigned token nor one "signed" with HMAC over the public key can pass. Keys
 * come from a key set, remote or in a file, and a token naming a key the cache does not know
 * makes the set be read again (at most once per cooldown): that is how a key rotation at the
 * identity provider reaches the server without a restart.
 */
import { readFileSync, statSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';

/** The signature algorithms a token may use. */
export const ALLOWED_ALGORITHMS = Object.freeze(['RS256', 'ES256'] as const);

/** Where the verification keys come from. */
export type KeySetSource =
  { readonly kind: 'url'; readonly url: URL } | { readonly kind: 'file'; readonly path: string };

/** Settings of JWT verification, validated by `loadAuthConfig`. */
export interface JwtConfig {
  /** Expected `iss` claim. */
  readonly issuer: string;
  /** Accepted `aud` values; the token must name at least one. */
  readonly audience: readonly string[];
  /** The key set. */
  readonly keySet: KeySetSource;
  /** Tolerance, in seconds, on `exp` and `nbf` for clocks that disagree. */
  readonly clockSkewS: number;
  /** Least time, in ms, between two reads of the key set caused by an unknown key id. */
  readonly keySetCooldownMs: number;
  /** Age, in ms, after which a remote key set is fetched again even if every kid is known. */
  readonly keySetMaxAgeMs: number;
  /** Time limit, in ms, of one fetch of a remote key set. */
  readonly keySetTimeoutMs: number;
}

/** What a verified token says about its caller. */
export interface VerifiedToken {
  /** The `sub` claim. */
  readonly subject: string;
}

/**
 * Thrown when the key set cannot be read (identity provider unreachable, file gone, bad JSON):
 * the server's problem, not the caller's, so the caller is told to retry rather than refused.
 */
export class KeySetUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('The JWT key set could not be read.', options);
    this.name = 'KeySetUnavailableError';
  }
}

/**
 * Thrown for every token that does not verify; `reason` is a short fixed word for the log
 * (expired, issuer, signature...) and never contains any part of the token.
 */
export class TokenRefusedError extends Error {
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`The token was refused: ${reason}.`, options);
    this.name = 'TokenRefusedError';
    this.reason = reason;
  }
}

/**
 * Reads and checks a key set file: JSON with a non-empty `keys` array of public RSA or EC keys.
 * A private key or a symmetric one in the file is refused: it would be a leak, or it would
 * let anyone holding the file sign tokens.
 */
export function readKeySetFile(file: string): JSONWebKeySet {
  const text = readFileSync(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON');
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error('needs a non-empty "keys" array');
  }
  keys.forEach((key: unknown, index) => checkPublicKey(key, index));
  return parsed as JSONWebKeySet;
}

function checkPublicKey(key: unknown, index: number): void {
  if (typeof key !== 'object' || key === null) throw new Error(`key ${index + 1} is not an object`);

  const jwk = key as Record<string, unknown>;
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') {
    throw new Error(`key ${index + 1} must have "kty" RSA or EC (public keys for RS256/ES256)`);
  }
  if ('d' in jwk) throw new Error(`key ${index + 1} holds a private key; publish public keys only`);
}

/** Builds the key resolver for the configured source. */
function createKeyResolver(config: JwtConfig): JWTVerifyGetKey {
  if (config.keySet.kind === 'url') {
    return createRemoteJWKSet(config.keySet.url, {
      cooldownDuration: config.keySetCooldownMs,
      cacheMaxAge: config.keySetMaxAgeMs,
      timeoutDuration: config.keySetTimeoutMs,
    });
  }
  return createFileKeyResolver(config.keySet.path, config.keySetCooldownMs);
}

/**
 * A key set read from a file. When a token names an unknown key, the cooldown has passed and
 * the file changed, it is read again: replacing the file rotates keys without a restart.
 */
function createFileKeyResolver(file: string, cooldownMs: number): JWTVerifyGetKey {
  let resolver = createLocalJWKSet(readKeySetFile(file));
  let checkedAt = Date.now();
  let modifiedAt = statSync(file).mtimeMs;

  const reloadIfChanged = (): boolean => {
    if (Date.now() - checkedAt < cooldownMs) return false;

    checkedAt = Date.now();
    try {
      const mtime = statSync(file).mtimeMs;
      if (mtime === modifiedAt) return false;
      resolver = createLocalJWKSet(readKeySetFile(file));
      modifiedAt = mtime;
      return true;
    } catch (cause) {
      throw new KeySetUnavailableError({ cause });
    }
  };

  return async (header, token) => {
    try {
      return await resolver(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !reloadIfChanged()) throw err;
      return resolver(header, token);
    }
  };
}

/**
 * jose's error codes that mean "this token is not acceptable", with the short reason logged.
 * Claim failures other than expiry are named by their claim instead (`claim-iss`, ...).
 */
const REASONS: Readonly<Record<string, string>> = {
  ERR_JWT_EXPIRED: 'expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'signature',
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown-key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'ambiguous-key',
  ERR_JOSE_NOT_SUPPORTED: 'unsupported',
  ERR_JWS_INVALID: 'malformed',
  ERR_JWT_INVALID: 'malformed',
};

/**
 * Classifies an error thrown while verifying: errors about the token become
 * `TokenRefusedError`; everything else (timeouts, non-200 answers, bad JSON or an unusable key
 * in the set, network errors) is about reading the key set and becomes `KeySetUnavailableError`.
 */
function classify(err: unknown): Error {
  if (err instanceof KeySetUnavailableError) return err;
  if (err instanceof errors.JWTClaimValidationFailed && !(err instanceof errors.JWTExpired)) {
    return new TokenRefusedError(`claim-${err.claim}`, { cause: err });
  }
  const reason = err instanceof errors.JOSEError ? REASONS[err.code] : undefined;
  if (reason !== undefined) return new TokenRefusedError(reason, { cause: err });
  return new KeySetUnavailableError({ cause: err });
}

/**
 * Returns a function that verifies a compact JWT: signature by a key of the set with an allowed
 * algorithm, issuer, audience, `exp` present and not passed, `nbf` if present reached (both
 * within the clock skew), and `sub` present. Resolves with the subject; rejects with
 * `TokenRefusedError` or `KeySetUnavailableError`.
 */
export function createJwtVerifier(config: JwtConfig): (token: string) => Promise<VerifiedToken> {
  const getKey = createKeyResolver(config);
  const options = {
    algorithms: [...ALLOWED_ALGORITHMS],
    issuer: config.issuer,
    audience: [...config.audience],
    clockTolerance: config.clockSkewS,
    requiredClaims: ['exp', 'sub'],
  };

  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, getKey, options);
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        throw new TokenRefusedError('claim-sub');
      }
      return { subject: payload.sub };
    } catch (err) {
      if (err instanceof TokenRefusedError) throw err;
      throw classify(err);
    }
  };
}
