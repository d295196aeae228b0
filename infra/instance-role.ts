/**
 * An EC2 instance role with the least the instances need: Session Manager (no SSH anywhere), the
 * CloudWatch agent, and the statements the caller adds, each scoped to named resources.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/** One IAM policy statement, as the program writes them (never `*` on `*`). */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: readonly string[];
  readonly Resource: pulumi.Input<string | string[]> | readonly pulumi.Input<string>[];
  readonly Condition?: Record<string, Record<string, pulumi.Input<string>>>;
}

/** AWS managed policies every instance gets: Session Manager and the CloudWatch agent. */
export const INSTANCE_MANAGED_POLICIES = [
  'AmazonSSMManagedInstanceCore',
  'CloudWatchAgentServerPolicy',
] as const;

/** Arguments of an instance role. */
export interface InstanceRoleArgs {
  readonly partition: pulumi.Input<string>;
  readonly statements: readonly PolicyStatement[];
  readonly tags: Record<string, string>;
}

/** A role, its managed policy attachments, its inline policy and its instance profile. */
export class InstanceRole extends pulumi.ComponentResource {
  /** The role. */
  readonly role: aws.iam.Role;
  /** The instance profile the launch template names. */
  readonly profile: aws.iam.InstanceProfile;

  constructor(name: string, args: InstanceRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:InstanceRole', name, {}, opts);

    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        assumeRolePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'ec2.amazonaws.com' },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
        tags: args.tags,
      },
      { parent: this },
    );

    for (const policy of INSTANCE_MANAGED_POLICIES) {
      new aws.iam.RolePolicyAttachment(
        `${name}-${policy}`,
        {
          role: this.role.name,
          policyArn: pulumi.interpolate`arn:${args.partition}:iam::aws:policy/${policy}`,
        },
        { parent: this },
      );
    }

    new aws.iam.RolePolicy(
      `${name}-inline`,
      { role: this.role.id, policy: policyDocument(args.statements) },
      { parent: this },
    );

    this.profile = new aws.iam.InstanceProfile(
      `${name}-profile`,
      { role: this.role.name, tags: args.tags },
      { parent: this },
    );
    this.registerOutputs({ roleArn: this.role.arn });
  }
}

/** Serialises statements whose resources may still be outputs. */
export function policyDocument(statements: readonly PolicyStatement[]): pulumi.Output<string> {
  return pulumi
    .output(statements)
    .apply((resolved) => JSON.stringify({ Version: '2012-10-17', Statement: resolved }));
}
