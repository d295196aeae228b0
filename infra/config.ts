/**
 * The stack configuration, read once into a typed, validated object. Every key is declared in
 * Pulumi.yaml (type, description, default); this module checks the values together and throws
 * before any resource is declared, naming each bad key and the `pulumi config set` that fixes it.
 */
import * as pulumi from '@pulumi/pulumi';

import { DEFAULT_MAX_BODY_BYTES, PULUMI_PROJECT, STACK_CONFIG_KEYS } from '../server/contract';
import { familyOf, type InstanceFamily } from './instance-families';

/** Every configuration key the program reads; Pulumi.yaml declares exactly these. */
export const CONFIG_KEYS = [
  'region',
  'availabilityZones',
  'environment',
  'vpcCidr',
  'natGateways',
  'instanceType',
  'allowCpuInstances',
  STACK_CONFIG_KEYS.amiId,
  STACK_CONFIG_KEYS.modelVersion,
  'rootVolumeGiB',
  'baselineCount',
  'minSize',
  'maxSize',
  'warmPoolSize',
  'warmPoolState',
  'targetRequestsPerInstance',
  'healthCheckGraceSeconds',
  'launchTimeoutSeconds',
  'certificateArn',
  'allowedClientCidrs',
  'tryItPage',
  'albAccessLogsBucket',
  'wafRateLimit',
  'logRetentionDays',
  'alarmEmail',
  'batchInstanceTypes',
  'batchNightSize',
  'batchMaxSize',
  'batchStartCron',
  'batchStopCron',
  'batchTimeZone',
  'batchMessagesPerInstance',
  'amiRetirement',
  'amiKeepCount',
  'amiDeprecatedKeepCount',
  'authApiKeyHashes',
  'authJwtIssuer',
  'authJwtAudience',
  'authJwksUrl',
] as const;

/** One configuration key of the project. */
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** Keys whose values are secrets: read as secret outputs, never printed. */
export const SECRET_CONFIG_KEYS: readonly ConfigKey[] = ['authApiKeyHashes'];

/** Kind of stack: plain HTTP and CPU instance types are for dev only. */
export type Environment = 'dev' | 'staging' | 'prod';
/** State warm pool instances wait in. */
export type WarmPoolState = 'Stopped' | 'Running' | 'Hibernated';
/** How many NAT gateways the VPC gets. */
export type NatGatewayStrategy = 'Single' | 'OnePerAz';

/** The inference fleet's settings. */
export interface FleetConfig {
  readonly instanceType: string;
  readonly family: InstanceFamily;
  readonly allowCpuInstances: boolean;
  readonly rootVolumeGiB: number;
  readonly baselineCount: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly warmPoolSize: number;
  readonly warmPoolState: WarmPoolState;
  readonly targetRequestsPerInstance: number;
  readonly healthCheckGraceSeconds: number;
  readonly launchTimeoutSeconds: number;
}

/** The load balancer and WAF settings. */
export interface EdgeConfig {
  readonly certificateArn?: string;
  readonly allowedClientCidrs: readonly string[];
  readonly tryItPage: boolean;
  readonly accessLogsBucket?: string;
  readonly wafRateLimit: number;
  readonly maxBodyBytes: number;
}

/** The night batch settings. */
export interface BatchConfig {
  readonly instanceTypes: readonly string[];
  readonly nightSize: number;
  readonly maxSize: number;
  readonly startCron: string;
  readonly stopCron: string;
  readonly timeZone: string;
  readonly messagesPerInstance: number;
}

/** Retirement of old golden AMIs. */
export interface AmiRetirementConfig {
  readonly enabled: boolean;
  readonly keepCount: number;
  readonly deprecatedKeepCount: number;
}

/** Settings the server reads from Parameter Store (the API key hashes stay a secret output). */
export interface AuthConfig {
  readonly apiKeyHashes?: pulumi.Output<string>;
  readonly jwtIssuer?: string;
  readonly jwtAudience?: string;
  readonly jwksUrl?: string;
}

/** The whole validated stack configuration. */
export interface StackConfig {
  readonly project: string;
  readonly stack: string;
  readonly region: string;
  readonly availabilityZones: readonly string[];
  readonly environment: Environment;
  readonly vpcCidr: string;
  readonly natGateways: NatGatewayStrategy;
  readonly amiId?: string;
  readonly modelVersion: string;
  readonly fleet: FleetConfig;
  readonly edge: EdgeConfig;
  readonly batch: BatchConfig;
  readonly amiRetirement: AmiRetirementConfig;
  readonly auth: AuthConfig;
  readonly logRetentionDays: number;
  readonly alarmEmail?: string;
}

