/**
 * Pulumi mocks shared by the tests and the offline plan: they record every resource the program
 * declares (components included, with their parents), answer with realistic ids, ARNs and
 * names, and answer only the lookups the program makes; any other lookup throws, so a new,
 * unmocked call fails loudly instead of returning nothing.
 */
import { createHash } from 'node:crypto';

import * as pulumi from '@pulumi/pulumi';

import { AMI_TAGS, SERVICE_NAME } from '../server/contract';

/** Account the mocks pretend to be. */
export const MOCK_ACCOUNT_ID = '123456789012';

/** A golden image the mocked `getAmi` can find. */
export interface MockImage {
  readonly imageId: string;
  readonly modelVersion: string;
  readonly creationDate: string;
  readonly rootDeviceName: string;
}

/** Images of the mocked account: two model versions, the newer one baked twice. */
export const MOCK_IMAGES: readonly MockImage[] = [
  {
    imageId: 'ami-0a1b2c3d4e5f60718',
    modelVersion: '0.9.0',
    creationDate: '2026-10-01T09:00:00.000Z',
    rootDeviceName: '/dev/sda1',
  },
  {
    imageId: 'ami-0b2c3d4e5f6071829',
    modelVersion: '1.0.0',
    creationDate: '2026-11-02T09:00:00.000Z',
    rootDeviceName: '/dev/sda1',
  },
  {
    imageId: 'ami-0c3d4e5f607182930',
    modelVersion: '1.0.0',
    creationDate: '2026-11-20T09:00:00.000Z',
    rootDeviceName: '/dev/sda1',
  },
];

/** One declared resource, with the inputs the engine received and the id the mocks gave it. */
export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly custom: boolean;
  /** Inputs as the provider receives them (outputs resolved). Empty for components. */
  inputs: Record<string, unknown>;
  id?: string;
  /** The parent resource, undefined for top-level resources. */
  readonly parent?: RecordedResource;
}

