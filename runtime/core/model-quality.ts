/**
 * Model quality from ground truth: the metrics a label join computes per model and variant, and that a baseline
 * records for the model version it belongs to. Pure TypeScript.
 *
 * `QualityAccumulator` takes (score, label) pairs one at a time in bounded memory and summarizes them:
 * - classification (binary; the score is the model's probability of the positive class, 0–1): accuracy, precision and
 *   recall at a threshold (the prediction is positive when `score >= threshold`), ROC AUC, expected calibration error
 *   and Brier score;
 * - regression (the score is the predicted value): mean absolute error and root mean squared error.
 *
 * Memory is constant: counts, sums, 10 calibration bins, and for AUC at most `AUC_EXACT_SCORES` distinct scores
 * (exact) or `AUC_BINS` histogram bins beyond (see `ModelQualitySummary.aucMaxError`).
 */

/** Kind of model, which decides the metrics. */
export type ProblemType = 'classification' | 'regression';

/** Quality metrics over a set of labelled predictions (those that apply to the problem type are present). */
export interface ModelQualitySummary {
  /** Problem type the metrics are for. */
  readonly problem: ProblemType;
  /** Labelled predictions the metrics are computed over. */
  readonly count: number;
  /** Classification: score at or above which the prediction is the positive class. */
  readonly threshold?: number;
  /** Classification: share of correct predictions at the threshold (0–1). */
  readonly accuracy?: number;
  /** Classification: precision at the threshold (0–1); absent when nothing was predicted positive. */
  readonly precision?: number;
  /** Classification: recall at the threshold (0–1); absent when no label was positive. */
  readonly recall?: number;
  /** Classification: area under the ROC curve (0–1); absent when only one class was labelled. */
  readonly auc?: number;
  /**
   * Classification, with `auc`: the most `auc` can differ from the exact AUC of the same pairs — 0 while at most
   * `AUC_EXACT_SCORES` distinct scores were seen (exact), else half the share of positive–negative pairs whose scores
   * fell in one histogram bin (those pairs are counted as ties).
   */
  readonly aucMaxError?: number;
  /** Classification: expected calibration error over equal-width score bins (0–1). */
  readonly ece?: number;
  /** Classification: Brier score, mean squared error of the score against the 0/1 label (0–1). */
  readonly brier?: number;
  /** Regression: mean absolute error. */
  readonly mae?: number;
  /** Regression: root mean squared error. */
  readonly rmse?: number;
}

/** Settings of a `QualityAccumulator`. */
export interface QualityAccumulatorOptions {
  /** Classification or regression. */
  readonly problem: ProblemType;
  /**
   * Classification: score at or above which a prediction is the positive class (0–1).
   * @default 0.5
   */
  readonly threshold?: number;
  /**
   * Classification: the class name that is the positive class, for labels given as strings (any other name is
   * negative). Booleans and the numbers 0/1 are read as they are, with or without it.
   * @default - string labels are refused
   */
  readonly positiveLabel?: string;
}

/** A label as the label dataset holds it (runtime/core/datasets.ts `LabelRecord.label`). */
export type LabelValue = number | boolean | string;

/** Distinct scores AUC is computed exactly over; past them the accumulator switches to `AUC_BINS` bins. */
export const AUC_EXACT_SCORES = 10_000;
/** Equal-width bins over 0–1 of the AUC histogram used past `AUC_EXACT_SCORES` distinct scores. */
export const AUC_BINS = 10_000;
/** Equal-width score bins of the expected calibration error. */
export const CALIBRATION_BINS = 10;

/** Positives and negatives seen at one score (exact) or in one bin. */
interface ClassCounts { pos: number; neg: number }

/**
 * Accumulates (score, label) pairs and summarizes model quality, in constant memory. `add` throws on a pair it cannot
 * use (check it first with `problemOf` to skip such pairs without a throw); `merge` combines accumulators of the same
 * settings (e.g. per-variant ones into a per-model one).
 */
