/**
 * Shell, systemd units, environment files and HCL cannot import server/contract.ts, so this
 * test reads each of them and fails when a literal there differs from the contract: unit
 * names, paths, the port, the service user, AMI tags and the variables every script needs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { logGroupNames } from '../../infra/observability';
import { CLOUDWATCH_PATHS } from '../../server/boot/cloudwatch';
import { loadBootAgentConfig } from '../../server/boot/config';
import { parseEnvFile } from '../../server/boot/env-file';
import { layoutEnvironment } from '../../server/boot/layout-env';
import {
  IMAGE_LAYOUT,
  LAUNCH_LIFECYCLE_HOOK,
  SECRETS,
  SERVER_PORT,
  SERVICE_NAME,
} from '../../server/contract';
import { REPO_ROOT } from '../support/shared-data';
import { at, parseTemplate, parseUnit, unitValues } from './hcl';

const AMI_DIR = path.join(REPO_ROOT, 'ami');
const ROOTFS = path.join(AMI_DIR, 'rootfs');
const NODE = '/usr/local/bin/node';

function rootfsFile(imagePath: string): string {
  return readFileSync(path.join(ROOTFS, imagePath), 'utf8');
}

function unit(name: string): ReturnType<typeof parseUnit> {
  return parseUnit(rootfsFile(path.join('etc/systemd/system', name)));
}

/** `ExecStart=/usr/local/bin/node <appDir>/dist/X.js` must name a compiled `X.ts` source. */
function assertExecStartsCompiledSource(execStart: string | undefined): void {
  const prefix = `${NODE} ${IMAGE_LAYOUT.appDir}/dist/`;
  if (!execStart?.startsWith(prefix))
    assert.fail(`ExecStart ${execStart} does not run node from appDir`);
  const source = execStart.slice(prefix.length).replace(/\.js$/, '.ts');
  assert.ok(existsSync(path.join(REPO_ROOT, source)), `${source} does not exist`);
}

function scripts(): { name: string; text: string }[] {
  const provision = readdirSync(path.join(AMI_DIR, 'provision')).map((name) => ({
    name: `provision/${name}`,
    text: readFileSync(path.join(AMI_DIR, 'provision', name), 'utf8'),
  }));
  return [
    ...provision,
    { name: 'validate.sh', text: readFileSync(path.join(AMI_DIR, 'validate.sh'), 'utf8') },
  ];
}

