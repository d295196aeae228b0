/**
 * The golden image template, read by a real HCL parser: what it builds (encrypted, IMDSv2,
 * tagged, deprecating, recorded by the manifest post-processor), that every script and
 * variable it names exists and is described, that the validation rules accept the example
 * environments and refuse bad values, and what Debian's Packer can check of it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { AMI_TAGS } from '../../server/contract';
import { REPO_ROOT } from '../support/shared-data';
import { at, type Hcl, PACKER_DIR, parseHclFile, parseTemplate, unescapeHclString } from './hcl';

const ENVIRONMENTS = readdirSync(path.join(PACKER_DIR, 'environments')).filter((name) =>
  name.endsWith('.pkrvars.hcl'),
);

/** Per-release values the release workflow passes on its command line. */
const RELEASE_VARS: Record<string, string> = {
  model_name: 'mobilenet_v1_0.75_224',
  model_version: '1.2.0',
  model_artifact_url: 's3://releases/mobilenet/1.2.0/model.tar.gz',
  model_artifact_sha256: 'a'.repeat(64),
  git_commit: 'b'.repeat(40),
  bake_inputs_dir: tmpdir(),
  cloudwatch_agent_package_url: 'https://packages.example/amazon-cloudwatch-agent.deb',
  cloudwatch_agent_package_sha256: 'c'.repeat(64),
};

/** Values each validation rule must refuse. */
const BAD_VALUES: Record<string, string[]> = {
  aws_region: ['eu_west_1', 'Europe', ''],
  kms_key_id: ['alias/my-key', 'key/1234'],
  build_instance_type: ['c5.xlarge', 'p4d.24xlarge', 'g5'],
  base_ami_owner: ['debian', '1366930713'],
  model_name: ['MobileNet', '../x', ''],
  model_version: ['1.2', 'v1.2.0', 'latest'],
  model_artifact_url: ['http://a/b.tar.gz', 's3://b/model.zip', 'file:///tmp/a.tar.gz'],
  model_artifact_sha256: ['A'.repeat(64), 'a'.repeat(63)],
  git_commit: ['abc123', 'B'.repeat(40)],
  nvidia_driver_branch: ['53', 'r535'],
  cudnn_version: ['8.2.0.53', '9.1.0'],
  node_version: ['20.19.0', '22.1'],
  tfjs_version: ['3.21.0', '4.22'],
  cloudwatch_agent_package_url: ['http://a/b.deb', 'https://a/b.rpm'],
  cloudwatch_agent_package_sha256: ['xyz'],
};

function source(template: Record<string, Hcl>): Record<string, unknown> {
  return at(template['source.pkr.hcl'], 'source', 'amazon-ebs', 'golden', 0) as Record<
    string,
    unknown
  >;
}

function locals(template: Record<string, Hcl>): Record<string, unknown> {
  return at(template['locals.pkr.hcl'], 'locals', 0) as Record<string, unknown>;
}

function variables(template: Record<string, Hcl>): Record<string, Record<string, unknown>> {
  const declared = at(template['variables.pkr.hcl'], 'variable') as Record<string, unknown[]>;
  return Object.fromEntries(
    Object.entries(declared).map(([name, blocks]) => [name, blocks[0] as Record<string, unknown>]),
  );
}

function templateText(): string {
  return readdirSync(PACKER_DIR)
    .filter((name) => name.endsWith('.pkr.hcl') && name !== 'variables.pkr.hcl')
    .map((name) => readFileSync(path.join(PACKER_DIR, name), 'utf8'))
    .join('\n');
}

/** The regular expression of a `can(regex("...", var.NAME))` condition, as a JS RegExp. */
function validationRegex(condition: string, name: string): RegExp | null {
  const match = new RegExp(`regex\\("((?:[^"\\\\]|\\\\.)*)", var\\.${name}\\)`).exec(condition);
  if (!match?.[1]) return null;
  // hcl2json keeps the HCL escapes; HCL turns "\\." into "\.", which JS reads the same.
  return new RegExp(unescapeHclString(match[1]).replace(/\\\\/g, '\\'));
}

