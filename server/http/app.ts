/**
 * The Koa application: health, metrics, the OpenAPI description, the try-it page and the
 * identification API, behind authentication and a per-caller rate limit. Every error answers
 * in the same JSON shape; every request leaves one log line.
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { createAuthenticator } from '../auth/authenticate';
import { callerOf } from '../auth/caller';
import { createRateLimiter } from '../auth/rate-limit';
import type { ServerConfig } from '../config';
import { PATHS } from '../contract';
import { appError, AppError, toErrorResponse } from '../errors';
import type { InferenceCore } from '../inference/core';
import { Metrics } from './metrics';
import { openApiDocument } from './openapi';
import { createPageMiddleware } from './page';
import { readUpload } from './upload';

/** Whether the server may take work: set by `main` as the model loads and as it drains. */
export class ServiceState {
  core: InferenceCore | null = null;
  draining = false;

  /** Ready: the model is loaded and warm, and the server is not draining. */
  get ready(): boolean {
    return this.core !== null && !this.draining;
  }
}

/** What the app needs. */
export interface AppDeps {
  config: Readonly<ServerConfig>;
  logger: Logger;
  /** The service state; or give `core` for an app that is ready from the start. */
  state?: ServiceState;
  core?: InferenceCore | null;
  metrics?: Metrics;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Builds the Koa application. */
export function createApp(deps: AppDeps): Koa {
  const state = deps.state ?? Object.assign(new ServiceState(), { core: deps.core ?? null });
  const metrics = deps.metrics ?? new Metrics();
  // Behind exactly one proxy (the ALB): trust only the address it appends.
  const app = new Koa({ proxy: true, maxIpsCount: 1 });

  app.use(observe(deps.logger, metrics));
  app.use(createPageMiddleware({ enabled: deps.config.page }));
  app.use(createAuthenticator(deps.config.auth, deps.logger));
  app.use(createRateLimiter(deps.config.auth.rateLimit));

  const router = routes(state, metrics, deps.config);
  app.use(router.routes());
  app.use(router.allowedMethods());

  // Errors Koa meets outside the middleware (a client that hangs up mid-upload, a socket
  // timeout) are the client's doing: one line, no stack trace.
  app.on('error', (err: Error & { status?: number; code?: string }) => {
    deps.logger.info(
      { code: err.code, status: err.status, reason: err.message },
      'connection error',
    );
  });
  return app;
}

/** Request id, error answers, one log line and the request metrics, for every request. */
function observe(logger: Logger, metrics: Metrics): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    const given = ctx.get('x-request-id');
    const id = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', id);

    let failure: unknown;
    try {
      await next();
      // Nothing answered (Koa's empty 404) or the router's bare 405 (which keeps its Allow
      // header): answer in the API's error shape.
      if (ctx.status === 404 && ctx.body == null) throw appError('not_found');
      if (ctx.status === 405 && ctx.body == null) throw appError('method_not_allowed');
    } catch (err) {
      failure = err;
      const answer = toErrorResponse(err);
      ctx.status = answer.status;
      ctx.set(answer.headers as Record<string, string>);
      ctx.body = answer.body;
    }

    const seconds = (performance.now() - started) / 1000;
    const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
    const labels = { route: String(route), method: ctx.method, status: String(ctx.status) };
    metrics.requests.inc(labels);
    metrics.requestSeconds.observe(labels, seconds);
    logRequest(logger, ctx, { id, route: labels.route, ms: seconds * 1000, failure });
  };
}

function logRequest(
  logger: Logger,
  ctx: Koa.Context,
  info: { id: string; route: string; ms: number; failure: unknown },
): void {
  const fields = {
    reqId: info.id,
    method: ctx.method,
    path: ctx.path,
    route: info.route,
    status: ctx.status,
    ms: Math.round(info.ms * 10) / 10,
    bytesIn: Number(ctx.get('content-length')) || 0,
    caller: callerOf(ctx.state)?.id,
    code: info.failure instanceof AppError ? info.failure.code : undefined,
  };
  const expected = info.failure instanceof AppError && info.failure.expose;
  if (ctx.status >= 500 && !expected) {
    logger.error({ ...fields, err: info.failure }, 'request failed');
  } else if (ctx.status >= 500) {
    logger.warn(fields, 'request refused');
  } else if (ctx.status >= 400) {
    logger.info(fields, 'request refused');
  } else {
    logger.info(fields, 'request');
  }
}

function routes(state: ServiceState, metrics: Metrics, config: Readonly<ServerConfig>): Router {
  const router = new Router();

  router.get(PATHS.live, (ctx) => {
    ctx.body = { status: 'live' };
  });

  router.get(PATHS.ready, (ctx) => {
    if (!state.ready) throw appError('not_ready', undefined, { 'Retry-After': '5' });
    ctx.body = { status: 'ready', backend: state.core?.backend };
  });

  router.get(PATHS.metrics, async (ctx) => {
    metrics.queueDepth.set(state.core?.queueDepth() ?? 0);
    metrics.ready.set(state.ready ? 1 : 0);
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  router.get(PATHS.openapi, (ctx) => {
    ctx.body = openApiDocument(config);
  });

  router.get(PATHS.models, (ctx) => {
    const core = readyCore(state);
    const meta = core.metadata;
    ctx.body = {
      name: meta.name,
      version: meta.version,
      description: meta.description,
      backend: core.backend,
      input: meta.input,
      labels: meta.labels,
    };
  });

  router.post(PATHS.identify, async (ctx) => {
    const top = parseTop(ctx.query.top);
    const core = readyCore(state);
    const image = await readUpload(ctx.req, config.maxBodyBytes);
    ctx.body = await core.identify(image, { top });
  });

  return router;
}

function readyCore(state: ServiceState): InferenceCore {
  if (!state.ready || !state.core) {
    throw appError('not_ready', undefined, { 'Retry-After': '5' });
  }
  return state.core;
}

function parseTop(value: unknown): number {
  if (value === undefined) return 5;
  if (typeof value !== 'string' || !/^\d{1,3}$/.test(value)) {
    throw appError('bad_request', 'top must be given once, as an integer from 1 to 10.');
  }
  const top = Number(value);
  if (top < 1 || top > 10) throw appError('bad_request', 'top must be an integer from 1 to 10.');
  return top;
}
