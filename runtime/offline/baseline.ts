import { createReadStream, existsSync, readdirSync } from 'fs';
import { join } from 'path';
import { createInterface } from 'readline';
import { createGunzip } from 'zlib';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  FEATURE_REF_SEPARATOR, FeatureDtype, FeatureViewSpec, OFFLINE_PARTITION_COLUMNS, parseEventTime, resolveFeatureRefs, ResolvedFeatureRefs,
  serveValue,
} from '../../lib/features/spec';
import { datesInWindow, isPartitionValue, predictionLogDayPrefix } from '../core/datasets';
import { DatasetProfile, ProfileBuilder, ProfileBuilderOptions } from '../core/drift/profile';
import { LabelValue, ProblemType, QualityAccumulator } from '../core/model-quality';
import { featureColumn, int64Value, quoteIdentifier, quoteLiteral, selectedEventTimeColumn, statusColumn } from '../core/point-in-time';
import { parsePredictionLogLine } from '../core/logged-predictions';
import { localFeatureRelation } from './historical';

/**
 * The baseline builder: profiles what a model version was trained on (a training-set file), or what the feature store
 * held over a window (the offline store), or what was served over a known-good window (prediction logs), into one
 * `DatasetProfile` (runtime/core/drift) that drift detection compares live traffic against. Every source is read
 * streaming, a DuckDB chunk or a log line at a time: memory is bounded by the profile's sketches, not by the data.
 *
 * One naming: a baseline's feature columns are named as the gateway logs them (`view:feature`, request-time features
 * `source:feature`), so a baseline and the profile of prediction logs line up column for column. Training sets
 * written by the point-in-time retrieval name feature columns `view__feature` (`featureColumn`); pass their
 * references (`featureRefs`) and they are profiled under the served name.
 */

/** A time given as a Date, epoch milliseconds, or ISO-8601 with a zone (`'2026-03-01T00:00:00Z'`). */
export type BaselineTime = Date | number | string;

/** A training set in a file (or files): Parquet, CSV (with a header) or JSON lines. */
export interface TrainingSetSource {
  readonly kind: 'training-set';
  /** A file or a glob (`data/train-*.parquet`), read by DuckDB. */
  readonly path: string;
  /**
   * File format.
   * @default - from the extension: `.parquet`, `.csv` / `.csv.gz`, `.jsonl` / `.ndjson` / `.json` (and `.gz`)
   */
  readonly format?: TrainingSetFormat;
  /**
   * Columns profiled as features under their own names.
   * @default - every column not named by `featureRefs`, `outputs`, `score`, `label` or `exclude`, except columns of a
   * type no served feature has (timestamps, dates, structs, maps, blobs) and the point-in-time retrieval's
   * `<view>__<feature>__status` / `<view>__event_time` columns
   */
  readonly features?: readonly string[];
  /**
   * Feature references (`view:feature`) whose training column is `view__feature` (as `getHistoricalFeatures` and the
   * served training set name them): profiled under the reference, the name the gateway logs.
   * @default - none
   */
  readonly featureRefs?: readonly string[];
  /**
   * Columns never profiled: the point in time, entity join keys, ids.
   * @default - none
   */
  readonly exclude?: readonly string[];
  /**
   * Columns holding model outputs present in the training set, profiled as outputs (as the server logs them: a
   * scalar column `score` is the output `score` of one value).
   * @default - none (plus `score` when given)
   */
  readonly outputs?: readonly string[];
  /**
   * The column of the model's prediction (its score) that quality is computed from; profiled as an output.
   * @default - none: no quality
   */
  readonly score?: string;
  /**
   * The ground-truth column: with `score` and `problem`, the baseline carries the model's quality on the set.
   * @default - none: no quality
   */
  readonly label?: string;
  /** Problem type of the model (required with `label`). */
  readonly problem?: ProblemType;
  /**
   * Classification: score at or above which the prediction is the positive class.
   * @default 0.5
   */
  readonly threshold?: number;
  /**
   * Classification: the class name that is the positive class, for string labels (booleans and 0/1 are read as
   * they are).
   * @default - string labels are refused (counted as skipped pairs)
   */
  readonly positiveLabel?: string;
}

/** File formats of a training set. */
export type TrainingSetFormat = 'parquet' | 'csv' | 'jsonl';

