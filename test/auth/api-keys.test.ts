/**
 * API keys for service callers: only hashes configured, several active at once, a removed key
 * refused, and neither the key nor anything else a caller sent ever written to the log.
 */
import assert from 'node:assert/strict';

import {
  createApiKeyMatcher,
  hashApiKey,
  MAX_API_KEY_LENGTH,
  parseApiKeyEntries,
} from '../../server/auth/api-keys';
import { loadAuthConfig } from '../../server/auth/auth-config';
import { ERROR_CATALOGUE } from '../../server/errors';
import { call, captureLogger, makeApiKey, startApp, type TestApp } from './auth-fixtures';

const IDENTIFY = '/v1/identify';

describe('hashApiKey and createApiKeyMatcher', () => {
  it('hashes to the SHA-256 that sha256sum prints for the same bytes', () => {
    assert.equal(
      hashApiKey('abc'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('maps each active key to its id and refuses anything else', () => {
    const keys = [makeApiKey(), makeApiKey(), makeApiKey()];
    const match = createApiKeyMatcher(
      parseApiKeyEntries([`batch:${hashApiKey(keys[0]!)}`, `ops:${hashApiKey(keys[1]!)}`], 'test'),
    );
    assert.equal(match(keys[0]!), 'batch');
    assert.equal(match(keys[1]!), 'ops');
    assert.equal(match(keys[2]!), null);
    assert.equal(match(''), null);
    assert.equal(match(hashApiKey(keys[0]!)), null, 'the hash itself is not a key');
    assert.equal(match(`${keys[0]!} `), null);
  });

  it('refuses a key longer than the limit without hashing it', () => {
    const long = 'k'.repeat(MAX_API_KEY_LENGTH + 1);
    const match = createApiKeyMatcher(parseApiKeyEntries([`big:${hashApiKey(long)}`], 'test'));
    assert.equal(match(long), null);
  });
});

describe('API key authentication', () => {
  const batchKey = makeApiKey();
  const oldOpsKey = makeApiKey();
  const newOpsKey = makeApiKey();
  const hashes = {
    batch: `batch:${hashApiKey(batchKey)}`,
    oldOps: `ops-2026-01:${hashApiKey(oldOpsKey)}`,
    newOps: `ops-2026-02:${hashApiKey(newOpsKey)}`,
  };
  let lines: string[];

  async function withApp(keyHashes: string[], run: (app: TestApp) => Promise<void>) {
    const capture = captureLogger();
    lines = capture.lines;
    const config = loadAuthConfig({ AUTH_API_KEY_HASHES: keyHashes.join(',') });
    const app = await startApp(config, capture.logger);
    try {
      await run(app);
    } finally {
      await app.close();
    }
  }

  it('accepts every active key, old and new, during a rotation', async () => {
    await withApp([hashes.batch, hashes.oldOps, hashes.newOps], async (app) => {
      for (const [key, id] of [
        [batchKey, 'batch'],
        [oldOpsKey, 'ops-2026-01'],
        [newOpsKey, 'ops-2026-02'],
      ] as const) {
        const answer = await call(app, IDENTIFY, `ApiKey ${key}`);
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.body.caller, { id: `api-key:${id}`, kind: 'api-key' });
      }
    });
  });

  it('refuses a revoked key (removed from the list) with 401 and a challenge', async () => {
    await withApp([hashes.batch, hashes.newOps], async (app) => {
      const answer = await call(app, IDENTIFY, `ApiKey ${oldOpsKey}`);
      assert.equal(answer.status, 401);
      assert.deepEqual(answer.body, {
        error: { code: 'unauthorized', message: ERROR_CATALOGUE.unauthorized.message },
      });
      assert.equal(
        answer.headers.get('www-authenticate'),
        'ApiKey realm="breed-identifier", error="invalid_token"',
      );
      assert.equal((await call(app, IDENTIFY, `ApiKey ${newOpsKey}`)).status, 200);
    });
  });

  it('accepts the scheme name in any case', async () => {
    await withApp([hashes.batch], async (app) => {
      assert.equal((await call(app, IDENTIFY, `apikey ${batchKey}`)).status, 200);
      assert.equal((await call(app, IDENTIFY, `APIKEY ${batchKey}`)).status, 200);
    });
  });

  it('refuses a missing key, a bearer token when JWT is not configured, and Basic', async () => {
    await withApp([hashes.batch], async (app) => {
      for (const header of [undefined, `Bearer ${batchKey}`, `Basic ${batchKey}`]) {
        const answer = await call(app, IDENTIFY, header);
        assert.equal(answer.status, 401, String(header));
        assert.equal(answer.headers.get('www-authenticate'), 'ApiKey realm="breed-identifier"');
      }
    });
  });

  it('writes neither a key nor its hash to the log, accepted or refused', async () => {
    await withApp([hashes.batch, hashes.newOps], async (app) => {
      await call(app, IDENTIFY, `ApiKey ${batchKey}`);
      await call(app, IDENTIFY, `ApiKey ${oldOpsKey}`);
      await call(app, IDENTIFY, `Bearer ${newOpsKey}`);
      await call(app, IDENTIFY, `ApiKey ${newOpsKey}x`);
    });
    const text = lines.join('');
    assert.ok(lines.length >= 3, 'refusals are logged');
    for (const secret of [batchKey, oldOpsKey, newOpsKey]) {
      assert.equal(text.includes(secret), false);
      assert.equal(text.includes(hashApiKey(secret)), false);
    }
  });
});

describe('both schemes at once', () => {
  it('advertises both in the challenge', async () => {
    const config = loadAuthConfig({
      AUTH_API_KEY_HASHES: `svc:${hashApiKey(makeApiKey())}`,
      AUTH_JWT_ISSUER: 'https://id.example.test/',
      AUTH_JWT_AUDIENCE: 'api',
      AUTH_JWKS_URL: 'https://id.example.test/jwks.json',
    });
    const app = await startApp(config, captureLogger().logger);
    try {
      const answer = await call(app, IDENTIFY);
      assert.equal(answer.status, 401);
      assert.equal(
        answer.headers.get('www-authenticate'),
        'Bearer realm="breed-identifier", ApiKey realm="breed-identifier"',
      );
    } finally {
      await app.close();
    }
  });
});
