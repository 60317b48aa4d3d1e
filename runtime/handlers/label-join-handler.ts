/**
 * Lambda entry point of the scheduled label join (ModelQualityMonitor): for one model, it reads the labels that
 * arrived in the lookback (`labels/model=<m>/dt=…`, the lookback's days: labels are partitioned by arrival,
 * `receivedAt`, and kept by it — by `labelTime` for labels stored without one; those of the label window make the
 * quality metrics, all of them the coverage: runtime/core/label-join.ts), streams the prediction logs of the
 * lookback window past them (`prediction-logs/model=<m>/dt=…/hour=…`, gzipped or not), joins them
 * (runtime/core/label-join.ts), compares each variant's quality with the baseline of its model version
 * (`baselines/model=<m>/version=<v>/baseline.json`, its `quality`), and prints one EMF line per variant
 * (`ModelQualityMetrics`) and a JSON summary line.
 *
 * - Every S3 call has a deadline (`LabelJoinVariables.CALL_TIMEOUT_MS`), and the whole read stops before the
 *   function's own timeout: a failed or late read fails the run (alarmed on), rather than publishing metrics of a
 *   partial window.
 * - Lines that cannot be read (not JSON, another format, longer than the cap) and labels that fail validation are
 *   counted by reason in the summary, never thrown. A baseline that cannot be read is a WARN line; the run goes on
 *   without the drop for that version.
 * - Memory: labels are held (at most `MAX_LABELS_HELD`; more are counted and left out), predictions stream.
 *
 * Environment: the contract in runtime/contracts/label-join.ts. Region, credentials and endpoint come from the AWS
 * SDK's environment (`AWS_REGION`, `AWS_ENDPOINT_URL_S3`, ...).
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { readBaseline } from '../aws/baseline-store';
import { predictionLogWindow, readWindowLines, ReadWindowOptions, WindowReadStats } from '../aws/s3-window';
import { LabelJoinSettings, parseLabelJoinEnvironment } from '../contracts/label-join';
import { datesInWindow, labelDayPrefix } from '../core/datasets';
import { LabelJoin, labelJoinEmf, LabelJoinResult, variantQualityDrop } from '../core/label-join';
import { MAX_STORED_LABEL_BYTES, parseLabelText } from '../core/labels';
import { parsePredictionLogLine } from '../core/logged-predictions';
import { METRICS_NAMESPACE } from '../core/metrics';
import { ModelQualitySummary } from '../core/model-quality';

/** Most labels one run holds in memory (about 200 bytes each): more are counted (`over-capacity`) and left out. */
export const MAX_LABELS_HELD = 1_000_000;
/** Time kept free before the function's timeout, milliseconds. */
const TIMEOUT_MARGIN_MS = 10_000;

/** Properties of `createLabelJoinHandler`. */
export interface LabelJoinHandlerProps {
  /** What to join, where, over which windows. */
  readonly settings: LabelJoinSettings;
  /** The S3 client. */
  readonly s3: S3Client;
  /**
   * Where log lines (EMF metrics, the summary, warnings) go.
   * @default - stdout, one line each
   */
  readonly log?: (line: string) => void;
  /**
   * Current time, epoch milliseconds: the windows end here.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * CloudWatch namespace of the metrics.
   * @default METRICS_NAMESPACE
   */
  readonly metricsNamespace?: string;
}

/** What one run did (also printed as the summary line). */
export interface LabelJoinRunSummary extends LabelJoinResult {
  /** The windows read, ISO-8601. */
  readonly windows: { readonly labels: readonly [string, string]; readonly predictions: readonly [string, string] };
  /** Label lines not joined, by reason (`invalid-label`: failed validation; `line-too-long`; `over-capacity`). */
  readonly unreadableLabels: Readonly<Record<string, number>>;
  /** Prediction-log lines that could not be read, by reason (`line-too-long` or an `UnreadableReason`). */
  readonly unreadablePredictions: Readonly<Record<string, number>>;
  /** Objects and bytes read. */
  readonly read: { readonly labels: WindowReadStats; readonly predictions: WindowReadStats };
  /** Each variant's drop against its baseline, percent, where one was computed. */
  readonly qualityDropPercent: Readonly<Record<string, number>>;
}

