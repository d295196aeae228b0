/**
 * Reads a model directory and checks it before anything is handed to TensorFlow.js: a bad
 * release must stop start-up with a message that names the file, not fail later mid-request.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { MODEL_FILES } from '../contract';
import { parseManifest, verifyManifest } from './manifest';
import { readMetadata, type ModelMetadata } from './metadata';
import { ModelLoadError } from './model-load-error';

export { ModelLoadError } from './model-load-error';

/** The two TF.js serialisation formats. */
export type ModelFormat = 'layers-model' | 'graph-model';

/** One weight in a TF.js weights manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** A validated model directory, with its weights read into memory. */
export interface ModelFiles {
  dir: string;
  format: ModelFormat;
  metadata: ModelMetadata;
  metadataPath: string;
  /** TF.js model artifacts, ready for an IOHandler's `load()`. */
  artifacts: Record<string, unknown> & { weightSpecs: WeightSpec[]; weightData: ArrayBuffer };
  /** Whether a SHA256SUMS manifest was present and verified. */
  manifestVerified: boolean;
}

/** Options for {@link readModelDirectory}. */
export interface ReadModelOptions {
  /** Metadata file outside the model directory; default `<dir>/metadata.json`. */
  metadataPath?: string;
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  float16: 2,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  complex64: 8,
};

/**
 * Reads and validates a model directory: model.json (layers or graph model), every weight
 * shard present with the size its manifest implies, the metadata complete, and the SHA256SUMS
 * manifest verified when present. The label count against the output size is checked when the
 * model first runs (see the executor), since only then is the output shape certain.
 */
export async function readModelDirectory(
  dir: string,
  options: ReadModelOptions = {},
): Promise<ModelFiles> {
  const root = path.resolve(dir);
  await requireDirectory(root);

  const manifestVerified = await checkManifest(root);
  const modelJsonPath = path.join(root, MODEL_FILES.modelJson);
  const modelJson = await readJson(modelJsonPath);
  const format = detectFormat(modelJson, modelJsonPath);
  const groups = readWeightGroups(modelJson, modelJsonPath);
  const weightData = await readShards(root, groups);

  const metadataPath = path.resolve(options.metadataPath ?? path.join(root, MODEL_FILES.metadata));
  const metadata = await readMetadata(metadataPath);

  const { weightsManifest, ...rest } = modelJson;
  const artifacts = { ...rest, weightSpecs: groups.flatMap((g) => g.weights), weightData };
  return { dir: root, format, metadata, metadataPath, artifacts, manifestVerified };
}

async function requireDirectory(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new ModelLoadError(dir, 'model directory does not exist');
}

async function checkManifest(dir: string): Promise<boolean> {
  const manifestPath = path.join(dir, MODEL_FILES.manifest);
  const text = await readFile(manifestPath, 'utf8').catch(() => null);
  if (text === null) return false;

  const entries = parseManifest(text, manifestPath);
  if (!entries.some((entry) => entry.file === MODEL_FILES.modelJson)) {
    throw new ModelLoadError(manifestPath, `does not list ${MODEL_FILES.modelJson}`);
  }
  await verifyManifest(dir, entries);
  return true;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ModelLoadError(file, 'missing: a model directory needs a TF.js model.json');
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('not a JSON object');
    }
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ModelLoadError(file, `not valid JSON (${(err as Error).message})`);
  }
}

/** Layers models carry a Keras config; graph models carry a GraphDef with `node`. */
function detectFormat(modelJson: Record<string, unknown>, file: string): ModelFormat {
  if (modelJson.format === 'layers-model' || modelJson.format === 'graph-model') {
    return modelJson.format;
  }
  const topology = modelJson.modelTopology as Record<string, unknown> | undefined;
  if (topology && ('model_config' in topology || 'class_name' in topology)) return 'layers-model';
  if (topology && 'node' in topology) return 'graph-model';
  throw new ModelLoadError(file, 'neither a TF.js layers model nor a graph model');
}

function readWeightGroups(modelJson: Record<string, unknown>, file: string): WeightGroup[] {
  const manifest = modelJson.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) {
    throw new ModelLoadError(file, 'weightsManifest is missing or empty');
  }
  return manifest.map((group: Partial<WeightGroup>, index) => {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights) || !group.paths.length) {
      throw new ModelLoadError(file, `weightsManifest[${index}] needs "paths" and "weights"`);
    }
    return { paths: group.paths, weights: group.weights };
  });
}

function expectedGroupBytes(group: WeightGroup): number {
  return group.weights.reduce((sum, weight) => {
    const dtype = weight.quantization?.dtype ?? weight.dtype;
    const size = BYTES_PER_ELEMENT[dtype] ?? 4;
    return sum + weight.shape.reduce((n, d) => n * d, 1) * size;
  }, 0);
}

/** Reads every shard in manifest order and checks each group's total size. */
async function readShards(dir: string, groups: WeightGroup[]): Promise<ArrayBuffer> {
  const buffers: Buffer[] = [];
  for (const group of groups) {
    const groupBuffers: Buffer[] = [];
    for (const relative of group.paths) {
      const file = path.join(dir, relative);
      if (path.relative(dir, file).startsWith('..')) {
        throw new ModelLoadError(file, 'weight shard path points outside the model directory');
      }
      const data = await readFile(file).catch(() => null);
      if (data === null) throw new ModelLoadError(file, 'weight shard is missing');
      groupBuffers.push(data);
    }

    const actual = groupBuffers.reduce((n, b) => n + b.byteLength, 0);
    const expected = expectedGroupBytes(group);
    if (actual !== expected) {
      const where = path.join(dir, group.paths.join(', '));
      throw new ModelLoadError(where, `weight shard holds ${actual} bytes, expected ${expected}`);
    }
    buffers.push(...groupBuffers);
  }

  const all = Buffer.concat(buffers);
  return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
}
