/**
 * `breed-batch <folder> <file>` end to end with the real core: good photos beside bad files
 * (empty, truncated, not an image, a huge PNG, a dangling link), the CSV summary, the exit
 * codes, and a rerun that finds everything done.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { cliEnv, logLines, runCli } from './support/cli';
import {
  linkPhotos,
  readJsonLines,
  removeDir,
  samplePhotos,
  tempDir,
} from './support/photo-folder';

describe('breed-batch <folder> <file.jsonl>', function () {
  this.timeout(180_000);
  let dir: string;
  let input: string;
  let goodKeys: string[];

  before(async () => {
    dir = await tempDir('batch-cli');
    input = path.join(dir, 'in');
    const photos = samplePhotos(6);
    goodKeys = await linkPhotos(input, photos);
    const sample = await readFile(photos[0]?.file ?? '');

    await writeFile(path.join(input, 'empty.jpg'), '');
    await writeFile(path.join(input, 'truncated.jpg'), sample.subarray(0, sample.length / 2));
    await writeFile(
      path.join(input, 'notes.jpg'),
      'these are not the pixels you are looking for\n',
    );
    await writeFile(path.join(input, 'huge.png'), await hugePng());
    await symlink(path.join(dir, 'nowhere.jpg'), path.join(input, 'gone.jpg'));
    // Neither of these is a photo the batch should take: hidden, and not an image extension.
    await writeFile(path.join(input, '.DS_Store'), 'x');
    await writeFile(path.join(input, 'readme.txt'), 'x');
    await mkdir(path.join(input, 'empty-folder'));
  });
  after(() => removeDir(dir));

  it('writes one line per file, an error line for each bad one, and exits with 1', async () => {
    const output = path.join(dir, 'out', 'results.jsonl');
    const summary = path.join(dir, 'summary.csv');
    const run = await runCli([input, output, '--summary', summary]);
    assert.equal(run.code, 1, run.stderr);

    const lines = await readJsonLines(output);
    const byKey = new Map(lines.map((line) => [line.key as string, line]));
    assert.equal(lines.length, byKey.size, 'a key appears twice');
    const expectedErrors: Record<string, string> = {
      'empty.jpg': 'undecodable_image',
      'truncated.jpg': 'undecodable_image',
      'notes.jpg': 'unsupported_media_type',
      'huge.png': 'too_many_pixels',
      'gone.jpg': 'unreadable_file',
    };
    assert.deepEqual(
      [...byKey.keys()].sort(),
      [...goodKeys, ...Object.keys(expectedErrors)].sort(),
    );
    for (const [key, code] of Object.entries(expectedErrors)) {
      const error = byKey.get(key)?.error as { code: string; message: string };
      assert.equal(error.code, code, key);
      assert.ok(error.message.length > 0);
    }
    for (const key of goodKeys) {
      const line = byKey.get(key) ?? {};
      assert.equal(typeof line.isPet, 'boolean', key);
      assert.equal((line.predictions as unknown[]).length, 5);
      assert.deepEqual(line.model, { name: 'mobilenet_v1_0.75_224', version: '1.0.0' });
    }

    const csv = (await readFile(summary, 'utf8')).trim().split('\n');
    assert.equal(csv[0], 'outcome,species,breed,error_code,photos,mean_confidence');
    const total = csv.slice(1).reduce((sum, row) => sum + Number(row.split(',').at(-2)), 0);
    assert.equal(total, lines.length);
    assert.ok(csv.includes('error,,,undecodable_image,2,'), csv.join('\n'));

    const finished = logLines(run.stderr, 'run finished')[0];
    assert.equal(finished?.succeeded, goodKeys.length);
    assert.equal(finished?.failed, 5);
  });

  it('finds everything done on a rerun, writes nothing, still reports failures', async () => {
    const output = path.join(dir, 'out', 'results.jsonl');
    const before = await readFile(output, 'utf8');
    const run = await runCli([input, output]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(await readFile(output, 'utf8'), before);
    assert.equal(logLines(run.stderr, 'input listed')[0]?.alreadyDone, goodKeys.length + 5);
  });

  it('exits with 0 when every photo is identified', async () => {
    const good = path.join(dir, 'good');
    await linkPhotos(good, samplePhotos(2));
    const run = await runCli([good, path.join(dir, 'good.jsonl'), '--progress', 'none']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await readJsonLines(path.join(dir, 'good.jsonl'))).length, 2);
  });

  it('exits with 2 and the usage for bad arguments', async () => {
    const run = await runCli(['only-input']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /expected <input> and <output>/);
    assert.match(run.stderr, /Usage:/);
  });

  it('exits with 2 when the input folder does not exist', async () => {
    const run = await runCli([path.join(dir, 'missing'), path.join(dir, 'x.jsonl')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /could not run/);
    assert.match(run.stderr, /ENOENT/);
  });

  it('exits with 2 when the model cannot be loaded, naming the problem', async () => {
    const env = cliEnv({ MODEL_DIR: path.join(dir, 'no-model') });
    const run = await runCli([input, path.join(dir, 'y.jsonl')], env);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /no-model/);
  });
});

/** A real PNG of 8000 x 7000 pixels: 56 megapixels, past the 50 megapixel limit. */
function hugePng(): Promise<Buffer> {
  return sharp({ create: { width: 8000, height: 7000, channels: 3, background: '#806040' } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}
