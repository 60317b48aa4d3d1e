/**
 * Grants on a KMS key that is shared by several services (the feature store's key encrypts the online table, the
 * offline bucket, Athena results and the Kinesis streams): each grant is limited by `kms:ViaService` to the service
 * the grantee reaches the data through, so a role allowed to decrypt table items cannot use the key on S3 objects or
 * stream records, nor call KMS directly. Internal: not exported from lib/index.ts.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';

/** The services our grants reach a shared key through. */
export type KeyUsingService = 'dynamodb' | 's3' | 'kinesis';

/** `kms:ViaService` value of a service in the key's region (an imported key's own region, from its ARN). */
export function viaService(key: kms.IKey, service: KeyUsingService): string {
  return `${service}.${key.env.region}.amazonaws.com`;
}

/**
 * Lets `grantee` use `key` for `actions` only in requests `service` makes on its behalf. Like `key.grant`, the
 * statement goes on the grantee's policy, and also on the key's policy when the grantee is in another account.
 */
export function grantKeyViaService(key: kms.IKey, grantee: iam.IGrantable, service: KeyUsingService, ...actions: string[]): iam.Grant {
  return iam.Grant.addToPrincipalOrResource({
    grantee,
    actions,
    resourceArns: [key.keyArn],
    resourceSelfArns: ['*'],
    resource: key,
    conditions: { StringEquals: { 'kms:ViaService': viaService(key, service) } },
  });
}
