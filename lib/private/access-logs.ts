/**
 * S3 server access logging as every bucket of ours does it: delivered by bucket policy (the `logging.s3.amazonaws.com`
 * principal, scoped to the source bucket and account), never by the legacy `LogDeliveryWrite` ACL, into an SSE-S3,
 * TLS-only, private bucket with ACLs disabled whose logs expire. Internal: not exported from lib/index.ts.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';

/**
 * Makes every bucket created under `scope` deliver its server access logs by bucket policy, whatever the app's
 * feature flags. Call it first in a construct's constructor, before any bucket is created.
 */
export function deliverAccessLogsByBucketPolicy(scope: Construct): void {
  scope.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
}

/** Settings of an access-log bucket. */
export interface AccessLogsBucketProps {
  /** What the bucket logs, for the cdk-nag acknowledgement, e.g. 'the offline bucket'. */
  readonly logsOf: string;
  /** How long log objects are kept. */
  readonly retention: Duration;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Creates the target bucket of another bucket's server access logs. S3 delivers access logs only to SSE-S3 buckets,
 * so the logs are encrypted with S3-managed keys. Pass it as `serverAccessLogsBucket` of a bucket created under a
 * scope given to `deliverAccessLogsByBucketPolicy`.
 */
export function createAccessLogsBucket(scope: Construct, id: string, props: AccessLogsBucketProps): s3.Bucket {
  const bucket = new s3.Bucket(scope, id, {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ id: 'expire-access-logs', expiration: props.retention }],
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  Validations.of(bucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason: `This bucket is the server access log target of ${props.logsOf}; logging it too would log each log delivery`,
  });
  return bucket;
}

/** Settings of a data bucket (`createDataBucket`) beyond what every one of ours has. */
export type DataBucketProps = Omit<s3.BucketProps, 'encryption' | 'encryptionKey' | 'bucketKeyEnabled' | 'enforceSSL' | 'minimumTLSVersion' | 'blockPublicAccess' | 'objectOwnership' | 'versioned'> & {
  /** The customer-managed key the data is encrypted with. */
  readonly encryptionKey: kms.IKey;
};

/**
 * A bucket holding platform data (offline features, captured requests) as every one of ours does: KMS-encrypted with
 * the given key (bucket keys on), TLS 1.2 or later only, public access blocked, ACLs disabled, versioned (an overwrite
 * or delete stays recoverable); access logs, lifecycle and removal as the caller says.
 */
export function createDataBucket(scope: Construct, id: string, props: DataBucketProps): s3.Bucket {
  return new s3.Bucket(scope, id, {
    ...props,
    encryption: s3.BucketEncryption.KMS,
    bucketKeyEnabled: true,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    versioned: true,
  });
}