/** One problem with one key, and the command that fixes it. */
export interface ConfigProblem {
  readonly key: ConfigKey;
  readonly message: string;
  readonly fix: string;
}

/** Thrown when the configuration is invalid; lists every problem found, each with its fix. */
export class StackConfigError extends Error {
  /** Every problem found, in key order. */
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.message}\n    fix: ${p.fix}`);
    super(`invalid stack configuration:\n${lines.join('\n')}`);
    this.name = 'StackConfigError';
    this.problems = problems;
  }
}

/** The command that sets a key, as the operator would type it. */
export function setCommand(key: ConfigKey, value: string): string {
  const quoted = /^[\w./:@+-]+$/.test(value) ? value : `'${value}'`;
  const secret = SECRET_CONFIG_KEYS.includes(key) ? ' --secret' : '';
  return `pulumi config set${secret} ${PULUMI_PROJECT}:${key} ${quoted}`;
}

const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const CRON = /^\S+ \S+ \S+ \S+ \S+$/;
const API_KEY_ENTRY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}:[0-9a-fA-F]{64}$/;

/** Reads raw values and records problems; each `read*` returns a usable value even when bad. */
class Reader {
  readonly problems: ConfigProblem[] = [];

  constructor(private readonly raw: (key: ConfigKey) => string | undefined) {}

  problem(key: ConfigKey, message: string, fixValue: string): void {
    this.problems.push({
      key,
      message: `${PULUMI_PROJECT}:${key} ${message}`,
      fix: setCommand(key, fixValue),
    });
  }

  optional(key: ConfigKey): string | undefined {
    const value = this.raw(key)?.trim();
    return value ? value : undefined;
  }

  required(key: ConfigKey, example: string): string {
    const value = this.optional(key);
    if (value === undefined) this.problem(key, 'is not set', example);
    return value ?? example;
  }

  integer(key: ConfigKey, min: number, max: number, fallback: number): number {
    const text = this.optional(key);
    if (text === undefined) {
      this.problem(key, 'is not set', String(fallback));
      return fallback;
    }
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problem(
        key,
        `is ${JSON.stringify(text)}, not an integer from ${min} to ${max}`,
        String(fallback),
      );
      return fallback;
    }
    return value;
  }

  boolean(key: ConfigKey, fallback: boolean): boolean {
    const text = this.optional(key);
    if (text === 'true' || text === 'false') return text === 'true';
    this.problem(key, `is ${JSON.stringify(text ?? '')}, not true or false`, String(fallback));
    return fallback;
  }

  oneOf<T extends string>(key: ConfigKey, allowed: readonly T[], fallback: T): T {
    const text = this.optional(key);
    if (allowed.includes(text as T)) return text as T;
    const list = allowed.join(', ');
    this.problem(key, `is ${JSON.stringify(text ?? '')}, not one of ${list}`, fallback);
    return fallback;
  }

  list(key: ConfigKey, example: readonly string[]): string[] {
    const fix = JSON.stringify(example);
    const text = this.optional(key);
    if (text === undefined) {
      this.problem(key, 'is not set', fix);
      return [...example];
    }
    const parsed = parseList(text);
    if (!parsed) this.problem(key, `is ${JSON.stringify(text)}, not a list of strings`, fix);
    return parsed ?? [...example];
  }
}

/** Accepts a JSON array of strings (what `--path` and stack files store) or a comma list. */
function parseList(text: string): string[] | null {
  if (!text.startsWith('[')) return text.split(',').map((item) => item.trim());
  try {
    const parsed: unknown = JSON.parse(text);
    const ok = Array.isArray(parsed) && parsed.every((item) => typeof item === 'string');
    return ok ? (parsed as string[]).map((item) => item.trim()) : null;
  } catch {
    return null;
  }
}

/** True for a well-formed IPv4 CIDR block. */
export function isIpv4Cidr(text: string): boolean {
  const match = IPV4_CIDR.exec(text);
  if (!match) return false;
  const numbers = match.slice(1).map(Number);
  const prefix = numbers[4] ?? 99;
  return numbers.slice(0, 4).every((octet) => octet <= 255) && prefix <= 32;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function readNetwork(r: Reader) {
  const region = r.required('region', 'eu-west-1');
  if (!REGION.test(region))
    r.problem('region', `is ${JSON.stringify(region)}, not an AWS region`, 'eu-west-1');

  const zoneExample = [`${region}a`, `${region}b`];
  const availabilityZones = r.list('availabilityZones', zoneExample);
  const foreign = availabilityZones.filter((zone) => !new RegExp(`^${region}[a-z]$`).test(zone));
  if (foreign.length > 0) {
    r.problem(
      'availabilityZones',
      `has ${foreign.join(', ')}, not zones of ${region}`,
      JSON.stringify(zoneExample),
    );
  } else if (new Set(availabilityZones).size < 2) {
    r.problem(
      'availabilityZones',
      'needs two or more distinct zones (the ALB requires it)',
      JSON.stringify(zoneExample),
    );
  }

  const vpcCidr = r.required('vpcCidr', '10.40.0.0/16');
  const prefix = Number(vpcCidr.split('/')[1]);
  if (!isIpv4Cidr(vpcCidr) || prefix < 16 || prefix > 20) {
    r.problem(
      'vpcCidr',
      `is ${JSON.stringify(vpcCidr)}, not an IPv4 CIDR from /16 to /20`,
      '10.40.0.0/16',
    );
  }
  const natGateways = r.oneOf<NatGatewayStrategy>(
    'natGateways',
    ['Single', 'OnePerAz'],
    'OnePerAz',
  );
  return { region, availabilityZones, vpcCidr, natGateways };
}

function readInstanceType(
  r: Reader,
  key: ConfigKey,
  type: string,
  allowCpu: boolean,
): InstanceFamily | null {
  const family = familyOf(type);
  if (!family) {
    r.problem(
      key,
      `has ${JSON.stringify(type)}, whose instance family is unknown to infra/instance-families.ts`,
      'g5.xlarge',
    );
    return null;
  }
  if (family.arch !== 'x86_64') {
    r.problem(key, `has ${type}, an ${family.arch} type; the golden AMI is x86_64`, 'g5.xlarge');
    return null;
  }
  if (!family.gpu && !allowCpu) {
    r.problem(
      key,
      `has ${type}, which has no GPU; allowed only with allowCpuInstances in dev`,
      'g5.xlarge',
    );
  }
  return family;
}

/** Group sizes: the reserved baseline must fit between the minimum and the maximum. */
function readSizes(r: Reader) {
  const baselineCount = r.integer('baselineCount', 0, 100, 2);
  const minSize = r.integer('minSize', 0, 1000, 2);
  const maxSize = r.integer('maxSize', 1, 1000, 8);
  if (baselineCount > maxSize) {
    const why = `is ${baselineCount}, above maxSize ${maxSize}; reserved capacity would sit idle`;
    r.problem('baselineCount', why, String(maxSize));
  }
  if (minSize < baselineCount) {
    const why = `is ${minSize}, below baselineCount ${baselineCount}; reservations would idle`;
    r.problem('minSize', why, String(baselineCount));
  }
  if (minSize > maxSize) {
    r.problem('maxSize', `is ${maxSize}, below minSize ${minSize}`, String(minSize));
  }
  return { baselineCount, minSize, maxSize };
}

/** The warm pool: `Hibernated` only for a family that can hibernate. */
function readWarmPool(r: Reader, instanceType: string, family: InstanceFamily | null) {
  const warmPoolSize = r.integer('warmPoolSize', 0, 1000, 2);
  const states: WarmPoolState[] = ['Stopped', 'Running', 'Hibernated'];
  const warmPoolState = r.oneOf<WarmPoolState>('warmPoolState', states, 'Stopped');
  if (warmPoolState === 'Hibernated' && family && !family.hibernation) {
    const why = family.gpu
      ? 'a GPU family, which cannot hibernate'
      : 'a family that cannot hibernate';
    r.problem('warmPoolState', `is Hibernated but ${instanceType} is ${why}`, 'Stopped');
  }
  return { warmPoolSize, warmPoolState };
}

function readFleet(r: Reader, environment: Environment): FleetConfig {
  const allowCpuInstances = r.boolean('allowCpuInstances', false);
  if (allowCpuInstances && environment !== 'dev') {
    const why = `is true in a ${environment} stack; CPU fleets are for dev only`;
    r.problem('allowCpuInstances', why, 'false');
  }
  const instanceType = r.required('instanceType', 'g5.xlarge');
  const family = readInstanceType(r, 'instanceType', instanceType, allowCpuInstances);

  return {
    instanceType,
    family: family ?? { gpu: true, hibernation: false, arch: 'x86_64' },
    allowCpuInstances,
    rootVolumeGiB: r.integer('rootVolumeGiB', 30, 2000, 100),
    ...readSizes(r),
    ...readWarmPool(r, instanceType, family),
    targetRequestsPerInstance: r.integer('targetRequestsPerInstance', 1, 1_000_000, 600),
    healthCheckGraceSeconds: r.integer('healthCheckGraceSeconds', 0, 7200, 300),
    launchTimeoutSeconds: r.integer('launchTimeoutSeconds', 30, 7200, 1200),
  };
}

function readAmi(r: Reader) {
  const amiId = r.optional(STACK_CONFIG_KEYS.amiId);
  if (amiId !== undefined && !/^ami-[0-9a-f]{8,17}$/.test(amiId)) {
    r.problem(
      STACK_CONFIG_KEYS.amiId,
      `is ${JSON.stringify(amiId)}, not an AMI id`,
      'ami-0123456789abcdef0',
    );
  }
  const modelVersion = r.required(STACK_CONFIG_KEYS.modelVersion, '1.0.0');
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(modelVersion)) {
    r.problem(
      STACK_CONFIG_KEYS.modelVersion,
      `is ${JSON.stringify(modelVersion)}, not a version tag`,
      '1.0.0',
    );
  }
  return { amiId, modelVersion };
}

function readEdge(r: Reader, environment: Environment, region: string): EdgeConfig {
  const certificateArn = r.optional('certificateArn');
  const example = `arn:aws:acm:${region}:123456789012:certificate/ID`;
  if (certificateArn === undefined && environment !== 'dev') {
    r.problem('certificateArn', `is not set; a ${environment} stack serves HTTPS only`, example);
  }
  if (
    certificateArn !== undefined &&
    !new RegExp(`^arn:aws[a-z-]*:acm:${region}:\\d{12}:certificate/\\S+$`).test(certificateArn)
  ) {
    r.problem(
      'certificateArn',
      `is ${JSON.stringify(certificateArn)}, not an ACM certificate ARN in ${region}`,
      example,
    );
  }
  const allowedClientCidrs = r.list('allowedClientCidrs', ['0.0.0.0/0']);
  const badCidrs = allowedClientCidrs.filter((cidr) => !isIpv4Cidr(cidr));
  if (badCidrs.length > 0 || allowedClientCidrs.length === 0) {
    r.problem(
      'allowedClientCidrs',
      `has ${JSON.stringify(badCidrs)}, not IPv4 CIDR blocks`,
      '["0.0.0.0/0"]',
    );
  }
  const accessLogsBucket = r.optional('albAccessLogsBucket');
  if (
    accessLogsBucket !== undefined &&
    !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(accessLogsBucket)
  ) {
    r.problem(
      'albAccessLogsBucket',
      `is ${JSON.stringify(accessLogsBucket)}, not an S3 bucket name`,
      'my-alb-logs',
    );
  }
  return {
    certificateArn,
    allowedClientCidrs,
    tryItPage: r.boolean('tryItPage', false),
    accessLogsBucket,
    wafRateLimit: r.integer('wafRateLimit', 10, 2_000_000_000, 2000),
    // The server's default limit: the WAF size rule must agree with what the server accepts.
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  };
}

function readBatch(r: Reader, allowCpu: boolean): BatchConfig {
  const instanceTypes = r.list('batchInstanceTypes', ['g5.xlarge', 'g4dn.xlarge']);
  instanceTypes.forEach((type) => readInstanceType(r, 'batchInstanceTypes', type, allowCpu));
  if (new Set(instanceTypes).size < 2) {
    r.problem(
      'batchInstanceTypes',
      'needs two or more distinct types so Spot can pick a deep pool',
      '["g5.xlarge","g4dn.xlarge"]',
    );
  }
  const nightSize = r.integer('batchNightSize', 0, 1000, 2);
  const maxSize = r.integer('batchMaxSize', 0, 1000, 6);
  if (nightSize > maxSize)
    r.problem(
      'batchMaxSize',
      `is ${maxSize}, below batchNightSize ${nightSize}`,
      String(nightSize),
    );

  const startCron = r.required('batchStartCron', '0 1 * * *');
  const stopCron = r.required('batchStopCron', '0 6 * * *');
  if (!CRON.test(startCron))
    r.problem(
      'batchStartCron',
      `is ${JSON.stringify(startCron)}, not a five-field cron`,
      '0 1 * * *',
    );
  if (!CRON.test(stopCron))
    r.problem(
      'batchStopCron',
      `is ${JSON.stringify(stopCron)}, not a five-field cron`,
      '0 6 * * *',
    );
  const timeZone = r.required('batchTimeZone', 'Etc/UTC');
  if (!isTimeZone(timeZone))
    r.problem('batchTimeZone', `is ${JSON.stringify(timeZone)}, not an IANA time zone`, 'Etc/UTC');
  return {
    instanceTypes,
    nightSize,
    maxSize,
    startCron,
    stopCron,
    timeZone,
    messagesPerInstance: r.integer('batchMessagesPerInstance', 1, 1_000_000, 500),
  };
}

function readAuth(
  r: Reader,
  secret: (key: ConfigKey) => pulumi.Output<string> | undefined,
): AuthConfig {
  const hashes = r.optional('authApiKeyHashes');
  // The server's format (server/auth/api-keys.ts); only positions are named, never the values.
  const badEntries = (hashes ?? '')
    .split(',')
    .map((entry, index) => (API_KEY_ENTRY.test(entry.trim()) ? -1 : index + 1))
    .filter((position) => position > 0);
  if (hashes !== undefined && badEntries.length > 0) {
    r.problem(
      'authApiKeyHashes',
      `has entries (${badEntries.join(', ')}) that are not caller-id:sha256-hex`,
      'CALLER:SHA256HEX,CALLER2:SHA256HEX',
    );
  }
  const jwtIssuer = r.optional('authJwtIssuer');
  const jwtAudience = r.optional('authJwtAudience');
  const jwksUrl = r.optional('authJwksUrl');
  const jwt = { authJwtIssuer: jwtIssuer, authJwtAudience: jwtAudience, authJwksUrl: jwksUrl };
  const jwtSet = Object.values(jwt).some((value) => value !== undefined);
  for (const [key, value] of Object.entries(jwt) as [ConfigKey, string | undefined][]) {
    if (jwtSet && value === undefined)
      r.problem(key, 'is not set but other JWT settings are', 'VALUE');
  }
  if (jwksUrl !== undefined && !/^https:\/\/\S+$/.test(jwksUrl)) {
    r.problem(
      'authJwksUrl',
      `is ${JSON.stringify(jwksUrl)}, not an https URL`,
      'https://issuer/.well-known/jwks.json',
    );
  }
  if (!jwtSet && hashes === undefined) {
    r.problem(
      'authApiKeyHashes',
      'and the JWT settings are all unset; the API would accept no caller',
      'CALLER:SHA256HEX',
    );
  }
  return {
    apiKeyHashes: hashes === undefined ? undefined : secret('authApiKeyHashes'),
    jwtIssuer,
    jwtAudience,
    jwksUrl,
  };
}

/**
 * Validates raw configuration values (as the Pulumi CLI hands them over, defaults applied) and
 * returns the typed configuration, or throws a StackConfigError listing every problem.
 */
export function parseConfig(
  stack: string,
  raw: (key: ConfigKey) => string | undefined,
  secret: (key: ConfigKey) => pulumi.Output<string> | undefined = () => undefined,
): StackConfig {
  const r = new Reader(raw);
  const network = readNetwork(r);
  const environment = r.oneOf<Environment>('environment', ['dev', 'staging', 'prod'], 'prod');
  const fleet = readFleet(r, environment);
  const ami = readAmi(r);
  const edge = readEdge(r, environment, network.region);
  const batch = readBatch(r, fleet.allowCpuInstances);
  const auth = readAuth(r, secret);

  const logRetentionDays = r.integer('logRetentionDays', 1, 3653, 30);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    r.problem(
      'logRetentionDays',
      `is ${logRetentionDays}, not a CloudWatch Logs retention value`,
      '30',
    );
  }
  const alarmEmail = r.optional('alarmEmail');
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) {
    r.problem(
      'alarmEmail',
      `is ${JSON.stringify(alarmEmail)}, not an e-mail address`,
      'oncall@example.com',
    );
  }
  const amiRetirement = {
    enabled: r.boolean('amiRetirement', true),
    keepCount: r.integer('amiKeepCount', 2, 100, 3),
    deprecatedKeepCount: r.integer('amiDeprecatedKeepCount', 0, 100, 3),
  };

  if (r.problems.length > 0) throw new StackConfigError(r.problems);
  return {
    project: PULUMI_PROJECT,
    stack,
    ...network,
    environment,
    ...ami,
    fleet,
    edge,
    batch,
    amiRetirement,
    auth,
    logRetentionDays,
    alarmEmail,
  };
}

/** Reads the current stack's configuration through the Pulumi runtime and validates it. */
export function loadConfig(): StackConfig {
  const config = new pulumi.Config(PULUMI_PROJECT);
  const raw = (key: ConfigKey) => pulumi.runtime.getConfig(`${PULUMI_PROJECT}:${key}`);
  const secret = (key: ConfigKey) => config.getSecret(key);
  return parseConfig(pulumi.getStack(), raw, secret);
}
