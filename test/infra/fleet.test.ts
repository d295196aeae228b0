import assert from 'node:assert/strict';

import { spreadOverZones } from '../../infra/capacity-reservation';
import { REFRESH_CHECKPOINTS } from '../../infra/fleet';
import { INSTANCE_FAMILIES } from '../../infra/instance-families';
import { MOCK_IMAGES, type RecordedResource } from '../../infra/mocks';
import {
  IMAGE_LAYOUT,
  INSTANCE_ENV,
  INSTANCE_ROLES,
  LAUNCH_LIFECYCLE_HOOK,
  PATHS,
  SECRETS,
  SERVER_PORT,
} from '../../server/contract';
import { environmentOf, input, named, ofType, resourcesOf, runStack, userDataOf } from './support';

const GROUP = 'aws:autoscaling/group:Group';
const TEMPLATE = 'aws:ec2/launchTemplate:LaunchTemplate';
const RESERVATION = 'aws:ec2/capacityReservation:CapacityReservation';

describe('infra fleet', function () {
  this.timeout(180_000);
  let dev: RecordedResource[];
  let prod: RecordedResource[];

  before(async () => {
    [dev, prod] = await Promise.all([resourcesOf(runStack('dev')), resourcesOf(runStack('prod'))]);
  });

  describe('warm pool', () => {
    it('GPU fleets keep their warm pool Stopped, because GPU families cannot hibernate', () => {
      const group = named(prod, GROUP, 'fleet-group');
      const type = String(named(prod, TEMPLATE, 'fleet-template').inputs.instanceType);
      assert.equal(INSTANCE_FAMILIES[type.split('.')[0]!]?.gpu, true);
      assert.equal(input(group, 'warmPool.poolState'), 'Stopped');
      assert.equal(input(named(prod, TEMPLATE, 'fleet-template'), 'hibernationOptions'), undefined);
    });

    it('a Hibernated warm pool runs only on a family that can hibernate, configured so', () => {
      const group = named(dev, GROUP, 'fleet-group');
      const template = named(dev, TEMPLATE, 'fleet-template');
      assert.equal(input(group, 'warmPool.poolState'), 'Hibernated');
      assert.equal(
        INSTANCE_FAMILIES[String(template.inputs.instanceType).split('.')[0]!]?.hibernation,
        true,
      );
      assert.equal(input(template, 'hibernationOptions.configured'), true);
      assert.equal(input(template, 'blockDeviceMappings.0.ebs.encrypted'), 'true');
    });

    it('warm instances are reused on scale-in and the pool has the configured size', () => {
      const group = named(prod, GROUP, 'fleet-group');
      assert.equal(input(group, 'warmPool.instanceReusePolicy.reuseOnScaleIn'), true);
      assert.equal(input(group, 'warmPool.minSize'), 2);
    });

    it('a warm pool of size 0 is left out entirely', async () => {
      const resources = await resourcesOf(runStack('prod', { warmPoolSize: 0 }));
      assert.equal(named(resources, GROUP, 'fleet-group').inputs.warmPool, undefined);
    });
  });

  describe('launch template and group', () => {
    it('the group never uses $Latest or $Default: it names the template version number', () => {
      for (const resources of [dev, prod]) {
        for (const group of ofType(resources, GROUP)) {
          const version =
            input<string>(group, 'launchTemplate.version') ??
            input<string>(
              group,
              'mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version',
            );
          assert.match(String(version), /^\d+$/, `${group.name} uses ${version}`);
        }
        const everything = JSON.stringify(resources.map((r) => r.inputs));
        assert.ok(!everything.includes('$Latest') && !everything.includes('$Default'));
      }
    });

    it('instance refresh has checkpoints and rolls back automatically on alarms', () => {
      const refresh = input<Record<string, unknown>>(
        named(prod, GROUP, 'fleet-group'),
        'instanceRefresh',
      );
      const preferences = refresh.preferences as Record<string, unknown>;
      assert.equal(refresh.strategy, 'Rolling');
      assert.equal(preferences.autoRollback, true);
      assert.deepEqual(preferences.checkpointPercentages, REFRESH_CHECKPOINTS);
      assert.equal(REFRESH_CHECKPOINTS.at(-1), 100);
      assert.ok(Number(preferences.minHealthyPercentage) >= 90);
      const alarms = (preferences.alarmSpecification as { alarms: string[] }).alarms;
      assert.deepEqual(
        alarms.map((name) => name.replace(/-[0-9a-f]{7}$/, '')),
        ['observability-5xx-rate', 'observability-p95-latency', 'observability-unhealthy-hosts'],
      );
    });

    it('health checks come from the ALB, with a grace period, on the readiness path', () => {
      const group = named(prod, GROUP, 'fleet-group');
      assert.equal(group.inputs.healthCheckType, 'ELB');
      assert.equal(group.inputs.healthCheckGracePeriod, 300);
      const targetGroup = named(prod, 'aws:lb/targetGroup:TargetGroup', 'edge-fleet');
      assert.equal(input(targetGroup, 'healthCheck.path'), PATHS.ready);
      assert.equal(targetGroup.inputs.port, SERVER_PORT);
      const arns = group.inputs.targetGroupArns as string[];
      assert.equal(arns.length, 1);
      assert.match(arns[0]!, /:targetgroup\/edge-fleet[^/]*\/[0-9a-f]+$/);
    });

    it('an instance joins only after the boot agent completes the launch lifecycle hook', () => {
      const hooks = input<Record<string, unknown>[]>(
        named(prod, GROUP, 'fleet-group'),
        'initialLifecycleHooks',
      );
      assert.deepEqual(hooks, [
        {
          name: LAUNCH_LIFECYCLE_HOOK,
          lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
          heartbeatTimeout: 1200,
          defaultResult: 'ABANDON',
        },
      ]);
    });

    it('the root volume is sized from the configuration', () => {
      assert.equal(
        input(named(prod, TEMPLATE, 'fleet-template'), 'blockDeviceMappings.0.ebs.volumeSize'),
        100,
      );
      assert.equal(
        input(named(dev, TEMPLATE, 'fleet-template'), 'blockDeviceMappings.0.ebs.volumeSize'),
        60,
      );
      assert.equal(
        input(named(prod, TEMPLATE, 'fleet-template'), 'blockDeviceMappings.0.deviceName'),
        '/dev/sda1',
      );
    });

    it('user data writes the instance environment file and nothing else', () => {
      const template = named(prod, TEMPLATE, 'fleet-template');
      const text = userDataOf(template);
      assert.match(text, /^#cloud-config\n/);
      assert.equal(text.match(/- path:/g)?.length, 1);
      assert.ok(text.includes(`- path: ${IMAGE_LAYOUT.instanceEnvFile}`));
      assert.ok(!/runcmd|bootcmd|packages|curl|wget/.test(text));
      assert.deepEqual(environmentOf(template), {
        [INSTANCE_ENV.stack]: 'prod',
        [INSTANCE_ENV.region]: 'eu-west-1',
        [INSTANCE_ENV.secretsParameterPath]: `${SECRETS.parameterPathPrefix}/prod`,
        [INSTANCE_ENV.lifecycleHookName]: LAUNCH_LIFECYCLE_HOOK,
        [INSTANCE_ENV.role]: INSTANCE_ROLES.inference,
      });
    });

    it('scales on ALB requests per target of its own target group', () => {
      const policy = named(prod, 'aws:autoscaling/policy:Policy', 'fleet-requests-per-instance');
      const spec = input<Record<string, string>>(
        policy,
        'targetTrackingConfiguration.predefinedMetricSpecification',
      );
      assert.equal(spec.predefinedMetricType, 'ALBRequestCountPerTarget');
      assert.match(
        spec.resourceLabel!,
        /^app\/edge-alb[^/]*\/[0-9a-f]+\/targetgroup\/edge-fleet[^/]*\/[0-9a-f]+$/,
      );
      assert.equal(input(policy, 'targetTrackingConfiguration.targetValue'), 600);
      assert.equal(policy.inputs.autoscalingGroupName, 'breed-identifier-prod-fleet');
    });
  });

  describe('reserved baseline', () => {
    it('the group minimum is at least the reserved baseline', () => {
      for (const resources of [dev, prod]) {
        const reserved = ofType(resources, RESERVATION).reduce(
          (sum, r) => sum + Number(r.inputs.instanceCount),
          0,
        );
        assert.ok(Number(named(resources, GROUP, 'fleet-group').inputs.minSize) >= reserved);
      }
    });

    it('targeted reservations hold the baseline of the fleet type in the configured zones', () => {
      const reservations = ofType(prod, RESERVATION);
      assert.deepEqual(
        reservations.map((r) => [r.inputs.availabilityZone, r.inputs.instanceCount]),
        [
          ['eu-west-1a', 1],
          ['eu-west-1b', 1],
        ],
      );
      for (const reservation of reservations) {
        assert.equal(reservation.inputs.instanceType, 'g5.xlarge');
        assert.equal(reservation.inputs.instanceMatchCriteria, 'targeted');
        assert.equal(reservation.inputs.instancePlatform, 'Linux/UNIX');
      }
    });

    it('the fleet uses the reservations first', () => {
      const spec = input<Record<string, unknown>>(
        named(prod, GROUP, 'fleet-group'),
        'capacityReservationSpecification',
      );
      assert.equal(spec.capacityReservationPreference, 'capacity-reservations-first');
      assert.deepEqual(
        (spec.capacityReservationTarget as { capacityReservationIds: string[] })
          .capacityReservationIds,
        ofType(prod, RESERVATION).map((r) => r.id),
      );
    });

    it('no baseline, no reservation and no reservation preference', () => {
      assert.equal(ofType(dev, RESERVATION).length, 0);
      assert.equal(
        named(dev, GROUP, 'fleet-group').inputs.capacityReservationSpecification,
        undefined,
      );
    });

    it('spreads a baseline over zones the way the group balances instances', () => {
      const zones = ['a', 'b', 'c'];
      assert.deepEqual(
        [...spreadOverZones(5, zones)],
        [
          ['a', 2],
          ['b', 2],
          ['c', 1],
        ],
      );
      assert.deepEqual([...spreadOverZones(1, zones)], [['a', 1]]);
      assert.deepEqual([...spreadOverZones(0, zones)], []);
      for (let count = 0; count < 20; count += 1) {
        const spread = spreadOverZones(count, zones);
        const shares = zones.map((zone) => spread.get(zone) ?? 0);
        assert.equal(
          shares.reduce((a, b) => a + b, 0),
          count,
        );
        assert.ok(Math.max(...shares) - Math.min(...shares) <= 1, `uneven spread of ${count}`);
      }
    });
  });

  describe('golden AMI', () => {
    it('is the newest image tagged with the configured model version', async () => {
      const { outputs } = await runStack('prod');
      const newest = MOCK_IMAGES.filter((i) => i.modelVersion === '1.0.0').sort((a, b) =>
        b.creationDate.localeCompare(a.creationDate),
      )[0]!;
      assert.equal(outputs.amiId, newest.imageId);
      assert.equal(outputs.modelVersion, '1.0.0');
      assert.equal(named(prod, TEMPLATE, 'fleet-template').inputs.imageId, newest.imageId);
      assert.equal(named(prod, TEMPLATE, 'batch-template').inputs.imageId, newest.imageId);
    });

    it('an explicit amiId of an older release is used as is (a rollback)', async () => {
      const old = MOCK_IMAGES.find((i) => i.modelVersion === '0.9.0')!;
      const run = await runStack('prod', { amiId: old.imageId, modelVersion: '0.9.0' });
      assert.equal(run.error, undefined);
      assert.equal(run.outputs.amiId, old.imageId);
      assert.equal(
        named(run.mocks.resources, TEMPLATE, 'fleet-template').inputs.imageId,
        old.imageId,
      );
    });

    it('an amiId tagged with another model version fails with the fix', async () => {
      const old = MOCK_IMAGES.find((i) => i.modelVersion === '0.9.0')!;
      const run = await runStack('prod', { amiId: old.imageId, modelVersion: '1.0.0' });
      assert.match(
        String(run.error?.message),
        /breed-identifier:modelVersion is 1\.0\.0 but ami-\w+ is tagged/,
      );
      assert.match(
        String(run.error?.message),
        /pulumi config set breed-identifier:modelVersion 0\.9\.0/,
      );
    });

    it('a model version without an image fails the deployment', async () => {
      const run = await runStack('prod', { modelVersion: '7.7.7' });
      const message = String(run.error?.message);
      assert.match(
        message,
        /no golden AMI of this account is tagged breed-identifier:model-version=7\.7\.7/,
      );
      assert.match(message, /pulumi config set breed-identifier:modelVersion /);
    });
  });
});
