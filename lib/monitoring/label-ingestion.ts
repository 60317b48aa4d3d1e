import { Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LABEL_INGESTION_HANDLER, labelIngestionEnvironment } from '../../runtime/contracts/label-ingestion';
import { LABELS_PREFIX } from '../../runtime/core/datasets';
import { LabelMetrics, MetricDimensions, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { createAccessLogsBucket, createDataBucket, deliverAccessLogsByBucketPolicy } from '../private/access-logs';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from '../private/alarm-actions';
import { createDeadLetterQueue, sendOnlyDestination } from '../private/dead-letter';
import { createFeatureStream, grantEventSourceRead, grantStreamPut, PRODUCER_ACTIONS } from '../private/feature-streams';
import { createHandlerFunction } from '../private/handler-function';
import { grantKeyViaService } from '../private/kms-grants';
import { validateLabelIngestionProps } from '../private/validate-label-ingestion-props';
import { nagResource, throwIfProblems } from '../private/validation';
import { AlarmActionProps } from './alarm-actions';
import { AlarmTopic } from './alarm-topic';
import type { IPredictionLogDataset } from './prediction-log-dataset';

/** Properties of a `LabelIngestion`. */
export interface LabelIngestionProps extends AlarmActionProps {
  /** The dataset labels are written into, under `labels/model=<m>/dt=<arrival date>/` (runtime/core/datasets.ts). */
  readonly dataset: IPredictionLogDataset;
  /** The models labels are accepted for (names as served: 1–128 letters, digits, '.', '_' or '-'); labels of others are dead-lettered. */
  readonly models: readonly string[];
  /**
   * The stream producers put labels on, one JSON label per record. An imported stream encrypted with a
   * customer-managed key must be imported with that key (`Stream.fromStreamAttributes`).
   * @default - a new on-demand stream encrypted with `encryptionKey`
   */
  readonly stream?: kinesis.IStream;
  /**
   * The key of the stream and the drop bucket created here (labels from another system, before validation).
   * @default - a new customer-managed key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Target of the drop bucket's server access logs.
   * @default - a new SSE-S3 access-log bucket whose logs expire after 90 days
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * Records per invocation from the stream (1 to 10,000).
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * The iterator-age alarm fires when the newest record of a batch is older than this (labels are late anyway: this
   * catches an ingestion that stopped, not a slow producer).
   * @default Duration.minutes(30)
   */
  readonly maxIteratorAge?: Duration;
}

/** Period of every alarm. */
const ALARM_PERIOD = Duration.minutes(1);
/** How long access logs of the drop bucket are kept by default. */
const ACCESS_LOG_RETENTION = Duration.days(90);

/**
 * Ground-truth labels arriving late from another system, into the monitoring dataset: producers put one JSON label
 * per Kinesis record (`{ model, requestId | entity + eventTime, label, labelTime }`, runtime/core/labels.ts) on
 * `stream`, or drop JSON-lines files in `dropBucket` (any key; each `ObjectCreated` notifies the function). One Lambda
 * (the `label-ingestion-handler`) validates every record and line, writes valid labels to the dataset under
 * `labels/model=<m>/dt=<arrival date>/`, and sends refused ones to `deadLetterQueue` with their reason (and the
 * record's shard and sequence number, or the file's key and line number).
 *
 * `deadLetterQueue` (SSE-SQS, 14 days) also receives the positions of stream batches given up after the retries and
 * the notifications of drop files whose labels could not be stored after Lambda's retries (their body is Lambda's
 * record, with a `requestContext`; refused labels have a `reason`). Alarms (`alarms`): messages in the dead-letter
 * queue, function errors, iterator age; each notifies `alarmAction` (by default a new `alarmTopic`) when it fires and
 * when it recovers. The function may write only under `labels/` of the dataset.
 */
export class LabelIngestion extends Construct {
  /** The stream producers put labels on. */
  public readonly stream: kinesis.IStream;
  /** The bucket producers drop JSON-lines label files into. */
  public readonly dropBucket: s3.Bucket;
  /** The key of the stream (when created here) and of the drop bucket. */
  public readonly encryptionKey: kms.IKey;
  /** The ingestion function. */
  public readonly function: lambda.Function;
  /** Refused labels with their reason; stream batches and drop files given up after the retries. */
  public readonly deadLetterQueue: sqs.Queue;
  /** The models labels are accepted for. */
  public readonly models: readonly string[];
  /** Every alarm of this construct: dead letters, function errors, iterator age. */
  public readonly alarms: cloudwatch.Alarm[];
  /** Where every alarm sends its ALARM and OK transitions: `alarmAction`, or `alarmTopic`. */
  public readonly alarmAction: cloudwatch.IAlarmAction;
  /** The topic created for the alarms when no `alarmAction` was given: subscribe to it. */
  public readonly alarmTopic?: AlarmTopic;

  constructor(scope: Construct, id: string, props: LabelIngestionProps) {
    super(scope, id);
    deliverAccessLogsByBucketPolicy(this);
    this.deadLetterQueue = createDeadLetterQueue(this, 'DeadLetterQueue',
      'it receives refused labels (with their reason) and the stream batches and drop files the label ingestion gave up on');
    const environment = labelIngestionEnvironment({
      datasetBucketName: props.dataset.bucket.bucketName, models: props.models ?? [], deadLetterQueueUrl: this.deadLetterQueue.queueUrl,
    });
    throwIfProblems(this, validateLabelIngestionProps(props, environment));
    this.models = [...props.models];

    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', {
      enableKeyRotation: true, description: 'Encrypts ground-truth labels on their way into the monitoring dataset (stream and drop bucket)',
    });
    this.stream = props.stream ?? createFeatureStream(this, 'Stream', { key: this.encryptionKey });
    this.dropBucket = createDataBucket(this, 'DropBucket', {
      encryptionKey: this.encryptionKey,
      serverAccessLogsBucket: props.accessLogsBucket ?? createAccessLogsBucket(this, 'DropBucketAccessLogs', { logsOf: 'the label drop bucket', retention: ACCESS_LOG_RETENTION }),
      serverAccessLogsPrefix: 'label-drops/',
      lifecycleRules: [{ id: 'old-versions-and-uploads', noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });

    this.function = createHandlerFunction(this, 'Function', {
      handler: LABEL_INGESTION_HANDLER,
      description: `Ingests ground-truth labels of ${this.models.join(', ')} from Kinesis and S3 drops into the monitoring dataset`,
      environment,
      // A dropped file of the largest size (64 MB, ~750k labels) takes ~8 s on one core: ~30 s at 512 MB's CPU share.
      timeout: Duration.minutes(3),
    });
    this.function.addEventSourceMapping(`KinesisEventSource:${Names.nodeUniqueId(this.stream.node)}`, {
      eventSourceArn: this.stream.streamArn,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize ?? 100,
      maxBatchingWindow: Duration.seconds(5),
      retryAttempts: 10,
      maxRecordAge: Duration.hours(6),
      reportBatchItemFailures: true,
      onFailure: sendOnlyDestination(this.deadLetterQueue),
    });
    grantEventSourceRead(this.stream, this.function);
    this.function.configureAsyncInvoke({ retryAttempts: 2, onFailure: sendOnlyDestination(this.deadLetterQueue) as unknown as lambda.IDestination });
    this.dropBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(this.function));
    this.acknowledgeNotificationsHandler();

    iam.Grant.addToPrincipal({ grantee: this.function, actions: ['s3:GetObject'], resourceArns: [this.dropBucket.arnForObjects('*')] });
    grantKeyViaService(this.encryptionKey, this.function, 's3', 'kms:Decrypt');
    this.acknowledgeObjectWildcard(this.function.role!, 'The function reads whichever file a producer drops (any key): S3 object permissions can only be scoped by key prefix');
    props.dataset.grantWrite(this.function, LABELS_PREFIX);
    this.deadLetterQueue.grant(this.function, 'sqs:SendMessage');

    this.alarms = [
      anyFailureAlarm(this, 'DeadLettersAlarm', this.metricDeadLetters(),
        'Labels were refused (the reason is in each message) or given up on: read the label ingestion\'s dead-letter queue'),
      anyFailureAlarm(this, 'ErrorsAlarm', this.metricErrors(), 'The label ingestion failed invocations (batches and drop files are being retried)'),
      new cloudwatch.Alarm(this, 'IteratorAgeAlarm', {
        metric: this.metricIteratorAge(),
        threshold: (props.maxIteratorAge ?? Duration.minutes(30)).toMilliseconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'The label ingestion is behind its stream: labels are not reaching the dataset',
      }),
    ];
    const notifications = alarmActionOf(this, props);
    this.alarmAction = notifications.action;
    this.alarmTopic = notifications.topic;
    notifyOnStateChanges(this.alarmAction, this.alarms);
  }

  /**
   * Lets a producer send labels: put records on the stream (`PutRecord`, `PutRecords`, and the `ListShards` /
   * `DescribeStreamSummary` the Kinesis Producer Library calls first) and put files in the drop bucket, with data-key
   * generation through Kinesis and S3 only. No reads, no deletes.
   */
  public grantPutLabels(grantee: iam.IGrantable): iam.Grant {
    const put = grantStreamPut(this.stream, grantee, PRODUCER_ACTIONS);
    const drop = iam.Grant.addToPrincipal({ grantee, actions: ['s3:PutObject'], resourceArns: [this.dropBucket.arnForObjects('*')] });
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) this.acknowledgeObjectWildcard(principal, 'Producers drop label files under keys of their choosing: S3 object permissions can only be scoped by key prefix');
    return put.combine(drop).combine(grantKeyViaService(this.encryptionKey, grantee, 's3', 'kms:GenerateDataKey'));
  }

  /**
   * Messages in the dead-letter queue (SQS `ApproximateNumberOfMessagesVisible`): refused labels, and batches or
   * drop files given up on.
   * @default - Maximum over 1 minute
   */
  public metricDeadLetters(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: ALARM_PERIOD, ...props });
  }

  /**
   * Failed invocations of the function (Lambda `Errors`).
   * @default - Sum over 1 minute
   */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ statistic: cloudwatch.Stats.SUM, period: ALARM_PERIOD, ...props });
  }

  /**
   * Age of the newest record of the last batch taken from the stream, milliseconds (Lambda `IteratorAge`).
   * @default - Maximum over 1 minute
   */
  public metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: ALARM_PERIOD, ...props });
  }

  /**
   * A model's labels (`LabelMetrics`: `LabelsReceived`, `LabelsStored`, `LabelsDeadLettered`; our namespace).
   * @default - Sum over 1 minute
   */
  public metricLabels(model: string, metricName: (typeof LabelMetrics)[keyof typeof LabelMetrics], props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName, statistic: cloudwatch.Stats.SUM, period: ALARM_PERIOD, ...props,
      dimensionsMap: { [MetricDimensions.MODEL]: model },
    });
  }

  /** Acknowledges, on `target`, the AwsSolutions-IAM5 finding of the drop bucket's object ARN `<bucket>/*`. */
  private acknowledgeObjectWildcard(target: Construct | iam.IRole, reason: string): void {
    const bucketArn = nagResource(Stack.of(this).resolve(this.dropBucket.bucketArn));
    Validations.of(target as Construct).acknowledge({ id: `AwsSolutions-IAM5[Resource::${bucketArn}/*]`, reason });
  }

  /** Acknowledges the cdk-nag findings of aws-cdk-lib's bucket-notifications handler (one per stack), which we do not write. */
  private acknowledgeNotificationsHandler(): void {
    const handler = Stack.of(this).node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
    if (!handler) return;
    const why = "aws-cdk-lib's own handler that puts the bucket's notification configuration at deploy time (the only way to notify a function of a bucket in the same stack); it runs only during deployments";
    Validations.of(handler).acknowledge(
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: `${why}; its role is created by aws-cdk-lib` },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: `${why}; s3:PutBucketNotification is granted by aws-cdk-lib on '*'` },
    );
  }
}