export class QualityAccumulator {
  /** Problem type. */
  public readonly problem: ProblemType;
  /** Classification threshold. */
  public readonly threshold: number;
  /** Class name of the positive class, for string labels. */
  public readonly positiveLabel?: string;
  private n = 0;
  // Classification: the confusion matrix at the threshold, the Brier sum, calibration bins, AUC counts.
  private tp = 0;
  private fp = 0;
  private tn = 0;
  private fn = 0;
  private squaredError = 0;
  private readonly binCount = new Float64Array(CALIBRATION_BINS);
  private readonly binScore = new Float64Array(CALIBRATION_BINS);
  private readonly binPositives = new Float64Array(CALIBRATION_BINS);
  /** Exact AUC counts by score, until more than AUC_EXACT_SCORES distinct scores are seen. */
  private exact: Map<number, ClassCounts> | undefined = new Map();
  /** Histogram AUC counts (pos at 2i, neg at 2i+1), once the exact map overflowed. */
  private bins: Float64Array | undefined;
  // Regression.
  private absoluteError = 0;

  constructor(options: QualityAccumulatorOptions) {
    const threshold = options.threshold ?? 0.5;
    if (options.problem !== 'classification' && options.problem !== 'regression') {
      throw new Error(`problem '${String(options.problem)}': expected 'classification' or 'regression'`);
    }
    if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
      throw new Error(`threshold ${threshold}: expected a number from 0 to 1 (a probability of the positive class)`);
    }
    this.problem = options.problem;
    this.threshold = threshold;
    this.positiveLabel = options.positiveLabel;
  }

  /** Pairs added so far. */
  public get count(): number {
    return this.n;
  }

  /** Why the pair cannot be added (naming the value and what is accepted), or undefined when it can. */
  public problemOf(score: number, label: LabelValue): string | undefined {
    if (typeof score !== 'number' || !Number.isFinite(score)) return `score ${describe(score)} is not a finite number`;
    if (this.problem === 'regression') {
      return typeof label === 'number' && Number.isFinite(label) ? undefined : `label ${describe(label)}: a regression label is a finite number`;
    }
    if (score < 0 || score > 1) return `score ${score} is outside 0–1: a classification score is the probability of the positive class`;
    return this.binaryLabel(label) === undefined
      ? `label ${describe(label)}: a classification label is a boolean, 0 or 1${this.positiveLabel === undefined ? ', or a class name with positiveLabel set' : ` or a class name (positive: '${this.positiveLabel}')`}`
      : undefined;
  }

  /** Adds one prediction's score and its label; throws when `problemOf` finds a problem. */
  public add(score: number, label: LabelValue): void {
    const problem = this.problemOf(score, label);
    if (problem !== undefined) throw new Error(problem);
    this.n++;
    if (this.problem === 'regression') {
      const error = score - (label as number);
      this.absoluteError += Math.abs(error);
      this.squaredError += error * error;
      return;
    }
    const y = this.binaryLabel(label)!;
    const predicted = score >= this.threshold;
    if (predicted && y === 1) this.tp++;
    else if (predicted) this.fp++;
    else if (y === 1) this.fn++;
    else this.tn++;
    this.squaredError += (score - y) ** 2;
    const bin = calibrationBin(score);
    this.binCount[bin]++;
    this.binScore[bin] += score;
    this.binPositives[bin] += y;
    this.countForAuc(score, y === 1 ? 1 : 0, y === 1 ? 0 : 1);
  }

  /** Adds every pair `other` holds (same problem, threshold and positive label). */
  public merge(other: QualityAccumulator): this {
    if (other.problem !== this.problem || other.threshold !== this.threshold || other.positiveLabel !== this.positiveLabel) {
      throw new Error('merge: the accumulators differ in problem, threshold or positiveLabel');
    }
    this.n += other.n;
    this.tp += other.tp;
    this.fp += other.fp;
    this.tn += other.tn;
    this.fn += other.fn;
    this.squaredError += other.squaredError;
    this.absoluteError += other.absoluteError;
    for (let i = 0; i < CALIBRATION_BINS; i++) {
      this.binCount[i] += other.binCount[i];
      this.binScore[i] += other.binScore[i];
      this.binPositives[i] += other.binPositives[i];
    }
    if (other.exact) for (const [score, c] of other.exact) this.countForAuc(score, c.pos, c.neg);
    else {
      this.toBins();
      for (let i = 0; i < other.bins!.length; i++) this.bins![i] += other.bins![i];
    }
    return this;
  }

  /** The metrics of every pair added. */
  public summary(): ModelQualitySummary {
    const n = this.n;
    if (this.problem === 'regression') {
      return n === 0 ? { problem: 'regression', count: 0 }
        : { problem: 'regression', count: n, mae: this.absoluteError / n, rmse: Math.sqrt(this.squaredError / n) };
    }
    const base = { problem: 'classification' as const, count: n, threshold: this.threshold };
    if (n === 0) return base;
    const predictedPositive = this.tp + this.fp;
    const positives = this.tp + this.fn;
    return {
      ...base,
      accuracy: (this.tp + this.tn) / n,
      ...(predictedPositive > 0 ? { precision: this.tp / predictedPositive } : {}),
      ...(positives > 0 ? { recall: this.tp / positives } : {}),
      ...this.auc(),
      ece: this.ece(),
      brier: this.squaredError / n,
    };
  }

  /** 1 (positive), 0 (negative) or undefined (not a classification label). */
  private binaryLabel(label: LabelValue): 0 | 1 | undefined {
    if (typeof label === 'boolean') return label ? 1 : 0;
    if (label === 0 || label === 1) return label;
    if (typeof label === 'string' && this.positiveLabel !== undefined) return label === this.positiveLabel ? 1 : 0;
    return undefined;
  }

  private countForAuc(score: number, pos: number, neg: number): void {
    if (this.exact) {
      const counts = this.exact.get(score);
      if (counts) {
        counts.pos += pos;
        counts.neg += neg;
        return;
      }
      if (this.exact.size < AUC_EXACT_SCORES) {
        this.exact.set(score, { pos, neg });
        return;
      }
      this.toBins();
    }
    const i = Math.min(Math.floor(score * AUC_BINS), AUC_BINS - 1);
    this.bins![2 * i] += pos;
    this.bins![2 * i + 1] += neg;
  }

  /** Moves the exact counts into the histogram (once; the accumulator stays binned). */
  private toBins(): void {
    if (!this.exact) return;
    this.bins = new Float64Array(2 * AUC_BINS);
    const exact = this.exact;
    this.exact = undefined;
    for (const [score, c] of exact) this.countForAuc(score, c.pos, c.neg);
  }

  /**
   * ROC AUC as the Mann–Whitney statistic: the share of (positive, negative) pairs where the positive scored higher,
   * ties counting one half (Hanley & McNeil 1982). Computed over groups in ascending score — distinct scores (exact)
   * or histogram bins (a bin's pairs counted as ties, whence `aucMaxError`).
   */
  private auc(): { auc?: number; aucMaxError?: number } {
    const groups: ClassCounts[] = this.exact
      ? [...this.exact].sort(([a], [b]) => a - b).map(([, c]) => c)
      : Array.from({ length: AUC_BINS }, (_, i) => ({ pos: this.bins![2 * i], neg: this.bins![2 * i + 1] }));
    const positives = this.tp + this.fn;
    const negatives = this.fp + this.tn;
    if (positives === 0 || negatives === 0) return {};
    let negativesBelow = 0;
    let wins = 0;
    let tiedPairs = 0;
    for (const { pos, neg } of groups) {
      wins += pos * negativesBelow + 0.5 * pos * neg;
      tiedPairs += pos * neg;
      negativesBelow += neg;
    }
    const pairs = positives * negatives;
    return { auc: wins / pairs, aucMaxError: this.exact ? 0 : (0.5 * tiedPairs) / pairs };
  }

  /**
   * Expected calibration error, binary form (Naeini, Cooper & Hauskrecht, "Obtaining Well Calibrated Probabilities
   * Using Bayesian Binning", AAAI 2015; Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, eq. 3):
   * `ECE = Σ_b (n_b / n) · |mean label in b − mean score in b|` over `CALIBRATION_BINS` equal-width score bins
   * `[k/10, (k+1)/10)` (the last one includes 1), each weighted by its share of the predictions; empty bins add 0.
   */
  private ece(): number {
    let sum = 0;
    for (let b = 0; b < CALIBRATION_BINS; b++) {
      const count = this.binCount[b];
      if (count > 0) sum += (count / this.n) * Math.abs(this.binPositives[b] / count - this.binScore[b] / count);
    }
    return sum;
  }
}

/** The calibration bin of a score in 0–1: `[k/10, (k+1)/10)`, 1 in the last. */
function calibrationBin(score: number): number {
  return Math.min(Math.floor(score * CALIBRATION_BINS), CALIBRATION_BINS - 1);
}

/** A value for an error message: its type and at most 64 characters of it. */
function describe(value: unknown): string {
  const text = typeof value === 'string' ? `'${value.slice(0, 64)}'` : String(value).slice(0, 64);
  return `${text} (${typeof value})`;
}
