/**
 * Prediction-log sinks backed by AWS: Kinesis Data Streams (PutRecords, one record per prediction) and S3 (one JSON
 * lines object per batch, in Hive-style hourly partitions Athena and Glue read as is). Both buffer and deliver in the
 * background (`BufferedPredictionLogSink`): writing a record never waits on AWS.
 */
import { randomUUID } from 'crypto';
import { KinesisClient, PutRecordsCommand, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BufferedPredictionLogSink, BufferedSinkOptions } from '../core/buffered-sink';

/** PutRecords takes at most 500 records per call. */
const KINESIS_MAX_RECORDS = 500;
/** Attempts per batch for records Kinesis refused (throttling); the rest are counted as failed. */
const KINESIS_ATTEMPTS = 3;

/** Where a Kinesis sink writes. */
export interface KinesisSinkProps extends BufferedSinkOptions {
  readonly client: KinesisClient;
  readonly streamName: string;
}

/** Writes each prediction as one Kinesis record (random partition key: records spread over all shards). */
export class KinesisPredictionLogSink extends BufferedPredictionLogSink {
  constructor(props: KinesisSinkProps) {
    super(
      (lines) => putRecords(props.client, props.streamName, lines),
      { ...props, maxBatchRecords: Math.min(props.maxBatchRecords ?? KINESIS_MAX_RECORDS, KINESIS_MAX_RECORDS) },
    );
  }
}

/** Puts the lines, retrying the records Kinesis refused; resolves with the number never stored. */
async function putRecords(client: KinesisClient, streamName: string, lines: string[]): Promise<number> {
  let pending: PutRecordsRequestEntry[] = lines.map((line) => ({ Data: Buffer.from(line), PartitionKey: randomUUID() }));
  for (let attempt = 1; attempt <= KINESIS_ATTEMPTS && pending.length > 0; attempt++) {
    const result = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: pending }));
    if (!result.FailedRecordCount) return 0;
    pending = pending.filter((_, i) => result.Records?.[i]?.ErrorCode);
  }
  return pending.length;
}

/** Where an S3 sink writes. */
export interface S3SinkProps extends BufferedSinkOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix, e.g. `prediction-logs/fraud/`. @default '' */
  readonly prefix?: string;
}

/**
 * Writes each batch as one object `<prefix>dt=YYYY-MM-DD/hour=HH/<timestamp>-<uuid>.jsonl` (UTC), encrypted with the
 * bucket's default encryption.
 */
export class S3PredictionLogSink extends BufferedPredictionLogSink {
  constructor(props: S3SinkProps) {
    super(async (lines) => {
      await props.client.send(new PutObjectCommand({
        Bucket: props.bucket,
        Key: s3LogKey(props.prefix ?? '', new Date()),
        Body: lines.join(''),
        ContentType: 'application/x-ndjson',
      }));
    }, props);
  }
}

/** The object key of a batch written at `now`. */
export function s3LogKey(prefix: string, now: Date): string {
  const iso = now.toISOString();
  return `${prefix}dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${iso.replace(/[:.]/g, '-')}-${randomUUID()}.jsonl`;
}
