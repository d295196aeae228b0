/**
 * Accuracy through the HTTP API on every labelled photo in ../shared/pets, against the model's
 * own accuracy measured here with a plain reference pipeline (sharp resize to the input size,
 * normalise, predict). A drop below the reference means our preprocessing is wrong.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { initBackend } from '../../server/inference/backend';
import { ModelRunner } from '../../server/inference/model-runner';
import { readModelDirectory } from '../../server/model/load-model';
import { identify, startApp, type TestServer } from '../support/server-harness';
import {
  listPetPhotos,
  SAMPLE_METADATA,
  SAMPLE_MODEL_DIR,
  type PetPhoto,
} from '../support/shared-data';

interface Answer {
  isPet: boolean;
  species: string | null;
  predictions: { label: string }[];
}

/** Top-1 class index of each photo with the textbook pipeline, no orientation, no crop. */
async function referenceTop1(photos: PetPhoto[]): Promise<number[]> {
  const files = await readModelDirectory(SAMPLE_MODEL_DIR, { metadataPath: SAMPLE_METADATA });
  const { tf } = await initBackend('wasm');
  const meta = files.metadata;
  const runner = await ModelRunner.load(tf, {
    format: files.format,
    artifacts: files.artifacts,
    input: meta.input,
    labelCount: meta.labels.length,
    metadataPath: files.metadataPath,
  });
  const top1: number[] = [];
  for (const photo of photos) {
    const pixels = await sharp(photo.file)
      .resize(meta.input.width, meta.input.height, { fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    const input = Float32Array.from(pixels, (v) => v / 127.5 - 1);
    const probs = await runner.run(input, 1);
    top1.push(probs.indexOf(Math.max(...probs)));
  }
  return top1;
}

async function allAnswers(server: TestServer, photos: PetPhoto[]): Promise<Answer[]> {
  const answers: Answer[] = new Array(photos.length);
  let next = 0;
  const lane = async () => {
    while (next < photos.length) {
      const i = next++;
      const res = await identify(server.url, await readFile((photos[i] as PetPhoto).file));
      assert.equal(res.status, 200, `${photos[i]?.relative}: HTTP ${res.status}`);
      answers[i] = (await res.json()) as Answer;
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
  return answers;
}

describe('accuracy on the real photos in ../shared/pets', function () {
  this.timeout(600_000);
  const photos = listPetPhotos();
  let server: TestServer;
  let labels: string[];
  let answers: Answer[];
  let reference: number[];

  before(async () => {
    server = await startApp();
    labels = (
      JSON.parse(await readFile(SAMPLE_METADATA, 'utf8')) as { labels: { label: string }[] }
    ).labels.map((l) => l.label);
    answers = await allAnswers(server, photos);
    reference = await referenceTop1(photos);
  });

  after(() => server.close());

  it('reaches at least the top-1 breed accuracy of the bare model on the same photos', () => {
    const scored = photos.map((p, i) => ({ p, i })).filter(({ p }) => p.imagenetIndex !== null);
    const served = scored.filter(
      ({ p, i }) => labels.indexOf(answers[i]?.predictions[0]?.label ?? '') === p.imagenetIndex,
    ).length;
    const bare = scored.filter(({ p, i }) => reference[i] === p.imagenetIndex).length;

    console.log(`      top-1 breed: served ${served}/${scored.length}, bare model ${bare}`);
    assert.ok(scored.length > 150, 'the labelled set should have ImageNet breeds');
    assert.ok(bare > scored.length * 0.6, `reference pipeline looks broken: ${bare}`);
    assert.ok(served >= bare, `served accuracy ${served} is below the bare model's ${bare}`);
  });

  it('names the right species for every photo whose breed the model gets right', () => {
    const wrong = photos.filter((p, i) => {
      const top = labels.indexOf(answers[i]?.predictions[0]?.label ?? '');
      return top === p.imagenetIndex && answers[i]?.species !== p.species;
    });
    assert.deepEqual(
      wrong.map((p) => p.relative),
      [],
    );
  });

  it('answers isPet with a species for at least 95 % of the pet photos', () => {
    const pets = answers.filter((a) => a.isPet && a.species !== null).length;
    assert.ok(pets >= photos.length * 0.95, `${pets}/${photos.length} recognised as pets`);
  });
});
