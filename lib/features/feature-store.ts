import { Annotations, ArnFormat, Duration, Names, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { createAccessLogsBucket, createDataBucket, deliverAccessLogsByBucketPolicy } from '../private/access-logs';
import { grantKeyViaService } from '../private/kms-grants';
import { validateFeatureStoreProps } from '../private/validate-feature-store-props';
import { concreteDays, throwIfProblems } from '../private/validation';
import { FeatureStoreAttributes, FeatureStoreBase, IFeatureStore, ImportedFeatureStore } from './feature-store-base';
import { FeatureView } from './feature-view';
import {
  DEAD_LETTER_PREFIX, DEFAULT_EARLIEST_EVENT_DATE, OFFLINE_PARTITION_COLUMNS, OFFLINE_PREFIX, offlineColumns, OfflineColumn, offlineViewPrefix,
  OnlineAttributes, PROJECTION_FUTURE_DAYS,
} from './spec';

/** Properties of a `FeatureStore`. */
export interface FeatureStoreProps {
  /** The feature views the store holds: one Glue table each, one key prefix each in the online table. */
  readonly views: FeatureView[];
  /**
   * KMS key encrypting the online table, the offline bucket, Athena query results and (by default) the ingestion
   * stream.
   * @default - a new customer-managed key with yearly rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the key, table, buckets, Glue catalog entries and workgroup when they leave the stack.
   * `DESTROY` also turns off the table's deletion protection; a non-empty bucket still fails to delete.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Age at which offline Parquet files move to S3 Standard-IA (at least 30 days, an S3 rule).
   * @default Duration.days(90)
   */
  readonly offlineInfrequentAccessAfter?: Duration;
  /**
   * Age at which offline Parquet files are deleted. Training sets older than this cannot be rebuilt.
   * @default - offline history is kept forever
   */
  readonly offlineExpiration?: Duration;
  /**
   * How long dead-lettered ingestion records are kept under `dead-letter/`.
   * @default Duration.days(90)
   */
  readonly deadLetterRetention?: Duration;
  /**
   * How long Athena query results are kept under `athena-results/`.
   * @default Duration.days(30)
   */
  readonly queryResultsRetention?: Duration;
  /**
   * Athena cancels a query of the workgroup once it has scanned this much data (at least 10 MB): the guard against
   * a runaway point-in-time join.
   * @default Size.gibibytes(100)
   */
  readonly bytesScannedCutoffPerQuery?: Size;
  /**
   * First event date (UTC, `yyyy-mm-dd`) of the offline partition projection: Athena sees no partition before it.
   * Set it to the oldest event date you backfill (from 1971-01-01): the materializers writing to this store refuse
   * (dead-letter) events dated before it, since they would be stored but never read.
   * @default - `offlineExpiration` before today when that is set (`NOW-<n>DAYS`: events older than n days are
   *   refused), otherwise DEFAULT_EARLIEST_EVENT_DATE ('2020-01-01')
   */
  readonly earliestEventDate?: string;
  /**
   * Bucket receiving the offline bucket's S3 server access logs (for example the account's central log bucket).
   * @default - a new SSE-S3 encrypted, TLS-only bucket that expires logs after `accessLogsRetention`
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * How long server access logs are kept in the bucket this store creates for them.
   * @default Duration.days(365)
   */
  readonly accessLogsRetention?: Duration;
  /**
   * Glue database name (lower snake case).
   * @default - derived from the construct path, unique in the account
   */
  readonly databaseName?: string;
  /**
   * Athena workgroup name.
   * @default - derived from the construct path, unique in the account
   */
  readonly workgroupName?: string;
}

/** Athena engine the workgroup runs. */
const ATHENA_ENGINE_VERSION = 'Athena engine version 3';
/** How long overwritten or deleted object versions of the offline bucket are kept. */
const NONCURRENT_VERSION_RETENTION = Duration.days(30);
/** Glue/Hive classes of the Parquet format. */
const PARQUET = {
  INPUT_FORMAT: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  OUTPUT_FORMAT: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
  SERDE: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
};

/**
 * The feature store: an online table for serving, an offline Parquet history for training, and the catalog that
 * makes the history queryable. Every view of `views` gets its key prefix online and its Glue table offline.
 *
 * Online: one DynamoDB table (on-demand, point-in-time recovery, customer-managed KMS key, TTL on
 * `OnlineAttributes.EXPIRES_AT`). Its only key is the string partition key `OnlineAttributes.PARTITION_KEY`; the key
 * layout (`<view>#<version>#<entityKey>`) and the attributes are documented with `OnlineAttributes` in
 * `lib/features/spec/layout.ts`, which the runtime writers and readers import too.
 *
 * Offline: one bucket (KMS, TLS only, public access blocked, versioned, access-logged) holding
 * `offline/<view>/version=<v>/event_date=<yyyy-mm-dd>/*.parquet` (`offlineViewPrefix` / `offlinePartitionPrefix`),
 * dead-lettered records under `dead-letter/` and Athena results under `athena-results/`. Versioning is on because
 * the offline history is the training record: an overwrite or delete stays recoverable for 30 days.
 *
 * Catalog: a Glue database with one Parquet table per view, named after the view, columns from `offlineColumns()`
 * and partitions from `OFFLINE_PARTITION_COLUMNS` with partition projection (no crawler, no partition
 * management), and an Athena workgroup with enforced settings, KMS-encrypted results and a per-query scan limit.
 */
export class FeatureStore extends FeatureStoreBase {
  /** S3 prefix of Athena query results in the offline bucket. */
  public static readonly QUERY_RESULTS_PREFIX = 'athena-results/';

  /**
   * A store created elsewhere (another stack or app), for the constructs that write to or read from it
   * (`FeatureIngestion`, `InferenceGateway`). Offline reads (`grantReadOffline`) stay with the store's own stack.
   */
  public static fromFeatureStoreAttributes(scope: Construct, id: string, attrs: FeatureStoreAttributes): IFeatureStore {
    return new ImportedFeatureStore(scope, id, attrs);
  }

  /** The online table. */
  public readonly table: dynamodb.Table;
  /** The offline bucket. */
  public readonly bucket: s3.Bucket;
  /** The Glue database holding one table per view. */
  public readonly database: glue.CfnDatabase;
  /** Name of the Glue database. */
  public readonly databaseName: string;
  /** The Athena workgroup for offline queries. */
  public readonly workgroup: athena.CfnWorkGroup;
  /** Name of the Athena workgroup. */
  public readonly workgroupName: string;
  /** The key encrypting the table, the bucket and query results. */
  public readonly key: kms.IKey;
  /** The views the store holds. */
  public readonly views: FeatureView[];
  /**
   * First event date of the offline partition projection: `yyyy-mm-dd`, or `NOW-<n>DAYS` when the history expires
   * after n days. The materializers writing to this store refuse events dated before it (they would never be read).
   */
  public readonly earliestEventDate: string;

  constructor(scope: Construct, id: string, props: FeatureStoreProps) {
    super(scope, id);
    deliverAccessLogsByBucketPolicy(this);
    throwIfProblems(this, validateFeatureStoreProps(props));
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (removalPolicy === RemovalPolicy.DESTROY) {
      Annotations.of(this).addWarningV2('ml-platform:featureStoreDestroy',
        'removalPolicy is DESTROY: deleting the stack deletes the online table and the offline training history');
    }
    this.views = [...props.views];

    this.key = props.encryptionKey ?? new kms.Key(this, 'Key', {
      description: `Feature store ${this.node.path}: online table, offline bucket, query results`,
      enableKeyRotation: true,
      removalPolicy,
    });

    this.table = new dynamodb.Table(this, 'OnlineTable', {
      partitionKey: { name: OnlineAttributes.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      timeToLiveAttribute: OnlineAttributes.EXPIRES_AT,
      deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy,
    });

    this.bucket = createDataBucket(this, 'OfflineBucket', {
      encryptionKey: this.key,
      serverAccessLogsBucket: props.accessLogsBucket ?? createAccessLogsBucket(this, 'AccessLogs', {
        logsOf: 'the offline bucket', retention: props.accessLogsRetention ?? Duration.days(365), removalPolicy,
      }),
      serverAccessLogsPrefix: props.accessLogsBucket ? `feature-store/${Names.uniqueResourceName(this, { maxLength: 64 })}/` : undefined,
      lifecycleRules: this.lifecycleRules(props),
      removalPolicy,
    });

    this.databaseName = props.databaseName ?? Names.uniqueResourceName(this, { maxLength: 64, separator: '_' }).toLowerCase();
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Stack.of(this).account,
      databaseInput: { name: this.databaseName, description: `Offline feature history of ${this.node.path}` },
    });
    this.database.applyRemovalPolicy(removalPolicy);
    this.earliestEventDate = props.earliestEventDate ?? FeatureStore.defaultEarliestEventDate(props.offlineExpiration);
    for (const view of this.views) {
      const table = this.createGlueTable(view, this.earliestEventDate);
      table.applyRemovalPolicy(removalPolicy);
      table.node.addDependency(this.database);
    }

    this.workgroupName = props.workgroupName ?? Names.uniqueResourceName(this, { maxLength: 128 });
    this.workgroup = new athena.CfnWorkGroup(this, 'Workgroup', {
      name: this.workgroupName,
      description: `Offline feature queries of ${this.node.path}`,
      recursiveDeleteOption: removalPolicy === RemovalPolicy.DESTROY,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: (props.bytesScannedCutoffPerQuery ?? Size.gibibytes(100)).toBytes(),
        engineVersion: { selectedEngineVersion: ATHENA_ENGINE_VERSION },
        resultConfiguration: {
          outputLocation: this.bucket.s3UrlForObject(FeatureStore.QUERY_RESULTS_PREFIX),
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: this.key.keyArn },
          expectedBucketOwner: Stack.of(this).account,
        },
      },
    });
    this.workgroup.applyRemovalPolicy(removalPolicy);
  }

  /** The projection's first event date when none is given. */
  private static defaultEarliestEventDate(offlineExpiration: Duration | undefined): string {
    const days = concreteDays(offlineExpiration);
    return days === undefined ? DEFAULT_EARLIEST_EVENT_DATE : `NOW-${Math.ceil(days)}DAYS`;
  }

  private lifecycleRules(props: FeatureStoreProps): s3.LifecycleRule[] {
    return [
      {
        id: 'offline-history',
        prefix: OFFLINE_PREFIX,
        transitions: [{
          storageClass: s3.StorageClass.INFREQUENT_ACCESS,
          transitionAfter: props.offlineInfrequentAccessAfter ?? Duration.days(90),
        }],
        expiration: props.offlineExpiration,
      },
      { id: 'dead-letters', prefix: DEAD_LETTER_PREFIX, expiration: props.deadLetterRetention ?? Duration.days(90) },
      { id: 'query-results', prefix: FeatureStore.QUERY_RESULTS_PREFIX, expiration: props.queryResultsRetention ?? Duration.days(30) },
      {
        id: 'old-versions-and-uploads',
        noncurrentVersionExpiration: NONCURRENT_VERSION_RETENTION,
        abortIncompleteMultipartUploadAfter: Duration.days(7),
        expiredObjectDeleteMarker: true,
      },
    ];
  }

  /** The Glue table of one view: Parquet under `offline/<view>/`, partitions projected from the layout. */
  private createGlueTable(view: FeatureView, earliestEventDate: string): glue.CfnTable {
    const spec = view.toSpec();
    const descriptions = new Map(spec.features.map((f) => [f.name, f.description]));
    const toGlue = (c: OfflineColumn): glue.CfnTable.ColumnProperty => ({ name: c.name, type: c.type, comment: descriptions.get(c.name) });
    const [versionColumn, dateColumn] = OFFLINE_PARTITION_COLUMNS.map((c) => c.name);
    const location = this.bucket.s3UrlForObject(offlineViewPrefix(spec));
    return new glue.CfnTable(this, `OfflineTable-${view.name}`, {
      catalogId: Stack.of(this).account,
      databaseName: this.databaseName,
      tableInput: {
        name: this.glueTableName(view),
        description: spec.description ?? `Feature view ${spec.name}`,
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: OFFLINE_PARTITION_COLUMNS.map(toGlue),
        parameters: {
          'classification': 'parquet',
          'EXTERNAL': 'TRUE',
          'projection.enabled': 'true',
          [`projection.${versionColumn}.type`]: 'integer',
          [`projection.${versionColumn}.range`]: `1,${spec.version}`,
          [`projection.${dateColumn}.type`]: 'date',
          [`projection.${dateColumn}.format`]: 'yyyy-MM-dd',
          // +1 day: producers may stamp events a few minutes ahead of the clock across midnight UTC.
          [`projection.${dateColumn}.range`]: `${earliestEventDate},NOW+${PROJECTION_FUTURE_DAYS}DAYS`,
          [`projection.${dateColumn}.interval`]: '1',
          [`projection.${dateColumn}.interval.unit`]: 'DAYS',
          'storage.location.template': `${location}${versionColumn}=\${${versionColumn}}/${dateColumn}=\${${dateColumn}}/`,
        },
        storageDescriptor: {
          location,
          columns: offlineColumns(spec).map(toGlue),
          inputFormat: PARQUET.INPUT_FORMAT,
          outputFormat: PARQUET.OUTPUT_FORMAT,
          serdeInfo: { serializationLibrary: PARQUET.SERDE },
          compressed: true,
        },
      },
    });
  }

  /** Name of a view's Glue table (the view name). Throws if the view is not in this store. */
  public glueTableName(view: FeatureView): string {
    return this.viewInStore(view).name;
  }

  /**
   * Grants Athena queries over the offline history: running queries in the store's workgroup (and writing their
   * KMS-encrypted results under `athena-results/`), reading the views' Glue tables and Parquet files, and use of the
   * store's key through S3 only (`kms:ViaService`).
   * Object-level S3 permissions are necessarily prefix wildcards (`offline/<view>/*`); they are acknowledged for
   * cdk-nag on the grantee with that reason.
   * @param views the views to allow; default: every view of the store
   */
  public grantReadOffline(grantee: iam.IGrantable, views?: FeatureView[]): iam.Grant {
    const selected = this.selectViews(views);
    const stack = Stack.of(this);
    const dataObjects = selected.map((v) => this.bucket.arnForObjects(`${offlineViewPrefix(v)}*`));
    const resultObjects = this.bucket.arnForObjects(`${FeatureStore.QUERY_RESULTS_PREFIX}*`);
    const grants: iam.Grant[] = [
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'],
        resourceArns: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workgroupName })],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions'],
        resourceArns: [
          stack.formatArn({ service: 'glue', resource: 'catalog', arnFormat: ArnFormat.NO_RESOURCE_NAME }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
          ...selected.map((v) => stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${this.glueTableName(v)}` })),
        ],
      }),
      iam.Grant.addToPrincipalOrResource({ grantee, resource: this.bucket, actions: ['s3:GetObject'], resourceArns: dataObjects }),
      iam.Grant.addToPrincipalOrResource({
        grantee, resource: this.bucket,
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resourceArns: [resultObjects],
      }),
      iam.Grant.addToPrincipalOrResource({
        grantee, resource: this.bucket,
        actions: ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
        resourceArns: [this.bucket.bucketArn],
      }),
      grantKeyViaService(this.key, grantee, 's3', 'kms:Decrypt', 'kms:GenerateDataKey'),
    ];
    this.acknowledgeObjectWildcards(grantee, [...selected.map((v) => `${offlineViewPrefix(v)}*`), `${FeatureStore.QUERY_RESULTS_PREFIX}*`],
      'Athena reads every Parquet object of the granted views and writes query results; S3 object permissions can only be scoped by key prefix');
    return grants.reduce((all, g) => all.combine(g));
  }

  /**
   * Bytes Athena scanned for queries of the workgroup (`AWS/Athena` `ProcessedBytes`): the offline cost driver.
   * @default - Sum over 1 hour
   */
  public metricOfflineBytesScanned(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Athena', metricName: 'ProcessedBytes', statistic: cloudwatch.Stats.SUM, period: Duration.hours(1), ...props,
      dimensionsMap: { WorkGroup: this.workgroupName },
    });
  }
}
