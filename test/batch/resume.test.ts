/**
 * Killed at any moment, started again with the same arguments, the batch ends with exactly one
 * result per photo: SIGKILL during model loading and part-way through the photos, several
 * times over, a torn last line left behind, and SIGTERM, which finishes the photos in flight.
 */
import assert from 'node:assert/strict';
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { logLines, startCli, type CliRun } from './support/cli';
import {
  linkPhotos,
  readJsonLines,
  removeDir,
  samplePhotos,
  tempDir,
} from './support/photo-folder';

const PHOTOS = 40;

describe('breed-batch resumes after being killed', function () {
  this.timeout(300_000);
  let dir: string;
  let input: string;
  let keys: string[];

  before(async () => {
    dir = await tempDir('batch-resume');
    input = path.join(dir, 'in');
    keys = await linkPhotos(input, samplePhotos(PHOTOS));
  });
  after(() => removeDir(dir));

  it('ends with exactly one line per photo after several SIGKILLs', async () => {
    const output = path.join(dir, 'kill.jsonl');
    const args = [input, output, '--progress', 'none', '--max-batch-size', '2'];
    const partial: number[] = [];

    // Once while the model loads, then three times part-way, each time a little further on.
    await killWhen(startCli(args), (run) => run.stderr().includes('"input listed"'));
    for (const more of [3, 6, 9]) {
      const start = await countLines(output);
      await killWhen(startCli(args), async () => (await countLines(output)) >= start + more);
      partial.push(await countLines(output));
      assertUnique(await readCompleteLines(output));
    }
    // What a kill in the middle of a write would leave: half a line without its newline.
    await appendFile(output, '{"key":"half-written.jpg","isPet":tr');

    const last = await startCli(args).done;
    assert.equal(last.code, 0, last.stderr);
    assert.equal(logLines(last.stderr, 'resuming')[0]?.tornBytes, 36);
    const lines = await readJsonLines(output);
    assert.deepEqual(lines.map((line) => line.key).sort(), [...keys].sort());
    assertUnique(lines);
    assert.ok(
      partial.some((n) => n > 0 && n < PHOTOS),
      `no kill landed part-way: ${partial.join(', ')}`,
    );
  });

  it('on SIGTERM finishes the photos in flight and exits; the rerun completes', async () => {
    const output = path.join(dir, 'term.jsonl');
    const args = [input, output, '--progress', 'none', '--max-batch-size', '2'];
    const run = startCli(args);
    await until(async () => (await countLines(output)) >= 4 || run.child.exitCode !== null);
    run.child.kill('SIGTERM');
    const stopped = await run.done;
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(logLines(stopped.stderr, 'run stopped early')[0]?.interrupted, true);
    const after = await readJsonLines(output);
    assert.ok(after.length < PHOTOS, `all ${after.length} photos were done before SIGTERM`);
    assertUnique(after);

    const rest = await startCli(args).done;
    assert.equal(rest.code, 0, rest.stderr);
    const lines = await readJsonLines(output);
    assert.deepEqual(lines.map((line) => line.key).sort(), [...keys].sort());
  });
});

async function killWhen(run: CliRun, ready: (run: CliRun) => boolean | Promise<boolean>) {
  await until(async () => (await ready(run)) || run.child.exitCode !== null);
  run.child.kill('SIGKILL');
  const result = await run.done;
  assert.equal(
    result.signal,
    'SIGKILL',
    `the run ended before it could be killed: ${result.stderr}`,
  );
}

async function until(condition: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function countLines(file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').length - 1;
}

/** Lines up to the last newline (a kill may leave a torn tail; the next run removes it). */
async function readCompleteLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete === ''
    ? []
    : complete
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line));
}

function assertUnique(lines: Record<string, unknown>[]): void {
  const keys = lines.map((line) => line.key);
  assert.equal(new Set(keys).size, keys.length, 'a photo has two lines');
}
