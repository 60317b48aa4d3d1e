/**
 * Lambda step 2 of the TrainingPipeline: the data gate. Streams the training set the previous step wrote line by line
 * (memory is one line and the profile, not the set; a line that is not a JSON object, or over MAX_LINE_BYTES, is a
 * counted problem: check `line-format`), hashing it on the way (its SHA-256 must be the manifest's: the data judged is
 * the data snapshot recorded), and runs runtime/core/training
 * `checkTrainingData`: schema, null rates, row count and label always; drift against the model's baseline
 * (runtime/aws/baseline-store.ts) when the pipeline names one. A failed gate is a result, not an error: the state
 * machine ends the execution in its `DataGateFailed` state with `cause`. A data file whose SHA-256 is not the
 * manifest's is such a failure too (check `data-integrity`): it changed after it was built, and is never judged.
 * Transient S3 failures are thrown as TrainingStepTransientError (retried); a bad event or spec is thrown, naming it.
 *
 * Environment: runtime/contracts/training-pipeline.ts.
 */
import { createHash } from 'crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readBaseline } from '../aws/baseline-store';
import {
  awsCall, DataGateEvent, DataGateSettings, failureCause, GateCheckResult, GateStepResult, parseS3Uri, parseTrainingStepEnvironment, TrainingHandlers,
} from '../contracts/training-pipeline';
import type { DatasetProfile } from '../core/drift/profile';
import { formatShare } from '../core/training/checks';
import { DataGateDefaults, TrainingDataCheck } from '../core/training/data-gate';
import { LineagePatterns } from '../core/training/lineage';

/** What the data gate step needs. */
export interface DataGatePorts {
  /** The bytes of the object at an s3:// URI, as they arrive (an S3 GetObject body). */
  readonly open: (uri: string) => Promise<AsyncIterable<Uint8Array>>;
  /** The baseline profile; undefined when the pipeline names none, or none was written. */
  readonly baseline: () => Promise<DatasetProfile | undefined>;
  readonly settings: DataGateSettings;
}

/** Longest line of a training set, bytes: a row of features; a longer line is a counted problem, never buffered. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Name of the check that the data file is the one the manifest recorded. */
export const DATA_INTEGRITY_CHECK = 'data-integrity';
/** Name of the check that every line of the data file is a JSON object within MAX_LINE_BYTES. */
export const LINE_FORMAT_CHECK = 'line-format';
/** Name of the check on the rows the training set step left out for their `event_timestamp` (manifest `rejectedRows`). */
export const REJECTED_ROWS_CHECK = 'rejected-rows';

/** Lines of a JSON-lines file, what was wrong with the bad ones, and the file's SHA-256. */
interface LineStats {
  readonly sha256: string;
  readonly badLines: number;
  readonly firstBad?: string;
}

/**
 * Reads a JSON-lines stream line by line (blank lines skipped), handing each JSON object to `onRow` and hashing the
 * bytes as they pass: memory is one line (at most MAX_LINE_BYTES; a longer one is skipped up to its end). A line that
 * is not a JSON object, or too long, is counted, never thrown.
 */
export async function readJsonLines(chunks: AsyncIterable<Uint8Array>, onRow: (row: object) => void, maxLineBytes = MAX_LINE_BYTES): Promise<LineStats> {
  const hash = createHash('sha256');
  let parts: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  let lineNo = 0;
  let badLines = 0;
  let firstBad: string | undefined;
  const bad = (why: string) => { badLines++; firstBad ??= `line ${lineNo}: ${why}`; };
  const endLine = () => {
    lineNo++;
    if (tooLong) bad(`longer than ${maxLineBytes} bytes`);
    else if (length > 0) {
      const text = Buffer.concat(parts, length).toString('utf8');
      if (text.trim() !== '') {
        let row: unknown;
        try { row = JSON.parse(text); } catch { row = undefined; }
        if (row !== null && typeof row === 'object' && !Array.isArray(row)) onRow(row);
        else bad(row === undefined ? 'not JSON' : 'not a JSON object');
      }
    }
    parts = []; length = 0; tooLong = false;
  };
  for await (const chunk of chunks) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    hash.update(bytes);
    let from = 0;
    for (let nl = bytes.indexOf(10, from); from < bytes.length; nl = bytes.indexOf(10, from)) {
      const to = nl < 0 ? bytes.length : nl;
      if (!tooLong) {
        if (length + to - from > maxLineBytes) { tooLong = true; parts = []; length = 0; }
        else if (to > from) { parts.push(bytes.subarray(from, to)); length += to - from; }
      }
      if (nl < 0) break;
      endLine();
      from = nl + 1;
    }
  }
  if (length > 0 || tooLong) endLine();
  return { sha256: hash.digest('hex'), badLines, ...(firstBad !== undefined ? { firstBad } : {}) };
}

