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
