/**
 * The server's secrets and authentication settings as SSM Parameter Store SecureString
 * parameters under `<SECRETS.parameterPathPrefix>/<stack>/`, encrypted with a key of their own so
 * that reading them needs both the parameter path and that key; the fleet role is the only role
 * the program grants either to. The boot agent fetches them once per boot and caches them on the
 * root volume, so a warm-pool start needs no call.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

import { SECRETS } from '../server/contract';
import type { AuthConfig, StackConfig } from './config';
import { tagsFor } from './tags';

/** The path holding one stack's parameters, as the boot agent queries it. */
export function secretsPath(stack: string): string {
  return `${SECRETS.parameterPathPrefix}/${stack}`;
}

/**
 * The configuration key holding a parameter's value: its name in camel case
 * (`auth/jwks-url` is set with `authJwksUrl`), so a secret added to the contract needs only a
 * key of the same name in Pulumi.yaml and config.ts.
 */
export function configKeyOf(suffix: string): string {
  return suffix
    .split(/[/-]/)
    .map((part, index) => (index === 0 ? part : `${part.charAt(0).toUpperCase()}${part.slice(1)}`))
    .join('');
}

/** The configured values by configuration key; unset values create no parameter. */
function secretValues(auth: AuthConfig): Record<string, pulumi.Input<string> | undefined> {
  return {
    authApiKeyHashes: auth.apiKeyHashes,
    authJwtIssuer: auth.jwtIssuer,
    authJwtAudience: auth.jwtAudience,
    authJwksUrl: auth.jwksUrl,
  };
}

/** Arguments of the secrets component. */
export interface SecretsArgs {
  readonly config: StackConfig;
  /** Account id, for the key policy. */
  readonly accountId: pulumi.Input<string>;
  /** AWS partition (`aws`, `aws-cn`...), for ARNs. */
  readonly partition: pulumi.Input<string>;
}

/** The KMS key and the SecureString parameters. */
export class Secrets extends pulumi.ComponentResource {
  /** Parameter path the instances read, without a trailing slash. */
  readonly path: string;
  /** ARN of the key that encrypts the parameters. */
  readonly keyArn: pulumi.Output<string>;
  /** ARNs that cover the path itself (for GetParametersByPath) and every parameter under it. */
  readonly parameterArns: pulumi.Output<string[]>;

  constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:Secrets', name, {}, opts);
    const { config } = args;
    const tags = tagsFor(config, 'secrets');
    this.path = secretsPath(config.stack);

    const key = new aws.kms.Key(
      `${name}-key`,
      {
        description: `${config.project} ${config.stack}: Parameter Store secrets`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy: keyPolicy(args.partition, args.accountId),
        tags,
      },
      { parent: this },
    );
    this.keyArn = key.arn;

    const values = secretValues(config.auth);
    for (const [suffix, environmentName] of Object.entries(SECRETS.parameters)) {
      const value = values[configKeyOf(suffix)];
      if (value === undefined) continue;
      new aws.ssm.Parameter(
        `${name}-${suffix.replace(/\//g, '-')}`,
        {
          name: `${this.path}/${suffix}`,
          description: `Read at boot into ${environmentName}`,
          type: 'SecureString',
          keyId: key.arn,
          value,
          tier: 'Standard',
          tags,
        },
        { parent: this },
      );
    }

    const { partition, accountId } = args;
    const account = pulumi.interpolate`arn:${partition}:ssm:${config.region}:${accountId}`;
    const base = pulumi.interpolate`${account}:parameter${this.path}`;
    this.parameterArns = base.apply((arn) => [arn, `${arn}/*`]);
    this.registerOutputs({ path: this.path, keyArn: this.keyArn });
  }
}

/**
 * The account administers the key (IAM decides who may use it); the program's IAM grants
 * decryption to the fleet role only, through SSM only.
 */
function keyPolicy(
  partition: pulumi.Input<string>,
  accountId: pulumi.Input<string>,
): pulumi.Output<string> {
  return pulumi.all([partition, accountId]).apply(([part, account]) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AccountAdministersKey',
          Effect: 'Allow',
          Principal: { AWS: `arn:${part}:iam::${account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    }),
  );
}