/** A window of the offline store (a local copy of the offline bucket, `offline/<view>/version=<v>/event_date=…`). */
export interface OfflineStoreSource {
  readonly kind: 'offline-store';
  /** Folder holding `offline/<view>/version=<v>/event_date=<date>/*.parquet`. */
  readonly offlineRoot: string;
  /** Views to read, exactly one version of each. */
  readonly views: readonly FeatureViewSpec[];
  /**
   * Features to profile, `view:feature`.
   * @default - every feature of every view
   */
  readonly featureRefs?: readonly string[];
  /** Start of the window (inclusive), by the rows' event time. */
  readonly from: BaselineTime;
  /** End of the window (inclusive). */
  readonly to: BaselineTime;
}

/** A window of prediction logs (JSON lines, `prediction-logs/model=<m>/dt=<d>/hour=<h>/*.jsonl[.gz]`, local copy). */
export interface PredictionLogSource {
  readonly kind: 'prediction-logs';
  /** Folder holding `prediction-logs/…` (a local copy of the dataset bucket). */
  readonly root: string;
  /** Start of the window (inclusive), by the prediction's `ts`. */
  readonly from: BaselineTime;
  /** End of the window (inclusive). */
  readonly to: BaselineTime;
}

/** Where a baseline's rows come from. */
export type BaselineSource = TrainingSetSource | OfflineStoreSource | PredictionLogSource;

/** Request of `buildBaseline`. */
export interface BaselineRequest {
  /** Model the baseline belongs to. */
  readonly model: string;
  /** Model version the baseline belongs to. */
  readonly modelVersion: string;
  /** What to profile. */
  readonly source: BaselineSource;
  /**
   * Profile options (per-column overrides).
   * @default - the profile's defaults
   */
  readonly profile?: ProfileBuilderOptions;
}

/** What `buildBaseline` read besides the profile: rows profiled and lines it could not use. */
export interface BaselineBuild {
  /** The profile (with `quality` when the training set had a label and a score). */
  readonly profile: DatasetProfile;
  /** Rows profiled. */
  readonly rows: number;
  /**
   * What was set aside, by reason: prediction-log lines that could not be read (`parsePredictionLogLine`'s reasons),
   * of another model or outside the window; training rows left out of `quality` (`unlabelled`, `unusable-quality-pair`).
   */
  readonly skipped: Readonly<Record<string, number>>;
  /** Training-set columns left out by type (name → DuckDB type). */
  readonly ignoredColumns: Readonly<Record<string, string>>;
}

/** One profiled row: feature values by served name, outputs as logged, and the label/score for quality. */
interface BaselineRow {
  readonly features: Record<string, unknown>;
  readonly outputs: Record<string, unknown>;
  readonly label?: unknown;
  readonly score?: unknown;
}

/** A source's rows, a chunk at a time, and what it set aside. */
interface RowStream {
  readonly chunks: AsyncIterable<readonly BaselineRow[]>;
  readonly skipped: Record<string, number>;
  readonly ignoredColumns: Record<string, string>;
}

const FORMATS: readonly TrainingSetFormat[] = ['parquet', 'csv', 'jsonl'];

/** The format a file name implies, if any. */
function formatOf(path: string): TrainingSetFormat | undefined {
  const name = path.toLowerCase().replace(/\.(gz|zst)$/, '');
  if (name.endsWith('.parquet')) return 'parquet';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson') || name.endsWith('.json')) return 'jsonl';
  return undefined;
}

/** Problems with a window's bounds (each naming the field and the fix). */
function windowProblems(field: string, from: BaselineTime, to: BaselineTime): string[] {
  const problems: string[] = [];
  const [fromMs, toMs] = [timeMs(from), timeMs(to)];
  const fix = "a Date, epoch milliseconds or ISO-8601 with a zone (e.g. '2026-03-01T00:00:00Z')";
  if (Number.isNaN(fromMs)) problems.push(`${field}.from: must be ${fix}, got ${JSON.stringify(from) ?? 'nothing'}`);
  if (Number.isNaN(toMs)) problems.push(`${field}.to: must be ${fix}, got ${JSON.stringify(to) ?? 'nothing'}`);
  if (!Number.isNaN(fromMs) && !Number.isNaN(toMs) && fromMs > toMs) problems.push(`${field}: from (${new Date(fromMs).toISOString()}) is after to (${new Date(toMs).toISOString()}); swap them`);
  return problems;
}

/** Epoch ms of a window bound; NaN when invalid. */
function timeMs(value: BaselineTime): number {
  return value instanceof Date ? value.getTime() : parseEventTime(value);
}

