import assert from 'node:assert/strict';

import type { RecordedResource } from '../../infra/mocks';
import { LATENCY_P95_THRESHOLD_SECONDS, logGroupNames } from '../../infra/observability';
import { input, named, ofType, resourcesOf, runStack } from './support';

const ALARM = 'aws:cloudwatch/metricAlarm:MetricAlarm';

describe('infra observability', function () {
  this.timeout(180_000);
  let prod: RecordedResource[];
  let topicArn: string;

  before(async () => {
    prod = await resourcesOf(runStack('prod'));
    const topic = named(prod, 'aws:sns/topic:Topic', 'observability-alarms');
    topicArn = `arn:aws:sns:eu-west-1:123456789012:observability-alarms/${topic.id}`;
  });

  const alarm = (name: string) => named(prod, ALARM, `observability-${name}`);

  it('every alarm notifies the topic, and the topic mails the on-call address', () => {
    for (const name of [
      '5xx-rate',
      'p95-latency',
      'unhealthy-hosts',
      'in-service-below-baseline',
      'batch-dead-letters',
    ]) {
      assert.deepEqual(alarm(name).inputs.alarmActions, [topicArn], name);
    }
    const subscription = named(
      prod,
      'aws:sns/topicSubscription:TopicSubscription',
      'observability-alarm-email',
    );
    assert.deepEqual(
      [subscription.inputs.protocol, subscription.inputs.endpoint],
      ['email', 'pet-platform-oncall@example.com'],
    );
  });

  it('p95 target response time above 2 s alarms', () => {
    const latency = alarm('p95-latency');
    assert.equal(latency.inputs.extendedStatistic, 'p95');
    assert.equal(latency.inputs.metricName, 'TargetResponseTime');
    assert.equal(latency.inputs.threshold, LATENCY_P95_THRESHOLD_SECONDS);
    assert.equal(LATENCY_P95_THRESHOLD_SECONDS, 2);
  });

  it('the 5xx alarm divides target and load balancer 5xx by all requests', () => {
    const queries = alarm('5xx-rate').inputs.metricQueries as {
      id: string;
      expression?: string;
      returnData: boolean;
    }[];
    const returned = queries.filter((q) => q.returnData);
    assert.equal(returned.length, 1);
    assert.equal(
      returned[0]!.expression,
      '100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests',
    );
  });

  it('in-service instances below the reserved baseline alarm', () => {
    const below = alarm('in-service-below-baseline');
    assert.equal(below.inputs.comparisonOperator, 'LessThanThreshold');
    assert.equal(below.inputs.threshold, 2);
    assert.deepEqual(below.inputs.dimensions, {
      AutoScalingGroupName: 'breed-identifier-prod-fleet',
    });
    const group = named(prod, 'aws:autoscaling/group:Group', 'fleet-group');
    assert.ok((group.inputs.enabledMetrics as string[]).includes('GroupInServiceInstances'));
  });

  it('dead letters alarm on the dead-letter queue', () => {
    const dlq = alarm('batch-dead-letters');
    assert.match(String(input(dlq, 'dimensions.QueueName')), /^batch-dead-letters-/);
    assert.equal(dlq.inputs.threshold, 0);
  });

  it('log groups keep logs for the configured retention', () => {
    const names = ofType(prod, 'aws:cloudwatch/logGroup:LogGroup').map((g) => [
      g.inputs.name,
      g.inputs.retentionInDays,
    ]);
    for (const name of Object.values(logGroupNames('prod')))
      assert.deepEqual(
        names.find(([n]) => n === name),
        [name, 90],
      );
    for (const [, retention] of names) assert.equal(retention, 90);
  });

  it('a dashboard shows traffic, latency, health, fleet, batch queue and WAF blocks', () => {
    const dashboard = named(prod, 'aws:cloudwatch/dashboard:Dashboard', 'observability-dashboard');
    const body = JSON.parse(String(dashboard.inputs.dashboardBody)) as {
      widgets: { properties: { title: string; region: string } }[];
    };
    assert.equal(body.widgets.length, 6);
    for (const widget of body.widgets) assert.equal(widget.properties.region, 'eu-west-1');
    assert.ok(String(dashboard.inputs.dashboardBody).includes('breed-identifier-prod-fleet'));
  });
});
