/**
 * Golden photos: a few labelled photos shipped inside every release artifact with the breed the
 * model must give for each (`golden/expected.json`). Verification identifies them again, so a
 * model that was damaged, converted badly or paired with the wrong metadata fails before it
 * reaches an instance, and the staging smoke test sends the same photos to the live endpoint.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

import type { InferenceCore } from '../inference/core';
import type { ModelMetadata } from '../model/metadata';

/** One golden photo as written in `golden/expected.json`. */
export interface GoldenPhoto {
  /** Path inside the artifact, `golden/<name>`. */
  file: string;
  /** Breed the model must answer (the metadata's display `breed`). */
  breed: string;
  /** Species of that breed. */
  species: 'dog' | 'cat';
  /** Where the photo came from, for people reading the index. */
  source?: string;
}

/** Contents of `golden/expected.json`. */
export interface GoldenIndex {
  photos: GoldenPhoto[];
}

/** A photo offered for the golden set, before the model has been asked about it. */
export interface GoldenCandidate {
  /** Absolute path of the photo. */
  path: string;
  /** Index of the label the photo shows, in the model's metadata. */
  labelIndex: number;
  /** Path as the source names it (relative to the source folder or list). */
  source: string;
}

/** A candidate the model identified as expected, ready to copy into the artifact. */
export interface GoldenChoice extends GoldenCandidate {
  breed: string;
  species: 'dog' | 'cat';
  confidence: number;
}

/** Thrown when a golden source or index cannot be used; names the file. */
export class GoldenError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'GoldenError';
  }
}

/** How many golden photos a release carries by default, and how many of them must be cats. */
export const GOLDEN_DEFAULTS = Object.freeze({ count: 6, minCats: 2, minConfidence: 0.7 });

const photoSchema = z.object({
  file: z.string().regex(/^golden\/[A-Za-z0-9._-]+$/, 'must be golden/<name> with a plain name'),
  breed: z.string().min(1),
  species: z.enum(['dog', 'cat']),
  source: z.string().optional(),
});
const indexSchema = z.object({ photos: z.array(photoSchema).min(1) });

