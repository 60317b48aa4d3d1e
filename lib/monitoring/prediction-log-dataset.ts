import { ArnFormat, Duration, Names, RemovalPolicy, Resource, Size, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import {
  BASELINES_PREFIX, LABEL_PARTITIONS, LABELS_PREFIX, PREDICTION_LOG_PARTITIONS, PREDICTION_LOGS_PREFIX, predictionLogModelPrefix,
} from '../../runtime/core/datasets';
import { PROJECTION_FUTURE_DAYS } from '../features/spec';
import { createAccessLogsBucket, createDataBucket, deliverAccessLogsByBucketPolicy } from '../private/access-logs';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from '../private/alarm-actions';
import { grantKeyViaService, KeyUsingService, viaService } from '../private/kms-grants';
import { DYNAMIC_PARTITIONING_INTERVAL, validatePredictionLogDatasetProps } from '../private/validate-prediction-log-dataset-props';
import { concreteDays, nagResource, throwIfProblems } from '../private/validation';
import type { IInferenceGateway } from '../serving/inference-gateway';
import { AlarmActionProps } from './alarm-actions';
import { AlarmTopic } from './alarm-topic';

/**
 * The prediction-log dataset as the drift detector, the label ingestion, the model-quality join and training read or
 * write it: the bucket holding the layout of runtime/core/datasets.ts, its key, its Glue tables, and prefix grants.
 */
export interface IPredictionLogDataset extends IConstruct {
  /** The dataset bucket. */
  readonly bucket: s3.IBucket;
  /** The key encrypting the bucket. */
  readonly encryptionKey: kms.IKey;
  /** Glue database of the `prediction_logs` and `labels` tables. */
  readonly databaseName: string;
  /**
   * Grants reading objects under `prefixes` (e.g. `predictionLogModelPrefix('fraud')`) and listing only those
   * prefixes, with use of the key through S3 only.
   * @param prefixes dataset prefixes; default: `prediction-logs/`, `labels/` and `baselines/`
   */
  grantRead(grantee: iam.IGrantable, ...prefixes: string[]): iam.Grant;
  /** Grants writing new objects under `prefix` (single-part PutObject, SSE-KMS with the key through S3 only): no reads, no deletes. */
  grantWrite(grantee: iam.IGrantable, prefix: string): iam.Grant;
  /**
   * The inference server's `PREDICTION_LOG_SINK` for a model, `s3://<bucket>/prediction-logs/model=<model>/`: the
   * server's S3 sink then writes `…/dt=<date>/hour=<hh>/<object>.jsonl` into this dataset's layout.
   *
   * A model's predictions should reach the dataset through one path only: the gateway's prediction-log stream
   * (delivered by this dataset's Firehose into the same `model=<model>/` prefix) or the server's sink, for traffic that
   * does not pass a gateway. A server behind a gateway that also writes here logs every prediction twice: the drift
   * detector profiles each one twice (as the gateway's named features and as the server's raw tensors), and the label
   * join counts twice the predictions, so label coverage reads half of what it is.
   */
  serverSinkUri(model: string): string;
}

/** A dataset created elsewhere, for `fromPredictionLogDatasetAttributes`. */
export interface PredictionLogDatasetAttributes {
  /** The dataset bucket. */
  readonly bucket: s3.IBucket;
  /** The key encrypting the bucket. */
  readonly encryptionKey: kms.IKey;
  /** Glue database of the dataset's tables. */
  readonly databaseName: string;
}

/** Properties of a `PredictionLogDataset`. */
export interface PredictionLogDatasetProps extends AlarmActionProps {
  /**
   * Gateways whose prediction-log stream is delivered into the dataset (one Firehose delivery stream each); more with
   * `addGatewaySource`.
   * @default - none
   */
  readonly gateways?: IInferenceGateway[];
  /**
   * Key encrypting the bucket and what Firehose writes.
   * @default - a new customer-managed key with yearly rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Age at which prediction logs and labels are deleted; also the first day the Glue tables' partition projection
   * shows (`NOW-<n>DAYS`). Baselines are kept.
   * @default Duration.days(365)
   */
  readonly retention?: Duration;
  /**
   * How long records Firehose could not partition or deliver are kept under `prediction-log-errors/`.
   * @default Duration.days(30)
   */
  readonly errorRetention?: Duration;
  /**
   * How long Firehose buffers each partition before writing an object (60–900 s with dynamic partitioning).
   * @default Duration.seconds(60)
   */
  readonly bufferingInterval?: Duration;
  /**
   * How much Firehose buffers per partition before writing an object (64–128 MiB with dynamic partitioning).
   * @default Size.mebibytes(64)
   */
  readonly bufferingSize?: Size;
  /**
   * Alarm when the oldest record in a delivery stream is older than this (`DeliveryToS3.DataFreshness`): delivery is
   * failing or falling behind. At least twice `bufferingInterval`.
   * @default Duration.minutes(15)
   */
  readonly maxDeliveryDelay?: Duration;
  /**
   * What happens to the key, bucket, Glue entries and delivery error logs when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Bucket receiving the dataset bucket's server access logs.
   * @default - a new SSE-S3, TLS-only bucket expiring logs after `accessLogsRetention`
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * How long server access logs are kept in the bucket created for them.
   * @default Duration.days(365)
   */
  readonly accessLogsRetention?: Duration;
  /**
   * Glue database name (lower snake case).
   * @default - derived from the construct path, unique in the account
   */
  readonly databaseName?: string;
}

/** Glue/Hive classes of JSON lines read with the OpenX JSON SerDe (gzip objects are read by their `.gz` suffix). */
const JSON_LINES = {
  INPUT_FORMAT: 'org.apache.hadoop.mapred.TextInputFormat',
  OUTPUT_FORMAT: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
  SERDE: 'org.openx.data.jsonserde.JsonSerDe',
};

/**
 * Data columns of the Glue `prediction_logs` table (PredictionLogRecord; `model` is the partition). The OpenX SerDe
 * matches JSON keys case-insensitively (`requestId` → `requestid`); nested objects are declared `string` and read
 * with `json_extract_scalar`.
 */
const PREDICTION_LOG_COLUMNS: glue.CfnTable.ColumnProperty[] = [
  { name: 'schema', type: 'int' },
  { name: 'ts', type: 'string', comment: 'When the prediction was answered, ISO-8601 UTC' },
  { name: 'requestid', type: 'string' },
  { name: 'modelversion', type: 'string' },
  { name: 'variant', type: 'string' },
  { name: 'entity', type: 'string', comment: 'Entity join keys (JSON object)' },
  { name: 'features', type: 'string', comment: 'Feature values by view:feature (JSON object)' },
  { name: 'inputs', type: 'string', comment: 'Raw model inputs by input name (JSON object)' },
  { name: 'outputs', type: 'string', comment: 'Model outputs by output name (JSON object)' },
  { name: 'latencyms', type: 'double' },
  { name: 'fallback', type: 'boolean' },
  { name: 'tier', type: 'string' },
];

/** Data columns of the Glue `labels` table (LabelRecord; `model` is the partition). */
const LABEL_COLUMNS: glue.CfnTable.ColumnProperty[] = [
  { name: 'schema', type: 'int' },
  { name: 'requestid', type: 'string' },
  { name: 'entity', type: 'string', comment: 'Entity join keys (JSON object)' },
  { name: 'eventtime', type: 'string' },
  { name: 'label', type: 'string', comment: 'The outcome (number, boolean or class name)' },
  { name: 'labeltime', type: 'string' },
  { name: 'receivedat', type: 'string', comment: 'When the ingestion received the label; the dt partition is its date' },
];

/** The period of the delivery alarms' metrics. */
const DELIVERY_ALARM_PERIOD = Duration.minutes(5);

/** Grants and `serverSinkUri`, shared by the dataset and an imported one. */
abstract class PredictionLogDatasetBase extends Resource implements IPredictionLogDataset {
  public abstract readonly bucket: s3.IBucket;
  public abstract readonly encryptionKey: kms.IKey;
  public abstract readonly databaseName: string;

  public grantRead(grantee: iam.IGrantable, ...prefixes: string[]): iam.Grant {
    const granted = prefixes.length > 0 ? prefixes : [PREDICTION_LOGS_PREFIX, LABELS_PREFIX, BASELINES_PREFIX];
    this.acknowledgePrefixWildcards(grantee, granted, 'Readers of the dataset read every object of the granted prefixes; S3 object permissions can only be scoped by key prefix');
    return iam.Grant.addToPrincipalOrResource({
      grantee, resource: this.bucket, actions: ['s3:GetObject'], resourceArns: granted.map((p) => this.bucket.arnForObjects(`${p}*`)),
    }).combine(iam.Grant.addToPrincipalOrResource({
      grantee, resource: this.bucket, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': granted.map((p) => `${p}*`) } },
    })).combine(grantKeyViaService(this.encryptionKey, grantee, 's3', 'kms:Decrypt'));
  }

  public grantWrite(grantee: iam.IGrantable, prefix: string): iam.Grant {
    this.acknowledgePrefixWildcards(grantee, [prefix], 'Writers put new objects with generated names under their prefix; S3 object permissions can only be scoped by key prefix');
    return iam.Grant.addToPrincipalOrResource({
      grantee, resource: this.bucket, actions: ['s3:PutObject'], resourceArns: [this.bucket.arnForObjects(`${prefix}*`)],
    }).combine(grantKeyViaService(this.encryptionKey, grantee, 's3', 'kms:GenerateDataKey'));
  }

  public serverSinkUri(model: string): string {
    return `s3://${this.bucket.bucketName}/${predictionLogModelPrefix(model)}`;
  }

  /** Acknowledges, on the grantee's construct, exactly the AwsSolutions-IAM5 findings these prefix grants cause. */
  private acknowledgePrefixWildcards(grantee: iam.IGrantable, prefixes: string[], reason: string): void {
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) acknowledgeObjectWildcards(this.bucket, principal, prefixes, reason);
  }
}

