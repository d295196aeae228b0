#!/usr/bin/env node
/**
 * Command line of the release tooling (`npm run model:package` / `npm run model:verify`, and
 * `node dist/server/release/cli.js` on the build instance and in the release workflow).
 * Exit codes: 0 success, 1 verification or packaging failed, 2 usage error. Results go to
 * stdout (JSON with `--json`); problems go to stderr, one line each, naming the file.
 */
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

import type { BackendRequest } from '../inference/backend';
import { packageModel, PackageError, type PackageResult } from './package';
import { runSmokeTest, SmokeUsageError, type SmokeReport } from './smoke';
import { verifyArtifact, VerifyUsageError, type VerifyReport } from './verify';
import { watchInstanceRefresh } from './watch-refresh';

/** Exit codes of the release CLI. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

const USAGE = `usage:
  cli.js package <model-dir> --version <v> --out <file.tar.gz>
                 [--metadata <path>] [--golden <folder-or-list>] [--golden-count <n>]
                 [--backend <name>] [--json]
  cli.js verify  <artifact-or-folder> [--original <artifact-or-folder>]
                 [--original-metadata <path>] [--min-agreement <0..1>]
                 [--extract-to <folder>] [--backend <name>] [--json]
  cli.js smoke   <artifact-or-folder> --url <base-url> [--expect-version <v>] [--json]
                 (API key, if the endpoint needs one, from the BREED_API_KEY variable)
  cli.js watch-refresh --group <auto-scaling-group> [--interval-seconds <n>]
                 [--timeout-minutes <n>]   (AWS credentials and region from the environment)
backends: auto, tensorflow-gpu, tensorflow, wasm, cpu`;

const BACKENDS: readonly BackendRequest[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Thrown for a bad command line; the CLI prints the message and the usage, exits 2. */
class UsageError extends Error {}

