/**
 * Drift detection: compares the profile of a window of predictions with the model version's baseline profile, column
 * by column (features and outputs), and reports drift scores, data-quality issues and the diversity of the model's
 * top predictions. Pure TypeScript; `driftEmfLines` turns the report into the EMF lines the drift Lambda prints.
 *
 * Default method per column — Evidently's `_get_default_stattest` (evidently `src/evidently/legacy/calculations/
 * stattests/registry.py`, read at commit a4aa4c2b3), with n_unique counted over reference ∪ current:
 * - reference ≤ 1,000 values: numeric with > 5 unique values → Kolmogorov–Smirnov (p-value, threshold 0.05);
 *   numeric ≤ 5 unique or categorical → chi-square (p, 0.05) when > 2 unique, else two-proportion Z-test (p, 0.05);
 * - reference > 1,000 values: numeric with > 5 unique values → normalized Wasserstein (distance, 0.1);
 *   otherwise → Jensen–Shannon distance (distance, 0.1).
 * Thresholds are each test's `default_threshold` (`StatTest` default 0.05; `psi.py`, `jensenshannon.py`,
 * `wasserstein_distance_norm.py`: 0.1). p-value methods flag drift when p < threshold (KS: p ≤ threshold, as
 * `ks_stattest.py`), distance methods when score ≥ threshold. So at large samples the decision is an effect size:
 * a million rows drawn from the baseline's distribution do not flag. Dataset drift: the share of drifted features
 * ≥ `driftShare` (evidently `calculations/data_drift.py` `get_dataset_drift`, default 0.5).
 */
import { DriftMetrics, MetricDatum, MetricDimensions, toEmf } from '../metrics';
import type { ColumnKind, ColumnProfile, ColumnRole, DatasetProfile, PredictionDiversity } from './profile';
import { QuantileSketch } from './quantile-sketch';
import {
  alignCounts, binNumeric, chiSquareTest, jensenShannonDistance, ksTest, normalizedWasserstein, psi, twoProportionZTest,
} from './statistics';

/** A drift method: the statistic a column's decision is made on. */
export type DriftMethod = 'ks' | 'chisquare' | 'z' | 'wasserstein' | 'jensenshannon' | 'psi';

/** p-value methods: drift when the p-value is below the threshold. The others are distances: drift at or above it. */
export const P_VALUE_METHODS: readonly DriftMethod[] = ['ks', 'chisquare', 'z'];

/** Default threshold of each method (Evidently's `default_threshold`). */
export const DEFAULT_THRESHOLDS: Readonly<Record<DriftMethod, number>> = {
  ks: 0.05, chisquare: 0.05, z: 0.05, wasserstein: 0.1, jensenshannon: 0.1, psi: 0.1,
};

/** Reference size at or below which p-value tests are used (Evidently: `reference_data.shape[0] <= 1000`). */
export const SMALL_REFERENCE = 1000;

/** Stable codes of data-quality issues. */
export const QualityIssueCode = {
  /** The share of null values rose by more than `nullRateJump`. */
  NULL_RATE_JUMP: 'NULL_RATE_JUMP',
  /** More than `outOfRangeShare` of a numeric column's values lie outside the baseline's [min, max]. */
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  /** More than `unseenCategoryShare` of a categorical column's values were never seen in the (complete) baseline. */
  UNSEEN_CATEGORIES: 'UNSEEN_CATEGORIES',
  /** More than `typeChangeShare` of the column's values have the wrong type (a numeric column now holds strings). */
  TYPE_CHANGE: 'TYPE_CHANGE',
  /** The column varied in the baseline and holds a single value now. */
  CONSTANT: 'CONSTANT',
} as const;
export type QualityIssueCode = (typeof QualityIssueCode)[keyof typeof QualityIssueCode];

/** One data-quality problem of a column. */
export interface QualityIssue {
  readonly column: string;
  readonly code: QualityIssueCode;
  /** What was seen, for a person. */
  readonly message: string;
  /** The measured value the code is about (a share, 0–1). */
  readonly value: number;
}

