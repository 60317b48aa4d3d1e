/**
 * Lambda entry point of the drift detector, invoked on a schedule (EventBridge): per configured model, reads the
 * window that ends now (`DriftVariables.WINDOW_MS` long) of its prediction logs in the dataset bucket and/or its
 * endpoint's SageMaker data capture, streaming (runtime/aws/s3-window.ts), and compares each model version's rows with
 * that version's baseline (`baselines/model=<m>/version=<v>/baseline.json`, runtime/aws/baseline-store.ts).
 *
 * - Memory is bounded by the sketches: rows go one by one into a `ProfileBuilder` per model version (the baseline's
 *   columns; at most `MAX_VERSIONS_PER_WINDOW` versions, after at most `MAX_BASELINE_LOOKUPS_PER_WINDOW` baseline
 *   reads), never into an array.
 * - Rows of a version without a baseline are counted and skipped (a WARN line names the version and the fix); so are
 *   fallback answers (not the model's), rows of another model and rows outside the window.
 * - A line that is not a prediction (not JSON, hostile, over 1 MiB) is counted by reason, never fatal:
 *   `DriftMetrics.UNREADABLE_RECORDS`. Each line is parsed and profiled inside a guard: whatever throws there is
 *   counted (`parser-error`) and the run goes on with the next line — one line never fails the run.
 * - Output: the EMF lines of each version's report (runtime/core/drift/detect.ts `driftEmfLines`, namespace
 *   METRICS_NAMESPACE) and one JSON summary line per model. A window with no rows checked still emits
 *   `DriftMetrics.WINDOW_ROWS` 0, so an alarm tells "no traffic" from "no drift".
 * - Every S3 call has a deadline (`DriftVariables.CALL_TIMEOUT_MS`), and the whole read stops before the function's
 *   timeout; a failed read or an unreadable baseline store throws, failing the invocation (the construct alarms on it).
 *   An object that does not decompress (corrupt or truncated gzip) is not a failed read: retries cannot fix it, so it
 *   is logged (ERROR, `unreadable-object`, its key), counted in the summary (`read.unreadableObjects`) and the run
 *   goes on with the other objects.
 *
 * Environment: the contract in runtime/contracts/drift.ts. Region, credentials and endpoints come from the AWS SDK's
 * environment (`AWS_REGION`, `AWS_ENDPOINT_URL_S3`, ...).
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { DEFAULT_DRIFT_CALL_TIMEOUT_MS, DriftModelSettings, DriftSettings, parseDriftEnvironment } from '../contracts/drift';
import { baselineKey } from '../core/datasets';
import { detectDrift, DriftReport, driftEmfLines } from '../core/drift/detect';
import { DatasetProfile, ProfileBuilder } from '../core/drift/profile';
import { LoggedPrediction, parseDataCaptureKey, parseDataCaptureLine, parsePredictionLogLine, ParsedLine, UnreadableReason } from '../core/logged-predictions';
import { DriftMetrics, MetricDimensions, toEmf } from '../core/metrics';
import { readBaseline } from '../aws/baseline-store';
import { dataCaptureWindow, predictionLogWindow, readWindowLines, TimeWindow, WindowReadStats, WindowSource } from '../aws/s3-window';

/**
 * Most model versions profiled in one window (each holds a profile builder); rows of further versions are skipped
 * (`too-many-versions`). Versions skipped for another reason (no baseline, an invalid name) do not use these slots.
 */
export const MAX_VERSIONS_PER_WINDOW = 16;
/**
 * Most baseline lookups in one window (one S3 read each, for a version's first row): rows of versions first seen
 * after these are skipped unread (`too-many-versions`).
 */
export const MAX_BASELINE_LOOKUPS_PER_WINDOW = 64;
/** Most versions whose state is remembered; the state of a further one is decided again on each of its rows, never stored. */
const MAX_VERSIONS_REMEMBERED = 256;
/** Time kept free before the function's timeout to report, milliseconds. */
const TIMEOUT_MARGIN_MS = 10_000;

