/**
 * Runs the Pulumi program in-process under the recording mocks, with a given stack's settings:
 * sets the configuration and the mocks first, loads the program fresh (so no module keeps the
 * previous run's configuration), then waits for every output and every registration.
 */
import * as path from 'node:path';

import * as pulumi from '@pulumi/pulumi';

import { PULUMI_PROJECT } from '../server/contract';
import { MOCK_IMAGES, RecordingMocks, type MockImage } from './mocks';
import type { StackSettings } from './stack-files';

/** What one run produced. */
export interface MockRun {
  readonly mocks: RecordingMocks;
  /** Resolved stack outputs; empty when the program failed. */
  readonly outputs: Record<string, unknown>;
  /** The error the program threw or an output failed with, if any. */
  readonly error?: Error;
}

/** Resolves an output (or plain value) to its value, rejecting when the output failed. */
export async function settle<T>(value: pulumi.Input<T>): Promise<T> {
  if (!pulumi.Output.isInstance(value)) return value as T;
  const internal = value as unknown as { promise(): Promise<T> };
  return internal.promise();
}

/**
 * Waits until the runtime's queue of resource registrations is empty, as the CLI does before it
 * exits; `waitForRPCs` is marked internal in the SDK's typings, hence the cast.
 */
async function waitForRegistrations(): Promise<void> {
  const runtime = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  if (runtime.waitForRPCs) await runtime.waitForRPCs();
}

function clearProgramModules(): void {
  const infraDir = __dirname + path.sep;
  for (const file of Object.keys(require.cache)) {
    if (file.startsWith(infraDir) && !file.endsWith(`${path.sep}mocks.ts`))
      delete require.cache[file];
  }
}

/**
 * Runs the program once with `settings` and returns what it declared. An error the program
 * throws, or an output that fails (a lookup with no result, a check inside `apply`), ends the run
 * with that error; in a real `pulumi up` the same error fails the deployment.
 */
export async function runWithMocks(
  settings: StackSettings,
  images: readonly MockImage[] = MOCK_IMAGES,
): Promise<MockRun> {
  const region = settings.values[`${PULUMI_PROJECT}:region`] ?? 'eu-west-1';
  const mocks = new RecordingMocks(region, images);
  pulumi.runtime.setAllConfig(settings.values, settings.secretKeys);
  await pulumi.runtime.setMocks(mocks, PULUMI_PROJECT, settings.stack, false);
  clearProgramModules();

  // A failed output rejects the registrations that depend on it, unobserved by the program.
  let failRun: (reason: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (failRun = reject));
  process.on('unhandledRejection', failRun);
  try {
    const outputs = await Promise.race([declareAndSettle(mocks), failed]);
    return { mocks, outputs };
  } catch (err) {
    await Promise.race([waitForRegistrations(), delay(2000)]);
    return { mocks, outputs: {}, error: err instanceof Error ? err : new Error(String(err)) };
  } finally {
    process.off('unhandledRejection', failRun);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Declares the stack inside a root stack resource and waits for every output and registration. */
async function declareAndSettle(mocks: RecordingMocks): Promise<Record<string, unknown>> {
  let declared: Record<string, pulumi.Input<unknown>> = {};
  // The root stack resource, as the Pulumi CLI's runtime creates it; it owns the transformation.
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation(mocks.transformation);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const program = require('./stack') as typeof import('./stack');
    declared = program.defineStack() as unknown as Record<string, pulumi.Input<unknown>>;
    return {};
  });
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(declared)) outputs[key] = await settle(value);
  await Promise.all(mocks.declared().map((resource) => settle(resource.urn)));
  await waitForRegistrations();
  return outputs;
}