/** Acknowledges, on `target`, exactly the AwsSolutions-IAM5 findings of object ARNs `<bucket>/<prefix>*`. */
function acknowledgeObjectWildcards(bucket: s3.IBucket, target: IConstruct, prefixes: string[], reason: string): void {
  const bucketArn = nagResource(Stack.of(target).resolve(bucket.bucketArn));
  Validations.of(target).acknowledge(...prefixes.map((p) => ({ id: `AwsSolutions-IAM5[Resource::${bucketArn}/${p}*]`, reason })));
}

class ImportedPredictionLogDataset extends PredictionLogDatasetBase {
  public readonly bucket: s3.IBucket;
  public readonly encryptionKey: kms.IKey;
  public readonly databaseName: string;

  constructor(scope: Construct, id: string, attrs: PredictionLogDatasetAttributes) {
    super(scope, id);
    this.bucket = attrs.bucket;
    this.encryptionKey = attrs.encryptionKey;
    this.databaseName = attrs.databaseName;
  }
}

/**
 * Prediction logs as a dataset: the gateways' prediction-log streams delivered by Kinesis Data Firehose into S3 in the
 * one layout of runtime/core/datasets.ts, Glue tables Athena reads without a crawler, and alarms on delivery.
 *
 * - **Bucket**: KMS (its own key unless given), TLS only, public access blocked, versioned, access-logged;
 *   `prediction-logs/` and `labels/` expire after `retention`, `baselines/` are kept.
 * - **Delivery** (`addGatewaySource`): one Firehose delivery stream per gateway reading its KMS-encrypted Kinesis
 *   stream, with dynamic partitioning by JQ on each record — `model` = `.model`, `dt` = `.ts[0:10]`,
 *   `hour` = `.ts[11:13]`: event time, the prediction's own `ts`, not arrival time — into
 *   `prediction-logs/model=<model>/dt=<yyyy-mm-dd>/hour=<hh>/<object>.jsonl.gz` (GZIP, encrypted with the key).
 *   The gateway's records are JSON lines (each ends with a newline), so objects are JSON lines too. Records Firehose
 *   cannot parse or partition go to `prediction-log-errors/<error type>/…`, outside the tables; delivery errors are
 *   logged to a log group of the dataset. Each stream's role reads only its source stream and writes only those two
 *   prefixes.
 * - **Server sink**: the inference server writes the same layout with `PREDICTION_LOG_SINK=serverSinkUri(model)`
 *   and `grantWrite(role, predictionLogModelPrefix(model))` (its `dt`/`hour` are the batch's write time: a record
 *   answered seconds before an hour boundary may sit in the next hour's partition).
 * - **SageMaker data capture** keeps its own bucket and layout (SageMaker writes it); the drift detector reads it there.
 * - **Catalog**: a Glue database with `prediction_logs` and `labels` tables (JSON lines, OpenX JSON SerDe), with
 *   partition projection: `model` injected (every query names its model: `WHERE model = 'fraud'`), `dt` a date from
 *   `NOW-<retention>DAYS` to tomorrow, `hour` 00–23.
 * - **Alarms** (each notifies `alarmAction` on ALARM and OK), per delivery stream: data older than
 *   `maxDeliveryDelay`, any failed S3 delivery, the active-partition limit exceeded. Gather `alarms` into
 *   `ModelMonitoring`.
 */
