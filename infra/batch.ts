/**
 * The night batch: photos land in the input bucket, S3 puts one message per photo on a queue
 * (with a dead-letter queue for messages that keep failing), and a separate Spot Auto Scaling
 * group runs the batch job on the same golden AMI, writing results to the output bucket. The
 * group is started at night and emptied in the morning by scheduled actions in the configured
 * time zone, and follows the queue depth in between. It has no warm pool: a warm pool cannot be
 * combined with Spot or a mixed instances policy.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { BATCH_INSTANCE_ENV, INSTANCE_ENV, INSTANCE_ROLES, SERVICE_NAME } from '../server/contract';
import type { StackConfig } from './config';
import { IMDSV2_ONLY, instanceTagSpecifications, rootVolume } from './launch-template';
import type { GoldenAmi } from './golden-ami';
import { InstanceRole, type PolicyStatement } from './instance-role';
import { PrivateBucket } from './private-bucket';
import { physicalName, tagsFor } from './tags';
import { userData } from './user-data';

/** Receives before a message moves to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;

/** Arguments of the batch component. */
export interface BatchArgs {
  readonly config: StackConfig;
  readonly ami: pulumi.Output<GoldenAmi>;
  readonly vpcId: pulumi.Input<string>;
  readonly privateSubnetIds: pulumi.Input<string[]>;
  readonly partition: pulumi.Input<string>;
}

/** Buckets, queues, the Spot group, its schedules and its queue-depth scaling. */
export class Batch extends pulumi.ComponentResource {
  /** Bucket the photos to identify land in. */
  readonly inputBucketName: pulumi.Output<string>;
  /** Bucket the results are written to. */
  readonly outputBucketName: pulumi.Output<string>;
  /** The work queue the workers consume, its name and its dead-letter queue's name. */
  readonly queueUrl: pulumi.Output<string>;
  readonly queueName: pulumi.Output<string>;
  readonly deadLetterQueueName: pulumi.Output<string>;
  /** Name of the Spot Auto Scaling group. */
  readonly groupName: pulumi.Output<string>;

  constructor(name: string, args: BatchArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:Batch', name, {}, opts);
    const { config } = args;
    const tags = tagsFor(config, 'batch');

    const input = new PrivateBucket(
      `${name}-input`,
      { lifecycle: { expireDays: 14, noncurrentDays: 7 }, tags },
      { parent: this },
    ).bucket;
    const output = new PrivateBucket(
      `${name}-output`,
      { lifecycle: { expireDays: 90, noncurrentDays: 7 }, tags },
      { parent: this },
    ).bucket;
    this.inputBucketName = input.bucket;
    this.outputBucketName = output.bucket;

    const { queue, deadLetters } = this.queues(name, input, tags);
    this.queueUrl = queue.url;
    this.queueName = queue.name;
    this.deadLetterQueueName = deadLetters.name;

    const role = new InstanceRole(
      `${name}-instance`,
      { partition: args.partition, statements: batchStatements(input, output, queue), tags },
      { parent: this },
    );
    const template = this.template(name, args, role, queue, input, output);
    const group = this.spotGroup(name, args, template);
    this.groupName = group.name;
    this.schedules(name, config, group);
    this.queueDepthScaling(name, config, group, queue);
    this.registerOutputs({ queueUrl: this.queueUrl, groupName: this.groupName });
  }

