/**
 * Entry point of the Pulumi program (`main: infra/` in Pulumi.yaml). Everything is declared in
 * `stack.ts`; this file only names the stack outputs.
 */
import { defineStack } from './stack';

const outputs = defineStack();

/** The stack outputs (`pulumi stack output`), described in `StackOutputs` of stack.ts. */
export const endpointUrl = outputs.endpointUrl;
export const albDnsName = outputs.albDnsName;
export const fleetGroupName = outputs.fleetGroupName;
export const batchGroupName = outputs.batchGroupName;
export const amiId = outputs.amiId;
export const modelVersion = outputs.modelVersion;
export const availabilityZones = outputs.availabilityZones;
export const inputBucket = outputs.inputBucket;
export const outputBucket = outputs.outputBucket;
export const queueUrl = outputs.queueUrl;
export const secretsParameterPath = outputs.secretsParameterPath;
export const alarmTopicArn = outputs.alarmTopicArn;
export const dashboardName = outputs.dashboardName;
export const metricsScraperSecurityGroupId = outputs.metricsScraperSecurityGroupId;
