/**
 * The artifact container and its manifest: reproducible archives, an unpacker that refuses
 * every entry that could write outside its destination, and SHA256SUMS checks that name each
 * altered, missing or unlisted file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';

import { ArchiveError, createArchive, extractArchive } from '../../server/release/archive';
import {
  checkManifest,
  ManifestFormatError,
  parseManifest,
  writeManifest,
} from '../../server/release/manifest';

describe('release archive and manifest', () => {
  let work: string;
  let source: string;

  beforeEach(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'release-archive-'));
    source = path.join(work, 'source');
    await mkdir(path.join(source, 'golden'), { recursive: true });
    await writeFile(path.join(source, 'model.json'), '{"weightsManifest":[]}');
    await writeFile(path.join(source, 'golden', 'a.jpg'), Buffer.from([0xff, 0xd8, 0xff]));
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function expectRefused(archive: string, entry: RegExp, reason: RegExp) {
    const dest = path.join(work, 'dest');
    const error = await extractArchive(archive, dest).then(
      () => assert.fail('extraction should have been refused'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof ArchiveError, String(error));
    assert.match(error.file, entry);
    assert.match(error.message, reason);
  }

  describe('createArchive / extractArchive', () => {
    it('writes the same bytes for the same files, whatever their times', async () => {
      const first = path.join(work, 'first.tar.gz');
      const second = path.join(work, 'second.tar.gz');
      await createArchive(source, ['model.json', 'golden/a.jpg'], first);
      await writeFile(path.join(source, 'model.json'), '{"weightsManifest":[]}');
      await createArchive(source, ['golden/a.jpg', 'model.json'], second);
      assert.deepEqual(await readFile(first), await readFile(second));
    });

    it('unpacks a good archive with its folders', async () => {
      const archive = path.join(work, 'good.tar.gz');
      await createArchive(source, ['model.json', 'golden/a.jpg'], archive);
      const dest = path.join(work, 'dest');
      await extractArchive(archive, dest);
      assert.deepEqual(
        await readFile(path.join(dest, 'golden', 'a.jpg')),
        Buffer.from([255, 216, 255]),
      );
    });

    it('refuses an entry that climbs out with ..', async () => {
      const inner = path.join(work, 'inner');
      await mkdir(inner);
      await writeFile(path.join(work, 'outside.txt'), 'x');
      const archive = path.join(work, 'dotdot.tar.gz');
      await tar.create({ file: archive, gzip: true, cwd: inner, preservePaths: true }, [
        '../outside.txt',
      ]);
      await expectRefused(archive, /^\.\.\/outside\.txt$/, /climbs out/);
      assert.equal(existsSync(path.join(work, 'dest', 'outside.txt')), false);
    });

    it('refuses an absolute path', async () => {
      const archive = path.join(work, 'absolute.tar.gz');
      const absolute = path.join(source, 'model.json');
      await tar.create({ file: archive, gzip: true, preservePaths: true }, [absolute]);
      await expectRefused(archive, /^\/.*model\.json$/, /absolute path/);
    });

    it('refuses a symbolic link, even one pointing inside', async () => {
      await symlink('model.json', path.join(source, 'link.json'));
      const archive = path.join(work, 'link.tar.gz');
      await tar.create({ file: archive, gzip: true, cwd: source }, ['link.json']);
      await expectRefused(archive, /^link\.json$/, /SymbolicLink entry/);
    });

    it('refuses a file that is not a gzip tar, naming it', async () => {
      const archive = path.join(work, 'plain.tar.gz');
      await writeFile(archive, 'plain text');
      await expectRefused(archive, /plain\.tar\.gz$/, /not a readable \.tar\.gz/);
    });

    it('refuses to unpack over existing files', async () => {
      const archive = path.join(work, 'good.tar.gz');
      await createArchive(source, ['model.json'], archive);
      const error = await extractArchive(archive, source).catch((err: unknown) => err);
      assert.ok(error instanceof ArchiveError);
      assert.match(error.message, /destination folder is not empty/);
    });
  });

  describe('SHA256SUMS', () => {
    it('is written in the format sha256sum -c checks, covering subfolders', async () => {
      const entries = await writeManifest(source);
      assert.deepEqual(
        entries.map((e) => e.file),
        ['golden/a.jpg', 'model.json'],
      );
      const output = execFileSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], {
        cwd: source,
        encoding: 'utf8',
      });
      assert.match(output, /golden\/a\.jpg: OK/);
    });

    it('names every altered, missing and unlisted file at once', async () => {
      await writeManifest(source);
      await writeFile(path.join(source, 'model.json'), '{}');
      await unlink(path.join(source, 'golden', 'a.jpg'));
      await writeFile(path.join(source, 'extra.bin'), 'x');
      const problems = await checkManifest(source);
      assert.deepEqual(
        problems.map((p) => [p.file, p.problem.replace(/ [0-9a-f]{64}/g, ' <hash>')]),
        [
          ['golden/a.jpg', 'is listed in SHA256SUMS but missing'],
          ['model.json', 'has SHA-256 <hash>, SHA256SUMS expects <hash> (file was altered)'],
          ['extra.bin', 'is present but not listed in SHA256SUMS'],
        ],
      );
    });

    it('fails when the manifest itself is missing', async () => {
      await assert.rejects(checkManifest(source), /SHA256SUMS: is missing/);
    });

    it('rejects malformed lines, unsafe paths and duplicates with the line number', () => {
      const hash = 'a'.repeat(64);
      const cases: [string, RegExp][] = [
        ['not a line\n', /line 1 is not/],
        [`${hash}  ok\n${hash}  ../etc/passwd\n`, /line 2 names an unsafe path/],
        [`${hash}  /etc/passwd\n`, /line 1 names an unsafe path/],
        [`${hash}  a\n${hash}  a\n`, /line 2 lists a a second time/],
        ['', /lists no files/],
      ];
      for (const [text, expected] of cases) {
        assert.throws(
          () => parseManifest(text),
          (err: unknown) => {
            assert.ok(err instanceof ManifestFormatError);
            assert.match(err.message, expected);
            return true;
          },
        );
      }
      assert.deepEqual(parseManifest(`${hash.toUpperCase()} *bin/x\n`), [
        { file: 'bin/x', sha256: hash },
      ]);
    });
  });
});