/** Judges the training set of `event`, reading it as a stream. */
export async function runDataGate(ports: DataGatePorts, event: DataGateEvent): Promise<GateStepResult> {
  const set = event?.trainingSet;
  if (set === null || typeof set !== 'object' || typeof set.uri !== 'string' || !LineagePatterns.SHA256_HEX.test(String(set.sha256))) {
    throw new Error('trainingSet: expected the training set step\'s result ({ uri, sha256, rowCount, … }) at $.trainingSet of the execution state');
  }
  parseS3Uri(set.uri);
  const baseline = await awsCall('reading the baseline', ports.baseline);
  const { driftOptions, ...spec } = ports.settings;
  const check = new TrainingDataCheck({ ...spec, ...(baseline ? { drift: { baseline, options: driftOptions } } : {}) });
  const lines = await awsCall('reading the training set', async () => readJsonLines(await ports.open(set.uri), (row) => check.addRow(row)));
  if (lines.sha256 !== set.sha256) {
    const reason = `training set ${set.uri} has SHA-256 ${lines.sha256}, not the manifest's ${set.sha256}: it changed after it was built; start a new execution`;
    return { passed: false, checks: [{ name: DATA_INTEGRITY_CHECK, passed: false, observed: lines.sha256, threshold: set.sha256, reason }], cause: reason };
  }
  const result = check.result();
  const checks: GateCheckResult[] = [...result.checks, lineFormatCheck(lines), rejectedRowsCheck(set.rowCount, set.rejectedRows ?? 0, set.rejectedReasons, spec.maxTypeErrorRate)];
  const gate = { passed: checks.every((c) => c.passed), checks };
  return { ...gate, cause: failureCause(gate) };
}

function lineFormatCheck(lines: LineStats): GateCheckResult {
  const passed = lines.badLines === 0;
  return {
    name: LINE_FORMAT_CHECK, passed, observed: lines.badLines, threshold: 0,
    reason: passed ? 'every line is a JSON object' : `${lines.badLines} lines of the training set are not rows (${lines.firstBad}); the set was not written by the training set step: start a new execution`,
  };
}

function rejectedRowsCheck(rows: number, rejected: number, reasons: readonly string[] | undefined, maxRate: number = DataGateDefaults.MAX_TYPE_ERROR_RATE): GateCheckResult {
  const rate = rejected === 0 ? 0 : rejected / (rows + rejected);
  const passed = rate <= maxRate;
  return {
    name: REJECTED_ROWS_CHECK, passed, observed: rate, threshold: maxRate,
    reason: passed ? `${rejected} rows left out for their event_timestamp (${formatShare(rate)}), within ${formatShare(maxRate)}`
      : `${rejected} of ${rows + rejected} rows were left out for their event_timestamp (${formatShare(rate)}), above maxTypeErrorRate ${formatShare(maxRate)} (${(reasons ?? []).join('; ')}); fix the spine table's event_timestamp values`,
  };
}

let cached: DataGatePorts | undefined;

function portsFromEnvironment(): DataGatePorts {
  const settings = parseTrainingStepEnvironment(process.env, TrainingHandlers.DATA_GATE);
  const s3 = new S3Client({ forcePathStyle: settings.s3ForcePathStyle });
  const timeoutMs = Math.min(settings.callTimeoutMs, 60_000);
  return {
    open: (uri) => openObject(s3, uri, settings.callTimeoutMs),
    baseline: async () => (settings.baselineBucket ? readBaseline(s3, settings.baselineBucket, settings.modelName, settings.baselineVersion!, { timeoutMs }) : undefined),
    settings: settings.dataGate as DataGateSettings,
  };
}

/** The body of the object at `uri` as a stream; the deadline covers the whole read (the step's own timeout bounds it too). */
export async function openObject(s3: S3Client, uri: string, timeoutMs: number): Promise<AsyncIterable<Uint8Array>> {
  const { bucket, key } = parseS3Uri(uri);
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(timeoutMs) });
  return object.Body as AsyncIterable<Uint8Array>;
}

/** Lambda entry point: the data gate's verdict. */
export async function handler(event: DataGateEvent): Promise<GateStepResult> {
  cached ??= portsFromEnvironment();
  return runDataGate(cached, event);
}
