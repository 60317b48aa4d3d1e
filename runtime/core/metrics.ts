/**
 * The platform's one metrics module: the CloudWatch namespace, metric names and dimensions our runtime emits, and
 * the Embedded Metric Format (EMF) encoder that emits them from Lambda logs. Constructs build their alarms and
 * dashboards from these same names, so a rename cannot split producer and consumer.
 * Pure TypeScript: no AWS SDK, no CDK.
 */
import type { PriorityTierName } from './tiers';

/** CloudWatch namespace of every metric our runtime emits. */
export const METRICS_NAMESPACE = 'MlPlatform';

/** Dimension names. */
export const MetricDimensions = {
  MODEL: 'Model',
  VARIANT: 'Variant',
  FEATURE_VIEW: 'FeatureView',
  FEATURE: 'Feature',
} as const;

/** `Variant` dimension value of predictions no variant is named for (a single-variant model). */
export const DEFAULT_VARIANT = 'default';

/** `FeatureView` dimension value of records whose envelope names no view the materializer serves. */
export const UNKNOWN_FEATURE_VIEW = '_unknown';

/** Metric names emitted by the feature materializer (dimension: FeatureView). */
export const MaterializerMetrics = {
  /** Records taken from the stream (valid or not). */
  RECORDS_RECEIVED: 'RecordsReceived',
  /** Valid rows stored (offline rows written; every one was offered to the online store). */
  ROWS_STORED: 'RowsStored',
  /** Rows that became the online value (newer than what the online store held). */
  ONLINE_APPLIED: 'OnlineRowsApplied',
  /** Rows the online store refused because it already held a newer or equal event time (out of order or replayed). */
  ONLINE_STALE: 'OnlineRowsStale',
  /** Invalid records written to the dead-letter location. */
  DEAD_LETTERED: 'RecordsDeadLettered',
  /** Milliseconds from event time to online write, per batch maximum. */
  FRESHNESS_LAG_MS: 'FreshnessLagMs',
  /**
   * Milliseconds from the newest event time materialized in a batch to its write, per view: how old the freshest
   * value is. A producer that goes silent stops this metric, so alarms on it treat missing data as breaching.
   */
  NEWEST_EVENT_AGE_MS: 'NewestEventAgeMs',
} as const;

/**
 * Feature values the gateway served, by status, per view, summed over an interval (dimensions: Model, FeatureView): the share
 * served `PRESENT` is the feature store's availability as the model sees it.
 */
export const FeatureServingMetrics = {
  /** Values served as stored (`PRESENT`). */
  PRESENT: 'FeatureValuesPresent',
  /** Values the store did not hold (`NOT_FOUND`). */
  NOT_FOUND: 'FeatureValuesNotFound',
  /** Values older than the view's TTL (`OUTSIDE_MAX_AGE`). */
  OUTSIDE_MAX_AGE: 'FeatureValuesOutsideMaxAge',
  /** Values served as the feature's declared fallback (`FALLBACK`). */
  FALLBACK: 'FeatureValuesFallback',
} as const;

/** CloudWatch units used by our metrics. */
export type MetricUnit = 'Count' | 'Milliseconds' | 'Seconds' | 'Percent' | 'None';

/** One metric value to emit. */
export interface MetricDatum {
  readonly name: string;
  readonly value: number;
  readonly unit: MetricUnit;
}

/** Largest magnitude a metric value is published at: CloudWatch rejects values beyond ±2^360 (and below 2^-360). */
export const MAX_METRIC_MAGNITUDE = 1e100;

/**
 * A value as CloudWatch accepts it: beyond ±`MAX_METRIC_MAGNITUDE` (±Infinity included) clamped to it, so an alarm on
 * a metric that exploded (an RMSE of garbage scores) still sees a huge value instead of a line CloudWatch drops; a
 * magnitude below 1e-100 is 0; NaN is no value (left out of the line).
 */
export function cloudWatchValue(value: number): number | undefined {
  if (Number.isNaN(value)) return undefined;
  if (Math.abs(value) > MAX_METRIC_MAGNITUDE) return Math.sign(value) * MAX_METRIC_MAGNITUDE;
  return Math.abs(value) < 1 / MAX_METRIC_MAGNITUDE ? 0 : value;
}

/**
 * Encodes metrics as one EMF log line (CloudWatch extracts them from the Lambda log; no API call on the request
 * path). All metrics in one line share the dimensions. With several dimensions, the metrics are published under the
 * full set and under the first dimension alone (e.g. `{Model, Variant}` and `{Model}`), so alarms and dashboards can
 * read the per-model rollup: CloudWatch matches a metric's dimension set exactly. Values go through `cloudWatchValue`.
 */
