/**
 * Retirement of old golden AMIs: a small Lambda function, run daily, that keeps the newest
 * images, deprecates the next ones and deregisters the rest with their snapshots.
 *
 * Why not an Amazon Data Lifecycle Manager policy: DLM deprecates and deregisters only the AMIs
 * that its own policies created from tagged instances. The golden AMIs come from Packer, so a DLM
 * policy would never touch them. The job works on the images' service tag instead, and never
 * deregisters an image that an instance or a launch template of the service still uses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as ts from 'typescript';

import { AMI_TAGS, SERVICE_NAME } from '../server/contract';
import type { StackConfig } from './config';
import { policyDocument } from './instance-role';
import { physicalName, tagsFor } from './tags';

/** When the job runs (EventBridge cron, UTC). */
export const RETIREMENT_SCHEDULE = 'cron(30 3 * * ? *)';

/** The handler compiled to CommonJS on its own, as the Lambda runtime loads it. */
export function handlerSource(): string {
  const file = path.join(__dirname, 'ami-retirement-handler.ts');
  const output = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    fileName: 'index.ts',
  });
  return output.outputText;
}

/** Arguments of the AMI lifecycle component. */
export interface AmiLifecycleArgs {
  readonly config: StackConfig;
  readonly accountId: pulumi.Input<string>;
  readonly partition: pulumi.Input<string>;
}

/** The function, its role and log group, and its daily schedule. */
export class AmiLifecycle extends pulumi.ComponentResource {
  /** Name of the retirement function. */
  readonly functionName: pulumi.Output<string>;

  constructor(name: string, args: AmiLifecycleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:AmiLifecycle', name, {}, opts);
    const { config } = args;
    const tags = tagsFor(config, 'ami-lifecycle');
    const functionName = physicalName(config, 'ami-retirement');
    const parent = { parent: this };

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: `/aws/lambda/${functionName}`, retentionInDays: config.logRetentionDays, tags },
      parent,
    );
    const role = new aws.iam.Role(
      `${name}-role`,
      {
        assumeRolePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'lambda.amazonaws.com' },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
        tags,
      },
      parent,
    );
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-policy`,
      { role: role.id, policy: retirementPolicy(config, args, logGroup.arn) },
      parent,
    );

    const fn = new aws.lambda.Function(
      `${name}-function`,
      {
        name: functionName,
        description: 'Deprecates and deregisters old golden AMIs',
        runtime: 'nodejs20.x',
        handler: 'index.handler',
        role: role.arn,
        timeout: 300,
        memorySize: 256,
        code: new pulumi.asset.AssetArchive({
          'index.js': new pulumi.asset.StringAsset(handlerSource()),
        }),
        environment: {
          variables: {
            TAG_KEY: AMI_TAGS.service,
            TAG_VALUE: SERVICE_NAME,
            KEEP_COUNT: String(config.amiRetirement.keepCount),
            DEPRECATED_KEEP_COUNT: String(config.amiRetirement.deprecatedKeepCount),
          },
        },
        loggingConfig: { logFormat: 'Text', logGroup: logGroup.name },
        tags,
      },
      { parent: this, dependsOn: [rolePolicy] },
    );
    this.functionName = fn.name;

    const rule = new aws.cloudwatch.EventRule(
      `${name}-daily`,
      { scheduleExpression: RETIREMENT_SCHEDULE, description: 'Daily golden AMI retirement', tags },
      parent,
    );
    new aws.lambda.Permission(
      `${name}-invoke`,
      {
        function: fn.name,
        action: 'lambda:InvokeFunction',
        principal: 'events.amazonaws.com',
        sourceArn: rule.arn,
      },
      parent,
    );
    new aws.cloudwatch.EventTarget(`${name}-target`, { rule: rule.name, arn: fn.arn }, parent);
    this.registerOutputs({ functionName: this.functionName });
  }
}

/**
 * Describe calls cannot be scoped to resources in IAM; every call that changes something is
 * limited to images and snapshots carrying the service tag.
 */
function retirementPolicy(
  config: StackConfig,
  args: AmiLifecycleArgs,
  logGroupArn: pulumi.Output<string>,
): pulumi.Output<string> {
  const ec2Arn = pulumi.interpolate`arn:${args.partition}:ec2:${config.region}::`;
  const tagged = { StringEquals: { [`aws:ResourceTag/${AMI_TAGS.service}`]: SERVICE_NAME } };
  return policyDocument([
    {
      Sid: 'DescribeImagesAndUse',
      Effect: 'Allow',
      Action: [
        'ec2:DescribeImages',
        'ec2:DescribeInstances',
        'ec2:DescribeLaunchTemplates',
        'ec2:DescribeLaunchTemplateVersions',
      ],
      Resource: '*',
    },
    {
      Sid: 'RetireServiceImages',
      Effect: 'Allow',
      Action: ['ec2:EnableImageDeprecation', 'ec2:DeregisterImage'],
      Resource: pulumi.interpolate`${ec2Arn}image/*`,
      Condition: tagged,
    },
    {
      Sid: 'DeleteServiceSnapshots',
      Effect: 'Allow',
      Action: ['ec2:DeleteSnapshot'],
      Resource: pulumi.interpolate`${ec2Arn}snapshot/*`,
      Condition: tagged,
    },
    {
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: pulumi.interpolate`${logGroupArn}:*`,
    },
  ]);
}
