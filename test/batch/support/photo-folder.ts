/**
 * Temporary input folders for batch runs, made of symbolic links to the shared pet photos (the
 * photos themselves are never copied), plus whatever bad files a test adds.
 */
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listPetPhotos, type PetPhoto } from '../../support/shared-data';

/** `count` labelled photos spread over the sets of labels.csv (every n-th row). */
export function samplePhotos(count: number): PetPhoto[] {
  const all = listPetPhotos();
  if (count >= all.length) return all;
  const step = all.length / count;
  return Array.from({ length: count }, (_, i) => all[Math.floor(i * step)] as PetPhoto);
}

/** A fresh temporary folder. */
export function tempDir(name: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `${name}-`));
}

/** Links each photo into `dir` under its labels.csv path; returns the keys the batch will use. */
export async function linkPhotos(dir: string, photos: PetPhoto[]): Promise<string[]> {
  for (const photo of photos) {
    const target = path.join(dir, ...photo.relative.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await symlink(photo.file, target);
  }
  return photos.map((photo) => photo.relative);
}

/** Reads a JSON Lines file into its parsed lines (asserting none is torn). */
export async function readJsonLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${file} ends with a torn line`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Removes a temporary folder. */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}
