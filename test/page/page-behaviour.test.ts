import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { PATHS } from '../../server/contract';
import { launchBrowser, saveScreenshot, type TestBrowser } from './browser';
import { dogIdentification, notPetIdentification, startStubApi, type StubApi } from './stub-api';
import { isBlue, isRed, plainBmp, plainPng, sidewaysJpeg } from './test-images';

/** Chooses a file through the photo input and waits until the page has an outcome. */
async function upload(page: Page, name: string, mimeType: string, buffer: Buffer): Promise<void> {
  await page.evaluate(() => {
    delete document.body.dataset.state;
  });
  await page.setInputFiles('#photo-input', { name, mimeType, buffer });
  await page.waitForFunction(() =>
    ['answered', 'failed'].includes(document.body.dataset.state ?? ''),
  );
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? '').trim();
}

/** Reads one pixel of the preview canvas, at fractions of its width and height. */
async function previewPixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.evaluate(
    ([fx, fy]) => {
      const canvas = document.getElementById('preview') as HTMLCanvasElement;
      const context = canvas.getContext('2d')!;
      const px = Math.floor(canvas.width * fx!);
      const py = Math.floor(canvas.height * fy!);
      return Array.from(context.getImageData(px, py, 1, 1).data);
    },
    [x, y],
  );
}

