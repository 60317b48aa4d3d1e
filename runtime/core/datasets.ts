/**
 * The platform's monitoring datasets in S3, as one layout both halves read: prediction logs (written by Kinesis Data
 * Firehose from the gateway's stream, or by the inference server's S3 sink), ground-truth labels (written by the label
 * ingestion) and baselines (written by the baseline builder). Drift checks, label joins, "train on what was served"
 * and the Glue tables all read these same paths. Pure TypeScript: no AWS SDK, no CDK.
 *
 * Layout under a dataset bucket (Hive-style partitions: Athena, Glue partition projection and DuckDB read them as is):
 * ```
 * prediction-logs/model=<model>/dt=<yyyy-mm-dd>/hour=<hh>/<object>.jsonl[.gz]   PredictionLogRecord lines
 * labels/model=<model>/dt=<yyyy-mm-dd>/<object>.jsonl                            LabelRecord lines
 * baselines/model=<model>/version=<modelVersion>/baseline.json                   a baseline profile
 * ```
 * `dt` and `hour` are the prediction's `ts` (UTC) for prediction logs. Labels are partitioned by their arrival, the
 * `receivedAt` (UTC) the label ingestion stamps, so a label delivered long after its `labelTime` (a weekly backfill)
 * still lands in a partition the next label join reads; labels written before `receivedAt` existed sit under their
 * `labelTime`'s date, and readers take their `labelTime` as their arrival.
 */

/** Top-level prefix of the prediction-log dataset. */
export const PREDICTION_LOGS_PREFIX = 'prediction-logs/';
/** Top-level prefix of the label dataset. */
export const LABELS_PREFIX = 'labels/';
/** Top-level prefix of baselines. */
export const BASELINES_PREFIX = 'baselines/';

/** Partition columns of the prediction-log dataset, in key order (all strings). */
export const PREDICTION_LOG_PARTITIONS = ['model', 'dt', 'hour'] as const;
/** Partition columns of the label dataset, in key order (all strings). */
export const LABEL_PARTITIONS = ['model', 'dt'] as const;

/** The `dt` partition value (UTC date, `yyyy-mm-dd`) of an instant in epoch milliseconds. */
export function partitionDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The `hour` partition value (UTC, `00`–`23`) of an instant in epoch milliseconds. */
export function partitionHour(ms: number): string {
  return new Date(ms).toISOString().slice(11, 13);
}

/**
 * Whether `value` may be a `model=` or `version=` partition value: 1–128 letters, digits, '.', '_' or '-', and not
 * `.` or `..`, so a key can never escape its partition. Model names are validated with it where they are declared.
 */
export function isPartitionValue(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(value) && value !== '.' && value !== '..';
}

/** A model name as a partition value; anything else is refused (`isPartitionValue`). */
function modelPartition(model: string): string {
  if (!isPartitionValue(model)) {
    throw new Error(`model '${model}': a dataset partition takes 1–128 letters, digits, '.', '_' or '-'`);
  }
  return model;
}

/** `prediction-logs/model=<model>/` — every prediction log of one model. */
export function predictionLogModelPrefix(model: string): string {
  return `${PREDICTION_LOGS_PREFIX}model=${modelPartition(model)}/`;
}

/** `prediction-logs/model=<model>/dt=<date>/` — one model's prediction logs of one UTC day. */
export function predictionLogDayPrefix(model: string, date: string): string {
  return `${predictionLogModelPrefix(model)}dt=${date}/`;
}

/** `labels/model=<model>/` — every label of one model. */
export function labelModelPrefix(model: string): string {
  return `${LABELS_PREFIX}model=${modelPartition(model)}/`;
}

/** `labels/model=<model>/dt=<date>/` — one model's labels that arrived (`receivedAt`; older ones: `labelTime`) on one UTC day. */
export function labelDayPrefix(model: string, date: string): string {
  return `${labelModelPrefix(model)}dt=${date}/`;
}

/** `baselines/model=<model>/` — every baseline of one model. */
export function baselineModelPrefix(model: string): string {
  return `${BASELINES_PREFIX}model=${modelPartition(model)}/`;
}

/** `baselines/model=<model>/version=<modelVersion>/baseline.json` — the baseline of one model version. */
export function baselineKey(model: string, modelVersion: string): string {
  if (!isPartitionValue(modelVersion)) {
    throw new Error(`modelVersion '${modelVersion}': a baseline key takes 1–128 letters, digits, '.', '_' or '-'`);
  }
  return `${baselineModelPrefix(model)}version=${modelVersion}/baseline.json`;
}

/** The UTC dates (`yyyy-mm-dd`) a window `[fromMs, toMs]` touches, oldest first: the `dt` partitions to read. */
export function datesInWindow(fromMs: number, toMs: number): string[] {
  const dates: string[] = [];
  const day = 86_400_000;
  for (let t = Math.floor(fromMs / day) * day; t <= toMs; t += day) dates.push(partitionDate(t));
  return dates;
}

/** Version of the label record format (the `schema` field). */
export const LABEL_SCHEMA = 1;

/**
 * One ground-truth label, as the label ingestion stores it (one JSON line each). Labels come late and from another
 * system; they name the prediction they belong to either by `requestId` (the gateway's / server's request id) or by
 * `entity` + `eventTime` (the latest prediction for that entity at or before `eventTime`).
 */
export interface LabelRecord {
  /** Format version: `LABEL_SCHEMA`. */
  readonly schema: number;
  /** Model the label is for. */
  readonly model: string;
  /** Request id of the prediction labelled. One of `requestId` or `entity` + `eventTime` is present. */
  readonly requestId?: string;
  /** Entity join keys of the prediction labelled (as in the prediction log's `entity`). */
  readonly entity?: Readonly<Record<string, string | number>>;
  /** With `entity`: the time the labelled outcome refers to, ISO-8601 UTC. */
  readonly eventTime?: string;
  /** The outcome: a number (regression, or a 0/1 class), a boolean (binary class) or a string (class name). */
  readonly label: number | boolean | string;
  /** When the outcome became known, ISO-8601 UTC (the label delay is `labelTime − prediction ts`). */
  readonly labelTime: string;
  /**
   * When the label reached the platform, ISO-8601 UTC, stamped by the label ingestion (the Kinesis record's arrival, or
   * the dropped file's creation): the partition (`dt`) and the label join's window go by it, so a late delivery is
   * still read. Producers do not send it.
   * @default - absent in labels stored before it was stamped: their `labelTime` stands for it
   */
  readonly receivedAt?: string;
}