/** Every statistic that could be computed for a column (absent when it does not apply). */
export interface ColumnStatistics {
  readonly psi?: number;
  readonly ks?: number;
  readonly ksPValue?: number;
  readonly jensenShannon?: number;
  readonly wasserstein?: number;
  readonly chiSquarePValue?: number;
  readonly zPValue?: number;
}

/** Drift of one column. */
export interface ColumnDrift {
  readonly name: string;
  readonly role: ColumnRole;
  readonly kind: ColumnKind;
  readonly method: DriftMethod;
  /** The method's statistic (a p-value or a distance); `null` when either side has no values. */
  readonly score: number | null;
  readonly threshold: number;
  readonly drifted: boolean;
  readonly statistics: ColumnStatistics;
  /** Values (non-null, right type) in the baseline and in the window. */
  readonly referenceValues: number;
  readonly currentValues: number;
  readonly issues: QualityIssue[];
}

/** Per-column overrides. */
export interface ColumnDriftOptions {
  /** @default Evidently's default for the column's kind, size and unique values */
  readonly method?: DriftMethod;
  /** @default the method's `DEFAULT_THRESHOLDS` entry */
  readonly threshold?: number;
}

/** Data-quality thresholds (shares, 0–1). */
export interface QualityThresholds {
  /** @default 0.1 (null rate up by 10 points) */
  readonly nullRateJump?: number;
  /** @default 0.05 */
  readonly outOfRangeShare?: number;
  /** @default 0.05 */
  readonly unseenCategoryShare?: number;
  /** @default 0.5 (most values of the wrong type) */
  readonly typeChangeShare?: number;
}

/** Options of `detectDrift`. */
export interface DriftOptions {
  /** Per-column method and threshold, by column name (`output:<name>` for outputs). */
  readonly columns?: Readonly<Record<string, ColumnDriftOptions>>;
  /** Method for every column without its own. @default Evidently's defaults */
  readonly method?: DriftMethod;
  /**
   * Share of drifted features at or above which the dataset drifted (Evidently `drift_share`).
   * @default 0.5
   */
  readonly driftShare?: number;
  readonly quality?: QualityThresholds;
}

/** The result of a drift check. */
export interface DriftReport {
  readonly model: string;
  readonly modelVersion: string;
  /** Rows in the window. */
  readonly rows: number;
  readonly columns: ColumnDrift[];
  /** Drifted features / features with a score (0–1). */
  readonly driftedFeatureShare: number;
  /** driftedFeatureShare ≥ driftShare. */
  readonly datasetDrift: boolean;
  /** Any output column drifted. */
  readonly predictionDrifted: boolean;
  /**
   * Largest effect size among the outputs — the normalized Wasserstein distance of a numeric output, the
   * Jensen–Shannon distance of a categorical one — computed whatever the decision method, so it compares across runs.
   */
  readonly predictionDriftScore: number;
  /** The window's top-prediction diversity. */
  readonly diversity?: PredictionDiversity;
  /** The baseline's, to compare with. */
  readonly baselineDiversity?: PredictionDiversity;
  /** Every column's issues. */
  readonly qualityIssues: QualityIssue[];
}

/** Compares a window's profile with the baseline's. Never throws on profile contents; columns absent now are all null. */
export function detectDrift(baseline: DatasetProfile, current: DatasetProfile, options: DriftOptions = {}): DriftReport {
  const byKey = new Map(current.columns.map((c) => [`${c.role}\u0000${c.name}`, c]));
  const columns = baseline.columns.map((ref) => {
    const cur = byKey.get(`${ref.role}\u0000${ref.name}`) ?? absentColumn(ref, current.rows);
    return columnDrift(ref, cur, { ...options.columns?.[ref.name], method: options.columns?.[ref.name]?.method ?? options.method }, options.quality ?? {});
  });
  const features = columns.filter((c) => c.role === 'feature' && c.score !== null);
  const outputs = columns.filter((c) => c.role === 'output');
  const driftedFeatureShare = features.length === 0 ? 0 : features.filter((c) => c.drifted).length / features.length;
  return {
    model: current.model,
    modelVersion: current.modelVersion,
    rows: current.rows,
    columns,
    driftedFeatureShare,
    datasetDrift: features.length > 0 && driftedFeatureShare >= (options.driftShare ?? 0.5),
    predictionDrifted: outputs.some((c) => c.drifted),
    predictionDriftScore: Math.max(0, ...outputs.map((c) => (c.kind === 'numeric' ? c.statistics.wasserstein : c.statistics.jensenShannon) ?? 0)),
    ...(current.topPrediction ? { diversity: current.topPrediction } : {}),
    ...(baseline.topPrediction ? { baselineDiversity: baseline.topPrediction } : {}),
    qualityIssues: columns.flatMap((c) => c.issues),
  };
}