/** Why a readable row was not profiled (keys of the summary's `skipped`). */
export type SkipReason = 'fallback' | 'outside-window' | 'other-model' | 'no-baseline' | 'unreadable-baseline' | 'invalid-version' | 'too-many-versions';

/** What one model's check found: the summary log line's fields. */
export interface DriftRunSummary {
  readonly model: string;
  readonly window: { readonly from: string; readonly to: string };
  /** Rows profiled and compared, all versions. */
  readonly rowsChecked: number;
  /**
   * Lines that were not predictions, by reason: the parser's, `line-too-long` for lines over the cap, `parser-error`
   * for a line whose parsing or profiling threw (a bug, logged once per run with its object key; the run goes on).
   */
  readonly unreadable: Partial<Record<UnreadableReason | 'line-too-long' | 'parser-error', number>>;
  /** Rows read but not profiled, by reason. */
  readonly skipped: Partial<Record<SkipReason, number>>;
  /** Versions without a baseline (their rows are in `skipped['no-baseline']`). */
  readonly versionsWithoutBaseline: string[];
  /** One entry per version compared. */
  readonly versions: {
    readonly modelVersion: string;
    readonly rows: number;
    readonly datasetDrift: boolean;
    readonly driftedFeatureShare: number;
    readonly predictionDrifted: boolean;
    readonly driftedColumns: string[];
    readonly columnsWithQualityIssues: string[];
  }[];
  /** Objects and bytes read, and objects that did not decompress (`unreadableObjects`, each logged with its key). */
  readonly read: WindowReadStats;
}

/** Properties of `createDriftHandler`. */
export interface DriftHandlerProps {
  readonly settings: DriftSettings;
  readonly s3: S3Client;
  /**
   * The clock (the window ends at its time).
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Where log lines (EMF, summary, warnings) go.
   * @default - stdout, one line each
   */
  readonly log?: (line: string) => void;
}

/** A scheduled-event handler; resolves with each model's summary. */
export type DriftHandler = (event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<DriftRunSummary[]>;

/** One version's state in a window: profiling against its baseline, or skipped for a reason. */
type VersionState = { readonly baseline: DatasetProfile; readonly builder: ProfileBuilder } | { readonly skip: SkipReason };

/** Lines of one source, each parsed into rows. */
interface ParsedSource {
  readonly source: WindowSource;
  readonly parse: (line: string, key: string) => ParsedLine;
}

/** Whether an error is the store's infrastructure failing (to rethrow) rather than a baseline's contents. */
function isCallFailure(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: unknown };
  return e?.$metadata !== undefined || e?.name === 'TimeoutError' || e?.name === 'AbortError';
}

/** A short description of something thrown (never throws itself, whatever was thrown). */
function describeError(error: unknown): string {
  try {
    // Duck-typed, not `instanceof Error`: errors of Node's own modules may come from another realm.
    const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
    return typeof message === 'string' ? `${typeof name === 'string' ? name : 'Error'}: ${message}`.slice(0, 500) : typeof error;
  } catch {
    return 'unprintable error';
  }
}

const increment = <K extends string>(counts: Partial<Record<K, number>>, key: K) => { counts[key] = (counts[key] ?? 0) + 1; };

