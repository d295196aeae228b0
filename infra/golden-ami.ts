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

/**
 * Looks the image up and checks that an explicit `amiId` carries the configured model version,
 * so the stack never reports one version while serving another.
 */
export function resolveGoldenAmi(
  config: StackConfig,
  opts: pulumi.InvokeOutputOptions,
): pulumi.Output<GoldenAmi> {
  const image = aws.ec2.getAmiOutput(
    { owners: ['self'], mostRecent: true, includeDeprecated: true, filters: amiFilters(config) },
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
