/**
 * A JSON Lines results file that survives being killed at any moment. The file is append-only:
 * each record is one `write` of one whole line, and the file is synced on every flush. If the
 * process dies in the middle of a write, the only possible damage is a last line without its
 * newline; opening the file again cuts that torn tail off and reads the keys of every complete
 * line, so a rerun writes exactly the photos that are missing. A lock file beside the output
 * keeps two runs from appending to the same file at once.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { formatLine, parseRecord, type ResultRecord } from './record';
import type { ResultSink } from './result-sink';

/** What opening an existing file found, for the log. */
export interface ResumeReport {
  /** Complete lines with a key. */
  records: number;
  /** Bytes of a torn last line that were cut off. */
  tornBytes: number;
  /** Complete lines that are not records (left in place, their photos are done again). */
  invalidLines: number;
}

/** Options of `JsonlSink.open`. */
export interface JsonlSinkOptions {
  /** Called with every record already in the file, in file order (for the summary). */
  onExisting?: (record: ResultRecord) => void;
}

const NEWLINE = 0x0a;
const TAIL_CHUNK = 64 * 1024;

/** A resumable, append-only JSON Lines file of results. */
export class JsonlSink implements ResultSink {
  private pending: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  private constructor(
    private readonly handle: FileHandle,
    private readonly lockFile: string,
    private size: number,
    readonly done: Set<string>,
    readonly report: ResumeReport,
  ) {}

  /** Opens (or creates) the file, cuts a torn last line off and reads the keys already done. */
  static async open(file: string, options: JsonlSinkOptions = {}): Promise<JsonlSink> {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    const lockFile = `${file}.lock`;
    await acquireLock(lockFile);
    try {
      const handle = await open(file, 'a+');
      const { size, tornBytes } = await cutTornTail(handle);
      const done = new Set<string>();
      const counts = await readKeys(file, size, done, options.onExisting);
      const report = { records: counts.records, invalidLines: counts.invalid, tornBytes };
      return new JsonlSink(handle, lockFile, size, done, report);
    } catch (err) {
      await unlink(lockFile).catch(() => undefined);
      throw err;
    }
  }

  /** Appends one line; writes are queued so that lines never interleave. */
  write(record: ResultRecord): Promise<void> {
    const line = Buffer.from(formatLine(record), 'utf8');
    this.done.add(record.key);
    this.pending = this.pending.then(() => this.append(line));
    return this.pending;
  }

  /** Waits for queued lines and syncs the file to disk. */
  async flush(): Promise<void> {
    await this.pending;
    await this.handle.datasync();
  }

  /** Flushes, closes the file and removes the lock. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.handle.close();
      await unlink(this.lockFile).catch(() => undefined);
    }
  }

  private async append(line: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      let offset = 0;
      // One write takes the whole line on a regular file; the loop only matters when the disk
      // fills up part-way, and then the catch below removes the partial line again.
      while (offset < line.length) {
        const { bytesWritten } = await this.handle.write(line, offset, line.length - offset);
        offset += bytesWritten;
      }
      this.size += line.length;
    } catch (err) {
      this.failure = err;
      await this.handle.truncate(this.size).catch(() => undefined);
      throw err;
    }
  }
}

/** Finds the last newline and truncates whatever follows it. */
async function cutTornTail(handle: FileHandle): Promise<{ size: number; tornBytes: number }> {
  const { size } = await handle.stat();
  const end = await lastNewlineEnd(handle, size);
  if (end === size) return { size, tornBytes: 0 };
  await handle.truncate(end);
  await handle.datasync();
  return { size: end, tornBytes: size - end };
}

/** Offset just past the last newline of the first `size` bytes, 0 when there is none. */
async function lastNewlineEnd(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(TAIL_CHUNK);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - TAIL_CHUNK);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const at = chunk.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (at !== -1) return start + at + 1;
    end = start;
  }
  return 0;
}

async function readKeys(
  file: string,
  size: number,
  done: Set<string>,
  onExisting?: (record: ResultRecord) => void,
): Promise<{ records: number; invalid: number }> {
  let records = 0;
  let invalid = 0;
  if (size === 0) return { records, invalid };
  const lines = createInterface({
    input: createReadStream(file, { start: 0, end: size - 1, encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    const record = parseRecord(line);
    if (!record) {
      invalid += 1;
      continue;
    }
    records += 1;
    done.add(record.key);
    onExisting?.(record);
  }
  return { records, invalid };
}

/**
 * Creates the lock file with our pid, exclusively. A lock left by a process that no longer
 * exists (killed with SIGKILL) is taken over; a live one is an error naming its pid.
 */
async function acquireLock(lockFile: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new Error(`${lockFile} is held by running process ${owner}`);
    }
    await unlink(lockFile).catch(() => undefined);
  }
  throw new Error(`could not take the lock ${lockFile}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