describe('AMI files agree with the contract', () => {
  it('the server unit runs the server as the service user with the three environment files', () => {
    const server = unit(IMAGE_LAYOUT.serverUnit);
    assert.deepEqual(unitValues(server, 'Service', 'User'), [SERVICE_NAME]);
    assert.deepEqual(unitValues(server, 'Service', 'Group'), [SERVICE_NAME]);
    assert.deepEqual(unitValues(server, 'Service', 'WorkingDirectory'), [IMAGE_LAYOUT.appDir]);
    assert.deepEqual(
      unitValues(server, 'Service', 'EnvironmentFile').map((file) => file.replace(/^-/, '')),
      [IMAGE_LAYOUT.envFile, IMAGE_LAYOUT.instanceEnvFile, IMAGE_LAYOUT.secretsEnvFile],
    );
    assertExecStartsCompiledSource(unitValues(server, 'Service', 'ExecStart')[0]);
    assert.deepEqual(unitValues(server, 'Service', 'CacheDirectory'), [SERVICE_NAME]);
    assert.deepEqual(unitValues(server, 'Service', 'Restart'), ['on-failure']);
  });

  it('the server unit is hardened and limited', () => {
    const server = unit(IMAGE_LAYOUT.serverUnit);
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''],
    ]) {
      assert.deepEqual(unitValues(server, 'Service', key ?? ''), [value], key);
    }
    assert.ok(unitValues(server, 'Service', 'LimitNOFILE').length === 1);
    assert.ok(unitValues(server, 'Service', 'TasksMax').length === 1);
  });

  it('the batch unit runs the worker on the current model, as the service user', () => {
    const batch = unit(IMAGE_LAYOUT.batchUnit);
    assert.deepEqual(unitValues(batch, 'Service', 'User'), [SERVICE_NAME]);
    assert.deepEqual(unitValues(batch, 'Service', 'Group'), [SERVICE_NAME]);
    assert.deepEqual(unitValues(batch, 'Service', 'WorkingDirectory'), [IMAGE_LAYOUT.appDir]);
    // The server's settings (backend, CUDA cache) and the instance's queue and buckets; the
    // instance file is required: without it the worker has no queue.
    assert.deepEqual(unitValues(batch, 'Service', 'EnvironmentFile'), [
      IMAGE_LAYOUT.envFile,
      IMAGE_LAYOUT.instanceEnvFile,
    ]);
    const [node, script, ...args] = (unitValues(batch, 'Service', 'ExecStart')[0] ?? '').split(
      /\s+/,
    );
    assertExecStartsCompiledSource(`${node} ${script}`);
    assert.equal(script, `${IMAGE_LAYOUT.appDir}/dist/server/batch/cli.js`);
    assert.deepEqual(args, ['--worker', '--model-dir', IMAGE_LAYOUT.currentModelLink]);
    assert.deepEqual(unitValues(batch, 'Service', 'Restart'), ['on-failure']);
    assert.equal(batch.has('Install'), false, 'only the boot agent may start the worker');
  });

  it('the batch unit is hardened and limited exactly as the server unit', () => {
    const server = unit(IMAGE_LAYOUT.serverUnit);
    const batch = unit(IMAGE_LAYOUT.batchUnit);
    const keys = (server.get('Service') ?? [])
      .map(([key]) => key)
      .filter((key) =>
        /^(Protect|Restrict|Limit|No|Capability|Ambient|Private|Lock|System|UMask|TasksMax|Cache)/.test(
          key,
        ),
      );
    assert.ok(keys.length >= 20, `only ${keys.length} hardening keys found`);
    for (const key of keys) {
      assert.deepEqual(unitValues(batch, 'Service', key), unitValues(server, 'Service', key), key);
    }
  });

  it('only the boot agent starts at boot; the server unit cannot be enabled', () => {
    assert.equal(unit(IMAGE_LAYOUT.serverUnit).has('Install'), false);
    const boot = unit(IMAGE_LAYOUT.bootAgentUnit);
    assert.deepEqual(unitValues(boot, 'Install', 'WantedBy'), ['multi-user.target']);
    assert.deepEqual(
      unitValues(boot, 'Service', 'EnvironmentFile').map((file) => file.replace(/^-/, '')),
      [IMAGE_LAYOUT.instanceEnvFile],
    );
    assertExecStartsCompiledSource(unitValues(boot, 'Service', 'ExecStart')[0]);
    assert.equal(path.dirname(IMAGE_LAYOUT.secretsEnvFile), `/var/lib/${SERVICE_NAME}`);
    assert.deepEqual(unitValues(boot, 'Service', 'StateDirectory'), [SERVICE_NAME]);
  });

  it('server.env serves the current model on the contract port, auth on', () => {
    const text = rootfsFile(IMAGE_LAYOUT.envFile);
    const env = parseEnvFile(text);
    assert.equal(env.PORT, String(SERVER_PORT));
    assert.equal(env.MODEL_DIR, IMAGE_LAYOUT.currentModelLink);
    assert.equal(env.BACKEND, 'tensorflow-gpu');
    assert.equal(env.AUTH, 'on');
    assert.doesNotMatch(text, /^\s*AUTH\s*=\s*"?off/im);
    assert.equal(env.PAGE, 'off');
    assert.ok(env.CUDA_CACHE_PATH?.startsWith(`/var/cache/${SERVICE_NAME}/`));
    for (const variable of Object.values(SECRETS.parameters)) {
      assert.equal(env[variable], undefined, `${variable} is a secret and must not be baked`);
    }
  });

  it('the README quick start switches authentication off explicitly, the image never does', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    assert.match(readme, /AUTH=off npm start/);
    const imageFiles = readdirSync(ROOTFS, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(path.join(entry.parentPath, entry.name), 'utf8'));
    for (const text of imageFiles) assert.doesNotMatch(text, /AUTH\s*=\s*"?off/i);
  });

  it('CloudWatch ships the log files of the units to the log groups infra creates', () => {
    const config = JSON.parse(rootfsFile(CLOUDWATCH_PATHS.template)) as {
      logs: { logs_collected: { files: { collect_list: Record<string, string>[] } } };
    };
    const collected = config.logs.logs_collected.files.collect_list;
    const groups = logGroupNames('__STACK__');
    const server = unitValues(unit(IMAGE_LAYOUT.serverUnit), 'Service', 'StandardOutput')[0];
    const boot = unitValues(unit(IMAGE_LAYOUT.bootAgentUnit), 'Service', 'StandardOutput')[0];
    const batch = unitValues(unit(IMAGE_LAYOUT.batchUnit), 'Service', 'StandardOutput')[0];
    assert.deepEqual(
      collected.map((entry) => [`append:${entry.file_path}`, entry.log_group_name]),
      [
        [server, groups.server],
        [boot, groups.boot],
        [batch, groups.batch],
      ],
    );
  });

  it('the boot agent defaults to the contract hook name, secrets file and model link', () => {
    const config = loadBootAgentConfig({});
    assert.equal(config.lifecycleHookName, LAUNCH_LIFECYCLE_HOOK);
    assert.equal(config.secretsFile, IMAGE_LAYOUT.secretsEnvFile);
    assert.equal(config.modelDir, IMAGE_LAYOUT.currentModelLink);
    assert.equal(config.serverUnit, IMAGE_LAYOUT.serverUnit);
    assert.equal(config.batchUnit, IMAGE_LAYOUT.batchUnit);
    assert.equal(config.role, 'inference');
  });

  it('the template gives the provisioners the contract layout, and the AMI tags', async () => {
    const template = await parseTemplate();
    const locals = at(template['locals.pkr.hcl'], 'locals', 0) as Record<string, unknown>;
    const given = Object.fromEntries(
      (locals.provision_env as string[]).map((entry) => {
        const eq = entry.indexOf('=');
        return [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
    for (const [name, value] of Object.entries(layoutEnvironment())) {
      assert.equal(given[name], value, `provision_env ${name}`);
    }
    const tags = locals.ami_tags as Record<string, string>;
    assert.equal(tags[`${SERVICE_NAME}:service`], SERVICE_NAME);
  });

  it('every variable a script requires is given by the template', async () => {
    const template = await parseTemplate();
    const locals = at(template['locals.pkr.hcl'], 'locals', 0) as Record<string, unknown>;
    const given = new Set((locals.provision_env as string[]).map((entry) => entry.split('=')[0]));
    for (const { name, text } of scripts()) {
      const required = [...text.matchAll(/\$\{([A-Z][A-Z0-9_]*):\?/g)].map((m) => m[1]);
      for (const variable of required) {
        assert.ok(given.has(variable), `${name} requires ${variable}, provision_env lacks it`);
      }
    }
  });

  it('scripts repeat no contract literal: paths, units, port come from the env', () => {
    const literals = [
      IMAGE_LAYOUT.appDir,
      IMAGE_LAYOUT.modelsDir,
      IMAGE_LAYOUT.envFile,
      IMAGE_LAYOUT.secretsEnvFile,
      IMAGE_LAYOUT.serverUnit,
      IMAGE_LAYOUT.bootAgentUnit,
      IMAGE_LAYOUT.batchUnit,
      `:${SERVER_PORT}`,
    ];
    for (const { name, text } of scripts()) {
      for (const literal of literals) {
        assert.ok(!text.includes(literal), `${name} hard-codes ${literal}`);
      }
    }
  });

  it('provisioners are numbered verb-noun scripts with strict shell options', () => {
    for (const { name, text } of scripts()) {
      if (name.startsWith('provision/')) {
        assert.match(path.basename(name), /^\d\d-[a-z]+-[a-z]+(-[a-z]+)*\.sh$/);
      }
      assert.match(
        text,
        /^set -o errexit -o nounset -o pipefail$/m,
        `${name} lacks strict options`,
      );
    }
  });
});
