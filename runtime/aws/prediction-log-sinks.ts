/**
 * Prediction-log sinks backed by AWS: Kinesis Data Streams (PutRecords, one record per prediction) and S3 (one JSON
 * lines object per batch, in Hive-style hourly partitions Athena and Glue read as is). Both buffer and deliver in the
 * background (`BufferedPredictionLogSink`): writing a record never waits on AWS.
 */
import { randomUUID } from 'crypto';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BufferedPredictionLogSink, BufferedSinkOptions } from '../core/buffered-sink';
import { PUT_RECORDS_MAX_ENTRIES, putEntries } from './kinesis-put';

/** Attempts per batch for records Kinesis refused (throttling); the rest are counted as failed. */
const KINESIS_ATTEMPTS = 3;
/** Deadline of one S3 PutObject of a batch, milliseconds: a stalled call must not pin the sink. */
const S3_PUT_TIMEOUT_MS = 30_000;

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
      { ...props, maxBatchRecords: Math.min(props.maxBatchRecords ?? PUT_RECORDS_MAX_ENTRIES, PUT_RECORDS_MAX_ENTRIES) },
    );
  }
}

/** Puts the lines (each a record with a random partition key); resolves with the number never stored. */
async function putRecords(client: KinesisClient, streamName: string, lines: string[]): Promise<number> {
  const entries = lines.map((line) => ({ Data: Buffer.from(line), PartitionKey: randomUUID() }));
  return (await putEntries(client, streamName, entries, { maxAttempts: KINESIS_ATTEMPTS })).unstored;
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
      }), { abortSignal: AbortSignal.timeout(S3_PUT_TIMEOUT_MS) });
    }, props);
  }
}

/** The object key of a batch written at `now`. */
export function s3LogKey(prefix: string, now: Date): string {
  const iso = now.toISOString();
  return `${prefix}dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${iso.replace(/[:.]/g, '-')}-${randomUUID()}.jsonl`;
}
