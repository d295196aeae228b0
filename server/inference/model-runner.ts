/**
 * Runs the model on batches of preprocessed images on one TensorFlow.js backend. One runner
 * lives in each worker thread (wasm, cpu) or in the main thread (native backends).
 */
import type * as TF from '@tensorflow/tfjs';
import { ModelLoadError } from '../model/model-load-error';

/** What a runner needs to build the model: the artifacts from `readModelDirectory`. */
export interface RunnerModel {
  format: 'layers-model' | 'graph-model';
  artifacts: Record<string, unknown>;
  input: { width: number; height: number };
  labelCount: number;
  metadataPath: string;
}

/** A loaded model that turns input batches into class probabilities. */
export class ModelRunner {
  private constructor(
    private readonly tf: typeof TF,
    private readonly model: TF.LayersModel | TF.GraphModel,
    private readonly inputShape: [number, number, number],
    readonly outputSize: number,
  ) {}

  /** Builds the model from in-memory artifacts: nothing is read from disk or the network. */
  static async load(tf: typeof TF, spec: RunnerModel): Promise<ModelRunner> {
    const handler = { load: async () => spec.artifacts as unknown as TF.io.ModelArtifacts };
    const model =
      spec.format === 'layers-model'
        ? await tf.loadLayersModel(handler)
        : await tf.loadGraphModel(handler);
    const runner = new ModelRunner(tf, model, [spec.input.height, spec.input.width, 3], 0);
    const outputSize = await runner.probeOutputSize();
    if (outputSize !== spec.labelCount) {
      throw new ModelLoadError(
        spec.metadataPath,
        `metadata lists ${spec.labelCount} labels but the model outputs ${outputSize} classes`,
      );
    }
    return new ModelRunner(tf, model, runner.inputShape, outputSize);
  }

  /** Runs `batch` images laid out NHWC in `input`; returns `batch * outputSize` probabilities. */
  async run(input: Float32Array, batch: number): Promise<Float32Array> {
    const expected = batch * this.inputShape.reduce((a, b) => a * b, 1);
    if (input.length !== expected) {
      throw new Error(`input holds ${input.length} values, expected ${expected}`);
    }
    const x = this.tf.tensor4d(input, [batch, ...this.inputShape]);
    try {
      const y = this.model.predict(x) as TF.Tensor;
      try {
        return (await y.data()) as Float32Array;
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  /** Runs every batch size once so the first real request pays no compilation or allocation. */
  async warmUp(batchSizes: readonly number[]): Promise<void> {
    const size = this.inputShape.reduce((a, b) => a * b, 1);
    for (const batch of batchSizes) await this.run(new Float32Array(batch * size), batch);
  }

  /** Tensors alive on the backend: constant between requests unless something leaks. */
  numTensors(): number {
    return this.tf.memory().numTensors;
  }

  private async probeOutputSize(): Promise<number> {
    const x = this.tf.zeros([1, ...this.inputShape]);
    try {
      const y = this.model.predict(x) as TF.Tensor;
      const shape = y.shape;
      y.dispose();
      return shape[shape.length - 1] ?? 0;
    } finally {
      x.dispose();
    }
  }
}
