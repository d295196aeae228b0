/**
 * Bake-time download of the model artifact (`node fetch-artifact.js <url> <file>`), run by
 * ami/provision/60-install-model.sh with the server's own dependencies, so the image needs no
 * AWS command line. Accepts `s3://bucket/key` (the build instance's role reads it), `https://`
 * and, for the rehearsal, `file://`. Checking the SHA-256 is the caller's job.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** Downloads `source` to `destination`, replacing it only once the download is complete. */
export async function fetchArtifact(source: string, destination: string): Promise<void> {
  const url = new URL(source);
  const partial = `${destination}.partial`;
  try {
    if (url.protocol === 'file:') await copyFile(fileURLToPath(url), partial);
    else await pipeline(await openRemote(url), createWriteStream(partial, { mode: 0o600 }));
    await rename(partial, destination);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

async function openRemote(url: URL): Promise<Readable> {
  if (url.protocol === 's3:') {
    const answer = await new S3Client({}).send(
      new GetObjectCommand({
        Bucket: url.hostname,
        Key: decodeURIComponent(url.pathname.slice(1)),
      }),
    );
    if (!(answer.Body instanceof Readable)) throw new Error(`${url.href}: empty object`);
    return answer.Body;
  }
  if (url.protocol !== 'https:') throw new Error(`${url.href}: only s3, https and file URLs`);

  const response = await fetch(url, { signal: AbortSignal.timeout(15 * 60_000) });
  if (!response.ok || !response.body) throw new Error(`${url.href}: HTTP ${response.status}`);
  return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
}

if (require.main === module) {
  const [source, destination] = process.argv.slice(2);
  if (!source || !destination) {
    console.error('usage: fetch-artifact.js <s3://|https://|file:// URL> <file>');
    process.exit(2);
  }
  fetchArtifact(source, destination).catch((error: unknown) => {
    console.error(`fetch-artifact: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
