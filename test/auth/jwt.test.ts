/**
 * Bearer JWTs through the authenticator, with tokens signed in the test by key pairs it
 * generates and the key set served over HTTP on 127.0.0.1, as an identity provider would.
 */
import assert from 'node:assert/strict';

import { SignJWT, exportSPKI, UnsecuredJWT } from 'jose';

import { loadAuthConfig, type AuthConfig } from '../../server/auth/auth-config';
import { ERROR_CATALOGUE } from '../../server/errors';
import {
  AUDIENCE,
  call,
  captureLogger,
  ISSUER,
  makeSigningKey,
  signToken,
  startApp,
  startKeySetServer,
  type Answer,
  type KeySetServer,
  type SigningKey,
  type TestApp,
} from './auth-fixtures';

const IDENTIFY = '/v1/identify';

/** A configuration reading the key set at `url`, with the given refetch cooldown. */
function jwtConfig(url: string, cooldownMs: number): AuthConfig {
  const config = loadAuthConfig({
    AUTH_JWT_ISSUER: ISSUER,
    AUTH_JWT_AUDIENCE: AUDIENCE,
    AUTH_JWKS_URL: url,
    AUTH_CLOCK_SKEW_S: '30',
  });
  assert.ok(config.jwt);
  return { ...config, jwt: { ...config.jwt, keySetCooldownMs: cooldownMs } };
}

/** Asserts the answer is the uniform 401 with a Bearer challenge naming `error`. */
function assertRefused(answer: Answer, error: 'invalid_token' | 'invalid_request' | null): void {
  assert.equal(answer.status, 401);
  assert.deepEqual(answer.body, {
    error: { code: 'unauthorized', message: ERROR_CATALOGUE.unauthorized.message },
  });
  const challenge = answer.headers.get('www-authenticate') ?? '';
  assert.match(challenge, /^Bearer realm="breed-identifier"/);
  if (error === null) assert.doesNotMatch(challenge, /error=/);
  else assert.match(challenge, new RegExp(`error="${error}"`));
}

describe('JWT authentication', () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let stranger: SigningKey;
  let keySet: KeySetServer;
  let app: TestApp;
  let lines: string[];
  const tokensSeen: string[] = [];

  /** Calls the app with a bearer token and remembers the token for the log check. */
  async function bearer(token: string, path = IDENTIFY): Promise<Answer> {
    tokensSeen.push(token);
    return call(app, path, `Bearer ${token}`);
  }

  before(async () => {
    rsa = await makeSigningKey('rsa-1', 'RS256');
    ec = await makeSigningKey('ec-1', 'ES256');
    stranger = await makeSigningKey('stranger', 'RS256');
    keySet = await startKeySetServer([rsa.jwk, ec.jwk]);
    const capture = captureLogger();
    lines = capture.lines;
    app = await startApp(jwtConfig(keySet.url, 60_000), capture.logger);
  });

  after(async () => {
    await app.close();
    await keySet.close();
  });

  it('accepts an RS256 token and an ES256 token, and names the caller by subject', async () => {
    const first = await bearer(await signToken(rsa, { sub: 'alice' }));
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.caller, { id: 'jwt:alice', kind: 'jwt' });

    const second = await bearer(await signToken(ec, { sub: 'bob' }));
    assert.equal(second.status, 200);
    assert.deepEqual(second.body.caller, { id: 'jwt:bob', kind: 'jwt' });
  });

  it('caches the key set: many tokens, one fetch', async () => {
    const before = keySet.fetches;
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await bearer(await signToken(rsa, { sub: `user-${i}` }))).status, 200);
    }
    assert.ok(before <= 1, `fetched ${before} times before`);
    assert.equal(keySet.fetches, before);
  });

  it('refuses a request without credentials with a plain challenge', async () => {
    assertRefused(await call(app, IDENTIFY), null);
  });

  it('refuses a malformed Authorization header', async () => {
    for (const header of ['Bearer', 'Bearer a b', 'Bearer "quoted"', 'Basic', 'bearer\tx']) {
      const answer = await call(app, IDENTIFY, header);
      assert.equal(answer.status, 401, header);
      assert.ok(answer.headers.get('www-authenticate'), header);
    }
  });

  it('refuses a token that is not a JWT', async () => {
    assertRefused(await bearer('not-a-jwt'), 'invalid_token');
    assertRefused(await bearer('a.b.c'), 'invalid_token');
  });

  it('refuses an expired token, and accepts one expired within the clock skew', async () => {
    assertRefused(await bearer(await signToken(rsa, { expInS: -60 })), 'invalid_token');
    assert.equal((await bearer(await signToken(rsa, { expInS: -10 }))).status, 200);
  });

  it('refuses a token not valid yet, and accepts one valid within the clock skew', async () => {
    assertRefused(await bearer(await signToken(rsa, { nbfInS: 60 })), 'invalid_token');
    assert.equal((await bearer(await signToken(rsa, { nbfInS: 10 }))).status, 200);
  });

  it('refuses a token without expiry or without subject', async () => {
    assertRefused(await bearer(await signToken(rsa, { expInS: null })), 'invalid_token');
    assertRefused(await bearer(await signToken(rsa, { sub: null })), 'invalid_token');
  });

  it('refuses a wrong issuer and a wrong audience', async () => {
    assertRefused(await bearer(await signToken(rsa, { iss: 'https/evil/' })), 'invalid_token');
    assertRefused(await bearer(await signToken(rsa, { aud: 'another-api' })), 'invalid_token');
  });

  it('refuses a bad signature: payload changed, or another key under a known kid', async () => {
    const [header, , signature] = (await signToken(rsa, { sub: 'alice' })).split('.');
    const forged = Buffer.from(
      JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: 9_999_999_999 }),
    ).toString('base64url');
    assertRefused(await bearer(`${header}.${forged}.${signature}`), 'invalid_token');

    assertRefused(await bearer(await signToken(stranger, { kid: rsa.kid })), 'invalid_token');
  });

  it('refuses alg "none"', async () => {
    const unsigned = new UnsecuredJWT({ sub: 'admin' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .encode();
    assertRefused(await bearer(unsigned), 'invalid_token');
  });

  it('refuses HS256 signed with the public key as the HMAC secret', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    for (const secret of [pem, JSON.stringify(rsa.jwk)]) {
      const token = await new SignJWT({ sub: 'admin' })
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      assertRefused(await bearer(token), 'invalid_token');
    }
  });

  it('refuses a token signed by a key that is not in the set', async () => {
    assertRefused(await bearer(await signToken(stranger)), 'invalid_token');
  });

  it('lets health and metrics paths through without credentials and without a caller', async () => {
    for (const path of ['/health/ready', '/health/live', '/metrics', '/openapi.json', '/']) {
      const answer = await call(app, path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.body.caller, null, path);
    }
  });

  it('guards every spelling of the API prefix the router would accept', async () => {
    for (const path of ['/v1', '/V1/identify', '//v1/identify', '/%76%31/identify', '/v1/%zz']) {
      assertRefused(await call(app, path), null);
    }
  });

  it('logs each refusal with a reason and never the token', () => {
    const text = lines.join('');
    assert.ok(tokensSeen.length > 10);
    for (const token of tokensSeen) {
      for (const part of token.split('.').filter((piece) => piece.length > 8)) {
        assert.equal(text.includes(part), false, 'a token part reached the log');
      }
    }
    const reasons = lines.map((line) => JSON.parse(line).auth?.reason).filter(Boolean);
    for (const reason of ['missing', 'expired', 'claim-iss', 'claim-aud', 'signature']) {
      assert.ok(reasons.includes(reason), `no "${reason}" refusal logged`);
    }
  });
});

