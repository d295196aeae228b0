/**
 * The instances' user data: one cloud-init file write, the instance environment file. The golden
 * AMI holds everything else, so a boot downloads nothing and the user data has nothing to fail.
 */
import * as pulumi from '@pulumi/pulumi';

import { IMAGE_LAYOUT } from '../server/contract';

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
const SAFE_VALUE = /^[\w./:@+,-]*$/;

/** The environment file's text: `NAME=value` lines, refusing anything that needs quoting. */
export function environmentFile(entries: Record<string, string>): string {
  const lines = Object.entries(entries).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw new Error(`bad environment variable name ${name}`);
    if (!SAFE_VALUE.test(value)) throw new Error(`value of ${name} needs quoting: ${value}`);
    return `${name}=${value}`;
  });
  return `${lines.join('\n')}\n`;
}

/** A cloud-config document that writes `IMAGE_LAYOUT.instanceEnvFile` and nothing else. */
export function cloudConfig(entries: Record<string, string>): string {
  const content = environmentFile(entries)
    .trimEnd()
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');
  return [
    '#cloud-config',
    'write_files:',
    `  - path: ${IMAGE_LAYOUT.instanceEnvFile}`,
    "    permissions: '0644'",
    '    owner: root:root',
    '    content: |',
    content,
    '',
  ].join('\n');
}

/** The user data of a launch template, base64 encoded, from entries that may be outputs. */
export function userData(
  entries: pulumi.Input<Record<string, pulumi.Input<string>>>,
): pulumi.Output<string> {
  return pulumi
    .output(entries)
    .apply((resolved) => Buffer.from(cloudConfig(resolved)).toString('base64'));
}
