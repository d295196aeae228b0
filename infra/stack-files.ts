/**
 * Reads Pulumi.yaml and a stack file the way the Pulumi CLI does before it starts the program:
 * the project's declared defaults, overlaid with the stack's values, every value turned into
 * the string the runtime hands to `pulumi.Config`. The offline plan and the tests use it, so
 * they run the program with exactly the configuration `pulumi up` would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as yaml from 'js-yaml';

import { PULUMI_PROJECT } from '../server/contract';

/** Repository root, where Pulumi.yaml and the stack files live. */
export const REPO_ROOT = path.resolve(__dirname, '..');

/**
 * What an encrypted stack-file value reads as offline (the plan cannot decrypt it): shaped like
 * an API key entry so validation passes; the plan never prints parameter values.
 */
export const SECRET_STAND_IN = `encrypted-in-stack-file:${'0'.repeat(64)}`;

/** One key as Pulumi.yaml declares it. */
export interface DeclaredKey {
  readonly type: string;
  readonly description?: string;
  readonly default?: unknown;
}

/** A stack's name and its configuration as the runtime sees it (`project:key` -> string). */
export interface StackSettings {
  readonly stack: string;
  readonly values: Record<string, string>;
  /** Keys whose stack-file values are encrypted; the plan shows a stand-in. */
  readonly secretKeys: string[];
}

function readYaml(file: string): Record<string, unknown> {
  const parsed = yaml.load(fs.readFileSync(file, 'utf8'));
  if (parsed === null || typeof parsed !== 'object') throw new Error(`${file} is not a YAML map`);
  return parsed as Record<string, unknown>;
}

/** The `config:` block of Pulumi.yaml. */
export function declaredKeys(root = REPO_ROOT): Record<string, DeclaredKey> {
  const project = readYaml(path.join(root, 'Pulumi.yaml'));
  return (project.config ?? {}) as Record<string, DeclaredKey>;
}

/** The string the runtime hands over for a YAML value: scalars as text, lists as JSON. */
export function runtimeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Finds a stack file from a stack name (`prod`) or a path (`Pulumi.prod.yaml`). */
export function stackFilePath(nameOrFile: string, root = REPO_ROOT): string {
  if (nameOrFile.endsWith('.yaml') || nameOrFile.includes('/')) return path.resolve(nameOrFile);
  return path.join(root, `Pulumi.${nameOrFile}.yaml`);
}

/** The stack name of `Pulumi.<stack>.yaml`. */
export function stackNameOf(file: string): string {
  const match = /^Pulumi\.(.+)\.yaml$/.exec(path.basename(file));
  if (!match?.[1]) throw new Error(`${file} is not named Pulumi.<stack>.yaml`);
  return match[1];
}

/** Project defaults overlaid with explicit values (`key` or `project:key`, YAML-typed). */
export function settingsFrom(
  stack: string,
  overrides: Record<string, unknown>,
  root = REPO_ROOT,
): StackSettings {
  const values: Record<string, string> = {};
  for (const [key, declared] of Object.entries(declaredKeys(root))) {
    if (declared.default !== undefined) {
      values[`${PULUMI_PROJECT}:${key}`] = runtimeValue(declared.default);
    }
  }
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(overrides)) {
    const full = key.includes(':') ? key : `${PULUMI_PROJECT}:${key}`;
    const secure = value !== null && typeof value === 'object' && 'secure' in value;
    if (secure) secretKeys.push(full);
    if (value === undefined) delete values[full];
    else values[full] = secure ? SECRET_STAND_IN : runtimeValue(value);
  }
  return { stack, values, secretKeys };
}

/** The settings of a stack file, defaults applied. */
export function loadStackSettings(nameOrFile: string, root = REPO_ROOT): StackSettings {
  const file = stackFilePath(nameOrFile, root);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
  const config = (readYaml(file).config ?? {}) as Record<string, unknown>;
  return settingsFrom(stackNameOf(file), config, root);
}
