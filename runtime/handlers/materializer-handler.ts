/**
 * Lambda entry point of the streaming materializer (Kinesis event source mapping with ReportBatchItemFailures):
 * decodes the event, runs the core `Materializer` over the DynamoDB and S3 adapters, logs the batch's metrics as EMF
 * and answers with the partial batch response.
 *
 * Environment: set by the FeatureIngestion construct, defined (names, meaning, defaults) in
 * runtime/contracts/materializer.ts. Endpoints, region and credentials come from the SDK's own environment
 * (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`, ...).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamHandler, KinesisStreamRecord } from 'aws-lambda';
import { FeatureViewSpec } from '../../lib/features/spec';
import { s3ObjectWriter } from '../aws/offline-store';
import { putOnlineRow } from '../aws/online-store';
import { parseMaterializerEnvironment } from '../contracts/materializer';
import { batchMetricLines, Materializer, StreamRecord } from '../core/materialize';
import { METRICS_NAMESPACE } from '../core/metrics';

/** Properties of `createMaterializer`. */
export interface MaterializerProps {
  /** The views served. */
  readonly views: readonly FeatureViewSpec[];
  /** Client of the online table's DynamoDB. */
  readonly dynamo: DynamoDBClient;
  /** Client of the offline bucket's S3. */
  readonly s3: S3Client;
  /** Online table name. */
  readonly tableName: string;
  /** Offline bucket name. */
  readonly bucketName: string;
  /**
   * Clock, epoch milliseconds.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Where log lines (EMF metrics, warnings) go.
   * @default - stdout, one raw line each (not `console.log`, whose Lambda prefix would hide the EMF JSON)
   */
  readonly log?: (line: string) => void;
  /**
   * CloudWatch namespace of the metrics.
   * @default METRICS_NAMESPACE
   */
  readonly metricsNamespace?: string;
  /**
   * How far in the future an event time may lie before the record is dead-lettered, milliseconds (at most
   * MAX_FUTURE_SKEW_LIMIT_MS).
   * @default DEFAULT_MAX_FUTURE_SKEW_MS (300000)
   */
  readonly maxFutureSkewMs?: number;
  /**
   * First accepted event date: the store's projection start (`FeatureStore.earliestEventDate`), `yyyy-mm-dd` or
   * `NOW-<n>DAYS`; earlier events are dead-lettered.
   * @default DEFAULT_EARLIEST_EVENT_DATE ('2020-01-01')
   */
  readonly earliestEventDate?: string;
  /**
   * Most external calls in flight at once.
   * @default 32
   */
  readonly concurrency?: number;
  /**
   * Deadline of each DynamoDB and S3 call, milliseconds.
   * @default - DEFAULT_DYNAMODB_TIMEOUT_MS for DynamoDB, DEFAULT_S3_TIMEOUT_MS for S3
   */
  readonly timeoutMs?: number;
}

/** A Kinesis batch handler answering with a partial batch response. */
export type KinesisBatchHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

/** Builds the materializer's batch handler over the given clients. */
export function createMaterializer(props: MaterializerProps): KinesisBatchHandler {
  const log = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const materializer = new Materializer({
    views: props.views,
    now: props.now,
    maxFutureSkewMs: props.maxFutureSkewMs,
    earliestEventDate: props.earliestEventDate,
    concurrency: props.concurrency,
    ports: {
      writeOnline: (view, row, ingestedAtMs) => putOnlineRow(props.dynamo, props.tableName, view, row, { ingestedAtMs, timeoutMs: props.timeoutMs }),
      putObject: s3ObjectWriter(props.s3, props.bucketName, { timeoutMs: props.timeoutMs }),
    },
  });
  return async (event) => {
    const result = await materializer.processBatch(event.Records.map(toStreamRecord));
    for (const line of batchMetricLines(result, { namespace: props.metricsNamespace ?? METRICS_NAMESPACE })) log(line);
    if (result.retryFromSequenceNumber !== undefined) {
      log(JSON.stringify({
        level: 'WARN',
        message: `batch stopped short after ${result.committed} of ${event.Records.length} records; the stream retries from ${result.retryFromSequenceNumber}`,
        failures: result.failures,
      }));
      return { batchItemFailures: [{ itemIdentifier: result.retryFromSequenceNumber }] };
    }
    return { batchItemFailures: [] };
  };
}

/** Decodes one record of a Kinesis event (eventID is `<shardId>:<sequenceNumber>`). */
function toStreamRecord(record: KinesisStreamRecord): StreamRecord {
  return {
    shardId: record.eventID.slice(0, record.eventID.indexOf(':')),
    sequenceNumber: record.kinesis.sequenceNumber,
    arrivalTimeMs: Math.round(record.kinesis.approximateArrivalTimestamp * 1000),
    data: Buffer.from(record.kinesis.data, 'base64'),
  };
}

/**
 * Builds the batch handler from the Lambda environment (runtime/contracts/materializer.ts); throws one error listing
 * every problem of it.
 */
export function materializerFromEnvironment(env: NodeJS.ProcessEnv = process.env): KinesisBatchHandler {
  const settings = parseMaterializerEnvironment(env);
  return createMaterializer({
    views: settings.views,
    dynamo: new DynamoDBClient({}),
    s3: new S3Client({ forcePathStyle: settings.s3ForcePathStyle }),
    tableName: settings.onlineTableName,
    bucketName: settings.offlineBucketName,
    metricsNamespace: settings.metricsNamespace,
    maxFutureSkewMs: settings.maxFutureSkewMs,
    earliestEventDate: settings.earliestEventDate,
  });
}

let fromEnvironment: KinesisBatchHandler | undefined;

/** The Lambda handler: the environment is read once per container. */
export const handler = (async (event: KinesisStreamEvent) => {
  fromEnvironment ??= materializerFromEnvironment();
  return fromEnvironment(event);
}) satisfies KinesisStreamHandler;