/**
 * Evidently's default method for a column (registry.py `_get_default_stattest`): by the reference's size, the kind
 * and the unique values of reference ∪ current.
 */
export function defaultMethod(kind: ColumnKind, referenceValues: number, uniqueValues: number): DriftMethod {
  const numericSpread = kind === 'numeric' && uniqueValues > 5;
  if (referenceValues <= SMALL_REFERENCE) {
    if (numericSpread) return 'ks';
    return uniqueValues > 2 ? 'chisquare' : 'z';
  }
  return numericSpread ? 'wasserstein' : 'jensenshannon';
}

/**
 * The EMF lines of a report (names from `DriftMetrics`): one per model (dimension Model) with the feature share,
 * prediction drift, diversity, quality and window counts, and one per column (dimensions Model + Feature) with its
 * score, drifted flag and issues. `unreadableRecords` (lines of the window that were not predictions) is added to the
 * model line when given.
 */
export function driftEmfLines(report: DriftReport, options: { timestampMs?: number; unreadableRecords?: number } = {}): string[] {
  const timestampMs = options.timestampMs ?? Date.now();
  const model: MetricDatum[] = [
    { name: DriftMetrics.DRIFTED_FEATURE_SHARE, value: report.driftedFeatureShare * 100, unit: 'Percent' },
    { name: DriftMetrics.PREDICTION_DRIFTED, value: report.predictionDrifted ? 1 : 0, unit: 'Count' },
    { name: DriftMetrics.PREDICTION_DRIFT_SCORE, value: report.predictionDriftScore, unit: 'None' },
    { name: DriftMetrics.COLUMNS_WITH_QUALITY_ISSUES, value: report.columns.filter((c) => c.issues.length > 0).length, unit: 'Count' },
    { name: DriftMetrics.WINDOW_ROWS, value: report.rows, unit: 'Count' },
    ...(report.diversity ? [
      { name: DriftMetrics.PREDICTION_DIVERSITY, value: report.diversity.share * 100, unit: 'Percent' as const },
      { name: DriftMetrics.TOP_PREDICTION_SHARE, value: report.diversity.topShare * 100, unit: 'Percent' as const },
    ] : []),
    ...(options.unreadableRecords !== undefined ? [{ name: DriftMetrics.UNREADABLE_RECORDS, value: options.unreadableRecords, unit: 'Count' as const }] : []),
  ];
  const lines = [toEmf({ [MetricDimensions.MODEL]: report.model }, model, { timestampMs, properties: { modelVersion: report.modelVersion } })];
  for (const column of report.columns) {
    const metrics: MetricDatum[] = [
      ...(column.score !== null ? [{ name: DriftMetrics.DRIFT_SCORE, value: column.score, unit: 'None' as const }] : []),
      { name: DriftMetrics.DRIFTED, value: column.drifted ? 1 : 0, unit: 'Count' },
      { name: DriftMetrics.QUALITY_ISSUES, value: column.issues.length, unit: 'Count' },
    ];
    lines.push(toEmf({ [MetricDimensions.MODEL]: report.model, [MetricDimensions.FEATURE]: column.name }, metrics, {
      timestampMs,
      properties: { method: column.method, threshold: column.threshold, issues: column.issues.map((i) => i.code) },
    }));
  }
  return lines;
}

