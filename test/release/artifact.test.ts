/**
 * `model:package` then `model:verify` on the real sample model and photos in ../shared, and the
 * ways a release goes bad: a flipped byte, a missing shard, a wrong label count, a golden photo
 * whose breed no longer matches. Each must fail with its own message naming the file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { hashApiKey } from '../../server/auth/api-keys';
import { loadConfig } from '../../server/config';
import { MODEL_FILES } from '../../server/contract';
import { createApp } from '../../server/http/app';
import { createInferenceCore } from '../../server/inference/core';
import { createLogger } from '../../server/log';
import { createArchive, extractArchive } from '../../server/release/archive';
import { main } from '../../server/release/cli';
import { listFiles, sha256File, writeManifest } from '../../server/release/manifest';
import { packageModel, type PackageResult } from '../../server/release/package';
import { runSmokeTest } from '../../server/release/smoke';
import { verifyArtifact } from '../../server/release/verify';
import { PETS_DIR, SAMPLE_METADATA, SAMPLE_MODEL_DIR } from '../support/shared-data';
import { writeQuantizedModel, type Quantization } from './quantize';

const SHARD = 'group3-shard1of1';

describe('release artifact (sample model, real photos)', function () {
  this.timeout(180_000);
  let work: string;
  let packaged: PackageResult;

  /** Unpacks the good artifact, lets `change` damage it, packs it again. */
  async function damaged(
    name: string,
    change: (dir: string) => Promise<void>,
    options: { rewriteManifest: boolean },
  ): Promise<string> {
    const dir = path.join(work, `${name}-dir`);
    await extractArchive(packaged.out, dir);
    await change(dir);
    if (options.rewriteManifest) await writeManifest(dir);
    const out = path.join(work, `${name}.tar.gz`);
    await createArchive(dir, await listFiles(dir), out);
    return out;
  }

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'release-test-'));
    packaged = await packageModel({
      modelDir: SAMPLE_MODEL_DIR,
      metadataPath: SAMPLE_METADATA,
      version: '2.3.4',
      out: path.join(work, 'model.tar.gz'),
      golden: PETS_DIR,
      backend: 'wasm',
    });
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('packageModel', () => {
    it('reports the SHA-256 of the artifact file it wrote', async () => {
      assert.equal(packaged.sha256, await sha256File(packaged.out));
      assert.equal(packaged.bytes, (await stat(packaged.out)).size);
    });

    it('holds model.json, every shard, metadata, golden photos and SHA256SUMS', async () => {
      const modelJson = JSON.parse(
        await readFile(path.join(SAMPLE_MODEL_DIR, MODEL_FILES.modelJson), 'utf8'),
      ) as { weightsManifest: { paths: string[] }[] };
      const shards = modelJson.weightsManifest.flatMap((group) => group.paths);
      for (const file of [MODEL_FILES.modelJson, MODEL_FILES.metadata, ...shards]) {
        assert.ok(packaged.files.includes(file), file);
      }
      assert.ok(packaged.files.includes(MODEL_FILES.manifest));
      assert.ok(packaged.files.includes(MODEL_FILES.goldenIndex));
      const photos = packaged.files.filter((f) => f.startsWith('golden/') && f.endsWith('.jpg'));
      assert.equal(photos.length, packaged.golden.length);
    });

    it('chooses golden photos of both species that the model gets right', () => {
      assert.ok(packaged.golden.length >= 4, `${packaged.golden.length} golden photos`);
      assert.ok(packaged.golden.some((g) => g.species === 'cat'));
      assert.ok(packaged.golden.some((g) => g.species === 'dog'));
      for (const photo of packaged.golden) assert.ok(photo.confidence >= 0.7, photo.source);
      assert.equal(new Set(packaged.golden.map((g) => g.breed)).size, packaged.golden.length);
    });

    it('writes a manifest that sha256sum -c accepts, and stamps the version', async () => {
      const dir = path.join(work, 'sha256sum-check');
      await extractArchive(packaged.out, dir);
      const output = execFileSync('sha256sum', ['--check', '--strict', MODEL_FILES.manifest], {
        cwd: dir,
        encoding: 'utf8',
      });
      assert.equal(output.trim().split('\n').length, packaged.files.length - 1);
      const metadata = JSON.parse(await readFile(path.join(dir, MODEL_FILES.metadata), 'utf8'));
      assert.equal(metadata.version, '2.3.4');
      assert.equal(metadata.labels.length, 1000);
    });

    it('ships exactly a --golden list, and refuses a photo the model gets wrong', async () => {
      const list = path.join(work, 'golden.csv');
      const persian = path.join(PETS_DIR, 'oxford-iiit-pet', 'Persian_106.jpg');
      const beagle = path.join(PETS_DIR, 'oxford-iiit-pet', 'beagle_107.jpg');
      await writeFile(list, `# photo,breed\n${persian},Persian\n${beagle},beagle\n`);
      const out = path.join(work, 'listed.tar.gz');
      const options = {
        modelDir: SAMPLE_MODEL_DIR,
        metadataPath: SAMPLE_METADATA,
        version: '1.0.0',
      };
      const listed = await packageModel({ ...options, out, golden: list, backend: 'wasm' });
      assert.deepEqual(
        listed.golden.map((g) => [path.basename(g.path), g.breed]),
        [
          ['Persian_106.jpg', 'Persian'],
          ['beagle_107.jpg', 'Beagle'],
        ],
      );

      await writeFile(list, `${beagle},Persian\n`);
      await assert.rejects(
        packageModel({ ...options, out, golden: list, backend: 'wasm' }),
        /beagle_107\.jpg: the model answers Beagle, not Persian/,
      );
    });

    it('refuses a version the image pipeline could not use', async () => {
      await assert.rejects(
        packageModel({ modelDir: SAMPLE_MODEL_DIR, version: '../1', out: 'x.tar.gz' }),
        /semantic version/,
      );
    });
  });

  describe('verifyArtifact', () => {
    it('verifies the packaged artifact: manifest, model, every golden photo', async () => {
      const report = await verifyArtifact(packaged.out, { backend: 'wasm' });
      assert.deepEqual(report.problems, []);
      assert.equal(report.ok, true);
      assert.equal(report.sha256, packaged.sha256);
      assert.deepEqual(report.model, { name: 'mobilenet_v1_0.75_224', version: '2.3.4' });
      assert.equal(report.golden.length, packaged.golden.length);
      for (const photo of report.golden) assert.equal(photo.actual, photo.expected);
    });

    it('reports top-1 agreement with the original model on the golden photos', async () => {
      const report = await verifyArtifact(packaged.out, {
        backend: 'wasm',
        original: SAMPLE_MODEL_DIR,
        originalMetadata: SAMPLE_METADATA,
        minAgreement: 1,
      });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.deepEqual(report.agreement, {
        agreed: packaged.golden.length,
        total: packaged.golden.length,
        ratio: 1,
        disagreements: [],
      });
    });

    it('names a shard with a flipped byte', async () => {
      const artifact = await damaged(
        'flipped',
        async (dir) => {
          const file = path.join(dir, SHARD);
          const bytes = await readFile(file);
          const middle = Math.floor(bytes.length / 2);
          bytes[middle] = (bytes[middle] as number) ^ 0xff;
          await writeFile(file, bytes);
        },
        { rewriteManifest: false },
      );
      const report = await verifyArtifact(artifact, { backend: 'wasm' });
      assert.equal(report.ok, false);
      assert.equal(report.problems.length, 1);
      assert.equal(report.problems[0]?.file, SHARD);
      assert.match(report.problems[0]?.problem ?? '', /SHA-256 .* expects .* altered/);
    });

    it('names a missing shard', async () => {
      const artifact = await damaged('missing', (dir) => unlink(path.join(dir, SHARD)), {
        rewriteManifest: false,
      });
      const report = await verifyArtifact(artifact, { backend: 'wasm' });
      assert.deepEqual(report.problems, [
        { file: SHARD, problem: 'is listed in SHA256SUMS but missing' },
      ]);
    });

    it('names a missing shard even when the manifest was rewritten to match', async () => {
      const artifact = await damaged('missing-rehashed', (dir) => unlink(path.join(dir, SHARD)), {
        rewriteManifest: true,
      });
      const report = await verifyArtifact(artifact, { backend: 'wasm' });
      assert.equal(report.ok, false);
      assert.equal(report.problems[0]?.file, SHARD);
      assert.match(report.problems[0]?.problem ?? '', /weight shard is missing/);
    });

    it('names the metadata when its label count differs from the model output', async () => {
      const artifact = await damaged(
        'labels',
        async (dir) => {
          const file = path.join(dir, MODEL_FILES.metadata);
          const metadata = JSON.parse(await readFile(file, 'utf8'));
          metadata.labels.pop();
          await writeFile(file, JSON.stringify(metadata));
        },
        { rewriteManifest: true },
      );
      const report = await verifyArtifact(artifact, { backend: 'wasm' });
      assert.equal(report.ok, false);
      assert.equal(report.problems[0]?.file, MODEL_FILES.metadata);
      assert.match(report.problems[0]?.problem ?? '', /999 labels .* 1000 classes/);
    });

    it('names the golden photo whose breed no longer matches', async () => {
      const target = packaged.golden[1];
      assert.ok(target);
      const wrong = packaged.golden[0]?.breed as string;
      const artifact = await damaged(
        'golden',
        async (dir) => {
          const file = path.join(dir, MODEL_FILES.goldenIndex);
          const index = JSON.parse(await readFile(file, 'utf8'));
          index.photos[1].breed = wrong;
          await writeFile(file, JSON.stringify(index));
        },
        { rewriteManifest: true },
      );
      const report = await verifyArtifact(artifact, { backend: 'wasm' });
      assert.equal(report.ok, false);
      assert.equal(report.problems.length, 1);
      assert.match(report.problems[0]?.file ?? '', /^golden\/02-/);
      assert.equal(
        report.problems[0]?.problem.startsWith(
          `golden photo expects ${wrong}, the model now answers ${target.breed}`,
        ),
        true,
        report.problems[0]?.problem,
      );
    });
  });

  describe('a quantized model against its original', () => {
    /** Packages a quantized copy with the same golden photos as the float32 release. */
    async function packageQuantized(scheme: Quantization) {
      const dir = path.join(work, `model-${scheme}`);
      const shardBytes = await writeQuantizedModel(SAMPLE_MODEL_DIR, dir, scheme);
      const list = path.join(work, `golden-${scheme}.csv`);
      await writeFile(list, packaged.golden.map((g) => `${g.path},${g.breed}\n`).join(''));
      const out = path.join(work, `model-${scheme}.tar.gz`);
      await packageModel({
        modelDir: dir,
        metadataPath: SAMPLE_METADATA,
        version: '2.3.4-' + scheme,
        out,
        golden: list,
        backend: 'wasm',
      });
      return { out, shardBytes };
    }

    it('float16 halves the weights and agrees with float32 on every photo', async () => {
      const { out, shardBytes } = await packageQuantized('float16');
      const original = await listFiles(SAMPLE_MODEL_DIR);
      let originalBytes = 0;
      for (const file of original.filter((f) => f.includes('shard'))) {
        originalBytes += (await stat(path.join(SAMPLE_MODEL_DIR, file))).size;
      }
      assert.equal(shardBytes * 2, originalBytes);

      const report = await verifyArtifact(out, {
        backend: 'wasm',
        original: packaged.out,
        minAgreement: 1,
      });
      assert.deepEqual(report.problems, []);
      assert.equal(report.agreement?.ratio, 1);
    });

    it('fails --min-agreement naming the photos where the two models disagree', async () => {
      // An original whose labels are shifted by one disagrees on every photo.
      const metadata = JSON.parse(await readFile(SAMPLE_METADATA, 'utf8'));
      metadata.labels.push(metadata.labels.shift());
      const shifted = path.join(work, 'shifted-metadata.json');
      await writeFile(shifted, JSON.stringify(metadata));
      const report = await verifyArtifact(packaged.out, {
        backend: 'wasm',
        original: SAMPLE_MODEL_DIR,
        originalMetadata: shifted,
        minAgreement: 0.5,
      });
      assert.equal(report.ok, false);
      assert.equal(report.agreement?.agreed, 0);
      assert.equal(report.agreement?.disagreements.length, packaged.golden.length);
      assert.match(report.problems[0]?.problem ?? '', /top-1 agreement .* is 0\.0 %, below 50 %/);
    });
  });

  describe('verified install and smoke test against the real server', () => {
    it('keeps verified files with --extract-to; the served model passes smoke', async () => {
      const installed = path.join(work, 'installed', '2.3.4');
      const report = await verifyArtifact(packaged.out, { backend: 'wasm', extractTo: installed });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.deepEqual((await listFiles(installed)).sort(), [...packaged.files].sort());

      const apiKey = 'release-smoke-key';
      const config = loadConfig({
        AUTH_API_KEY_HASHES: `smoke:${hashApiKey(apiKey)}`,
        MODEL_DIR: installed,
        INFERENCE_WORKERS: '1',
        LOG_LEVEL: 'silent',
      });
      const logger = createLogger('silent');
      const core = await createInferenceCore({ modelDir: installed, backend: 'wasm', workers: 1 });
      const server = http.createServer(createApp({ config, logger, core }).callback());
      try {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const smoke = await runSmokeTest(installed, { url, expectVersion: '2.3.4', apiKey });
        assert.deepEqual(smoke.problems, []);
        assert.equal(smoke.photos.length, packaged.golden.length);

        const stale = await runSmokeTest(installed, { url, expectVersion: '2.3.3', apiKey });
        assert.equal(stale.ok, false);
        assert.match(stale.problems[0] ?? '', /served by model version 2\.3\.4, expected 2\.3\.3/);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await core.close();
      }
    });

    it('removes what --extract-to unpacked when verification fails', async () => {
      const artifact = await damaged('extract-fail', (dir) => unlink(path.join(dir, SHARD)), {
        rewriteManifest: false,
      });
      const target = path.join(work, 'installed', 'broken');
      const report = await verifyArtifact(artifact, { backend: 'wasm', extractTo: target });
      assert.equal(report.ok, false);
      await assert.rejects(stat(target), /ENOENT/);
    });
  });

  describe('cli', () => {
    async function run(args: string[]) {
      const out: string[] = [];
      const err: string[] = [];
      const log = console.log;
      const error = console.error;
      console.log = (...parts: unknown[]) => out.push(parts.join(' '));
      console.error = (...parts: unknown[]) => err.push(parts.join(' '));
      try {
        const code = await main(args);
        return { code, stdout: out.join('\n'), stderr: err.join('\n') };
      } finally {
        console.log = log;
        console.error = error;
      }
    }

    it('exits 2 with the usage for a bad command line', async () => {
      const usage = [
        [],
        ['verify'],
        ['verify', 'a', '--bogus'],
        ['package', 'dir'],
        ['package', path.join(work, 'no-model'), '--version', '1.0.0', '--out', 'x.tar.gz'],
        ['verify', packaged.out, '--min-agreement', '2', '--original', packaged.out],
        ['watch-refresh'],
      ];
      for (const args of usage) {
        const result = await run(args);
        assert.equal(result.code, 2, args.join(' '));
        assert.match(result.stderr, /usage:/);
      }
    });

    it('exits 2 for an artifact that does not exist', async () => {
      const result = await run(['verify', path.join(work, 'nope.tar.gz')]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /nope\.tar\.gz: no such artifact/);
    });

    it('exits 1 naming the tampered file on stderr', async () => {
      const artifact = await damaged(
        'cli-flipped',
        async (dir) => {
          const file = path.join(dir, SHARD);
          const bytes = await readFile(file);
          bytes[7] = (bytes[7] as number) ^ 0x01;
          await writeFile(file, bytes);
        },
        { rewriteManifest: false },
      );
      const result = await run(['verify', artifact, '--backend', 'wasm']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`cli-flipped\\.tar\\.gz: ${SHARD}: has SHA-256`));
    });

    it('exits 1 for a file that is not a .tar.gz', async () => {
      const bogus = path.join(work, 'bogus.tar.gz');
      await writeFile(bogus, 'not an archive');
      const result = await run(['verify', bogus, '--json']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /is not a readable \.tar\.gz/);
      assert.equal(JSON.parse(result.stdout).ok, false);
    });
  });
});
