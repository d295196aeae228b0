/**
 * The bake-time artifact download: copies a file URL, refuses other schemes with a clear
 * message, and never leaves a partial file behind when the source is missing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { fetchArtifact } from '../../server/boot/fetch-artifact';

describe('fetchArtifact(url, file)', () => {
  let work: string;

  beforeEach(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'fetch-artifact-'));
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('copies a file:// source byte for byte', async () => {
    const source = path.join(work, 'model.tar.gz');
    await writeFile(source, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    await fetchArtifact(pathToFileURL(source).href, path.join(work, 'out.tar.gz'));
    assert.deepEqual(await readFile(path.join(work, 'out.tar.gz')), await readFile(source));
  });

  it('refuses a plain http URL, naming the schemes it takes', async () => {
    await assert.rejects(
      fetchArtifact('http://127.0.0.1:9/model.tar.gz', path.join(work, 'out.tar.gz')),
      /only s3, https and file URLs/,
    );
  });

  it('leaves nothing behind when the source does not exist', async () => {
    const missing = pathToFileURL(path.join(work, 'missing.tar.gz')).href;
    await assert.rejects(fetchArtifact(missing, path.join(work, 'out.tar.gz')), /ENOENT/);
    assert.deepEqual(await readdir(work), []);
  });
});
