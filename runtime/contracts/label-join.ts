/**
 * The label join's contract, defined once: the Lambda environment the ModelQualityMonitor construct writes
 * (`labelJoinEnvironment`) and the label-join handler reads (`parseLabelJoinEnvironment`). The join is
 * runtime/core/label-join.ts, the metrics runtime/core/model-quality.ts, the dataset layout runtime/core/datasets.ts.
 * Metrics go to METRICS_NAMESPACE (runtime/core/metrics.ts). Pure: imports only other pure modules.
 */
import type { ProblemType } from '../core/model-quality';
import { Environment, EnvironmentReader } from './environment';
import { SharedVariables } from './shared';

/** Bundle name of the label-join Lambda handler (runtime/handlers/label-join-handler.ts). */
export const LABEL_JOIN_HANDLER = 'label-join-handler';

/** Names of the label-join handler's environment variables. */
export const LabelJoinVariables = {
  /** Model whose labels and predictions are joined: the `model=` partition and the `Model` metric dimension. */
  MODEL: 'LABEL_JOIN_MODEL',
  /** `classification` or `regression`. */
  PROBLEM: 'LABEL_JOIN_PROBLEM',
  /** Classification threshold, 0–1 (optional: 0.5). */
  THRESHOLD: 'LABEL_JOIN_THRESHOLD',
  /** Class name of the positive class, for string labels (optional). */
  POSITIVE_LABEL: 'LABEL_JOIN_POSITIVE_LABEL',
  /** The model output that is the score: `score`, or `probabilities[1]` for an element of a vector output. */
  SCORE_OUTPUT: 'LABEL_JOIN_SCORE_OUTPUT',
  /** Bucket of the dataset (runtime/core/datasets.ts): prediction logs, labels, baselines. */
  DATASET_BUCKET_NAME: 'LABEL_JOIN_DATASET_BUCKET_NAME',
  /** Labels that arrived (labelTime) in this many milliseconds before the run are joined. */
  LABEL_WINDOW_MS: 'LABEL_JOIN_LABEL_WINDOW_MS',
  /** Predictions of this many milliseconds before the run are read; an entity label's prediction is at most this old. */
  LOOKBACK_MS: 'LABEL_JOIN_LOOKBACK_MS',
  /** Deadline of one S3 call, milliseconds (optional). */
  CALL_TIMEOUT_MS: 'LABEL_JOIN_CALL_TIMEOUT_MS',
  /** `true` for path-style S3 URLs, e.g. local stand-ins such as s3rver (optional). */
  S3_FORCE_PATH_STYLE: SharedVariables.S3_FORCE_PATH_STYLE,
} as const;

/** The problem types, in the order messages list them. */
export const PROBLEM_TYPES: readonly ProblemType[] = ['classification', 'regression'];

/** The label-join handler's settings, as the construct writes them and the handler reads them. */
export interface LabelJoinSettings {
  /** Model name. */
  readonly model: string;
  /** Classification or regression. */
  readonly problem: ProblemType;
  /**
   * Classification threshold (0–1).
   * @default 0.5
   */
  readonly threshold?: number;
  /**
   * Class name of the positive class, for string labels.
   * @default - none: string labels are unusable
   */
  readonly positiveLabel?: string;
  /** The model output that is the score (`score`, `probabilities[1]`). */
  readonly scoreOutput: string;
  /** The dataset bucket (a CloudFormation token on the construct side). */
  readonly datasetBucketName: string;
  /** Labels that arrived in this many milliseconds before the run are joined. */
  readonly labelWindowMs: number;
  /** Predictions of this many milliseconds before the run are read (at least `labelWindowMs`). */
  readonly lookbackMs: number;
  /**
   * Deadline of one S3 call, milliseconds.
   * @default DEFAULT_LABEL_JOIN_CALL_TIMEOUT_MS
   */
  readonly callTimeoutMs?: number;
  /**
   * Path-style S3 URLs (local stand-ins such as s3rver).
   * @default false
   */
  readonly s3ForcePathStyle?: boolean;
}

