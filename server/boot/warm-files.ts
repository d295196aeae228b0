/**
 * Reads every file of the model once at boot. A volume restored from an EBS snapshot fetches
 * each block from S3 the first time it is read, so the first inference would otherwise pay for
 * the model's blocks one page fault at a time; reading them in large sequential chunks up front
 * moves that cost to the boot, before the instance is put in service.
 */
import { open, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';

/** What a warm-up read. */
export interface WarmUpResult {
  files: number;
  bytes: number;
  ms: number;
}

const CHUNK_BYTES = 1 << 20;

/** Reads every regular file under `dir` (following a `current` link) and discards the bytes. */
export async function readFilesOnce(dir: string): Promise<WarmUpResult> {
  const started = performance.now();
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let files = 0;
  let bytes = 0;

  for (const file of await listFiles(await realpath(dir))) {
    bytes += await readWhole(file, buffer);
    files += 1;
  }
  return { files, bytes, ms: Math.round(performance.now() - started) };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

async function readWhole(file: string, buffer: Buffer): Promise<number> {
  const handle = await open(file, 'r');
  try {
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return total;
      total += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
