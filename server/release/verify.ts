/**
 * `model:verify`: the one verification a model release goes through, in CI, in the AMI build
 * and (through {@link verifyModelDirectory} or {@link checkGoldenPhotos}) at server start-up.
 * It never needs the network: safe unpack, manifest, model load with the real inference core,
 * golden photos identified again, and optionally top-1 agreement with an original model.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { MODEL_FILES } from '../contract';
import type { BackendRequest } from '../inference/backend';
import { createInferenceCore, type InferenceCore } from '../inference/core';
import { ModelLoadError } from '../model/load-model';
import { ArchiveError, extractArchive } from './archive';
import { GoldenError, identifyPhoto, parseGoldenIndex, type GoldenIndex } from './golden';
import { checkManifest, ManifestFormatError, sha256File } from './manifest';

/** Options of {@link verifyArtifact}; mirrors the CLI flags. */
export interface VerifyOptions {
  /** The model this one was converted or quantized from (artifact or model directory). */
  original?: string;
  /** Metadata for an original directory that has none; default the verified model's. */
  originalMetadata?: string;
  /** Lowest top-1 agreement with the original that passes, 0 to 1; default 0 (report only). */
  minAgreement?: number;
  /** Keep the verified files here (absent or empty folder); removed again if verification fails. */
  extractTo?: string;
  /** Inference backend; default auto (GPU when present, else wasm). */
  backend?: BackendRequest;
}

/** One reason verification failed, naming the file (relative to the model) at fault. */
export interface VerifyProblem {
  file: string;
  problem: string;
}

/** The answer for one golden photo. */
export interface GoldenResult {
  file: string;
  expected: string;
  actual: string | null;
  confidence: number;
  ok: boolean;
}

/** Top-1 agreement of the verified model with the original over the golden photos. */
export interface AgreementReport {
  agreed: number;
  total: number;
  ratio: number;
  disagreements: { file: string; model: string | null; original: string | null }[];
}

/** Everything verification found; `ok` is true only when `problems` is empty. */
export interface VerifyReport {
  ok: boolean;
  /** The artifact or folder verified. */
  target: string;
  /** SHA-256 of the artifact file; null for a folder. */
  sha256: string | null;
  model: { name: string; version: string } | null;
  backend: string | null;
  problems: VerifyProblem[];
  golden: GoldenResult[];
  agreement: AgreementReport | null;
}

/** The target does not exist or the options are contradictory: the caller's mistake. */
export class VerifyUsageError extends Error {
  override name = 'VerifyUsageError';
}

/**
 * Verifies a release artifact (`.tar.gz`) or an unpacked model folder. Never throws for a bad
 * model: the report lists the problems. Throws {@link VerifyUsageError} for a missing target.
 */
export async function verifyArtifact(
  target: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const info = await stat(target).catch(() => null);
  if (!info) throw new VerifyUsageError(`${target}: no such artifact or folder`);
  if (info.isDirectory()) return verifyModelDirectory(target, options);

  const report = emptyReport(target);
  report.sha256 = await sha256File(target);
  const dir = options.extractTo ?? (await mkdtemp(path.join(os.tmpdir(), 'breed-verify-')));
  try {
    await extractArchive(target, dir);
    Object.assign(report, await verifyModelDirectory(dir, options), {
      target,
      sha256: report.sha256,
    });
  } catch (error) {
    report.problems.push(describeFailure(error, dir));
  } finally {
    report.ok = report.problems.length === 0;
    if (!options.extractTo || !report.ok) await rm(dir, { recursive: true, force: true });
  }
  return report;
}

/** Verifies an unpacked model folder: manifest, load, golden photos, agreement. */
export async function verifyModelDirectory(
  dir: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const report = emptyReport(dir);
  const fail = (error: unknown) => {
    report.problems.push(describeFailure(error, dir));
    return report;
  };

  const damaged = await checkManifest(dir).catch((error: unknown) => [describeFailure(error, dir)]);
  report.problems.push(...damaged);
  if (damaged.length > 0) return finish(report);

  let core: InferenceCore;
  try {
    core = await openCore(dir, undefined, options);
  } catch (error) {
    return finish(fail(error));
  }
  try {
    report.model = { name: core.metadata.name, version: core.metadata.version };
    report.backend = core.backend;
    const index = await readGoldenIndex(dir);
    report.golden = await checkGoldenPhotos(core, dir, index);
    report.problems.push(...goldenProblems(report.golden));
    if (options.original) {
      report.agreement = await compareWithOriginal(core, dir, index, options);
    }
    report.problems.push(...agreementProblems(report.agreement, options.minAgreement));
  } catch (error) {
    fail(error);
  } finally {
    await core.close();
  }
  return finish(report);
}

/**
 * Identifies every golden photo of `dir` with an already loaded core (the server calls this
 * after its own load, instead of loading the model twice) and returns one result per photo.
 */
export async function checkGoldenPhotos(
  core: InferenceCore,
  dir: string,
  index?: GoldenIndex,
): Promise<GoldenResult[]> {
  const photos = (index ?? (await readGoldenIndex(dir))).photos;
  const results: GoldenResult[] = [];
  for (const photo of photos) {
    const verdict = await identifyPhoto(core, path.join(dir, photo.file)).catch(() => null);
    results.push({
      file: photo.file,
      expected: photo.breed,
      actual: verdict ? verdict.breed : null,
      confidence: verdict?.confidence ?? 0,
      ok: verdict?.breed === photo.breed,
    });
  }
  return results;
}

