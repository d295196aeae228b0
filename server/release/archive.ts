/**
 * The artifact's container: a gzip-compressed tar of regular files at the top level of the
 * model directory (no wrapping folder), written reproducibly (sorted entries, fixed times, no
 * owner names) so that packaging the same inputs twice gives the same SHA-256; and a safe
 * unpacker that refuses, naming the entry, anything that could write outside its destination.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';

/** Limits that keep a hostile or broken archive from filling the disk. */
export const ARCHIVE_LIMITS = Object.freeze({
  /** Most entries an artifact may hold (a model has tens of shards and a few photos). */
  maxEntries: 10_000,
  /** Most bytes all entries may expand to: 8 GiB, well above any model we would serve. */
  maxTotalBytes: 8 * 1024 ** 3,
});

/** Thrown when an archive is unreadable or holds an entry it must not. */
export class ArchiveError extends Error {
  constructor(
    /** The archive file or, for a bad entry, the entry's path inside it. */
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ArchiveError';
  }
}

/** Fixed time stamped on every entry, so archive bytes depend only on file contents. */
const FIXED_MTIME = new Date('2000-01-01T00:00:00Z');

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'Directory']);

/** Writes `files` (relative to `dir`, `/`-separated) into a reproducible `.tar.gz` at `out`. */
export async function createArchive(dir: string, files: readonly string[], out: string) {
  const sorted = [...files].sort();
  await tar.create(
    { file: out, cwd: dir, gzip: { level: 9 }, portable: true, mtime: FIXED_MTIME },
    sorted,
  );
}

/** Why an entry's path is unsafe to extract, or null when it is a plain relative path. */
export function unsafePathReason(entryPath: string): string | null {
  if (entryPath.startsWith('/') || /^[A-Za-z]:/.test(entryPath)) return 'is an absolute path';
  if (entryPath.includes('\\')) return 'contains a backslash';
  const parts = entryPath.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) return 'climbs out of the destination with ".."';
  if (parts.length === 0) return 'names the archive root';
  return null;
}

/** Checks every entry header before anything is written; returns the problems found. */
async function inspectArchive(file: string): Promise<ArchiveError[]> {
  const problems: ArchiveError[] = [];
  const seen = new Set<string>();
  let entries = 0;
  let totalBytes = 0;

  await tar.list({
    file,
    strict: true,
    onReadEntry: (entry) => {
      entries += 1;
      totalBytes += entry.size ?? 0;
      const reason = describeBadEntry(entry, seen);
      if (reason) problems.push(new ArchiveError(entry.path, reason));
    },
  });
  if (entries === 0) problems.push(new ArchiveError(file, 'holds no files'));
  if (entries > ARCHIVE_LIMITS.maxEntries) {
    problems.push(new ArchiveError(file, `holds ${entries} entries, over the limit`));
  }
  if (totalBytes > ARCHIVE_LIMITS.maxTotalBytes) {
    problems.push(new ArchiveError(file, `expands to ${totalBytes} bytes, over the limit`));
  }
  return problems;
}

function describeBadEntry(entry: tar.ReadEntry, seen: Set<string>): string | null {
  if (!ALLOWED_TYPES.has(entry.type)) {
    return `is a ${entry.type} entry; only regular files and folders are allowed`;
  }
  const reason = unsafePathReason(entry.path);
  if (reason) return reason;
  const normalised = path.posix.normalize(entry.path).replace(/\/$/, '');
  if (entry.type !== 'Directory' && seen.has(normalised)) return 'appears twice in the archive';
  seen.add(normalised);
  return null;
}

/**
 * Unpacks `file` into `dest` (created if absent; must be empty) after checking every entry:
 * no absolute paths, no `..`, no links or devices, bounded size. Throws `ArchiveError` naming
 * the first bad entry, or the archive when it is not a readable `.tar.gz`.
 */
export async function extractArchive(file: string, dest: string): Promise<void> {
  const problems = await inspectArchive(file).catch((error: Error) => {
    throw new ArchiveError(file, `is not a readable .tar.gz (${error.message})`);
  });
  if (problems[0]) throw problems[0];

  await mkdir(dest, { recursive: true });
  if ((await readdir(dest)).length > 0) {
    throw new ArchiveError(dest, 'destination folder is not empty');
  }
  // The filter repeats the checks: the file could have changed since it was listed.
  const rejected: string[] = [];
  await tar.extract({
    file,
    cwd: dest,
    strict: true,
    preserveOwner: false,
    filter: (entryPath, entry) => {
      const type = 'type' in entry ? entry.type : 'File';
      const ok = ALLOWED_TYPES.has(type) && unsafePathReason(entryPath) === null;
      if (!ok) rejected.push(entryPath);
      return ok;
    },
  });
  if (rejected[0]) throw new ArchiveError(rejected[0], 'changed to an unsafe entry while read');
}
