/**
 * What the program needs to know about an EC2 instance family before it declares anything:
 * whether it carries an NVIDIA GPU (the golden AMI's CUDA runtime needs one in production), and
 * whether it can hibernate (a warm pool in the `Hibernated` state on a family that cannot fails
 * at launch, long after `pulumi up` said yes). The golden AMI is built for x86_64, so Graviton
 * families are listed only to refuse them with a clear message.
 */

/** Facts about one instance family. */
export interface InstanceFamily {
  /** The family carries NVIDIA GPUs that CUDA 11.2 and the image's driver support. */
  readonly gpu: boolean;
  /** EC2 supports hibernation for this family (Linux, encrypted root, RAM under 150 GiB). */
  readonly hibernation: boolean;
  /** Processor architecture of the family. */
  readonly arch: 'x86_64' | 'arm64';
}

const gpu = (): InstanceFamily => ({ gpu: true, hibernation: false, arch: 'x86_64' });
const cpu = (hibernation: boolean, arch: InstanceFamily['arch'] = 'x86_64'): InstanceFamily => ({
  gpu: false,
  hibernation,
  arch,
});

/**
 * Families the program accepts. GPU families cannot hibernate: EC2 does not save GPU memory,
 * so their warm pools stay `Stopped` (or `Running`). Families missing here are refused rather
 * than guessed, because a wrong guess surfaces only as failed launches.
 */
export const INSTANCE_FAMILIES: Readonly<Record<string, InstanceFamily>> = Object.freeze({
  g4dn: gpu(),
  g5: gpu(),
  g6: gpu(),
  g6e: gpu(),
  gr6: gpu(),
  p3: gpu(),
  p3dn: gpu(),
  p4d: gpu(),
  p4de: gpu(),
  p5: gpu(),
  c5: cpu(true),
  c5d: cpu(true),
  c6i: cpu(true),
  c7i: cpu(true),
  m5: cpu(true),
  m5d: cpu(true),
  m6i: cpu(true),
  m7i: cpu(true),
  r5: cpu(true),
  r6i: cpu(true),
  t3: cpu(true),
  t3a: cpu(true),
  c6a: cpu(false),
  m6a: cpu(false),
  c7g: cpu(false, 'arm64'),
  m7g: cpu(false, 'arm64'),
  t4g: cpu(false, 'arm64'),
});

/** Splits `g5.xlarge` into its family (`g5`) and size (`xlarge`); null when malformed. */
export function parseInstanceType(instanceType: string): { family: string; size: string } | null {
  const match = /^([a-z][a-z0-9-]*)\.([a-z0-9]+)$/.exec(instanceType);
  if (!match?.[1] || !match[2]) return null;
  return { family: match[1], size: match[2] };
}

/** The facts for an instance type's family, or null when the type or family is unknown. */
export function familyOf(instanceType: string): InstanceFamily | null {
  const parsed = parseInstanceType(instanceType);
  if (!parsed) return null;
  return INSTANCE_FAMILIES[parsed.family] ?? null;
}
