/**
 * A small Koa app for the page-behaviour tests: the real page middleware in front of a stub of
 * the API whose answers each test chooses, recording every upload it receives.
 */
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import Koa from 'koa';
import getRawBody from 'raw-body';
import { PATHS } from '../../server/contract';
import { createPageMiddleware } from '../../server/http/page';

/** One upload as the stub received it. */
export interface ReceivedUpload {
  contentType: string;
  authorization: string | undefined;
  query: Record<string, unknown>;
  body: Buffer;
}

/** What the stub answers to the next identification. */
export interface StubReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Close the connection without an answer (a network failure, as the browser sees it). */
  hangUp?: boolean;
}

/** The running stub. */
export interface StubApi {
  url: string;
  uploads: ReceivedUpload[];
  /** Answer of every identification until changed. */
  reply: StubReply;
  /** Answer of `GET /v1/models`. */
  models: StubReply;
  close(): Promise<void>;
}

/** A well-formed identification, as the real server answers for a clear dog photo. */
export function dogIdentification(): unknown {
  return {
    isPet: true,
    species: 'dog',
    breed: 'Samoyed',
    confidence: 0.873,
    predictions: [
      { label: 'Samoyed, Samoyede', species: 'dog', breed: 'Samoyed', confidence: 0.873 },
      { label: 'Pomeranian', species: 'dog', breed: 'Pomeranian', confidence: 0.061 },
      { label: 'white wolf, Arctic wolf', species: null, breed: null, confidence: 0.032 },
      { label: 'keeshond', species: 'dog', breed: 'Keeshond', confidence: 0.012 },
      { label: 'Great Pyrenees', species: 'dog', breed: 'Great Pyrenees', confidence: 0.0003 },
    ],
    model: { name: 'stub-model', version: '9.8.7' },
    timingsMs: { decode: 4.2, queue: 0.6, inference: 31.4, total: 36.9 },
  };
}

/** An identification of a photo with no cat or dog in it. */
export function notPetIdentification(): unknown {
  return {
    isPet: false,
    species: null,
    breed: null,
    confidence: 0.02,
    predictions: [
      { label: 'sports car, sport car', species: null, breed: null, confidence: 0.71 },
      { label: 'convertible', species: null, breed: null, confidence: 0.12 },
    ],
    model: { name: 'stub-model', version: '9.8.7' },
    timingsMs: { decode: 3, queue: 0, inference: 30, total: 33 },
  };
}

/** A small OpenAPI document exercising what the docs page renders. */
export const OPENAPI_FIXTURE = {
  openapi: '3.1.0',
  info: { title: 'Stub breed API', version: '4.5.6', description: 'Send a `photo`.\n\nGet JSON.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token.' } },
    schemas: {
      Identification: {
        type: 'object',
        required: ['isPet'],
        properties: {
          isPet: { type: 'boolean', description: 'Whether a cat or dog is seen.' },
          breed: { type: ['string', 'null'] },
          predictions: { type: 'array', items: { $ref: '#/components/schemas/Prediction' } },
        },
      },
      Prediction: { type: 'object', properties: { label: { type: 'string' } } },
    },
  },
  paths: {
    [PATHS.identify]: {
      post: {
        summary: 'Identify a photo',
        security: [{ bearer: [] }],
        parameters: [
          {
            name: 'top',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
            description: 'How many predictions.',
          },
        ],
        requestBody: { required: true, content: { 'image/jpeg': { schema: { type: 'string' } } } },
        responses: {
          '200': {
            description: 'The answer.',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/Identification' } },
            },
          },
          '415': { description: 'Not a supported type.' },
        },
      },
    },
    [PATHS.models]: { get: { summary: 'The model', responses: { '200': { description: 'OK' } } } },
  },
};

/** Starts the stub on a free local port. */
export async function startStubApi(): Promise<StubApi> {
  const uploads: ReceivedUpload[] = [];
  const stub: StubApi = {
    url: '',
    uploads,
    reply: { status: 200, body: dogIdentification() },
    models: {
      status: 200,
      body: { name: 'stub-model', version: '9.8.7', backend: 'cpu', labels: ['a', 'b'] },
    },
    close: async () => undefined,
  };

  const app = new Koa();
  app.use(createPageMiddleware({ enabled: true }));
  app.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === PATHS.identify) {
      uploads.push({
        contentType: ctx.get('Content-Type'),
        authorization: ctx.get('Authorization') || undefined,
        query: { ...ctx.query },
        body: await getRawBody(ctx.req, { limit: '50mb' }),
      });
      return answer(ctx, stub.reply);
    }
    if (ctx.method === 'GET' && ctx.path === PATHS.models) return answer(ctx, stub.models);
    if (ctx.method === 'GET' && ctx.path === PATHS.openapi) {
      ctx.body = OPENAPI_FIXTURE;
      return;
    }
    return next();
  });

  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return stub;
}

function answer(ctx: Koa.Context, reply: StubReply): void {
  if (reply.hangUp) {
    ctx.req.socket.destroy();
    ctx.respond = false;
    return;
  }
  ctx.set(reply.headers ?? {});
  ctx.status = reply.status;
  ctx.body = reply.body as Koa.Context['body'];
}
