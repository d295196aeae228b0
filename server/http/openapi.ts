/**
 * The OpenAPI 3.1 description of the HTTP API, served at `/openapi.json` and rendered by the
 * try-it page's docs view. Built from the contract and the configuration, so paths and limits
 * cannot drift from what the server does.
 */
import type { ServerConfig } from '../config';
import { PATHS, SERVICE_NAME } from '../contract';
import { ERROR_CATALOGUE } from '../errors';

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const prediction = {
  type: 'object',
  required: ['label', 'species', 'breed', 'confidence'],
  properties: {
    label: { type: 'string', description: 'Class name as the model was trained on it.' },
    species: { enum: ['dog', 'cat', null] },
    breed: { type: ['string', 'null'], description: 'Display name of the breed.' },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
  },
};

const identification = {
  type: 'object',
  required: ['isPet', 'species', 'breed', 'confidence', 'predictions', 'model', 'timingsMs'],
  properties: {
    isPet: {
      type: 'boolean',
      description:
        'True when the probability mass of all dog and cat classes reaches the model threshold, ' +
        'or the most likely class is a pet breed.',
    },
    species: { enum: ['dog', 'cat', null], description: 'The species with the larger mass.' },
    breed: { type: ['string', 'null'], description: 'Most likely breed of that species.' },
    confidence: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      description: 'Probability of the breed; when not a pet, 1 minus the pet mass.',
    },
    predictions: { type: 'array', items: prediction },
    model: {
      type: 'object',
      properties: { name: { type: 'string' }, version: { type: 'string' } },
    },
    timingsMs: {
      type: 'object',
      properties: {
        decode: { type: 'number' },
        queue: { type: 'number' },
        inference: { type: 'number' },
        total: { type: 'number' },
      },
    },
  },
};

/** The document for this configuration. */
export function openApiDocument(config: Readonly<ServerConfig>): Record<string, unknown> {
  const security = config.auth.enabled ? [{ bearer: [] }, { apiKey: [] }] : [];
  return {
    openapi: '3.1.0',
    info: {
      title: SERVICE_NAME,
      version: '1',
      description: 'Identifies the breed of a cat or dog in a photo.',
    },
    paths: {
      [PATHS.identify]: {
        post: {
          summary: 'Identify the breed in a photo',
          description:
            `JPEG, PNG, WebP, GIF (first frame), AVIF or TIFF, at most ${config.maxBodyBytes} ` +
            `bytes and ${config.maxInputPixels} pixels, as the raw body or the file field ` +
            '"image" of a multipart form.',
          security,
          parameters: [
            {
              name: 'top',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 10, default: 5 },
            },
          ],
          requestBody: {
            required: true,
            content: {
              'image/*': { schema: { type: 'string', format: 'binary' } },
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  properties: { image: { type: 'string', format: 'binary' } },
                },
              },
            },
          },
          responses: {
            200: {
              description: 'The verdict.',
              content: { 'application/json': { schema: identification } },
            },
            400: errorResponse(ERROR_CATALOGUE.bad_request.message),
            401: errorResponse(ERROR_CATALOGUE.unauthorized.message),
            413: errorResponse(ERROR_CATALOGUE.payload_too_large.message),
            415: errorResponse(ERROR_CATALOGUE.unsupported_media_type.message),
            422: errorResponse('The image could not be decoded, or has too many pixels.'),
            429: errorResponse(ERROR_CATALOGUE.rate_limited.message),
            503: errorResponse('Busy or not ready; see Retry-After.'),
          },
        },
      },
      [PATHS.models]: {
        get: {
          summary: 'The model served: name, version, backend and labels',
          security,
          responses: { 200: { description: 'The model.' } },
        },
      },
      [PATHS.ready]: {
        get: {
          summary: 'Readiness: 200 when the model is warm, 503 while loading or draining',
          responses: { 200: { description: 'Ready.' }, 503: errorResponse('Not ready.') },
        },
      },
      [PATHS.live]: {
        get: { summary: 'Liveness', responses: { 200: { description: 'Alive.' } } },
      },
      [PATHS.metrics]: {
        get: {
          summary: 'Prometheus metrics',
          responses: { 200: { description: 'Prometheus text format.' } },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'Authorization: ApiKey <key>',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { enum: Object.keys(ERROR_CATALOGUE) },
                message: { type: 'string' },
              },
            },
          },
        },
      },
    },
  };
}