/** A scheduled-event handler. */
export type LabelJoinHandler = (event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<LabelJoinRunSummary>;

const count = (counts: Record<string, number>, reason: string) => { counts[reason] = (counts[reason] ?? 0) + 1; };

/** Builds the handler over its settings and S3 client. */
export function createLabelJoinHandler(props: LabelJoinHandlerProps): LabelJoinHandler {
  const { settings, s3 } = props;
  const log = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = props.now ?? Date.now;

  /** The baseline quality of each model version, skipping (with a WARN) those that cannot be read. */
  async function baselines(versions: Iterable<string>, signal: AbortSignal): Promise<Map<string, ModelQualitySummary>> {
    const found = new Map<string, ModelQualitySummary>();
    for (const version of versions) {
      signal.throwIfAborted();
      try {
        const profile = await readBaseline(s3, settings.datasetBucketName, settings.model, version, { timeoutMs: settings.callTimeoutMs });
        if (profile?.quality) found.set(version, profile.quality);
      } catch (error) {
        log(JSON.stringify({
          level: 'WARN', message: 'baseline not readable: no quality drop for this model version', reason: 'baseline-unreadable',
          model: settings.model, modelVersion: version, detail: String((error as Error)?.message ?? error).slice(0, 1000),
        }));
      }
    }
    return found;
  }

  return async (_event, context) => {
    const endMs = now();
    const remaining = context?.getRemainingTimeInMillis?.();
    const signal = AbortSignal.timeout(Math.max(1000, Math.floor((remaining ?? 15 * 60_000) - TIMEOUT_MARGIN_MS)));
    const labelWindow = { fromMs: endMs - settings.labelWindowMs, toMs: endMs };
    const predictionWindow = { fromMs: endMs - settings.lookbackMs, toMs: endMs };
    const join = new LabelJoin({ ...settings, labelWindow, predictionWindow, lookbackMs: settings.lookbackMs });
    const stats = { labels: { objects: 0, bytes: 0 }, predictions: { objects: 0, bytes: 0 } };
    const options = (s: WindowReadStats, maxLineBytes?: number): ReadWindowOptions => ({ callTimeoutMs: settings.callTimeoutMs, signal, stats: s, maxLineBytes });

    const unreadableLabels: Record<string, number> = {};
    let held = 0;
    const labelSource = {
      bucket: settings.datasetBucketName,
      prefixes: datesInWindow(predictionWindow.fromMs, predictionWindow.toMs - 1).map((date) => labelDayPrefix(settings.model, date)),
    };
    for await (const { line } of readWindowLines(s3, labelSource, options(stats.labels, MAX_STORED_LABEL_BYTES))) {
      if (line === undefined) {
        count(unreadableLabels, 'line-too-long');
        continue;
      }
      const parsed = parseLabelText(line, { models: [settings.model], nowMs: endMs, stored: true });
      if ('problem' in parsed) count(unreadableLabels, 'invalid-label');
      else if (held >= MAX_LABELS_HELD) count(unreadableLabels, 'over-capacity');
      else if (join.addLabel(parsed.label) === undefined) held++;
    }

    const unreadablePredictions: Record<string, number> = {};
    for await (const { line } of readWindowLines(s3, predictionLogWindow(settings.datasetBucketName, settings.model, predictionWindow), options(stats.predictions))) {
      if (line === undefined) {
        count(unreadablePredictions, 'line-too-long');
        continue;
      }
      const parsed = parsePredictionLogLine(line);
      if (!parsed.ok) count(unreadablePredictions, parsed.reason);
      else for (const row of parsed.rows) join.addPrediction(row);
    }

    const result = join.result();
    const found = await baselines(new Set(result.variants.map((v) => v.modelVersion)), signal);
    for (const line of labelJoinEmf(result, { baselines: found, namespace: props.metricsNamespace ?? METRICS_NAMESPACE, timestampMs: endMs })) log(line);
    const drops: Record<string, number> = {};
    for (const v of result.variants) {
      const drop = variantQualityDrop(v, found);
      if (drop !== undefined) drops[v.variant] = drop;
    }
    const summary: LabelJoinRunSummary = {
      ...result,
      windows: {
        labels: [new Date(labelWindow.fromMs).toISOString(), new Date(labelWindow.toMs).toISOString()],
        predictions: [new Date(predictionWindow.fromMs).toISOString(), new Date(predictionWindow.toMs).toISOString()],
      },
      unreadableLabels, unreadablePredictions, read: stats, qualityDropPercent: drops,
    };
    log(JSON.stringify({ level: 'INFO', message: 'label join', ...summary }));
    return summary;
  };
}

let cached: LabelJoinHandler | undefined;

/** The Lambda handler: settings from the environment (read on the first invocation). */
export const handler: LabelJoinHandler = (event, context) => {
  if (!cached) {
    const settings = parseLabelJoinEnvironment(process.env);
    cached = createLabelJoinHandler({ settings, s3: new S3Client({ forcePathStyle: settings.s3ForcePathStyle }) });
  }
  return cached(event, context);
};
