/**
 * Photos made up for the page-behaviour tests, with properties a test can check afterwards:
 * a size, or halves of known colours whose place shows which way up the photo was drawn.
 */
import sharp from 'sharp';

const RED = { r: 220, g: 20, b: 20 };
const BLUE = { r: 20, g: 40, b: 220 };

/** A PNG of one colour. */
export function plainPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 90, g: 140, b: 60 } } })
    .png()
    .toBuffer();
}

/**
 * A JPEG stored `width` x `height` with its left half red and right half blue, and the EXIF
 * orientation 6 ("rotate 90 degrees clockwise to display"): shown upright it is `height` wide
 * and `width` tall, red on top.
 */
export function sidewaysJpeg(width: number, height: number): Promise<Buffer> {
  const half = Math.floor(width / 2);
  return sharp({ create: { width, height, channels: 3, background: RED } })
    .composite([
      {
        input: { create: { width: width - half, height, channels: 3, background: BLUE } },
        left: half,
        top: 0,
      },
    ])
    .jpeg({ quality: 90 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

/** True when a pixel is clearly the red of {@link sidewaysJpeg}. */
export function isRed([r, g, b]: readonly number[]): boolean {
  return (r ?? 0) > 150 && (g ?? 255) < 90 && (b ?? 255) < 90;
}

/** True when a pixel is clearly the blue of {@link sidewaysJpeg}. */
export function isBlue([r, g, b]: readonly number[]): boolean {
  return (b ?? 0) > 150 && (r ?? 255) < 90 && (g ?? 255) < 110;
}

/**
 * A 24-bit BMP of one colour, written by hand: sharp cannot write BMP, and BMP is a type the
 * browser reads but the server refuses, which is the case the page converts.
 */
export function plainBmp(width: number, height: number): Buffer {
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  const pixelBytes = rowBytes * height;
  const file = Buffer.alloc(54 + pixelBytes);
  file.write('BM', 0, 'ascii');
  file.writeUInt32LE(file.length, 2);
  file.writeUInt32LE(54, 10); // offset of the pixels
  file.writeUInt32LE(40, 14); // BITMAPINFOHEADER
  file.writeInt32LE(width, 18);
  file.writeInt32LE(height, 22);
  file.writeUInt16LE(1, 26); // planes
  file.writeUInt16LE(24, 28); // bits per pixel
  file.writeUInt32LE(pixelBytes, 34);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      // Blue, green, red: a mid green.
      file.set([60, 140, 90], 54 + y * rowBytes + x * 3);
    }
  }
  return file;
}