describe('try-it page (Chromium, stub API)', function () {
  this.timeout(60_000);
  let browser: TestBrowser;
  let stub: StubApi;
  let page: Page & { consoleErrors: string[] };
  let smallPhoto: Buffer;

  before(async () => {
    [browser, stub, smallPhoto] = await Promise.all([
      launchBrowser(),
      startStubApi(),
      plainPng(300, 200),
    ]);
  });
  after(async () => {
    await browser?.close();
    await stub?.close();
  });
  beforeEach(async () => {
    stub.uploads.length = 0;
    stub.reply = { status: 200, body: dogIdentification() };
    page = await browser.newPage();
    await page.goto(stub.url + PATHS.page);
  });
  afterEach(async () => {
    await page.close();
  });

  it('shows the breed, species, a bar per prediction, the model and the time', async () => {
    await upload(page, 'dog.png', 'image/png', smallPhoto);

    assert.equal(await text(page, '#verdict'), 'Dog: Samoyed');
    assert.equal(await text(page, '#verdict-detail'), 'Confidence 87.3%.');
    assert.equal(await text(page, '#status'), 'Answer: Dog: Samoyed. Confidence 87.3%.');
    const items = await page.locator('#predictions li').allTextContents();
    assert.equal(items.length, 5);
    assert.match(items[0]!, /Samoyed.*dog.*87\.3%/);
    assert.match(items[2]!, /white wolf.*not a cat or dog.*3\.2%/);
    assert.match(items[4]!, /Great Pyrenees.*dog.*< 0\.1%/);
    const widths = await page
      .locator('#predictions .bar-fill')
      .evaluateAll((bars) => bars.map((bar) => (bar as HTMLElement).style.width));
    assert.deepEqual(widths.slice(0, 2), ['87.3%', '6.1%']);
    assert.equal(await text(page, '#answer-model'), 'stub-model 9.8.7');
    assert.match(await text(page, '#answer-time'), /^37 ms on the server \(decoding 4 ms/);
    assert.match(await text(page, '#model-info'), /stub-model 9\.8\.7 \(cpu, 2 labels\)/);
    assert.deepEqual(page.consoleErrors, []);
    await saveScreenshot(page, 'stub-dog-answer');
  });

  it('sends a small photo untouched, with its own type, asking for the top 5', async () => {
    await upload(page, 'dog.png', 'image/png', smallPhoto);

    assert.equal(stub.uploads.length, 1);
    const [received] = stub.uploads;
    assert.equal(received!.contentType, 'image/png');
    assert.equal(received!.query.top, '5');
    assert.ok(received!.body.equals(smallPhoto), 'the bytes sent are the file chosen');
    assert.equal(received!.authorization, undefined);
    assert.doesNotMatch(await text(page, '#preview-caption'), /smaller/);
  });

  it('makes a large photo smaller before upload and says so', async () => {
    const large = await plainPng(3000, 2000);
    await upload(page, 'large.png', 'image/png', large);

    const received = stub.uploads[0]!;
    assert.equal(received.contentType, 'image/jpeg');
    const sent = await sharp(received.body).metadata();
    assert.deepEqual([sent.format, sent.width, sent.height], ['jpeg', 1024, 683]);
    const caption = await text(page, '#preview-caption');
    assert.match(caption, /3000 × 2000 px/);
    assert.match(caption, /Made smaller in your browser before sending: 1024 × 683 px/);
    assert.equal(await text(page, '#verdict'), 'Dog: Samoyed');
  });

  it('shows a sideways-stored photo upright, and uploads it upright when resized', async () => {
    await upload(page, 'small-sideways.jpg', 'image/jpeg', await sidewaysJpeg(400, 200));
    const size = await page.$eval('#preview', (c) => [
      (c as HTMLCanvasElement).width,
      (c as HTMLCanvasElement).height,
    ]);
    assert.ok(size[0]! < size[1]!, `preview is portrait, got ${size.join('x')}`);
    assert.ok(isRed(await previewPixel(page, 0.5, 0.1)), 'red half on top');
    assert.ok(isBlue(await previewPixel(page, 0.5, 0.9)), 'blue half at the bottom');
    assert.match(await text(page, '#preview-caption'), /200 × 400 px/);

    await upload(page, 'large-sideways.jpg', 'image/jpeg', await sidewaysJpeg(2400, 1200));
    const sent = stub.uploads[1]!.body;
    const { width, height, orientation } = await sharp(sent).metadata();
    assert.deepEqual([width, height, orientation], [512, 1024, undefined]);
    const top = await sharp(sent).extract({ left: 256, top: 100, width: 1, height: 1 }).raw();
    const bottom = await sharp(sent).extract({ left: 256, top: 900, width: 1, height: 1 }).raw();
    assert.ok(isRed([...(await top.toBuffer())]), 'uploaded red half on top');
    assert.ok(isBlue([...(await bottom.toBuffer())]), 'uploaded blue half at the bottom');
  });

  it('converts a type the server refuses but the browser reads (BMP) to JPEG', async () => {
    await upload(page, 'old.bmp', 'image/bmp', plainBmp(120, 80));

    const received = stub.uploads[0]!;
    assert.equal(received.contentType, 'image/jpeg');
    const sent = await sharp(received.body).metadata();
    assert.deepEqual([sent.format, sent.width, sent.height], ['jpeg', 120, 80]);
    assert.match(await text(page, '#preview-caption'), /Converted to JPEG in your browser/);
  });

  it('says plainly when the photo shows no cat or dog', async () => {
    stub.reply = { status: 200, body: notPetIdentification() };
    await upload(page, 'car.png', 'image/png', smallPhoto);

    assert.equal(await text(page, '#verdict'), 'Not a cat or a dog');
    assert.match(await text(page, '#verdict-detail'), /best guess: sports car \(71\.0%\)/);
    assert.equal(await page.locator('#answer.not-pet').count(), 1);
    await saveScreenshot(page, 'stub-not-a-pet');
  });

  it('shows every API error in plain words', async () => {
    const cases: Array<[number, string, string, Record<string, string>?]> = [
      [400, 'bad_request', 'The server did not understand the request.'],
      [401, 'unauthorized', 'Sign-in needed.'],
      [403, 'forbidden', 'This API key or token is not allowed to identify photos.'],
      [413, 'payload_too_large', 'The photo is too large.'],
      [415, 'unsupported_media_type', 'This type of file is not supported.'],
      [422, 'undecodable_image', 'This file is not an image the server can read.'],
      [422, 'too_many_pixels', 'The photo has too many pixels.'],
      [429, 'rate_limited', 'Too many photos in a short time.', { 'Retry-After': '7' }],
      [503, 'queue_full', 'The server is busy.', { 'Retry-After': '2' }],
      [503, 'not_ready', 'The server is not ready yet: the model is still loading.'],
      [500, 'internal', 'Something went wrong on the server.'],
    ];
    for (const [status, code, expected, headers] of cases) {
      const message = `message for ${code}`;
      stub.reply = { status, body: { error: { code, message } }, headers };
      await upload(page, 'x.png', 'image/png', smallPhoto);
      assert.equal(await text(page, '#error-title'), expected, code);
      const technical = await text(page, '#error-technical');
      assert.equal(technical, `Server's answer: HTTP ${status} ${code}: ${message}`);
      if (headers) {
        const advice = await text(page, '#error-detail');
        assert.equal(advice, `Try again in ${headers['Retry-After']} seconds.`);
      }
      assert.equal(await page.isVisible('#answer'), false, `${code}: no stale answer shown`);
      if (code === 'queue_full') await saveScreenshot(page, 'stub-error-server-busy');
    }
  });

  it('falls back on the status when the error body is not JSON', async () => {
    stub.reply = { status: 413, body: '<html>Request Entity Too Large</html>' };
    await upload(page, 'x.png', 'image/png', smallPhoto);
    assert.equal(await text(page, '#error-title'), 'The photo is too large.');
  });

  it('says when the server cannot be reached', async () => {
    stub.reply = { status: 0, body: null, hangUp: true };
    await upload(page, 'x.png', 'image/png', smallPhoto);
    assert.equal(await text(page, '#error-title'), 'Could not reach the server.');
  });

  it('sends a file the browser cannot read as it is and shows the server error', async () => {
    const notes = Buffer.from('shopping list: kibble, treats\n');
    stub.reply = {
      status: 415,
      body: { error: { code: 'unsupported_media_type', message: 'Unsupported image type.' } },
    };
    await upload(page, 'notes.txt', 'text/plain', notes);

    assert.ok(stub.uploads[0]!.body.equals(notes));
    assert.equal(stub.uploads[0]!.contentType, 'text/plain');
    assert.match(await text(page, '#preview-caption'), /your browser cannot show this file/);
    assert.equal(await text(page, '#error-title'), 'This type of file is not supported.');
  });

  it('sends the credential with the scheme that matches its shape', async () => {
    await page.click('summary');
    await page.fill('#token-input', 'key-123');
    await upload(page, 'x.png', 'image/png', smallPhoto);
    await page.fill('#token-input', 'aaa.bbb.ccc');
    await upload(page, 'x.png', 'image/png', smallPhoto);
    const sent = stub.uploads.map((received) => received.authorization);
    assert.deepEqual(sent, ['ApiKey key-123', 'Bearer aaa.bbb.ccc']);
  });

  it('says when the model description needs sign-in', async () => {
    stub.models = { status: 401, body: { error: { code: 'unauthorized', message: 'no' } } };
    try {
      await page.reload();
      await page.waitForFunction(
        () => !/loading/.test(document.getElementById('model-info')!.textContent!),
      );
      assert.equal(await text(page, '#model-info'), 'Model: sign-in needed to see it.');
    } finally {
      stub.models = {
        status: 200,
        body: { name: 'stub-model', version: '9.8.7', backend: 'cpu', labels: ['a', 'b'] },
      };
    }
  });

  it('takes a photo dropped on the page', async () => {
    const dataTransfer = await page.evaluateHandle(
      (bytes) => {
        const transfer = new DataTransfer();
        const file = new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' });
        transfer.items.add(file);
        return transfer;
      },
      [...smallPhoto],
    );
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
    await page.waitForFunction(() => document.body.dataset.state === 'answered');
    assert.ok(stub.uploads[0]!.body.equals(smallPhoto));
  });

  it('can be used with the keyboard, with a visible focus ring', async () => {
    // Asked for first: turning on file-chooser interception takes a moment in the browser.
    const chooser = page.waitForEvent('filechooser');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'photo-input');
    const ring = await page.$eval('label[for="photo-input"]', (label) => {
      const style = getComputedStyle(label);
      return `${style.outlineStyle} ${style.outlineWidth}`;
    });
    assert.equal(ring, 'solid 3px');
    await page.keyboard.press('Enter');
    const fileChooser = await chooser;
    await fileChooser.setFiles({ name: 'k.png', mimeType: 'image/png', buffer: smallPhoto });
    await page.waitForFunction(() => document.body.dataset.state === 'answered');
    assert.equal(stub.uploads.length, 1);
  });

  it('labels every control and offers the camera on phones', async () => {
    const unlabelled = await page.$$eval('input', (inputs) =>
      inputs.filter((input) => (input as HTMLInputElement).labels?.length === 0).map((i) => i.id),
    );
    assert.deepEqual(unlabelled, []);
    assert.equal(await page.getAttribute('#photo-input', 'accept'), 'image/*');
    assert.equal(await page.getAttribute('#camera-input', 'accept'), 'image/*');
    assert.equal(await page.getAttribute('#camera-input', 'capture'), 'environment');
  });

  it('links the API description and the metrics by their contract paths', async () => {
    const links = await page.$$eval('nav a', (anchors) =>
      anchors.map((a) => a.getAttribute('href')),
    );
    assert.deepEqual(links, ['/docs', PATHS.metrics]);
  });

  it('keeps text contrast at 4.5:1 or more', async () => {
    await upload(page, 'x.png', 'image/png', smallPhoto);
    const ratios = await page.evaluate(contrastOfTextElements);
    const poor = ratios.filter(([, ratio]) => ratio < 4.5);
    assert.ok(ratios.length > 10, `measured ${ratios.length} elements`);
    assert.deepEqual(poor, []);
  });

  it('fits a 360 px wide screen without sideways scrolling', async () => {
    const narrow = await browser.newPage(360);
    try {
      await narrow.goto(stub.url + PATHS.page);
      await upload(narrow, 'a-photo-with-a-rather-long-file-name.png', 'image/png', smallPhoto);
      const scrollWidth = await narrow.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(scrollWidth <= 360, `page is ${scrollWidth} px wide`);
      await saveScreenshot(narrow, 'stub-narrow-360');
    } finally {
      await narrow.close();
    }
  });
});

