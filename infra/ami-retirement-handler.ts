/**
 * The AMI retirement job, run daily by a Lambda function that `ami-lifecycle.ts` packages from
 * this file alone (so it imports nothing from the repository). It keeps the newest golden images,
 * deprecates the next ones (still launchable by id, for a late rollback), and deregisters the
 * rest with their snapshots. An image that any instance or any of the service's launch templates
 * (latest or default version) still uses is never deregistered, whichever stack uses it.
 */

/** What the job needs to know about one golden image. */
export interface ImageInfo {
  readonly imageId: string;
  /** ISO 8601 creation time, as EC2 reports it. */
  readonly creationDate: string;
  /** True when a deprecation time is already set. */
  readonly deprecated: boolean;
  readonly snapshotIds: readonly string[];
}

/** How many images stay untouched and how many more stay deprecated. */
export interface RetentionSettings {
  readonly keepCount: number;
  readonly deprecatedKeepCount: number;
}

/** What the job decided for each image. */
export interface RetirementPlan {
  readonly keep: readonly string[];
  readonly deprecate: readonly string[];
  readonly deregister: readonly ImageInfo[];
}

/** The EC2 calls the job makes; the Lambda wires them to the AWS SDK, tests to a fake. */
export interface Ec2Port {
  listImages(): Promise<ImageInfo[]>;
  imagesInUse(): Promise<Set<string>>;
  deprecate(imageId: string, at: Date): Promise<void>;
  deregister(image: ImageInfo): Promise<void>;
}

/** Deprecation takes effect this long after the run (EC2 refuses times in the past). */
const DEPRECATION_DELAY_MS = 10 * 60 * 1000;

/**
 * Sorts images newest first and splits them: the first `keepCount` stay, the next
 * `deprecatedKeepCount` are deprecated, older ones are deregistered unless in use, in which case
 * they are only deprecated.
 */
export function planRetirement(
  images: readonly ImageInfo[],
  inUse: ReadonlySet<string>,
  settings: RetentionSettings,
): RetirementPlan {
  const newestFirst = [...images].sort((a, b) => b.creationDate.localeCompare(a.creationDate));
  const keep = newestFirst.slice(0, settings.keepCount);
  const older = newestFirst.slice(settings.keepCount);
  const deregister = older
    .slice(settings.deprecatedKeepCount)
    .filter((image) => !inUse.has(image.imageId));
  const gone = new Set(deregister.map((image) => image.imageId));
  const deprecate = older
    .filter((image) => !gone.has(image.imageId) && !image.deprecated)
    .map((image) => image.imageId);
  return { keep: keep.map((image) => image.imageId), deprecate, deregister };
}

/** Runs one retirement pass; failures on one image are reported and do not stop the others. */
export async function retireImages(
  ec2: Ec2Port,
  settings: RetentionSettings,
  now: Date,
): Promise<RetirementPlan & { failures: string[] }> {
  const [images, inUse] = await Promise.all([ec2.listImages(), ec2.imagesInUse()]);
  const plan = planRetirement(images, inUse, settings);
  const failures: string[] = [];
  const at = new Date(now.getTime() + DEPRECATION_DELAY_MS);

  for (const imageId of plan.deprecate) {
    await ec2
      .deprecate(imageId, at)
      .catch((err: Error) => failures.push(`${imageId}: ${err.message}`));
  }
  for (const image of plan.deregister) {
    await ec2
      .deregister(image)
      .catch((err: Error) => failures.push(`${image.imageId}: ${err.message}`));
  }
  return { ...plan, failures };
}

/** The subset of the AWS SDK v3 EC2 client the port uses (the Lambda runtime provides it). */
interface Ec2Sdk {
  EC2Client: new () => { send(command: unknown): Promise<Record<string, unknown>> };
  [command: string]: unknown;
}

type Page = Record<string, unknown> & { NextToken?: string };
type Filter = { Name: string; Values: string[] };

/** Sends EC2 commands by name and follows `NextToken` through every page. */
class Ec2Api {
  private readonly client: { send(command: unknown): Promise<Record<string, unknown>> };

  constructor(private readonly sdk: Ec2Sdk) {
    this.client = new sdk.EC2Client();
  }

  send(name: string, input: Record<string, unknown>): Promise<Page> {
    const Command = this.sdk[`${name}Command`] as new (input: unknown) => unknown;
    return this.client.send(new Command(input)) as Promise<Page>;
  }

