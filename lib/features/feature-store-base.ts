import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { MaterializerMetrics, MetricDimensions, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { grantKeyViaService } from '../private/kms-grants';
import { validateFeatureStoreAttributes } from '../private/validate-feature-store-props';
import { nagResource, throwIfProblems } from '../private/validation';
import { FeatureView } from './feature-view';
import { DEAD_LETTER_PREFIX, DEFAULT_EARLIEST_EVENT_DATE, offlineViewPrefix } from './spec';

/**
 * A feature store, created here (`FeatureStore`) or imported (`FeatureStore.fromFeatureStoreAttributes`): what the
 * constructs that write to it (`FeatureIngestion`) and read from it (`InferenceGateway`) use.
 */
export interface IFeatureStore extends IConstruct {
  /** The online table. */
  readonly table: dynamodb.ITable;
  /** The offline bucket (Parquet history under `offline/`, dead letters under `dead-letter/`). */
  readonly bucket: s3.IBucket;
  /** The key encrypting the table and the bucket; streams carrying feature values use it too. */
  readonly key: kms.IKey;
  /** The views the store holds. */
  readonly views: FeatureView[];
  /**
   * First event date of the offline partition projection: `yyyy-mm-dd`, or `NOW-<n>DAYS` when the history expires
   * after n days. The materializers writing to this store refuse events dated before it (they would never be read).
   */
  readonly earliestEventDate: string;

  /** Why `view` is not served by this store (absent, or defined differently), or undefined when it is. */
  membershipProblem(view: FeatureView): string | undefined;
  /** The store's definition of a view named like `view`; throws, naming the store's views, when it holds none or another. */
  viewInStore(view: FeatureView): FeatureView;
  /** Grants what `OnlineFeatureClient` sends: `BatchGetItem` on the online table, decryption through DynamoDB only. */
  grantReadOnline(grantee: iam.IGrantable): iam.Grant;
  /** Grants what the materializer sends online: conditional `PutItem`, the key through DynamoDB only. */
  grantWriteOnline(grantee: iam.IGrantable): iam.Grant;
  /**
   * Grants writing Parquet files of the views under `offline/<view>/` and dead letters under `dead-letter/`.
   * @param views the views to allow; default: every view of the store
   */
  grantWriteOffline(grantee: iam.IGrantable, views?: FeatureView[]): iam.Grant;
  /** Valid rows the materializer stored for a view (`RowsStored`). @default - Sum over 1 minute */
  metricRowsStored(view: FeatureView, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Invalid records of a view written under `dead-letter/` (`RecordsDeadLettered`). @default - Sum over 1 minute */
  metricDeadLettered(view: FeatureView, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Milliseconds from event time to online write for a view (`FreshnessLagMs`). @default - Maximum over 1 minute */
  metricFreshnessLag(view: FeatureView, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Read requests DynamoDB throttled on the online table. @default - Sum over 1 minute */
  metricOnlineReadThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Write requests DynamoDB throttled on the online table. @default - Sum over 1 minute */
  metricOnlineWriteThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Server-side latency of one online table operation, milliseconds. @default - Average over 1 minute */
  metricOnlineLatency(operation: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** A feature store created elsewhere (another stack or app), for `FeatureStore.fromFeatureStoreAttributes`. */
export interface FeatureStoreAttributes {
  /** Name of the online DynamoDB table. */
  readonly tableName: string;
  /** Name of the offline S3 bucket. */
  readonly bucketName: string;
  /** ARN of the KMS key encrypting the table and the bucket. */
  readonly keyArn: string;
  /** The views the store holds: the same FeatureView definitions the store was created with. */
  readonly views: FeatureView[];
  /**
   * The store's `earliestEventDate` (`yyyy-mm-dd` or `NOW-<n>DAYS`): materializers writing to it refuse earlier
   * events. Give the value the store was deployed with, or the materializer's window and the offline tables'
   * projection disagree.
   * @default DEFAULT_EARLIEST_EVENT_DATE ('2020-01-01'), a store's own default when it has no `offlineExpiration`
   */
  readonly earliestEventDate?: string;
}

/** Period of every metric helper unless overridden. */
const METRIC_PERIOD = Duration.minutes(1);

/** What every feature store offers, created or imported: view membership, online and offline write grants, metrics. */
export abstract class FeatureStoreBase extends Construct implements IFeatureStore {
  public abstract readonly table: dynamodb.ITable;
  public abstract readonly bucket: s3.IBucket;
  public abstract readonly key: kms.IKey;
  public abstract readonly views: FeatureView[];
  public abstract readonly earliestEventDate: string;

  /**
   * The store's definition of a view with the same name as `view`. Throws, naming the store's views, when there is
   * none or when the definitions differ.
   */
  public viewInStore(view: FeatureView): FeatureView {
    const problem = this.membershipProblem(view);
    if (problem) throw new Error(`${this.node.path}: ${problem}`);
    return this.views.find((v) => v.name === view.name)!;
  }

  /**
   * Why `view` is not served by this store (absent, or defined differently), or undefined when it is.
   */
  public membershipProblem(view: FeatureView): string | undefined {
    const held = this.views.find((v) => v.name === view.name);
    if (!held) {
      return `view '${view.name}' is not in the feature store (it holds: ${this.views.map((v) => v.name).join(', ')}); add it to the store's views`;
    }
    if (JSON.stringify(held.toSpec()) !== JSON.stringify(view.toSpec())) {
      return `view '${view.name}' v${view.version} differs from the store's definition (v${held.version}); pass the same FeatureView object to both`;
    }
    return undefined;
  }

  /**
   * Grants what `OnlineFeatureClient` sends: `BatchGetItem` on the online table, and decryption with the store's key
   * through DynamoDB only (`kms:ViaService`).
   */
  public grantReadOnline(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(grantee, 'dynamodb:BatchGetItem')
      .combine(grantKeyViaService(this.key, grantee, 'dynamodb', 'kms:Decrypt'));
  }

  /**
   * Grants what the materializer sends: conditional `PutItem` on the online table (a newer event time wins), and use
   * of the store's key through DynamoDB only (`kms:ViaService`). BatchWriteItem is left out on purpose: it cannot
   * carry the condition.
   */
  public grantWriteOnline(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(grantee, 'dynamodb:PutItem')
      .combine(grantKeyViaService(this.key, grantee, 'dynamodb', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'));
  }

  /**
   * Grants writing (single-part PutObject, SSE-KMS with the store's key, used through S3 only) Parquet files of the
   * views under `offline/<view>/` and dead-lettered records under `dead-letter/`; no reads, no deletes. The prefix wildcards are acknowledged for cdk-nag on the grantee.
   * @param views the views to allow; default: every view of the store
   */
  public grantWriteOffline(grantee: iam.IGrantable, views?: FeatureView[]): iam.Grant {
    const prefixes = [...this.selectViews(views).map((v) => `${offlineViewPrefix(v)}*`), `${DEAD_LETTER_PREFIX}*`];
    this.acknowledgeObjectWildcards(grantee, prefixes,
      'The materializer writes new Parquet and dead-letter objects with generated names; S3 object permissions can only be scoped by key prefix');
    return iam.Grant.addToPrincipalOrResource({
      grantee, resource: this.bucket,
      actions: ['s3:PutObject'],
      resourceArns: prefixes.map((p) => this.bucket.arnForObjects(p)),
    }).combine(grantKeyViaService(this.key, grantee, 's3', 'kms:GenerateDataKey'));
  }

  /** The store's definitions of `views`, or every view of the store. */
  protected selectViews(views: FeatureView[] | undefined): FeatureView[] {
    return views ? views.map((v) => this.viewInStore(v)) : this.views;
  }

  /** Acknowledges, on the grantee's construct, exactly the AwsSolutions-IAM5 findings our prefix grants cause. */
  protected acknowledgeObjectWildcards(grantee: iam.IGrantable, prefixes: string[], reason: string): void {
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal)) return;
    const bucketArn = nagResource(Stack.of(this).resolve(this.bucket.bucketArn));
    Validations.of(principal).acknowledge(...prefixes.map((p) => ({ id: `AwsSolutions-IAM5[Resource::${bucketArn}/${p}]`, reason })));
  }

  /**
   * Read requests DynamoDB throttled on the online table (`ReadThrottleEvents`).
   * @default - Sum over 1 minute
   */
  public metricOnlineReadThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.table.metric('ReadThrottleEvents', { statistic: cloudwatch.Stats.SUM, period: METRIC_PERIOD, ...props });
  }

  /**
   * Write requests DynamoDB throttled on the online table (`WriteThrottleEvents`).
   * @default - Sum over 1 minute
   */
  public metricOnlineWriteThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.table.metric('WriteThrottleEvents', { statistic: cloudwatch.Stats.SUM, period: METRIC_PERIOD, ...props });
  }

  /**
   * Server-side latency of one online table operation (`SuccessfulRequestLatency`, milliseconds).
   * @param operation the DynamoDB operation, e.g. 'BatchGetItem' (serving) or 'PutItem' (materialization)
   * @default - Average over 1 minute
   */
  public metricOnlineLatency(operation: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.table.metric('SuccessfulRequestLatency', {
      statistic: cloudwatch.Stats.AVERAGE, period: METRIC_PERIOD, ...props,
      dimensionsMap: { TableName: this.table.tableName, Operation: operation },
    });
  }

  /**
   * Valid rows the materializer stored for a view (`RowsStored`, our namespace).
   * @default - Sum over 1 minute
   */
  public metricRowsStored(view: FeatureView, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.viewMetric(view, MaterializerMetrics.ROWS_STORED, cloudwatch.Stats.SUM, props);
  }

  /**
   * Invalid records of a view written under `dead-letter/` (`RecordsDeadLettered`, our namespace).
   * @default - Sum over 1 minute
   */
  public metricDeadLettered(view: FeatureView, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.viewMetric(view, MaterializerMetrics.DEAD_LETTERED, cloudwatch.Stats.SUM, props);
  }

  /**
   * Milliseconds from event time to online write for a view (`FreshnessLagMs`, our namespace; the handler emits the
   * maximum of each batch).
   * @default - Maximum over 1 minute
   */
  public metricFreshnessLag(view: FeatureView, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.viewMetric(view, MaterializerMetrics.FRESHNESS_LAG_MS, cloudwatch.Stats.MAXIMUM, props);
  }

  private viewMetric(view: FeatureView, metricName: string, statistic: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName, statistic, period: METRIC_PERIOD, ...props,
      dimensionsMap: { [MetricDimensions.FEATURE_VIEW]: this.viewInStore(view).name },
    });
  }
}

/** A store created elsewhere: its table, bucket and key imported by name and ARN. */
export class ImportedFeatureStore extends FeatureStoreBase {
  public readonly table: dynamodb.ITable;
  public readonly bucket: s3.IBucket;
  public readonly key: kms.IKey;
  public readonly views: FeatureView[];
  public readonly earliestEventDate: string;

  constructor(scope: Construct, id: string, attrs: FeatureStoreAttributes) {
    super(scope, id);
    throwIfProblems(this, validateFeatureStoreAttributes(attrs));
    this.key = kms.Key.fromKeyArn(this, 'Key', attrs.keyArn);
    this.table = dynamodb.Table.fromTableAttributes(this, 'OnlineTable', { tableName: attrs.tableName, encryptionKey: this.key });
    this.bucket = s3.Bucket.fromBucketAttributes(this, 'OfflineBucket', { bucketName: attrs.bucketName, encryptionKey: this.key });
    this.views = [...attrs.views];
    this.earliestEventDate = attrs.earliestEventDate ?? DEFAULT_EARLIEST_EVENT_DATE;
  }
}
