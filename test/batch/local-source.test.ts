/**
 * Listing a local folder: recursive, sorted, `/`-separated keys, hidden entries and other
 * extensions left out, linked folders followed once (a link back up the tree does not loop),
 * and read errors that name the photo.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalSource } from '../../server/batch/local-source';
import { IMAGE_EXTENSIONS } from '../../server/batch/photo-source';
import { UnreadableFileError } from '../../server/batch/record';
import { AppError } from '../../server/errors';
import { removeDir, tempDir } from './support/photo-folder';

describe('LocalSource', () => {
  let dir: string;

  before(async () => {
    dir = await tempDir('local-source');
    await mkdir(path.join(dir, 'b', 'deep'), { recursive: true });
    await mkdir(path.join(dir, '.hidden'));
    await mkdir(path.join(dir, 'elsewhere'));
    await writeFile(path.join(dir, 'a.JPG'), 'a');
    await writeFile(path.join(dir, 'b', 'deep', 'c.png'), 'c');
    await writeFile(path.join(dir, 'b', 'notes.txt'), 'n');
    await writeFile(path.join(dir, '.hidden', 'h.jpg'), 'h');
    await writeFile(path.join(dir, '.dot.jpg'), 'd');
    await writeFile(path.join(dir, 'elsewhere', 'e.webp'), 'e');
    await writeFile(path.join(dir, 'big.jpg'), Buffer.alloc(2048));
    await symlink(dir, path.join(dir, 'b', 'loop'));
    await symlink(path.join(dir, 'missing.jpg'), path.join(dir, 'gone.jpg'));
  });
  after(() => removeDir(dir));

  it('lists image files recursively, sorted, once each, with / in keys', async () => {
    const source = new LocalSource({ root: dir, extensions: IMAGE_EXTENSIONS, maxBytes: 1024 });
    const keys = (await source.list()).map((ref) => ref.key);
    assert.deepEqual(keys, ['a.JPG', 'b/deep/c.png', 'big.jpg', 'elsewhere/e.webp', 'gone.jpg']);
  });

  it('takes every file when asked, still leaving hidden ones out', async () => {
    const source = new LocalSource({ root: dir, extensions: null, maxBytes: 1024 });
    const keys = (await source.list()).map((ref) => ref.key);
    assert.ok(keys.includes('b/notes.txt'));
    assert.ok(!keys.some((key) => key.includes('.hidden') || key.includes('.dot')));
  });

  it('reads a photo, and names the problem when it cannot', async () => {
    const source = new LocalSource({ root: dir, extensions: IMAGE_EXTENSIONS, maxBytes: 1024 });
    const refs = new Map((await source.list()).map((ref) => [ref.key, ref]));
    assert.equal((await refs.get('b/deep/c.png')?.read())?.toString(), 'c');
    await assert.rejects(
      refs.get('gone.jpg')?.read() ?? Promise.resolve(),
      (err: unknown) => err instanceof UnreadableFileError && /gone\.jpg.*ENOENT/.test(err.message),
    );
    await assert.rejects(
      refs.get('big.jpg')?.read() ?? Promise.resolve(),
      (err: unknown) => err instanceof AppError && err.code === 'payload_too_large',
    );
  });

  it('refuses a root that is not a folder', async () => {
    const source = new LocalSource({
      root: path.join(dir, 'a.JPG'),
      extensions: IMAGE_EXTENSIONS,
      maxBytes: 1024,
    });
    await assert.rejects(source.list(), /is not a folder/);
  });
});