export function toEmf(
  dimensions: Record<string, string>,
  metrics: readonly MetricDatum[],
  options: { namespace?: string; timestampMs?: number; properties?: Record<string, unknown> } = {},
): string {
  const values: Record<string, number> = {};
  const kept: MetricDatum[] = [];
  for (const m of metrics) {
    const value = cloudWatchValue(m.value);
    if (value === undefined) continue;
    values[m.name] = value;
    kept.push(m);
  }
  return JSON.stringify({
    _aws: {
      Timestamp: options.timestampMs ?? Date.now(),
      CloudWatchMetrics: [{
        Namespace: options.namespace ?? METRICS_NAMESPACE,
        Dimensions: dimensionSets(Object.keys(dimensions)),
        Metrics: kept.map((m) => ({ Name: m.name, Unit: m.unit })),
      }],
    },
    ...dimensions,
    ...values,
    ...options.properties,
  });
}

/** Metric names emitted by the inference gateway (dimensions: Model, Variant). */
export const GatewayMetrics = {
  /** Requests answered with the model's output. */
  PREDICTIONS: 'Predictions',
  /** Requests answered with the configured fallback (marked `fallback: true`). */
  FALLBACKS: 'FallbackAnswers',
  /** Requests shed by admission control (429). */
  SHED: 'ShedRequests',
  /** Requests refused as invalid (400). */
  INVALID: 'InvalidRequests',
  /** Requests for a model the gateway does not serve (404). */
  UNKNOWN_MODEL: 'UnknownModelRequests',
  /** Requests the gateway failed unexpectedly (500): a defect or a failing port; the cause is in the gateway's log. */
  INTERNAL_ERRORS: 'GatewayInternalErrors',
  /** Model calls that failed (error, overload or deadline). */
  MODEL_FAILURES: 'ModelCallFailures',
  /** Model call latency, milliseconds. */
  MODEL_LATENCY_MS: 'ModelLatencyMs',
  /** Online feature lookup latency, milliseconds. */
  FEATURE_LATENCY_MS: 'FeatureLookupLatencyMs',
  /** End-to-end gateway latency, milliseconds. */
  LATENCY_MS: 'GatewayLatencyMs',
  /** Answers served from the prediction cache. */
  CACHE_HITS: 'PredictionCacheHits',
  /** Requests answered 429 because the model refused their call (after a feature read and a model call). */
  MODEL_OVERLOADED: 'ModelOverloadedRequests',
  /** Time to parse the request and decide admission, milliseconds. */
  ADMISSION_MS: 'AdmissionMs',
  /** Time to write the prediction-log record (and deliver it, where the gateway must before answering), milliseconds. */
  LOG_WRITE_MS: 'PredictionLogWriteMs',
  /** Time to serialize the response body, milliseconds. */
  SERIALIZATION_MS: 'ResponseSerializationMs',
  /** The gateway's own time: `GatewayLatencyMs` less the feature read and the model call, milliseconds. */
  OVERHEAD_MS: 'GatewayOverheadMs',
  /** Prediction-log records lost in failed deliveries (the stream refused them or could not be reached). */
  LOG_DELIVERY_FAILURES: 'PredictionLogDeliveryFailures',
  /** Prediction-log records dropped because the log buffer was full. */
  LOG_RECORDS_DROPPED: 'PredictionLogRecordsDropped',
  /** Reads of the routing table that failed (the gateway kept the last weights it read, or the deployed ones). */
  ROUTING_READ_FAILURES: 'RoutingReadFailures',
  /**
   * Requests assigned by the deployed weights because the routing table's names other variants than the gateway
   * serves (a variant renamed or replaced without the table following): the table is ignored until it matches.
   */
  ROUTING_WEIGHTS_IGNORED: 'RoutingWeightsIgnored',
} as const;

/**
 * Metric names of the gateway's shadow calls (dimensions: Model, Variant = the shadow variant), one line per request
 * copied to the shadow: what a rollout's shadow exit criteria read. Requests compared: `SampleCount` of
 * `SHADOW_DIVERGENCE`; divergence: its `Average` (or a percentile); the shadow's latency: `p99` of `SHADOW_LATENCY_MS`
 * against the served variant's `ModelLatencyMs`; its failure rate: `Sum(SHADOW_FAILURES) / Sum(SHADOW_REQUESTS)`.
 */
