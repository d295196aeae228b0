import assert from 'node:assert/strict';

import { MAX_RECEIVE_COUNT } from '../../infra/batch';
import type { RecordedResource } from '../../infra/mocks';
import { BATCH_INSTANCE_ENV, INSTANCE_ENV, INSTANCE_ROLES } from '../../server/contract';
import {
  environmentOf,
  input,
  list,
  named,
  ofType,
  resourcesOf,
  runStack,
  statements,
} from './support';

const GROUP = 'aws:autoscaling/group:Group';
const SCHEDULE = 'aws:autoscaling/schedule:Schedule';

describe('infra night batch', function () {
  this.timeout(180_000);
  let prod: RecordedResource[];
  let group: RecordedResource;

  before(async () => {
    prod = await resourcesOf(runStack('prod'));
    group = named(prod, GROUP, 'batch-group');
  });

  it('the Spot group has no warm pool and at least two instance types', () => {
    assert.equal(group.inputs.warmPool, undefined);
    const overrides = input<{ instanceType: string }[]>(
      group,
      'mixedInstancesPolicy.launchTemplate.overrides',
    );
    assert.deepEqual(
      overrides.map((o) => o.instanceType),
      ['g5.xlarge', 'g4dn.xlarge', 'g6.xlarge'],
    );
    assert.ok(new Set(overrides.map((o) => o.instanceType)).size >= 2);
  });

  it('runs all Spot with a capacity-optimised allocation and rebalancing', () => {
    assert.deepEqual(input(group, 'mixedInstancesPolicy.instancesDistribution'), {
      onDemandBaseCapacity: 0,
      onDemandPercentageAboveBaseCapacity: 0,
      spotAllocationStrategy: 'capacity-optimized',
    });
    assert.equal(group.inputs.capacityRebalance, true);
    assert.equal(group.inputs.targetGroupArns, undefined, 'batch workers take no web traffic');
  });

  it('starts empty; night and morning schedules size it, in the time zone', () => {
    assert.equal(group.inputs.maxSize, 0);
    const schedules = ofType(prod, SCHEDULE);
    const byName = Object.fromEntries(
      schedules.map((s) => [s.inputs.scheduledActionName, s.inputs]),
    );
    assert.deepEqual(Object.keys(byName).sort(), ['morning-stop', 'night-start']);
    assert.equal(byName['night-start']!.recurrence, '0 1 * * *');
    assert.equal(byName['night-start']!.desiredCapacity, 2);
    assert.equal(byName['night-start']!.maxSize, 6);
    assert.equal(byName['morning-stop']!.recurrence, '0 6 * * *');
    assert.deepEqual(
      [
        byName['morning-stop']!.minSize,
        byName['morning-stop']!.maxSize,
        byName['morning-stop']!.desiredCapacity,
      ],
      [0, 0, 0],
    );
    for (const schedule of schedules) {
      assert.equal(schedule.inputs.timeZone, 'Europe/Paris');
      assert.equal(schedule.inputs.autoscalingGroupName, 'breed-identifier-prod-batch');
    }
  });

  it('a backlog adds workers; a drained queue (nothing in flight) removes them', () => {
    const backlog = named(prod, 'aws:cloudwatch/metricAlarm:MetricAlarm', 'batch-backlog');
    assert.equal(backlog.inputs.metricName, 'ApproximateNumberOfMessagesVisible');
    assert.equal(backlog.inputs.threshold, 500);
    const out = named(prod, 'aws:autoscaling/policy:Policy', 'batch-backlog-out');
    assert.deepEqual(backlog.inputs.alarmActions, [
      `arn:aws:autoscaling:eu-west-1:123456789012:batch-backlog-out/${out.id}`,
    ]);

    const empty = named(prod, 'aws:cloudwatch/metricAlarm:MetricAlarm', 'batch-empty');
    const queries = empty.inputs.metricQueries as {
      id: string;
      expression?: string;
      metric?: { metricName: string };
    }[];
    assert.deepEqual(
      queries.flatMap((q) => (q.metric ? [q.metric.metricName] : [])),
      ['ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesNotVisible'],
    );
    const scaleIn = named(prod, 'aws:autoscaling/policy:Policy', 'batch-empty-in');
    assert.equal(scaleIn.inputs.adjustmentType, 'ExactCapacity');
    assert.deepEqual(input(scaleIn, 'stepAdjustments.0.scalingAdjustment'), 0);
  });

  it('the queue hands repeated failures to a dead-letter queue; both are encrypted', () => {
    const queues = ofType(prod, 'aws:sqs/queue:Queue');
    const work = queues.find((q) => q.name === 'batch-work')!;
    const deadLetters = queues.find((q) => q.name === 'batch-dead-letters')!;
    const redrive = JSON.parse(String(work.inputs.redrivePolicy)) as Record<string, unknown>;
    assert.equal(redrive.maxReceiveCount, MAX_RECEIVE_COUNT);
    assert.match(
      String(redrive.deadLetterTargetArn),
      /^arn:aws:sqs:eu-west-1:123456789012:batch-dead-letters-/,
    );
    for (const queue of [work, deadLetters]) assert.equal(queue.inputs.sqsManagedSseEnabled, true);
  });

  it('new photos in the input bucket become queue messages, sent by S3 only', () => {
    const notification = named(
      prod,
      'aws:s3/bucketNotification:BucketNotification',
      'batch-input-events',
    );
    assert.equal(notification.inputs.bucket, named(prod, 'aws:s3/bucket:Bucket', 'batch-input').id);
    assert.deepEqual(input(notification, 'queues.0.events'), ['s3:ObjectCreated:*']);
    const [statement] = statements(
      named(prod, 'aws:sqs/queuePolicy:QueuePolicy', 'batch-from-input').inputs.policy,
    );
    assert.deepEqual(statement!.Principal, { Service: 's3.amazonaws.com' });
    assert.deepEqual(list(statement!.Action), ['sqs:SendMessage']);
    assert.match(
      String(statement!.Condition?.ArnEquals?.['aws:SourceArn']),
      /^arn:aws:s3:::batch-input-/,
    );
  });

  it('the batch role reads input, writes output, consumes the queue, nothing else', () => {
    const policy = named(prod, 'aws:iam/rolePolicy:RolePolicy', 'batch-instance-inline');
    const granted = statements(policy.inputs.policy).map((s) => [
      list(s.Action).join(','),
      list(s.Resource).join(','),
    ]);
    assert.deepEqual(
      granted.map(([actions]) => actions),
      [
        's3:ListBucket',
        's3:GetObject',
        's3:PutObject,s3:AbortMultipartUpload',
        'sqs:ReceiveMessage,sqs:DeleteMessage,sqs:ChangeMessageVisibility,sqs:GetQueueAttributes',
      ],
    );
    assert.match(granted[1]![1]!, /^arn:aws:s3:::batch-input-[0-9a-f]+\/\*$/);
    assert.match(granted[2]![1]!, /^arn:aws:s3:::batch-output-[0-9a-f]+\/\*$/);
    assert.match(granted[3]![1]!, /^arn:aws:sqs:eu-west-1:123456789012:batch-work-/);
  });

  it('batch user data names the stack, region, batch role, queue, buckets; no secrets', () => {
    const environment = environmentOf(
      named(prod, 'aws:ec2/launchTemplate:LaunchTemplate', 'batch-template'),
    );
    assert.equal(environment[INSTANCE_ENV.stack], 'prod');
    assert.equal(environment[INSTANCE_ENV.region], 'eu-west-1');
    assert.equal(environment[INSTANCE_ENV.role], INSTANCE_ROLES.batch);
    assert.match(
      environment[BATCH_INSTANCE_ENV.queueUrl]!,
      /^https:\/\/sqs\.eu-west-1\.amazonaws\.com\/123456789012\/batch-work-/,
    );
    assert.match(environment[BATCH_INSTANCE_ENV.inputBucket]!, /^batch-input-/);
    assert.match(environment[BATCH_INSTANCE_ENV.outputBucket]!, /^batch-output-/);
    assert.equal(environment[INSTANCE_ENV.secretsParameterPath], undefined);
    assert.equal(environment[INSTANCE_ENV.lifecycleHookName], undefined);
  });
});
