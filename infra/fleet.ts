/**
 * The inference fleet: a launch template of the golden AMI (IMDSv2 required, encrypted gp3 root,
 * least-privilege profile, minimal user data) and an Auto Scaling group behind the ALB with ELB
 * health checks, a warm pool, the reserved baseline, a launch lifecycle hook so an instance joins
 * only when the boot agent says it is ready, instance refresh with checkpoints and automatic
 * rollback, and target tracking on requests per instance.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { IMDSV2_ONLY, instanceTagSpecifications, rootVolume } from './launch-template';

import {
  AMI_TAGS,
  INSTANCE_ENV,
  INSTANCE_ROLES,
  LAUNCH_LIFECYCLE_HOOK,
  SERVER_PORT,
  SERVICE_NAME,
} from '../server/contract';
import type { StackConfig } from './config';
import type { GoldenAmi } from './golden-ami';
import { InstanceRole, type PolicyStatement } from './instance-role';
import { physicalName, tagsFor } from './tags';
import { userData } from './user-data';

/** Checkpoints of an instance refresh: a third, two thirds, all, each watched by the alarms. */
export const REFRESH_CHECKPOINTS = [34, 67, 100];

/** Arguments of the fleet component. */
export interface FleetArgs {
  readonly config: StackConfig;
  readonly ami: pulumi.Output<GoldenAmi>;
  readonly vpcId: pulumi.Input<string>;
  readonly privateSubnetIds: pulumi.Input<string[]>;
  /** Security group of the load balancer: the only client of the server port besides scrapers. */
  readonly albSecurityGroupId: pulumi.Input<string>;
  readonly targetGroupArn: pulumi.Input<string>;
  /** `app/.../targetgroup/...` label for the request count metric. */
  readonly requestCountResourceLabel: pulumi.Input<string>;
  readonly capacityReservationIds: pulumi.Input<string>[];
  readonly rollbackAlarmNames: pulumi.Input<string>[];
  /** Parameter Store path and key of the secrets; only this role may read them. */
  readonly secretsPath: string;
  readonly secretsParameterArns: pulumi.Input<string[]>;
  readonly secretsKeyArn: pulumi.Input<string>;
  readonly accountId: pulumi.Input<string>;
  readonly partition: pulumi.Input<string>;
}

/** The inference Auto Scaling group and everything it launches with. */
export class Fleet extends pulumi.ComponentResource {
  /** The instances' security group. */
  readonly securityGroup: aws.ec2.SecurityGroup;
  /** Attach this group to a Prometheus scraper in the VPC to read `/metrics`. */
  readonly metricsScraperSecurityGroup: aws.ec2.SecurityGroup;
  /** The launch template. */
  readonly launchTemplate: aws.ec2.LaunchTemplate;
  /** The Auto Scaling group. */
  readonly group: aws.autoscaling.Group;
  /** The instance role. */
  readonly role: InstanceRole;

