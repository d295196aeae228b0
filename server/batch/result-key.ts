/**
 * The output object of a photo is named after its input key, so that a result written twice
 * (a redelivered message, a rerun) overwrites the same object instead of adding a second one.
 */

/** Suffix of every result object. */
export const RESULT_SUFFIX = '.json';

/** `<prefix><key>.json`; the prefix is used as given (include the trailing slash). */
export function resultKey(outputPrefix: string, inputKey: string): string {
  return `${outputPrefix}${inputKey}${RESULT_SUFFIX}`;
}

/** The input key a result object was written for, or null when the name is not one of ours. */
export function inputKeyOf(outputPrefix: string, objectKey: string): string | null {
  if (!objectKey.startsWith(outputPrefix) || !objectKey.endsWith(RESULT_SUFFIX)) return null;
  const key = objectKey.slice(outputPrefix.length, objectKey.length - RESULT_SUFFIX.length);
  return key === '' ? null : key;
}
