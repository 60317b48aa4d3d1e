/**
 * Exact S3 object grants under key patterns, shared by the training constructs (the pipeline's steps, the fleet's
 * checkpoints, SageMaker's checkpoint sync): no action wildcards, so no DeleteObjectVersion, PutObjectRetention or
 * unscoped List*. Internal: not exported from lib/index.ts.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { grantKeyViaService } from './kms-grants';
import { nagResource } from './validation';

/** What one principal does in a bucket, each as key patterns (e.g. `checkpoints/*`). */
export interface ObjectAccess {
  /** s3:GetObject. */
  readonly read?: string[];
  /** s3:PutObject and s3:AbortMultipartUpload (a failed multipart upload is cleaned up). */
  readonly write?: string[];
  /** s3:DeleteObject: current versions only (a delete adds a marker; noncurrent versions stay recoverable). */
  readonly delete?: string[];
  /** s3:ListBucket on the bucket with an `s3:prefix` condition. */
  readonly list?: string[];
}

/**
 * Grants exactly `access`, the bucket's key through S3 only (kms:Decrypt; kms:GenerateDataKey with writes), and
 * acknowledges the key patterns for cdk-nag on the grantee with `reason`: S3 scopes object permissions by key only.
 * Returns the grants combined.
 */
export function grantObjectAccess(bucket: s3.IBucket, grantee: iam.IGrantable, access: ObjectAccess, reason: string): iam.Grant {
  const { read = [], write = [], list = [] } = access;
  const remove = access.delete ?? [];
  const grants: iam.Grant[] = [];
  const objects = (actions: string[], patterns: string[]) => {
    if (patterns.length > 0) {
      grants.push(iam.Grant.addToPrincipalOrResource({ grantee, resource: bucket, actions, resourceArns: patterns.map((p) => bucket.arnForObjects(p)) }));
    }
  };
  objects(['s3:GetObject'], read);
  objects(['s3:PutObject', 's3:AbortMultipartUpload'], write);
  objects(['s3:DeleteObject'], remove);
  if (list.length > 0) {
    grants.push(iam.Grant.addToPrincipalOrResource({
      grantee, resource: bucket, actions: ['s3:ListBucket'], resourceArns: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': list } },
    }));
  }
  if (bucket.encryptionKey) {
    grants.push(grantKeyViaService(bucket.encryptionKey, grantee, 's3', 'kms:Decrypt', ...(write.length > 0 ? ['kms:GenerateDataKey'] : [])));
  }
  const principal = grantee.grantPrincipal;
  if (Construct.isConstruct(principal)) {
    acknowledgeWildcards(principal, [...new Set([...read, ...write, ...remove])].map((p) => bucket.arnForObjects(p)), reason);
  }
  return grants.reduce((all, grant) => all.combine(grant), iam.Grant.drop(grantee, 'no object access'));
}

/** Acknowledges, on `target`, exactly the AwsSolutions-IAM5 findings of these resource patterns. */
export function acknowledgeWildcards(target: IConstruct, resources: string[], reason: string): void {
  const stack = Stack.of(target);
  Validations.of(target).acknowledge(...resources.map((r) => ({ id: `AwsSolutions-IAM5[Resource::${nagResource(stack.resolve(r))}]`, reason })));
}