  async all<T>(name: string, input: Record<string, unknown>, key: string): Promise<T[]> {
    const items: T[] = [];
    let token: string | undefined;
    do {
      const page = await this.send(name, { ...input, NextToken: token });
      items.push(...((page[key] ?? []) as T[]));
      token = page.NextToken;
    } while (token);
    return items;
  }
}

/** Images that instances (running, stopped, warm) or the service's launch templates use. */
async function imagesInUse(api: Ec2Api, tagFilter: Filter): Promise<Set<string>> {
  const states = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];
  const instanceFilter = { Filters: [{ Name: 'instance-state-name', Values: states }] };
  const reservations = await api.all<AwsReservation>(
    'DescribeInstances',
    instanceFilter,
    'Reservations',
  );
  const used = new Set(
    reservations.flatMap((r) => (r.Instances ?? []).map((i) => i.ImageId ?? '')),
  );

  const templateFilter = { Filters: [tagFilter] };
  const templates = await api.all<AwsTemplate>(
    'DescribeLaunchTemplates',
    templateFilter,
    'LaunchTemplates',
  );
  for (const template of templates) {
    const input = {
      LaunchTemplateId: template.LaunchTemplateId,
      Versions: ['$Latest', '$Default'],
    };
    const versions = await api.all<AwsTemplateVersion>(
      'DescribeLaunchTemplateVersions',
      input,
      'LaunchTemplateVersions',
    );
    for (const version of versions) used.add(version.LaunchTemplateData?.ImageId ?? '');
  }
  used.delete('');
  return used;
}

/** The port over the real EC2 API, for images tagged `tagKey=tagValue` in this account. */
export function sdkPort(sdk: Ec2Sdk, tagKey: string, tagValue: string): Ec2Port {
  const api = new Ec2Api(sdk);
  const tagFilter = { Name: `tag:${tagKey}`, Values: [tagValue] };
  return {
    async listImages() {
      const input = { Owners: ['self'], Filters: [tagFilter], IncludeDeprecated: true };
      return (await api.all<AwsImage>('DescribeImages', input, 'Images')).map(toImageInfo);
    },
    imagesInUse: () => imagesInUse(api, tagFilter),
    async deprecate(imageId, at) {
      await api.send('EnableImageDeprecation', { ImageId: imageId, DeprecateAt: at });
    },
    async deregister(image) {
      await api.send('DeregisterImage', { ImageId: image.imageId });
      for (const SnapshotId of image.snapshotIds) await api.send('DeleteSnapshot', { SnapshotId });
    },
  };
}

interface AwsImage {
  ImageId: string;
  CreationDate?: string;
  DeprecationTime?: string;
  BlockDeviceMappings?: { Ebs?: { SnapshotId?: string } }[];
}
interface AwsTemplate {
  LaunchTemplateId: string;
}
interface AwsReservation {
  Instances?: { ImageId?: string }[];
}
interface AwsTemplateVersion {
  LaunchTemplateData?: { ImageId?: string };
}

function toImageInfo(image: AwsImage): ImageInfo {
  return {
    imageId: image.ImageId,
    creationDate: image.CreationDate ?? '',
    deprecated: Boolean(image.DeprecationTime),
    snapshotIds: (image.BlockDeviceMappings ?? []).flatMap((m) =>
      m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [],
    ),
  };
}

/** Reads a positive integer setting from the function's environment. */
function setting(name: string): number {
  const value = Number(process.env[name]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
  return value;
}

/** Lambda entry point. */
export async function handler(): Promise<RetirementPlan & { failures: string[] }> {
  const moduleName = '@aws-sdk/client-ec2';
  const sdk = (await import(moduleName)) as Ec2Sdk;
  const port = sdkPort(sdk, process.env.TAG_KEY ?? '', process.env.TAG_VALUE ?? '');
  const settings = {
    keepCount: setting('KEEP_COUNT'),
    deprecatedKeepCount: setting('DEPRECATED_KEEP_COUNT'),
  };
  const result = await retireImages(port, settings, new Date());
  console.log(
    JSON.stringify({
      msg: 'ami retirement',
      ...result,
      deregister: result.deregister.map((i) => i.imageId),
    }),
  );
  if (result.failures.length > 0)
    throw new Error(`ami retirement: ${result.failures.length} failures`);
  return result;
}
