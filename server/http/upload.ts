/**
 * Reading the uploaded photo: the raw request body with an `image/*` Content-Type, or the file
 * field `image` of a `multipart/form-data` form. Size is capped while reading, so an oversized
 * upload is refused without being held in memory.
 */
import Busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
import { appError } from '../errors';

/** The multipart field that carries the photo. */
export const UPLOAD_FIELD = 'image';

/** Reads the photo from the request; throws coded errors for anything else. */
export async function readUpload(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  refuseDeclaredOversize(req, maxBytes);
  refuseEncoding(req);

  if (type === 'multipart/form-data') return readMultipart(req, maxBytes);
  if (type.startsWith('image/')) {
    refuseSvg(type);
    return requireContent(await readRaw(req, maxBytes));
  }
  throw appError(
    'unsupported_media_type',
    'Send the photo as the request body with an image/* Content-Type, or as the file field ' +
      `"${UPLOAD_FIELD}" of a multipart/form-data form.`,
  );
}

function refuseDeclaredOversize(req: IncomingMessage, maxBytes: number): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
}

/** Photos are sent as they are: a compressed body would only hide its real size. */
function refuseEncoding(req: IncomingMessage): void {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '') {
    throw appError(
      'unsupported_media_type',
      `Content-Encoding "${encoding}" is not accepted: send the photo as it is.`,
    );
  }
}

function refuseSvg(type: string): void {
  if (type === 'image/svg+xml') {
    throw appError('unsupported_media_type', 'SVG is not accepted: send a photo.');
  }
}

function requireContent(body: Buffer): Buffer {
  if (body.length === 0) throw appError('bad_request', 'The request carries no image.');
  return body;
}

function tooLarge(maxBytes: number) {
  return appError('payload_too_large', `The upload is larger than ${maxBytes} bytes.`);
}

async function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  try {
    return await getRawBody(req, { limit: maxBytes });
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw tooLarge(maxBytes);
    throw appError('bad_request', 'The request body could not be read.', {}, { cause: err });
  }
}

/** Multipart limits: a photo, a few small fields, nothing more. */
const MULTIPART_LIMITS = { files: 4, fields: 20, parts: 24, fieldSize: 64 * 1024 };

function readMultipart(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let busboy: Busboy.Busboy;
    try {
      busboy = Busboy({
        headers: req.headers,
        limits: { ...MULTIPART_LIMITS, fileSize: maxBytes },
      });
    } catch (err) {
      reject(malformed(err));
      return;
    }

    let image: Buffer | null = null;
    let failure: Error | null = null;
    // Settle at the first failure and drain the rest of the upload unread, so the client
    // gets its answer and the connection stays usable. Nothing here may throw: these are
    // event handlers, and a throw would take the process down.
    const fail = (err: Error) => {
      failure ??= err;
      req.unpipe(busboy);
      req.resume();
      reject(failure);
    };
    const overLimit = (what: string) => () =>
      fail(appError('bad_request', `The multipart form has too many ${what}.`));

    busboy.on('file', (name, stream, info) => {
      stream.on('error', (err: Error) => fail(malformed(err)));
      if (name !== UPLOAD_FIELD || failure || image) {
        stream.resume();
        return;
      }
      if (info.mimeType.toLowerCase() === 'image/svg+xml') {
        fail(appError('unsupported_media_type', 'SVG is not accepted: send a photo.'));
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => fail(tooLarge(maxBytes)));
      stream.on('end', () => {
        if (!failure) image = Buffer.concat(chunks);
      });
    });
    busboy.on('filesLimit', overLimit('files'));
    busboy.on('fieldsLimit', overLimit('fields'));
    busboy.on('partsLimit', overLimit('parts'));
    busboy.on('error', (err: Error) => fail(malformed(err)));
    busboy.on('close', () => {
      if (failure) return;
      if (!image) {
        return reject(appError('bad_request', `The form has no file field "${UPLOAD_FIELD}".`));
      }
      if (image.length === 0)
        return reject(appError('bad_request', 'The request carries no image.'));
      resolve(image);
    });
    req.on('aborted', () => fail(appError('bad_request', 'The upload was aborted.')));
    req.pipe(busboy);
  });
}

function malformed(cause: unknown) {
  return appError('bad_request', 'The multipart form is malformed.', {}, { cause });
}
