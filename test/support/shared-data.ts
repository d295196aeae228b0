/**
 * Where the real test material lives: `../shared` beside the repository (the sample model and
 * the labelled pet photos). Tests read it in place; nothing from it is copied into the repo.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Root of the repository: the nearest folder with a package.json (sources or `dist/`). */
export const REPO_ROOT = findRoot(__dirname);

function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

/** `../shared`, or `SHARED_DIR` when set. */
export const SHARED_DIR = process.env.SHARED_DIR ?? path.resolve(REPO_ROOT, '..', 'shared');

/** The sample model directory (TF.js layers model, ImageNet-1k MobileNet v1 0.75). */
export const SAMPLE_MODEL_DIR = path.join(SHARED_DIR, 'models', 'mobilenet_v1_0.75_224');

/** Our metadata for the sample model, kept in the repository. */
export const SAMPLE_METADATA = path.join(REPO_ROOT, 'server', 'sample-model', 'metadata.json');

/** Folder of labelled photos. */
export const PETS_DIR = path.join(SHARED_DIR, 'pets');

/** One labelled photo from `pets/labels.csv`. */
export interface PetPhoto {
  /** Absolute path of the photo. */
  file: string;
  /** Path relative to the pets folder, as written in labels.csv. */
  relative: string;
  /** Breed as the photo's source names it. */
  label: string;
  /** ImageNet class index, or null when ImageNet has no class for the breed. */
  imagenetIndex: number | null;
  species: 'dog' | 'cat';
}

/** Every labelled photo, in labels.csv order. */
export function listPetPhotos(): PetPhoto[] {
  const lines = readFileSync(path.join(PETS_DIR, 'labels.csv'), 'utf8').trim().split('\n');
  const [header, ...rows] = lines;
  if (header !== 'file,label,imagenet_index,species,set') {
    throw new Error(`unexpected labels.csv header: ${header}`);
  }
  return rows.map((row) => {
    const [relative, label, index, species] = row.split(',');
    if (!relative || !label || (species !== 'dog' && species !== 'cat')) {
      throw new Error(`malformed labels.csv row: ${row}`);
    }
    return {
      file: path.join(PETS_DIR, relative),
      relative,
      label,
      imagenetIndex: index ? Number(index) : null,
      species,
    };
  });
}
