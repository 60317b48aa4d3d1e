/**
 * The join of ground-truth labels with logged predictions, per model and variant: which prediction each label is
 * for, and the model's quality, label delay and label coverage over the predictions labelled. Pure TypeScript: the
 * scheduled handler (runtime/handlers/label-join-handler.ts) feeds it from S3.
 *
 * Two windows of labels: the quality metrics and the delay are over the labels that arrived in the label window (the
 * rolling quality); the coverage is over every label that arrived in the lookback — the share of the lookback's
 * predictions that have a label by now — so it reads 100 % when every prediction is labelled, whatever the ratio of
 * the windows (over the label window's labels alone it would be diluted by it: about a seventh with the defaults).
 *
 * Memory: labels are held (they are far fewer than predictions: one per outcome that became known in the lookback;
 * the caller caps them), predictions stream past them and only those a label names are kept — one entry per label and
 * variant.
 *
 * How a label finds its prediction:
 * - by `requestId`: every prediction of that request (one per variant that answered it; duplicates of one request and
 *   variant count once);
 * - by `entity` + `eventTime`: the latest prediction of that entity (its join keys, compared as strings) at or before
 *   `eventTime` and at most `lookbackMs` before it, with every variant's prediction of that same request (ties on
 *   time: the greater request id, so the answer does not depend on the order of the logs).
 * Fallback answers are not the model's: they are never labelled, nor counted in the coverage. When several labels
 * reach one prediction, the latest `labelTime` wins.
 */
import { LabelRecord } from './datasets';
import { flattenOutputs, OUTPUT_PREFIX } from './drift/profile';
import { LoggedPrediction, LoggedValue, parseInstant } from './logged-predictions';
import { DEFAULT_VARIANT, MetricDatum, MetricDimensions, METRICS_NAMESPACE, ModelQualityMetrics, toEmf } from './metrics';
import { LabelValue, ModelQualitySummary, ProblemType, QualityAccumulator } from './model-quality';

/** A time window, epoch milliseconds: `fromMs` included, `toMs` excluded. */
export interface JoinWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

/** Settings of a `LabelJoin`. */
export interface LabelJoinOptions {
  /** Model whose labels and predictions are joined (others are counted and skipped). */
  readonly model: string;
  /** Classification or regression: decides the quality metrics. */
  readonly problem: ProblemType;
  /**
   * Classification: score at or above which a prediction is the positive class.
   * @default 0.5
   */
  readonly threshold?: number;
  /**
   * Classification: the class name that is positive, for string labels.
   * @default - string labels are unusable
   */
  readonly positiveLabel?: string;
  /**
   * The model output that is the score: an output name (a scalar or one-element output, e.g. `score`), or
   * `<name>[<i>]` for element i of a vector output of up to `MAX_OUTPUT_VECTOR` (32) elements (e.g.
   * `probabilities[1]`) — the drift profile's output column names (`flattenOutputs`) without their `output:` prefix.
   */
  readonly scoreOutput: string;
  /**
   * Labels that arrived in this window (the labels that arrived since the last runs: their `receivedAt`, or for labels
   * stored without one, their `labelTime`) make the quality metrics and the delay. It lies within `predictionWindow`.
   */
  readonly labelWindow: JoinWindow;
  /**
   * Predictions whose `ts` lies in this window are read, labelled or not (the coverage's denominator); labels that
   * arrived in it make the coverage's numerator.
   */
  readonly predictionWindow: JoinWindow;
  /** An entity label's prediction is at most this long before its `eventTime`, milliseconds. */
  readonly lookbackMs: number;
}

/** Why a label was not joined (stable codes). */
export type LabelSkipReason =
  /** Another model's label. */
  | 'other-model'
  /** Arrival (`receivedAt`, else `labelTime`) outside the windows: before the lookback (`predictionWindow`) or after the run. */
  | 'outside-label-window'
  /** Not a label the join can use: no requestId nor entity + eventTime, or a time that does not parse. */
  | 'invalid-label';

/** Why a labelled prediction was left out of the quality metrics (stable codes). */
export type UnusablePairReason =
  /** The prediction has no output `scoreOutput`. */
  | 'no-score-output'
  /** The score output is not a number (a string, null, a vector where a scalar was configured). */
  | 'score-not-a-number'
  /** The score or label does not fit the problem (a classification score outside 0–1, a label of another kind). */
  | 'unusable-pair';