export const ShadowMetrics = {
  /** Requests copied to the shadow variant (one per shadow call). */
  SHADOW_REQUESTS: 'ShadowRequests',
  /** Shadow calls that failed or did not answer within the request's deadline: 1, or 0 when it answered (Average is the failure rate). */
  SHADOW_FAILURES: 'ShadowFailures',
  /** The shadow call's latency, milliseconds (answered calls only). */
  SHADOW_LATENCY_MS: 'ShadowLatencyMs',
  /**
   * |shadow − served| on the first element of the served answer's first output (in the model's output order), per
   * request where both the served variant and the shadow answered with a finite number there (not a fallback).
   */
  SHADOW_DIVERGENCE: 'ShadowDivergence',
  /**
   * How long the answer waited for the shadow after the served variant had answered, milliseconds (0 when the shadow
   * was first): the latency shadowing adds, bounded by the shadow budget (the served call's latency plus
   * `SHADOW_WAIT_MARGIN_MS`, never past the deadline); fallback and refused answers do not wait.
   */
  SHADOW_WAIT_MS: 'ShadowWaitMs',
} as const;

/** The dimension sets `toEmf` publishes: the full set, plus the first dimension alone when there are several. */
export function dimensionSets(names: readonly string[]): string[][] {
  return names.length > 1 ? [[...names], [names[0]]] : [[...names]];
}

/**
 * Names on the inference server's Prometheus endpoint (`GET /metrics`) that something outside the server reads: the
 * Kubernetes chart autoscales on the queue depth (prometheus-adapter or KEDA).
 */
export const InferenceServerPrometheusMetrics = {
  /** Gauge: requests waiting in the server's queue, by `priority` level (1 = highest). */
  QUEUE_DEPTH: 'inference_queue_depth',
} as const;

/**
 * Metric names the inference server emits as EMF lines on its stdout (dimensions: Model, Variant; also Model alone),
 * for what alarms, autoscaling and rollouts need beyond the endpoint's own SageMaker metrics; its Prometheus
 * `/metrics` carries the same counts for scrapers. Except `WARMUP_FAILURES`, all come in one line per interval
 * (`INFERENCE_METRICS_INTERVAL_S`, default 60 s) and one last line when the server stops: counts are what happened
 * in that interval (deltas, not running totals), gauges what was seen during it.
 */
export const InferenceServerMetrics = {
  /**
   * Worker warm-ups whose synthesized inputs the model rejected, emitted once at start when any did: the server serves,
   * but its first requests pay the warm-up; a warm-up sample next to the model avoids it.
   */
  WARMUP_FAILURES: 'InferenceWarmupFailures',
  /** Inference requests answered, any outcome. */
  REQUESTS: 'InferenceRequests',
  /** Requests answered with the model's outputs. */
  SUCCEEDED: 'InferenceRequestsSucceeded',
  /** Requests refused on arrival: the queue was full for their priority, or the server was not ready (503/429). */
  REJECTED: 'InferenceRequestsRejected',
  /** Requests queued, then evicted for a higher-priority one (429). */
  SHED: 'InferenceRequestsShed',
  /** Requests whose deadline passed before they were answered (504). */
  DEADLINE_EXPIRED: 'InferenceDeadlinesExpired',
  /** Requests refused as invalid (4xx). */
  INVALID: 'InferenceRequestsInvalid',
  /** Requests the server failed (500): the detail is in its log under the request id. */
  ERRORS: 'InferenceErrors',
  /** Most requests queued at once (all priorities): the leading signal to scale on, before latency rises. */
  QUEUE_DEPTH_MAX: 'InferenceQueueDepthMax',
  /** Mean queue depth seen by arriving requests (all priorities). */
  QUEUE_DEPTH_AVG: 'InferenceQueueDepthAvg',
  /** Batches run (by a worker, or inline). */
  BATCHES: 'InferenceBatches',
  /** Mean rows per batch. */
  BATCH_SIZE_AVG: 'InferenceBatchSizeAvg',
  /** Most rows in one batch. */
  BATCH_SIZE_MAX: 'InferenceBatchSizeMax',
  /** Batches (lone requests of a tiny model) run on the main thread rather than a worker. */
  INLINE_RUNS: 'InferenceInlineRuns',
  /** Workers replaced after dying. */
  WORKER_RESTARTS: 'InferenceWorkerRestarts',
  /** Mean server time of successful requests, per priority tier, milliseconds (absent when a tier had none). */
  LATENCY_AVG_MS: { critical: 'InferenceLatencyCriticalAvgMs', standard: 'InferenceLatencyStandardAvgMs', batch: 'InferenceLatencyBatchAvgMs' },
  /** Longest server time of a successful request, per priority tier, milliseconds (absent when a tier had none). */
  LATENCY_MAX_MS: { critical: 'InferenceLatencyCriticalMaxMs', standard: 'InferenceLatencyStandardMaxMs', batch: 'InferenceLatencyBatchMaxMs' },
} as const satisfies Record<string, string | Record<PriorityTierName, string>>;