describe('API description page (Chromium, stub API)', function () {
  this.timeout(60_000);
  let browser: TestBrowser;
  let stub: StubApi;
  before(async () => {
    [browser, stub] = await Promise.all([launchBrowser(), startStubApi()]);
  });
  after(async () => {
    await browser?.close();
    await stub?.close();
  });

  it('renders operations, parameters, responses and shapes from /openapi.json', async () => {
    const page = await browser.newPage();
    await page.goto(`${stub.url}/docs`);
    await page.waitForSelector('#api h2');

    assert.equal(await text(page, '#api-title'), 'Stub breed API');
    assert.equal(await text(page, '#api-version'), 'Version 4.5.6 · OpenAPI 3.1.0');
    const operations = await page.locator('.operation h3').allTextContents();
    assert.deepEqual(operations, [`post${PATHS.identify}`, `get${PATHS.models}`]);
    const parameterRow = await page.locator('.operation table tbody tr').first().textContent();
    assert.equal(
      parameterRow,
      'topquerynointeger; at least 1; at most 20; default 5How many predictions.',
    );
    assert.ok(await page.isVisible('a[href="#schema-Identification"]'));
    assert.match(await text(page, '#schema-Identification + div'), /breedstring or null/);
    assert.match(await text(page, '#api'), /Needs: bearer\./);
    assert.deepEqual(page.consoleErrors, []);
    await saveScreenshot(page, 'stub-docs');
    await page.close();
  });
});

/** Runs in the page: the contrast ratio of each visible element that holds text. */
function contrastOfTextElements(): Array<[string, number]> {
  const channels = (color: string): number[] => (color.match(/[\d.]+/g) ?? []).map(Number);
  const luminance = (color: string): number => {
    const [r, g, b] = channels(color).map((value) => {
      const c = value / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const background = (element: Element | null): string => {
    for (let node = element; node; node = node.parentElement) {
      const color = getComputedStyle(node).backgroundColor;
      if ((channels(color)[3] ?? 1) > 0) return color;
    }
    return 'rgb(255, 255, 255)';
  };
  const results: Array<[string, number]> = [];
  for (const element of Array.from(document.querySelectorAll('body *'))) {
    const own = Array.from(element.childNodes).some(
      (n) => n.nodeType === 3 && n.textContent!.trim(),
    );
    if (!own || !(element as HTMLElement).offsetParent) continue;
    const a = luminance(getComputedStyle(element).color);
    const b = luminance(background(element));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    results.push([`${element.tagName}.${element.className}#${element.id}`, ratio]);
  }
  return results;
}
