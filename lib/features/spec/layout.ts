import { joinKeysOf } from './record';
import { FeatureDtype, FeatureViewSpec } from './types';

/**
 * Storage layout of the feature store, shared by the constructs (table keys, Glue columns) and the runtime
 * (writers and readers), so that both halves agree by construction.
 *
 * Online (DynamoDB), one item per (view, version, entity):
 *   pk (S)              `<view>#<version>#<entityKey>` — the only key; BatchGetItem reads 100 entities per call
 *   event_time_ms (N)   event time of the stored values; writes are conditional on it (newer wins)
 *   ingested_at_ms (N)  when the materializer wrote it
 *   expires_at (N)      epoch seconds = event time + TTL: DynamoDB's TTL attribute (deletion is lazy, so reads
 *                       enforce the TTL again)
 *   features (M)        feature name → value (NULL where the record had none)
 *
 * Offline (S3, Parquet, Hive partitions):
 *   offline/<view>/version=<v>/event_date=<yyyy-mm-dd>/<file>.parquet
 *   columns: join keys, entity_key, event_time, ingested_at, ingest_seq, then one column per feature
 */
export const OnlineAttributes = {
  PARTITION_KEY: 'pk',
  EVENT_TIME: 'event_time_ms',
  INGESTED_AT: 'ingested_at_ms',
  EXPIRES_AT: 'expires_at',
  FEATURES: 'features',
} as const;

/** S3 prefix of all offline data. */
export const OFFLINE_PREFIX = 'offline/';
/** S3 prefix of dead-lettered ingestion records. */
export const DEAD_LETTER_PREFIX = 'dead-letter/';

/** Online partition key of one entity of one view version. */
export function onlineKey(spec: Pick<FeatureViewSpec, 'name' | 'version'>, entityKey: string): string {
  return `${spec.name}#${spec.version}#${entityKey}`;
}

/** S3 prefix (no bucket) under which a view's Parquet files live; the Glue table's location. */
export function offlineViewPrefix(spec: Pick<FeatureViewSpec, 'name'>): string {
  return `${OFFLINE_PREFIX}${spec.name}/`;
}

/** S3 prefix of one version of a view: `offline/<view>/version=<v>/`. */
export function offlineVersionPrefix(spec: Pick<FeatureViewSpec, 'name' | 'version'>): string {
  return `${offlineViewPrefix(spec)}version=${spec.version}/`;
}

/** S3 prefix of one partition: a view version and an event date (UTC). */
export function offlinePartitionPrefix(spec: Pick<FeatureViewSpec, 'name' | 'version'>, eventTimeMs: number): string {
  return `${offlineVersionPrefix(spec)}event_date=${eventDate(eventTimeMs)}/`;
}

/** UTC date `yyyy-mm-dd` of an epoch-millisecond time. */
export function eventDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/** Physical type of an offline column. */
export enum OfflineColumnType {
  STRING = 'string',
  BIGINT = 'bigint',
  DOUBLE = 'double',
  BOOLEAN = 'boolean',
  TIMESTAMP = 'timestamp',
  FLOAT_ARRAY = 'array<float>',
}

/** One column of the offline Parquet files and the Glue table. */
export interface OfflineColumn {
  /** Column name. */
  readonly name: string;
  /** Type; the enum values are the Glue/Athena type strings. */
  readonly type: OfflineColumnType;
  /** Whether the column may hold nulls (feature columns do, layout columns do not). */
  readonly nullable: boolean;
}

const FEATURE_COLUMN_TYPES: Record<FeatureDtype, OfflineColumnType> = {
  [FeatureDtype.INT64]: OfflineColumnType.BIGINT,
  [FeatureDtype.FLOAT64]: OfflineColumnType.DOUBLE,
  [FeatureDtype.STRING]: OfflineColumnType.STRING,
  [FeatureDtype.BOOL]: OfflineColumnType.BOOLEAN,
  [FeatureDtype.FLOAT32_VECTOR]: OfflineColumnType.FLOAT_ARRAY,
};

/** Columns of a view's offline files, in file order. Partition columns (version, event_date) are not stored in files. */
export function offlineColumns(spec: FeatureViewSpec): OfflineColumn[] {
  return [
    ...joinKeysOf(spec).map((name) => ({ name, type: OfflineColumnType.STRING, nullable: false })),
    { name: 'entity_key', type: OfflineColumnType.STRING, nullable: false },
    { name: 'event_time', type: OfflineColumnType.TIMESTAMP, nullable: false },
    { name: 'ingested_at', type: OfflineColumnType.TIMESTAMP, nullable: false },
    { name: 'ingest_seq', type: OfflineColumnType.STRING, nullable: false },
    ...spec.features.map((f) => ({ name: f.name, type: FEATURE_COLUMN_TYPES[f.dtype], nullable: true })),
  ];
}

/** Hive partition columns of the offline layout, as the Glue table declares them. */
export const OFFLINE_PARTITION_COLUMNS: OfflineColumn[] = [
  { name: 'version', type: OfflineColumnType.BIGINT, nullable: false },
  { name: 'event_date', type: OfflineColumnType.STRING, nullable: false },
];