describe('JWT key rotation', () => {
  let keySet: KeySetServer;
  let app: TestApp;
  let oldKey: SigningKey;
  let newKey: SigningKey;

  before(async () => {
    oldKey = await makeSigningKey('2026-01', 'RS256');
    newKey = await makeSigningKey('2026-02', 'ES256');
    keySet = await startKeySetServer([oldKey.jwk]);
    app = await startApp(jwtConfig(keySet.url, 0), captureLogger().logger);
  });

  after(async () => {
    await app.close();
    await keySet.close();
  });

  it('picks up a new kid when the set changes and refuses the key removed from it', async () => {
    const before = await call(app, IDENTIFY, `Bearer ${await signToken(oldKey)}`);
    assert.equal(before.status, 200);
    const fetchesBefore = keySet.fetches;

    keySet.keys = [newKey.jwk];
    const rotated = await call(app, IDENTIFY, `Bearer ${await signToken(newKey, { sub: 'u2' })}`);
    assert.equal(rotated.status, 200);
    assert.deepEqual(rotated.body.caller, { id: 'jwt:u2', kind: 'jwt' });
    assert.equal(keySet.fetches, fetchesBefore + 1);

    const retired = await call(app, IDENTIFY, `Bearer ${await signToken(oldKey)}`);
    assertRefused(retired, 'invalid_token');
  });

  it('refetches at most once per cooldown when tokens name unknown keys', async () => {
    const slowApp = await startApp(jwtConfig(keySet.url, 60_000), captureLogger().logger);
    try {
      const stranger = await makeSigningKey('unknown', 'RS256');
      assert.equal(
        (await call(slowApp, IDENTIFY, `Bearer ${await signToken(newKey)}`)).status,
        200,
      );
      const fetches = keySet.fetches;
      for (let i = 0; i < 5; i += 1) {
        const answer = await call(slowApp, IDENTIFY, `Bearer ${await signToken(stranger)}`);
        assertRefused(answer, 'invalid_token');
      }
      assert.equal(keySet.fetches, fetches);
    } finally {
      await slowApp.close();
    }
  });
});

describe('JWT key set unreachable', () => {
  it('answers 503 with Retry-After and logs the failure, not 401 or 500', async () => {
    const keySet = await startKeySetServer([]);
    const url = keySet.url;
    await keySet.close();
    const capture = captureLogger();
    const app = await startApp(jwtConfig(url, 0), capture.logger);
    try {
      const key = await makeSigningKey('k', 'RS256');
      const answer = await call(app, IDENTIFY, `Bearer ${await signToken(key)}`);
      assert.equal(answer.status, 503);
      assert.equal(answer.body.error?.code, 'not_ready');
      assert.equal(answer.headers.get('retry-after'), '5');
      assert.ok(capture.lines.some((line) => JSON.parse(line).msg === 'JWT key set unavailable'));
    } finally {
      await app.close();
    }
  });
});