/** Problems with a training-set source that need no reading (each naming the field and the fix). */
function trainingSetProblems(source: TrainingSetSource): string[] {
  const problems: string[] = [];
  if (typeof source.path !== 'string' || source.path.length === 0) problems.push('source.path: give the training set file or glob, e.g. data/train.parquet');
  else if (source.format === undefined && formatOf(source.path) === undefined) problems.push(`source.format: cannot tell the format of '${source.path}' from its extension; give one of ${FORMATS.join(', ')}`);
  if (source.format !== undefined && !FORMATS.includes(source.format)) problems.push(`source.format: '${source.format}' is not one of ${FORMATS.join(', ')}`);
  for (const ref of source.featureRefs ?? []) {
    const parts = ref.split(FEATURE_REF_SEPARATOR);
    if (parts.length !== 2 || !parts[0] || !parts[1]) problems.push(`source.featureRefs: '${ref}' is not 'view_name:feature_name'`);
  }
  const quality = source.label !== undefined || source.problem !== undefined || source.threshold !== undefined || source.positiveLabel !== undefined;
  if (quality) {
    if (source.label === undefined) problems.push('source.label: quality (problem, threshold, positiveLabel) needs the ground-truth column; give label');
    if (source.score === undefined) problems.push("source.score: quality needs the column of the model's prediction; give score (e.g. 'score')");
    if (source.problem !== 'classification' && source.problem !== 'regression') problems.push(`source.problem: give 'classification' or 'regression' with a label, got ${JSON.stringify(source.problem) ?? 'nothing'}`);
    if (source.threshold !== undefined && !(typeof source.threshold === 'number' && source.threshold >= 0 && source.threshold <= 1)) problems.push(`source.threshold: must be a number from 0 to 1 (a probability of the positive class, e.g. 0.5), got ${JSON.stringify(source.threshold)}`);
    if (source.problem === 'regression' && (source.threshold !== undefined || source.positiveLabel !== undefined)) problems.push('source.threshold / positiveLabel: apply to classification only; drop them for a regression model');
  }
  const named = new Map<string, string>();
  const claim = (field: string, column: string | undefined) => {
    if (column === undefined) return;
    const owner = named.get(column);
    if (owner !== undefined && owner !== field) problems.push(`source.${field}: column '${column}' is already ${owner}; a column is one of feature, output, score, label or excluded`);
    named.set(column, field);
  };
  claim('label', source.label);
  claim('score', source.score);
  for (const c of source.outputs ?? []) if (c !== source.score) claim('outputs', c);
  for (const c of source.exclude ?? []) claim('exclude', c);
  for (const c of source.features ?? []) claim('features', c);
  for (const ref of source.featureRefs ?? []) claim('featureRefs', trainingColumnOf(ref));
  return problems;
}

/** The training column of a feature reference: `view__feature`. */
function trainingColumnOf(ref: string): string {
  const at = ref.indexOf(FEATURE_REF_SEPARATOR);
  return featureColumn(ref.slice(0, at), ref.slice(at + 1));
}

/**
 * Validates a request without reading any data; throws one error listing every problem (each naming the field and
 * the fix). Columns and files are checked when read.
 */
export function validateBaselineRequest(request: BaselineRequest): void {
  const problems: string[] = [];
  for (const field of ['model', 'modelVersion'] as const) {
    const value = request[field];
    if (!isPartitionValue(value)) {
      problems.push(`${field}: give 1–128 letters, digits, '.', '_' or '-' (it names the baseline's S3 key), got ${JSON.stringify(value) ?? 'nothing'}`);
    }
  }
  const source = request.source as BaselineSource | undefined;
  if (source?.kind === 'training-set') problems.push(...trainingSetProblems(source));
  else if (source?.kind === 'offline-store') {
    if (!source.offlineRoot) problems.push('source.offlineRoot: give the folder holding offline/<view>/version=<v>/…');
    if (!source.views?.length) problems.push('source.views: give the feature views to read (one version of each)');
    else {
      try {
        offlineRefs(source);
      } catch (e) {
        problems.push(`source.featureRefs: ${(e as Error).message}`);
      }
    }
    problems.push(...windowProblems('source', source.from, source.to));
  } else if (source?.kind === 'prediction-logs') {
    if (!source.root) problems.push('source.root: give the folder holding prediction-logs/model=<m>/dt=…');
    problems.push(...windowProblems('source', source.from, source.to));
  } else {
    problems.push(`source.kind: give 'training-set', 'offline-store' or 'prediction-logs', got ${JSON.stringify((source as { kind?: unknown } | undefined)?.kind) ?? 'nothing'}`);
  }
  if (problems.length > 0) throw new Error(`Invalid baseline request:\n  - ${problems.join('\n  - ')}`);
}