describe('Packer template', () => {
  let template: Record<string, Hcl>;

  before(async () => {
    template = await parseTemplate();
  });

  it('is split by role: plugins, variables, locals, source, build', () => {
    assert.deepEqual(Object.keys(template).sort(), [
      'build.pkr.hcl',
      'locals.pkr.hcl',
      'plugins.pkr.hcl',
      'source.pkr.hcl',
      'variables.pkr.hcl',
    ]);
  });

  it('pins the amazon plugin to one exact version', () => {
    const amazon = at(template['plugins.pkr.hcl'], 'packer', 0, 'required_plugins', 0, 'amazon');
    assert.equal(at(amazon, 'source'), 'github.com/hashicorp/amazon');
    assert.match(String(at(amazon, 'version')), /^= \d+\.\d+\.\d+$/);
  });

  it('encrypts the root volume and the AMI with the given KMS key, on gp3', () => {
    const golden = source(template);
    assert.equal(golden.encrypt_boot, true);
    assert.equal(golden.kms_key_id, '${var.kms_key_id}');
    const [root] = golden.launch_block_device_mappings as Record<string, unknown>[];
    assert.equal(root?.encrypted, true);
    assert.equal(root?.volume_type, 'gp3');
    assert.equal(root?.kms_key_id, '${var.kms_key_id}');
    assert.equal(golden.region_kms_key_ids, '${local.region_kms_key_ids}');
    assert.match(String(locals(template).region_kms_key_ids), /var\.aws_region.*var\.kms_key_id/);
  });

  it('requires IMDSv2 on the build instance and marks the AMI IMDSv2-only', () => {
    const golden = source(template);
    const [metadata] = golden.metadata_options as Record<string, unknown>[];
    assert.equal(metadata?.http_tokens, 'required');
    assert.equal(golden.imds_support, 'v2.0');
  });

  it('names the AMI after the model version and a timestamp, and deprecates it', () => {
    const golden = source(template);
    assert.equal(golden.ami_name, '${local.ami_name}');
    const name = String(locals(template).ami_name);
    assert.match(name, /var\.model_version/);
    assert.match(name, /local\.build_stamp/);
    assert.match(String(locals(template).build_stamp), /formatdate\(.*local\.build_time/);
    assert.equal(golden.deprecate_at, '${local.deprecate_at}');
    assert.match(String(locals(template).deprecate_at), /var\.ami_deprecation_days/);
  });

  it('tags the AMI and snapshots with every contract tag (model version, SHA-256)', () => {
    const golden = source(template);
    assert.equal(golden.tags, '${local.ami_tags}');
    assert.equal(golden.snapshot_tags, '${local.ami_tags}');
    const tags = locals(template).ami_tags as Record<string, string>;
    for (const tag of Object.values(AMI_TAGS)) assert.ok(tag in tags, `tag ${tag} missing`);
    assert.equal(tags[AMI_TAGS.modelVersion], '${var.model_version}');
    assert.equal(tags[AMI_TAGS.modelSha256], '${var.model_artifact_sha256}');
    assert.equal(tags[AMI_TAGS.gitCommit], '${var.git_commit}');
    assert.equal(tags[AMI_TAGS.cuda], '${var.cuda_version}');
    assert.equal(tags[AMI_TAGS.node], '${var.node_version}');
  });

  it('records the AMI ids with the manifest post-processor', () => {
    const build = at(template['build.pkr.hcl'], 'build', 0);
    const [manifest] = at(build, 'post-processor', 'manifest') as Record<string, unknown>[];
    assert.equal(manifest?.output, '${path.root}/manifest.json');
    assert.equal(at(manifest, 'custom_data', 'model_version'), '${var.model_version}');
    assert.equal(at(manifest, 'custom_data', 'model_sha256'), '${var.model_artifact_sha256}');
  });

  it('names only files that exist, and runs the provisioners in their numbered order', () => {
    const text = readFileSync(path.join(PACKER_DIR, 'build.pkr.hcl'), 'utf8');
    const named = [...text.matchAll(/"\$\{path\.root\}\/(\.\.\/ami\/[^"]+)"/g)].map(
      (m) => m[1] ?? '',
    );
    assert.ok(named.length >= 10, `only ${named.length} files named`);
    for (const relative of named) {
      assert.ok(existsSync(path.join(PACKER_DIR, relative)), `${relative} does not exist`);
    }
    const numbered = named.filter((n) => /provision\/\d\d-/.test(n)).map((n) => path.basename(n));
    assert.deepEqual(numbered, [...numbered].sort(), 'provisioners out of numeric order');
    const onDisk = readdirSync(path.join(REPO_ROOT, 'ami', 'provision')).sort();
    assert.deepEqual([...numbered].sort(), onDisk, 'a provisioner on disk is not in the build');
    const order = ['70-install-service.sh', 'systemctl reboot', "' serve", '90-clean', "' clean"];
    const positions = order.map((marker) => text.indexOf(marker));
    assert.ok(!positions.includes(-1), `missing one of ${order.join(', ')}`);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
      `order must be ${order}`,
    );
  });

  it('describes every variable, uses every variable, and declares every variable it uses', () => {
    const declared = variables(template);
    const used = new Set([...templateText().matchAll(/var\.([a-z0-9_]+)/g)].map((m) => m[1]));
    for (const [name, block] of Object.entries(declared)) {
      assert.ok(String(block.description ?? '').length > 10, `${name} has no description`);
      assert.ok(used.has(name), `${name} is declared but never used`);
    }
    for (const name of used) assert.ok(name && name in declared, `var.${name} is not declared`);
  });

  it('validates the inputs the issue names', () => {
    const declared = variables(template);
    for (const name of [
      'aws_region',
      'copy_regions',
      'build_instance_type',
      'model_artifact_url',
      'model_artifact_sha256',
      'model_version',
      'nvidia_driver_branch',
      'cuda_version',
      'cudnn_version',
    ]) {
      assert.ok(Array.isArray(declared[name]?.validation), `${name} has no validation block`);
    }
  });

  for (const environment of ENVIRONMENTS) {
    it(`validation rules accept ${environment} and refuse bad values`, async () => {
      const values = { ...(await parseHclFile(`environments/${environment}`)) } as Record<
        string,
        unknown
      >;
      Object.assign(values, RELEASE_VARS);
      let checked = 0;
      for (const [name, block] of Object.entries(variables(template))) {
        const rules = (block.validation ?? []) as { condition: string }[];
        for (const rule of rules) {
          const regex = validationRegex(rule.condition, name);
          if (!regex) continue;
          const value = values[name] ?? block.default;
          assert.match(String(value), regex, `${name} = ${String(value)} refused`);
          for (const bad of BAD_VALUES[name] ?? []) {
            assert.doesNotMatch(bad, regex, `${name} accepts the bad value ${bad}`);
          }
          checked += 1;
        }
      }
      assert.ok(checked >= 14, `only ${checked} regex rules checked`);
    });
  }
});

