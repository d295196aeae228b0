/**
 * SHA-256 manifests in the `sha256sum` format (`<hex>  <name>` per line), the format of
 * `SHA256SUMS` in a model directory and a release artifact, so `sha256sum -c` checks them too.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { ModelLoadError } from './model-load-error';

/** One manifest entry: a file name relative to the manifest's directory and its SHA-256. */
export interface ManifestEntry {
  file: string;
  sha256: string;
}

/** Parses manifest text; `source` names the manifest in errors. */
export function parseManifest(text: string, source: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trimEnd();
    if (line === '') continue;

    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!match?.[1] || !match[2]) {
      throw new ModelLoadError(source, `line ${index + 1} is not "<sha256>  <file>"`);
    }
    const file = match[2];
    if (path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) {
      throw new ModelLoadError(source, `line ${index + 1} names a path outside the directory`);
    }
    entries.push({ file, sha256: match[1].toLowerCase() });
  }
  return entries;
}

/** Formats entries as manifest text, sorted by file name. */
export function formatManifest(entries: readonly ManifestEntry[]): string {
  return [...entries]
    .sort((a, b) => a.file.localeCompare(b.file))
    .map((entry) => `${entry.sha256}  ${entry.file}\n`)
    .join('');
}

/** SHA-256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Checks every entry against the files under `dir`; throws naming the first file that is
 * missing or whose content differs.
 */
export async function verifyManifest(
  dir: string,
  entries: readonly ManifestEntry[],
): Promise<void> {
  for (const entry of entries) {
    const file = path.join(dir, entry.file);
    let actual: string;
    try {
      actual = await sha256File(file);
    } catch {
      throw new ModelLoadError(file, 'listed in SHA256SUMS but missing');
    }
    if (actual !== entry.sha256) {
      throw new ModelLoadError(
        file,
        `SHA-256 ${actual} does not match SHA256SUMS (${entry.sha256})`,
      );
    }
  }
}
