/**
 * `createAuthenticator` with `AUTH=off`: the loud warning at creation, every request served as
 * an anonymous caller keyed by address; and the file key set, rotated by replacing the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { loadAuthConfig } from '../../server/auth/auth-config';
import { AUTH_OFF_WARNING, createAuthenticator } from '../../server/auth/authenticate';
import {
  AUDIENCE,
  call,
  captureLogger,
  ISSUER,
  makeSigningKey,
  signToken,
  startApp,
} from './auth-fixtures';

describe('createAuthenticator with AUTH=off', () => {
  it('logs the fixed warning once, at creation, at warn level', () => {
    const { logger, lines } = captureLogger();
    createAuthenticator(loadAuthConfig({ AUTH: 'off' }), logger);
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.msg, AUTH_OFF_WARNING);
    assert.equal(entry.level, 40);
  });

  it('logs no warning when authentication is on', () => {
    const { logger, lines } = captureLogger();
    createAuthenticator(loadAuthConfig({ AUTH_API_KEY_HASHES: `a:${'0'.repeat(64)}` }), logger);
    assert.equal(lines.length, 0);
  });

  it('serves /v1 without credentials as an anonymous caller keyed by address', async () => {
    const app = await startApp(loadAuthConfig({ AUTH: 'off' }), captureLogger().logger);
    try {
      const answer = await call(app, '/v1/identify');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.caller, { id: 'anonymous:127.0.0.1', kind: 'anonymous' });

      const health = await call(app, '/health/live');
      assert.equal(health.body.caller, null);
    } finally {
      await app.close();
    }
  });
});

describe('JWT with a key set file', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'auth-jwks-'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('picks up a new key when the file is replaced, and drops the removed one', async () => {
    const first = await makeSigningKey('file-1', 'RS256');
    const second = await makeSigningKey('file-2', 'RS256');
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [first.jwk] }));
    utimesSync(file, 1_000_000, 1_000_000);

    const loaded = loadAuthConfig({
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
      AUTH_JWKS_FILE: file,
    });
    assert.ok(loaded.jwt);
    const config = { ...loaded, jwt: { ...loaded.jwt, keySetCooldownMs: 0 } };
    const app = await startApp(config, captureLogger().logger);
    try {
      assert.equal(
        (await call(app, '/v1/identify', `Bearer ${await signToken(first)}`)).status,
        200,
      );
      assert.equal(
        (await call(app, '/v1/identify', `Bearer ${await signToken(second)}`)).status,
        401,
      );

      writeFileSync(file, JSON.stringify({ keys: [second.jwk] }));
      assert.equal(
        (await call(app, '/v1/identify', `Bearer ${await signToken(second)}`)).status,
        200,
      );
      assert.equal(
        (await call(app, '/v1/identify', `Bearer ${await signToken(first)}`)).status,
        401,
      );
    } finally {
      await app.close();
    }
  });
});
