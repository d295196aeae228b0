/**
 * An S3 bucket that cannot be made public by accident: all four public access blocks, owner
 * enforced (no ACLs), default encryption, versioning, a TLS-only bucket policy, and lifecycle
 * rules so that photos and results do not pile up forever.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/** How long objects live in the bucket. */
export interface BucketLifecycle {
  /** Days after which current objects expire. */
  readonly expireDays: number;
  /** Days after which replaced or deleted versions are removed. */
  readonly noncurrentDays: number;
}

/** Arguments of a private bucket. */
export interface PrivateBucketArgs {
  readonly lifecycle: BucketLifecycle;
  readonly tags: Record<string, string>;
}

/** A private, encrypted, versioned bucket with lifecycle rules. */
export class PrivateBucket extends pulumi.ComponentResource {
  /** The bucket. */
  readonly bucket: aws.s3.Bucket;

  constructor(name: string, args: PrivateBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('breed-identifier:infra:PrivateBucket', name, {}, opts);
    const parent = { parent: this };
    this.bucket = new aws.s3.Bucket(name, { forceDestroy: false, tags: args.tags }, parent);
    const bucket = this.bucket.id;

    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket, rule: { objectOwnership: 'BucketOwnerEnforced' } },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket,
        rules: [
          {
            applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' },
            bucketKeyEnabled: true,
          },
        ],
      },
      parent,
    );
    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket, versioningConfiguration: { status: 'Enabled' } },
      parent,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket,
        rules: [
          {
            id: 'expire',
            status: 'Enabled',
            filter: {},
            expiration: { days: args.lifecycle.expireDays },
            noncurrentVersionExpiration: { noncurrentDays: args.lifecycle.noncurrentDays },
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
          },
        ],
      },
      { parent: this, dependsOn: [versioning] },
    );
    new aws.s3.BucketPolicy(
      `${name}-tls-only`,
      { bucket, policy: this.bucket.arn.apply(tlsOnlyPolicy) },
      { parent: this, dependsOn: [publicAccess] },
    );
    this.registerOutputs({ bucketName: this.bucket.bucket });
  }
}

/** Refuses every request that does not come over TLS. */
function tlsOnlyPolicy(bucketArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyPlainHttp',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  });
}
