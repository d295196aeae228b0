/**
 * Readers and checks over GitHub Actions workflow files, shared by the workflow tests: load a
 * workflow as data, list its run scripts, and find scripts that could print a secret.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';

import { REPO_ROOT } from '../support/shared-data';

/** One step of a job, as far as the checks need it. */
export interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string | number | boolean>;
}

/** One job of a workflow. */
export interface Job {
  needs?: string | string[];
  environment?: string;
  permissions?: Record<string, string>;
  outputs?: Record<string, string>;
  env?: Record<string, string>;
  steps: Step[];
}

/** A workflow file, parsed. */
export interface Workflow {
  name: string;
  on: Record<string, unknown>;
  env?: Record<string, string>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

/** Folder of the workflows. */
export const WORKFLOWS_DIR = path.join(REPO_ROOT, '.github', 'workflows');

/** Reads and parses one workflow file by name (`release.yml`). */
export function loadWorkflow(file: string): Workflow {
  return parseWorkflow(readFileSync(path.join(WORKFLOWS_DIR, file), 'utf8'));
}

/** Parses workflow text. */
export function parseWorkflow(text: string): Workflow {
  return yaml.load(text) as Workflow;
}

/** The jobs a job waits for, always as a list. */
export function needsOf(job: Job): string[] {
  if (!job.needs) return [];
  return Array.isArray(job.needs) ? job.needs : [job.needs];
}

/** Every step with a run script, with where it is. */
export function runSteps(workflow: Workflow): { job: string; step: Step; run: string }[] {
  return Object.entries(workflow.jobs).flatMap(([job, spec]) =>
    spec.steps.filter((step) => step.run).map((step) => ({ job, step, run: step.run as string })),
  );
}

/** Names of environment variables that carry a secret, at any level of the workflow. */
export function secretVariables(workflow: Workflow): Set<string> {
  const names = new Set<string>();
  const collect = (env: Record<string, string> | undefined) => {
    for (const [name, value] of Object.entries(env ?? {})) {
      if (/\bsecrets\./.test(String(value))) names.add(name);
    }
  };
  collect(workflow.env);
  for (const job of Object.values(workflow.jobs)) {
    collect(job.env);
    for (const step of job.steps) collect(step.env);
  }
  return names;
}

/**
 * Problems that could put a secret in the log: a `${{ secrets.* }}` expression inside a run
 * script (it is pasted into the script text), shell tracing, or an echo/printf of a variable
 * that holds a secret.
 */
export function secretLeaks(workflow: Workflow): string[] {
  const secrets = secretVariables(workflow);
  const leaks: string[] = [];
  for (const { job, step, run } of runSteps(workflow)) {
    const where = `${job} / ${step.name ?? step.id ?? 'unnamed step'}`;
    if (/\$\{\{\s*secrets\./.test(run)) leaks.push(`${where}: secrets expression in a script`);
    if (/\bset\s+(-[a-z]*x|-o\s+xtrace)/.test(run)) leaks.push(`${where}: shell tracing`);
    for (const line of run.split('\n')) {
      if (!/\b(echo|printf)\b/.test(line)) continue;
      for (const name of secrets) {
        if (new RegExp(`\\$\\{?${name}\\b`).test(line)) leaks.push(`${where}: prints $${name}`);
      }
    }
  }
  return leaks;
}
