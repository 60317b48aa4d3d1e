/**
 * Kinesis streams that carry feature values (ingestion records, prediction logs): encrypted with the feature store's
 * customer-managed key, so one key policy controls, and CloudTrail audits, every copy of the data; and the producer
 * grant they share. Internal: not exported from lib/index.ts.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { grantKeyViaService } from './kms-grants';

/** Settings of a feature stream. */
export interface FeatureStreamProps {
  /** The feature store's key. */
  readonly key: kms.IKey;
  /** @default kinesis.StreamMode.ON_DEMAND */
  readonly streamMode?: kinesis.StreamMode;
  /** Shards when provisioned. @default 1 */
  readonly shardCount?: number;
  /** @default Duration.hours(24) */
  readonly retention?: Duration;
}

/** Creates a stream encrypted with the feature store's key. */
export function createFeatureStream(scope: Construct, id: string, props: FeatureStreamProps): kinesis.Stream {
  const stream = new kinesis.Stream(scope, id, {
    encryption: kinesis.StreamEncryption.KMS,
    encryptionKey: props.key,
    streamMode: props.streamMode ?? kinesis.StreamMode.ON_DEMAND,
    shardCount: props.streamMode === kinesis.StreamMode.PROVISIONED ? props.shardCount ?? 1 : undefined,
    retentionPeriod: props.retention ?? Duration.hours(24),
  });
  Validations.of(stream).acknowledge({
    id: 'AwsSolutions-KDS3',
    reason: 'The stream carries feature values the store encrypts at rest with its customer-managed key; the stream uses the same key so that one key policy controls, and CloudTrail audits, every copy of the data',
  });
  return stream;
}

/** What our own producers send (runtime/aws/kinesis-put.ts): the prediction-log sink's grant. */
export const OWN_PRODUCER_ACTIONS = ['kinesis:PutRecords'];

/**
 * What any producer may need: both put APIs, and the stream description and shard listing the Kinesis Producer
 * Library and agents call before putting. The grant users' producers get (`FeatureIngestion.grantPut`).
 */
export const PRODUCER_ACTIONS = ['kinesis:PutRecord', 'kinesis:PutRecords', 'kinesis:ListShards', 'kinesis:DescribeStreamSummary'];

/**
 * Lets `grantee` send `actions` to `stream`, and generate data keys with its key through Kinesis only
 * (`kms:ViaService`): nothing more, no wildcard actions.
 */
export function grantStreamPut(stream: kinesis.IStream, grantee: iam.IGrantable, actions: readonly string[]): iam.Grant {
  const grant = stream.grant(grantee, ...actions);
  return stream.encryptionKey ? grant.combine(grantKeyViaService(stream.encryptionKey, grantee, 'kinesis', 'kms:GenerateDataKey')) : grant;
}

/**
 * What Lambda's event source mapping calls with the function's role to poll `stream` with a standard iterator (no
 * enhanced fan-out), and decryption of its records through Kinesis only.
 */
export function grantEventSourceRead(stream: kinesis.IStream, grantee: iam.IGrantable): void {
  stream.grant(grantee, 'kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords');
  if (stream.encryptionKey) grantKeyViaService(stream.encryptionKey, grantee, 'kinesis', 'kms:Decrypt');
}
