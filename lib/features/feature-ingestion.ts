import { Annotations, Duration, Names, Size, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { MATERIALIZER_HANDLER, materializerEnvironment } from '../../runtime/contracts/materializer';
import { MaterializerMetrics, MetricDimensions, METRICS_NAMESPACE, UNKNOWN_FEATURE_VIEW } from '../../runtime/core/metrics';
import { createFeatureStream, grantEventSourceRead, grantStreamPut, PRODUCER_ACTIONS } from '../private/feature-streams';
import { createHandlerFunction } from '../private/handler-function';
import { AlarmActionProps } from '../monitoring/alarm-actions';
import { AlarmTopic } from '../monitoring/alarm-topic';
import { alarmActionOf, notifyOnStateChanges } from '../private/alarm-actions';
import { grantKeyViaService } from '../private/kms-grants';
import { validateFeatureIngestionProps } from '../private/validate-feature-ingestion-props';
import { concreteSeconds, throwIfProblems } from '../private/validation';
import { IFeatureStore } from './feature-store-base';
import { FeatureView } from './feature-view';
import { createDeadLetterQueue, sendOnlyDestination } from '../private/dead-letter';

/**
 * A streaming ingestion into a feature store: what producers, operators and monitoring use.
 */
export interface IFeatureIngestion extends IConstruct {
  /** The stream producers write `FeatureRecordEnvelope`s to (runtime/contracts/feature-record.ts). */
  readonly stream: kinesis.IStream;
  /** The store written to. */
  readonly store: IFeatureStore;
  /** The views materialized. */
  readonly views: FeatureView[];
  /**
   * The materializer's dead-letter queue for whole batches: receives the stream positions of batches that still
   * failed after the retries. (Invalid records are dead-lettered one by one under `dead-letter/` in the store's
   * bucket: `metricDeadLettered`.)
   */
  readonly onFailureQueue: sqs.IQueue;
  /** Every alarm of the ingestion. */
  readonly alarms: cloudwatch.IAlarm[];
  /** Where every alarm sends its ALARM and OK transitions. */
  readonly alarmAction: cloudwatch.IAlarmAction;

  /** Grants producers what they may call on the stream, and data-key generation with its key through Kinesis only. */
  grantPut(grantee: iam.IGrantable): iam.Grant;
  /** Grants an operator what `npm run replay` needs to re-drive failed batches. */
  grantReplay(grantee: iam.IGrantable): iam.Grant;
  /** How far materialization is behind the stream, milliseconds (Lambda `IteratorAge`). @default - Maximum over 1 minute */
  metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Invalid records of a view dead-lettered (`RecordsDeadLettered`). @default - Sum over 1 minute */
  metricDeadLettered(view: FeatureView, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Records naming no view this ingestion serves, dead-lettered (`RecordsDeadLettered` of `_unknown`). @default - Sum over 1 minute */
  metricUnknownViewDeadLettered(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Batches given up on: messages visible in the on-failure queue. @default - Maximum over 1 minute */
  metricFailedBatches(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Failed invocations of the materializer (batches being retried). @default - Sum over 1 minute */
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** Properties of a `FeatureIngestion`. */
export interface FeatureIngestionProps extends AlarmActionProps {
  /** The store the views are materialized into: a `FeatureStore`, or one imported with `FeatureStore.fromFeatureStoreAttributes`. */
  readonly store: IFeatureStore;
  /** The views this ingestion materializes; each must be a view of `store`. */
  readonly views: FeatureView[];
  /**
   * The stream producers write to: one JSON envelope `{view, version, record}` per Kinesis record. An imported
   * stream encrypted with a customer-managed key must be imported with that key (`Stream.fromStreamAttributes`).
   * @default - a new stream encrypted with the store's key
   */
  readonly stream?: kinesis.IStream;
  /**
   * Capacity mode of the stream this construct creates.
   * @default kinesis.StreamMode.ON_DEMAND
   */
  readonly streamMode?: kinesis.StreamMode;
  /**
   * Shards of the stream this construct creates, with `StreamMode.PROVISIONED` only.
   * @default 1
   */
  readonly shardCount?: number;
  /**
   * Retention of the stream this construct creates (24 hours to 365 days): how long a failed batch stays
   * replayable from the pointers in the on-failure queue.
   * @default Duration.hours(24)
   */
  readonly streamRetention?: Duration;
  /**
   * Records per Lambda invocation (1 to 10,000).
   * @default 500
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers records before invoking (at most 5 minutes). Every view's freshness objective must be
   * longer than this.
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Concurrent batches per shard (1 to 10); records of one entity key stay ordered.
   * @default 1
   */
  readonly parallelizationFactor?: number;
  /**
   * Retries of a failed batch (0 to 10,000) before its pointers go to the on-failure queue. Bounded so that one
   * poison batch cannot block its shard; invalid records never fail a batch (they are dead-lettered to S3).
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this are not retried but sent to the on-failure queue (1 minute to 7 days).
   * @default Duration.hours(6)
   */
  readonly maxRecordAge?: Duration;
  /**
   * Where in the stream a new mapping starts.
   * @default lambda.StartingPosition.TRIM_HORIZON (nothing produced before the deployment is skipped)
   */
  readonly startingPosition?: lambda.StartingPosition;
  /**
   * Memory of the materializer function (128 MiB to 10,240 MiB).
   * @default Size.mebibytes(512)
   */
  readonly memorySize?: Size;
  /**
   * Timeout of one materializer invocation (at most 15 minutes).
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;
  /**
   * Concurrency reserved for (and capping) the materializer.
   * @default - unreserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Retention of the materializer's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * X-Ray tracing of the materializer.
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;
}

/** Period of every alarm. */
const ALARM_PERIOD = Duration.minutes(1);

/**
 * Streaming materialization: a Kinesis stream that producers write feature records to, and a Lambda function
 * (the `materializer-handler` Lambda handler) that validates each record against its view, writes valid rows to the online
 * table (newer event time wins) and to the offline Parquet history, and dead-letters invalid ones under
 * `dead-letter/` in the store's bucket.
 *
 * The event source bisects failing batches, reports partial batch failures, retries a bounded number of times and
 * sends the pointers of what still fails to an encrypted SQS on-failure queue. Alarms: iterator age above the
 * smallest freshness objective of the views, dead-lettered records per view, handler errors and a non-empty
 * on-failure queue; each notifies `alarmAction` (by default a new encrypted SNS topic, `alarmTopic`) when it fires
 * and when it recovers.
 */
export class FeatureIngestion extends Construct implements IFeatureIngestion {
  /** The stream producers write to. */
  public readonly stream: kinesis.IStream;
  /** The materializer function. */
  public readonly function: lambda.Function;
  /**
   * Receives the stream positions (shard, sequence numbers) of batches that still failed after the retries or
   * outlived `maxRecordAge`; replay them from the stream within its retention (`replayFailedBatches` in
   * runtime/aws/stream-replay.ts, `npm run replay` in this repository).
   */
  public readonly onFailureQueue: sqs.Queue;
  /** Fires when materialization falls behind the smallest freshness objective of the views. */
  public readonly iteratorAgeAlarm: cloudwatch.Alarm;
  /** Every alarm of this construct: iterator age, handler errors, on-failure queue depth, dead letters per view. */
  public readonly alarms: cloudwatch.Alarm[];
  /** Where every alarm sends its ALARM and OK transitions: `alarmAction`, or `alarmTopic`. */
  public readonly alarmAction: cloudwatch.IAlarmAction;
  /** The topic created for the alarms when no `alarmAction` was given: subscribe to it. */
  public readonly alarmTopic?: AlarmTopic;
  /** The views materialized. */
  public readonly views: FeatureView[];
  /** The store written to. */
  public readonly store: IFeatureStore;

  constructor(scope: Construct, id: string, props: FeatureIngestionProps) {
    super(scope, id);
    const views = props.views ?? [];
    const environment = materializerEnvironment({
      views: views.map((v) => v.toSpec()),
      onlineTableName: props.store.table.tableName,
      offlineBucketName: props.store.bucket.bucketName,
      earliestEventDate: props.store.earliestEventDate,
    });
    throwIfProblems(this, validateFeatureIngestionProps(props, environment));
    this.warnAboutRiskySettings(props);
    this.views = [...views];
    this.store = props.store;

    this.stream = props.stream ?? createFeatureStream(this, 'Stream', {
      key: props.store.key, streamMode: props.streamMode, shardCount: props.shardCount, retention: props.streamRetention,
    });

    // The messages hold stream positions only, never feature values.
    this.onFailureQueue = createDeadLetterQueue(this, 'OnFailureQueue', 'the on-failure destination of the Kinesis event source mapping');

    this.function = createHandlerFunction(this, 'Materializer', {
      handler: MATERIALIZER_HANDLER,
      description: `Materializes feature views ${this.views.map((v) => v.name).join(', ')} from Kinesis into the feature store`,
      environment,
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: props.tracing,
      logRetention: props.logRetention,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    });
    // Not KinesisEventSource: it grants every read action on the stream and the key's kms:Decrypt for any use; the
    // mapping's id is the one KinesisEventSource gives, so that existing deployments keep their mapping.
    this.function.addEventSourceMapping(`KinesisEventSource:${Names.nodeUniqueId(this.stream.node)}`, {
      eventSourceArn: this.stream.streamArn,
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize ?? 500,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
      parallelizationFactor: props.parallelizationFactor ?? 1,
      retryAttempts: props.retryAttempts ?? 5,
      maxRecordAge: props.maxRecordAge ?? Duration.hours(6),
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      onFailure: sendOnlyDestination(this.onFailureQueue),
    });
    grantEventSourceRead(this.stream, this.function);
    props.store.grantWriteOnline(this.function);
    props.store.grantWriteOffline(this.function, this.views);

    this.iteratorAgeAlarm = this.alarm('IteratorAgeAlarm', this.metricIteratorAge(), FeatureIngestion.smallestFreshness(this.views).toMilliseconds(),
      `Materialization of ${this.views.map((v) => v.name).join(', ')} is behind the smallest freshness objective of its views`);
    this.alarms = [
      this.iteratorAgeAlarm,
      this.alarm('ErrorsAlarm', this.metricErrors(), 0, 'The feature materializer failed invocations (batches are being retried)'),
      this.alarm('OnFailureAlarm', this.metricFailedBatches(), 0,
        'Stream batches were given up on: replay them from the positions in the on-failure queue before the stream trims them'),
      ...this.views.map((view) => this.alarm(`DeadLettersAlarm-${view.name}`, this.metricDeadLettered(view), 0,
        `Invalid records of feature view ${view.name} were dead-lettered under dead-letter/ in the offline bucket`)),
      this.alarm('DeadLettersAlarm-unknown-view', this.metricUnknownViewDeadLettered(), 0,
        `Records naming no view this materializer serves were dead-lettered under dead-letter/${UNKNOWN_FEATURE_VIEW}/ (a producer sends an unknown view or version)`),
    ];
    const notifications = alarmActionOf(this, props);
    this.alarmAction = notifications.action;
    this.alarmTopic = notifications.topic;
    notifyOnStateChanges(this.alarmAction, this.alarms);
  }

  /**
   * Grants producers what they may call on the stream — `PutRecord`, `PutRecords`, and the `ListShards` /
   * `DescribeStreamSummary` the Kinesis Producer Library calls first — and data-key generation with its key through
   * Kinesis only.
   */
  public grantPut(grantee: iam.IGrantable): iam.Grant {
    return grantStreamPut(this.stream, grantee, PRODUCER_ACTIONS);
  }

  /**
   * Grants an operator what `npm run replay` needs to re-drive failed batches (README, "Replaying failed batches"):
   * receiving and deleting the on-failure queue's messages, reading the materializer's configuration, reading the
   * stream (`GetShardIterator`, `GetRecords`, records decrypted through Kinesis only) and the materializer's own
   * writes (online items, offline files and dead letters of these views).
   */
  public grantReplay(grantee: iam.IGrantable): iam.Grant {
    this.onFailureQueue.grant(grantee, 'sqs:ReceiveMessage', 'sqs:DeleteMessage');
    iam.Grant.addToPrincipal({ grantee, actions: ['lambda:GetFunctionConfiguration'], resourceArns: [this.function.functionArn] });
    const read = this.stream.grant(grantee, 'kinesis:GetShardIterator', 'kinesis:GetRecords');
    if (this.stream.encryptionKey) grantKeyViaService(this.stream.encryptionKey, grantee, 'kinesis', 'kms:Decrypt');
    this.store.grantWriteOnline(grantee);
    this.store.grantWriteOffline(grantee, this.views);
    return read;
  }

  /**
   * Age of the newest record of the last batch the materializer received, in milliseconds (Lambda `IteratorAge`):
   * how far materialization is behind the stream.
   * @default - Maximum over 1 minute
   */
  public metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: ALARM_PERIOD, ...props });
  }

  /**
   * Invalid records of a view dead-lettered under `dead-letter/` (`RecordsDeadLettered`, our namespace).
   * @default - Sum over 1 minute
   */
  public metricDeadLettered(view: FeatureView, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.store.metricDeadLettered(view, props);
  }

  /**
   * Records naming no view this ingestion serves (an unknown view or version), dead-lettered under
   * `dead-letter/_unknown/` (`RecordsDeadLettered` with FeatureView `UNKNOWN_FEATURE_VIEW`, our namespace).
   * @default - Sum over 1 minute
   */
  public metricUnknownViewDeadLettered(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName: MaterializerMetrics.DEAD_LETTERED, statistic: cloudwatch.Stats.SUM, period: ALARM_PERIOD, ...props,
      dimensionsMap: { [MetricDimensions.FEATURE_VIEW]: UNKNOWN_FEATURE_VIEW },
    });
  }

  /**
   * Batches given up on after the retries or `maxRecordAge`: messages visible in the on-failure queue (SQS
   * `ApproximateNumberOfMessagesVisible`). Replay them before the stream trims the records.
   * @default - Maximum over 1 minute
   */
  public metricFailedBatches(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.onFailureQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: ALARM_PERIOD, ...props });
  }

  /**
   * Failed invocations of the materializer (Lambda `Errors`): the batch is retried, bisected.
   * @default - Sum over 1 minute
   */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ statistic: cloudwatch.Stats.SUM, period: ALARM_PERIOD, ...props });
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description.slice(0, 1024), // CloudWatch's limit
    });
  }

  private static smallestFreshness(views: FeatureView[]): Duration {
    return views.map((v) => v.freshness).reduce((a, b) => (a.toSeconds({ integral: false }) <= b.toSeconds({ integral: false }) ? a : b));
  }

  private warnAboutRiskySettings(props: FeatureIngestionProps): void {
    const warn = (id: string, message: string) => Annotations.of(this).addWarningV2(`ml-platform:${id}`, message);
    const window = concreteSeconds(props.maxBatchingWindow ?? Duration.seconds(1)) ?? 0;
    const timeout = concreteSeconds(props.timeout ?? Duration.minutes(1)) ?? 0;
    for (const view of props.views ?? []) {
      const freshness = view.freshness.toSeconds({ integral: false });
      if (freshness > window && freshness < window + timeout) {
        warn('freshnessBelowTimeout', `view '${view.name}': freshness ${freshness} s is shorter than maxBatchingWindow + timeout (${window + timeout} s): one slow or retried batch breaches it`);
      }
    }
    const maxRecordAge = concreteSeconds(props.maxRecordAge ?? Duration.hours(6));
    const retention = props.stream ? undefined : concreteSeconds(props.streamRetention ?? Duration.hours(24));
    if (maxRecordAge !== undefined && retention !== undefined && maxRecordAge >= retention) {
      warn('maxRecordAgeAboveRetention', `maxRecordAge (${maxRecordAge} s) is not shorter than the stream retention (${retention} s): failed batches are trimmed before they can be replayed`);
    }
    const reserved = props.reservedConcurrentExecutions;
    const needed = (props.parallelizationFactor ?? 1) * (props.streamMode === kinesis.StreamMode.PROVISIONED ? props.shardCount ?? 1 : 1);
    if (reserved !== undefined && !Token.isUnresolved(reserved) && reserved < needed) {
      warn('reservedConcurrencyBelowShards', `reservedConcurrentExecutions ${reserved} is below shards × parallelizationFactor (${needed}): shards will wait for each other`);
    }
  }
}