describe('Packer tooling', function () {
  this.timeout(120_000);

  const packer = spawnSync('packer', ['version'], { encoding: 'utf8' });
  const version = /v?(\d+)\.(\d+)\.(\d+)/.exec(packer.stdout ?? '');

  before(function () {
    if (packer.status !== 0 || !version) this.skip();
  });

  it('packer fmt -check passes on the template and the environments', () => {
    for (const dir of [PACKER_DIR, path.join(PACKER_DIR, 'environments')]) {
      const result = spawnSync('packer', ['fmt', '-check', '-diff', dir], { encoding: 'utf8' });
      assert.equal(result.status, 0, `packer fmt -check ${dir}:\n${result.stdout}${result.stderr}`);
    }
  });

  it('packer validate accepts each environment (what this Packer version can read)', function () {
    const [major, minor] = [Number(version?.[1]), Number(version?.[2])];
    const modern = major > 1 || minor >= 10;
    const work = mkdtempSync(path.join(tmpdir(), 'packer-validate-'));
    try {
      const dir = modern ? PACKER_DIR : legacyCopy(work);
      if (modern && !pluginInstalled()) {
        console.log('      packer validate skipped: amazon plugin not installed (packer init)');
        this.skip();
      }
      for (const environment of ENVIRONMENTS) {
        const args = [
          'validate',
          `-var-file=${path.join(PACKER_DIR, 'environments', environment)}`,
        ];
        for (const [name, value] of Object.entries(RELEASE_VARS))
          args.push('-var', `${name}=${value}`);
        const result = spawnSync('packer', [...args, dir], { encoding: 'utf8' });
        assert.equal(result.status, 0, `${environment}:\n${result.stdout}${result.stderr}`);
      }
      if (!modern) {
        console.log(
          `      packer ${version?.[0]} cannot read required_plugins, variable validation ` +
            'blocks (no regex function), imds_support, deprecate_at or metadata_options: those ' +
            'were removed from a copy before validating and are checked by the tests above',
        );
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

function pluginInstalled(): boolean {
  const result = spawnSync('packer', ['plugins', 'installed'], { encoding: 'utf8' });
  return result.status === 0 && /amazon/.test(result.stdout);
}

/**
 * A copy of the template that Packer 1.6 can load: without the plugins file, the validation
 * blocks and the three source settings its built-in amazon builder predates. `ami/` is linked
 * beside it so that `${path.root}/../ami` still finds the scripts.
 */
function legacyCopy(work: string): string {
  const dir = path.join(work, 'packer');
  cpSync(PACKER_DIR, dir, { recursive: true });
  rmSync(path.join(dir, 'plugins.pkr.hcl'));
  symlinkSync(path.join(REPO_ROOT, 'ami'), path.join(work, 'ami'));
  for (const name of ['variables.pkr.hcl', 'source.pkr.hcl']) {
    const file = path.join(dir, name);
    writeFileSync(file, stripForLegacyPacker(readFileSync(file, 'utf8')));
  }
  execFileSync('packer', ['validate', '-syntax-only', dir]);
  return dir;
}

function stripForLegacyPacker(text: string): string {
  const lines = text.split('\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    if (/^\s*(validation|metadata_options)\s*\{/.test(line)) {
      let depth = 0;
      for (; i < lines.length; i += 1) {
        const current = lines[i] ?? '';
        depth += (current.match(/\{/g) ?? []).length - (current.match(/\}/g) ?? []).length;
        if (depth === 0) break;
      }
      continue;
    }
    if (/^\s*(imds_support|deprecate_at)\s*=/.test(line)) continue;
    kept.push(line);
  }
  return kept.join('\n');
}
