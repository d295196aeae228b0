/**
 * Fetches the server's secrets from SSM Parameter Store at boot and keeps them in an
 * environment file on the root volume. The file doubles as a cache: a warm-pool instance that
 * starts again, or any instance whose store call fails, boots with the copy it already has.
 */
import { readFile } from 'node:fs/promises';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';

import { SECRETS } from '../contract';
import { parseEnvFile, renderEnvFile, writePrivateFile } from './env-file';

/** Where the secrets came from on this boot. */
export type SecretsSource = 'store' | 'cache';

/** Raised when no usable secrets exist: the store failed and nothing is cached, or it is empty. */
export class SecretsUnavailableError extends Error {
  override readonly name = 'SecretsUnavailableError';
}

/** Inputs of {@link refreshSecrets}. */
export interface RefreshSecretsOptions {
  ssm: SSMClient;
  /** Parameter path of this stack, for example `/breed-identifier/production`. */
  parameterPath: string;
  /** The environment file to write (`IMAGE_LAYOUT.secretsEnvFile`). */
  file: string;
  /** Told when the cached copy is used instead of the store, with the store's error. */
  onFallback?: (error: Error) => void;
}

/**
 * Reads every parameter under the path and maps each known one to its environment variable.
 * Parameters this image does not know are ignored, so the stack can add one before the image
 * that reads it ships.
 */
export async function fetchSecrets(
  ssm: SSMClient,
  parameterPath: string,
): Promise<Record<string, string>> {
  const prefix = `${parameterPath.replace(/\/+$/, '')}/`;
  const known: Readonly<Record<string, string>> = SECRETS.parameters;
  const values: Record<string, string> = {};
  let nextToken: string | undefined;

  do {
    const page = await ssm.send(
      new GetParametersByPathCommand({
        Path: prefix.slice(0, -1),
        Recursive: true,
        WithDecryption: true,
        NextToken: nextToken,
      }),
    );
    for (const parameter of page.Parameters ?? []) {
      const relative = parameter.Name?.startsWith(prefix)
        ? parameter.Name.slice(prefix.length)
        : '';
      const variable = known[relative];
      if (variable && parameter.Value !== undefined) values[variable] = parameter.Value;
    }
    nextToken = page.NextToken;
  } while (nextToken);

  return values;
}

/**
 * Fetches the secrets into the file, or keeps the cached file when the store cannot be read.
 * An empty answer from a reachable store is an error and the cache is not used: it would
 * bring back keys that were revoked by deleting their parameter.
 */
export async function refreshSecrets(options: RefreshSecretsOptions): Promise<SecretsSource> {
  let values: Record<string, string>;
  try {
    values = await fetchSecrets(options.ssm, options.parameterPath);
  } catch (error) {
    const storeError = error instanceof Error ? error : new Error(String(error));
    if (!(await hasCachedSecrets(options.file))) {
      throw new SecretsUnavailableError(
        `secrets store unreachable and no cached copy at ${options.file}: ${storeError.message}`,
      );
    }
    options.onFallback?.(storeError);
    return 'cache';
  }

  if (Object.keys(values).length === 0) {
    throw new SecretsUnavailableError(`no known parameters under ${options.parameterPath}`);
  }
  const header = `written by the boot agent from ${options.parameterPath}; mode 0600`;
  await writePrivateFile(options.file, renderEnvFile(values, header));
  return 'store';
}

async function hasCachedSecrets(file: string): Promise<boolean> {
  try {
    return Object.keys(parseEnvFile(await readFile(file, 'utf8'))).length > 0;
  } catch {
    return false;
  }
}