  /** The work queue fed by the input bucket, and its dead-letter queue. */
  private queues(name: string, input: aws.s3.Bucket, tags: Record<string, string>) {
    const parent = { parent: this };
    const deadLetters = new aws.sqs.Queue(
      `${name}-dead-letters`,
      { messageRetentionSeconds: 14 * 24 * 3600, sqsManagedSseEnabled: true, tags },
      parent,
    );
    const queue = new aws.sqs.Queue(
      `${name}-work`,
      {
        visibilityTimeoutSeconds: 300,
        receiveWaitTimeSeconds: 20,
        messageRetentionSeconds: 4 * 24 * 3600,
        sqsManagedSseEnabled: true,
        redrivePolicy: deadLetters.arn.apply((arn) =>
          JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: MAX_RECEIVE_COUNT }),
        ),
        tags,
      },
      parent,
    );
    const queuePolicy = new aws.sqs.QueuePolicy(
      `${name}-from-input`,
      {
        queueUrl: queue.url,
        policy: pulumi.all([queue.arn, input.arn]).apply(([queueArn, bucketArn]) =>
          JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'InputBucketNotifies',
                Effect: 'Allow',
                Principal: { Service: 's3.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: queueArn,
                Condition: { ArnEquals: { 'aws:SourceArn': bucketArn } },
              },
            ],
          }),
        ),
      },
      parent,
    );
    new aws.s3.BucketNotification(
      `${name}-input-events`,
      { bucket: input.id, queues: [{ queueArn: queue.arn, events: ['s3:ObjectCreated:*'] }] },
      { parent: this, dependsOn: [queuePolicy] },
    );
    return { queue, deadLetters };
  }

  private template(
    name: string,
    args: BatchArgs,
    role: InstanceRole,
    queue: aws.sqs.Queue,
    input: aws.s3.Bucket,
    output: aws.s3.Bucket,
  ): aws.ec2.LaunchTemplate {
    const { config } = args;
    const tags = tagsFor(config, 'batch');
    const group = new aws.ec2.SecurityGroup(
      `${name}-instances`,
      {
        vpcId: args.vpcId,
        description: 'Batch workers: no inbound traffic, HTTPS out',
        egress: [
          {
            description: 'HTTPS: S3, SQS and the VPC endpoints',
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
    const instanceTags = { ...tags, Name: physicalName(config, 'batch') };
    return new aws.ec2.LaunchTemplate(
      `${name}-template`,
      {
        description: `${SERVICE_NAME} ${config.stack} night batch workers`,
        imageId: args.ami.id,
        iamInstanceProfile: { arn: role.profile.arn },
        vpcSecurityGroupIds: [group.id],
        metadataOptions: IMDSV2_ONLY,
        blockDeviceMappings: [rootVolume(args.ami.rootDeviceName, config.fleet.rootVolumeGiB)],
        userData: userData({
          [INSTANCE_ENV.stack]: config.stack,
          [INSTANCE_ENV.region]: config.region,
          [INSTANCE_ENV.role]: INSTANCE_ROLES.batch,
          [BATCH_INSTANCE_ENV.queueUrl]: queue.url,
          [BATCH_INSTANCE_ENV.inputBucket]: input.bucket,
          [BATCH_INSTANCE_ENV.outputBucket]: output.bucket,
        }),
        tagSpecifications: instanceTagSpecifications(instanceTags),
        updateDefaultVersion: true,
        tags,
      },
      { parent: this },
    );
  }

  /**
   * All Spot, capacity-optimised over several types. Sizes belong to the schedules and the
   * queue-depth policies once the group exists, so updates leave them alone.
   */
  private spotGroup(
    name: string,
    args: BatchArgs,
    template: aws.ec2.LaunchTemplate,
  ): aws.autoscaling.Group {
    const { config } = args;
    return new aws.autoscaling.Group(
      `${name}-group`,
      {
        name: physicalName(config, 'batch'),
        vpcZoneIdentifiers: args.privateSubnetIds,
        minSize: 0,
        maxSize: 0,
        capacityRebalance: true,
        healthCheckType: 'EC2',
        mixedInstancesPolicy: {
          instancesDistribution: {
            onDemandBaseCapacity: 0,
            onDemandPercentageAboveBaseCapacity: 0,
            spotAllocationStrategy: 'capacity-optimized',
          },
          launchTemplate: {
            launchTemplateSpecification: {
              launchTemplateId: template.id,
              version: template.latestVersion.apply(String),
            },
            overrides: config.batch.instanceTypes.map((instanceType) => ({ instanceType })),
          },
        },
        enabledMetrics: ['GroupInServiceInstances', 'GroupDesiredCapacity'],
        metricsGranularity: '1Minute',
        tags: Object.entries({
          ...tagsFor(config, 'batch'),
          Name: physicalName(config, 'batch'),
        }).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      },
      { parent: this, ignoreChanges: ['minSize', 'maxSize', 'desiredCapacity'] },
    );
  }

  /** Night: up to `batchNightSize`, allowed to `batchMaxSize`. Morning: nothing. */
  private schedules(name: string, config: StackConfig, group: aws.autoscaling.Group): void {
    const batch = config.batch;
    new aws.autoscaling.Schedule(
      `${name}-night`,
      {
        autoscalingGroupName: group.name,
        scheduledActionName: 'night-start',
        recurrence: batch.startCron,
        timeZone: batch.timeZone,
        minSize: 0,
        maxSize: batch.maxSize,
        desiredCapacity: batch.nightSize,
      },
      { parent: this },
    );
    new aws.autoscaling.Schedule(
      `${name}-morning`,
      {
        autoscalingGroupName: group.name,
        scheduledActionName: 'morning-stop',
        recurrence: batch.stopCron,
        timeZone: batch.timeZone,
        minSize: 0,
        maxSize: 0,
        desiredCapacity: 0,
      },
      { parent: this },
    );
  }

  /**
   * A backlog above `batchMessagesPerInstance` adds instances (within the night's maximum); an
   * empty queue with nothing in flight for 15 minutes lets the group go to zero before the morning.
   */
  private queueDepthScaling(
    name: string,
    config: StackConfig,
    group: aws.autoscaling.Group,
    queue: aws.sqs.Queue,
  ): void {
    const parent = { parent: this };
    const perInstance = config.batch.messagesPerInstance;
    const scaleOut = new aws.autoscaling.Policy(
      `${name}-backlog-out`,
      {
        autoscalingGroupName: group.name,
        policyType: 'StepScaling',
        adjustmentType: 'ChangeInCapacity',
        stepAdjustments: [
          {
            metricIntervalLowerBound: '0',
            metricIntervalUpperBound: String(3 * perInstance),
            scalingAdjustment: 1,
          },
          { metricIntervalLowerBound: String(3 * perInstance), scalingAdjustment: 3 },
        ],
      },
      parent,
    );
    const scaleIn = new aws.autoscaling.Policy(
      `${name}-empty-in`,
      {
        autoscalingGroupName: group.name,
        policyType: 'StepScaling',
        adjustmentType: 'ExactCapacity',
        stepAdjustments: [{ metricIntervalUpperBound: '0', scalingAdjustment: 0 }],
      },
      parent,
    );
    const depth = {
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      statistic: 'Maximum',
      period: 300,
      dimensions: { QueueName: queue.name },
    };
    new aws.cloudwatch.MetricAlarm(
      `${name}-backlog`,
      {
        ...depth,
        alarmDescription: 'Batch backlog above the per-instance share: add Spot workers',
        comparisonOperator: 'GreaterThanThreshold',
        threshold: perInstance,
        evaluationPeriods: 1,
        alarmActions: [scaleOut.arn],
      },
      parent,
    );
    // Empty means nothing waiting and nothing in flight: messages being processed are invisible.
    const sqsMetric = (id: string, metricName: string) => ({
      id,
      returnData: false,
      metric: {
        namespace: 'AWS/SQS',
        metricName,
        period: 300,
        stat: 'Maximum',
        dimensions: depth.dimensions,
      },
    });
    new aws.cloudwatch.MetricAlarm(
      `${name}-empty`,
      {
        alarmDescription: 'Batch queue empty and nothing in flight: release the Spot workers',
        comparisonOperator: 'LessThanOrEqualToThreshold',
        threshold: 0,
        evaluationPeriods: 3,
        metricQueries: [
          sqsMetric('visible', 'ApproximateNumberOfMessagesVisible'),
          sqsMetric('inflight', 'ApproximateNumberOfMessagesNotVisible'),
          { id: 'total', expression: 'visible + inflight', label: 'messages', returnData: true },
        ],
        alarmActions: [scaleIn.arn],
      },
      parent,
    );
  }
}

/** Read the input bucket, write the output bucket, consume the queue; nothing else. */
function batchStatements(
  input: aws.s3.Bucket,
  output: aws.s3.Bucket,
  queue: aws.sqs.Queue,
): PolicyStatement[] {
  return [
    { Sid: 'ListInput', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: input.arn },
    {
      Sid: 'ReadInput',
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: pulumi.interpolate`${input.arn}/*`,
    },
    {
      Sid: 'WriteOutput',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
      Resource: pulumi.interpolate`${output.arn}/*`,
    },
    {
      Sid: 'ConsumeQueue',
      Effect: 'Allow',
      Action: [
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
      ],
      Resource: queue.arn,
    },
  ];
}
