import { existsSync, readdirSync, statSync } from 'fs';
import { join } from 'path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseEventTime } from '../../lib/features/spec';
import {
  LABEL_SCHEMA, labelModelPrefix, partitionDate, predictionLogModelPrefix,
} from '../core/datasets';
import { featureColumn, quoteIdentifier, quoteLiteral, SPINE_TIMESTAMP_COLUMN } from '../core/point-in-time';
import { PREDICTION_LOG_SCHEMA } from '../core/prediction-log';

/**
 * "Train on what was served": a training set made of the features a model was actually served, as the prediction
 * logs recorded them (runtime/core/datasets.ts layout), with the ground-truth labels that arrived later — so a model
 * can be retrained on exactly what it saw, with the column names of the point-in-time retrieval (`<view>__<feature>`).
 *
 * The selection, window, de-duplication and label join are one SQL text (`buildServedTrainingSetSql`) over two
 * relations — the prediction logs and the labels with their Hive partition columns — using only CTEs,
 * `row_number() OVER (…)`, `UNION ALL`, text comparison and one JSON scalar function whose name the dialect gives.
 * Locally (`getServedTrainingSet`, tested) DuckDB runs it over a folder laid out like the dataset bucket. The Athena
 * dialect renders the same text for the Glue `prediction_logs` / `labels` tables (OpenX JSON SerDe); it is asserted
 * as text only: it has not been run against Athena here, and there the `label` column is OpenX's string rendering of
 * the value (not JSON). Flattening features and outputs into columns (`servedRow`) is plain TypeScript over the
 * query's rows, the same for either engine.
 *
 * Times (`ts`, label `eventTime`, the window) are compared as ISO-8601 text: exact for the `Date.toISOString()` form
 * (24 characters, UTC, milliseconds) the gateway, the server and the label ingestion write.
 */

/** Request of `getServedTrainingSet`. */
export interface ServedTrainingSetRequest {
  /** Folder laid out like the dataset bucket: `prediction-logs/model=<m>/dt=…/hour=…/*.jsonl[.gz]`, `labels/model=<m>/dt=…/*.jsonl[.gz]`. */
  readonly datasetRoot: string;
  /** The model whose predictions are read. */
  readonly model: string;
  /** Window start (inclusive): a Date, epoch milliseconds or ISO-8601 with a zone. */
  readonly from: Date | string | number;
  /** Window end (exclusive). */
  readonly to: Date | string | number;
  /**
   * Logged features to output, as the gateway keys them (`view:feature`, request-time `source:feature`).
   * @default - every feature logged in the window, sorted by column name
   */
  readonly featureRefs?: readonly string[];
  /**
   * Entity join keys to output as their own columns (and to match labels given by entity + eventTime).
   * @default - every key of the entities logged in the window, sorted
   */
  readonly joinKeys?: readonly string[];
  /**
   * Keep answers the gateway served as its fallback (they are not the model's).
   * @default false
   */
  readonly includeFallbacks?: boolean;
  /**
   * Join the labels under `labels/model=<m>/` (`label` and `label_time` columns).
   * @default true
   */
  readonly includeLabels?: boolean;
}

/**
 * One training row: `event_timestamp` (the prediction's ts, a Date), `request_id`, `model_version`, `variant`, the
 * join keys, `<view>__<feature>` per feature, `output__<name>` per output (a one-element array as its scalar), and,
 * with labels, `label` and `label_time` (null when none arrived).
 */
export type ServedRow = Record<string, unknown>;

/** How an engine spells the SQL that differs. */
export interface ServedSqlDialect {
  /** The text of a JSON object column's member `key` (null when absent). */
  jsonScalar(column: string, key: string): string;
  /** A JSON column as JSON text. */
  jsonText(column: string): string;
}

/** DuckDB: JSON columns (read_json `columns`), `json_extract_string`. */
export const DUCKDB_DIALECT: ServedSqlDialect = {
  jsonScalar: (column, key) => `json_extract_string(${column}, ${quoteLiteral(`$.${key}`)})`,
  jsonText: (column) => `CAST(${column} AS VARCHAR)`,
};

/** Athena (Trino) over the Glue tables: nested objects are `string` columns, `json_extract_scalar`. Not run here. */
export const ATHENA_DIALECT: ServedSqlDialect = {
  jsonScalar: (column, key) => `json_extract_scalar(${column}, ${quoteLiteral(`$.${key}`)})`,
  jsonText: (column) => column,
};

