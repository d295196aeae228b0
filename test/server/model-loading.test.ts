/**
 * Model directory validation: each kind of broken release stops loading with a message that
 * names the file and the problem. Broken copies of the sample model are made in a temp dir.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { candidates, initBackend } from '../../server/inference/backend';
import { createInferenceCore } from '../../server/inference/core';
import { formatManifest, sha256File } from '../../server/model/manifest';
import { readModelDirectory } from '../../server/model/load-model';
import { SAMPLE_METADATA, SAMPLE_MODEL_DIR } from '../support/shared-data';

describe('readModelDirectory', function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'model-'));
    await cp(SAMPLE_MODEL_DIR, dir, { recursive: true });
    await rm(path.join(dir, 'SHA256SUMS'));
    await cp(SAMPLE_METADATA, path.join(dir, 'metadata.json'));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads the sample model as a layers model with its metadata from the repository', async () => {
    const files = await readModelDirectory(SAMPLE_MODEL_DIR, { metadataPath: SAMPLE_METADATA });
    assert.equal(files.format, 'layers-model');
    assert.equal(files.manifestVerified, true, 'the shared SHA256SUMS is checked');
    assert.equal(files.artifacts.weightData.byteLength, 10_407_904);
    assert.equal(files.metadata.labels.length, 1000);
  });

  it('finds metadata.json inside the model directory by default', async () => {
    const files = await readModelDirectory(dir);
    assert.equal(files.metadataPath, path.join(dir, 'metadata.json'));
  });

  it('names a missing shard', async () => {
    await unlink(path.join(dir, 'group7-shard1of1'));
    await assert.rejects(readModelDirectory(dir), /group7-shard1of1: weight shard is missing/);
  });

  it('names a shard of the wrong size', async () => {
    const shard = path.join(dir, 'group29-shard1of1');
    await truncate(shard, 1000);
    await assert.rejects(
      readModelDirectory(dir),
      /group29-shard1of1: .*1000 bytes, expected 3076000/,
    );
  });

  it('names the metadata file and the missing field', async () => {
    const meta = JSON.parse(await readFile(SAMPLE_METADATA, 'utf8')) as Record<string, unknown>;
    delete meta.normalization;
    await writeFile(path.join(dir, 'metadata.json'), JSON.stringify(meta));
    await assert.rejects(readModelDirectory(dir), /metadata\.json: .*normalization/);
  });

  it('refuses a pet label without a display breed', async () => {
    const meta = JSON.parse(await readFile(SAMPLE_METADATA, 'utf8')) as {
      labels: { breed?: string }[];
    };
    delete meta.labels[151]?.breed;
    await writeFile(path.join(dir, 'metadata.json'), JSON.stringify(meta));
    await assert.rejects(readModelDirectory(dir), /labels\.151\.breed/);
  });

  it('refuses labels that do not match the output size when the model first runs', async () => {
    const meta = JSON.parse(await readFile(SAMPLE_METADATA, 'utf8')) as { labels: unknown[] };
    meta.labels.pop();
    await writeFile(path.join(dir, 'metadata.json'), JSON.stringify(meta));
    await assert.rejects(
      createInferenceCore({ modelDir: dir, workers: 1, maxBatchSize: 1 }),
      /metadata\.json: metadata lists 999 labels but the model outputs 1000 classes/,
    );
  });

  it('verifies a SHA256SUMS manifest and names the file that differs', async () => {
    const files = ['model.json', 'group1-shard1of1', 'metadata.json'];
    const entries = await Promise.all(
      files.map(async (file) => ({ file, sha256: await sha256File(path.join(dir, file)) })),
    );
    await writeFile(path.join(dir, 'SHA256SUMS'), formatManifest(entries));
    assert.equal((await readModelDirectory(dir)).manifestVerified, true);

    const shard = path.join(dir, 'group1-shard1of1');
    const bytes = await readFile(shard);
    bytes[10] = (bytes[10] as number) ^ 0xff;
    await writeFile(shard, bytes);
    await assert.rejects(readModelDirectory(dir), /group1-shard1of1: SHA-256 .* does not match/);
  });

  it('refuses a manifest line that escapes the directory', async () => {
    await writeFile(path.join(dir, 'SHA256SUMS'), `${'0'.repeat(64)}  ../etc/passwd\n`);
    await assert.rejects(readModelDirectory(dir), /SHA256SUMS: line 1 names a path outside/);
  });

  it('tells a graph model from a layers model, and refuses neither', async () => {
    const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    await writeFile(
      path.join(dir, 'model.json'),
      JSON.stringify({ ...modelJson, modelTopology: { node: [] } }),
    );
    assert.equal((await readModelDirectory(dir)).format, 'graph-model');

    await writeFile(
      path.join(dir, 'model.json'),
      JSON.stringify({ ...modelJson, modelTopology: { something: 1 } }),
    );
    await assert.rejects(readModelDirectory(dir), /neither a TF.js layers model nor a graph model/);
  });

  it('names a missing or broken model.json', async () => {
    await writeFile(path.join(dir, 'model.json'), '{"modelTopology":');
    await assert.rejects(readModelDirectory(dir), /model\.json: not valid JSON/);
    await unlink(path.join(dir, 'model.json'));
    await assert.rejects(readModelDirectory(dir), /model\.json: missing/);
  });
});

describe('backend choice', () => {
  it('tries the GPU binding first, then native CPU, then wasm, then cpu', () => {
    assert.deepEqual(candidates('auto'), ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    assert.deepEqual(candidates('cpu'), ['cpu']);
  });

  it('falls back to wasm here, recording why each native backend was skipped', async () => {
    const skipped: string[] = [];
    const backend = await initBackend('auto', (name) => skipped.push(name));
    assert.equal(backend.name, 'wasm');
    assert.deepEqual(skipped, ['tensorflow-gpu', 'tensorflow']);
  });

  it('fails clearly when a forced backend is not installed', async () => {
    await assert.rejects(initBackend('tensorflow-gpu'), /tensorflow-gpu: Cannot find module/);
  });
});
