/**
 * Runs the batch command as the user does: a separate Node process on the TypeScript sources,
 * so that exit codes, signals and the output file are the real ones.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../support/shared-data';

/** The command's entry point. */
export const CLI_SOURCE = path.join(REPO_ROOT, 'server', 'batch', 'cli.ts');

/** What a finished run left. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A started run, with its output collected as it comes. */
export interface CliRun {
  child: ChildProcess;
  stderr: () => string;
  done: Promise<CliResult>;
}

/** Environment for runs: quiet log level unless a test asks, the caller's PATH and HOME. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SHARED_DIR: process.env.SHARED_DIR,
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Starts the command with `args`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = cliEnv()): CliRun {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', CLI_SOURCE, ...args],
    {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, stderr: () => stderr, done };
}

/** Runs the command to its end. */
export function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return startCli(args, env).done;
}

/** The pino lines of a run's stderr that carry `msg`. */
export function logLines(stderr: string, msg: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === msg);
}