/** Inputs of `buildServedTrainingSetSql`. Relation texts are inserted verbatim: callers build them, never users. */
export interface ServedTrainingSetSqlInput {
  /** Relation of the prediction logs: the record's columns (lower case) and the partitions `model`, `dt`, `hour`. */
  readonly predictionsRelation: string;
  /** Relation of the labels: the label record's columns (lower case) and the partitions `model`, `dt`; none: no labels. */
  readonly labelsRelation?: string;
  readonly model: string;
  /** Window start, epoch ms (inclusive). */
  readonly fromMs: number;
  /** Window end, epoch ms (exclusive). */
  readonly toMs: number;
  /** Join keys, each output as a column and matched between labels and predictions. */
  readonly joinKeys: readonly string[];
  readonly includeFallbacks: boolean;
  readonly dialect: ServedSqlDialect;
}

/**
 * The server's S3 sink partitions a batch by its write time, up to its flush interval after the prediction: the last
 * `dt` read goes this far past the window.
 */
const PARTITION_SLACK_MS = 3_600_000;
/** Output columns of the query besides the join keys. */
const FEATURES_JSON = '__features';
const OUTPUTS_JSON = '__outputs';
const LABEL_JSON = '__label';
/** Output column of the label's time. */
export const LABEL_TIME_COLUMN = 'label_time';
/** Output column of the label. */
export const LABEL_COLUMN = 'label';
/** Prefix of the output columns of model outputs. */
export const OUTPUT_COLUMN_PREFIX = 'output__';
/** Join key names (lower snake case, as entities declare them): safe in JSON paths and identifiers. */
const JOIN_KEY = /^[a-z_][a-z0-9_]{0,127}$/;

/**
 * Builds the query: one row per prediction of `model` answered in `[from, to)` (de-duplicated by request id: the
 * sinks deliver at least once), fallbacks dropped unless asked, ordered by `ts` then request id. Labels: one given
 * by `requestId` belongs to that prediction; one given by entity + `eventTime` to the latest prediction of that
 * entity at or before `eventTime` (fallbacks included, so such a label never slides to an older model answer); the
 * latest `labelTime` wins per prediction. Labels naming no prediction are left out.
 */
