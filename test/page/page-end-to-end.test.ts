import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { hashApiKey } from '../../server/auth/api-keys';
import { loadConfig } from '../../server/config';
import { PATHS } from '../../server/contract';
import { createApp } from '../../server/http/app';
import { createInferenceCore, type InferenceCore } from '../../server/inference/core';
import { createLogger } from '../../server/log';
import type { ModelMetadata } from '../../server/model/metadata';
import { listPetPhotos, type PetPhoto } from '../support/shared-data';
import { launchBrowser, saveScreenshot, type TestBrowser } from './browser';

/** Two real photos: a cat small enough to go as it is, a dog large enough to be resized. */
const CAT_PHOTO = 'oxford-iiit-pet/Siamese_17.jpg';
const LARGE_DOG_PHOTO = 'pytorch-hub/Samoyed_dog.jpg';

const API_KEY = 'page-end-to-end-test-key';

function photo(relative: string): PetPhoto {
  const found = listPetPhotos().find((candidate) => candidate.relative === relative);
  if (!found) throw new Error(`${relative} is not in pets/labels.csv`);
  return found;
}

/** The breed name the model's metadata gives the photo's labelled ImageNet class. */
function expectedBreed(metadata: ModelMetadata, pet: PetPhoto): string {
  const label = pet.imagenetIndex === null ? undefined : metadata.labels[pet.imagenetIndex];
  if (!label?.breed) throw new Error(`${pet.relative} has no breed in the model's labels`);
  return label.breed;
}

async function choose(
  page: Page,
  file: string | { name: string; mimeType: string; buffer: Buffer },
) {
  await page.evaluate(() => {
    delete document.body.dataset.state;
  });
  await page.setInputFiles('#photo-input', file);
  await page.waitForFunction(
    () => ['answered', 'failed'].includes(document.body.dataset.state ?? ''),
    undefined,
    { timeout: 30_000 },
  );
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? '').trim();
}

