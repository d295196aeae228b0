/**
 * Reads the Packer template with a real HCL parser (`@cdktf/hcl2json`) for the AMI tests, and
 * the small helpers those tests share: unit files, environment files and HCL expressions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';

import { REPO_ROOT } from '../support/shared-data';

/** The template's folder. */
export const PACKER_DIR = path.join(REPO_ROOT, 'packer');

/** Parsed JSON form of one HCL file. */
export type Hcl = Record<string, unknown>;

/** Parses every `*.pkr.hcl` file of the template, by file name. */
export async function parseTemplate(): Promise<Record<string, Hcl>> {
  const files = readdirSync(PACKER_DIR).filter((name) => name.endsWith('.pkr.hcl'));
  const parsed: Record<string, Hcl> = {};
  for (const name of files) {
    parsed[name] = (await parse(name, readFileSync(path.join(PACKER_DIR, name), 'utf8'))) as Hcl;
  }
  return parsed;
}

/** Parses one HCL file anywhere under the template folder. */
export async function parseHclFile(relative: string): Promise<Hcl> {
  return (await parse(relative, readFileSync(path.join(PACKER_DIR, relative), 'utf8'))) as Hcl;
}

/** Reads `obj.a.b[0].c`-style paths in parsed HCL, throwing with the path when absent. */
export function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object' || !(key in current)) {
      throw new Error(`no ${keys.join('.')} in the template (stopped at ${String(key)})`);
    }
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** Text of an HCL string literal as hcl2json writes it inside `${...}` (quotes escaped). */
export function unescapeHclString(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/** Sections of a systemd unit file: section name to a list of [key, value] pairs. */
export function parseUnit(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | null = null;
  // A backslash at the end of a line continues the value on the next one, as systemd reads it.
  for (const raw of text.replace(/\\\n\s*/g, ' ').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = [];
      sections.set(section[1] ?? '', current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`unit line outside a section or without '=': ${line}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** Every value of `key` in `section` of a parsed unit. */
export function unitValues(
  unit: Map<string, [string, string][]>,
  section: string,
  key: string,
): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}
