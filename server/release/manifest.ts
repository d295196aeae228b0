/**
 * The `SHA256SUMS` manifest of a model directory or release artifact, in the format that
 * `sha256sum` writes and `sha256sum -c` checks: one line per file, the hex digest, two spaces
 * (or a space and `*` for binary mode), the path relative to the directory with `/` separators.
 * The manifest covers every other file in the directory, golden photos included, so that a
 * file added after packaging is caught as well as one changed or removed.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { MODEL_FILES } from '../contract';
import { sha256File } from '../model/manifest';

// One hashing routine for the loader and the release tooling.
export { sha256File };

/** One line of the manifest. */
export interface ManifestEntry {
  /** Path relative to the directory, `/`-separated. */
  file: string;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
}

/** One problem found while checking a directory against its manifest. */
export interface ManifestProblem {
  /** Path relative to the directory of the file concerned. */
  file: string;
  /** What is wrong with it, in a sentence that can follow the file name. */
  problem: string;
}

/** Thrown when the manifest itself cannot be read or parsed. */
export class ManifestFormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ManifestFormatError';
  }
}

const LINE_PATTERN = /^([0-9a-fA-F]{64}) [ *](.+)$/;

/** Every regular file below `dir`, relative and `/`-separated, sorted; links are reported. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const relative = path.relative(dir, path.join(entry.parentPath, entry.name));
    const portable = relative.split(path.sep).join('/');
    if (entry.isSymbolicLink()) {
      throw new ManifestFormatError(portable, 'is a symbolic link; a model holds regular files');
    }
    if (entry.isFile()) files.push(portable);
  }
  return files.sort();
}

/** Text of a manifest for these entries, sorted by path so the bytes are reproducible. */
export function formatManifest(entries: readonly ManifestEntry[]): string {
  const sorted = [...entries].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return sorted.map((entry) => `${entry.sha256}  ${entry.file}\n`).join('');
}

/** Parses manifest text; `source` names the manifest in error messages. */
export function parseManifest(
  text: string,
  source: string = MODEL_FILES.manifest,
): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();

  for (const [index, line] of lines.entries()) {
    const match = LINE_PATTERN.exec(line);
    if (!match?.[1] || !match[2]) {
      throw new ManifestFormatError(source, `line ${index + 1} is not "<sha256>  <file>"`);
    }
    const file = match[2];
    checkRelativePath(file, source, index + 1);
    if (seen.has(file)) {
      throw new ManifestFormatError(source, `line ${index + 1} lists ${file} a second time`);
    }
    seen.add(file);
    entries.push({ file, sha256: match[1].toLowerCase() });
  }
  if (entries.length === 0) throw new ManifestFormatError(source, 'lists no files');
  return entries;
}

function checkRelativePath(file: string, source: string, line: number): void {
  const parts = file.split('/');
  const unsafe =
    file.startsWith('/') || file.includes('\\') || parts.some((p) => p === '..' || p === '');
  if (unsafe) {
    throw new ManifestFormatError(source, `line ${line} names an unsafe path: ${file}`);
  }
}

/** Hashes every file below `dir` except the manifest and writes `SHA256SUMS`; returns entries. */
export async function writeManifest(dir: string): Promise<ManifestEntry[]> {
  const files = (await listFiles(dir)).filter((file) => file !== MODEL_FILES.manifest);
  const entries: ManifestEntry[] = [];
  for (const file of files) {
    entries.push({ file, sha256: await sha256File(path.join(dir, file)) });
  }
  await writeFile(path.join(dir, MODEL_FILES.manifest), formatManifest(entries));
  return entries;
}

/**
 * Checks `dir` against its `SHA256SUMS`: every listed file present with the listed digest, and
 * no file present that the manifest does not list. Returns every problem, not only the first,
 * so one run names all the damage. Throws `ManifestFormatError` when the manifest is absent or
 * unreadable, because then nothing can be checked.
 */
export async function checkManifest(dir: string): Promise<ManifestProblem[]> {
  const manifestPath = path.join(dir, MODEL_FILES.manifest);
  const text = await readFile(manifestPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    const reason = error.code === 'ENOENT' ? 'is missing' : `cannot be read (${error.code})`;
    throw new ManifestFormatError(MODEL_FILES.manifest, reason);
  });
  const entries = parseManifest(text);
  const present = new Set((await listFiles(dir)).filter((f) => f !== MODEL_FILES.manifest));
  const problems: ManifestProblem[] = [];

  for (const entry of entries) {
    if (!present.has(entry.file)) {
      problems.push({ file: entry.file, problem: 'is listed in SHA256SUMS but missing' });
      continue;
    }
    present.delete(entry.file);
    const actual = await sha256File(path.join(dir, entry.file));
    if (actual !== entry.sha256) {
      problems.push({
        file: entry.file,
        problem: `has SHA-256 ${actual}, SHA256SUMS expects ${entry.sha256} (file was altered)`,
      });
    }
  }
  for (const extra of present) {
    problems.push({ file: extra, problem: 'is present but not listed in SHA256SUMS' });
  }
  return problems;
}