/** Reads and checks `golden/expected.json` of a model folder. */
export async function readGoldenIndex(dir: string): Promise<GoldenIndex> {
  const file = path.join(dir, MODEL_FILES.goldenIndex);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new GoldenError(MODEL_FILES.goldenIndex, 'missing: a release must carry golden photos');
  });
  return parseGoldenIndex(text, MODEL_FILES.goldenIndex);
}

function goldenProblems(results: readonly GoldenResult[]): VerifyProblem[] {
  return results
    .filter((result) => !result.ok)
    .map((result) => ({
      file: result.file,
      problem:
        result.actual === null
          ? `golden photo expects ${result.expected}, the model finds no breed (or cannot decode it)`
          : `golden photo expects ${result.expected}, the model now answers ${result.actual}` +
            ` (confidence ${result.confidence.toFixed(3)})`,
    }));
}

function agreementProblems(
  agreement: AgreementReport | null,
  minAgreement: number | undefined,
): VerifyProblem[] {
  if (!agreement || minAgreement === undefined || agreement.ratio >= minAgreement) return [];
  const percent = (agreement.ratio * 100).toFixed(1);
  return [
    {
      file: MODEL_FILES.goldenIndex,
      problem: `top-1 agreement with the original is ${percent} %, below ${minAgreement * 100} %`,
    },
  ];
}

/** Runs the golden photos through the original model too and counts equal top-1 labels. */
async function compareWithOriginal(
  model: InferenceCore,
  dir: string,
  index: GoldenIndex,
  options: VerifyOptions,
): Promise<AgreementReport> {
  const original = options.original as string;
  const info = await stat(original).catch(() => null);
  if (!info) throw new VerifyUsageError(`${original}: no such original artifact or folder`);
  const unpacked = info.isDirectory()
    ? null
    : await mkdtemp(path.join(os.tmpdir(), 'breed-original-'));
  try {
    if (unpacked) await extractArchive(original, unpacked);
    const originalDir = unpacked ?? original;
    const metadataPath = await originalMetadataPath(originalDir, dir, options);
    const reference = await openCore(originalDir, metadataPath, options);
    try {
      return await agreementOver(index, dir, model, reference);
    } finally {
      await reference.close();
    }
  } finally {
    if (unpacked) await rm(unpacked, { recursive: true, force: true });
  }
}

async function agreementOver(
  index: GoldenIndex,
  dir: string,
  model: InferenceCore,
  reference: InferenceCore,
): Promise<AgreementReport> {
  const disagreements: AgreementReport['disagreements'] = [];
  for (const photo of index.photos) {
    const file = path.join(dir, photo.file);
    const ours = await identifyPhoto(model, file);
    const theirs = await identifyPhoto(reference, file);
    if (ours.topLabel !== theirs.topLabel) {
      disagreements.push({ file: photo.file, model: ours.topLabel, original: theirs.topLabel });
    }
  }
  const total = index.photos.length;
  const agreed = total - disagreements.length;
  return { agreed, total, ratio: total === 0 ? 0 : agreed / total, disagreements };
}

/** A bare converted model often has no metadata of its own: it shares the release's. */
async function originalMetadataPath(
  originalDir: string,
  dir: string,
  options: VerifyOptions,
): Promise<string | undefined> {
  if (options.originalMetadata) return options.originalMetadata;
  const own = await stat(path.join(originalDir, MODEL_FILES.metadata)).catch(() => null);
  return own ? undefined : path.join(dir, MODEL_FILES.metadata);
}

/** One executor and batches of one: verification is a handful of photos, not a load test. */
function openCore(
  modelDir: string,
  metadataPath: string | undefined,
  options: VerifyOptions,
): Promise<InferenceCore> {
  return createInferenceCore({
    modelDir,
    metadataPath,
    backend: options.backend ?? 'auto',
    workers: 1,
    maxBatchSize: 1,
  });
}

function emptyReport(target: string): VerifyReport {
  return {
    ok: false,
    target,
    sha256: null,
    model: null,
    backend: null,
    problems: [],
    golden: [],
    agreement: null,
  };
}

function finish(report: VerifyReport): VerifyReport {
  report.ok = report.problems.length === 0;
  return report;
}

/** Turns an error from any step into a problem naming the file, relative to the model. */
function describeFailure(error: unknown, dir: string): VerifyProblem {
  if (error instanceof VerifyUsageError) throw error;
  const named =
    error instanceof ModelLoadError ||
    error instanceof ManifestFormatError ||
    error instanceof ArchiveError ||
    error instanceof GoldenError;
  if (!named) return describeUnnamed((error as Error).message, dir);

  const inside = path.isAbsolute(error.file) ? path.relative(dir, error.file) : error.file;
  const file = inside.startsWith('..') ? error.file : inside;
  const prefix = `${error.file}: `;
  const problem = error.message.startsWith(prefix)
    ? error.message.slice(prefix.length)
    : error.message;
  return { file: file || '.', problem };
}

/**
 * Errors from the inference worker threads arrive as plain errors (the class does not cross
 * the thread boundary), but a load error's message still starts with the file's path.
 */
function describeUnnamed(message: string, dir: string): VerifyProblem {
  const match = /^(\/[^:]+): ([\s\S]*)$/.exec(message);
  const inside = match?.[1] ? path.relative(dir, match[1]) : '..';
  if (!match?.[2] || inside.startsWith('..')) return { file: path.basename(dir), problem: message };
  return { file: inside, problem: match[2] };
}