/** Quality of one variant over the window. */
export interface VariantQuality {
  /** Variant (`DEFAULT_VARIANT` for predictions logged without one). */
  readonly variant: string;
  /** Model version of the variant's latest prediction in the window: the baseline its quality is compared with. */
  readonly modelVersion: string;
  /** The window's predictions of the variant, fallbacks excluded. */
  readonly predictions: number;
  /** Predictions joined with a label that arrived in the label window, and used for the metrics. */
  readonly labelled: number;
  /** Predictions joined with a usable label that arrived in the lookback (`predictionWindow`), the label window's included. */
  readonly labelledInLookback: number;
  /** `labelledInLookback / predictions` (0–1): the share of the lookback's predictions labelled by now. */
  readonly coverage: number;
  /** Mean delay from prediction to label, seconds (a label timed before its prediction counts 0); absent without labels. */
  readonly labelDelayAvgSeconds?: number;
  /** Longest delay from prediction to label, seconds; absent without labels. */
  readonly labelDelayMaxSeconds?: number;
  /** The quality metrics over the labelled predictions. */
  readonly quality: ModelQualitySummary;
}

/** Everything a join found. */
export interface LabelJoinResult {
  readonly model: string;
  /** Per variant that answered in the window, by name. */
  readonly variants: readonly VariantQuality[];
  /** What became of the labels. */
  readonly labels: {
    /** Labels given to the join (those of the lookback count below; only those of the label window make the metrics). */
    readonly read: number;
    /** Labels that named at least one prediction of the window. */
    readonly matched: number;
    /** Labels that named no prediction of the window (an unknown request, a prediction older than the window). */
    readonly unmatched: number;
    /** Labels that named only fallback answers. */
    readonly fallbackOnly: number;
    /**
     * Labels replaced by a later one of the same request, or of the same entity and event time (a label that loses to
     * a later label of another kind reaching the same prediction is counted as matched).
     */
    readonly superseded: number;
    /** Labels not joined, by reason. */
    readonly skipped: Readonly<Partial<Record<LabelSkipReason, number>>>;
  };
  /** What became of the predictions. */
  readonly predictions: {
    /** Predictions given to the join. */
    readonly read: number;
    /** Fallback answers in the window (not the model's: never labelled, not in the coverage). */
    readonly fallbacks: number;
    /** Predictions outside the window or of another model. */
    readonly skipped: number;
    /** Labelled predictions left out of the metrics and the coverage, by reason. */
    readonly unusable: Readonly<Partial<Record<UnusablePairReason, number>>>;
  };
}

/** The score of a prediction, or why there is none. */
type Score = { readonly score: number } | { readonly reason: UnusablePairReason };

/** A prediction a label named, as much of it as the metrics need. */
interface Candidate {
  readonly requestId: string;
  readonly variant: string;
  readonly ts: number;
  readonly score: Score;
}

/** A label with its times parsed. */
interface HeldLabel {
  readonly label: LabelValue;
  readonly labelMs: number;
  /** Whether it arrived in the label window (it makes the quality metrics), not only in the lookback (the coverage). */
  readonly recent: boolean;
}

/** An entity label and the latest prediction found for it so far (with every variant's record of that request). */
interface EntityLabel extends HeldLabel {
  readonly eventMs: number;
  best?: { requestId: string; ts: number; records: Map<string, Candidate> };
  fallbackSeen?: boolean;
}

/** One variant's counts during the stream. */
interface VariantCounts {
  predictions: number;
  latestTs: number;
  modelVersion: string;
}

/**
 * A stable key of an entity's join keys (names sorted, values as strings): what a label names and what the prediction
 * log recorded compare equal whether a producer sent `42` or `"42"`.
 */
export function entityKey(entity: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.keys(entity).sort().map((name) => [name, String(entity[name])]));
}

/**
 * Reads the score from a prediction's outputs as the drift profile names output columns (`flattenOutputs`:
 * `output:<name>` for a scalar or one-element output, `output:<name>[i]` for element i of a vector of up to
 * `MAX_OUTPUT_VECTOR` elements).
 */