/** Runs one command and returns the exit code; never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'package') return await packageCommand(rest);
    if (command === 'verify') return await verifyCommand(rest);
    if (command === 'smoke') return await smokeCommand(rest);
    if (command === 'watch-refresh') return await watchCommand(rest);
    if (command === '--help' || command === '-h') {
      console.log(USAGE);
      return EXIT.ok;
    }
    throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  const usage =
    error instanceof UsageError ||
    error instanceof VerifyUsageError ||
    error instanceof SmokeUsageError ||
    (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
    (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
    (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
  if (usage) {
    console.error(`error: ${(error as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  console.error(`error: ${(error as Error).message}`);
  if (!(error instanceof PackageError) && !(error as { file?: string }).file) {
    console.error((error as Error).stack);
  }
  return EXIT.failed;
}

function parse(args: readonly string[], options: ParseArgsConfig['options'], positionals = 1) {
  const parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  if (parsed.positionals.length !== positionals) {
    const wanted = positionals === 1 ? 'exactly one path' : 'no path';
    throw new UsageError(`expected ${wanted}, got ${parsed.positionals.length}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  return { target: parsed.positionals[0] as string, values };
}

function backendOption(value: unknown): BackendRequest | undefined {
  if (value === undefined) return undefined;
  if (!BACKENDS.includes(value as BackendRequest)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
  }
  return value as BackendRequest;
}

function numberOption(name: string, value: unknown, min: number, max: number) {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number < min || number > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}`);
  }
  return number;
}

function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

async function packageCommand(args: readonly string[]): Promise<number> {
  const { target, values } = parse(args, {
    version: { type: 'string' },
    out: { type: 'string' },
    metadata: { type: 'string' },
    golden: { type: 'string' },
    'golden-count': { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  });
  const version = stringOption(values.version);
  const out = stringOption(values.out);
  if (!version || !out) throw new UsageError('package needs --version and --out');
  for (const given of [target, values.metadata, values.golden]) {
    if (typeof given === 'string' && !existsSync(given)) {
      throw new UsageError(`${given}: no such file or folder`);
    }
  }

  const result = await packageModel({
    modelDir: target,
    version,
    out,
    metadataPath: stringOption(values.metadata),
    golden: stringOption(values.golden),
    goldenCount: numberOption('golden-count', values['golden-count'], 1, 50),
    backend: backendOption(values.backend),
  });
  printPackage(result, values.json === true);
  return EXIT.ok;
}

function printPackage(result: PackageResult, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`packaged ${result.model.name} ${result.model.version} -> ${result.out}`);
  console.log(`  ${result.files.length} files, ${result.bytes} bytes`);
  for (const photo of result.golden) {
    console.log(`  golden: ${photo.source} = ${photo.breed} (${photo.confidence.toFixed(3)})`);
  }
  console.log(`${result.sha256}  ${result.out}`);
}

async function verifyCommand(args: readonly string[]): Promise<number> {
  const { target, values } = parse(args, {
    original: { type: 'string' },
    'original-metadata': { type: 'string' },
    'min-agreement': { type: 'string' },
    'extract-to': { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  });
  const minAgreement = numberOption('min-agreement', values['min-agreement'], 0, 1);
  if (minAgreement !== undefined && !values.original) {
    throw new UsageError('--min-agreement needs --original');
  }
  const report = await verifyArtifact(target, {
    original: stringOption(values.original),
    originalMetadata: stringOption(values['original-metadata']),
    minAgreement,
    extractTo: stringOption(values['extract-to']),
    backend: backendOption(values.backend),
  });
  printVerify(report, values.json === true);
  return report.ok ? EXIT.ok : EXIT.failed;
}

function printVerify(report: VerifyReport, json: boolean): void {
  for (const problem of report.problems) {
    console.error(`${report.target}: ${problem.file}: ${problem.problem}`);
  }
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const model = report.model ? `${report.model.name} ${report.model.version}` : 'model';
  if (report.sha256) console.log(`${report.sha256}  ${report.target}`);
  for (const photo of report.golden) {
    const mark = photo.ok ? 'ok  ' : 'FAIL';
    console.log(`  ${mark} ${photo.file}: ${photo.actual ?? 'no breed'} (${photo.expected})`);
  }
  if (report.agreement) {
    const { agreed, total, ratio } = report.agreement;
    const percent = (ratio * 100).toFixed(1);
    console.log(`  top-1 agreement with the original: ${agreed}/${total} (${percent} %)`);
  }
  const verdict = report.ok ? 'verified' : 'FAILED verification';
  console.log(`${model} ${verdict} on ${report.backend ?? 'no'} backend`);
}

async function smokeCommand(args: readonly string[]): Promise<number> {
  const { target, values } = parse(args, {
    url: { type: 'string' },
    'expect-version': { type: 'string' },
    json: { type: 'boolean' },
  });
  const url = stringOption(values.url);
  if (!url) throw new UsageError('smoke needs --url');
  const report = await runSmokeTest(target, {
    url,
    expectVersion: stringOption(values['expect-version']),
    apiKey: process.env.BREED_API_KEY || undefined,
  });
  printSmoke(report, values.json === true);
  return report.ok ? EXIT.ok : EXIT.failed;
}

function printSmoke(report: SmokeReport, json: boolean): void {
  for (const problem of report.problems) console.error(`${report.url}: ${problem}`);
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  for (const photo of report.photos) {
    const mark = photo.ok ? 'ok  ' : 'FAIL';
    console.log(`  ${mark} ${photo.file}: ${photo.actual ?? photo.status} (${photo.expected})`);
  }
  console.log(`smoke test ${report.ok ? 'passed' : 'FAILED'} against ${report.url}`);
}

async function watchCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      group: { type: 'string' },
      'interval-seconds': { type: 'string' },
      'timeout-minutes': { type: 'string' },
    },
    0,
  );
  const group = stringOption(values.group);
  if (!group) throw new UsageError('watch-refresh needs --group');
  const interval = numberOption('interval-seconds', values['interval-seconds'], 1, 3600) ?? 60;
  const timeout = numberOption('timeout-minutes', values['timeout-minutes'], 1, 1440) ?? 240;
  const result = await watchInstanceRefresh({
    group,
    intervalMs: interval * 1000,
    timeoutMs: timeout * 60_000,
  });
  if (result.ok) return EXIT.ok;
  const reason = result.reason ? ` (${result.reason})` : '';
  console.error(`instance refresh of ${group} ended ${result.status}${reason}`);
  return EXIT.failed;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = EXIT.failed;
    },
  );
}
