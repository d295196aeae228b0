/**
 * Helpers for the infrastructure tests: run the Pulumi program under the recording mocks with a
 * stack file's settings (or the dev/prod files with a few keys changed), and find what it
 * declared. Runs are cached by their settings, because every test file asks for dev and prod.
 */
import { type MockImage, type RecordedResource } from '../../infra/mocks';
import { runWithMocks, type MockRun } from '../../infra/run-with-mocks';
import { loadStackSettings, settingsFrom, type StackSettings } from '../../infra/stack-files';

const cache = new Map<string, Promise<MockRun>>();
/** The Pulumi runtime is process-wide: runs must not overlap, so each waits for the previous. */
let queue: Promise<unknown> = Promise.resolve();

/** The program's run for a stack file (`dev`, `prod`), with keys overridden (undefined unsets). */
export function runStack(
  stack: 'dev' | 'prod',
  overrides: Record<string, unknown> = {},
  images?: readonly MockImage[],
): Promise<MockRun> {
  const key = JSON.stringify([stack, overrides, images ?? null], (_key, value: unknown) =>
    value === undefined ? '(unset)' : value,
  );
  let run = cache.get(key);
  if (!run) {
    const settings = withOverrides(loadStackSettings(stack), overrides);
    run = queue.then(() => runWithMocks(settings, images));
    queue = run.catch(() => undefined);
    cache.set(key, run);
  }
  return run;
}

/** The same stack with some keys replaced. */
export function withOverrides(
  base: StackSettings,
  overrides: Record<string, unknown>,
): StackSettings {
  const stackValues: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base.values)) stackValues[key] = value;
  const merged = settingsFrom(base.stack, { ...stackValues, ...prefixed(overrides) });
  return { ...merged, secretKeys: [...base.secretKeys, ...merged.secretKeys] };
}

function prefixed(overrides: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(overrides).map(([key, value]) => [`breed-identifier:${key}`, value]),
  );
}

/** A successful run's resources; fails the test with the program's error otherwise. */
export async function resourcesOf(run: Promise<MockRun>): Promise<RecordedResource[]> {
  const { mocks, error } = await run;
  if (error) throw error;
  return mocks.resources;
}

/** Resources of one type (`aws:ec2/securityGroup:SecurityGroup`...). */
export function ofType(resources: readonly RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((resource) => resource.type === type);
}

/** The single resource of a type and name; throws when absent. */
export function named(
  resources: readonly RecordedResource[],
  type: string,
  name: string,
): RecordedResource {
  const found = resources.find((resource) => resource.type === type && resource.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
}

/** Reads a nested input by dotted path (`instanceRefresh.preferences.autoRollback`). */
export function input<T = unknown>(resource: RecordedResource, path: string): T {
  let value: unknown = resource.inputs;
  for (const part of path.split('.')) {
    value =
      value === undefined || value === null ? undefined : (value as Record<string, unknown>)[part];
  }
  return value as T;
}

/** One IAM statement as written in a policy document. */
export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, string>>;
}

/** The statements of a JSON policy document input. */
export function statements(policy: unknown): Statement[] {
  const document = JSON.parse(String(policy)) as { Statement: Statement | Statement[] };
  return Array.isArray(document.Statement) ? document.Statement : [document.Statement];
}

/** A string or list as a list. */
export function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The cloud-config text of a launch template's user data. */
export function userDataOf(template: RecordedResource): string {
  return Buffer.from(String(template.inputs.userData), 'base64').toString('utf8');
}

/** The `NAME=value` lines of the environment file written by the user data. */
export function environmentOf(template: RecordedResource): Record<string, string> {
  const lines = userDataOf(template)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line));
  return Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** True when an ALB path pattern (`*` any run of characters, `?` one) matches a path. */
export function albPatternMatches(pattern: string, path: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(path);
}
