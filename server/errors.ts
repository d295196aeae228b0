/**
 * The catalogue of errors the service answers with. Every error a client can see has a code,
 * an HTTP status and a fixed message; only errors marked `expose` show their message to the
 * client, the rest answer with the generic `internal` message and are logged in full.
 */

/** Every error code the API can answer with, with its status and default message. */
export const ERROR_CATALOGUE = Object.freeze({
  bad_request: { status: 400, message: 'The request is malformed.' },
  unauthorized: { status: 401, message: 'Credentials are missing or not valid.' },
  forbidden: { status: 403, message: 'These credentials do not allow this request.' },
  not_found: { status: 404, message: 'No such resource.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed on this path.' },
  payload_too_large: { status: 413, message: 'The upload is larger than the limit.' },
  unsupported_media_type: {
    status: 415,
    message: 'Unsupported image type: send JPEG, PNG, WebP, GIF, AVIF or TIFF.',
  },
  undecodable_image: { status: 422, message: 'The image could not be decoded.' },
  too_many_pixels: { status: 422, message: 'The image has more pixels than the limit.' },
  rate_limited: { status: 429, message: 'Too many requests from this caller; retry later.' },
  queue_full: { status: 503, message: 'The server is busy; retry later.' },
  not_ready: { status: 503, message: 'The model is not loaded yet, or the server is stopping.' },
  internal: { status: 500, message: 'Internal error.' },
} as const);

/** A code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** An error with a code from the catalogue; thrown by the core, answered by the HTTP layer. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    message?: string,
    headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message ?? ERROR_CATALOGUE[code].message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.expose = this.status < 500 || code === 'queue_full' || code === 'not_ready';
    this.headers = Object.freeze({ ...headers });
  }
}

/** Shorthand for `new AppError(...)`. */
export function appError(
  code: ErrorCode,
  message?: string,
  headers?: Record<string, string>,
  options?: { cause?: unknown },
): AppError {
  return new AppError(code, message, headers, options);
}

/** The JSON body of an error response, as every part of the API answers it. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** Maps any thrown value to the status, headers and body a client may see. */
export function toErrorResponse(err: unknown): {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: ErrorBody;
} {
  if (err instanceof AppError && err.expose) {
    return {
      status: err.status,
      headers: err.headers,
      body: { error: { code: err.code, message: err.message } },
    };
  }
  return {
    status: 500,
    headers: {},
    body: { error: { code: 'internal', message: ERROR_CATALOGUE.internal.message } },
  };
}
