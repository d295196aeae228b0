import assert from 'node:assert/strict';
import vm from 'node:vm';

import { handlerSource } from '../../infra/ami-lifecycle';
import {
  planRetirement,
  retireImages,
  sdkPort,
  type Ec2Port,
  type ImageInfo,
} from '../../infra/ami-retirement-handler';
import { AMI_TAGS, SERVICE_NAME } from '../../server/contract';
import { list, named, ofType, resourcesOf, runStack, statements } from './support';

/** Eight images, one a month, newest last; ids say their month. */
const IMAGES: ImageInfo[] = Array.from({ length: 8 }, (_, i) => ({
  imageId: `ami-month${i + 1}`,
  creationDate: `2026-0${i + 1}-15T10:00:00.000Z`,
  deprecated: false,
  snapshotIds: [`snap-month${i + 1}`],
}));

/** A fake EC2 that records every call and fails where told to. */
class FakeEc2 implements Ec2Port {
  readonly calls: string[] = [];
  constructor(
    private readonly images: ImageInfo[],
    private readonly used: string[] = [],
    private readonly failing: string[] = [],
  ) {}
  async listImages() {
    return this.images;
  }
  async imagesInUse() {
    return new Set(this.used);
  }
  async deprecate(imageId: string, at: Date) {
    if (this.failing.includes(imageId)) throw new Error('AccessDenied');
    this.calls.push(`deprecate ${imageId} ${at.toISOString()}`);
  }
  async deregister(image: ImageInfo) {
    if (this.failing.includes(image.imageId)) throw new Error('AccessDenied');
    this.calls.push(`deregister ${image.imageId} ${image.snapshotIds.join(',')}`);
  }
}

