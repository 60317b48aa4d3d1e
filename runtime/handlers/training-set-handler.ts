/**
 * Lambda step 1 of the TrainingPipeline: builds the point-in-time-correct training set with the feature store's
 * historical retrieval (runtime/aws/athena-historical.ts: the spine table's entity rows and labels, plus what serving
 * would have served at each row's `event_timestamp`), and writes it under `training-sets/<execution>/`
 * (TrainingLayout): `data.jsonl` (one row a line), then `manifest.json` (URI, row count, SHA-256 of the data file, time
 * range: the data snapshot lineage records). The manifest is written last, so its presence means a complete set.
 *
 * Checked first, before anything is built: the execution input's lineage facts (codeVersion, imageDigest:
 * `executionInputProblems`, the formats the model gate's lineage needs), so a run with `v1.4.2` fails at once instead
 * of after hours of training. Each row's `event_timestamp` is checked as the feature store checks event times
 * (ISO-8601 with a zone or epoch milliseconds, 1971 to now + 5 minutes; epoch seconds refused with the hint): a row
 * outside is left out of the set and counted in the manifest (`rejectedRows`, the first reasons), never failing the
 * step; a set left with no rows fails at once, naming why (it has no time range to record).
 *
 * Idempotent: keyed by the execution name. A retried step (a Lambda timeout after the write, a throttled invoke) finds
 * its execution's manifest and returns it unchanged, without querying again: the set the rest of the run uses is the
 * one first built, whatever arrived in the offline store since. The result adds the manifest's own SHA-256 (lineage).
 * Transient S3/Athena failures are thrown as TrainingStepTransientError (the state machine retries them).
 *
 * The set is held in memory while written (Lambda memory bounds its size); sets beyond that are an Athena UNLOAD's job.
 * Environment: runtime/contracts/training-pipeline.ts.
 */
import { createHash } from 'crypto';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_MAX_FUTURE_SKEW_MS, eventTimeProblem, type FeatureViewSpec, MIN_EARLIEST_EVENT_DATE, parseEventTime } from '../../lib/features/spec';
import { AthenaHistoricalRetrieval } from '../aws/athena-historical';
import { getObjectBytes, listObjectKeys, s3ObjectWriter } from '../aws/offline-store';
import {
  awsCall, executionInputProblems, MAX_REJECTED_REASONS, parseTrainingStepEnvironment, TrainingHandlers, TrainingLayout, TrainingSetEvent,
  TrainingSetResult, TrainingSetStepResult,
} from '../contracts/training-pipeline';
import { LineagePatterns } from '../core/training/lineage';
import { SPINE_TIMESTAMP_COLUMN } from '../core/point-in-time';

/** Deadline of one S3 call of this step, milliseconds. */
const S3_TIMEOUT_MS = 30_000;

/** What `buildTrainingSet` needs. */
export interface TrainingSetPorts {
  readonly s3: S3Client;
  /** The pipeline's bucket. */
  readonly bucket: string;
  /** The point-in-time retrieval: rows with `event_timestamp` (Athena in the Lambda, DuckDB locally). */
  readonly retrieve: () => Promise<ReadonlyArray<Record<string, unknown>>>;
  /** The clock, for the manifest's `createdAt`. @default Date.now */
  readonly now?: () => number;
}

/** Execution names Step Functions accepts (and the key segment they become): 1-80 of these characters. */
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** One row as a JSON line: int64 values beyond 2^53 (bigint) as decimal strings, never rounded. */
function jsonLine(row: Readonly<Record<string, unknown>>): string {
  return `${JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))}\n`;
}

/** The rows as JSON lines, those without a usable event time left out and counted; never throws on a row. */
function encodeRows(rows: ReadonlyArray<Record<string, unknown>>, nowMs: number) {
  const lines: string[] = [];
  const reasons: string[] = [];
  let rejected = 0;
  let fromMs = Infinity;
  let toMs = -Infinity;
  rows.forEach((row, i) => {
    const raw = row?.[SPINE_TIMESTAMP_COLUMN];
    const ms = raw instanceof Date ? raw.getTime() : parseEventTime(raw);
    let problem = eventTimeProblem(SPINE_TIMESTAMP_COLUMN, raw, ms, nowMs, DEFAULT_MAX_FUTURE_SKEW_MS, MIN_EARLIEST_EVENT_DATE);
    if (problem === undefined) {
      try {
        lines.push(jsonLine(row));
        fromMs = Math.min(fromMs, ms);
        toMs = Math.max(toMs, ms);
      } catch (error) {
        problem = `not serializable as JSON (${(error as Error).name})`;
      }
    }
    if (problem !== undefined) {
      rejected++;
      if (reasons.length < MAX_REJECTED_REASONS) reasons.push(`row ${i + 1}: ${problem}`);
    }
  });
  return { data: Buffer.from(lines.join('')), rowCount: lines.length, rejected, reasons, fromMs, toMs };
}