export function buildServedTrainingSetSql(input: ServedTrainingSetSqlInput): string {
  const { dialect } = input;
  const model = quoteLiteral(input.model);
  const fromIso = quoteLiteral(new Date(input.fromMs).toISOString());
  const toIso = quoteLiteral(new Date(input.toMs).toISOString());
  const fromDate = quoteLiteral(partitionDate(input.fromMs));
  const lastDate = quoteLiteral(partitionDate(input.toMs + PARTITION_SLACK_MS));
  const keys = input.joinKeys.map((k) => ({ name: quoteIdentifier(k), expr: (column: string) => dialect.jsonScalar(column, k) }));
  const keyColumns = (column: string) => keys.map((k) => `${k.expr(column)} AS ${k.name}`);
  // Without labels only the window is read; with them every prediction from the window start on (see below).
  const windowEnd = input.labelsRelation ? '' : ` AND "dt" <= ${lastDate} AND "ts" < ${toIso}`;
  const ctes = [
    // Every prediction from the window start on: the candidates labels given by entity + eventTime choose from.
    [
      '"candidates" AS (',
      `  SELECT ${['"ts"', '"requestid" AS "request_id"', '"modelversion" AS "model_version"', '"variant"', '"fallback"', ...keyColumns('"entity"'),
        `${dialect.jsonText('"features"')} AS "${FEATURES_JSON}"`, `${dialect.jsonText('"outputs"')} AS "${OUTPUTS_JSON}"`].join(', ')},`,
      '    row_number() OVER (PARTITION BY "requestid" ORDER BY "ts") AS "__copy"',
      `  FROM ${input.predictionsRelation}`,
      `  WHERE "model" = ${model} AND "dt" >= ${fromDate} AND "schema" = ${PREDICTION_LOG_SCHEMA} AND "ts" >= ${fromIso} AND "requestid" IS NOT NULL${windowEnd}`,
      ')',
    ].join('\n'),
    [
      '"served" AS (',
      '  SELECT * FROM "candidates"',
      `  WHERE "__copy" = 1 AND "ts" < ${toIso}${input.includeFallbacks ? '' : ' AND "fallback" = false'}`,
      ')',
    ].join('\n'),
  ];
  const select = ['s."ts"', 's."request_id"', 's."model_version"', 's."variant"', ...keys.map((k) => `s.${k.name}`), `s."${FEATURES_JSON}"`, `s."${OUTPUTS_JSON}"`];
  const joins: string[] = [];
  if (input.labelsRelation) {
    const sameEntity = keys.length > 0 ? keys.map((k) => `c.${k.name} = l.${k.name}`).join(' AND ') : 'false';
    ctes.push(
      [
        '"labels" AS (',
        `  SELECT "requestid" AS "request_id", "eventtime" AS "event_time", ${dialect.jsonText('"label"')} AS "${LABEL_JSON}", "labeltime" AS "label_time", ${[...keyColumns('"entity"')].join(', ')}${keys.length > 0 ? ', ' : ''}`,
        '    row_number() OVER (ORDER BY "labeltime", "requestid", "eventtime") AS "label_id"',
        `  FROM ${input.labelsRelation}`,
        // A label arrives after its prediction: labels of days before the window cannot belong to it.
        `  WHERE "model" = ${model} AND "dt" >= ${fromDate} AND "schema" = ${LABEL_SCHEMA} AND "labeltime" IS NOT NULL`,
        ')',
      ].join('\n'),
      [
        '"by_entity" AS (',
        '  SELECT l."label_id", c."request_id", row_number() OVER (PARTITION BY l."label_id" ORDER BY c."ts" DESC, c."request_id" DESC) AS "__rank"',
        '  FROM "labels" l JOIN "candidates" c',
        `    ON l."request_id" IS NULL AND c."__copy" = 1 AND ${sameEntity} AND c."ts" <= l."event_time"`,
        ')',
      ].join('\n'),
      [
        '"matched" AS (',
        `  SELECT l."request_id", l."${LABEL_JSON}", l."label_time" FROM "labels" l WHERE l."request_id" IS NOT NULL`,
        '  UNION ALL',
        `  SELECT e."request_id", l."${LABEL_JSON}", l."label_time" FROM "by_entity" e JOIN "labels" l ON l."label_id" = e."label_id" WHERE e."__rank" = 1`,
        ')',
      ].join('\n'),
      [
        '"latest_label" AS (',
        `  SELECT "request_id", "${LABEL_JSON}", "label_time" FROM (`,
        `    SELECT "request_id", "${LABEL_JSON}", "label_time", row_number() OVER (PARTITION BY "request_id" ORDER BY "label_time" DESC, "${LABEL_JSON}") AS "__rank" FROM "matched"`,
        '  ) ranked WHERE "__rank" = 1',
        ')',
      ].join('\n'),
    );
    select.push(`ll."${LABEL_JSON}"`, `ll."label_time" AS "${LABEL_TIME_COLUMN}"`);
    joins.push('LEFT JOIN "latest_label" ll ON ll."request_id" = s."request_id"');
  }
  return [
    `WITH\n${ctes.join(',\n')}`,
    `SELECT ${select.join(', ')}`,
    'FROM "served" s',
    ...joins,
    'ORDER BY s."ts", s."request_id"',
  ].join('\n');
}

/** A feature key as logged (`view:feature`, `source:feature`) to its training column (`view__feature`). */
export function servedFeatureColumn(ref: string): string {
  const [view, feature, ...rest] = ref.split(':');
  return feature === undefined || rest.length > 0 ? ref : featureColumn(view, feature);
}

/** An output value as a column value: a one-element array (at any depth) as its element, anything else as logged. */
function outputValue(value: unknown): unknown {
  let v = value;
  while (Array.isArray(v) && v.length === 1) v = v[0];
  return v;
}

/** Parses JSON text of a query row (null stays null). */
function parsed(text: unknown): unknown {
  return typeof text === 'string' ? JSON.parse(text) : null;
}

