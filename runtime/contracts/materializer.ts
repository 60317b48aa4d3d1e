/**
 * The materializer's contract, defined once: the Lambda environment the FeatureIngestion construct writes
 * (`materializerEnvironment`) and the materializer handler reads (`parseMaterializerEnvironment`). Its input records
 * are defined in ./feature-record.ts. Pure: imports only other pure modules.
 */
import { earliestEventDateProblem, featureViewProblems, FeatureViewSpec, maxFutureSkewProblem } from '../../lib/features/spec';
import { METRICS_NAMESPACE } from '../core/metrics';
import { SharedVariables } from './shared';
import { Environment, EnvironmentReader } from './environment';

/** Bundle name of the materializer's Lambda handler (runtime/handlers/materializer-handler.ts). */
export const MATERIALIZER_HANDLER = 'materializer-handler';

/** Names of the materializer's environment variables. */
export const MaterializerVariables = {
  /** JSON array of FeatureViewSpec: the views served (several versions of one view allowed). */
  FEATURE_VIEWS: 'FEATURE_VIEWS',
  /** DynamoDB online table. */
  ONLINE_TABLE_NAME: SharedVariables.ONLINE_TABLE_NAME,
  /** S3 bucket of the offline Parquet files and dead letters. */
  OFFLINE_BUCKET_NAME: 'OFFLINE_BUCKET_NAME',
  /** CloudWatch namespace of the metrics (optional). */
  METRICS_NAMESPACE: SharedVariables.METRICS_NAMESPACE,
  /** How far in the future an event time may lie, milliseconds (optional). */
  MAX_FUTURE_SKEW_MS: 'MAX_FUTURE_SKEW_MS',
  /** The store's projection start, `yyyy-mm-dd` or `NOW-<n>DAYS`: earlier events are dead-lettered (optional). */
  EARLIEST_EVENT_DATE: 'EARLIEST_EVENT_DATE',
  /** `true` for path-style S3 URLs, e.g. local stand-ins such as s3rver (optional). */
  S3_FORCE_PATH_STYLE: 'S3_FORCE_PATH_STYLE',
} as const;

/** The materializer's settings, as the construct writes them and the handler reads them. */
export interface MaterializerSettings {
  /** The views served. */
  readonly views: readonly FeatureViewSpec[];
  /** Online table name (a CloudFormation token on the construct side). */
  readonly onlineTableName: string;
  /** Offline bucket name (a CloudFormation token on the construct side). */
  readonly offlineBucketName: string;
  /**
   * CloudWatch namespace of the metrics.
   * @default METRICS_NAMESPACE of runtime/core/metrics.ts
   */
  readonly metricsNamespace?: string;
  /**
   * How far in the future an event time may lie before the record is dead-lettered, milliseconds (0 to
   * MAX_FUTURE_SKEW_LIMIT_MS).
   * @default DEFAULT_MAX_FUTURE_SKEW_MS (300000)
   */
  readonly maxFutureSkewMs?: number;
  /**
   * First accepted event date, the store's projection start (`FeatureStore.earliestEventDate`): `yyyy-mm-dd` or
   * `NOW-<n>DAYS`.
   * @default DEFAULT_EARLIEST_EVENT_DATE of lib/features/spec ('2020-01-01')
   */
  readonly earliestEventDate?: string;
  /**
   * Path-style S3 URLs (local stand-ins such as s3rver).
   * @default false
   */
  readonly s3ForcePathStyle?: boolean;
}

const V = MaterializerVariables;

/**
 * The materializer's Lambda environment for `settings`. The metrics namespace is always written (its default when
 * unset), the other optional settings only when set.
 */
export function materializerEnvironment(settings: MaterializerSettings): Record<string, string> {
  const environment: Record<string, string> = {
    [V.FEATURE_VIEWS]: JSON.stringify(settings.views),
    [V.ONLINE_TABLE_NAME]: settings.onlineTableName,
    [V.OFFLINE_BUCKET_NAME]: settings.offlineBucketName,
    [V.METRICS_NAMESPACE]: settings.metricsNamespace ?? METRICS_NAMESPACE,
  };
  if (settings.earliestEventDate !== undefined) environment[V.EARLIEST_EVENT_DATE] = settings.earliestEventDate;
  if (settings.maxFutureSkewMs !== undefined) environment[V.MAX_FUTURE_SKEW_MS] = String(settings.maxFutureSkewMs);
  if (settings.s3ForcePathStyle) environment[V.S3_FORCE_PATH_STYLE] = 'true';
  return environment;
}

/** Reads the materializer's settings from its environment; throws one error listing every problem. */
export function parseMaterializerEnvironment(env: Environment): MaterializerSettings {
  const read = new EnvironmentReader(env, MATERIALIZER_HANDLER, 'the FeatureIngestion construct');
  const views = read.json<FeatureViewSpec[]>(V.FEATURE_VIEWS, 'a JSON array of feature view specs');
  if (views !== undefined && !Array.isArray(views)) read.problem(`${V.FEATURE_VIEWS} must be a JSON array of feature view specs`);
  const validViews = Array.isArray(views) ? views : [];
  for (const [i, view] of validViews.entries()) {
    for (const problem of featureViewProblems(view)) read.problem(`${V.FEATURE_VIEWS}[${i}]: ${problem}`);
  }
  const onlineTableName = read.required(V.ONLINE_TABLE_NAME);
  const offlineBucketName = read.required(V.OFFLINE_BUCKET_NAME);

  const rawSkew = read.optional(V.MAX_FUTURE_SKEW_MS);
  const maxFutureSkewMs = rawSkew === undefined ? undefined : Number(rawSkew);
  const skewProblem = maxFutureSkewMs === undefined ? undefined : maxFutureSkewProblem(maxFutureSkewMs);
  if (skewProblem) read.problem(`${V.MAX_FUTURE_SKEW_MS} ${skewProblem}, got '${rawSkew!.slice(0, 64)}'`);

  const earliestEventDate = read.optional(V.EARLIEST_EVENT_DATE);
  const dateProblem = earliestEventDate === undefined ? undefined : earliestEventDateProblem(earliestEventDate);
  if (dateProblem) read.problem(`${V.EARLIEST_EVENT_DATE} ${dateProblem}; deploy it with the FeatureIngestion construct`);

  const s3ForcePathStyle = read.bool(V.S3_FORCE_PATH_STYLE);
  read.throwIfProblems();
  return {
    views: validViews,
    onlineTableName,
    offlineBucketName,
    metricsNamespace: read.optional(V.METRICS_NAMESPACE),
    maxFutureSkewMs,
    earliestEventDate,
    s3ForcePathStyle,
  };
}
