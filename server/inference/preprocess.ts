/**
 * Turning an uploaded photo into the model's input with sharp: decode, stand the photo upright
 * (EXIF orientation), bring every colour model to 8-bit sRGB, flatten transparency onto white,
 * resize as the model's metadata says, then scale pixels into the model's range.
 */
import sharp from 'sharp';
import { appError } from '../errors';
import type { ModelMetadata } from '../model/metadata';

/** Formats we accept, as sharp names them. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'heif', 'tiff']);

// One libvips thread per image: requests already run in parallel on the libuv pool, and the
// model needs the cores too.
sharp.concurrency(1);
sharp.cache(false);

/** A photo turned into model input. */
export interface DecodedImage {
  /** NHWC values for one image, already normalised. */
  input: Float32Array;
  /** Size of the photo as uploaded, before resizing. */
  width: number;
  height: number;
  format: string;
  decodeMs: number;
}

/** Limits on what is decoded. */
export interface DecodeLimits {
  /** Largest width x height accepted, to stop decompression bombs before decoding. */
  maxInputPixels: number;
}

/**
 * Decodes one photo. Throws `unsupported_media_type` for anything but JPEG, PNG, WebP, GIF
 * (first frame), AVIF and TIFF, `too_many_pixels` past the limit, and `undecodable_image` for
 * a broken file of a supported type.
 */
export async function decodeImage(
  data: Buffer,
  meta: ModelMetadata,
  limits: DecodeLimits,
): Promise<DecodedImage> {
  const started = performance.now();
  if (data.length === 0) throw appError('undecodable_image', 'The image is empty.');

  const info = await probe(data);
  checkFormat(info);
  const { width = 0, height = 0 } = info;
  if (width * height > limits.maxInputPixels) {
    throw appError(
      'too_many_pixels',
      `The image has ${width}x${height} pixels; the limit is ${limits.maxInputPixels} pixels.`,
    );
  }

  const pixels = await render(data, meta, limits);
  const input = normalise(pixels, meta);
  return { input, width, height, format: info.format ?? 'unknown', decodeMs: elapsed(started) };
}

async function probe(data: Buffer): Promise<sharp.Metadata> {
  try {
    // Reading the header decodes no pixels: the limit is ours to apply, next, with a clear code.
    return await sharp(data, { limitInputPixels: false }).metadata();
  } catch (err) {
    // A file that starts like a format we take but whose header is broken is a damaged photo
    // (422); anything else is not a photo we take at all (415).
    if (looksLikeAcceptedFormat(data))
      throw appError('undecodable_image', undefined, {}, { cause: err });
    throw appError('unsupported_media_type');
  }
}

/** Signatures of the accepted formats, by their first bytes. */
const SIGNATURES: readonly ((b: Buffer) => boolean)[] = [
  (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff, // JPEG
  (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  (b) => b.subarray(0, 4).toString('latin1') === 'GIF8',
  (b) =>
    b.subarray(0, 4).toString('latin1') === 'RIFF' &&
    b.subarray(8, 12).toString('latin1') === 'WEBP',
  (b) => ['II*\0', 'MM\0*'].includes(b.subarray(0, 4).toString('latin1')), // TIFF
  (b) => b.subarray(4, 12).toString('latin1').startsWith('ftypavi'), // AVIF
];

function looksLikeAcceptedFormat(data: Buffer): boolean {
  return SIGNATURES.some((matches) => matches(data));
}

function checkFormat(info: sharp.Metadata): void {
  const format = info.format ?? '';
  if (!ACCEPTED_FORMATS.has(format)) throw appError('unsupported_media_type');
  // HEIF is accepted only as AVIF (AV1); HEIC (HEVC) needs a codec the image does not ship.
  if (format === 'heif' && info.compression !== 'av1') throw appError('unsupported_media_type');
}

async function render(data: Buffer, meta: ModelMetadata, limits: DecodeLimits): Promise<Buffer> {
  const { width, height } = meta.input;
  try {
    const { data: pixels, info } = await sharp(data, {
      limitInputPixels: limits.maxInputPixels,
      failOn: 'truncated',
    })
      .rotate()
      .toColourspace('srgb')
      .flatten({ background: '#ffffff' })
      .resize(width, height, { fit: meta.resize, position: 'centre', background: '#000000' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || pixels.length !== width * height * 3) {
      throw new Error(`decoded to ${info.channels} channels, ${pixels.length} bytes`);
    }
    return pixels;
  } catch (err) {
    throw appError('undecodable_image', undefined, {}, { cause: err });
  }
}

function normalise(pixels: Buffer, meta: ModelMetadata): Float32Array {
  const { scale, offset } = meta.normalization;
  const input = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) input[i] = (pixels[i] as number) * scale + offset;
  return input;
}

function elapsed(since: number): number {
  return performance.now() - since;
}