function scoreReader(scoreOutput: string): (outputs: Readonly<Record<string, LoggedValue>>) => Score {
  const column = OUTPUT_PREFIX + scoreOutput;
  return (outputs) => {
    const flat = flattenOutputs(outputs);
    if (!Object.prototype.hasOwnProperty.call(flat, column)) return { reason: 'no-score-output' };
    const value = flat[column];
    return typeof value === 'number' && Number.isFinite(value) ? { score: value } : { reason: 'score-not-a-number' };
  };
}

/**
 * Joins labels with predictions in one pass over the predictions: `addLabel` every label first, then `addPrediction`
 * every logged prediction of the window (any order), then `result()`.
 */
export class LabelJoin {
  private readonly byRequest = new Map<string, HeldLabel>();
  private readonly byEntity = new Map<string, Map<number, EntityLabel>>();
  /** Predictions of labelled requests, by request and variant. */
  private readonly requestMatches = new Map<string, Candidate>();
  private readonly fallbackRequests = new Set<string>();
  private readonly variantCounts = new Map<string, VariantCounts>();
  private readonly readScore: (outputs: Readonly<Record<string, LoggedValue>>) => Score;
  private labelsRead = 0;
  private superseded = 0;
  private readonly skippedLabels: Partial<Record<LabelSkipReason, number>> = {};
  private predictionsRead = 0;
  private fallbacks = 0;
  private predictionsSkipped = 0;

  constructor(private readonly options: LabelJoinOptions) {
    // Fails now on settings the metrics refuse (a threshold outside 0–1, an unknown problem).
    new QualityAccumulator(options);
    if (!Number.isFinite(options.lookbackMs) || options.lookbackMs < 0) throw new Error(`lookbackMs ${options.lookbackMs}: expected milliseconds >= 0`);
    if (!options.scoreOutput) throw new Error("scoreOutput: name the model output that is the score, e.g. 'score' or 'probabilities[1]'");
    this.readScore = scoreReader(options.scoreOutput);
  }

  /** Holds a label (a `LabelRecord` as the label dataset stores it); returns why it was skipped, if it was. */
  public addLabel(record: LabelRecord): LabelSkipReason | undefined {
    this.labelsRead++;
    const skip = (reason: LabelSkipReason) => {
      this.skippedLabels[reason] = (this.skippedLabels[reason] ?? 0) + 1;
      return reason;
    };
    if (record.model !== this.options.model) return skip('other-model');
    const labelMs = parseInstant(record.labelTime);
    if (labelMs === undefined) return skip('invalid-label');
    const arrivedMs = record.receivedAt === undefined ? labelMs : parseInstant(record.receivedAt);
    if (arrivedMs === undefined) return skip('invalid-label');
    const { labelWindow, predictionWindow } = this.options;
    if (arrivedMs < predictionWindow.fromMs || arrivedMs >= predictionWindow.toMs) return skip('outside-label-window');
    const held: HeldLabel = { label: record.label, labelMs, recent: arrivedMs >= labelWindow.fromMs && arrivedMs < labelWindow.toMs };
    if (typeof record.requestId === 'string' && record.requestId.length > 0) {
      const previous = this.byRequest.get(record.requestId);
      if (previous) this.superseded++;
      if (!previous || labelMs > previous.labelMs) this.byRequest.set(record.requestId, held);
      return undefined;
    }
    const eventMs = parseInstant(record.eventTime);
    if (record.entity === undefined || record.entity === null || typeof record.entity !== 'object' || eventMs === undefined) return skip('invalid-label');
    const key = entityKey(record.entity);
    const labels = this.byEntity.get(key) ?? new Map<number, EntityLabel>();
    this.byEntity.set(key, labels);
    const previous = labels.get(eventMs);
    if (previous) this.superseded++;
    if (!previous || labelMs > previous.labelMs) labels.set(eventMs, { ...held, eventMs });
    return undefined;
  }