/** The offline source's requested features, grouped by view (every feature of every view by default). */
function offlineRefs(source: OfflineStoreSource): ResolvedFeatureRefs[] {
  const refs = source.featureRefs ?? source.views.flatMap((v) => v.features.map((f) => `${v.name}${FEATURE_REF_SEPARATOR}${f.name}`));
  return resolveFeatureRefs(source.views, refs);
}

/** Runs `use` on a fresh in-memory DuckDB connection, closed afterwards. */
async function withDuckDb<T>(use: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return await use(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Streams a query's rows as JS objects, one DuckDB chunk (up to 2,048 rows) at a time. */
async function* streamRows(connection: DuckDBConnection, sql: string): AsyncIterable<Record<string, unknown>[]> {
  const result = await connection.stream(sql);
  yield* result.yieldRowObjectJs();
}

/** DuckDB's reader of a training-set file or glob. */
function trainingSetRelation(source: TrainingSetSource): string {
  const path = quoteLiteral(source.path);
  switch (source.format ?? formatOf(source.path)) {
    case 'parquet': return `read_parquet(${path}, union_by_name = true)`;
    case 'csv': return `read_csv(${path}, header = true, union_by_name = true)`;
    default: return `read_json(${path}, format = 'newline_delimited', union_by_name = true)`;
  }
}

const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/;
const NUMERIC_LIST_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)(\[\d*\])$/;

/** The SELECT expression of a profiled column (numbers as DOUBLE, number lists as DOUBLE[]), or undefined when no served value has its type. */
function selectExpression(column: string, type: string): string | undefined {
  const id = quoteIdentifier(column);
  if (NUMERIC_TYPE.test(type)) return `CAST(${id} AS DOUBLE) AS ${id}`;
  if (NUMERIC_LIST_TYPE.test(type)) return `CAST(${id} AS DOUBLE[]) AS ${id}`;
  if (type === 'VARCHAR' || type === 'BOOLEAN') return id;
  return undefined;
}

/** A training set's rows: validates the columns against the file's (every problem at once), then streams. */
async function trainingSetRows(connection: DuckDBConnection, source: TrainingSetSource): Promise<RowStream> {
  const relation = trainingSetRelation(source);
  const files = await connection.runAndReadAll(`SELECT count(*) AS n FROM glob(${quoteLiteral(source.path)})`);
  if (Number(files.getRowObjectsJS()[0].n) === 0) throw new Error(`Invalid baseline request:\n  - source.path: no file matches '${source.path}'; check the path (globs like data/*.parquet are allowed)`);
  const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`)).getRowObjectsJS();
  const types = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
  const refColumns = new Map((source.featureRefs ?? []).map((ref) => [trainingColumnOf(ref), ref]));
  const outputs = [...new Set([...(source.outputs ?? []), ...(source.score !== undefined ? [source.score] : [])])];
  const claimed = new Set([...refColumns.keys(), ...outputs, ...(source.label !== undefined ? [source.label] : []), ...(source.exclude ?? [])]);
  const problems: string[] = [];
  const known = () => [...types.keys()].join(', ');
  const requireColumn = (field: string, column: string, profiled: boolean) => {
    const type = types.get(column);
    if (type === undefined) problems.push(`source.${field}: the training set has no column '${column}' (it has: ${known()})`);
    else if (profiled && selectExpression(column, type) === undefined) problems.push(`source.${field}: column '${column}' is ${type}; a profiled column holds numbers, number lists, strings or booleans — drop it or add it to exclude`);
  };
  for (const column of source.features ?? []) requireColumn('features', column, true);
  for (const [column, ref] of refColumns) {
    if (!types.has(column)) problems.push(`source.featureRefs: '${ref}' has no training column '${column}' (it has: ${known()})`);
    else requireColumn('featureRefs', column, true);
  }
  for (const column of outputs) requireColumn(column === source.score ? 'score' : 'outputs', column, true);
  if (source.label !== undefined) requireColumn('label', source.label, true);
  for (const column of source.exclude ?? []) requireColumn('exclude', column, false);
  if (problems.length > 0) throw new Error(`Invalid baseline request:\n  - ${problems.join('\n  - ')}`);

  const ignoredColumns: Record<string, string> = {};
  let plain = source.features ? [...source.features] : [];
  if (!source.features) {
    const bookkeeping = new Set((source.featureRefs ?? []).flatMap((ref) => {
      const at = ref.indexOf(FEATURE_REF_SEPARATOR);
      return [statusColumn(ref.slice(0, at), ref.slice(at + 1)), selectedEventTimeColumn(ref.slice(0, at))];
    }));
    for (const [column, type] of types) {
      if (claimed.has(column) || bookkeeping.has(column)) continue;
      if (selectExpression(column, type) === undefined) ignoredColumns[column] = type;
      else plain.push(column);
    }
  }
  plain = plain.filter((c) => !refColumns.has(c));
  const selected = [...new Set([...plain, ...refColumns.keys(), ...outputs, ...(source.label !== undefined ? [source.label] : [])])];
  const sql = `SELECT ${selected.map((c) => selectExpression(c, types.get(c)!)).join(', ')} FROM ${relation}`;
  async function* chunks(): AsyncIterable<readonly BaselineRow[]> {
    for await (const rows of streamRows(connection, sql)) {
      yield rows.map((row) => {
        const features: Record<string, unknown> = {};
        for (const c of plain) features[c] = row[c];
        for (const [c, ref] of refColumns) features[ref] = row[c];
        // As drift detection reads logged outputs (`LoggedPrediction`): a one-value output is a scalar.
        const outputValues: Record<string, unknown> = {};
        for (const c of outputs) outputValues[c] = row[c];
        return {
          features, outputs: outputValues,
          ...(source.label !== undefined ? { label: row[source.label], score: row[source.score!] } : {}),
        };
      });
    }
  }
  return { chunks: chunks(), skipped: {}, ignoredColumns };
}

/** JS value of an offline cell as the gateway would log it: int64 as a number, vectors as number arrays. */
function offlineValue(dtype: FeatureDtype, raw: unknown): unknown {
  if (raw === null || raw === undefined) return null;
  if (dtype === FeatureDtype.INT64) return int64Value(raw as bigint);
  return raw;
}

/**
 * The offline store's rows in the window: one row per stored record of each view, its values as serving would serve
 * them (`serveValue`: a stored null is the feature's fallback where it has one), keyed `view:feature`.
 */
async function offlineStoreRows(connection: DuckDBConnection, source: OfflineStoreSource): Promise<RowStream> {
  const fromMs = timeMs(source.from);
  const toMs = timeMs(source.to);
  const [version, date] = OFFLINE_PARTITION_COLUMNS.map((c) => quoteIdentifier(c.name));
  const dates = datesInWindow(fromMs, toMs);
  async function* chunks(): AsyncIterable<readonly BaselineRow[]> {
    for (const { view, features } of offlineRefs(source)) {
      const sql = [
        `SELECT ${features.map((f) => quoteIdentifier(f.name)).join(', ')}`,
        `FROM ${localFeatureRelation(source.offlineRoot, view)}`,
        `WHERE ${version} = ${view.version} AND ${date} BETWEEN ${quoteLiteral(dates[0])} AND ${quoteLiteral(dates[dates.length - 1])}`,
        `  AND epoch_ms("event_time") BETWEEN ${fromMs} AND ${toMs}`,
      ].join('\n');
      for await (const rows of streamRows(connection, sql)) {
        yield rows.map((row) => {
          const values: Record<string, unknown> = {};
          for (const f of features) values[`${view.name}${FEATURE_REF_SEPARATOR}${f.name}`] = serveValue(view, f, offlineValue(f.dtype, row[f.name])).value;
          return { features: values, outputs: {} };
        });
      }
    }
  }
  return { chunks: chunks(), skipped: {}, ignoredColumns: {} };
}

/** Lines profiled per chunk when reading prediction logs. */
const LOG_CHUNK_ROWS = 2048;

/** The log files of one model in a window, oldest partition first. */
function predictionLogFiles(root: string, model: string, fromMs: number, toMs: number): string[] {
  const files: string[] = [];
  for (const date of datesInWindow(fromMs, toMs)) {
    const day = join(root, predictionLogDayPrefix(model, date));
    if (!existsSync(day)) continue;
    for (const entry of (readdirSync(day, { recursive: true }) as string[]).sort()) {
      if (/\.jsonl(\.gz)?$/.test(entry)) files.push(join(day, entry));
    }
  }
  return files;
}

/**
 * Prediction-log lines of one model in the window, line by line, read as drift detection reads them
 * (`parsePredictionLogLine`): features as logged, outputs of the model's own answers (a fallback answer's outputs are
 * the configured fallback, not the model's, so only its features count). A line that cannot be used is counted by
 * reason and skipped: one bad line never fails the baseline.
 */
function predictionLogRows(source: PredictionLogSource, model: string): RowStream {
  const fromMs = timeMs(source.from);
  const toMs = timeMs(source.to);
  const skipped: Record<string, number> = {};
  const skip = (reason: string) => {
    skipped[reason] = (skipped[reason] ?? 0) + 1;
  };
  async function* chunks(): AsyncIterable<readonly BaselineRow[]> {
    let chunk: BaselineRow[] = [];
    for (const file of predictionLogFiles(source.root, model, fromMs, toMs)) {
      const input = createReadStream(file);
      const lines = createInterface({ input: file.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
      try {
        for await (const line of lines) {
          if (line.trim().length === 0) continue;
          const parsed = parsePredictionLogLine(line);
          if (!parsed.ok) {
            skip(parsed.reason);
            continue;
          }
          for (const prediction of parsed.rows) {
            if (prediction.model !== model) skip('other-model');
            else if (prediction.ts < fromMs || prediction.ts > toMs) skip('outside-window');
            else chunk.push({ features: prediction.features, outputs: prediction.fallback ? {} : prediction.outputs });
          }
          if (chunk.length >= LOG_CHUNK_ROWS) {
            yield chunk;
            chunk = [];
          }
        }
      } catch {
        // A corrupt or truncated object ends its file, counted, never the baseline (the lines read before it count).
        skip('unreadable-file');
      } finally {
        input.destroy();
      }
    }
    if (chunk.length > 0) yield chunk;
  }
  return { chunks: chunks(), skipped, ignoredColumns: {} };
}

/** The accumulator of the model's quality on a labelled training set, if it has a label. */
function qualityOf(source: TrainingSetSource): QualityAccumulator | undefined {
  if (source.label === undefined || source.problem === undefined) return undefined;
  return new QualityAccumulator({
    problem: source.problem,
    ...(source.problem === 'classification' ? { threshold: source.threshold ?? 0.5, positiveLabel: source.positiveLabel } : {}),
  });
}

/** Adds a row's (score, label) pair to the quality, or counts why it cannot (a missing label, a non-numeric score). */
function addQuality(quality: QualityAccumulator, row: BaselineRow, skipped: Record<string, number>): void {
  const score = row.score as number;
  const label = row.label as LabelValue;
  const reason = row.label === null || row.label === undefined ? 'unlabelled' : quality.problemOf(score, label) !== undefined ? 'unusable-quality-pair' : undefined;
  if (reason === undefined) quality.add(score, label);
  else skipped[reason] = (skipped[reason] ?? 0) + 1;
}

/**
 * Builds the baseline of a model version: validates the request (every problem at once, naming the field and the
 * fix), reads the source streaming (DuckDB chunks for files and the offline store, line by line for prediction
 * logs) into a `ProfileBuilder`, and with a labelled training set, the model's quality on it (`quality`).
 */
export async function buildBaseline(request: BaselineRequest): Promise<BaselineBuild> {
  validateBaselineRequest(request);
  const { source } = request;
  return withDuckDb(async (connection) => {
    const stream = source.kind === 'training-set' ? await trainingSetRows(connection, source)
      : source.kind === 'offline-store' ? await offlineStoreRows(connection, source)
        : predictionLogRows(source, request.model);
    const builder = new ProfileBuilder(request.profile);
    const quality = source.kind === 'training-set' ? qualityOf(source) : undefined;
    let rows = 0;
    for await (const chunk of stream.chunks) {
      for (const row of chunk) {
        builder.addRow(row.features, row.outputs);
        if (quality) addQuality(quality, row, stream.skipped);
      }
      rows += chunk.length;
    }
    const profile = builder.build({
      model: request.model, modelVersion: request.modelVersion, source: describeSource(source), ...(quality ? { quality: quality.summary() } : {}),
    });
    return { profile, rows, skipped: stream.skipped, ignoredColumns: stream.ignoredColumns };
  });
}

/** A one-line description of the source, recorded in the profile. */
function describeSource(source: BaselineSource): string {
  if (source.kind === 'training-set') return `training-set ${source.path}`;
  const window = `${new Date(timeMs(source.from)).toISOString()}..${new Date(timeMs(source.to)).toISOString()}`;
  if (source.kind === 'offline-store') return `offline-store ${source.views.map((v) => `${v.name}@v${v.version}`).join(',')} ${window}`;
  return `prediction-logs ${window}`;
}
