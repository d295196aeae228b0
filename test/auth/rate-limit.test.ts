/**
 * The per-caller token bucket, driven by an injected clock so the boundary is exact: `burst`
 * requests at once, then one more every `1 / ratePerSecond` seconds, each caller on its own.
 */
import assert from 'node:assert/strict';

import { hashApiKey } from '../../server/auth/api-keys';
import { loadAuthConfig } from '../../server/auth/auth-config';
import { createRateLimiter } from '../../server/auth/rate-limit';
import { ERROR_CATALOGUE } from '../../server/errors';
import { call, captureLogger, makeApiKey, startApp, type TestApp } from './auth-fixtures';

const IDENTIFY = '/v1/identify';

describe('createRateLimiter', () => {
  const alice = makeApiKey();
  const bob = makeApiKey();
  let clock = 0;
  let app: TestApp;

  const asAlice = () => call(app, IDENTIFY, `ApiKey ${alice}`);
  const asBob = () => call(app, IDENTIFY, `ApiKey ${bob}`);

  beforeEach(async () => {
    clock = 1_000_000;
    const config = loadAuthConfig({
      AUTH_API_KEY_HASHES: `alice:${hashApiKey(alice)},bob:${hashApiKey(bob)}`,
    });
    const limit = { ratePerSecond: 2, burst: 3, now: () => clock };
    app = await startApp(config, captureLogger().logger, limit);
  });

  afterEach(() => app.close());

  it('lets exactly `burst` requests through at once, then 429 with Retry-After', async () => {
    for (let i = 0; i < 3; i += 1) assert.equal((await asAlice()).status, 200, `request ${i}`);

    const refused = await asAlice();
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, {
      error: { code: 'rate_limited', message: ERROR_CATALOGUE.rate_limited.message },
    });
    assert.equal(refused.headers.get('retry-after'), '1');
  });

  it('gives a token back exactly every 1 / rate seconds', async () => {
    for (let i = 0; i < 3; i += 1) await asAlice();

    clock += 499;
    assert.equal((await asAlice()).status, 429, '1 ms before the token is back');
    clock += 1;
    assert.equal((await asAlice()).status, 200, 'when the token is back');
    assert.equal((await asAlice()).status, 429, 'and only one');

    clock += 1000;
    assert.equal((await asAlice()).status, 200);
    assert.equal((await asAlice()).status, 200);
    assert.equal((await asAlice()).status, 429);
  });

  it('never fills a bucket beyond `burst`, however long the caller was idle', async () => {
    await asAlice();
    clock += 3_600_000;
    for (let i = 0; i < 3; i += 1) assert.equal((await asAlice()).status, 200);
    assert.equal((await asAlice()).status, 429);
  });

  it('keeps one bucket per caller: one caller out of tokens does not stop another', async () => {
    for (let i = 0; i < 4; i += 1) await asAlice();
    assert.equal((await asAlice()).status, 429);
    assert.equal((await asBob()).status, 200);
  });

  it('does not limit requests without a caller (health, metrics)', async () => {
    for (let i = 0; i < 10; i += 1) assert.equal((await call(app, '/health/ready')).status, 200);
  });

  it('does not count refused credentials against the caller (auth runs first)', async () => {
    for (let i = 0; i < 10; i += 1) {
      assert.equal((await call(app, IDENTIFY, 'ApiKey wrong')).status, 401);
    }
    assert.equal((await asAlice()).status, 200);
  });
});

describe('createRateLimiter Retry-After', () => {
  it('rounds the wait up to whole seconds', async () => {
    let clock = 0;
    const key = makeApiKey();
    const config = loadAuthConfig({ AUTH_API_KEY_HASHES: `slow:${hashApiKey(key)}` });
    const app = await startApp(config, captureLogger().logger, {
      ratePerSecond: 0.4,
      burst: 1,
      now: () => clock,
    });
    try {
      assert.equal((await call(app, IDENTIFY, `ApiKey ${key}`)).status, 200);
      const waits: (string | null)[] = [];
      for (const at of [0, 1000, 1500, 2499]) {
        clock = at;
        waits.push((await call(app, IDENTIFY, `ApiKey ${key}`)).headers.get('retry-after'));
      }
      assert.deepEqual(waits, ['3', '2', '1', '1']);
      clock = 2500;
      assert.equal((await call(app, IDENTIFY, `ApiKey ${key}`)).status, 200);
    } finally {
      await app.close();
    }
  });

  it('refuses options that would block everyone or nobody', () => {
    assert.throws(() => createRateLimiter({ ratePerSecond: 0, burst: 1 }), /ratePerSecond/);
    assert.throws(
      () => createRateLimiter({ ratePerSecond: Number.NaN, burst: 1 }),
      /ratePerSecond/,
    );
    assert.throws(() => createRateLimiter({ ratePerSecond: 1, burst: 0 }), /burst/);
    assert.throws(() => createRateLimiter({ ratePerSecond: 1, burst: 1.5 }), /burst/);
  });
});
