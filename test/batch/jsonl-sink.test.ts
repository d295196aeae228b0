/**
 * The JSON Lines sink on real files: a torn last line is cut off on open, complete lines are
 * read back as done keys, every write is one whole line, and a second writer is refused.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { JsonlSink } from '../../server/batch/jsonl-sink';
import type { ResultRecord } from '../../server/batch/record';

const ok = (key: string): ResultRecord => ({
  key,
  isPet: true,
  species: 'dog',
  breed: 'Samoyed',
  confidence: 0.9,
  predictions: [],
  model: { name: 'm', version: '1' },
});

describe('JsonlSink', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'jsonl-sink-'));
    file = path.join(dir, 'nested', 'results.jsonl');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates the file (and its folder) and appends one line per record', async () => {
    const sink = await JsonlSink.open(file);
    await sink.write(ok('a.jpg'));
    await sink.write({ key: 'b.jpg', error: { code: 'undecodable_image', message: 'bad' } });
    await sink.close();

    const lines = (await readFile(file, 'utf8')).split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '');
    assert.deepEqual(JSON.parse(lines[0] ?? ''), ok('a.jpg'));
    assert.equal(JSON.parse(lines[1] ?? '').error.code, 'undecodable_image');
  });

  it('cuts a torn last line off and reports the keys of the complete ones', async () => {
    const sink = await JsonlSink.open(file);
    await sink.write(ok('a.jpg'));
    await sink.write(ok('b.jpg'));
    await sink.close();
    const whole = await readFile(file, 'utf8');
    await appendFile(file, JSON.stringify(ok('c.jpg')).slice(0, 25));

    const seen: string[] = [];
    const again = await JsonlSink.open(file, { onExisting: (r) => seen.push(r.key) });
    assert.deepEqual([...again.done].sort(), ['a.jpg', 'b.jpg']);
    assert.deepEqual(seen, ['a.jpg', 'b.jpg']);
    assert.equal(again.report.tornBytes, 25);
    assert.equal(await readFile(file, 'utf8'), whole);

    await again.write(ok('c.jpg'));
    await again.close();
    const keys = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).key);
    assert.deepEqual(keys, ['a.jpg', 'b.jpg', 'c.jpg']);
  });

  it('cuts a file that is one torn line down to nothing', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"key":"a.jpg","isP');
    const sink = await JsonlSink.open(file);
    assert.equal(sink.done.size, 0);
    assert.equal(sink.report.tornBytes, 19);
    await sink.close();
    assert.equal(await readFile(file, 'utf8'), '');
  });

  it('counts complete lines that are not records and leaves them in place', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(ok('a.jpg'))}\nnot json\n{"no":"key"}\n`);
    const sink = await JsonlSink.open(file);
    assert.deepEqual([...sink.done], ['a.jpg']);
    assert.equal(sink.report.invalidLines, 2);
    assert.equal(sink.report.records, 1);
    await sink.close();
  });

  it('refuses a second writer while the lock is held; takes over a dead one', async () => {
    const first = await JsonlSink.open(file);
    await assert.rejects(JsonlSink.open(file), /held by running process/);
    await first.close();

    // A lock left by a process that no longer exists (SIGKILL) does not block the next run.
    await writeFile(`${file}.lock`, '999999999\n');
    const second = await JsonlSink.open(file);
    await second.close();
  });
});
