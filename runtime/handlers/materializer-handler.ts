/**
 * Lambda entry point of the streaming materializer (Kinesis event source mapping with ReportBatchItemFailures):
 * decodes the event, runs the core `Materializer` over the DynamoDB and S3 adapters, logs the batch's metrics as EMF
 * and answers with the partial batch response.
 *
 * Environment (set by the FeatureIngestion construct):
 * - `FEATURE_VIEWS`        JSON array of FeatureViewSpec (the views served; several versions of one view allowed)
 * - `ONLINE_TABLE_NAME`    DynamoDB online table
 * - `OFFLINE_BUCKET_NAME`  S3 bucket of the offline Parquet files and dead letters
 * - `METRICS_NAMESPACE`    optional; default `METRICS_NAMESPACE` of runtime/core/metrics.ts
 * - `MAX_FUTURE_SKEW_MS`   optional; how far in the future an event time may lie, 0 to MAX_FUTURE_SKEW_LIMIT_MS (default 300000)
 * - `EARLIEST_EVENT_DATE`  optional (`EARLIEST_EVENT_DATE_VARIABLE`); the store's projection start, `yyyy-mm-dd` or
 *                          `NOW-<n>DAYS`: earlier events are dead-lettered (default EARLIEST_EVENT_DATE, 2020-01-01)
 * - `S3_FORCE_PATH_STYLE`  optional; `true` for path-style S3 URLs (local stand-ins such as s3rver)
 * Endpoints, region and credentials come from the SDK's own environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_S3`, ...).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamHandler, KinesisStreamRecord } from 'aws-lambda';
import { EARLIEST_EVENT_DATE_VARIABLE, earliestEventDateProblem, FeatureViewSpec, maxFutureSkewProblem } from '../../lib/features/spec';
import { LambdaEnvironment } from '../aws/lambda-environment';
import { s3ObjectWriter } from '../aws/offline-store';
import { putOnlineRow } from '../aws/online-store';
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
   * @default EARLIEST_EVENT_DATE ('2020-01-01')
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

/** Builds the batch handler from the Lambda environment (see the module documentation); throws naming what is missing. */
export function materializerFromEnvironment(env: NodeJS.ProcessEnv = process.env): KinesisBatchHandler {
  const environment = new LambdaEnvironment(env, 'materializer-handler', 'FeatureIngestion');
  const views = environment.json<FeatureViewSpec[]>('FEATURE_VIEWS', 'a JSON array of feature view specs');
  if (!Array.isArray(views)) throw new Error('materializer-handler: FEATURE_VIEWS must be a JSON array of feature view specs');
  const maxFutureSkewMs = env.MAX_FUTURE_SKEW_MS === undefined ? undefined : Number(env.MAX_FUTURE_SKEW_MS);
  const skewProblem = maxFutureSkewMs === undefined ? undefined : maxFutureSkewProblem(maxFutureSkewMs);
  if (skewProblem) throw new Error(`materializer-handler: MAX_FUTURE_SKEW_MS ${skewProblem}, got '${env.MAX_FUTURE_SKEW_MS}'`);
  const earliestEventDate = environment.optional(EARLIEST_EVENT_DATE_VARIABLE);
  const dateProblem = earliestEventDate === undefined ? undefined : earliestEventDateProblem(earliestEventDate);
  if (dateProblem) throw new Error(`materializer-handler: ${EARLIEST_EVENT_DATE_VARIABLE} ${dateProblem}; deploy it with the FeatureIngestion construct`);
  const tableName = environment.required('ONLINE_TABLE_NAME');
  const bucketName = environment.required('OFFLINE_BUCKET_NAME');
  return createMaterializer({
    views,
    dynamo: new DynamoDBClient({}),
    s3: new S3Client({ forcePathStyle: env.S3_FORCE_PATH_STYLE === 'true' }),
    tableName,
    bucketName,
    metricsNamespace: environment.optional('METRICS_NAMESPACE'),
    maxFutureSkewMs,
    earliestEventDate,
  });
}

let fromEnvironment: KinesisBatchHandler | undefined;

/** The Lambda handler: the environment is read once per container. */
export const handler = (async (event: KinesisStreamEvent) => {
  fromEnvironment ??= materializerFromEnvironment();
  return fromEnvironment(event);
}) satisfies KinesisStreamHandler;