/** The training set of `event.execution`: the stored manifest when the set exists, else builds and stores it. */
export async function buildTrainingSet(ports: TrainingSetPorts, event: TrainingSetEvent): Promise<TrainingSetStepResult> {
  if (typeof event?.execution !== 'string' || !EXECUTION_NAME.test(event.execution)) {
    throw new Error(`execution: expected the execution name (1-80 letters, digits, '-' or '_'), got ${JSON.stringify(event?.execution)?.slice(0, 100)}`);
  }
  const inputProblems = executionInputProblems(event.input);
  if (inputProblems.length > 0) {
    throw new Error(`The execution input cannot be recorded as the model's lineage: ${inputProblems.join('; ')}. Start the execution with { "codeVersion": "<git sha>", "imageDigest": "sha256:<64 hex>" }`);
  }
  const prefix = TrainingLayout.trainingSetPrefix(event.execution);
  const manifestKey = `${prefix}${TrainingLayout.MANIFEST_FILE}`;
  const options = { timeoutMs: S3_TIMEOUT_MS };
  const existing = await awsCall('listing the training set', () => listObjectKeys(ports.s3, ports.bucket, manifestKey, options));
  if (existing.includes(manifestKey)) {
    const stored = await awsCall('reading the training set manifest', () => getObjectBytes(ports.s3, ports.bucket, manifestKey, options));
    return withManifestHash(storedManifest(stored, `s3://${ports.bucket}/${manifestKey}`), stored);
  }
  const rows = await awsCall('the point-in-time retrieval', ports.retrieve);
  const nowMs = (ports.now ?? Date.now)();
  const set = encodeRows(rows, nowMs);
  if (set.rowCount === 0) {
    const why = set.rejected > 0 ? `all ${set.rejected} rows were left out (${set.reasons.join('; ')})` : 'the spine table has no rows';
    throw new Error(`The training set is empty: ${why}. Fix the spine table's ${SPINE_TIMESTAMP_COLUMN} values (ISO-8601 with a zone or epoch milliseconds) and start a new execution`);
  }
  if (set.rejected > 0) console.warn(JSON.stringify({ message: 'training set rows left out', rejectedRows: set.rejected, reasons: set.reasons }));
  const dataKey = `${prefix}${TrainingLayout.DATA_FILE}`;
  const manifest: TrainingSetResult = {
    uri: `s3://${ports.bucket}/${dataKey}`,
    rowCount: set.rowCount,
    sha256: sha256Hex(set.data),
    fromTime: new Date(set.fromMs).toISOString(),
    toTime: new Date(set.toMs).toISOString(),
    rejectedRows: set.rejected,
    ...(set.rejected > 0 ? { rejectedReasons: set.reasons } : {}),
    createdAt: new Date(nowMs).toISOString(),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const put = s3ObjectWriter(ports.s3, ports.bucket, options);
  await awsCall('writing the training set', () => put(dataKey, set.data, 'application/x-ndjson'));
  await awsCall('writing the training set manifest', () => put(manifestKey, manifestBytes, 'application/json'));
  return withManifestHash(manifest, manifestBytes);
}

const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const withManifestHash = (manifest: TrainingSetResult, bytes: Buffer): TrainingSetStepResult => ({ ...manifest, manifestSha256: sha256Hex(bytes) });

/** A stored manifest, checked: one that is not this step's (hand-edited, truncated) fails naming the fix. */
function storedManifest(bytes: Buffer, uri: string): TrainingSetResult {
  let manifest: Partial<TrainingSetResult> | undefined;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Partial<TrainingSetResult>;
  } catch {
    manifest = undefined;
  }
  if (manifest === null || typeof manifest !== 'object' || typeof manifest.uri !== 'string' || !Number.isSafeInteger(manifest.rowCount)
    || !LineagePatterns.SHA256_HEX.test(String(manifest.sha256)) || typeof manifest.createdAt !== 'string'
    || (manifest.rowCount! > 0 && !(isIsoTime(manifest.fromTime) && isIsoTime(manifest.toTime) && manifest.fromTime! <= manifest.toTime!))) {
    throw new Error(`${uri} is not a training set manifest (uri, rowCount, sha256, fromTime ≤ toTime, createdAt): it was not written by this step; start a new execution`);
  }
  return manifest as TrainingSetResult;
}

const isIsoTime = (value: unknown): boolean => typeof value === 'string' && !Number.isNaN(parseEventTime(value));

let cached: { ports: TrainingSetPorts } | undefined;

function portsFromEnvironment(): TrainingSetPorts {
  const settings = parseTrainingStepEnvironment(process.env, TrainingHandlers.TRAINING_SET);
  const athena = new AthenaClient({});
  const retrieval = new AthenaHistoricalRetrieval({
    client: athena, workGroup: settings.athenaWorkGroup!, database: settings.athenaDatabase!, timeoutMs: settings.callTimeoutMs,
  });
  return {
    s3: new S3Client({ forcePathStyle: settings.s3ForcePathStyle }),
    bucket: settings.bucket,
    retrieve: () => retrieval.getHistoricalFeatures({
      views: settings.views as FeatureViewSpec[], featureRefs: settings.featureRefs!, spineTable: settings.spineTable!,
    }),
  };
}

/** Lambda entry point: `{ execution, input }` → the training set's manifest. */
export async function handler(event: TrainingSetEvent): Promise<TrainingSetStepResult> {
  cached ??= { ports: portsFromEnvironment() };
  return buildTrainingSet(cached.ports, event);
}
