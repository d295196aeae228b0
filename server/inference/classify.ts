/**
 * From the model's class probabilities to the answer the app shows.
 *
 * The rule (README, "How a photo is judged"): a photo is a pet when the probability mass of
 * all pet classes reaches the model's `petThreshold`, or when the single most likely class is
 * a pet breed. Its species is the one with the larger mass (dog breeds summed against cat
 * breeds), and its breed the most likely class of that species. Summing the mass matters: a
 * photo of a dog spread over five terrier classes at 15 % each is plainly a dog, though no one
 * class says so.
 */
import type { ModelMetadata } from '../model/metadata';

/** One of the top classes. */
export interface Prediction {
  label: string;
  species: 'dog' | 'cat' | null;
  breed: string | null;
  confidence: number;
}

/** The verdict on one photo, without timings. */
export interface Verdict {
  isPet: boolean;
  species: 'dog' | 'cat' | null;
  breed: string | null;
  /** Probability of the breed; for a photo that is not a pet, 1 minus the pet mass. */
  confidence: number;
  predictions: Prediction[];
}

/** Applies the rule above to one image's probabilities. */
export function judge(probabilities: Float32Array, meta: ModelMetadata, top: number): Verdict {
  const mass = { dog: 0, cat: 0 };
  const best = { dog: -1, cat: -1 };
  let topIndex = 0;
  probabilities.forEach((p, i) => {
    if (p > (probabilities[topIndex] as number)) topIndex = i;
    const species = meta.labels[i]?.species;
    if (!species) return;
    mass[species] += p;
    if (best[species] < 0 || p > (probabilities[best[species]] as number)) best[species] = i;
  });

  const predictions = topPredictions(probabilities, meta, top);
  const petMass = mass.dog + mass.cat;
  const topIsPet = Boolean(meta.labels[topIndex]?.species);
  if (petMass < meta.petThreshold && !topIsPet) {
    return { isPet: false, species: null, breed: null, confidence: 1 - petMass, predictions };
  }

  const species = mass.dog >= mass.cat ? 'dog' : 'cat';
  const index = best[species];
  return {
    isPet: true,
    species,
    breed: meta.labels[index]?.breed ?? null,
    confidence: probabilities[index] ?? 0,
    predictions,
  };
}

/** The `top` most likely classes, most likely first. */
export function topPredictions(
  probabilities: Float32Array,
  meta: ModelMetadata,
  top: number,
): Prediction[] {
  const order = Array.from(probabilities.keys())
    .sort((a, b) => (probabilities[b] as number) - (probabilities[a] as number))
    .slice(0, top);
  return order.map((i) => {
    const info = meta.labels[i];
    return {
      label: info?.label ?? String(i),
      species: info?.species ?? null,
      breed: info?.breed ?? null,
      confidence: probabilities[i] as number,
    };
  });
}
