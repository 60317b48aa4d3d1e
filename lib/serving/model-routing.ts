import { createHash } from 'crypto';
import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { MetricDimensions, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import {
  modelNameProblems, RoutingAttributes, RoutingSyncMetrics, RoutingUpdate, seedUpdates, variantSetOf, weightChangeProblems,
} from '../../runtime/core/routing';
import { AlarmActionProps } from '../monitoring/alarm-actions';
import { AlarmTopic } from '../monitoring/alarm-topic';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from '../private/alarm-actions';
import { createHandlerFunction } from '../private/handler-function';
import { grantKeyViaService } from '../private/kms-grants';
import { concreteSeconds, rangeProblems, throwIfProblems } from '../private/validation';
import type { IModelEndpoint } from './model-endpoint';
import { createDeadLetterQueue, sendOnlyDestination } from '../private/dead-letter';

/** Properties of a `ModelRouting`. */
export interface ModelRoutingProps extends AlarmActionProps {
  /**
   * Customer-managed key encrypting the table (and its stream).
   * @default - an AWS owned key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the table when it leaves the stack. It holds live routing state and the audit trail of every
   * change: keep it unless it is a throwaway environment.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How often the sync retries a change SageMaker did not take (an endpoint still updating, throttling), after the
   * handler's own minute of retries, before the change's stream position goes to the sync's failure queue (0–10000).
   * @default 20
   */
  readonly syncRetryAttempts?: number;
  /**
   * Oldest change the sync still pushes (60 s to 7 days); older ones go to the failure queue.
   * @default Duration.hours(6)
   */
  readonly syncMaxRecordAge?: Duration;
}

/** A model whose weights the routing table owns. */
export interface ModelRoutingEntry {
  /** The model's name: the item's key, and what the gateway and `npm run route` name it by. */
  readonly model: string;
  /**
   * Initial weight of each variant (any non-negative scale, at least one positive), seeded once: a redeploy never
   * overwrites the live weights. Their order is the assignment order; with an endpoint, that of its production variants.
   */
  readonly variantWeights: Record<string, number>;
  /**
   * SageMaker endpoint whose production variant weights follow the table, for callers that bypass the gateway. Its
   * production variants must be the keys of `variantWeights`.
   * @default - none: only readers of the table (the gateway) follow the weights
   */
  readonly endpoint?: IModelEndpoint;
}

/** The actions `grantRead` allows. */
const READ_ACTIONS = ['dynamodb:GetItem'];
/** The actions `grantUpdateWeights` allows: a consistent read of the entry, then a conditional update. */
const UPDATE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'];
/** The actions Lambda's event source mapping calls with the function's role to read the table's stream. */
const STREAM_READ_ACTIONS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'];
/** Who the deploy's seed is recorded as (the change's `by`). */
const SEEDED_BY = 'cloudformation';

/** A routing table as a rollout drives it: its name, the models it routes, and the grant to change their weights. */
export interface IModelRouting {
  /** The routing table's name. */
  readonly tableName: string;
  /** The models the table routes. */
  readonly models: readonly string[];
  /** Lets `grantee` read the table and change models' weights (and shadows), as `npm run route` and rollouts do. */
  grantUpdateWeights(grantee: iam.IGrantable): iam.Grant;
}

/**
 * Routing weights owned at runtime: a DynamoDB table with one item per model holding its variant weights, a version
 * and the audit trail of every change (layout: runtime/core/routing.ts). The gateway reads it with a short cache
 * (`CachedRoutingSource`); operators and rollout controllers change it with `npm run route` or `RoutingTableClient`
 * (optimistic concurrency: a change names the version it was decided on).
 *
 * The table is on demand, with point-in-time recovery, encrypted (an AWS owned key unless `encryptionKey`), retained
 * by default, and streams NEW_AND_OLD_IMAGES. `addModel` seeds a model's item at deploy without ever overwriting live
 * weights. For a model with an endpoint, a sync function on the stream makes the endpoint's variant weights follow
 * the table (`UpdateEndpointWeightsAndCapacities`, allowed on those endpoints only); a change it gives up on leaves
 * its stream position in `syncFailureQueue`, and one SageMaker refuses counts in `metricSyncRefused`. Alarms (`alarms`)
 * on both — a non-empty failure queue, and refusals per model with an endpoint — notify `alarmAction` (by default a new
 * encrypted SNS topic, `alarmTopic`) when they fire and when they recover.
 * The table decides nothing: which weights to set is the operator's or the rollout controller's business.
 */
export class ModelRouting extends Construct implements IModelRouting {
  /** The routing table. */
  public readonly table: dynamodb.Table;
  /** The routing table's name. */
  public readonly tableName: string;
  /** The key encrypting the table, when customer managed. */
  public readonly encryptionKey?: kms.IKey;
  /** The models added, in order. */
  public readonly models: string[] = [];
  /**
   * Every alarm: the sync's failure queue holds changes it gave up on, and, per model with an endpoint, SageMaker
   * refused its weights (`metricSyncRefused`). Empty until a model with an endpoint is added.
   */
  public readonly alarms: cloudwatch.Alarm[] = [];
  private sync?: { readonly fn: lambda.Function; readonly queue: sqs.Queue };
  private notifications?: { readonly action: cloudwatch.IAlarmAction; readonly topic?: AlarmTopic };

  constructor(scope: Construct, id: string, private readonly props: ModelRoutingProps = {}) {
    super(scope, id);
    const maxRecordAge = concreteSeconds(props.syncMaxRecordAge);
    throwIfProblems(this, [
      ...rangeProblems('syncRetryAttempts', props.syncRetryAttempts, { min: 0, max: 10_000, integer: true }),
      ...(maxRecordAge !== undefined && (maxRecordAge < 60 || maxRecordAge > 604_800) ? [`syncMaxRecordAge: ${maxRecordAge} s must be from 60 s to 7 days (604800 s)`] : []),
    ]);
    this.encryptionKey = props.encryptionKey;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: RoutingAttributes.MODEL, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.DEFAULT,
      encryptionKey: props.encryptionKey,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy,
    });
    this.tableName = this.table.tableName;
  }

  /**
   * Adds a model: seeds its item at deploy (version 1, the seed as the first change of its trail) unless it has one,
   * so a redeploy never resets live weights; the endpoint name is kept current, so a replaced endpoint gets the live
   * weights. A deploy whose variants are another set of names than the table's (the endpoint's variants changed)
   * replaces them with `variantWeights`, one version later, audited (`seedUpdates`). Removing a model later leaves its
   * item (and trail) in the table.
   */
  public addModel(entry: ModelRoutingEntry): void {
    const weights = this.seedWeights(entry);
    const updates = seedUpdates({
      model: entry.model, weights, endpointName: entry.endpoint?.endpointName,
      by: SEEDED_BY, reason: `seeded by ModelRouting ${this.node.path}`.slice(0, 512),
    });
    const id = entry.model.replace(/\//g, '|');
    // A set of variant names of its own is a resource of its own: a changed set is created (its call runs) whatever
    // else changed. It runs before the seed, so a first deploy is one change (the replacement finds no entry).
    const setHash = createHash('sha256').update(variantSetOf(Object.keys(weights))).digest('hex').slice(0, 16);
    const replace = this.seedCall(`Variants:${id}:${setHash}`, 'Custom::ModelRoutingVariants', updates.replaceVariants, `routing-variants:${entry.model}:${setHash}`, true);
    const seed = this.seedCall(`Seed:${id}`, 'Custom::ModelRoutingSeed', updates.create, `routing-seed:${entry.model}`, false);
    seed.node.addDependency(replace);
    this.models.push(entry.model);
    if (entry.endpoint) {
      const sync = this.ensureSync();
      iam.Grant.addToPrincipal({ grantee: sync.fn, actions: ['sagemaker:UpdateEndpointWeightsAndCapacities'], resourceArns: [entry.endpoint.endpointArn] });
      this.addAlarm(`SyncRefusedAlarm:${id}`, this.metricSyncRefused(entry.model),
        `SageMaker refused the routing weights of model ${entry.model}: its endpoint no longer follows the routing table (see the sync's log for the reason)`);
    }
  }

  /** Where every alarm sends its ALARM and OK transitions: `alarmAction`, or `alarmTopic`; undefined until there is an alarm. */
  public get alarmAction(): cloudwatch.IAlarmAction | undefined {
    return this.notifications?.action;
  }

  /** The topic created for the alarms when no `alarmAction` was given: subscribe to it. */
  public get alarmTopic(): AlarmTopic | undefined {
    return this.notifications?.topic;
  }

  /** Allows `grantee` to read models' weights (`dynamodb:GetItem`): what the gateway's `CachedRoutingSource` needs. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const grant = this.table.grant(grantee, ...READ_ACTIONS);
    if (this.encryptionKey) grantKeyViaService(this.encryptionKey, grantee, 'dynamodb', 'kms:Decrypt');
    return grant;
  }

  /**
   * Allows `grantee` to change models' weights (`dynamodb:GetItem`, `dynamodb:UpdateItem`): what `npm run route` and
   * a rollout controller need (`RoutingTableClient.setWeights`).
   */
  public grantUpdateWeights(grantee: iam.IGrantable): iam.Grant {
    const grant = this.table.grant(grantee, ...UPDATE_ACTIONS);
    if (this.encryptionKey) grantKeyViaService(this.encryptionKey, grantee, 'dynamodb', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    return grant;
  }

  /** The function that pushes weights to SageMaker; undefined until a model with an endpoint is added. */
  public get syncFunction(): lambda.IFunction | undefined {
    return this.sync?.fn;
  }

  /** Where the stream positions of changes the sync gave up on go; undefined until a model with an endpoint is added. */
  public get syncFailureQueue(): sqs.IQueue | undefined {
    return this.sync?.queue;
  }

  /**
   * Weight changes of `model` that SageMaker refused or that could not be read (`RoutingWeightsRefused`): its endpoint
   * no longer follows the table.
   * @default - Sum over 1 minute
   */
  public metricSyncRefused(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName: RoutingSyncMetrics.REFUSED, dimensionsMap: { [MetricDimensions.MODEL]: model },
      statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1), ...props,
    });
  }

  /**
   * A custom resource sending `update` to the table on create and on every update that changes it (nothing on delete:
   * the item is live state with its audit trail); `conditional`: a failed condition is what it expects, not an error.
   */
  private seedCall(id: string, resourceType: string, update: RoutingUpdate, physicalId: string, conditional: boolean): cr.AwsCustomResource {
    const call: cr.AwsSdkCall = {
      service: 'DynamoDB',
      action: 'UpdateItem',
      parameters: { TableName: this.tableName, ...update },
      physicalResourceId: cr.PhysicalResourceId.of(physicalId),
      ...(conditional ? { ignoreErrorCodesMatching: 'ConditionalCheckFailedException' } : {}),
    };
    const resource = new cr.AwsCustomResource(this, id, {
      resourceType,
      onCreate: call,
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [this.table.tableArn] })]),
      installLatestAwsSdk: false,
      ...this.seedProvider(),
    });
    if (this.encryptionKey) grantKeyViaService(this.encryptionKey, resource, 'dynamodb', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    return resource;
  }

  /** An alarm on `metric` above 0, notifying the routing's alarm action of its ALARM and OK transitions. */
  private addAlarm(id: string, metric: cloudwatch.IMetric, description: string): void {
    const alarm = anyFailureAlarm(this, id, metric, description);
    this.notifications ??= alarmActionOf(this, this.props);
    notifyOnStateChanges(this.notifications.action, [alarm]);
    this.alarms.push(alarm);
  }

  /** The entry's weights in assignment order, validated (every problem at once). */
  private seedWeights(entry: ModelRoutingEntry): Record<string, number> {
    const problems = weightChangeProblems(entry.variantWeights).map((p) => `variantWeights: ${p}`);
    if (this.models.includes(entry.model)) problems.push(`model '${entry.model}' is added twice`);
    if (Token.isUnresolved(entry.model)) problems.push('model: must be a name known at synth (the item key), not a token');
    else problems.push(...modelNameProblems(entry.model).map((p) => `model: ${p}`));
    const production = entry.endpoint?.productionVariantNames;
    if (production && !production.some((name) => Token.isUnresolved(name))) {
      const given = Object.keys(entry.variantWeights);
      const missing = production.filter((name) => !given.includes(name));
      const unknown = given.filter((name) => !production.includes(name));
      if (missing.length > 0 || unknown.length > 0) {
        problems.push(`variantWeights: must weigh exactly the endpoint's production variants (${production.join(', ')})`
          + `${missing.length ? `; missing ${missing.join(', ')}` : ''}${unknown.length ? `; unknown ${unknown.join(', ')}` : ''}`);
      }
    }
    throwIfProblems(this, problems.map((p) => `addModel('${entry.model}'): ${p}`));
    const order = production && problems.length === 0 && !production.some((name) => Token.isUnresolved(name)) ? production : Object.keys(entry.variantWeights);
    return Object.fromEntries(order.map((name) => [name, entry.variantWeights[name]]));
  }

  /**
   * The role and log group of the stack's AwsCustomResource provider function, when this is the first construct of the
   * stack to need it: a role of our own (no AWSLambdaBasicExecutionRole managed policy) writing to a log group with a
   * retention. The provider is a singleton per stack: when it exists already, the seed's statement joins its role.
   */
  private seedProvider(): Pick<cr.AwsCustomResourceProps, 'role' | 'logGroup'> {
    const singletonId = `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`;
    if (Stack.of(this).node.tryFindChild(singletonId)) return {};
    const role = new iam.Role(this, 'SeedProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Seeds the routing table of ${this.node.path} at deploy (AwsCustomResource provider)`.slice(0, 1000),
    });
    const logGroup = new logs.LogGroup(this, 'SeedProviderLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    logGroup.grantWrite(role);
    return { role, logGroup };
  }

  /** The sync function and its failure queue, created with the first model that has an endpoint. */
  private ensureSync(): { fn: lambda.Function; queue: sqs.Queue } {
    if (this.sync) return this.sync;
    // The messages hold stream positions only.
    const queue = createDeadLetterQueue(this, 'SyncFailureQueue', 'the on-failure destination of the routing sync\'s stream event source mapping');
    const fn = createHandlerFunction(this, 'Sync', {
      handler: 'routing-sync-handler',
      description: `Pushes the routing weights of ${this.node.path} to their SageMaker endpoints`,
      environment: {},
      // The handler retries an updating endpoint for a minute before handing the change back to the mapping.
      timeout: Duration.minutes(2),
    });
    fn.addEventSourceMapping('TableStream', {
      eventSourceArn: this.table.tableStreamArn!,
      // From the oldest change the stream holds: a seed written before the mapping was ready is still pushed.
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      retryAttempts: this.props.syncRetryAttempts ?? 20,
      maxRecordAge: this.props.syncMaxRecordAge ?? Duration.hours(6),
      reportBatchItemFailures: true,
      onFailure: sendOnlyDestination(queue),
    });
    iam.Grant.addToPrincipal({ grantee: fn, actions: STREAM_READ_ACTIONS, resourceArns: [this.table.tableStreamArn!] });
    if (this.encryptionKey) grantKeyViaService(this.encryptionKey, fn, 'dynamodb', 'kms:Decrypt');
    this.sync = { fn, queue };
    this.addAlarm('SyncFailureAlarm', queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) }),
      'The routing sync gave up on weight changes (SageMaker kept refusing or the retries ran out): an endpoint may not follow the routing table; the positions are in its failure queue');
    return this.sync;
  }
}
