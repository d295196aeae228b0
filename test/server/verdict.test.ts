/**
 * The pet-mass rule, on probabilities made up for the case at hand, and the configuration
 * checks, each naming the variable at fault.
 */
import assert from 'node:assert/strict';
import { loadConfig } from '../../server/config';
import { judge } from '../../server/inference/classify';
import type { ModelMetadata } from '../../server/model/metadata';

const META: ModelMetadata = {
  name: 'toy',
  version: '1',
  input: { width: 8, height: 8, channels: 3 },
  normalization: { scale: 1, offset: 0 },
  resize: 'fill',
  petThreshold: 0.5,
  labels: [
    { label: 'beagle', species: 'dog', breed: 'Beagle' },
    { label: 'pug', species: 'dog', breed: 'Pug' },
    { label: 'boxer', species: 'dog', breed: 'Boxer' },
    { label: 'siamese', species: 'cat', breed: 'Siamese' },
    { label: 'lynx', species: null },
    { label: 'teapot', species: null },
  ],
};

const probs = (...p: number[]) => Float32Array.from(p);

describe('judge: isPet and species from the pet probability mass', () => {
  it('calls a photo a dog when dog breeds together pass the threshold, though none leads', () => {
    const verdict = judge(probs(0.2, 0.2, 0.2, 0.05, 0.3, 0.05), META, 3);
    assert.equal(verdict.isPet, true);
    assert.equal(verdict.species, 'dog');
    assert.equal(verdict.breed, 'Beagle');
    assert.equal(verdict.predictions[0]?.label, 'lynx', 'predictions stay in model order');
  });

  it('calls the species by mass, not by the single top class', () => {
    const verdict = judge(probs(0.35, 0, 0, 0.3, 0.35, 0), { ...META, petThreshold: 0.6 }, 2);
    assert.equal(verdict.isPet, true);
    assert.equal(verdict.species, 'dog');
    const cats = judge(probs(0.3, 0, 0, 0.4, 0.3, 0), META, 2);
    assert.equal(cats.species, 'cat');
    assert.equal(cats.breed, 'Siamese');
  });

  it('says "not a pet" when the pet mass is low and the top class is not a pet', () => {
    const verdict = judge(probs(0.1, 0.05, 0.05, 0.1, 0.1, 0.6), META, 2);
    assert.equal(verdict.isPet, false);
    assert.equal(verdict.species, null);
    assert.equal(verdict.breed, null);
    assert.ok(Math.abs(verdict.confidence - 0.7) < 1e-6, 'confidence that it is not a pet');
  });

  it('trusts a top-1 pet breed even under the threshold', () => {
    const verdict = judge(probs(0.3, 0, 0, 0, 0.25, 0.45 - 0.2), META, 1);
    assert.equal(verdict.isPet, true);
    assert.equal(verdict.breed, 'Beagle');
  });

  it('returns exactly `top` predictions, most likely first', () => {
    const verdict = judge(probs(0.1, 0.2, 0.3, 0.15, 0.05, 0.2), META, 4);
    assert.deepEqual(
      verdict.predictions.map((p) => p.label),
      ['boxer', 'pug', 'teapot', 'siamese'],
    );
  });
});

describe('loadConfig', () => {
  const base = { AUTH: 'off' };

  it('defaults to port 8080, the sample model and its repository metadata', () => {
    const config = loadConfig(base);
    assert.equal(config.port, 8080);
    assert.match(config.modelDir, /shared[\\/]models[\\/]mobilenet_v1_0\.75_224$/);
    assert.match(config.metadataPath ?? '', /server[\\/]sample-model[\\/]metadata\.json$/);
    assert.ok(Object.isFrozen(config));
  });

  it('looks for metadata inside MODEL_DIR unless MODEL_METADATA says otherwise', () => {
    assert.equal(loadConfig({ ...base, MODEL_DIR: '/models/x' }).metadataPath, undefined);
    const both = loadConfig({ ...base, MODEL_DIR: '/models/x', MODEL_METADATA: '/m.json' });
    assert.equal(both.metadataPath, '/m.json');
  });

  for (const [name, value] of [
    ['PORT', '70000'],
    ['BACKEND', 'tpu'],
    ['MAX_BATCH_SIZE', '0'],
    ['MAX_QUEUE', 'lots'],
    ['MAX_BODY_BYTES', '12'],
    ['PAGE', 'maybe'],
    ['LOG_LEVEL', 'loud'],
  ] as const) {
    it(`refuses ${name}=${value}, naming the variable`, () => {
      assert.throws(() => loadConfig({ ...base, [name]: value }), new RegExp(name));
    });
  }

  it('refuses AUTH=on with no credentials configured', () => {
    assert.throws(() => loadConfig({}), /invalid configuration/);
  });
});
