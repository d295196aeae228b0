/**
 * Every way an upload can be wrong, generated here from real photos: each gets its coded JSON
 * error and status, never a 500, and the server keeps answering afterwards.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { deflateSync, gzipSync } from 'node:zlib';
import { identify, startApp, type TestServer } from '../support/server-harness';
import { PETS_DIR } from '../support/shared-data';

const PHOTO = path.join(PETS_DIR, 'imagenet-samples', 'n02088364_beagle.JPEG');

/** A PNG whose header claims `width` x `height` pixels, with one row of real data. */
function bombPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = deflateSync(Buffer.alloc(width * 3 + 1));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', row),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  const body = (await res.json()) as { error?: { code?: string; message?: string } };
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error?.code, code);
  assert.ok(body.error?.message && body.error.message.length > 10, 'a readable message');
}

describe('POST /v1/identify with bad uploads', function () {
  this.timeout(120_000);
  let server: TestServer;
  let photo: Buffer;

  before(async () => {
    server = await startApp({ MAX_BODY_BYTES: String(2 * 1024 * 1024) });
    photo = await readFile(PHOTO);
  });

  after(() => server.close());

  it('refuses an empty body with 400', async () => {
    await expectError(await identify(server.url, Buffer.alloc(0)), 400, 'bad_request');
  });

  it('refuses random bytes with 415', async () => {
    const noise = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251));
    await expectError(await identify(server.url, noise), 415, 'unsupported_media_type');
  });

  it('refuses a truncated JPEG with 422', async () => {
    const truncated = photo.subarray(0, Math.floor(photo.length / 3));
    await expectError(await identify(server.url, truncated), 422, 'undecodable_image');
  });

  it('refuses text sent with an image content type with 415', async () => {
    const res = await identify(server.url, 'this is not a photo of a dog\n'.repeat(20));
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('refuses SVG with 415, declared or sniffed', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>';
    await expectError(
      await identify(server.url, svg, 'image/svg+xml'),
      415,
      'unsupported_media_type',
    );
    await expectError(await identify(server.url, svg, 'image/png'), 415, 'unsupported_media_type');
  });

  it('refuses a 20000x20000 PNG with 422 before decoding it', async () => {
    const started = Date.now();
    const res = await identify(server.url, bombPng(20_000, 20_000), 'image/png');
    await expectError(res, 422, 'too_many_pixels');
    assert.ok(Date.now() - started < 5000, 'the pixel cap applies before decoding');
  });

  it('refuses a body over the limit with 413, declared or streamed', async () => {
    const big = Buffer.concat([photo, Buffer.alloc(3 * 1024 * 1024)]);
    await expectError(await identify(server.url, big), 413, 'payload_too_large');

    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(big)], { type: 'image/jpeg' }), 'big.jpg');
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: form });
    await expectError(res, 413, 'payload_too_large');
  });

  it('refuses a body that is not an image type with 415', async () => {
    const res = await identify(server.url, photo, 'application/octet-stream');
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('refuses a multipart form without the image field with 400', async () => {
    const form = new FormData();
    form.set('photo', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'dog.jpg');
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: form });
    await expectError(res, 400, 'bad_request');
  });

  it('refuses a malformed multipart body with 400', async () => {
    const res = await fetch(`${server.url}/v1/identify`, {
      method: 'POST',
      headers: { 'Content-Type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nContent-Disposition: form-data; name="image"\r\n\r\nabc',
    });
    assert.ok([400, 415, 422].includes(res.status), `status ${res.status}`);
  });

  it('refuses top outside 1-10 with 400', async () => {
    for (const top of ['0', '11', 'abc', '2.5']) {
      await expectError(
        await identify(server.url, photo, 'image/jpeg', `?top=${top}`),
        400,
        'bad_request',
      );
    }
  });

  it('answers unknown paths with a JSON 404 and wrong methods with 405', async () => {
    await expectError(await fetch(`${server.url}/nope`), 404, 'not_found');
    const wrongMethod = await fetch(`${server.url}/v1/identify`);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    await expectError(wrongMethod, 405, 'method_not_allowed');
  });

  it('refuses an empty file in the image field with 400, and keeps running', async () => {
    const form = new FormData();
    form.set('image', new Blob([], { type: 'image/jpeg' }), 'empty.jpg');
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: form });
    await expectError(res, 400, 'bad_request');
  });

  it('refuses a multipart body cut before its closing boundary with 400', async () => {
    const res = await fetch(`${server.url}/v1/identify`, {
      method: 'POST',
      headers: { 'Content-Type': 'multipart/form-data; boundary=a' },
      body:
        '--a\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n' +
        'Content-Type: image/jpeg\r\n\r\nhello',
    });
    await expectError(res, 400, 'bad_request');
  });

  it('finds the image field after other files and fields', async () => {
    const form = new FormData();
    form.set('note', 'my dog');
    form.set('other', new Blob([Buffer.from('abc')], { type: 'text/plain' }), 'a.txt');
    form.set('image', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'dog.jpg');
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: form });
    assert.equal(res.status, 200);
  });

  it('names the limit when a form has too many fields', async () => {
    const form = new FormData();
    for (let i = 0; i < 30; i++) form.set(`f${i}`, 'x');
    form.set('image', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'dog.jpg');
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: form });
    const body = (await res.json()) as { error: { message: string } };
    assert.equal(res.status, 400);
    assert.match(body.error.message, /too many fields/);
  });

  it('calls a photo whose header is cut short damaged (422), not unsupported', async () => {
    await expectError(await identify(server.url, photo.subarray(0, 300)), 422, 'undecodable_image');
    const webp = await sharp(photo).webp().toBuffer();
    await expectError(
      await identify(server.url, webp.subarray(0, 40), 'image/webp'),
      422,
      'undecodable_image',
    );
  });

  it('refuses a compressed body with 415 naming the encoding', async () => {
    const res = await fetch(`${server.url}/v1/identify`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/jpeg', 'Content-Encoding': 'gzip' },
      body: new Uint8Array(gzipSync(photo)),
    });
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('reads top with leading zeros, and refuses it given twice', async () => {
    const res = await identify(server.url, photo, 'image/jpeg', '?top=007');
    assert.equal(((await res.json()) as { predictions: unknown[] }).predictions.length, 7);
    const twice = await identify(server.url, photo, 'image/jpeg', '?top=1&top=2');
    await expectError(twice, 400, 'bad_request');
  });

  it('keeps answering real photos after all of the above', async () => {
    const res = await identify(server.url, photo);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { breed: string };
    assert.equal(body.breed, 'Beagle');
  });

  it('identifies the same photo sent as a multipart form', async () => {
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'dog.jpg');
    const res = await fetch(`${server.url}/v1/identify?top=3`, { method: 'POST', body: form });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { breed: string; predictions: unknown[] };
    assert.equal(body.breed, 'Beagle');
    assert.equal(body.predictions.length, 3);
  });
});
