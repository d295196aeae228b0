/**
 * What the team watches: log groups with retention, alarms to an SNS topic (5xx rate, p95
 * target response time over 2 s, unhealthy hosts, in-service instances below the reserved
 * baseline, batch dead letters) and a dashboard. The first three also stop an instance refresh
 * and roll it back.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { SERVICE_NAME } from '../server/contract';
import type { StackConfig } from './config';
import { tagsFor } from './tags';

/** Log groups the CloudWatch agent on the instances writes to, by stream of logs. */
export function logGroupNames(stack: string): { server: string; boot: string; batch: string } {
  const base = `/${SERVICE_NAME}/${stack}`;
  return { server: `${base}/server`, boot: `${base}/boot`, batch: `${base}/batch` };
}

/** p95 target response time above which the fleet is too slow, in seconds. */
export const LATENCY_P95_THRESHOLD_SECONDS = 2;
/** Share of requests answered with a 5xx, in percent, above which something is broken. */
export const ERROR_RATE_THRESHOLD_PERCENT = 5;

/** Arguments of the observability component. */
export interface ObservabilityArgs {
  readonly config: StackConfig;
  /** `app/<name>/<id>` of the load balancer. */
  readonly albArnSuffix: pulumi.Input<string>;
  /** `targetgroup/<name>/<id>` of the fleet's target group. */
  readonly targetGroupArnSuffix: pulumi.Input<string>;
  /** Name of the inference Auto Scaling group (known before the group exists). */
  readonly fleetGroupName: string;
  /** Name of the batch group. */
  readonly batchGroupName: pulumi.Input<string>;
  /** Names of the batch queue and its dead-letter queue. */
  readonly queueName: pulumi.Input<string>;
  readonly deadLetterQueueName: pulumi.Input<string>;
  /** Metric name of the web ACL, for the dashboard. */
  readonly webAclName: pulumi.Input<string>;
}

/** Topic, alarms, log groups and dashboard. */
export class Observability extends pulumi.ComponentResource {
  /** Topic every alarm notifies. */
  readonly topicArn: pulumi.Output<string>;
  /** Alarms that stop an instance refresh and roll it back. */
  readonly rollbackAlarmNames: pulumi.Output<string>[];
  /** Name of the dashboard. */
  readonly dashboardName: pulumi.Output<string>;

  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:Observability', name, {}, opts);
    const { config } = args;
    const tags = tagsFor(config, 'observability');

    for (const [stream, logGroupName] of Object.entries(logGroupNames(config.stack))) {
      new aws.cloudwatch.LogGroup(
        `${name}-${stream}`,
        { name: logGroupName, retentionInDays: config.logRetentionDays, tags },
        { parent: this },
      );
    }

    const topic = new aws.sns.Topic(
      `${name}-alarms`,
      { kmsMasterKeyId: 'alias/aws/sns', tags },
      { parent: this },
    );
    this.topicArn = topic.arn;
    if (config.alarmEmail) {
      new aws.sns.TopicSubscription(
        `${name}-alarm-email`,
        { topic: topic.arn, protocol: 'email', endpoint: config.alarmEmail },
        { parent: this },
      );
    } else {
      pulumi.log.warn('alarmEmail is not set: alarms reach the SNS topic and nobody else', this);
    }