  constructor(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:Fleet', name, {}, opts);
    const { config } = args;
    const tags = tagsFor(config, 'fleet');
    const groupName = physicalName(config, 'fleet');

    this.metricsScraperSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-metrics-scraper`,
      {
        vpcId: args.vpcId,
        description: 'Prometheus scrapers inside the VPC: may read the fleet server port',
        egress: [
          {
            description: 'Fleet server port (/metrics)',
            protocol: 'tcp',
            fromPort: SERVER_PORT,
            toPort: SERVER_PORT,
            cidrBlocks: [config.vpcCidr],
          },
        ],
        tags,
      },
      { parent: this },
    );
    this.securityGroup = this.instanceSecurityGroup(name, args, tags);
    this.role = new InstanceRole(
      `${name}-instance`,
      { partition: args.partition, statements: fleetStatements(args, groupName), tags },
      { parent: this },
    );
    this.launchTemplate = this.template(name, args, tags);
    this.group = this.autoScalingGroup(name, args, groupName);

    new aws.autoscaling.Policy(
      `${name}-requests-per-instance`,
      {
        autoscalingGroupName: this.group.name,
        policyType: 'TargetTrackingScaling',
        estimatedInstanceWarmup: config.fleet.healthCheckGraceSeconds,
        targetTrackingConfiguration: {
          targetValue: config.fleet.targetRequestsPerInstance,
          predefinedMetricSpecification: {
            predefinedMetricType: 'ALBRequestCountPerTarget',
            resourceLabel: args.requestCountResourceLabel,
          },
        },
      },
      { parent: this },
    );
    this.registerOutputs({ groupName: this.group.name });
  }

  /** Server port from the load balancer and from scrapers; out on HTTPS only. */
  private instanceSecurityGroup(
    name: string,
    args: FleetArgs,
    tags: Record<string, string>,
  ): aws.ec2.SecurityGroup {
    const port = { protocol: 'tcp', fromPort: SERVER_PORT, toPort: SERVER_PORT };
    return new aws.ec2.SecurityGroup(
      `${name}-instances`,
      {
        vpcId: args.vpcId,
        description: 'Inference instances: server port from the ALB and VPC scrapers only',
        ingress: [
          {
            ...port,
            description: 'From the load balancer',
            securityGroups: [args.albSecurityGroupId],
          },
          {
            ...port,
            description: 'Metrics scrapers in the VPC',
            securityGroups: [this.metricsScraperSecurityGroup.id],
          },
        ],
        egress: [
          {
            description: 'HTTPS: VPC endpoints, S3, the identity provider key set',
            protocol: 'tcp',
            fromPort: 443,
            toPort: 443,
            cidrBlocks: ['0.0.0.0/0'],
          },
        ],
        tags,
      },
      { parent: this },
    );
  }

  private template(
    name: string,
    args: FleetArgs,
    tags: Record<string, string>,
  ): aws.ec2.LaunchTemplate {
    const { config } = args;
    const hibernate = config.fleet.warmPoolState === 'Hibernated';
    const instanceTags = { ...tags, Name: physicalName(config, 'fleet') };
    return new aws.ec2.LaunchTemplate(
      `${name}-template`,
      {
        description: `${SERVICE_NAME} ${config.stack} inference instances`,
        imageId: args.ami.id,
        instanceType: config.fleet.instanceType,
        iamInstanceProfile: { arn: this.role.profile.arn },
        vpcSecurityGroupIds: [this.securityGroup.id],
        metadataOptions: IMDSV2_ONLY,
        blockDeviceMappings: [rootVolume(args.ami.rootDeviceName, config.fleet.rootVolumeGiB)],
        hibernationOptions: hibernate ? { configured: true } : undefined,
        monitoring: { enabled: true },
        ebsOptimized: 'true',
        userData: userData({
          [INSTANCE_ENV.stack]: config.stack,
          [INSTANCE_ENV.region]: config.region,
          [INSTANCE_ENV.secretsParameterPath]: args.secretsPath,
          [INSTANCE_ENV.lifecycleHookName]: LAUNCH_LIFECYCLE_HOOK,
          [INSTANCE_ENV.role]: INSTANCE_ROLES.inference,
        }),
        tagSpecifications: instanceTagSpecifications(instanceTags),
        updateDefaultVersion: true,
        tags,
      },
      { parent: this },
    );
  }

  private autoScalingGroup(
    name: string,
    args: FleetArgs,
    groupName: string,
  ): aws.autoscaling.Group {
    const { config } = args;
    const fleet = config.fleet;
    const reserved = args.capacityReservationIds.length > 0;
    return new aws.autoscaling.Group(
      `${name}-group`,
      {
        name: groupName,
        vpcZoneIdentifiers: args.privateSubnetIds,
        // The version number, never `$Latest`: a moving alias hides changes from the group and
        // disables instance refresh and its rollback.
        launchTemplate: {
          id: this.launchTemplate.id,
          version: this.launchTemplate.latestVersion.apply(String),
        },
        minSize: fleet.minSize,
        maxSize: fleet.maxSize,
        targetGroupArns: [args.targetGroupArn],
        healthCheckType: 'ELB',
        healthCheckGracePeriod: fleet.healthCheckGraceSeconds,
        defaultInstanceWarmup: fleet.healthCheckGraceSeconds,
        capacityRebalance: false,
        initialLifecycleHooks: [
          {
            name: LAUNCH_LIFECYCLE_HOOK,
            lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
            heartbeatTimeout: fleet.launchTimeoutSeconds,
            defaultResult: 'ABANDON',
          },
        ],
        warmPool:
          fleet.warmPoolSize > 0
            ? {
                poolState: fleet.warmPoolState,
                minSize: fleet.warmPoolSize,
                instanceReusePolicy: { reuseOnScaleIn: true },
              }
            : undefined,
        capacityReservationSpecification: reserved
          ? {
              capacityReservationPreference: 'capacity-reservations-first',
              capacityReservationTarget: { capacityReservationIds: args.capacityReservationIds },
            }
          : undefined,
        instanceRefresh: {
          strategy: 'Rolling',
          // A tag change (the model version) starts a refresh even when the AMI id is reused.
          triggers: ['tag'],
          preferences: {
            minHealthyPercentage: 100,
            maxHealthyPercentage: 150,
            instanceWarmup: String(fleet.healthCheckGraceSeconds),
            checkpointPercentages: REFRESH_CHECKPOINTS,
            checkpointDelay: '300',
            autoRollback: true,
            alarmSpecification: { alarms: args.rollbackAlarmNames },
            scaleInProtectedInstances: 'Ignore',
            standbyInstances: 'Ignore',
          },
        },
        enabledMetrics: [
          'GroupInServiceInstances',
          'GroupDesiredCapacity',
          'GroupPendingInstances',
          'GroupTerminatingInstances',
          'WarmPoolWarmedCapacity',
          'WarmPoolDesiredCapacity',
        ],
        metricsGranularity: '1Minute',
        tags: [
          { key: 'Name', value: groupName, propagateAtLaunch: true },
          { key: AMI_TAGS.modelVersion, value: args.ami.modelVersion, propagateAtLaunch: true },
          ...Object.entries(tagsFor(config, 'fleet')).map(([key, value]) => ({
            key,
            value,
            propagateAtLaunch: true,
          })),
        ],
      },
      { parent: this },
    );
  }
}

/** Completes its own group's launch hook, reads its own secrets path; nothing else. */
function fleetStatements(args: FleetArgs, groupName: string): PolicyStatement[] {
  const { config } = args;
  const { partition, accountId } = args;
  const account = pulumi.interpolate`arn:${partition}:autoscaling:${config.region}:${accountId}`;
  const groupPath = `autoScalingGroupName/${groupName}`;
  const groupArn = pulumi.interpolate`${account}:autoScalingGroup:*:${groupPath}`;
  return [
    {
      // The boot agent asks which group it is in; Describe calls cannot be scoped in IAM.
      Sid: 'FindOwnGroup',
      Effect: 'Allow',
      Action: ['autoscaling:DescribeAutoScalingInstances'],
      Resource: '*',
    },
    {
      Sid: 'CompleteOwnLaunchHook',
      Effect: 'Allow',
      Action: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
      Resource: groupArn,
    },
    {
      Sid: 'ReadOwnSecrets',
      Effect: 'Allow',
      Action: ['ssm:GetParametersByPath', 'ssm:GetParameter', 'ssm:GetParameters'],
      Resource: args.secretsParameterArns,
    },
    {
      Sid: 'DecryptOwnSecretsThroughSsm',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: args.secretsKeyArn,
      Condition: { StringEquals: { 'kms:ViaService': `ssm.${config.region}.amazonaws.com` } },
    },
  ];
}