/** Builds the handler over its settings and S3 client. */
export function createDriftHandler(props: DriftHandlerProps): DriftHandler {
  const { settings, s3 } = props;
  const now = props.now ?? Date.now;
  const write = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const callTimeoutMs = settings.callTimeoutMs ?? DEFAULT_DRIFT_CALL_TIMEOUT_MS;

  /** The sources of a model in the window, each with its line parser. */
  function sourcesOf(model: DriftModelSettings, window: TimeWindow): ParsedSource[] {
    const sources: ParsedSource[] = [];
    const columns = { inputColumns: model.inputColumns };
    if (model.predictionLogs !== false) {
      sources.push({ source: predictionLogWindow(settings.datasetBucketName, model.model, window), parse: (line) => parsePredictionLogLine(line, columns) });
    }
    const capture = model.dataCapture;
    if (capture) {
      sources.push({
        source: dataCaptureWindow(capture.bucket, capture.prefix, capture.endpointName, Object.keys(capture.modelVersions), window),
        parse: (line, key) => {
          const variant = parseDataCaptureKey(key, capture.prefix)!.variant; // the source keeps only keys that parse
          return parseDataCaptureLine(line, { ...columns, model: model.model, variant, modelVersion: capture.modelVersions[variant] });
        },
      });
    }
    return sources;
  }

  /** Checks one model's window: reads, profiles per version, compares, writes EMF and the summary. */
  async function check(model: DriftModelSettings, signal: AbortSignal): Promise<DriftRunSummary> {
    const toMs = now();
    const window = { fromMs: toMs - settings.windowMs, toMs };
    const versions = new Map<string, VersionState>();
    const unreadable: DriftRunSummary['unreadable'] = {};
    const skipped: DriftRunSummary['skipped'] = {};
    const read: WindowReadStats = { objects: 0, bytes: 0, unreadableObjects: 0 };
    const onUnreadableObject = (key: string, error: Error) => log('ERROR', 'object does not decompress: the rest of it is not read, the run goes on', {
      reason: 'unreadable-object', model: model.model, key, error: describeError(error),
    });

    let profiled = 0;
    let lookups = 0;

    /** The state of a version, decided on first sight and remembered (up to MAX_VERSIONS_REMEMBERED versions). */
    async function versionState(modelVersion: string): Promise<VersionState> {
      const known = versions.get(modelVersion);
      if (known) return known;
      const state = await newVersionState(modelVersion);
      if ('builder' in state || versions.size < MAX_VERSIONS_REMEMBERED) versions.set(modelVersion, state);
      return state;
    }

    /** A version's state: invalid names skipped without a lookup, then its baseline read while the caps allow. */
    async function newVersionState(modelVersion: string): Promise<VersionState> {
      try {
        baselineKey(model.model, modelVersion);
      } catch {
        return { skip: 'invalid-version' };
      }
      if (profiled >= MAX_VERSIONS_PER_WINDOW || lookups >= MAX_BASELINE_LOOKUPS_PER_WINDOW) return { skip: 'too-many-versions' };
      lookups++;
      try {
        const baseline = await readBaseline(s3, settings.datasetBucketName, model.model, modelVersion, { timeoutMs: callTimeoutMs });
        if (!baseline) return { skip: 'no-baseline' };
        profiled++;
        return { baseline, builder: new ProfileBuilder({ reference: baseline }) };
      } catch (error) {
        if (isCallFailure(error)) throw error;
        log('ERROR', 'baseline unreadable: its rows are skipped; rebuild it with npm run baseline', { reason: 'unreadable-baseline', model: model.model, modelVersion, error: describeError(error) });
        return { skip: 'unreadable-baseline' };
      }
    }

    /** Why a row is not profiled before its version is looked at, if it is not. */
    function skipOf(row: LoggedPrediction): SkipReason | undefined {
      if (row.model !== model.model) return 'other-model';
      if (row.ts < window.fromMs || row.ts >= window.toMs) return 'outside-window';
      return row.fallback ? 'fallback' : undefined;
    }

    for (const { source, parse } of sourcesOf(model, window)) {
      for await (const { key, line } of readWindowLines(s3, source, { callTimeoutMs, signal, stats: read, onUnreadableObject })) {
        if (line === undefined) {
          increment(unreadable, 'line-too-long');
          continue;
        }
        try {
          const parsed = parse(line, key);
          if (!parsed.ok) {
            increment(unreadable, parsed.reason);
            continue;
          }
          for (const row of parsed.rows) {
            const skip = skipOf(row);
            // Awaits only on a version's first row (its baseline is read then), not per row.
            const state = skip ? { skip } : versions.get(row.modelVersion) ?? await versionState(row.modelVersion);
            if ('skip' in state) increment(skipped, state.skip);
            else state.builder.addRow(row.features, row.outputs);
          }
        } catch (error) {
          // The baseline store failing fails the run (retried); anything else is this line's: counted, logged once.
          if (isCallFailure(error)) throw error;
          if (unreadable['parser-error'] === undefined) {
            log('ERROR', 'a line could not be parsed or profiled: counted as parser-error, the run goes on (further ones only counted)', {
              reason: 'parser-error', model: model.model, key, error: describeError(error),
            });
          }
          increment(unreadable, 'parser-error');
        }
      }
    }

    const unreadableTotal = Object.values<number | undefined>(unreadable).reduce<number>((a, b) => a + (b ?? 0), 0);
    const reports: DriftReport[] = [];
    const sourceName = `window ${new Date(window.fromMs).toISOString()}/${new Date(window.toMs).toISOString()}`;
    for (const [modelVersion, state] of versions) {
      if ('skip' in state) continue;
      const profile = state.builder.build({ model: model.model, modelVersion, source: sourceName, createdAt: new Date(toMs).toISOString() });
      const report = detectDrift(state.baseline, profile, model.detection);
      for (const line of driftEmfLines(report, { timestampMs: toMs, unreadableRecords: reports.length === 0 ? unreadableTotal : undefined })) write(line);
      reports.push(report);
    }
    if (reports.length === 0) {
      write(toEmf({ [MetricDimensions.MODEL]: model.model }, [
        { name: DriftMetrics.WINDOW_ROWS, value: 0, unit: 'Count' },
        { name: DriftMetrics.UNREADABLE_RECORDS, value: unreadableTotal, unit: 'Count' },
      ], { timestampMs: toMs }));
    }

    const versionsWithoutBaseline = [...versions].filter(([, s]) => 'skip' in s && s.skip === 'no-baseline').map(([v]) => v);
    for (const modelVersion of versionsWithoutBaseline) {
      log('WARN', `no baseline for this model version: its rows are not checked; build one with npm run baseline (s3 key ${baselineKey(model.model, modelVersion)})`, {
        reason: 'no-baseline', model: model.model, modelVersion,
      });
    }
    const summary: DriftRunSummary = {
      model: model.model,
      window: { from: new Date(window.fromMs).toISOString(), to: new Date(window.toMs).toISOString() },
      rowsChecked: reports.reduce((a, r) => a + r.rows, 0),
      unreadable, skipped, versionsWithoutBaseline,
      versions: reports.map((r) => ({
        modelVersion: r.modelVersion, rows: r.rows, datasetDrift: r.datasetDrift, driftedFeatureShare: r.driftedFeatureShare,
        predictionDrifted: r.predictionDrifted, driftedColumns: r.columns.filter((c) => c.drifted).map((c) => c.name),
        columnsWithQualityIssues: r.columns.filter((c) => c.issues.length > 0).map((c) => c.name),
      })),
      read,
    };
    log(summary.versions.some((v) => v.datasetDrift || v.predictionDrifted) ? 'WARN' : 'INFO', 'drift check', { ...summary });
    return summary;
  }

  function log(level: string, message: string, fields: Record<string, unknown>): void {
    write(JSON.stringify({ level, message, ...fields }));
  }

  return async (_event, context) => {
    const remaining = context ? context.getRemainingTimeInMillis() - TIMEOUT_MARGIN_MS : Infinity;
    const signal = Number.isFinite(remaining) ? AbortSignal.timeout(Math.max(1, Math.floor(remaining))) : new AbortController().signal;
    const summaries: DriftRunSummary[] = [];
    for (const model of settings.models) summaries.push(await check(model, signal));
    return summaries;
  };
}

/** The handler as deployed: settings from the environment, the client from the SDK's. Built on the first event. */
let deployed: DriftHandler | undefined;

/** The Lambda handler. */
export const handler: DriftHandler = (event, context) => {
  if (!deployed) {
    const settings = parseDriftEnvironment(process.env);
    deployed = createDriftHandler({ settings, s3: new S3Client({ forcePathStyle: settings.s3ForcePathStyle }) });
  }
  return deployed(event, context);
};