describe('try-it page end to end (Chromium, real server, sample model)', function () {
  this.timeout(180_000);
  let core: InferenceCore;
  let server: http.Server;
  let url: string;
  let browser: TestBrowser;
  let page: Page & { consoleErrors: string[] };

  before(async () => {
    const config = loadConfig({
      AUTH_API_KEY_HASHES: `page-test:${hashApiKey(API_KEY)}`,
      INFERENCE_WORKERS: '1',
      LOG_LEVEL: 'silent',
    });
    const logger = createLogger('silent');
    [core, browser] = await Promise.all([
      createInferenceCore({
        modelDir: config.modelDir,
        metadataPath: config.metadataPath,
        backend: config.backend,
        workers: config.workers,
        logger,
      }),
      launchBrowser(),
    ]);
    server = http.createServer(createApp({ config, logger, core }).callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    page = await browser.newPage();
    await page.goto(url + PATHS.page);
  });
  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await core?.close();
  });

  it('asks to sign in when no API key is given', async () => {
    const cat = photo(CAT_PHOTO);
    await page.waitForFunction(
      () => !/loading/.test(document.getElementById('model-info')!.textContent!),
    );
    assert.equal(await text(page, '#model-info'), 'Model: sign-in needed to see it.');

    await choose(page, cat.file);
    assert.equal(await text(page, '#error-title'), 'Sign-in needed.');
    assert.match(await text(page, '#error-technical'), /HTTP 401 unauthorized/);
    assert.ok(await page.isVisible('#token-input'), 'the credential field opens by itself');
    await saveScreenshot(page, 'real-sign-in-needed');
  });

  it('shows the breed of a real cat photo, sent as it is', async () => {
    const cat = photo(CAT_PHOTO);
    page.consoleErrors.length = 0; // the refusals of the previous test
    await page.fill('#token-input', API_KEY);
    await page.dispatchEvent('#token-input', 'change');
    await page.waitForFunction(() =>
      /labels\)$/.test(document.getElementById('model-info')!.textContent!),
    );
    const name = core.metadata.name;
    assert.equal(
      await text(page, '#model-info'),
      `Model: ${name} ${core.metadata.version} (${core.backend}, ${core.metadata.labels.length} labels)`,
    );

    await choose(page, cat.file);
    const breed = expectedBreed(core.metadata, cat);
    assert.equal(await text(page, '#verdict'), `Cat: ${breed}`);
    assert.equal(await page.locator('#predictions li').count(), 5);
    assert.equal(await text(page, '#answer-model'), `${name} ${core.metadata.version}`);
    assert.match(await text(page, '#answer-time'), /^\d+ ms on the server/);
    assert.doesNotMatch(await text(page, '#preview-caption'), /smaller/);
    assert.deepEqual(page.consoleErrors, []);
    await saveScreenshot(page, 'real-cat-answer');
  });

  it('resizes a large real dog photo in the browser and gets the same breed', async () => {
    const dog = photo(LARGE_DOG_PHOTO);
    const original = readFileSync(dog.file);
    const { width, height } = await sharp(original).metadata();
    assert.ok(Math.max(width!, height!) > 1024, 'the photo is large enough to be resized');

    await choose(page, dog.file);
    const breed = expectedBreed(core.metadata, dog);
    assert.equal(await text(page, '#verdict'), `Dog: ${breed}`);
    assert.match(await text(page, '#preview-caption'), /Made smaller in your browser/);
    const direct = await core.identify(original, { top: 1 });
    assert.equal(direct.breed, breed, 'the full-size photo gets the same answer');
    await saveScreenshot(page, 'real-dog-answer-resized');
  });

  it('says plainly that a photo without a pet is not a cat or a dog', async () => {
    const buffer = await sharp({
      create: { width: 320, height: 240, channels: 3, background: { r: 40, g: 110, b: 200 } },
    })
      .jpeg()
      .toBuffer();
    await choose(page, { name: 'blue-sky.jpg', mimeType: 'image/jpeg', buffer });
    assert.equal(await text(page, '#verdict'), 'Not a cat or a dog');
    await saveScreenshot(page, 'real-not-a-pet');
  });

  it('explains that a text file is not a supported type', async () => {
    const buffer = Buffer.from('Dear diary, today the dog ate my homework.\n');
    await choose(page, { name: 'diary.txt', mimeType: 'text/plain', buffer });
    assert.equal(await text(page, '#error-title'), 'This type of file is not supported.');
    assert.match(await text(page, '#error-technical'), /HTTP 415 unsupported_media_type/);
    assert.equal(await page.isVisible('#answer'), false);
    await saveScreenshot(page, 'real-text-file-error');
  });

  it('explains that a damaged photo cannot be read', async () => {
    const whole = readFileSync(photo(CAT_PHOTO).file);
    const buffer = whole.subarray(0, Math.floor(whole.length / 2));
    await choose(page, { name: 'cut-short.jpg', mimeType: 'image/jpeg', buffer });
    assert.equal(
      await text(page, '#error-title'),
      'This file is not an image the server can read.',
    );
    assert.match(await text(page, '#error-technical'), /HTTP 422 undecodable_image/);
    await saveScreenshot(page, 'real-damaged-photo-error');
  });

  it('renders the real OpenAPI document readably at /docs', async () => {
    const docs = await browser.newPage();
    try {
      await docs.goto(`${url}/docs`);
      await docs.waitForSelector('.operation');
      const operations = await docs.locator('.operation h3').allTextContents();
      assert.ok(operations.includes(`post${PATHS.identify}`), operations.join(', '));
      assert.ok(operations.includes(`get${PATHS.models}`), operations.join(', '));
      assert.deepEqual(docs.consoleErrors, []);
      await saveScreenshot(docs, 'real-docs');
    } finally {
      await docs.close();
    }
  });

  it('links a metrics page that the server serves', async () => {
    const href = await page.getAttribute('a[href="/metrics"]', 'href');
    const response = await fetch(url + href);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /# TYPE /);
  });
});
