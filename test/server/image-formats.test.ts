/**
 * Every accepted format and colour model, made here from one real photo with sharp: each must
 * decode to (nearly) the same input and so give the upright photo's answer. The EXIF cases
 * store the pixels turned as a camera would and rely on the orientation tag to stand them up.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../../server/inference/preprocess';
import { readMetadata } from '../../server/model/metadata';
import { identify, startApp, type TestServer } from '../support/server-harness';
import { PETS_DIR, SAMPLE_METADATA } from '../support/shared-data';

const PHOTO = path.join(PETS_DIR, 'imagenet-samples', 'n02088364_beagle.JPEG');

interface Answer {
  breed: string | null;
  species: string | null;
  predictions: { label: string; confidence: number }[];
}

/** Stored pixels for each EXIF orientation: the inverse of what a viewer applies. */
const STORED_FOR_ORIENTATION: Record<number, (img: sharp.Sharp) => sharp.Sharp> = {
  1: (img) => img,
  2: (img) => img.flop(),
  3: (img) => img.rotate(180),
  4: (img) => img.flip(),
  5: (img) => img.rotate(270).flop(),
  6: (img) => img.rotate(270),
  7: (img) => img.rotate(90).flop(),
  8: (img) => img.rotate(90),
};

async function orientedJpeg(upright: Buffer, orientation: number): Promise<Buffer> {
  const turn = STORED_FOR_ORIENTATION[orientation] as (img: sharp.Sharp) => sharp.Sharp;
  const stored = await turn(sharp(upright)).toBuffer();
  return sharp(stored).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

describe('image formats and colour models', function () {
  this.timeout(180_000);
  let server: TestServer;
  let upright: Buffer;
  let reference: Answer;

  const ask = async (body: Buffer, type: string): Promise<Answer> => {
    const res = await identify(server.url, body, type);
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Answer;
  };

  const assertSameAnswer = (answer: Answer, what: string) => {
    assert.equal(answer.breed, reference.breed, `${what}: breed`);
    assert.equal(answer.predictions[0]?.label, reference.predictions[0]?.label, what);
  };

  before(async () => {
    server = await startApp();
    upright = await sharp(await readFile(PHOTO))
      .jpeg({ quality: 95 })
      .toBuffer();
    reference = await ask(upright, 'image/jpeg');
    assert.equal(reference.breed, 'Beagle');
  });

  after(() => server.close());

  for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`stands up a photo stored with EXIF orientation ${orientation}`, async () => {
      const meta = await readMetadata(SAMPLE_METADATA);
      const limits = { maxInputPixels: 50_000_000 };
      const file = await orientedJpeg(upright, orientation);
      assert.equal((await sharp(file).metadata()).orientation, orientation);

      const turned = await decodeImage(file, meta, limits);
      const straight = await decodeImage(upright, meta, limits);
      assert.ok(meanAbsDiff(turned.input, straight.input) < 0.05, 'pixels match the upright photo');
      assertSameAnswer(await ask(file, 'image/jpeg'), `orientation ${orientation}`);
    });
  }

  const variants: [string, string, (img: sharp.Sharp) => Promise<Buffer>][] = [
    ['PNG', 'image/png', (img) => img.png().toBuffer()],
    ['WebP', 'image/webp', (img) => img.webp({ quality: 95 }).toBuffer()],
    ['AVIF', 'image/avif', (img) => img.avif({ quality: 80 }).toBuffer()],
    ['TIFF', 'image/tiff', (img) => img.tiff().toBuffer()],
    ['GIF', 'image/gif', (img) => img.gif().toBuffer()],
    [
      'CMYK JPEG',
      'image/jpeg',
      (img) => img.toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer(),
    ],
    ['16-bit PNG', 'image/png', (img) => img.toColourspace('rgb16').png().toBuffer()],
    ['PNG with alpha', 'image/png', (img) => img.ensureAlpha(1).png().toBuffer()],
  ];

  for (const [name, type, encode] of variants) {
    it(`identifies the photo as ${name}`, async () => {
      const file = await encode(sharp(upright));
      assertSameAnswer(await ask(file, type), name);
    });
  }

  it('checks that the CMYK and 16-bit variants really are what they claim', async () => {
    const cmyk = await sharp(upright).toColourspace('cmyk').jpeg().toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const deep = await sharp(upright).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  });

  it('reads a grayscale photo as RGB: a generated one and a real one', async () => {
    const gray = await sharp(upright).toColourspace('b-w').jpeg().toBuffer();
    assert.equal((await sharp(gray).metadata()).channels, 1);
    assert.equal((await ask(gray, 'image/jpeg')).species, 'dog');

    const airedale = await readFile(
      path.join(PETS_DIR, 'imagenet-samples', 'n02096051_Airedale.JPEG'),
    );
    assert.equal((await sharp(airedale).metadata()).channels, 1);
    assert.equal((await ask(airedale, 'image/jpeg')).breed, 'Airedale Terrier');
  });

  it('flattens a transparent background onto white, not black', async () => {
    const meta = await readMetadata(SAMPLE_METADATA);
    const clear = await sharp({
      create: { width: 64, height: 64, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const decoded = await decodeImage(clear, meta, { maxInputPixels: 1e6 });
    assert.ok(
      decoded.input.every((v) => v > 0.99),
      'transparent pixels become white (+1)',
    );
  });

  it('uses the first frame of an animated GIF', async () => {
    const frame = (r: number) =>
      sharp({ create: { width: 120, height: 120, channels: 3, background: { r, g: 0, b: 0 } } })
        .png()
        .toBuffer();
    const dog = await sharp(upright).resize(120, 120).png().toBuffer();
    const animated = await sharp([dog, await frame(255), await frame(0)], {
      join: { animated: true },
    })
      .gif()
      .toBuffer();
    assert.equal((await sharp(animated).metadata()).pages, 3);
    const answer = await ask(animated, 'image/gif');
    assert.equal(answer.species, 'dog');
  });
});
