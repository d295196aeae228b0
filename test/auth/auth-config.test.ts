/**
 * `loadAuthConfig`: every setting read from the environment, each bad value refused at start-up
 * with a message that names the variable, and `AUTH=on` without credentials refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { hashApiKey } from '../../server/auth/api-keys';
import { AUTH_DEFAULTS, loadAuthConfig, loadRateLimitConfig } from '../../server/auth/auth-config';
import { makeApiKey, makeSigningKey } from './auth-fixtures';

const KEY_HASH = `svc:${hashApiKey('a-key-for-config-tests')}`;
const JWT_ENV = {
  AUTH_JWT_ISSUER: 'https://id.example.test/',
  AUTH_JWT_AUDIENCE: 'api',
  AUTH_JWKS_URL: 'https://id.example.test/.well-known/jwks.json',
};

describe('loadAuthConfig', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'auth-config-'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  function writeFile(name: string, text: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  it('is on by default and refuses to start without any credentials configured', () => {
    assert.throws(() => loadAuthConfig({}), /^Error: AUTH is on but no credentials/);
    assert.throws(() => loadAuthConfig({ AUTH: 'on', AUTH_API_KEY_HASHES: '' }), /AUTH is on/);
  });

  it('starts with AUTH=off and nothing else, with the default rate limit', () => {
    const config = loadAuthConfig({ AUTH: 'off' });
    assert.equal(config.enabled, false);
    assert.deepEqual(config.apiKeys, []);
    assert.equal(config.jwt, null);
    assert.deepEqual(config.rateLimit, { ratePerSecond: 5, burst: 10 });
    assert.ok(Object.isFrozen(config));
  });

  it('refuses a value of AUTH other than on or off', () => {
    for (const value of ['false', 'OFF', '0', 'yes']) {
      assert.throws(() => loadAuthConfig({ AUTH: value }), /^Error: AUTH must be "on" or "off"/);
    }
  });

  it('reads several API key hashes from the variable, and more from the file', () => {
    const fileKey = makeApiKey();
    const file = writeFile(
      'keys',
      `# service callers\nbatch:${hashApiKey(fileKey)}\n\nops.2:${'AB'.repeat(32)}\r\n`,
    );
    const config = loadAuthConfig({
      AUTH_API_KEY_HASHES: ` ${KEY_HASH} , web_1:${'0'.repeat(64)}`,
      AUTH_API_KEYS_FILE: file,
    });
    assert.equal(config.enabled, true);
    assert.deepEqual(
      config.apiKeys.map((record) => record.id),
      ['svc', 'web_1', 'batch', 'ops.2'],
    );
    assert.equal(config.apiKeys[2]?.sha256.toString('hex'), hashApiKey(fileKey));
    assert.equal(config.apiKeys[3]?.sha256.toString('hex'), 'ab'.repeat(32));
  });

  it('refuses malformed API key entries, naming the variable and the entry, not the hash', () => {
    const cases: [string, RegExp][] = [
      ['nocolon', /^Error: AUTH_API_KEY_HASHES: entry 1 must be "id:sha256hex"/],
      [`${KEY_HASH},:${'0'.repeat(64)}`, /AUTH_API_KEY_HASHES: entry 2 must be/],
      ['svc:1234', /AUTH_API_KEY_HASHES: entry 1 \(id "svc"\) needs a SHA-256 of 64/],
      [`svc:${'g'.repeat(64)}`, /needs a SHA-256/],
      [`bad id:${'0'.repeat(64)}`, /entry 1 must be/],
      [`${KEY_HASH},${KEY_HASH.replace('svc', 'other')}`, /the key of "other" appears twice/],
      [`${KEY_HASH},svc:${'0'.repeat(64)}`, /the id "svc" appears twice/],
    ];
    for (const [value, expected] of cases) {
      assert.throws(() => loadAuthConfig({ AUTH_API_KEY_HASHES: value }), expected, value);
    }
  });

  it('refuses an unreadable or empty key file, naming AUTH_API_KEYS_FILE', () => {
    const missing = path.join(dir, 'missing');
    assert.throws(
      () => loadAuthConfig({ AUTH_API_KEYS_FILE: missing }),
      /^Error: AUTH_API_KEYS_FILE: cannot read .*missing \(ENOENT\)/,
    );
    const empty = writeFile('empty', '# nothing yet\n');
    assert.throws(() => loadAuthConfig({ AUTH_API_KEYS_FILE: empty }), /holds no key/);
    const bad = writeFile('bad', `svc:${'0'.repeat(63)}\n`);
    assert.throws(() => loadAuthConfig({ AUTH_API_KEYS_FILE: bad }), /AUTH_API_KEYS_FILE \(/);
  });

  it('reads a complete JWT configuration with a remote key set', () => {
    const config = loadAuthConfig({ ...JWT_ENV, AUTH_JWT_AUDIENCE: 'api, app' });
    assert.ok(config.jwt);
    assert.equal(config.jwt.issuer, JWT_ENV.AUTH_JWT_ISSUER);
    assert.deepEqual(config.jwt.audience, ['api', 'app']);
    assert.equal(config.jwt.keySet.kind, 'url');
    assert.equal(config.jwt.clockSkewS, AUTH_DEFAULTS.clockSkewS);
    assert.deepEqual(config.apiKeys, []);
  });

  it('refuses an incomplete or contradictory JWT configuration, naming what is missing', () => {
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ ...JWT_ENV, AUTH_JWT_ISSUER: undefined }, /^Error: AUTH_JWT_ISSUER is required/],
      [{ ...JWT_ENV, AUTH_JWT_AUDIENCE: '' }, /^Error: AUTH_JWT_AUDIENCE is required/],
      [{ ...JWT_ENV, AUTH_JWT_AUDIENCE: 'api,' }, /AUTH_JWT_AUDIENCE has an empty entry/],
      [{ ...JWT_ENV, AUTH_JWKS_URL: undefined }, /\[AUTH_JWKS_URL, AUTH_JWKS_FILE\]: one is/],
      [{ ...JWT_ENV, AUTH_JWKS_FILE: '/x' }, /\[AUTH_JWKS_URL, AUTH_JWKS_FILE\] are exclusive/],
      [{ AUTH_JWKS_URL: JWT_ENV.AUTH_JWKS_URL }, /AUTH_JWT_ISSUER is required/],
      [{ ...JWT_ENV, AUTH_JWKS_URL: 'not a url' }, /^Error: AUTH_JWKS_URL is not a valid URL/],
      [
        { ...JWT_ENV, AUTH_JWKS_URL: 'http://id.example.test/jwks' },
        /AUTH_JWKS_URL must use https/,
      ],
      [{ ...JWT_ENV, AUTH_JWKS_URL: 'file:///etc/jwks.json' }, /AUTH_JWKS_URL must use https/],
    ];
    for (const [env, expected] of cases) {
      assert.throws(() => loadAuthConfig(env), expected, JSON.stringify(env));
    }
  });

  it('allows a plain-HTTP key set on the loopback interface only', () => {
    const config = loadAuthConfig({ ...JWT_ENV, AUTH_JWKS_URL: 'http://127.0.0.1:9000/jwks' });
    assert.equal(config.jwt?.keySet.kind, 'url');
  });

  it('reads a key set file of public keys and refuses a bad one', async () => {
    const key = await makeSigningKey('k1', 'ES256');
    const good = writeFile('jwks.json', JSON.stringify({ keys: [key.jwk] }));
    const env = { ...JWT_ENV, AUTH_JWKS_URL: undefined };
    const config = loadAuthConfig({ ...env, AUTH_JWKS_FILE: good });
    assert.deepEqual(config.jwt?.keySet, { kind: 'file', path: good });

    const cases: [string, RegExp][] = [
      ['{ not json', /is not valid JSON/],
      ['{"keys": []}', /needs a non-empty "keys" array/],
      [
        JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }),
        /key 1 must have "kty" RSA or EC/,
      ],
      [JSON.stringify({ keys: [key.jwk, { ...key.jwk, d: 'x' }] }), /key 2 holds a private key/],
    ];
    for (const [text, expected] of cases) {
      const file = writeFile('bad.json', text);
      assert.throws(() => loadAuthConfig({ ...env, AUTH_JWKS_FILE: file }), expected, text);
      assert.throws(
        () => loadAuthConfig({ ...env, AUTH_JWKS_FILE: file }),
        /^Error: AUTH_JWKS_FILE/,
      );
    }
    const missing = path.join(dir, 'nope.json');
    assert.throws(() => loadAuthConfig({ ...env, AUTH_JWKS_FILE: missing }), /ENOENT/);
  });

  it('bounds the clock skew to 0-300 whole seconds', () => {
    assert.equal(loadAuthConfig({ ...JWT_ENV, AUTH_CLOCK_SKEW_S: '0' }).jwt?.clockSkewS, 0);
    assert.equal(loadAuthConfig({ ...JWT_ENV, AUTH_CLOCK_SKEW_S: '300' }).jwt?.clockSkewS, 300);
    for (const value of ['301', '-1', '1.5', 'ten', '1e2']) {
      assert.throws(
        () => loadAuthConfig({ ...JWT_ENV, AUTH_CLOCK_SKEW_S: value }),
        /^Error: AUTH_CLOCK_SKEW_S must be a whole number from 0 to 300/,
        value,
      );
    }
  });
});

describe('loadRateLimitConfig', () => {
  it('reads the rate and the burst, with defaults', () => {
    assert.deepEqual(loadRateLimitConfig({}), { ratePerSecond: 5, burst: 10 });
    assert.deepEqual(loadRateLimitConfig({ RATE_LIMIT_PER_S: '0.5', RATE_LIMIT_BURST: '3' }), {
      ratePerSecond: 0.5,
      burst: 3,
    });
  });

  it('refuses a rate or a burst that is zero, negative or not a number', () => {
    for (const value of ['0', '-1', 'fast', '100001']) {
      assert.throws(
        () => loadRateLimitConfig({ RATE_LIMIT_PER_S: value }),
        /^Error: RATE_LIMIT_PER_S/,
      );
    }
    for (const value of ['0', '2.5', 'many']) {
      assert.throws(
        () => loadRateLimitConfig({ RATE_LIMIT_BURST: value }),
        /^Error: RATE_LIMIT_BURST must be a whole number from 1/,
      );
    }
  });

  it('is part of the auth configuration', () => {
    const config = loadAuthConfig({ AUTH_API_KEY_HASHES: KEY_HASH, RATE_LIMIT_BURST: '7' });
    assert.equal(config.rateLimit.burst, 7);
  });
});
