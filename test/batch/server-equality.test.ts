/**
 * The batch job and the HTTP server give the same answer for the same photo: labelled photos of
 * `../shared/pets` are sent to the real server (its own process, one photo at a time), then the
 * batch runs over the same photos, and each result line must match the server's answer field
 * for field, probabilities included (timings aside, which the batch does not write).
 *
 * All 223 photos by default: about one minute on a two-core machine (three when other jobs
 * load it heavily). `BATCH_EQUALITY_PHOTOS=N` takes N photos spread over the three sets.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { identify, spawnServer, waitReady } from '../support/server-harness';
import { listPetPhotos } from '../support/shared-data';
import { runCli } from './support/cli';
import {
  linkPhotos,
  readJsonLines,
  removeDir,
  samplePhotos,
  tempDir,
} from './support/photo-folder';

const SAMPLE = Number(process.env.BATCH_EQUALITY_PHOTOS ?? 0);

describe('breed-batch agrees with the HTTP server', function () {
  this.timeout(600_000);
  let dir: string;

  before(async () => {
    dir = await tempDir('batch-equality');
  });
  after(() => removeDir(dir));

  const which = SAMPLE > 0 ? String(SAMPLE) : 'all';
  it(`gives ${which} pet photos the answers POST /v1/identify gives`, async () => {
    const photos = SAMPLE > 0 ? samplePhotos(SAMPLE) : listPetPhotos();
    const input = path.join(dir, 'in');
    await linkPhotos(input, photos);
    const server = await spawnServer({});
    const answers = new Map<string, Record<string, unknown>>();
    try {
      await waitReady(server.url);
      // One at a time, as a client sends them, so the server classifies each photo alone while
      // the batch classifies them several to a model call.
      for (const photo of photos) {
        const res = await identify(server.url, await readFile(photo.file), 'image/jpeg', '?top=5');
        const body = await res.text();
        assert.equal(res.status, 200, `${photo.relative}: ${body}`);
        answers.set(photo.relative, JSON.parse(body) as Record<string, unknown>);
      }
    } finally {
      server.child.kill('SIGTERM');
      await server.exit;
    }

    const output = path.join(dir, 'pets.jsonl');
    const run = await runCli([input, output, '--progress', 'none']);
    assert.equal(run.code, 0, run.stderr);
    const lines = await readJsonLines(output);
    assert.equal(lines.length, photos.length);

    for (const line of lines) {
      const key = line.key as string;
      const answer = answers.get(key);
      assert.ok(answer, `the batch wrote a line for ${key}, which is not a labelled photo`);
      const { timingsMs, ...fields } = answer;
      assert.ok(timingsMs, 'the server answer has timings');
      assert.deepEqual({ ...line, key: undefined }, { ...fields, key: undefined }, key);
    }
  });
});
