import { Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { DRIFT_HANDLER, driftEnvironment, DriftModelSettings } from '../../runtime/contracts/drift';
import { baselineModelPrefix, predictionLogModelPrefix } from '../../runtime/core/datasets';
import type { DriftOptions } from '../../runtime/core/drift/detect';
import { DriftMetrics, MetricDimensions, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { grantKeyViaService } from '../private/kms-grants';
import { createScheduledJob } from '../private/scheduled-job';
import { driftDetectorProblems } from '../private/validate-drift-detector-props';
import { nagResource, throwIfProblems } from '../private/validation';
import type { IInferenceGateway } from '../serving/inference-gateway';
import type { DataCaptureDestination, IModelEndpoint } from '../serving/model-endpoint-base';
import { AlarmActionProps } from './alarm-actions';
import { AlarmTopic } from './alarm-topic';
import type { IPredictionLogDataset } from './prediction-log-dataset';

/** Properties of a `DriftDetector`. */
export interface DriftDetectorProps extends AlarmActionProps {
  /** The prediction-log dataset: its prediction logs are read, and its baselines (`baselines/model=<m>/version=<v>/`). */
  readonly dataset: IPredictionLogDataset;
  /**
   * The model checked (the `model=` partition of its logs and baselines; the `Model` dimension of the metrics).
   * @default - the gateway's model name; one of `modelName` or `gateway` is required
   */
  readonly modelName?: string;
  /**
   * The gateway serving the model: its model name is the one checked.
   * @default - none; `modelName` is required
   */
  readonly gateway?: IInferenceGateway;
  /**
   * Feature names of the model's inputs by position of a row's flattened inputs, for rows logged as raw tensors
   * (the inference server's own log, data capture), so they line up with the baseline's `view:feature` columns.
   * @default - the gateway's `featureRefs` when `gateway` is given, else `<input>[<i>]`
   */
  readonly inputColumns?: string[];
  /**
   * Read the model's prediction logs in the dataset (the gateway's and the server's).
   * @default true
   */
  readonly predictionLogs?: boolean;
  /**
   * An endpoint whose SageMaker data capture is read too (or instead, with `predictionLogs: false`): its `dataCapture`
   * says where it lands, its name is the key segment after the prefix, its `modelVersions` the version of each variant.
   * Not for traffic the gateway's logs already hold: a sampled prediction would count twice.
   * @default - none
   */
  readonly dataCapture?: IModelEndpoint;
  /**
   * How often the check runs (whole minutes, 1 minute to 1 day): also the period of the `metric…` methods.
   * @default Duration.hours(1)
   */
  readonly schedule?: Duration;
  /**
   * The window each run checks, ending at the run's time. Longer than `schedule` smooths (windows overlap); shorter
   * samples.
   * @default - the schedule
   */
  readonly window?: Duration;
  /**
   * Methods and thresholds of the drift decision, per column (`view:feature`, `output:<name>`) and for the dataset.
   * @default - Evidently's defaults by type and sample size (runtime/core/drift/detect.ts)
   */
  readonly detection?: DriftOptions;
  /**
   * Memory of the function. The profiles are sketches (kilobytes per column, whatever the window's size); what the
   * memory buys is CPU: parsing JSON lines is the work, and 1,769 MB is one full vCPU.
   * @default DEFAULT_DRIFT_MEMORY (1769 MiB)
   */
  readonly memorySize?: Size;
  /**
   * Timeout of the function (30 seconds to 15 minutes): the read stops 10 seconds before it.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
}

/** The default memory of the drift function: one full vCPU (see `DriftDetectorProps.memorySize`). */
export const DEFAULT_DRIFT_MEMORY = Size.mebibytes(1769);
/** The default schedule (and window) of a drift check. */
export const DEFAULT_DRIFT_SCHEDULE = Duration.hours(1);

/**
 * A drift detector as monitoring uses it: its model, schedule and metrics. Every metric is one value per run; the
 * methods default to the statistic that reads it in one period of the schedule.
 */
export interface IDriftDetector extends IConstruct {
  /** The model checked: the `Model` dimension. */
  readonly modelName: string;
  /** How often the check runs: the default period of the metrics. */
  readonly schedule: Duration;
  /** The window each run checks. */
  readonly window: Duration;
  /** A drift metric of the model (`DriftMetrics`, dimension Model). @default - Maximum over the schedule */
  metric(metricName: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** A per-column metric (`DriftScore`, `Drifted`, `DataQualityIssues`; dimensions Model, Feature). @default - Maximum over the schedule */
  metricColumn(metricName: string, column: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Share of the model's features that drifted, percent (dataset drift at ≥ 50 by default). @default - Maximum over the schedule */
  metricDriftedFeatureShare(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Largest drift effect size among the model's outputs (prediction drift). @default - Maximum over the schedule */
  metricPredictionDriftScore(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Share of distinct top predictions, percent: a collapsing model falls. @default - Minimum over the schedule */
  metricPredictionDiversity(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Share of predictions whose top prediction is the most common one, percent: 100 is total collapse. @default - Maximum over the schedule */
  metricTopPredictionShare(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Columns with a data-quality issue (null-rate jump, out of range, unseen categories, type change). @default - Maximum over the schedule */
  metricDataQualityIssues(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Rows checked in the window: 0 means no traffic (or no baseline), not "no drift". @default - Maximum over the schedule */
  metricWindowRows(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/**
 * Checks a model's live inputs and outputs for drift against its baselines, on a schedule: a function run by an
 * EventBridge rule (`schedule`, default hourly) reads the `window` that ends at the run (default: the schedule) of the
 * model's prediction logs in the `dataset` and/or an endpoint's data capture, streaming, and compares each model
 * version's rows with that version's baseline (`npm run baseline`), per feature and output (Evidently's methods and
 * thresholds by default; `detection` overrides them per column). It publishes, per model and per column, drift
 * scores, drifted flags, data-quality issues, prediction drift, prediction diversity and the rows checked as EMF
 * metrics (`DriftMetrics`, namespace `MlPlatform`); `ModelMonitoring` alarms on them through the `metric…` methods.
 *
 * The function reads only its model's prefixes of the dataset (and the endpoint's capture prefix). A run that fails
 * (S3 unreachable, a deadline passed) is retried twice by Lambda; after that the event goes to `deadLetterQueue`.
 * Alarms on the function's errors and on that queue notify `alarmAction` (by default a new `alarmTopic`).
 */
export class DriftDetector extends Construct implements IDriftDetector {
  public readonly modelName: string;
  public readonly schedule: Duration;
  public readonly window: Duration;
  /** The function running the checks. */
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

  constructor(scope: Construct, id: string, props: DriftDetectorProps) {
    super(scope, id);
    const modelName = props.modelName ?? props.gateway?.modelName;
    this.schedule = props.schedule ?? DEFAULT_DRIFT_SCHEDULE;
    this.window = props.window ?? this.schedule;

    const endpoint = props.dataCapture;
    const capture = endpoint?.dataCapture;
    const inputColumns = props.inputColumns ?? (props.gateway ? [...props.gateway.featureRefs] : undefined);
    const model: DriftModelSettings = {
      model: modelName ?? '',
      ...(props.predictionLogs === false ? { predictionLogs: false } : {}),
      ...(inputColumns ? { inputColumns } : {}),
      ...(props.detection ? { detection: props.detection } : {}),
      ...(endpoint && capture ? {
        dataCapture: { bucket: capture.bucket.bucketName, prefix: capture.prefix, endpointName: endpoint.endpointName, modelVersions: endpoint.modelVersions },
      } : {}),
    };
    const environment = driftEnvironment({ models: [model], datasetBucketName: props.dataset.bucket.bucketName, windowMs: this.window.toMilliseconds() });
    throwIfProblems(this, driftDetectorProblems(props, modelName, environment, model));
    this.modelName = modelName!;
    const job = createScheduledJob(this, {
      alarmAction: props.alarmAction,
      handler: DRIFT_HANDLER,
      description: `Drift check of model ${this.modelName}: its prediction logs against its baselines, EMF metrics`,
      environment,
      memorySize: props.memorySize ?? DEFAULT_DRIFT_MEMORY,
      timeout: props.timeout ?? Duration.minutes(5),
      schedule: this.schedule,
      job: `drift check of model ${this.modelName}`,
      missing: 'its metrics are missing for this window',
      stopped: 'drift is not being checked',
    });
    [this.function, this.rule, this.deadLetterQueue, this.alarms, this.alarmAction, this.alarmTopic] = [
      job.function, job.rule, job.deadLetterQueue, job.alarms, job.alarmAction, job.alarmTopic,
    ];
    const baselines = baselineModelPrefix(this.modelName);
    props.dataset.grantRead(this.function, ...(props.predictionLogs === false ? [] : [predictionLogModelPrefix(this.modelName)]), baselines);
    if (endpoint && capture) this.grantReadCapture(capture, `${capture.prefix}/${endpoint.endpointName}/`);
  }

  public metric(metricName: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricWith(metricName, { [MetricDimensions.MODEL]: this.modelName }, options);
  }

  public metricColumn(metricName: string, column: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricWith(metricName, { [MetricDimensions.MODEL]: this.modelName, [MetricDimensions.FEATURE]: column }, options);
  }

  public metricDriftedFeatureShare(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DriftMetrics.DRIFTED_FEATURE_SHARE, options);
  }

  public metricPredictionDriftScore(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DriftMetrics.PREDICTION_DRIFT_SCORE, options);
  }

  public metricPredictionDiversity(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DriftMetrics.PREDICTION_DIVERSITY, { statistic: cloudwatch.Stats.MINIMUM, ...options });
  }

  public metricTopPredictionShare(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DriftMetrics.TOP_PREDICTION_SHARE, { statistic: cloudwatch.Stats.MAXIMUM, ...options });
  }

  public metricDataQualityIssues(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DriftMetrics.COLUMNS_WITH_QUALITY_ISSUES, options);
  }

  public metricWindowRows(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(DriftMetrics.WINDOW_ROWS, options);
  }

  private metricWith(metricName: string, dimensionsMap: Record<string, string>, options: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap, statistic: cloudwatch.Stats.MAXIMUM, period: this.schedule, ...options });
  }

  /** Reading the captured objects under `prefix` (and listing only it), decrypting through S3 only. */
  private grantReadCapture(capture: DataCaptureDestination, prefix: string): void {
    const { bucket } = capture;
    iam.Grant.addToPrincipal({ grantee: this.function, actions: ['s3:GetObject'], resourceArns: [bucket.arnForObjects(`${prefix}*`)] });
    iam.Grant.addToPrincipal({
      grantee: this.function, actions: ['s3:ListBucket'], resourceArns: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    });
    const key = capture.encryptionKey ?? bucket.encryptionKey;
    if (key) grantKeyViaService(key, this.function, 's3', 'kms:Decrypt');
    const bucketArn = nagResource(Stack.of(this).resolve(bucket.bucketArn));
    Validations.of(this.function.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}*]`,
      reason: 'SageMaker writes captured objects under keys it generates (variant/date/hour/uuid): the function reads that endpoint\'s capture prefix only',
    });
  }
}
