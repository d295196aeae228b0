/**
 * Environment files in the subset of systemd's `EnvironmentFile=` syntax that the boot agent
 * writes and reads: one `NAME="value"` a line, `#` comments, values on a single line.
 */
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Renders variables as an environment file; refuses names or values systemd would misread. */
export function renderEnvFile(values: Readonly<Record<string, string>>, header: string): string {
  const lines = [`# ${header}`];
  for (const [name, value] of Object.entries(values).sort(([a], [b]) => a.localeCompare(b))) {
    if (!NAME.test(name)) throw new Error(`environment name ${JSON.stringify(name)} is invalid`);
    if (/[\r\n\0]/.test(value)) throw new Error(`value of ${name} spans several lines`);
    lines.push(`${name}="${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** Parses an environment file written by {@link renderEnvFile} or by hand (unquoted values). */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;

    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new Error(`line ${index + 1}: expected NAME=value`);
    const [, name, value] = match as unknown as [string, string, string];
    values[name] = unquote(value);
  }
  return values;
}

function unquote(value: string): string {
  const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(value);
  if (!quoted) return value;
  return (quoted[1] ?? '').replace(/\\(.)/g, '$1');
}

/**
 * Writes a file readable by its owner only, atomically: a half-written secrets file after a
 * power cut would be worse than the previous one, so the new content replaces it by rename.
 */
export async function writePrivateFile(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}
