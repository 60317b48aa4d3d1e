import { existsSync, readdirSync } from 'fs';
import { join } from 'path';
import { DuckDBConnection, DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';
import {
  FeatureDtype, FeatureSpec, FeatureViewSpec, joinKeysOf, joinKeyValue, OFFLINE_PARTITION_COLUMNS, offlineColumns, OfflineColumnType,
  offlineVersionPrefix, parseEventTime, resolveFeatureRefs, ResolvedFeatureRefs,
} from '../../lib/features/spec';
import {
  buildPointInTimeSql, CellDecoder, int64Value, quoteIdentifier, quoteLiteral, SPINE_TIMESTAMP_COLUMN, trainingValues,
} from '../core/point-in-time';

/**
 * Local historical retrieval: the shared point-in-time SQL run by DuckDB over a folder laid out like the offline
 * store's S3 bucket (`<offlineRoot>/offline/<view>/version=<v>/event_date=<yyyy-mm-dd>/*.parquet`).
 */

/** One entity row of the spine: join key values, the point in time, and any other fields (labels), kept as given. */
export type EntityRow = Readonly<Record<string, unknown>> & {
  /** The point in time: a Date, epoch milliseconds, or ISO-8601 with a zone. */
  readonly event_timestamp: Date | string | number;
};

/** A training row: the entity row's own fields, then `<view>__<feature>` (and `<view>__<feature>__status`). */
export type HistoricalRow = Record<string, unknown>;

/** Request of `getHistoricalFeatures`. */
export interface HistoricalFeaturesRequest {
  /** Views to read, exactly one version of each (the version whose files are read). */
  readonly views: readonly FeatureViewSpec[];
  /** Entity rows: every join key of every requested view, plus `event_timestamp`. */
  readonly entityRows: readonly EntityRow[];
  /** Feature references, `view_name:feature_name`. */
  readonly featureRefs: readonly string[];
  /** Folder holding `offline/<view>/version=<v>/event_date=<date>/*.parquet` (a local copy of the offline bucket). */
  readonly offlineRoot: string;
  /**
   * Also output `<view>__<feature>__status` (`PRESENT | NOT_FOUND | FALLBACK`) next to each value.
   * @default false
   */
  readonly includeStatus?: boolean;
}

/** The SQL text the local engine runs and the spine it stages, for inspection and for comparing with Athena. */
export interface LocalHistoricalQuery {
  /** The point-in-time SQL (`buildPointInTimeSql` over the local relations). */
  readonly sql: string;
  /** Requested features by view. */
  readonly refs: ResolvedFeatureRefs[];
  /** Join key columns of the spine (every join key of every requested view). */
  readonly joinKeys: string[];
  /** Each entity row's join key values, normalized to strings like the offline store's. */
  readonly keyValues: Array<Record<string, string>>;
  /** Each entity row's point in time, epoch ms. */
  readonly timestampsMs: number[];
}

/** Name of the staged spine table. */
export const LOCAL_SPINE_TABLE = 'entity_rows';
/** Column of the staged spine holding the entity row's index (output order). */
export const LOCAL_ROW_COLUMN = 'entity_row';

const DUCKDB_TYPES: Record<OfflineColumnType, string> = {
  [OfflineColumnType.STRING]: 'VARCHAR',
  [OfflineColumnType.BIGINT]: 'BIGINT',
  [OfflineColumnType.DOUBLE]: 'DOUBLE',
  [OfflineColumnType.BOOLEAN]: 'BOOLEAN',
  [OfflineColumnType.TIMESTAMP]: 'TIMESTAMP',
  [OfflineColumnType.FLOAT_ARRAY]: 'FLOAT[]',
};

/**
 * The local relation of one view version: its Parquet files with Hive partition columns typed as the Glue table
 * declares them, united by name with an empty relation of the view's columns — so a view version without files, or
 * files written before a compatible feature was added, read as empty / null instead of failing to bind.
 */
export function localFeatureRelation(offlineRoot: string, view: FeatureViewSpec): string {
  const columns = [...offlineColumns(view), ...OFFLINE_PARTITION_COLUMNS];
  const empty = `(SELECT ${columns.map((c) => `CAST(NULL AS ${DUCKDB_TYPES[c.type]}) AS ${quoteIdentifier(c.name)}`).join(', ')} WHERE 1 = 0)`;
  const versionDir = join(offlineRoot, offlineVersionPrefix(view));
  const hasFiles = existsSync(versionDir) && readdirSync(versionDir, { recursive: true }).some((f) => String(f).endsWith('.parquet'));
  if (!hasFiles) return empty;
  const hiveTypes = OFFLINE_PARTITION_COLUMNS.map((c) => `${quoteLiteral(c.name)}: '${DUCKDB_TYPES[c.type]}'`).join(', ');
  const files = quoteLiteral(join(versionDir, '*', '*.parquet'));
  return `(SELECT * FROM read_parquet(${files}, hive_partitioning = true, union_by_name = true, hive_types = {${hiveTypes}}) UNION ALL BY NAME ${empty})`;
}

/** Parses a spine timestamp; NaN when invalid. */
function timestampMs(value: unknown): number {
  return value instanceof Date ? value.getTime() : parseEventTime(value);
}

/**
 * Validates the request and builds the SQL the local engine runs. Throws one error listing every problem: unknown
 * or malformed references, missing join keys, bad timestamps (each naming the entity row and field).
 */
export function localHistoricalQuery(request: HistoricalFeaturesRequest): LocalHistoricalQuery {
  const refs = resolveFeatureRefs(request.views, request.featureRefs);
  const joinKeys = [...new Set(refs.flatMap((r) => joinKeysOf(r.view)))];
  const neededBy = (key: string) => refs.filter((r) => joinKeysOf(r.view).includes(key)).map((r) => `'${r.view.name}'`).join(', ');
  const problems: string[] = [];
  const keyValues: Array<Record<string, string>> = [];
  const timestampsMs: number[] = [];
  request.entityRows.forEach((row, i) => {
    const keys: Record<string, string> = {};
    for (const key of joinKeys) {
      const value = row[key];
      const normalized = joinKeyValue(value);
      if (normalized !== undefined) keys[key] = normalized;
      else problems.push(`entityRows[${i}].${key}: join key of view ${neededBy(key)} must be a non-empty string or an integer, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
    }
    const ts = timestampMs(row[SPINE_TIMESTAMP_COLUMN]);
    if (Number.isNaN(ts)) {
      problems.push(`entityRows[${i}].${SPINE_TIMESTAMP_COLUMN}: must be a Date, epoch milliseconds or ISO-8601 with a zone (e.g. '2026-01-01T12:00:00Z'), got ${JSON.stringify(row[SPINE_TIMESTAMP_COLUMN]) ?? 'nothing'}`);
    }
    keyValues.push(keys);
    timestampsMs.push(ts);
  });
  if (problems.length > 0) throw new Error(`Invalid historical retrieval request:\n  - ${problems.join('\n  - ')}`);
  const featureRelations = Object.fromEntries(refs.map(({ view }) => [view.name, localFeatureRelation(request.offlineRoot, view)]));
  const sql = buildPointInTimeSql({
    refs,
    spineRelation: quoteIdentifier(LOCAL_SPINE_TABLE),
    featureRelations,
    fromMs: timestampsMs.reduce((a, b) => Math.min(a, b), timestampsMs[0] ?? 0),
    toMs: timestampsMs.reduce((a, b) => Math.max(a, b), timestampsMs[0] ?? 0),
    orderBy: LOCAL_ROW_COLUMN,
  });
  return { sql, refs, joinKeys, keyValues, timestampsMs };
}

/** DuckDB's JS values (`getRowObjectsJS`) to feature values. */
const DUCKDB_CELLS: CellDecoder = {
  timestampMs: (raw) => (raw as Date).getTime(),
  value: (feature: FeatureSpec, raw) => (feature.dtype === FeatureDtype.INT64 ? int64Value(raw as bigint) : raw),
};

/** Stages the spine as a DuckDB table: row index, join keys (VARCHAR), event_timestamp (TIMESTAMP). */
async function stageSpine(connection: DuckDBConnection, query: LocalHistoricalQuery): Promise<void> {
  const columns = [
    `${quoteIdentifier(LOCAL_ROW_COLUMN)} INTEGER`,
    ...query.joinKeys.map((k) => `${quoteIdentifier(k)} VARCHAR`),
    `${quoteIdentifier(SPINE_TIMESTAMP_COLUMN)} TIMESTAMP`,
  ];
  await connection.run(`CREATE TABLE ${quoteIdentifier(LOCAL_SPINE_TABLE)} (${columns.join(', ')})`);
  const appender = await connection.createAppender(LOCAL_SPINE_TABLE);
  query.timestampsMs.forEach((ms, i) => {
    appender.appendInteger(i);
    for (const key of query.joinKeys) appender.appendVarchar(query.keyValues[i][key]);
    appender.appendTimestamp(new DuckDBTimestampValue(BigInt(ms) * 1000n));
    appender.endRow();
  });
  appender.closeSync();
}

/**
 * Point-in-time correct training data from local Parquet files: for each entity row (in order), its own fields
 * plus, per requested feature, what serving would have served at `event_timestamp` (see `buildPointInTimeSql`).
 * Runs an in-memory DuckDB that is closed before returning.
 */
export async function getHistoricalFeatures(request: HistoricalFeaturesRequest): Promise<HistoricalRow[]> {
  const query = localHistoricalQuery(request);
  if (request.entityRows.length === 0) return [];
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await stageSpine(connection, query);
    const result = await connection.runAndReadAll(query.sql);
    const rows = result.getRowObjectsJS();
    if (rows.length !== request.entityRows.length) {
      throw new Error(`point-in-time query returned ${rows.length} rows for ${request.entityRows.length} entity rows`);
    }
    return rows.map((row, i) => ({
      ...request.entityRows[i],
      ...trainingValues(query.refs, row, query.timestampsMs[i], request.includeStatus ?? false, DUCKDB_CELLS),
    }));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