/** Default deadline of one S3 call, milliseconds. */
export const DEFAULT_LABEL_JOIN_CALL_TIMEOUT_MS = 30_000;
/** Shortest label window: a minute. */
export const MIN_LABEL_WINDOW_MS = 60_000;
/** Longest lookback: 31 days (the `dt` partitions listed grow with it). */
export const MAX_LOOKBACK_MS = 31 * 86_400_000;

const V = LabelJoinVariables;

/** Problems of the windows (shared by the construct's validation and the parser). */
export function labelJoinWindowProblems(labelWindowMs: number, lookbackMs: number, names: { labelWindow: string; lookback: string } = { labelWindow: V.LABEL_WINDOW_MS, lookback: V.LOOKBACK_MS }): string[] {
  const problems: string[] = [];
  if (lookbackMs < labelWindowMs) {
    problems.push(`${names.lookback}: shorter than ${names.labelWindow}; the predictions read must cover the labels' window, so make the lookback at least as long`);
  }
  return problems;
}

/** The label-join handler's Lambda environment for `settings` (optional values only when set). */
export function labelJoinEnvironment(settings: LabelJoinSettings): Record<string, string> {
  const environment: Record<string, string> = {
    [V.MODEL]: settings.model,
    [V.PROBLEM]: settings.problem,
    [V.SCORE_OUTPUT]: settings.scoreOutput,
    [V.DATASET_BUCKET_NAME]: settings.datasetBucketName,
    [V.LABEL_WINDOW_MS]: String(settings.labelWindowMs),
    [V.LOOKBACK_MS]: String(settings.lookbackMs),
  };
  if (settings.threshold !== undefined) environment[V.THRESHOLD] = String(settings.threshold);
  if (settings.positiveLabel !== undefined) environment[V.POSITIVE_LABEL] = settings.positiveLabel;
  if (settings.callTimeoutMs !== undefined) environment[V.CALL_TIMEOUT_MS] = String(settings.callTimeoutMs);
  if (settings.s3ForcePathStyle) environment[V.S3_FORCE_PATH_STYLE] = 'true';
  return environment;
}

/** Reads the label-join handler's settings from its environment; throws one error listing every problem. */
export function parseLabelJoinEnvironment(env: Environment): Required<Omit<LabelJoinSettings, 'positiveLabel'>> & Pick<LabelJoinSettings, 'positiveLabel'> {
  const read = new EnvironmentReader(env, LABEL_JOIN_HANDLER, 'the ModelQualityMonitor construct');
  const model = read.required(V.MODEL);
  const problem = read.choice<ProblemType>(V.PROBLEM, 'classification', PROBLEM_TYPES);
  if (read.optional(V.PROBLEM) === undefined) read.problem(`${V.PROBLEM} is not set; deploy it with the ModelQualityMonitor construct`);
  const threshold = read.number(V.THRESHOLD, 0.5, { min: 0, max: 1, integer: false });
  const positiveLabel = read.optional(V.POSITIVE_LABEL);
  const scoreOutput = read.required(V.SCORE_OUTPUT);
  const datasetBucketName = read.required(V.DATASET_BUCKET_NAME);
  const labelWindowMs = read.number(V.LABEL_WINDOW_MS, 86_400_000, { min: MIN_LABEL_WINDOW_MS, max: MAX_LOOKBACK_MS });
  const lookbackMs = read.number(V.LOOKBACK_MS, 7 * 86_400_000, { min: MIN_LABEL_WINDOW_MS, max: MAX_LOOKBACK_MS });
  for (const p of labelJoinWindowProblems(labelWindowMs, lookbackMs)) read.problem(p);
  const callTimeoutMs = read.number(V.CALL_TIMEOUT_MS, DEFAULT_LABEL_JOIN_CALL_TIMEOUT_MS, { min: 100, max: 2 ** 31 - 1 });
  const s3ForcePathStyle = read.bool(V.S3_FORCE_PATH_STYLE);
  read.throwIfProblems();
  return {
    model, problem, threshold, ...(positiveLabel === undefined ? {} : { positiveLabel }), scoreOutput, datasetBucketName,
    labelWindowMs, lookbackMs, callTimeoutMs, s3ForcePathStyle,
  };
}
