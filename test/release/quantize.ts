/**
 * Writes a weight-quantized copy of a TF.js model folder, the way `tensorflowjs_converter
 * --quantize_float16` / `--quantize_uint8` store weights (the `quantization` entry of each
 * weight in model.json), so that tests can check `model:verify --original` on a real quantized
 * model without the Python converter.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

interface ModelJson {
  weightsManifest: { paths: string[]; weights: WeightEntry[] }[];
  [key: string]: unknown;
}

/** Quantization schemes the TF.js weight loader understands. */
export type Quantization = 'float16' | 'uint8';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 half-precision bits of a number, rounded to nearest even. */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - exponent;
    const rounded = (full + (1 << (shift - 1)) - 1 + ((full >>> shift) & 1)) >>> shift;
    return sign | rounded;
  }
  const rounded = mantissa + 0xfff + ((mantissa >>> 13) & 1);
  if (rounded & 0x800000)
    return exponent + 1 >= 0x1f ? sign | 0x7c00 : sign | ((exponent + 1) << 10);
  return sign | (exponent << 10) | (rounded >>> 13);
}

function quantizeWeight(values: Float32Array, scheme: Quantization) {
  if (scheme === 'float16') {
    const out = new Uint16Array(values.length);
    values.forEach((v, i) => (out[i] = toFloat16Bits(v)));
    return { bytes: Buffer.from(out.buffer), quantization: { dtype: 'float16' } };
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const scale = max > min ? (max - min) / 255 : 1;
  const out = new Uint8Array(values.length);
  values.forEach((v, i) => (out[i] = Math.round((v - min) / scale)));
  return { bytes: Buffer.from(out.buffer), quantization: { dtype: 'uint8', min, scale } };
}

/**
 * Copies the float32 model in `source` to `target` with every float32 weight quantized; one
 * shard per weight group, named as before. Returns the total shard bytes written.
 */
export async function writeQuantizedModel(
  source: string,
  target: string,
  scheme: Quantization,
): Promise<number> {
  const model = JSON.parse(await readFile(path.join(source, 'model.json'), 'utf8')) as ModelJson;
  await mkdir(target, { recursive: true });
  let total = 0;
  for (const group of model.weightsManifest) {
    const data = Buffer.concat(
      await Promise.all(group.paths.map((p) => readFile(path.join(source, p)))),
    );
    const pieces: Buffer[] = [];
    let offset = 0;
    for (const weight of group.weights) {
      const count = weight.shape.reduce((n, d) => n * d, 1);
      const slice = data.subarray(offset, offset + count * 4);
      offset += count * 4;
      const values = new Float32Array(
        slice.buffer.slice(slice.byteOffset, slice.byteOffset + slice.byteLength),
      );
      const { bytes, quantization } = quantizeWeight(values, scheme);
      weight.quantization = quantization;
      pieces.push(bytes);
    }
    const shard = Buffer.concat(pieces);
    group.paths = [group.paths[0] as string];
    await writeFile(path.join(target, group.paths[0] as string), shard);
    total += shard.length;
  }
  await writeFile(path.join(target, 'model.json'), JSON.stringify(model));
  return total;
}