  /** Streams one logged prediction past the labels. */
  public addPrediction(row: LoggedPrediction): void {
    this.predictionsRead++;
    const { predictionWindow, model, lookbackMs } = this.options;
    if (row.model !== model || row.ts < predictionWindow.fromMs || row.ts >= predictionWindow.toMs) {
      this.predictionsSkipped++;
      return;
    }
    const requestLabel = this.byRequest.get(row.requestId);
    const entityLabels = row.entity && this.byEntity.size > 0 ? this.byEntity.get(entityKey(row.entity)) : undefined;
    if (row.fallback) {
      this.fallbacks++;
      if (requestLabel) this.fallbackRequests.add(row.requestId);
      if (entityLabels) for (const label of entityLabels.values()) if (row.ts <= label.eventMs && row.ts >= label.eventMs - lookbackMs) label.fallbackSeen = true;
      return;
    }
    const variant = row.variant ?? DEFAULT_VARIANT;
    const counts = this.variantCounts.get(variant) ?? { predictions: 0, latestTs: -Infinity, modelVersion: row.modelVersion };
    this.variantCounts.set(variant, counts);
    counts.predictions++;
    if (row.ts >= counts.latestTs) {
      counts.latestTs = row.ts;
      counts.modelVersion = row.modelVersion;
    }
    if (!requestLabel && !entityLabels) return;
    const candidate: Candidate = { requestId: row.requestId, variant, ts: row.ts, score: this.readScore(row.outputs) };
    if (requestLabel) {
      const key = `${row.requestId}\u0000${variant}`;
      if (!this.requestMatches.has(key)) this.requestMatches.set(key, candidate);
    }
    if (entityLabels) {
      for (const label of entityLabels.values()) {
        if (row.ts > label.eventMs || row.ts < label.eventMs - lookbackMs) continue;
        const best = label.best;
        if (best && best.requestId === row.requestId) {
          if (!best.records.has(variant)) best.records.set(variant, candidate);
        } else if (!best || row.ts > best.ts || (row.ts === best.ts && row.requestId > best.requestId)) {
          label.best = { requestId: row.requestId, ts: row.ts, records: new Map([[variant, candidate]]) };
        }
      }
    }
  }

  /** The quality per variant and what became of the labels and predictions. */
  public result(): LabelJoinResult {
    // Each labelled prediction (request + variant) with the latest label that reached it.
    const joined = new Map<string, { candidate: Candidate; label: HeldLabel }>();
    const offer = (candidate: Candidate, label: HeldLabel) => {
      const key = `${candidate.requestId}\u0000${candidate.variant}`;
      const current = joined.get(key);
      if (!current || label.labelMs > current.label.labelMs) joined.set(key, { candidate, label });
    };
    const matchedRequests = new Set<string>();
    for (const candidate of this.requestMatches.values()) {
      offer(candidate, this.byRequest.get(candidate.requestId)!);
      matchedRequests.add(candidate.requestId);
    }
    let matched = matchedRequests.size;
    let fallbackOnly = [...this.fallbackRequests].filter((id) => !matchedRequests.has(id)).length;
    let unmatched = this.byRequest.size - matched - fallbackOnly;
    for (const labels of this.byEntity.values()) {
      for (const label of labels.values()) {
        if (label.best) {
          matched++;
          for (const candidate of label.best.records.values()) offer(candidate, label);
        } else if (label.fallbackSeen) fallbackOnly++;
        else unmatched++;
      }
    }

    const accumulators = new Map<string, { quality: QualityAccumulator; delaySum: number; delayMax: number; inLookback: number }>();
    const unusable: Partial<Record<UnusablePairReason, number>> = {};
    for (const { candidate, label } of joined.values()) {
      const reason = 'reason' in candidate.score ? candidate.score.reason : undefined;
      let acc = accumulators.get(candidate.variant);
      if (!acc) accumulators.set(candidate.variant, acc = { quality: new QualityAccumulator(this.options), delaySum: 0, delayMax: 0, inLookback: 0 });
      const score = 'score' in candidate.score ? candidate.score.score : Number.NaN;
      const why = reason ?? (acc.quality.problemOf(score, label.label) === undefined ? undefined : 'unusable-pair');
      if (why) {
        unusable[why] = (unusable[why] ?? 0) + 1;
        continue;
      }
      acc.inLookback++;
      if (!label.recent) continue;
      acc.quality.add(score, label.label);
      const delay = Math.max(0, label.labelMs - candidate.ts) / 1000;
      acc.delaySum += delay;
      acc.delayMax = Math.max(acc.delayMax, delay);
    }

    const variants = [...this.variantCounts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([variant, counts]): VariantQuality => {
      const acc = accumulators.get(variant);
      const labelled = acc?.quality.count ?? 0;
      const labelledInLookback = acc?.inLookback ?? 0;
      return {
        variant, modelVersion: counts.modelVersion, predictions: counts.predictions, labelled, labelledInLookback,
        coverage: counts.predictions === 0 ? 0 : labelledInLookback / counts.predictions,
        ...(acc && labelled > 0 ? { labelDelayAvgSeconds: acc.delaySum / labelled, labelDelayMaxSeconds: acc.delayMax } : {}),
        quality: (acc?.quality ?? new QualityAccumulator(this.options)).summary(),
      };
    });
    return {
      model: this.options.model,
      variants,
      labels: { read: this.labelsRead, matched, unmatched, fallbackOnly, superseded: this.superseded, skipped: { ...this.skippedLabels } },
      predictions: { read: this.predictionsRead, fallbacks: this.fallbacks, skipped: this.predictionsSkipped, unusable },
    };
  }
}