export class PredictionLogDataset extends PredictionLogDatasetBase {
  /** Prefix of records Firehose could not partition or deliver (outside the dataset's tables). */
  public static readonly ERRORS_PREFIX = 'prediction-log-errors/';
  /** Name of the Glue table over `prediction-logs/`. */
  public static readonly PREDICTION_LOGS_TABLE = 'prediction_logs';
  /** Name of the Glue table over `labels/`. */
  public static readonly LABELS_TABLE = 'labels';
  /** The JQ query extracting the partition keys of a prediction-log record (event time: the record's `ts`). */
  public static readonly PARTITION_QUERY = '{model: .model, dt: .ts[0:10], hour: .ts[11:13]}';

  /** A dataset created elsewhere (another stack or app), for the constructs that read or write it. */
  public static fromPredictionLogDatasetAttributes(scope: Construct, id: string, attrs: PredictionLogDatasetAttributes): IPredictionLogDataset {
    return new ImportedPredictionLogDataset(scope, id, attrs);
  }

  public readonly bucket: s3.Bucket;
  public readonly encryptionKey: kms.IKey;
  public readonly databaseName: string;
  /** The Glue database. */
  public readonly database: glue.CfnDatabase;
  /** Firehose delivery streams, one per gateway source. */
  public readonly deliveryStreams: firehose.CfnDeliveryStream[] = [];
  /** Delivery alarms of every source (grows with `addGatewaySource`). */
  public readonly alarms: cloudwatch.Alarm[] = [];
  /** Where every alarm sends its ALARM and OK transitions: `alarmAction`, or `alarmTopic`. */
  public readonly alarmAction: cloudwatch.IAlarmAction;
  /** The topic created for the alarms when no `alarmAction` was given: subscribe to it. */
  public readonly alarmTopic?: AlarmTopic;
  /** Log group of Firehose's delivery errors. */
  public readonly deliveryErrors: logs.LogGroup;

