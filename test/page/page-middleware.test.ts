import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Koa from 'koa';
import { PATHS } from '../../server/contract';
import { createPageMiddleware } from '../../server/http/page';
import { REPO_ROOT } from '../support/shared-data';

const PUBLIC_DIR = path.join(REPO_ROOT, 'server', 'public');

/** Serves the middleware in front of a fallback that names itself, so pass-through shows. */
async function serve(enabled: boolean): Promise<{ url: string; close: () => Promise<void> }> {
  const app = new Koa();
  app.use(createPageMiddleware({ enabled }));
  app.use((ctx) => {
    ctx.status = 418;
    ctx.body = 'reached next';
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('createPageMiddleware({ enabled })', () => {
  let server: { url: string; close: () => Promise<void> };
  before(async () => {
    server = await serve(true);
  });
  after(() => server.close());

  it('serves index.html at the page path, with a strict policy and revalidation', async () => {
    const response = await fetch(server.url + PATHS.page);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const policy = response.headers.get('content-security-policy') ?? '';
    assert.match(policy, /^default-src 'self';/);
    assert.doesNotMatch(policy, /unsafe-|\*|data:|blob:|https?:/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    const html = await response.text();
    assert.match(html, /<h1>What breed is my pet\?<\/h1>/);
  });

  it('serves the API description page at /docs', async () => {
    const response = await fetch(`${server.url}/docs`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /src="\/static\/docs\.js\?v=[\w-]{12}"/);
  });

  it('points the HTML at content-versioned assets, and caches those for good', async () => {
    const html = await (await fetch(server.url + PATHS.page)).text();
    const match = /src="(\/static\/app\.js\?v=([\w-]+))"/.exec(html);
    assert.ok(match, 'index.html refers to a versioned app.js');
    const versioned = await fetch(server.url + match[1]);
    assert.equal(versioned.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(versioned.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await versioned.text(), readFileSync(path.join(PUBLIC_DIR, 'app.js'), 'utf8'));

    const stale = await fetch(`${server.url}/static/app.js?v=not-the-hash`);
    assert.equal(stale.headers.get('cache-control'), 'no-cache');
  });

  it('gives each asset its content type', async () => {
    const expected: Record<string, string> = {
      'style.css': 'text/css; charset=utf-8',
      'docs.js': 'text/javascript; charset=utf-8',
      'favicon.svg': 'image/svg+xml',
    };
    for (const [name, type] of Object.entries(expected)) {
      const response = await fetch(`${server.url}/static/${name}`);
      assert.equal(response.status, 200, name);
      assert.equal(response.headers.get('content-type'), type, name);
    }
  });

  it('answers 304 to a request that already holds the current version', async () => {
    const first = await fetch(`${server.url}/static/style.css`);
    const etag = first.headers.get('etag');
    assert.ok(etag);
    const second = await fetch(`${server.url}/static/style.css`, {
      // Without an explicit Cache-Control, fetch adds `no-cache`, which forbids a 304.
      headers: { 'If-None-Match': etag, 'Cache-Control': 'max-age=0' },
    });
    assert.equal(second.status, 304);
    assert.equal(await second.text(), '');
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await fetch(server.url + PATHS.page, { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await response.text(), '');
  });

  it('passes unknown assets, traversal attempts and HTML under /static to next()', async () => {
    const paths = [
      '/static/missing.js',
      '/static/../http/page.ts',
      '/static/%2e%2e%2fhttp%2fpage.ts',
      '/static/index.html',
      '/static/',
      '/docs/',
      '/index.html',
    ];
    for (const requestPath of paths) {
      const response = await fetch(server.url + requestPath);
      assert.equal(response.status, 418, requestPath);
      assert.equal(await response.text(), 'reached next', requestPath);
    }
  });

  it('passes other methods and the API paths to next()', async () => {
    const post = await fetch(server.url + PATHS.page, { method: 'POST', body: 'x' });
    assert.equal(post.status, 418);
    for (const apiPath of [PATHS.identify, PATHS.models, PATHS.openapi, PATHS.metrics]) {
      assert.equal((await fetch(server.url + apiPath)).status, 418, apiPath);
    }
  });
});

describe('createPageMiddleware({ enabled: false })', () => {
  it('passes every request through', async () => {
    const server = await serve(false);
    try {
      for (const requestPath of [PATHS.page, '/docs', '/static/app.js']) {
        const response = await fetch(server.url + requestPath);
        assert.equal(response.status, 418, requestPath);
        assert.equal(response.headers.get('content-security-policy'), null);
      }
    } finally {
      await server.close();
    }
  });
});
