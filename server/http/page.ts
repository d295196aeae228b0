/**
 * Serves the try-it page: `/` (the photo picker), `/docs` (the readable API description) and
 * `/static/*` (their scripts, style sheet and icon). The files are read once when the
 * middleware is created, so a request never touches the disk and no request path can name a
 * file outside the page's own folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type Koa from 'koa';

/** Options of {@link createPageMiddleware}. */
export interface PageOptions {
  /** When false the middleware passes every request through (the page is switched off). */
  enabled: boolean;
}

/** One file of the page, held in memory with its response headers worked out in advance. */
interface PageFile {
  body: Buffer;
  type: string;
  etag: string;
  /** Short content hash; HTML asks for `/static/NAME?v=HASH` so assets can be cached for good. */
  version: string;
}

/** URL prefix of the page's assets. */
const STATIC_PREFIX = '/static/';

/** The HTML documents and the paths they answer on. */
const DOCUMENTS: Readonly<Record<string, string>> = Object.freeze({
  '/': 'index.html',
  '/docs': 'docs.html',
});

const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
});

/**
 * Everything the page needs comes from this origin: no inline script or style, no external
 * font, no plugin, no framing. The photo preview is drawn on a canvas, so not even `blob:`
 * images are needed.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
});

/** HTML may change with every release: the browser must check before reusing it. */
const REVALIDATE = 'no-cache';
/** An asset asked for with its current content hash never changes under that URL. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Creates the middleware serving the try-it page. It answers GET and HEAD on `/`, `/docs` and
 * `/static/<file>`, and passes everything else (and everything, when disabled) to `next()`.
 * Throws at start-up when enabled and the page's files cannot be found, rather than at the
 * first visitor.
 */
export function createPageMiddleware(options: { enabled: boolean }): Koa.Middleware {
  if (!options.enabled) {
    return (_ctx, next) => next();
  }
  const files = loadPageFiles(findPublicDir());

  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      return next();
    }
    const file = lookUp(files, ctx.path);
    if (!file) {
      return next();
    }
    const cacheControl = file.isAsset && ctx.query.v === file.file.version ? IMMUTABLE : REVALIDATE;
    sendFile(ctx, file.file, cacheControl);
  };
}

/** Finds the file a request path names, if it is one of the page's. */
function lookUp(
  files: ReadonlyMap<string, PageFile>,
  requestPath: string,
): { file: PageFile; isAsset: boolean } | undefined {
  const documentName = DOCUMENTS[requestPath];
  if (documentName) {
    const file = files.get(documentName);
    return file && { file, isAsset: false };
  }
  if (!requestPath.startsWith(STATIC_PREFIX)) {
    return undefined;
  }
  // Only exact names of the files loaded at start-up match, so `..`, encoded slashes and the
  // like simply find nothing. The HTML documents have their own paths and are not assets.
  const name = requestPath.slice(STATIC_PREFIX.length);
  const file = files.get(name);
  return file && !name.endsWith('.html') ? { file, isAsset: true } : undefined;
}

function sendFile(ctx: Koa.Context, file: PageFile, cacheControl: string): void {
  ctx.set(SECURITY_HEADERS);
  ctx.set('Cache-Control', cacheControl);
  ctx.type = file.type;
  ctx.etag = file.etag;
  ctx.status = 200;

  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = file.body;
}

/**
 * The page's folder: `server/public` beside this file when run from the sources, or, from the
 * compiled `dist/server/http/page.js`, the `server/public` of the installed tree (the build
 * compiles TypeScript only and leaves the static files where they are).
 */
function findPublicDir(): string {
  const candidates = [
    path.resolve(__dirname, '..', 'public'),
    path.resolve(__dirname, '..', '..', '..', 'server', 'public'),
  ];
  const found = candidates.find((dir) => existsSync(path.join(dir, DOCUMENTS['/'] ?? '')));
  if (!found) {
    throw new Error(
      `try-it page: no index.html in ${candidates.join(' or ')}; ship server/public with the ` +
        'server, or switch the page off with PAGE=off',
    );
  }
  return found;
}

/** Reads every servable file of the folder and points the HTML at versioned asset URLs. */
function loadPageFiles(dir: string): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[path.extname(name)];
    const full = path.join(dir, name);
    if (type && statSync(full).isFile()) {
      files.set(name, toPageFile(readFileSync(full), type));
    }
  }
  for (const [name, file] of files) {
    if (name.endsWith('.html')) {
      const html = versionAssetUrls(file.body.toString('utf8'), files);
      files.set(name, toPageFile(Buffer.from(html, 'utf8'), file.type));
    }
  }
  return files;
}

/** Appends `?v=<hash>` to every `/static/<name>` the HTML refers to by `src` or `href`. */
function versionAssetUrls(html: string, files: ReadonlyMap<string, PageFile>): string {
  return html.replace(/(src|href)="\/static\/([\w.-]+)"/g, (whole, attribute: string, name) => {
    const asset = files.get(name as string);
    return asset ? `${attribute}="${STATIC_PREFIX}${name}?v=${asset.version}"` : whole;
  });
}

function toPageFile(body: Buffer, type: string): PageFile {
  const hash = createHash('sha256').update(body).digest('base64url');
  return { body, type, etag: `"${hash}"`, version: hash.slice(0, 12) };
}