/** Metric names emitted by the cost guard's degrade function (dimension: `DegradeMetricDimensions.LEDGER`). */
export const DegradeMetrics = {
  /**
   * Messages on the budget topic that are neither a budget notification the function can read nor a CloudWatch alarm:
   * above 0, a changed AWS Budgets format may have disabled the degrade.
   */
  UNPARSED_NOTIFICATIONS: 'DegradeUnparsedNotifications',
} as const;

/** Dimension names of `DegradeMetrics`. */
export const DegradeMetricDimensions = {
  /** The degrade's ledger table name: one per BudgetDegrade. */
  LEDGER: 'DegradeLedger',
} as const;

/**
 * Metric names emitted by the drift detector, one EMF line per run (dimensions: Model, and Model + Feature for the
 * per-column ones). "Column" is a feature or a model output (outputs are named `output:<name>`).
 */
export const DriftMetrics = {
  /** Per column: the score of the column's decision method (Wasserstein, Jensen–Shannon, KS, chi-square, PSI). */
  DRIFT_SCORE: 'DriftScore',
  /** Per column: 1 when the column drifted (its decision crossed its threshold), else 0. */
  DRIFTED: 'Drifted',
  /** Per column: data-quality problems found (null-rate jump, out of range, unseen categories, type change, constant). */
  QUALITY_ISSUES: 'DataQualityIssues',
  /** Per model: share of the model's feature columns that drifted, percent (Evidently's dataset drift reads this). */
  DRIFTED_FEATURE_SHARE: 'DriftedFeatureSharePercent',
  /** Per model: 1 when any model output drifted (prediction drift: the earliest signal while labels are late). */
  PREDICTION_DRIFTED: 'PredictionDrifted',
  /** Per model: the largest drift score among the model outputs. */
  PREDICTION_DRIFT_SCORE: 'PredictionDriftScore',
  /** Per model: share of distinct top predictions among the window's predictions, percent (a collapsing model falls). */
  PREDICTION_DIVERSITY: 'PredictionDiversityPercent',
  /**
   * Per model: share of the window's predictions whose top prediction is the most common one, percent — 100 is total
   * collapse. Unlike the diversity it does not shrink as the window grows, so alarms read this one.
   */
  TOP_PREDICTION_SHARE: 'TopPredictionSharePercent',
  /** Per model: feature and output columns with any data-quality problem. */
  COLUMNS_WITH_QUALITY_ISSUES: 'ColumnsWithDataQualityIssues',
  /** Per model: rows (predictions) read in the window. */
  WINDOW_ROWS: 'DriftWindowRows',
  /** Per model: lines of the window that could not be read as a prediction (skipped, counted). */
  UNREADABLE_RECORDS: 'DriftUnreadableRecords',
} as const;

/** Metric names emitted by the label ingestion (dimension: Model). */
export const LabelMetrics = {
  /** Label records received (valid or not). */
  RECEIVED: 'LabelsReceived',
  /** Valid labels stored in the label dataset. */
  STORED: 'LabelsStored',
  /** Invalid label records sent to the dead-letter queue with their reason. */
  DEAD_LETTERED: 'LabelsDeadLettered',
} as const;

/**
 * Metric names emitted by the scheduled label join, per model and variant (dimensions: Model, Variant; also Model
 * alone): rolling model quality over the predictions labelled in the window.
 */
export const ModelQualityMetrics = {
  /** Predictions joined with a label. */
  LABELLED: 'LabelledPredictions',
  /** Share of the lookback's predictions that have a label (one that arrived in the lookback), percent. */
  COVERAGE: 'LabelCoveragePercent',
  /** Mean delay from prediction to label, seconds. */
  LABEL_DELAY_AVG_S: 'LabelDelayAvgSeconds',
  /** Longest delay from prediction to label, seconds. */
  LABEL_DELAY_MAX_S: 'LabelDelayMaxSeconds',
  /** Classification: share of correct predictions at the threshold, percent. */
  ACCURACY: 'AccuracyPercent',
  /** Classification: precision at the threshold, percent. */
  PRECISION: 'PrecisionPercent',
  /** Classification: recall at the threshold, percent. */
  RECALL: 'RecallPercent',
  /** Classification: area under the ROC curve (0–1). */
  AUC: 'Auc',
  /** Classification: expected calibration error (0–1). */
  ECE: 'ExpectedCalibrationError',
  /** Classification: Brier score (0–1). */
  BRIER: 'BrierScore',
  /** Regression: mean absolute error. */
  MAE: 'MeanAbsoluteError',
  /** Regression: root mean squared error. */
  RMSE: 'RootMeanSquaredError',
  /**
   * How much worse the primary metric (AUC for classification, RMSE for regression) is than the baseline's, percent of
   * the baseline's value (0 when better); absent when the baseline has no quality metrics.
   */
  QUALITY_DROP: 'QualityDropPercent',
} as const;