/** A logged JSON object (features, outputs), or an empty one for anything else a hostile record holds. */
function objectOf(text: unknown): Record<string, unknown> {
  const value = parsed(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : {};
}

/**
 * Flattens one query row into a training row (see `ServedRow`): the engine-independent step after the SQL.
 * @param outputNames the `output__<name>` columns to fill (null where a row lacks one)
 */
export function servedRow(row: Record<string, unknown>, columns: { joinKeys: readonly string[]; featureRefs: readonly string[]; outputNames: readonly string[]; labels: boolean }): ServedRow {
  const features = objectOf(row[FEATURES_JSON]);
  const outputs = objectOf(row[OUTPUTS_JSON]);
  const out: ServedRow = {
    [SPINE_TIMESTAMP_COLUMN]: new Date(String(row.ts)),
    request_id: row.request_id,
    model_version: row.model_version ?? null,
    variant: row.variant ?? null,
  };
  for (const key of columns.joinKeys) out[key] = row[key] ?? null;
  for (const ref of columns.featureRefs) out[servedFeatureColumn(ref)] = Object.hasOwn(features, ref) ? features[ref] : null;
  for (const name of columns.outputNames) out[`${OUTPUT_COLUMN_PREFIX}${name}`] = Object.hasOwn(outputs, name) ? outputValue(outputs[name]) : null;
  if (columns.labels) {
    out[LABEL_COLUMN] = parsed(row[LABEL_JSON]);
    out[LABEL_TIME_COLUMN] = row[LABEL_TIME_COLUMN] ?? null;
  }
  return out;
}

/** Code-unit order of two strings (not locale order: `_` sorts as its code). */
function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An instant given as a Date, epoch ms or ISO-8601 with a zone; NaN when invalid. */
function instantMs(value: unknown): number {
  return value instanceof Date ? value.getTime() : parseEventTime(value);
}

/** Every problem of a request, each naming the field and the fix. */
export function servedTrainingSetProblems(request: ServedTrainingSetRequest): string[] {
  const problems: string[] = [];
  try {
    predictionLogModelPrefix(request.model);
  } catch (error) {
    problems.push(`model: ${(error as Error).message}`);
  }
  const [fromMs, toMs] = [instantMs(request.from), instantMs(request.to)];
  for (const [name, ms, value] of [['from', fromMs, request.from], ['to', toMs, request.to]] as const) {
    if (Number.isNaN(ms)) problems.push(`${name}: must be a Date, epoch milliseconds or ISO-8601 with a zone (e.g. '2026-06-01T00:00:00Z'), got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  if (!Number.isNaN(fromMs) && !Number.isNaN(toMs) && fromMs >= toMs) problems.push('to: must be after from (the window is [from, to))');
  if (typeof request.datasetRoot !== 'string' || !existsSync(request.datasetRoot) || !statSync(request.datasetRoot).isDirectory()) {
    problems.push(`datasetRoot: ${JSON.stringify(request.datasetRoot)} is not a folder; give a local copy of the dataset bucket (holding prediction-logs/)`);
  }
  (request.joinKeys ?? []).forEach((key, i) => {
    if (typeof key !== 'string' || !JOIN_KEY.test(key)) problems.push(`joinKeys[${i}]: ${JSON.stringify(key)} must be a lower snake case join key name`);
  });
  (request.featureRefs ?? []).forEach((ref, i) => {
    if (typeof ref !== 'string' || ref.split(':').length !== 2 || ref.split(':').some((part) => part.length === 0)) {
      problems.push(`featureRefs[${i}]: ${JSON.stringify(ref)} must be 'view:feature' (or 'source:feature'), as the gateway logs it`);
    }
  });
  return problems;
}

/**
 * DuckDB's reading of a JSON-lines dataset as the Glue tables declare it: the record's keys (matched case-sensitively
 * by read_json) renamed lower case, as the OpenX SerDe does, partitions as text.
 */
function localRelation(files: string[], columns: Record<string, string>, partitions: readonly string[]): string {
  const lowerCase = Object.entries(columns).map(([key, type]) => ({ key: quoteIdentifier(key), name: quoteIdentifier(key.toLowerCase()), type }));
  const partitionColumns = partitions.map(quoteIdentifier);
  if (files.length === 0) {
    const nulls = [...lowerCase.map((c) => `CAST(NULL AS ${c.type}) AS ${c.name}`), ...partitionColumns.map((p) => `CAST(NULL AS VARCHAR) AS ${p}`)];
    return `(SELECT ${nulls.join(', ')} WHERE 1 = 0)`;
  }
  const columnTypes = lowerCase.map((c) => `${c.key}: ${quoteLiteral(c.type)}`).join(', ');
  const hiveTypes = partitions.map((p) => `${quoteLiteral(p)}: 'VARCHAR'`).join(', ');
  const read = `read_json([${files.map(quoteLiteral).join(', ')}], format = 'newline_delimited', ignore_errors = true, hive_partitioning = true, hive_types = {${hiveTypes}}, columns = {${columnTypes}})`;
  return `(SELECT ${[...lowerCase.map((c) => `${c.key} AS ${c.name}`), ...partitionColumns].join(', ')} FROM ${read})`;
}

/** The prediction-log record's keys read (PredictionLogRecord), with their DuckDB types. */
const PREDICTION_COLUMNS = {
  schema: 'INTEGER', ts: 'VARCHAR', requestId: 'VARCHAR', modelVersion: 'VARCHAR', variant: 'VARCHAR', entity: 'JSON', features: 'JSON',
  outputs: 'JSON', fallback: 'BOOLEAN',
};
/** The label record's keys read (LabelRecord), with their DuckDB types. */
const LABEL_COLUMNS = { schema: 'INTEGER', requestId: 'VARCHAR', entity: 'JSON', eventTime: 'VARCHAR', label: 'JSON', labelTime: 'VARCHAR' };

/** The `.jsonl` / `.jsonl.gz` objects under `<root>/<prefix>dt=<date ≥ fromDate>/`. */
function datasetFiles(root: string, prefix: string, fromDate: string): string[] {
  const dir = join(root, prefix);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String)
    .filter((f) => /\.jsonl(\.gz)?$/.test(f) && (/^dt=(\d{4}-\d{2}-\d{2})\//.exec(f)?.[1] ?? '') >= fromDate)
    .sort().map((f) => join(dir, f));
}

/**
 * The served training set of one model over `[from, to)` from a local copy of the dataset (see the module comment):
 * one row per logged prediction, in `ts` order. Throws one error listing every problem of the request. Runs an
 * in-memory DuckDB that is closed before returning.
 */
export async function getServedTrainingSet(request: ServedTrainingSetRequest): Promise<ServedRow[]> {
  const problems = servedTrainingSetProblems(request);
  if (problems.length > 0) throw new Error(`Invalid served training set request:\n  - ${problems.join('\n  - ')}`);
  const [fromMs, toMs] = [instantMs(request.from), instantMs(request.to)];
  const fromDate = partitionDate(fromMs);
  const labels = request.includeLabels ?? true;
  const predictionsRelation = localRelation(datasetFiles(request.datasetRoot, predictionLogModelPrefix(request.model), fromDate), PREDICTION_COLUMNS, ['model', 'dt', 'hour']);
  const labelsRelation = labels ? localRelation(datasetFiles(request.datasetRoot, labelModelPrefix(request.model), fromDate), LABEL_COLUMNS, ['model', 'dt']) : undefined;
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const discovered = async (json: string): Promise<string[]> => {
      const sql = `SELECT DISTINCT unnest(json_keys(${json})) AS "key" FROM ${predictionsRelation} WHERE "model" = ${quoteLiteral(request.model)} AND "ts" >= ${quoteLiteral(new Date(fromMs).toISOString())} AND "ts" < ${quoteLiteral(new Date(toMs).toISOString())}${request.includeFallbacks ? '' : ' AND "fallback" = false'} ORDER BY 1`;
      return (await connection.runAndReadAll(sql)).getRowObjectsJS().map((r) => String(r.key));
    };
    const joinKeys = request.joinKeys ? [...request.joinKeys] : (await discovered('"entity"')).filter((k) => JOIN_KEY.test(k));
    const featureRefs = request.featureRefs ? [...request.featureRefs] : (await discovered('"features"')).sort((a, b) => byText(servedFeatureColumn(a), servedFeatureColumn(b)));
    const outputNames = await discovered('"outputs"');
    const sql = buildServedTrainingSetSql({
      predictionsRelation, labelsRelation, model: request.model, fromMs, toMs, joinKeys, includeFallbacks: request.includeFallbacks ?? false, dialect: DUCKDB_DIALECT,
    });
    const rows = (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
    return rows.map((row) => servedRow(row, { joinKeys, featureRefs, outputNames, labels }));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