    const alarm = (suffix: string, alarmArgs: Partial<aws.cloudwatch.MetricAlarmArgs>) =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${suffix}`,
        {
          comparisonOperator: 'GreaterThanThreshold',
          evaluationPeriods: 3,
          treatMissingData: 'notBreaching',
          alarmActions: [topic.arn],
          okActions: [topic.arn],
          tags,
          ...alarmArgs,
        } as aws.cloudwatch.MetricAlarmArgs,
        { parent: this },
      );
    const albDims = { LoadBalancer: args.albArnSuffix };
    const targetDims = { LoadBalancer: args.albArnSuffix, TargetGroup: args.targetGroupArnSuffix };

    const errorRate = alarm('5xx-rate', {
      alarmDescription: `More than ${ERROR_RATE_THRESHOLD_PERCENT}% of requests answered 5xx`,
      threshold: ERROR_RATE_THRESHOLD_PERCENT,
      datapointsToAlarm: 2,
      metricQueries: [
        metricQuery('target5xx', 'HTTPCode_Target_5XX_Count', targetDims),
        metricQuery('elb5xx', 'HTTPCode_ELB_5XX_Count', albDims),
        metricQuery('requests', 'RequestCount', albDims),
        {
          id: 'rate',
          label: '5xx percent',
          returnData: true,
          expression: '100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests',
        },
      ],
    });
    const latency = alarm('p95-latency', {
      alarmDescription: `p95 target response time above ${LATENCY_P95_THRESHOLD_SECONDS} s`,
      namespace: 'AWS/ApplicationELB',
      metricName: 'TargetResponseTime',
      extendedStatistic: 'p95',
      period: 60,
      threshold: LATENCY_P95_THRESHOLD_SECONDS,
      dimensions: targetDims,
    });
    const unhealthy = alarm('unhealthy-hosts', {
      alarmDescription: 'A registered instance fails the readiness check',
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      statistic: 'Maximum',
      period: 60,
      threshold: 0,
      dimensions: targetDims,
    });
    // With no reserved baseline, an empty group is still worth a page.
    const inServiceFloor = Math.max(config.fleet.baselineCount, 1);
    alarm('in-service-below-baseline', {
      alarmDescription: `Fewer than ${inServiceFloor} instances in service`,
      comparisonOperator: 'LessThanThreshold',
      namespace: 'AWS/AutoScaling',
      metricName: 'GroupInServiceInstances',
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 5,
      threshold: inServiceFloor,
      treatMissingData: 'breaching',
      dimensions: { AutoScalingGroupName: args.fleetGroupName },
    });
    alarm('batch-dead-letters', {
      alarmDescription: 'Batch messages failed repeatedly and reached the dead-letter queue',
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      statistic: 'Maximum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 0,
      dimensions: { QueueName: args.deadLetterQueueName },
    });
    this.rollbackAlarmNames = [errorRate.name, latency.name, unhealthy.name];

    const dashboard = new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      {
        dashboardName: `${SERVICE_NAME}-${config.stack}`,
        dashboardBody: dashboardBody(config, args),
      },
      { parent: this },
    );
    this.dashboardName = dashboard.dashboardName;
    this.registerOutputs({ topicArn: this.topicArn, dashboardName: this.dashboardName });
  }
}

function metricQuery(
  id: string,
  metricName: string,
  dimensions: Record<string, pulumi.Input<string>>,
): aws.types.input.cloudwatch.MetricAlarmMetricQuery {
  return {
    id,
    returnData: false,
    metric: { namespace: 'AWS/ApplicationELB', metricName, dimensions, period: 60, stat: 'Sum' },
  };
}

/** Six widgets: traffic, latency, target health, fleet size, batch queue, WAF blocks. */
function dashboardBody(config: StackConfig, args: ObservabilityArgs): pulumi.Output<string> {
  return pulumi
    .all([
      args.albArnSuffix,
      args.targetGroupArnSuffix,
      args.queueName,
      args.deadLetterQueueName,
      args.webAclName,
      args.batchGroupName,
    ])
    .apply(([alb, tg, queue, dlq, acl, batchGroup]) => {
      const elb = 'AWS/ApplicationELB';
      const widget = (title: string, metrics: unknown[][], stat = 'Sum') => ({
        type: 'metric',
        width: 12,
        height: 6,
        properties: { title, region: config.region, stat, period: 60, metrics },
      });
      return JSON.stringify({
        widgets: [
          widget('Requests and 5xx', [
            [elb, 'RequestCount', 'LoadBalancer', alb],
            [elb, 'HTTPCode_Target_5XX_Count', 'LoadBalancer', alb, 'TargetGroup', tg],
            [elb, 'HTTPCode_ELB_5XX_Count', 'LoadBalancer', alb],
          ]),
          widget(
            'Target response time (p50, p95)',
            [
              [elb, 'TargetResponseTime', 'LoadBalancer', alb, 'TargetGroup', tg, { stat: 'p50' }],
              [elb, 'TargetResponseTime', 'LoadBalancer', alb, 'TargetGroup', tg, { stat: 'p95' }],
            ],
            'p95',
          ),
          widget(
            'Target health',
            [
              [elb, 'HealthyHostCount', 'LoadBalancer', alb, 'TargetGroup', tg],
              [elb, 'UnHealthyHostCount', 'LoadBalancer', alb, 'TargetGroup', tg],
            ],
            'Maximum',
          ),
          widget(
            'Fleet size',
            [
              [
                'AWS/AutoScaling',
                'GroupInServiceInstances',
                'AutoScalingGroupName',
                args.fleetGroupName,
              ],
              [
                'AWS/AutoScaling',
                'GroupDesiredCapacity',
                'AutoScalingGroupName',
                args.fleetGroupName,
              ],
              [
                'AWS/AutoScaling',
                'WarmPoolWarmedCapacity',
                'AutoScalingGroupName',
                args.fleetGroupName,
              ],
              ['AWS/AutoScaling', 'GroupInServiceInstances', 'AutoScalingGroupName', batchGroup],
            ],
            'Average',
          ),
          widget(
            'Batch queue',
            [
              ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queue],
              ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', dlq],
            ],
            'Maximum',
          ),
          widget('WAF blocked requests', [
            ['AWS/WAFV2', 'BlockedRequests', 'WebACL', acl, 'Region', config.region, 'Rule', 'ALL'],
          ]),
        ],
      });
    });
}