  private readonly props: PredictionLogDatasetProps;
  private readonly removalPolicy: RemovalPolicy;

  constructor(scope: Construct, id: string, props: PredictionLogDatasetProps = {}) {
    super(scope, id);
    deliverAccessLogsByBucketPolicy(this);
    throwIfProblems(this, validatePredictionLogDatasetProps(props));
    this.props = props;
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.retention ?? Duration.days(365);

    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', {
      description: `Prediction-log dataset ${this.node.path}: prediction logs, labels, baselines`,
      enableKeyRotation: true,
      removalPolicy: this.removalPolicy,
    });
    this.bucket = createDataBucket(this, 'Bucket', {
      encryptionKey: this.encryptionKey,
      serverAccessLogsBucket: props.accessLogsBucket ?? createAccessLogsBucket(this, 'AccessLogs', {
        logsOf: 'the prediction-log dataset bucket', retention: props.accessLogsRetention ?? Duration.days(365), removalPolicy: this.removalPolicy,
      }),
      serverAccessLogsPrefix: props.accessLogsBucket ? `prediction-log-dataset/${Names.uniqueResourceName(this, { maxLength: 64 })}/` : undefined,
      lifecycleRules: [
        { id: 'prediction-logs', prefix: PREDICTION_LOGS_PREFIX, expiration: retention },
        { id: 'labels', prefix: LABELS_PREFIX, expiration: retention },
        { id: 'delivery-errors', prefix: PredictionLogDataset.ERRORS_PREFIX, expiration: props.errorRetention ?? Duration.days(30) },
        {
          id: 'old-versions-and-uploads',
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy: this.removalPolicy,
    });

    this.databaseName = props.databaseName ?? Names.uniqueResourceName(this, { maxLength: 64, separator: '_' }).toLowerCase();
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Stack.of(this).account,
      databaseInput: { name: this.databaseName, description: `Prediction logs and labels of ${this.node.path}` },
    });
    this.database.applyRemovalPolicy(this.removalPolicy);
    const firstDay = `NOW-${Math.ceil(concreteDays(retention) ?? 365)}DAYS`;
    this.createTable(PredictionLogDataset.PREDICTION_LOGS_TABLE, PREDICTION_LOGS_PREFIX, PREDICTION_LOG_COLUMNS, PREDICTION_LOG_PARTITIONS, firstDay);
    this.createTable(PredictionLogDataset.LABELS_TABLE, LABELS_PREFIX, LABEL_COLUMNS, LABEL_PARTITIONS, firstDay);

    this.deliveryErrors = new logs.LogGroup(this, 'DeliveryErrors', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: this.removalPolicy });
    const notifications = alarmActionOf(this, props);
    this.alarmAction = notifications.action;
    this.alarmTopic = notifications.topic;
    for (const gateway of props.gateways ?? []) this.addGatewaySource(gateway);
  }

  /**
   * Delivers a gateway's prediction-log stream into the dataset: a Firehose delivery stream reading it (and
   * decrypting it through Kinesis only), partitioning by the records' model and event time, and its alarms.
   * @returns the delivery stream
   */
  public addGatewaySource(gateway: IInferenceGateway): firehose.CfnDeliveryStream {
    const index = this.deliveryStreams.length;
    const scope = new Construct(this, `Source${index}`);
    const stream = gateway.predictionLog;
    const logStream = new logs.LogStream(scope, 'S3Delivery', { logGroup: this.deliveryErrors, removalPolicy: this.removalPolicy });
    const role = new iam.Role(scope, 'Role', {
      description: `Firehose: ${gateway.node.path} prediction logs into ${this.node.path}`,
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'sts:ExternalId': Stack.of(this).account } } }),
    });
    const written = [PREDICTION_LOGS_PREFIX, PredictionLogDataset.ERRORS_PREFIX];
    const policy = new iam.Policy(scope, 'Policy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['kinesis:DescribeStream', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:ListShards'],
          resources: [stream.streamArn],
        }),
        new iam.PolicyStatement({
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: written.map((p) => this.bucket.arnForObjects(`${p}*`)),
        }),
        new iam.PolicyStatement({
          actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
          resources: [this.bucket.bucketArn],
        }),
        new iam.PolicyStatement({ actions: ['logs:PutLogEvents'], resources: [this.logStreamArn(logStream)] }),
        ...this.keyStatements(stream.encryptionKey),
      ],
    });
    acknowledgeObjectWildcards(this.bucket, policy, written,
      'Firehose writes objects with generated names under the dataset and error prefixes; S3 object permissions can only be scoped by key prefix');

    const deliveryStream = new firehose.CfnDeliveryStream(scope, 'DeliveryStream', {
      deliveryStreamType: 'KinesisStreamAsSource',
      kinesisStreamSourceConfiguration: { kinesisStreamArn: stream.streamArn, roleArn: role.roleArn },
      extendedS3DestinationConfiguration: {
        bucketArn: this.bucket.bucketArn,
        roleArn: role.roleArn,
        prefix: `${PREDICTION_LOGS_PREFIX}model=!{partitionKeyFromQuery:model}/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/`,
        errorOutputPrefix: `${PredictionLogDataset.ERRORS_PREFIX}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/`,
        fileExtension: '.jsonl.gz',
        compressionFormat: 'GZIP',
        bufferingHints: {
          intervalInSeconds: (this.props.bufferingInterval ?? DYNAMIC_PARTITIONING_INTERVAL.min).toSeconds(),
          sizeInMBs: (this.props.bufferingSize ?? Size.mebibytes(64)).toMebibytes(),
        },
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: this.encryptionKey.keyArn } },
        dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
        processingConfiguration: {
          enabled: true,
          processors: [{
            type: 'MetadataExtraction',
            parameters: [
              { parameterName: 'MetadataExtractionQuery', parameterValue: PredictionLogDataset.PARTITION_QUERY },
              { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
            ],
          }],
        },
        cloudWatchLoggingOptions: { enabled: true, logGroupName: this.deliveryErrors.logGroupName, logStreamName: logStream.logStreamName },
        s3BackupMode: 'Disabled',
      },
    });
    // Firehose checks the role's permissions when the stream is created.
    deliveryStream.node.addDependency(policy);
    Validations.of(deliveryStream).acknowledge({
      id: 'AwsSolutions-KDF1',
      reason: 'The source is a Kinesis stream encrypted with its customer-managed key (Firehose server-side encryption applies to Direct PUT sources only); Firehose writes S3 objects encrypted with the dataset key',
    });
    this.deliveryStreams.push(deliveryStream);

    const name = deliveryStream.ref;
    const metric = (metricName: string, statistic: string) => new cloudwatch.Metric({
      namespace: 'AWS/Firehose', metricName, statistic, period: DELIVERY_ALARM_PERIOD, dimensionsMap: { DeliveryStreamName: name },
    });
    const maxDelay = this.props.maxDeliveryDelay ?? Duration.minutes(15);
    const alarms = [
      new cloudwatch.Alarm(scope, 'FreshnessAlarm', {
        metric: metric('DeliveryToS3.DataFreshness', cloudwatch.Stats.MAXIMUM),
        threshold: maxDelay.toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Prediction logs of ${gateway.node.path} wait more than ${maxDelay.toHumanString()} to reach S3: delivery is failing or behind (see the ${this.node.path} delivery error log group)`,
      }),
      new cloudwatch.Alarm(scope, 'DeliveryFailureAlarm', {
        metric: metric('DeliveryToS3.Success', cloudwatch.Stats.MINIMUM),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Firehose failed to write prediction logs of ${gateway.node.path} to S3 (retried; records past the retry time go to ${PredictionLogDataset.ERRORS_PREFIX})`,
      }),
      anyFailureAlarm(scope, 'PartitionLimitAlarm', metric('PartitionCountExceeded', cloudwatch.Stats.MAXIMUM),
        `Prediction logs of ${gateway.node.path} exceed Firehose's active partition limit: raise the limit or lower bufferingInterval`),
    ];
    notifyOnStateChanges(this.alarmAction, alarms);
    this.alarms.push(...alarms);
    return deliveryStream;
  }

  /** Key use of a delivery stream's role: decrypt the source through Kinesis, encrypt the objects through S3. */
  private keyStatements(sourceKey: kms.IKey | undefined): iam.PolicyStatement[] {
    const via = (key: kms.IKey, service: KeyUsingService, actions: string[]) => new iam.PolicyStatement({
      actions, resources: [key.keyArn], conditions: { StringEquals: { 'kms:ViaService': viaService(key, service) } },
    });
    return [
      ...(sourceKey ? [via(sourceKey, 'kinesis', ['kms:Decrypt'])] : []),
      via(this.encryptionKey, 's3', ['kms:GenerateDataKey', 'kms:Decrypt']),
    ];
  }

  private logStreamArn(logStream: logs.LogStream): string {
    return Stack.of(this).formatArn({
      service: 'logs', resource: 'log-group', arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${this.deliveryErrors.logGroupName}:log-stream:${logStream.logStreamName}`,
    });
  }

  /** A JSON-lines Glue table over `prefix`, its Hive partitions projected (no crawler). */
  private createTable(name: string, prefix: string, columns: glue.CfnTable.ColumnProperty[], partitions: readonly string[], firstDay: string): void {
    const location = this.bucket.s3UrlForObject(prefix);
    const projection: Record<string, string> = {
      'projection.model.type': 'injected',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      // +1 day: a prediction answered just before midnight UTC may be read at once.
      'projection.dt.range': `${firstDay},NOW+${PROJECTION_FUTURE_DAYS}DAYS`,
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
      ...(partitions.includes('hour') ? { 'projection.hour.type': 'integer', 'projection.hour.range': '0,23', 'projection.hour.digits': '2' } : {}),
    };
    const table = new glue.CfnTable(this, `Table-${name}`, {
      catalogId: Stack.of(this).account,
      databaseName: this.databaseName,
      tableInput: {
        name,
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: partitions.map((p) => ({ name: p, type: 'string' })),
        parameters: {
          'classification': 'json',
          'EXTERNAL': 'TRUE',
          'projection.enabled': 'true',
          ...projection,
          'storage.location.template': `${location}${partitions.map((p) => `${p}=\${${p}}`).join('/')}/`,
        },
        storageDescriptor: {
          location,
          columns,
          inputFormat: JSON_LINES.INPUT_FORMAT,
          outputFormat: JSON_LINES.OUTPUT_FORMAT,
          serdeInfo: { serializationLibrary: JSON_LINES.SERDE, parameters: { 'ignore.malformed.json': 'TRUE' } },
        },
      },
    });
    table.applyRemovalPolicy(this.removalPolicy);
    table.node.addDependency(this.database);
  }
}

