/**
 * `model:package`: turns a TF.js model directory and our metadata into one release artifact,
 * a `.tar.gz` holding the model files, `metadata.json` stamped with the release version, the
 * golden photos with `golden/expected.json`, and `SHA256SUMS` over all of them. The model is
 * validated and run before anything is written, so a model that cannot pass `model:verify`
 * is never packaged.
 */
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { MODEL_FILES } from '../contract';
import type { BackendRequest } from '../inference/backend';
import { createInferenceCore, type InferenceCore } from '../inference/core';
import { readModelDirectory, type ModelFiles } from '../model/load-model';
import { createArchive, unsafePathReason } from './archive';
import {
  chooseGoldenPhotos,
  GOLDEN_DEFAULTS,
  goldenFileName,
  identifyPhoto,
  readGoldenSource,
  type GoldenCandidate,
  type GoldenChoice,
  type GoldenIndex,
} from './golden';
import { listFiles, sha256File, writeManifest } from './manifest';

/** Options of {@link packageModel}; mirrors the CLI flags. */
export interface PackageOptions {
  /** TF.js model directory (model.json and its shards). */
  modelDir: string;
  /** Release version, written into metadata.json; becomes a folder name and an AMI tag. */
  version: string;
  /** Artifact file to write (`.tar.gz`); replaced atomically. */
  out: string;
  /** Metadata file when it is not `<modelDir>/metadata.json`. */
  metadataPath?: string;
  /** Golden photo source (folder with labels.csv, or a `photo,breed` list); default pets. */
  golden?: string;
  /** Golden photos to choose from a folder source. */
  goldenCount?: number;
  /** Inference backend used to run the model; default auto. */
  backend?: BackendRequest;
}

/** What {@link packageModel} wrote. */
export interface PackageResult {
  out: string;
  /** SHA-256 of the artifact file itself. */
  sha256: string;
  bytes: number;
  model: { name: string; version: string };
  /** Every file in the artifact, `SHA256SUMS` included. */
  files: string[];
  golden: GoldenChoice[];
}

/** A packaging failure that is the input's fault; names the file. */
export class PackageError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'PackageError';
  }
}

/**
 * Semantic versions only: the version becomes a folder on the image, an AMI tag and part of the
 * AMI name, and the Packer template accepts nothing else, so a release that could not be baked
 * is refused here rather than an hour into the workflow.
 */
export const VERSION_PATTERN = /^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$/;

/** `<SHARED_DIR or ../shared>/pets`: the labelled photos beside the repository. */
export function defaultGoldenSource(): string {
  const shared = process.env.SHARED_DIR ?? path.resolve(process.cwd(), '..', 'shared');
  return path.join(shared, 'pets');
}

/** Builds the artifact; throws ModelLoadError, GoldenError or PackageError naming the file. */
export async function packageModel(options: PackageOptions): Promise<PackageResult> {
  if (!VERSION_PATTERN.test(options.version)) {
    throw new PackageError(options.version, 'version must be a semantic version such as 1.4.0');
  }
  const source = await readModelDirectory(options.modelDir, {
    metadataPath: options.metadataPath,
  });
  const stage = await mkdtemp(path.join(os.tmpdir(), 'breed-package-'));
  try {
    await stageModel(source, stage, options.version);
    const golden = await stageGolden(stage, options);
    await writeManifest(stage);
    const files = await listFiles(stage);
    await writeArtifact(stage, files, options.out);
    const { size } = await stat(options.out);
    const model = { name: source.metadata.name, version: options.version };
    return {
      out: options.out,
      sha256: await sha256File(options.out),
      bytes: size,
      model,
      files,
      golden,
    };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Copies model.json and every shard it names, and writes the versioned metadata. */
async function stageModel(source: ModelFiles, stage: string, version: string): Promise<void> {
  const modelJsonPath = path.join(source.dir, MODEL_FILES.modelJson);
  const modelJson = JSON.parse(await readFile(modelJsonPath, 'utf8')) as {
    weightsManifest: { paths: string[] }[];
  };
  const shards = modelJson.weightsManifest.flatMap((group) => group.paths);
  for (const file of [MODEL_FILES.modelJson, ...shards]) {
    const reason = unsafePathReason(file);
    if (reason) throw new PackageError(path.join(source.dir, file), `shard path ${reason}`);
    await mkdir(path.dirname(path.join(stage, file)), { recursive: true });
    await copyFile(path.join(source.dir, file), path.join(stage, file));
  }

  // The raw file, not the parsed object: fields this version of the code does not know survive.
  const metadata = JSON.parse(await readFile(source.metadataPath, 'utf8')) as object;
  const stamped = { ...metadata, version };
  await writeFile(path.join(stage, MODEL_FILES.metadata), `${JSON.stringify(stamped, null, 2)}\n`);
}

/** Runs the staged model over the golden source and copies the photos it gets right. */
async function stageGolden(stage: string, options: PackageOptions): Promise<GoldenChoice[]> {
  const core = await createInferenceCore({
    modelDir: stage,
    backend: options.backend ?? 'auto',
    workers: 1,
    maxBatchSize: 1,
  });
  try {
    const sourcePath = options.golden ?? defaultGoldenSource();
    const source = await readGoldenSource(sourcePath, core.metadata);
    const chosen = source.explicit
      ? await checkEveryPhoto(core, source.candidates)
      : await chooseGoldenPhotos(core, source.candidates, {
          ...GOLDEN_DEFAULTS,
          count: options.goldenCount ?? GOLDEN_DEFAULTS.count,
        });
    if (chosen.length === 0) {
      throw new PackageError(sourcePath, 'the model identifies none of these photos right');
    }
    await writeGolden(stage, chosen);
    return chosen;
  } finally {
    await core.close();
  }
}

/** An explicit list ships as given: every photo must already be identified right. */
async function checkEveryPhoto(
  core: InferenceCore,
  candidates: readonly GoldenCandidate[],
): Promise<GoldenChoice[]> {
  const chosen: GoldenChoice[] = [];
  for (const candidate of candidates) {
    const info = core.metadata.labels[candidate.labelIndex];
    const verdict = await identifyPhoto(core, candidate.path).catch((error: Error) => {
      throw new PackageError(candidate.path, `cannot be identified (${error.message})`);
    });
    if (!info?.breed || !info.species || verdict.breed !== info.breed) {
      const answer = verdict.breed ?? 'not a pet';
      throw new PackageError(candidate.path, `the model answers ${answer}, not ${info?.breed}`);
    }
    const { confidence } = verdict;
    chosen.push({ ...candidate, breed: info.breed, species: info.species, confidence });
  }
  return chosen;
}

async function writeGolden(stage: string, chosen: readonly GoldenChoice[]): Promise<void> {
  await mkdir(path.join(stage, MODEL_FILES.goldenDir), { recursive: true });
  const index: GoldenIndex = { photos: [] };
  for (const [position, choice] of chosen.entries()) {
    const file = goldenFileName(position, choice.source);
    await copyFile(choice.path, path.join(stage, file));
    index.photos.push({
      file,
      breed: choice.breed,
      species: choice.species,
      source: choice.source,
    });
  }
  const indexPath = path.join(stage, MODEL_FILES.goldenIndex);
  await writeFile(indexPath, `${JSON.stringify(index, null, 2)}\n`);
}

/** Writes next to the destination, then renames: a reader never sees half an artifact. */
async function writeArtifact(stage: string, files: string[], out: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  const partial = `${out}.partial-${process.pid}`;
  try {
    await createArchive(stage, files, partial);
    await rename(partial, out);
  } finally {
    await rm(partial, { force: true });
  }
}