describe('infra AMI retirement', () => {
  const settings = { keepCount: 3, deprecatedKeepCount: 2 };

  it('keeps the newest, deprecates the next ones, deregisters the rest', () => {
    const plan = planRetirement([...IMAGES].reverse(), new Set(), settings);
    assert.deepEqual(plan.keep, ['ami-month8', 'ami-month7', 'ami-month6']);
    assert.deepEqual(plan.deprecate, ['ami-month5', 'ami-month4']);
    assert.deepEqual(
      plan.deregister.map((i) => i.imageId),
      ['ami-month3', 'ami-month2', 'ami-month1'],
    );
  });

  it('never deregisters an image in use; it is only deprecated', () => {
    const plan = planRetirement(IMAGES, new Set(['ami-month1']), settings);
    assert.ok(!plan.deregister.some((i) => i.imageId === 'ami-month1'));
    assert.ok(plan.deprecate.includes('ami-month1'));
  });

  it('does not deprecate twice, and does nothing with few images', () => {
    const images = IMAGES.map((i) => (i.imageId === 'ami-month5' ? { ...i, deprecated: true } : i));
    assert.deepEqual(planRetirement(images, new Set(), settings).deprecate, ['ami-month4']);
    const few = planRetirement(IMAGES.slice(0, 3), new Set(), settings);
    assert.deepEqual([few.deprecate, few.deregister], [[], []]);
  });

  it('deprecates ahead of time, deregisters with snapshots, carries on past failures', async () => {
    const ec2 = new FakeEc2(IMAGES, [], ['ami-month2']);
    const now = new Date('2026-12-01T03:30:00.000Z');
    const result = await retireImages(ec2, settings, now);
    assert.deepEqual(ec2.calls, [
      'deprecate ami-month5 2026-12-01T03:40:00.000Z',
      'deprecate ami-month4 2026-12-01T03:40:00.000Z',
      'deregister ami-month3 snap-month3',
      'deregister ami-month1 snap-month1',
    ]);
    assert.deepEqual(result.failures, ['ami-month2: AccessDenied']);
  });

  it('the packaged handler is plain CommonJS that needs no repository module', () => {
    const source = handlerSource();
    const sandbox = {
      exports: {} as Record<string, unknown>,
      require: (name: string) => {
        throw new Error(`required ${name}`);
      },
      process,
    };
    vm.runInNewContext(source, sandbox);
    assert.equal(typeof sandbox.exports.handler, 'function');
    assert.equal(typeof sandbox.exports.planRetirement, 'function');
    assert.ok(!/require\(["']\.\.?\//.test(source), 'imports a repository file');
  });

  it('the SDK port pages through images, finds images in use, deletes snapshots', async () => {
    const sent: [string, Record<string, unknown>][] = [];
    const pages: Record<string, Record<string, unknown>[]> = {
      DescribeImages: [
        {
          Images: [
            {
              ImageId: 'ami-1',
              CreationDate: '2026-01-01',
              BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-1' } }],
            },
          ],
          NextToken: 't',
        },
        {
          Images: [{ ImageId: 'ami-2', CreationDate: '2026-02-01', DeprecationTime: '2026-03-01' }],
        },
      ],
      DescribeInstances: [{ Reservations: [{ Instances: [{ ImageId: 'ami-run' }, {}] }] }],
      DescribeLaunchTemplates: [{ LaunchTemplates: [{ LaunchTemplateId: 'lt-1' }] }],
      DescribeLaunchTemplateVersions: [
        { LaunchTemplateVersions: [{ LaunchTemplateData: { ImageId: 'ami-lt' } }] },
      ],
    };
    const sdk: Record<string, unknown> = {
      EC2Client: class {
        async send(command: { name: string; input: Record<string, unknown> }) {
          sent.push([command.name, command.input]);
          return pages[command.name]?.shift() ?? {};
        }
      },
    };
    for (const name of [
      ...Object.keys(pages),
      'EnableImageDeprecation',
      'DeregisterImage',
      'DeleteSnapshot',
    ]) {
      sdk[`${name}Command`] = class {
        readonly name = name;
        constructor(readonly input: Record<string, unknown>) {}
      };
    }
    const port = sdkPort(sdk as unknown as Parameters<typeof sdkPort>[0], 'svc:tag', 'svc');

    const images = await port.listImages();
    assert.deepEqual(images, [
      { imageId: 'ami-1', creationDate: '2026-01-01', deprecated: false, snapshotIds: ['snap-1'] },
      { imageId: 'ami-2', creationDate: '2026-02-01', deprecated: true, snapshotIds: [] },
    ]);
    assert.deepEqual(sent[1], [
      'DescribeImages',
      {
        Owners: ['self'],
        Filters: [{ Name: 'tag:svc:tag', Values: ['svc'] }],
        IncludeDeprecated: true,
        NextToken: 't',
      },
    ]);
    assert.deepEqual([...(await port.imagesInUse())].sort(), ['ami-lt', 'ami-run']);
    await port.deregister(images[0]!);
    assert.deepEqual(sent.slice(-2), [
      ['DeregisterImage', { ImageId: 'ami-1' }],
      ['DeleteSnapshot', { SnapshotId: 'snap-1' }],
    ]);
  });

  describe('in the stack', function () {
    this.timeout(180_000);

    it('runs daily in prod, only on images and snapshots tagged with the service', async () => {
      const prod = await resourcesOf(runStack('prod'));
      const fn = named(prod, 'aws:lambda/function:Function', 'ami-lifecycle-function');
      const variables = (fn.inputs.environment as { variables: Record<string, string> }).variables;
      assert.deepEqual(variables, {
        TAG_KEY: AMI_TAGS.service,
        TAG_VALUE: SERVICE_NAME,
        KEEP_COUNT: '3',
        DEPRECATED_KEEP_COUNT: '3',
      });
      const rule = named(prod, 'aws:cloudwatch/eventRule:EventRule', 'ami-lifecycle-daily');
      assert.match(String(rule.inputs.scheduleExpression), /^cron\(/);

      const policy = named(prod, 'aws:iam/rolePolicy:RolePolicy', 'ami-lifecycle-policy');
      for (const statement of statements(policy.inputs.policy)) {
        const changes = list(statement.Action).some((a) => !/^(ec2:Describe|logs:)/.test(a));
        if (!changes) continue;
        assert.deepEqual(
          statement.Condition,
          {
            StringEquals: { [`aws:ResourceTag/${AMI_TAGS.service}`]: SERVICE_NAME },
          },
          statement.Sid,
        );
        assert.ok(
          list(statement.Resource).every((r) =>
            /^arn:aws:ec2:eu-west-1::(image|snapshot)\/\*$/.test(r),
          ),
        );
      }
    });

    it('is left out of a stack that turns it off (dev)', async () => {
      const dev = await resourcesOf(runStack('dev'));
      assert.equal(ofType(dev, 'aws:lambda/function:Function').length, 0);
    });
  });
});
