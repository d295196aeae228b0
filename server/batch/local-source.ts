/**
 * Photos in a local folder, found recursively. Keys are paths relative to the folder with `/`
 * separators, so a result names its photo the same way on every machine. Hidden files and
 * folders (a leading dot) are left out, as are files whose extension is not an image type
 * unless the caller asks for every file.
 */
import { opendir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { appError } from '../errors';
import { byKey, hasExtension, type PhotoRef, type PhotoSource } from './photo-source';
import { UnreadableFileError } from './record';

/** Options of a local source. */
export interface LocalSourceOptions {
  /** The folder to walk. */
  root: string;
  /** Extensions to take (lower case, no dot), or null for every file. */
  extensions: readonly string[] | null;
  /** Files larger than this get `payload_too_large` instead of being read into memory. */
  maxBytes: number;
}

/** Photos under a local folder. */
export class LocalSource implements PhotoSource {
  constructor(private readonly options: LocalSourceOptions) {}

  /** Walks the folder; rejects when the root is missing or not a folder. */
  async list(): Promise<PhotoRef[]> {
    const root = this.options.root;
    const info = await stat(root);
    if (!info.isDirectory()) throw new Error(`${root} is not a folder`);

    const keys: string[] = [];
    await this.walk(root, '', keys, new Set());
    return keys
      .filter((key) => hasExtension(key, this.options.extensions))
      .map((key) => this.ref(key))
      .sort(byKey);
  }

  private async walk(dir: string, prefix: string, keys: string[], seen: Set<string>) {
    // A linked folder that leads back up the tree would make the walk endless: each real
    // folder is walked once.
    const real = await realpath(dir);
    if (seen.has(real)) return;
    seen.add(real);

    for await (const entry of await opendir(dir)) {
      if (entry.name.startsWith('.')) continue;
      const key = prefix + entry.name;
      const full = path.join(dir, entry.name);
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await isFolder(full)));
      if (isDir) await this.walk(full, `${key}/`, keys, seen);
      else keys.push(key);
    }
  }

  private ref(key: string): PhotoRef {
    const file = path.join(this.options.root, ...key.split('/'));
    return { key, read: () => readPhoto(file, key, this.options.maxBytes) };
  }
}

async function isFolder(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isDirectory();
  } catch {
    // A dangling link is listed as a file so that it gets its own `unreadable_file` line.
    return false;
  }
}

async function readPhoto(file: string, key: string, maxBytes: number): Promise<Buffer> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new UnreadableFileError(key, { cause: err });
  }
  if (size > maxBytes) {
    throw appError('payload_too_large', `The file has ${size} bytes; the limit is ${maxBytes}.`);
  }
  try {
    return await readFile(file);
  } catch (err) {
    throw new UnreadableFileError(key, { cause: err });
  }
}