function columnDrift(ref: ColumnProfile, cur: ColumnProfile, override: ColumnDriftOptions, quality: QualityThresholds): ColumnDrift {
  const issues = qualityIssues(ref, cur, quality);
  const base = { name: ref.name, role: ref.role, kind: ref.kind, issues };
  const comparable = cur.kind === ref.kind;
  const statistics = comparable ? (ref.kind === 'numeric' ? numericStatistics(ref, cur) : categoricalStatistics(ref, cur)) : undefined;
  const method = override.method ?? defaultMethod(ref.kind, valuesOf(ref), statistics?.unique ?? 0);
  const threshold = override.threshold ?? DEFAULT_THRESHOLDS[method];
  const referenceValues = valuesOf(ref);
  const currentValues = comparable ? valuesOf(cur) : 0;
  if (!statistics || referenceValues === 0 || currentValues === 0) {
    return { ...base, method, threshold, score: null, drifted: false, statistics: {}, referenceValues, currentValues };
  }
  const score = scoreOf(method, statistics.values);
  const drifted = score === undefined ? false
    : method === 'ks' ? score <= threshold
      : P_VALUE_METHODS.includes(method) ? score < threshold
        : score >= threshold;
  return { ...base, method, threshold, score: score ?? null, drifted, statistics: statistics.values, referenceValues, currentValues };
}

function scoreOf(method: DriftMethod, s: ColumnStatistics): number | undefined {
  switch (method) {
    case 'ks': return s.ksPValue;
    case 'chisquare': return s.chiSquarePValue;
    case 'z': return s.zPValue;
    case 'wasserstein': return s.wasserstein;
    case 'jensenshannon': return s.jensenShannon;
    case 'psi': return s.psi;
  }
}

interface ComputedStatistics {
  readonly values: ColumnStatistics;
  /** Unique values of reference ∪ current (from the sketches' retained items or the counts). */
  readonly unique: number;
}

function numericStatistics(ref: ColumnProfile, cur: ColumnProfile): ComputedStatistics | undefined {
  if (!ref.numeric || !cur.numeric) return undefined;
  const a = QuantileSketch.fromJSON(ref.numeric.sketch);
  const b = QuantileSketch.fromJSON(cur.numeric.sketch);
  if (a.count === 0 || b.count === 0) return { values: {}, unique: 0 };
  const unique = new Set([...a.sorted().values, ...b.sorted().values]).size;
  const binned = binNumeric(a, b);
  const ks = ksTest(a, b);
  const values: ColumnStatistics = {
    psi: psi(binned.reference, binned.current),
    jensenShannon: jensenShannonDistance(binned.reference, binned.current),
    ks: ks.statistic,
    ksPValue: ks.pValue,
    wasserstein: normalizedWasserstein(a, b, ref.numeric.std ?? 0),
  };
  if (unique > 5) return { values, unique };
  // Few distinct numbers are compared as categories too (Evidently uses chi-square / Z on them).
  const keyed = (s: QuantileSketch) => {
    const { values: v, cumulative } = s.sorted();
    return { total: s.count, counts: Array.from(v, (x, i): [string, number] => [String(x), cumulative[i] - (i > 0 ? cumulative[i - 1] : 0)]) };
  };
  return { values: { ...values, ...countTests(keyed(a), keyed(b)) }, unique };
}

function categoricalStatistics(ref: ColumnProfile, cur: ColumnProfile): ComputedStatistics | undefined {
  if (!ref.categorical || !cur.categorical) return undefined;
  const aligned = alignCounts(ref.categorical, cur.categorical);
  return {
    values: {
      psi: psi(share(aligned.reference), share(aligned.current)),
      jensenShannon: jensenShannonDistance(aligned.reference, aligned.current),
      ...countTests(ref.categorical, cur.categorical),
    },
    unique: aligned.reference.length,
  };
}

/** Chi-square (more than two values) or the two-proportion Z-test (two values) on counts. */
function countTests(
  ref: { readonly counts: readonly [string, number][]; readonly total: number },
  cur: { readonly counts: readonly [string, number][]; readonly total: number },
): ColumnStatistics {
  const aligned = alignCounts(ref, cur);
  if (aligned.reference.length > 2) return { chiSquarePValue: chiSquareTest(aligned.reference, aligned.current).pValue };
  if (aligned.reference.length === 2) {
    return { zPValue: twoProportionZTest([aligned.reference[0], aligned.reference[1]], [aligned.current[0], aligned.current[1]]).pValue };
  }
  return { zPValue: 1 };
}

