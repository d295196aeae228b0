/**
 * Authentication and the rate limit through the real application (`createApp` with the real
 * configuration and logger), without a model: a request that gets past authentication meets
 * 503 `not_ready`, one that does not gets 401, and health and metrics need no credentials.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { hashApiKey } from '../../server/auth/api-keys';
import { AUTH_OFF_WARNING } from '../../server/auth/authenticate';
import { loadConfig } from '../../server/config';
import { PATHS } from '../../server/contract';
import { createApp } from '../../server/http/app';
import { createLogger } from '../../server/log';
import {
  AUDIENCE,
  call,
  ISSUER,
  makeApiKey,
  makeSigningKey,
  signToken,
  startKeySetServer,
  type KeySetServer,
  type TestApp,
} from './auth-fixtures';

/** Starts the real app on 127.0.0.1 with `env`, its log lines kept in `lines`. */
async function startRealApp(env: NodeJS.ProcessEnv, lines: string[]): Promise<TestApp> {
  const config = loadConfig({ PAGE: 'off', ...env });
  const logger = createLogger('info', { write: (line: string) => lines.push(line) });
  const server = http.createServer(createApp({ config, logger, core: null }).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('createApp with authentication on', () => {
  const apiKey = makeApiKey();
  const lines: string[] = [];
  let keySet: KeySetServer;
  let app: TestApp;
  let token: string;

  before(async () => {
    const key = await makeSigningKey('app-1', 'ES256');
    keySet = await startKeySetServer([key.jwk]);
    token = await signToken(key, { sub: 'carol' });
    app = await startRealApp(
      {
        AUTH_API_KEY_HASHES: `jobs:${hashApiKey(apiKey)}`,
        AUTH_JWT_ISSUER: ISSUER,
        AUTH_JWT_AUDIENCE: AUDIENCE,
        AUTH_JWKS_URL: keySet.url,
        RATE_LIMIT_PER_S: '0.01',
        RATE_LIMIT_BURST: '2',
      },
      lines,
    );
  });

  after(async () => {
    await app.close();
    await keySet.close();
  });

  it('refuses the API without credentials: 401, JSON error, challenge', async () => {
    for (const path of [PATHS.models, PATHS.identify]) {
      const answer = await call(app, path);
      assert.equal(answer.status, 401, path);
      assert.equal(answer.body.error?.code, 'unauthorized');
      assert.equal(
        answer.headers.get('www-authenticate'),
        'Bearer realm="breed-identifier", ApiKey realm="breed-identifier"',
      );
    }
  });

  it('lets a valid API key and a valid token past authentication', async () => {
    for (const header of [`ApiKey ${apiKey}`, `Bearer ${token}`]) {
      const answer = await call(app, PATHS.models, header);
      assert.equal(answer.status, 503, 'no model loaded: the next gate answers');
      assert.equal(answer.body.error?.code, 'not_ready');
    }
  });

  it('answers health and metrics without credentials', async () => {
    assert.equal((await fetch(`${app.url}${PATHS.live}`)).status, 200);
    assert.equal((await fetch(`${app.url}${PATHS.metrics}`)).status, 200);
  });

  it('limits each caller to its burst, then 429 with Retry-After', async () => {
    // The API key already spent one token above; the burst is 2 and the refill is 100 s.
    assert.equal((await call(app, PATHS.models, `ApiKey ${apiKey}`)).status, 503);
    const limited = await call(app, PATHS.models, `ApiKey ${apiKey}`);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error?.code, 'rate_limited');
    assert.equal(limited.headers.get('retry-after'), '100');
  });

  it('logs callers by id and never a key or a token', () => {
    const text = lines.join('');
    assert.equal(text.includes(apiKey), false);
    for (const part of token.split('.')) assert.equal(text.includes(part), false);
    const callers = lines.map((line) => JSON.parse(line).caller).filter(Boolean);
    assert.ok(callers.includes('api-key:jobs'));
    assert.ok(callers.includes('jwt:carol'));
  });
});

describe('createApp with AUTH=off', () => {
  it('warns at creation and serves the API to anonymous callers', async () => {
    const lines: string[] = [];
    const app = await startRealApp({ AUTH: 'off' }, lines);
    try {
      const answer = await call(app, PATHS.models);
      assert.equal(answer.status, 503);
      assert.equal(answer.body.error?.code, 'not_ready');
      const warning = lines.map((line) => JSON.parse(line)).find((e) => e.msg === AUTH_OFF_WARNING);
      assert.equal(warning?.level, 40);
    } finally {
      await app.close();
    }
  });
});