function hex(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

const ID_PREFIXES: Readonly<Record<string, string>> = {
  'aws:ec2/securityGroup:SecurityGroup': 'sg-',
  'aws:ec2/vpcEndpoint:VpcEndpoint': 'vpce-',
  'aws:ec2/launchTemplate:LaunchTemplate': 'lt-',
  'aws:ec2/capacityReservation:CapacityReservation': 'cr-',
};

/** Records resources and answers calls like a small, consistent AWS account. */
export class RecordingMocks implements pulumi.runtime.Mocks {
  /** Every resource the engine registered (components too), in registration order. */
  readonly resources: RecordedResource[] = [];
  /** Every resource, components included, by the object the program created. */
  private readonly byObject = new Map<pulumi.Resource, RecordedResource>();

  constructor(
    private readonly region: string,
    private readonly images: readonly MockImage[] = MOCK_IMAGES,
  ) {}

  /** Every declared resource, components included, in declaration order. */
  get tree(): RecordedResource[] {
    return [...this.byObject.values()];
  }

  /** The resource objects the program created, for waiting on their registration. */
  declared(): pulumi.Resource[] {
    return [...this.byObject.keys()];
  }

  /** A stack transformation that notes each resource and its parent as it is constructed. */
  readonly transformation: pulumi.ResourceTransformation = (args) => {
    const parent = args.opts.parent ? this.byObject.get(args.opts.parent) : undefined;
    const custom = args.resource instanceof pulumi.CustomResource;
    this.byObject.set(args.resource, {
      type: args.type,
      name: args.name,
      custom,
      inputs: {},
      parent,
    });
    return undefined;
  };

  newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    if (args.type === 'pulumi:pulumi:Stack') return { id: undefined, state: {} };
    const id = `${ID_PREFIXES[args.type] ?? ''}${hex(`${args.type}/${args.name}`, 17)}`;
    const state = { ...args.inputs, ...this.stateFor(args, id) };
    const known = [...this.byObject.values()].find(
      (r) => r.type === args.type && r.name === args.name,
    );
    const record = known ?? { type: args.type, name: args.name, custom: true, inputs: {} };
    record.inputs = args.inputs as Record<string, unknown>;
    record.id = id;
    this.resources.push(record);
    return { id, state };
  }

  /** Outputs a provider would add: ARNs, names, DNS names, URLs, versions. */
  private stateFor(args: pulumi.runtime.MockResourceArgs, id: string): Record<string, unknown> {
    const { region } = this;
    const inputs = args.inputs as Record<string, unknown>;
    const name = typeof inputs.name === 'string' ? inputs.name : `${args.name}-${hex(id, 7)}`;
    const service = args.type.split(/[:/]/)[1];
    const arn = `arn:aws:${service}:${region}:${MOCK_ACCOUNT_ID}:${args.name}/${id}`;
    switch (args.type) {
      case 'awsx:ec2:Vpc':
        return vpcState(inputs, id);
      case 'aws:lb/loadBalancer:LoadBalancer': {
        const suffix = `app/${name.slice(0, 32)}/${hex(id, 16)}`;
        const dnsName = `${name}-${hex(id, 9)}.${region}.elb.amazonaws.com`;
        return {
          arn: `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:loadbalancer/${suffix}`,
          arnSuffix: suffix,
          dnsName,
          name,
        };
      }
      case 'aws:lb/targetGroup:TargetGroup': {
        const suffix = `targetgroup/${name.slice(0, 32)}/${hex(id, 16)}`;
        return {
          arn: `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:${suffix}`,
          arnSuffix: suffix,
          name,
        };
      }
      case 'aws:ec2/launchTemplate:LaunchTemplate':
        return {
          arn: `arn:aws:ec2:${region}:${MOCK_ACCOUNT_ID}:launch-template/${id}`,
          latestVersion: 1,
        };
      case 'aws:sqs/queue:Queue':
        return {
          arn: `arn:aws:sqs:${region}:${MOCK_ACCOUNT_ID}:${name}`,
          name,
          url: `https://sqs.${region}.amazonaws.com/${MOCK_ACCOUNT_ID}/${name}`,
        };
      case 'aws:s3/bucket:Bucket':
        return { arn: `arn:aws:s3:::${name}`, bucket: name };
      case 'aws:iam/role:Role':
        return { arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/${name}`, name };
      case 'aws:cloudwatch/logGroup:LogGroup':
        return { arn: `arn:aws:logs:${region}:${MOCK_ACCOUNT_ID}:log-group:${name}`, name };
      default:
        return { arn, name };
    }
  }

  call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
    const { region } = this;
    switch (args.token) {
      case 'aws:index/getCallerIdentity:getCallerIdentity':
        return {
          accountId: MOCK_ACCOUNT_ID,
          arn: `arn:aws:sts::${MOCK_ACCOUNT_ID}:assumed-role/platform-deployer/ci`,
          userId: 'AROAEXAMPLEDEPLOYER:ci',
          id: MOCK_ACCOUNT_ID,
        };
      case 'aws:index/getPartition:getPartition':
        return {
          partition: 'aws',
          dnsSuffix: 'amazonaws.com',
          reverseDnsPrefix: 'com.amazonaws',
          id: 'aws',
        };
      case 'aws:index/getAvailabilityZones:getAvailabilityZones': {
        const names = ['a', 'b', 'c'].map((letter) => `${region}${letter}`);
        return { names, zoneIds: names.map((_, i) => `euw1-az${i + 1}`), id: region };
      }
      case 'aws:ec2/getAmiIds:getAmiIds': {
        const ids = this.matchingImages(args.inputs as AmiQuery).map((image) => image.imageId);
        return { ids, id: hex(JSON.stringify(args.inputs), 12) };
      }
      case 'aws:ec2/getAmi:getAmi':
        return this.findImage(args.inputs as AmiQuery);
      default:
        throw new Error(`unexpected call in the Pulumi mocks: ${args.token}`);
    }
  }

  /** Applies the filters the program sends, the way EC2 would; newest first. */
  private matchingImages(query: AmiQuery): MockImage[] {
    if (!query.owners?.includes('self')) throw new Error('AMI mock: only owners=[self] is known');
    const matches = this.images.filter((image) =>
      (query.filters ?? []).every((filter) =>
        filter.values.includes(imageField(image, filter.name)),
      ),
    );
    return matches.sort((a, b) => b.creationDate.localeCompare(a.creationDate));
  }

  /** The newest match, as `getAmi` with `mostRecent` answers. */
  private findImage(query: AmiQuery): pulumi.runtime.MockCallResult {
    const newest = this.matchingImages(query)[0];
    if (!newest) {
      throw new Error(
        'Your query returned no results. Please change your search criteria and try again.',
      );
    }
    return {
      id: newest.imageId,
      imageId: newest.imageId,
      architecture: 'x86_64',
      creationDate: newest.creationDate,
      rootDeviceName: newest.rootDeviceName,
      rootDeviceType: 'ebs',
      state: 'available',
      tags: { [AMI_TAGS.service]: SERVICE_NAME, [AMI_TAGS.modelVersion]: newest.modelVersion },
    };
  }
}

interface AmiQuery {
  owners?: string[];
  filters?: { name: string; values: string[] }[];
}

function imageField(image: MockImage, filterName: string): string {
  if (filterName === 'image-id') return image.imageId;
  if (filterName === 'state') return 'available';
  if (filterName === `tag:${AMI_TAGS.service}`) return SERVICE_NAME;
  if (filterName === `tag:${AMI_TAGS.modelVersion}`) return image.modelVersion;
  throw new Error(`getAmi mock: unknown filter ${filterName}`);
}

/** What awsx's VPC component reports: one public and one private subnet per zone. */
function vpcState(inputs: Record<string, unknown>, id: string): Record<string, unknown> {
  const zones = (inputs.availabilityZoneNames as string[] | undefined) ?? [];
  const subnet = (kind: string, zone: string) => `subnet-${hex(`${id}/${kind}/${zone}`, 17)}`;
  return {
    vpcId: `vpc-${hex(id, 17)}`,
    publicSubnetIds: zones.map((zone) => subnet('public', zone)),
    privateSubnetIds: zones.map((zone) => subnet('private', zone)),
    isolatedSubnetIds: [],
    routeTables: zones.flatMap((zone) => [
      { id: `rtb-${hex(`${id}/public/${zone}`, 17)}` },
      { id: `rtb-${hex(`${id}/private/${zone}`, 17)}` },
    ]),
  };
}