function qualityIssues(ref: ColumnProfile, cur: ColumnProfile, thresholds: QualityThresholds): QualityIssue[] {
  const issues: QualityIssue[] = [];
  const issue = (code: QualityIssueCode, value: number, message: string) => issues.push({ column: ref.name, code, value, message });
  const nullJump = rate(cur.nulls, cur.rows) - rate(ref.nulls, ref.rows);
  if (nullJump > (thresholds.nullRateJump ?? 0.1)) {
    issue(QualityIssueCode.NULL_RATE_JUMP, nullJump, `null rate ${pct(rate(cur.nulls, cur.rows))} (baseline ${pct(rate(ref.nulls, ref.rows))})`);
  }
  const wrongNow = rate(cur.wrongType, cur.rows);
  const typeLimit = thresholds.typeChangeShare ?? 0.5;
  if (wrongNow > typeLimit && rate(ref.wrongType, ref.rows) <= typeLimit) {
    issue(QualityIssueCode.TYPE_CHANGE, wrongNow, `${pct(wrongNow)} of values are not ${ref.kind} (baseline ${pct(rate(ref.wrongType, ref.rows))})`);
  }
  if (ref.numeric && cur.numeric && cur.numeric.count > 0 && ref.numeric.min !== null && ref.numeric.max !== null) {
    const outside = outOfRangeShare(cur.numeric, ref.numeric.min, ref.numeric.max);
    if (outside > (thresholds.outOfRangeShare ?? 0.05)) {
      issue(QualityIssueCode.OUT_OF_RANGE, outside, `${pct(outside)} of values outside the baseline's range [${ref.numeric.min}, ${ref.numeric.max}]`);
    }
  }
  if (ref.categorical?.exact && cur.categorical && cur.categorical.total > 0) {
    const known = new Set(ref.categorical.counts.map((e) => e[0]));
    const unseen = cur.categorical.counts.filter((e) => !known.has(e[0])).reduce((s, e) => s + e[1], 0) / cur.categorical.total;
    if (unseen > (thresholds.unseenCategoryShare ?? 0.05)) issue(QualityIssueCode.UNSEEN_CATEGORIES, unseen, `${pct(unseen)} of values are categories the baseline never had`);
  }
  if (distinctValues(ref) > 1 && distinctValues(cur) === 1) issue(QualityIssueCode.CONSTANT, 1, 'the column holds a single value (it varied in the baseline)');
  return issues;
}

/** Share of the window's values outside [min, max]: counted while profiling when it was, else from the sketch. */
function outOfRangeShare(cur: NonNullable<ColumnProfile['numeric']>, min: number, max: number): number {
  if (cur.outOfRange !== undefined) return cur.outOfRange / cur.count;
  const { values, cumulative } = QuantileSketch.fromJSON(cur.sketch).sorted();
  let outside = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min || values[i] > max) outside += cumulative[i] - (i > 0 ? cumulative[i - 1] : 0);
  }
  return outside / cur.count;
}

/** Distinct values of a column: 0 when none, 1 when constant, 2 for "more than one". */
function distinctValues(column: ColumnProfile): number {
  if (column.numeric) return column.numeric.count === 0 ? 0 : column.numeric.min === column.numeric.max ? 1 : 2;
  if (column.categorical) return column.categorical.total === 0 ? 0 : column.categorical.exact ? Math.min(2, column.categorical.distinct) : 2;
  return 0;
}

function valuesOf(column: ColumnProfile): number {
  return column.numeric?.count ?? column.categorical?.total ?? 0;
}

/** A baseline column the window never had: every row null. */
function absentColumn(ref: ColumnProfile, rows: number): ColumnProfile {
  return { name: ref.name, role: ref.role, kind: ref.kind, rows, nulls: rows, wrongType: 0 };
}

const rate = (part: number, whole: number) => (whole > 0 ? part / whole : 0);
const share = (counts: Float64Array) => {
  const total = counts.reduce((s, c) => s + c, 0);
  return counts.map((c) => (total > 0 ? c / total : 0));
};
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
