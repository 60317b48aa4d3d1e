/**
 * Model quality from ground truth: the metrics a label join computes per model and variant, and that a baseline
 * records for the model version it belongs to. Pure TypeScript.
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
  /** Classification: expected calibration error over equal-width score bins (0–1). */
  readonly ece?: number;
  /** Classification: Brier score, mean squared error of the score against the 0/1 label (0–1). */
  readonly brier?: number;
  /** Regression: mean absolute error. */
  readonly mae?: number;
  /** Regression: root mean squared error. */
  readonly rmse?: number;
}