/** Parses and checks `golden/expected.json`; `file` names it in errors. */
export function parseGoldenIndex(text: string, file: string): GoldenIndex {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GoldenError(file, `is not valid JSON (${(error as Error).message})`);
  }
  const parsed = indexSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 'top level';
    throw new GoldenError(file, `${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Candidates from a golden source; `explicit` when every one of them must be shipped. */
export interface GoldenSource {
  candidates: GoldenCandidate[];
  explicit: boolean;
}

/**
 * Reads the candidates a `--golden` option points at, or the default pets folder:
 * - a folder with `labels.csv` (the `shared/pets` format: file,label,imagenet_index,...), from
 *   which the model's right answers are chosen;
 * - a CSV list file of `photo,breed` lines (a metadata `breed` or `label`, photo paths relative
 *   to the list), all of which are shipped and must be identified right.
 */
export async function readGoldenSource(
  source: string,
  metadata: ModelMetadata,
): Promise<GoldenSource> {
  const info = await stat(source).catch(() => null);
  if (!info) throw new GoldenError(source, 'golden photo source does not exist');
  if (info.isDirectory())
    return { candidates: await readPetsFolder(source, metadata), explicit: false };
  return { candidates: await readListFile(source, metadata), explicit: true };
}

async function readPetsFolder(dir: string, metadata: ModelMetadata): Promise<GoldenCandidate[]> {
  const csv = path.join(dir, 'labels.csv');
  const text = await readFile(csv, 'utf8').catch(() => {
    throw new GoldenError(csv, 'missing: a golden folder needs labels.csv');
  });
  const [header, ...rows] = text.trim().split('\n');
  if (!header?.startsWith('file,label,imagenet_index')) {
    throw new GoldenError(csv, 'header must start with file,label,imagenet_index');
  }
  const byName = labelLookup(metadata);
  const imagenet = metadata.labels.length === 1000;
  const candidates: GoldenCandidate[] = [];
  for (const row of rows) {
    const [file, label, index] = row.split(',');
    if (!file || !label) continue;
    // ImageNet indices only mean something to a model with the 1000 ImageNet classes.
    const labelIndex = imagenet && index ? Number(index) : byName.get(normalise(label));
    if (labelIndex === undefined || !metadata.labels[labelIndex]?.breed) continue;
    candidates.push({ path: path.join(dir, file), labelIndex, source: file });
  }
  return candidates;
}

async function readListFile(file: string, metadata: ModelMetadata): Promise<GoldenCandidate[]> {
  const text = await readFile(file, 'utf8');
  const byName = labelLookup(metadata);
  const candidates: GoldenCandidate[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const comma = line.indexOf(',');
    const photo = line.slice(0, comma).trim();
    const labelIndex = byName.get(normalise(line.slice(comma + 1)));
    if (comma < 1 || labelIndex === undefined || !metadata.labels[labelIndex]?.breed) {
      throw new GoldenError(file, `line ${index + 1}: expected "photo,breed" with a known breed`);
    }
    candidates.push({ path: path.resolve(path.dirname(file), photo), labelIndex, source: photo });
  }
  if (candidates.length === 0) throw new GoldenError(file, 'lists no photos');
  return candidates;
}

function normalise(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Maps a breed's display name, full label and first synonym to its label index. */
function labelLookup(metadata: ModelMetadata): Map<string, number> {
  const lookup = new Map<string, number>();
  metadata.labels.forEach((info, index) => {
    if (!info.breed) return;
    lookup.set(normalise(info.label), index);
    lookup.set(normalise(info.label.split(',')[0] ?? ''), index);
    lookup.set(normalise(info.breed), index);
  });
  return lookup;
}

/**
 * Order in which candidates are tried: photos outside `imagenet-samples/` first (those may be
 * ImageNet training images, which flatter the model), then by path, so the choice is stable.
 */
function preferenceOrder(candidates: readonly GoldenCandidate[]): GoldenCandidate[] {
  const rank = (c: GoldenCandidate) => (c.source.startsWith('imagenet-samples/') ? 1 : 0);
  return [...candidates].sort((a, b) => rank(a) - rank(b) || a.source.localeCompare(b.source));
}

/** What the model says about one photo, reduced to what golden checks compare. */
export interface GoldenVerdict {
  breed: string | null;
  topLabel: string | null;
  confidence: number;
}

/** Identifies one photo file with the core. */
export async function identifyPhoto(core: InferenceCore, file: string): Promise<GoldenVerdict> {
  const result = await core.identify(await readFile(file), { top: 1 });
  return {
    breed: result.breed,
    topLabel: result.predictions[0]?.label ?? null,
    confidence: result.confidence,
  };
}

/**
 * Picks up to `count` photos the model gets right with some margin (top-1 class is the
 * labelled one, and the breed answer matches with at least `minConfidence`), one per breed,
 * with at least `minCats` cats when the source has them. A margin keeps the set stable across
 * backends (GPU and wasm round differently). Photos the core cannot decode are skipped.
 */
export async function chooseGoldenPhotos(
  core: InferenceCore,
  candidates: readonly GoldenCandidate[],
  settings: { count: number; minCats: number; minConfidence: number } = GOLDEN_DEFAULTS,
): Promise<GoldenChoice[]> {
  const chosen: GoldenChoice[] = [];
  const breeds = new Set<number>();
  const tried = new Set<string>();
  const ordered = preferenceOrder(candidates);
  const quota = { cat: Math.min(settings.minCats, settings.count), dog: 0 };
  quota.dog = settings.count - quota.cat;

  for (const pass of ['cat', 'dog', 'any'] as const) {
    for (const candidate of ordered) {
      if (chosen.length >= settings.count) return chosen;
      const info = core.metadata.labels[candidate.labelIndex];
      const species = info?.species;
      if (!info?.breed || !species || breeds.has(candidate.labelIndex)) continue;
      if (pass !== 'any' && (species !== pass || quotaFilled(chosen, pass, quota))) continue;
      if (tried.has(candidate.path)) continue;
      tried.add(candidate.path);

      const verdict = await identifyPhoto(core, candidate.path).catch(() => null);
      const right =
        verdict?.topLabel === info.label &&
        verdict.breed === info.breed &&
        verdict.confidence >= settings.minConfidence;
      if (!verdict || !right) continue;
      breeds.add(candidate.labelIndex);
      chosen.push({ ...candidate, breed: info.breed, species, confidence: verdict.confidence });
    }
  }
  return chosen;
}

function quotaFilled(
  chosen: GoldenChoice[],
  species: 'dog' | 'cat',
  quota: Record<string, number>,
) {
  return chosen.filter((c) => c.species === species).length >= (quota[species] ?? 0);
}

/** Name of a golden photo inside the artifact: position, then the source name made safe. */
export function goldenFileName(position: number, source: string): string {
  const base = path.basename(source).replace(/[^A-Za-z0-9._-]+/g, '_');
  const ext = path.extname(base).toLowerCase();
  const stem = base.slice(0, base.length - ext.length);
  return `golden/${String(position + 1).padStart(2, '0')}-${stem}${ext}`;
}
