/**
 * Our metadata for a model: what the TF.js files do not say. Name, version, how to turn a photo
 * into the model's input, and what each output class means for a pet app.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ModelLoadError } from './model-load-error';

const labelSchema = z.object({
  /** The class name as the model's training data names it. */
  label: z.string().min(1),
  /** `dog` or `cat` for a breed of a pet; `null` for every other class. */
  species: z.enum(['dog', 'cat']).nullable(),
  /** Clean display name of the breed; required for pet classes. */
  breed: z.string().min(1).optional(),
});

const metadataSchema = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string().optional(),
    input: z.object({
      width: z.number().int().min(8).max(4096),
      height: z.number().int().min(8).max(4096),
      channels: z.literal(3),
    }),
    /** Model input = pixel (0-255) * scale + offset. */
    normalization: z.object({ scale: z.number().positive(), offset: z.number() }),
    /** `fill` stretches, `cover` centre-crops, `contain` letterboxes (black bars). */
    resize: z.enum(['fill', 'cover', 'contain']),
    /** Minimum probability mass of the pet classes for a photo to count as a pet. */
    petThreshold: z.number().min(0).max(1),
    labels: z.array(labelSchema).min(2),
  })
  .superRefine((meta, ctx) => {
    meta.labels.forEach((entry, index) => {
      if (entry.species !== null && !entry.breed) {
        ctx.addIssue({
          code: 'custom',
          path: ['labels', index, 'breed'],
          message: `pet class "${entry.label}" needs a display breed name`,
        });
      }
    });
  });

/** One output class of the model. */
export type LabelInfo = z.infer<typeof labelSchema>;

/** A model's metadata, validated. */
export type ModelMetadata = z.infer<typeof metadataSchema>;

/** Validates parsed metadata; the error names the file and every field that is wrong. */
export function parseMetadata(value: unknown, file: string): ModelMetadata {
  const result = metadataSchema.safeParse(value);
  if (result.success) return result.data;

  const problems = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  throw new ModelLoadError(file, `metadata is incomplete or invalid: ${problems}`);
}

/** Reads and validates a metadata file. */
export async function readMetadata(file: string): Promise<ModelMetadata> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ModelLoadError(file, `cannot read metadata (${(err as Error).message})`);
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(file, `metadata is not valid JSON (${(err as Error).message})`);
  }
  return parseMetadata(value, file);
}
