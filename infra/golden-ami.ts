/**
 * Finds the golden AMI the fleet runs: the configured `amiId`, or the newest image of this
 * account tagged with the configured model version (the tags the AMI pipeline writes).
 * Deprecated images are included on purpose: rolling back means launching one of them.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { AMI_TAGS, SERVICE_NAME, STACK_CONFIG_KEYS } from '../server/contract';
import { setCommand, type StackConfig } from './config';

/** What the launch templates need from the image. */
export interface GoldenAmi {
  readonly id: string;
  readonly rootDeviceName: string;
  readonly modelVersion: string;
}

/** The lookup filters: by id when one is configured, by service and model version tags if not. */
export function amiFilters(config: StackConfig): aws.types.input.ec2.GetAmiFilter[] {
  const filters = [
    { name: 'state', values: ['available'] },
    { name: `tag:${AMI_TAGS.service}`, values: [SERVICE_NAME] },
  ];
  if (config.amiId) return [...filters, { name: 'image-id', values: [config.amiId] }];
  return [...filters, { name: `tag:${AMI_TAGS.modelVersion}`, values: [config.modelVersion] }];
}

/** The error when no image matches, with what to do about it. */
function noImageError(config: StackConfig): Error {
  const wanted = config.amiId
    ? `${config.amiId} is not an available golden AMI of this account`
    : `no golden AMI of this account is tagged ${AMI_TAGS.modelVersion}=${config.modelVersion}`;
  const key = config.amiId ? STACK_CONFIG_KEYS.amiId : STACK_CONFIG_KEYS.modelVersion;
  return new Error(
    `${config.project}:${key}: ${wanted}; bake it with the release workflow, or fix: ` +
      setCommand(key, config.amiId ? 'ami-...' : 'VERSION-ALREADY-BAKED'),
  );
}

/**
 * Looks the image up (newest first) and checks that an explicit `amiId` carries the configured
 * model version, so the stack never reports one version while serving another.
 */
export function resolveGoldenAmi(
  config: StackConfig,
  opts: pulumi.InvokeOutputOptions,
): pulumi.Output<GoldenAmi> {
  const owners = ['self'];
  const ids = aws.ec2.getAmiIdsOutput(
    { owners, includeDeprecated: true, filters: amiFilters(config) },
    opts,
  ).ids;
  const newest = ids.apply((found) => {
    if (!found[0]) throw noImageError(config);
    return found[0];
  });
  const image = aws.ec2.getAmiOutput(
    { owners, includeDeprecated: true, filters: [{ name: 'image-id', values: [newest] }] },
    opts,
  );
  return image.apply((found) => {
    const tagged = found.tags[AMI_TAGS.modelVersion];
    if (tagged !== config.modelVersion) {
      const key = STACK_CONFIG_KEYS.modelVersion;
      throw new Error(
        `${config.project}:${key} is ${config.modelVersion} but ${found.id} is tagged ` +
          `${AMI_TAGS.modelVersion}=${tagged ?? '(none)'}; fix: ${setCommand(key, tagged ?? '?')}`,
      );
    }
    return { id: found.id, rootDeviceName: found.rootDeviceName, modelVersion: tagged };
  });
}