/**
 * How much worse `current` is than `baseline`, percent of the baseline's value, 0 when it is as good or better:
 * AUC for classification (`(baseline − current) / baseline`), RMSE for regression (`(current − baseline) / baseline`).
 * Undefined when either lacks the metric, the problems differ, or the baseline's value is 0.
 */
export function qualityDropPercent(current: ModelQualitySummary, baseline: ModelQualitySummary | undefined): number | undefined {
  if (!baseline || baseline.problem !== current.problem) return undefined;
  const [now, then] = current.problem === 'classification' ? [current.auc, baseline.auc] : [current.rmse, baseline.rmse];
  if (now === undefined || then === undefined || !(then > 0)) return undefined;
  const worse = current.problem === 'classification' ? then - now : now - then;
  return Math.max(0, (worse / then) * 100);
}

/** A variant's drop against the baseline of its model version (`qualityDropPercent`); undefined without labels or baseline. */
export function variantQualityDrop(variant: VariantQuality, baselines: ReadonlyMap<string, ModelQualitySummary> | undefined): number | undefined {
  return variant.quality.count > 0 ? qualityDropPercent(variant.quality, baselines?.get(variant.modelVersion)) : undefined;
}

/** Options of `labelJoinEmf`. */
export interface LabelJoinEmfOptions {
  /**
   * Baseline quality by model version (the `quality` of `baselines/model=<m>/version=<v>/baseline.json`): each
   * variant is compared with the baseline of its latest model version.
   * @default - none: no QualityDropPercent
   */
  readonly baselines?: ReadonlyMap<string, ModelQualitySummary>;
  /** @default METRICS_NAMESPACE */
  readonly namespace?: string;
  /** @default Date.now() */
  readonly timestampMs?: number;
}

/**
 * The join's metrics as EMF lines, one per variant (dimensions Model + Variant, and Model alone: see `toEmf`):
 * `ModelQualityMetrics` — labelled count and coverage always; the delay and the problem's quality metrics when the
 * variant has labels; the drop against its model version's baseline when that baseline has the primary metric.
 */
export function labelJoinEmf(result: LabelJoinResult, options: LabelJoinEmfOptions = {}): string[] {
  const M = ModelQualityMetrics;
  return result.variants.map((v) => {
    const q = v.quality;
    const percent = (value: number | undefined) => (value === undefined ? undefined : value * 100);
    const metrics: [string, number | undefined, MetricDatum['unit']][] = [
      [M.LABELLED, v.labelled, 'Count'],
      [M.COVERAGE, v.coverage * 100, 'Percent'],
      [M.LABEL_DELAY_AVG_S, v.labelDelayAvgSeconds, 'Seconds'],
      [M.LABEL_DELAY_MAX_S, v.labelDelayMaxSeconds, 'Seconds'],
      [M.ACCURACY, percent(q.accuracy), 'Percent'],
      [M.PRECISION, percent(q.precision), 'Percent'],
      [M.RECALL, percent(q.recall), 'Percent'],
      [M.AUC, q.auc, 'None'],
      [M.ECE, q.ece, 'None'],
      [M.BRIER, q.brier, 'None'],
      [M.MAE, q.mae, 'None'],
      [M.RMSE, q.rmse, 'None'],
      [M.QUALITY_DROP, variantQualityDrop(v, options.baselines), 'Percent'],
    ];
    return toEmf(
      { [MetricDimensions.MODEL]: result.model, [MetricDimensions.VARIANT]: v.variant },
      metrics.filter(([, value]) => value !== undefined).map(([name, value, unit]) => ({ name, value: value!, unit })),
      { namespace: options.namespace ?? METRICS_NAMESPACE, timestampMs: options.timestampMs },
    );
  });
}
