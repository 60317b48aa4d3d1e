import { Duration, Size } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { LABEL_JOIN_HANDLER, labelJoinEnvironment } from '../../runtime/contracts/label-join';
import { baselineModelPrefix, labelModelPrefix, predictionLogModelPrefix } from '../../runtime/core/datasets';
import { MetricDimensions, METRICS_NAMESPACE, ModelQualityMetrics } from '../../runtime/core/metrics';
import type { ProblemType } from '../../runtime/core/model-quality';
import { createScheduledJob } from '../private/scheduled-job';
import { modelQualityMonitorProblems } from '../private/validate-model-quality-monitor-props';
import { throwIfProblems } from '../private/validation';
import type { IInferenceGateway } from '../serving/inference-gateway';
import { AlarmActionProps } from './alarm-actions';
import { AlarmTopic } from './alarm-topic';
import type { IPredictionLogDataset } from './prediction-log-dataset';

/** Properties of a `ModelQualityMonitor`. */
export interface ModelQualityMonitorProps extends AlarmActionProps {
  /** The dataset: its prediction logs, labels and baselines (`baselines/model=<m>/version=<v>/`) are read. */
  readonly dataset: IPredictionLogDataset;
  /**
   * The model monitored: the `model=` partition of the dataset and the `Model` metric dimension.
   * @default - the gateway's `modelName` (give one of `modelName` or `gateway`)
   */
  readonly modelName?: string;
  /**
   * The gateway serving the model (its `modelName` is used).
   * @default - none: give `modelName`
   */
  readonly gateway?: IInferenceGateway;
  /** `classification` (the score is the probability of the positive class, 0–1) or `regression` (the predicted value). */
  readonly problem: ProblemType;
  /**
   * Classification: score at or above which a prediction is the positive class.
   * @default 0.5
   */
  readonly threshold?: number;
  /**
   * Classification: the class name that is positive, for labels sent as strings (booleans and 0/1 need none).
   * @default - string labels are not usable (counted in the run's summary)
   */
  readonly positiveLabel?: string;
  /**
   * The model output that is the score: an output name (scalar or one-element, e.g. `score`) or `<name>[<i>]` for an
   * element of a vector output (e.g. `probabilities[1]`), as the drift profile names output columns.
   */
  readonly scoreOutput: string;
  /**
   * How often the join runs: also the period of the metrics.
   * @default Duration.hours(1)
   */
  readonly schedule?: Duration;
  /**
   * Labels that arrived (`receivedAt`; `labelTime` for labels stored without one) in this window before each run make
   * the quality metrics and the label delay.
   * At least the schedule, so every label is joined at least once.
   * @default Duration.days(1)
   */
  readonly labelWindow?: Duration;
  /**
   * Predictions of this window before each run are read: the oldest prediction a label can still find (the longest
   * label delay measured), and the coverage (labelled by a label that arrived in it ÷ its predictions). At least
   * `labelWindow`.
   * @default Duration.days(7)
   */
  readonly lookback?: Duration;
  /**
   * Memory of the function: labels are held (about 200 bytes each), predictions stream.
   * @default Size.mebibytes(1024)
   */
  readonly memorySize?: Size;
  /**
   * Timeout of the function (its reads stop 10 s before it).
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
}

/** The default schedule of the label join. */
export const DEFAULT_QUALITY_SCHEDULE = Duration.hours(1);
/** The default label window. */
export const DEFAULT_LABEL_WINDOW = Duration.days(1);
/** The default lookback. */
export const DEFAULT_QUALITY_LOOKBACK = Duration.days(7);

/**
 * A model's quality from ground truth, as metrics to alarm on (`ModelQualityMetrics`, namespace METRICS_NAMESPACE).
 * Each run emits one line per variant (dimensions Model + Variant) and CloudWatch also files it under Model alone:
 * per-model metrics are therefore the variants' values, and each method's default statistic picks the one that
 * matters (the worst variant: Minimum of AUC, Maximum of the drop).
 */
export interface IModelQualityMonitor extends IConstruct {
  /** The model monitored: the `Model` dimension. */
  readonly modelName: string;
  /** How often the join runs: the default period of the metrics. */
  readonly schedule: Duration;
  /** Classification or regression (which metrics exist). */
  readonly problem: ProblemType;
  /** A quality metric of the model (`ModelQualityMetrics`, dimension Model). @default - Average over the schedule */
  metric(metricName: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** A quality metric of one variant (dimensions Model, Variant). @default - Average over the schedule */
  metricVariant(metricName: string, variant: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /**
   * How much worse than the baseline of its model version, percent (AUC for classification, RMSE for regression); 0
   * when as good or better; missing without a baseline or labels. @default - Maximum over the schedule (worst variant)
   */
  metricQualityDrop(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Share of the lookback's predictions that a label of the lookback reached, percent. @default - Minimum over the schedule */
  metricCoverage(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Predictions joined with a label. @default - Sum over the schedule (all variants) */
  metricLabelled(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Longest delay from prediction to label, seconds. @default - Maximum over the schedule */
  metricLabelDelay(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Classification: ROC AUC (0–1). @default - Minimum over the schedule */
  metricAuc(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Classification: accuracy at the threshold, percent. @default - Minimum over the schedule */
  metricAccuracy(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Classification: expected calibration error (0–1). @default - Maximum over the schedule */
  metricCalibrationError(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Classification: Brier score (0–1). @default - Maximum over the schedule */
  metricBrierScore(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Regression: root mean squared error. @default - Maximum over the schedule */
  metricRmse(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Regression: mean absolute error. @default - Maximum over the schedule */
  metricMae(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/**
 * Model quality from ground truth, on a schedule: a function (EventBridge rate) that joins the labels that arrived in
 * the label window with the prediction logs of the lookback (by request id, or by entity + event time), per variant,
 * and publishes accuracy / precision / recall / AUC / ECE / Brier (classification) or MAE / RMSE (regression), the
 * label delay and coverage, and the drop against the baseline of the variant's model version (runtime/core/label-join.ts).
 * It may read only the model's prefixes of the dataset. Alarms on the function's failures and on runs given up (the
 * dead-letter queue) notify `alarmAction` (by default a new `AlarmTopic`, `alarmTopic`) of ALARM and OK; alarms on
 * the quality itself belong to `ModelMonitoring`, from the metric methods.
 */
export class ModelQualityMonitor extends Construct implements IModelQualityMonitor {
  public readonly modelName: string;
  public readonly schedule: Duration;
  public readonly problem: ProblemType;
  /** The label window of each run. */
  public readonly labelWindow: Duration;
  /** The lookback of each run. */
  public readonly lookback: Duration;
  /** The function running the join. */
  public readonly function: lambda.Function;
  /** The EventBridge rule running it. */
  public readonly rule: events.Rule;
  /** Runs that failed after Lambda's retries (and events EventBridge could not deliver). */
  public readonly deadLetterQueue: sqs.Queue;
  /** The function failed; the dead-letter queue is not empty. */
  public readonly alarms: cloudwatch.Alarm[];
  /** Where every alarm sends its ALARM and OK transitions: `alarmAction`, or `alarmTopic`. */
  public readonly alarmAction: cloudwatch.IAlarmAction;
  /** The topic created for the alarms when no `alarmAction` was given: subscribe to it. */
  public readonly alarmTopic?: AlarmTopic;

  constructor(scope: Construct, id: string, props: ModelQualityMonitorProps) {
    super(scope, id);
    const modelName = props.modelName ?? props.gateway?.modelName;
    this.schedule = props.schedule ?? DEFAULT_QUALITY_SCHEDULE;
    this.labelWindow = props.labelWindow ?? DEFAULT_LABEL_WINDOW;
    this.lookback = props.lookback ?? DEFAULT_QUALITY_LOOKBACK;
    throwIfProblems(this, modelQualityMonitorProblems(props, { modelName, schedule: this.schedule, labelWindow: this.labelWindow, lookback: this.lookback }));
    this.modelName = modelName!;
    this.problem = props.problem;

    const job = createScheduledJob(this, {
      alarmAction: props.alarmAction,
      handler: LABEL_JOIN_HANDLER,
      description: `Model quality of ${this.modelName}: joins its labels with its prediction logs, EMF metrics per variant`,
      environment: labelJoinEnvironment({
        model: this.modelName, problem: props.problem, threshold: props.threshold, positiveLabel: props.positiveLabel, scoreOutput: props.scoreOutput,
        datasetBucketName: props.dataset.bucket.bucketName, labelWindowMs: this.labelWindow.toMilliseconds(), lookbackMs: this.lookback.toMilliseconds(),
      }),
      memorySize: props.memorySize ?? Size.mebibytes(1024),
      timeout: props.timeout ?? Duration.minutes(5),
      schedule: this.schedule,
      job: `label join (model quality) of model ${this.modelName}`,
      missing: 'its quality metrics are missing for this run',
      stopped: 'model quality is not being measured',
    });
    [this.function, this.rule, this.deadLetterQueue, this.alarms, this.alarmAction, this.alarmTopic] = [
      job.function, job.rule, job.deadLetterQueue, job.alarms, job.alarmAction, job.alarmTopic,
    ];
    props.dataset.grantRead(this.function, predictionLogModelPrefix(this.modelName), labelModelPrefix(this.modelName), baselineModelPrefix(this.modelName));
  }

  public metric(metricName: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricWith(metricName, { [MetricDimensions.MODEL]: this.modelName }, options);
  }

  public metricVariant(metricName: string, variant: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricWith(metricName, { [MetricDimensions.MODEL]: this.modelName, [MetricDimensions.VARIANT]: variant }, options);
  }

  public metricQualityDrop(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.QUALITY_DROP, { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }

  public metricCoverage(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.COVERAGE, { statistic: cloudwatch.Stats.MINIMUM, ...options });
  }

  public metricLabelled(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.LABELLED, { statistic: cloudwatch.Stats.SUM, ...options });
  }

  public metricLabelDelay(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.LABEL_DELAY_MAX_S, { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }

  public metricAuc(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.AUC, { statistic: cloudwatch.Stats.MINIMUM, ...options });
  }

  public metricAccuracy(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.ACCURACY, { statistic: cloudwatch.Stats.MINIMUM, ...options });
  }

  public metricCalibrationError(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.ECE, { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }

  public metricBrierScore(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.BRIER, { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }

  public metricRmse(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.RMSE, { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }

  public metricMae(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(ModelQualityMetrics.MAE, { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }

  private metricWith(metricName: string, dimensionsMap: Record<string, string>, options: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap, statistic: cloudwatch.Stats.AVERAGE, period: this.schedule, ...options });
  }
}
