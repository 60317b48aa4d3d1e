import { Duration, Lazy, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEGRADE_FUNCTION_TIMEOUT_S, DEGRADE_HANDLER, degradeEnvironment, DegradeVariables } from '../../runtime/contracts/degrade';
import {
  BudgetNotificationType, DEFAULT_DEGRADE_TRIGGER, DegradeActionSpec, degradeActionProblems, degradeTriggerProblems, DegradeTrigger, LedgerAttributes,
} from '../../runtime/core/degrade';
import { DegradeMetricDimensions, DegradeMetrics, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from '../private/alarm-actions';
import { createHandlerFunction } from '../private/handler-function';
import { budgetDegradeProblems } from '../private/validate-cost-degrade-props';
import { throwIfProblems } from '../private/validation';
import type { IModelEndpoint } from '../serving/model-endpoint-base';
import type { ModelRouting } from '../serving/model-routing';
import { AlarmActionProps } from './alarm-actions';
import { AlarmTopic } from './alarm-topic';
import { createDeadLetterQueue, sendOnlyDestination } from '../private/dead-letter';

/** Properties of a `BudgetDegrade`. */
export interface BudgetDegradeProps extends AlarmActionProps {
  /** The SNS topic AWS Budgets notifies (CostGuard's `topic`): the degrade function subscribes to it. */
  readonly topic: sns.ITopic;
  /**
   * The notification types that degrade. A forecast is an estimate that swings early in the month: by default only
   * money actually spent degrades the service.
   * @default ['ACTUAL']
   */
  readonly notificationTypes?: BudgetNotificationType[];
  /**
   * The least threshold, percent of the budgeted amount, of a notification that degrades. The lower thresholds
   * (50 / 80 / 95 %) are warnings for people, who can still act; degrading is the last resort.
   * @default 100
   */
  readonly minThresholdPercent?: number;
  /**
   * The budget whose notifications degrade (others on the topic are ignored).
   * @default - any budget notifying the topic
   */
  readonly budgetName?: string;
  /**
   * What happens to the ledger when it leaves the stack. It is the audit of every degrade and what reverts them:
   * keep it unless it is a throwaway environment.
   * @default RemovalPolicy.RETAIN
   */
  readonly ledgerRemovalPolicy?: RemovalPolicy;
}

/** Options of `BudgetDegrade.scaleToMinimum`. */
export interface ScaleToMinimumOptions {
  /**
   * Instances a variant WITHOUT autoscaling keeps (an autoscaled variant keeps its scalable target's MinCapacity).
   * @default 1
   */
  readonly minInstanceCount?: number;
}

/** The ledger's actions the handler calls: a conditional claim, updates of the actions and status, and a read of a lost claim. */
const HANDLER_LEDGER_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
/** The ledger's actions `npm run degrade` calls: show (Scan), revert (GetItem, Scan for --last, UpdateItem). */
const REVERT_LEDGER_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'];
/** SageMaker actions on an endpoint: read a variant's count; set it (also what RegisterScalableTarget checks for). */
const ENDPOINT_ACTIONS = ['sagemaker:DescribeEndpoint', 'sagemaker:UpdateEndpointWeightsAndCapacities'];
/** Application Auto Scaling actions: read a variant's scalable target, register it with new capacities. */
const AUTOSCALING_ACTIONS = ['application-autoscaling:DescribeScalableTargets', 'application-autoscaling:RegisterScalableTarget'];
/** The Application Auto Scaling grant's condition: SageMaker's scalable targets only. */
const AUTOSCALING_CONDITION = { StringEquals: { 'application-autoscaling:service-namespace': 'sagemaker' } };
/** Why the Application Auto Scaling actions are granted on '*'. */
const AUTOSCALING_WILDCARD_REASON = 'application-autoscaling:DescribeScalableTargets supports no resource-level permissions, and a scalable target\'s ARN '
  + 'carries an id AWS generates when the target is registered (unknown at synth): both are granted on \'*\', limited to the sagemaker service '
  + 'namespace (application-autoscaling:service-namespace); the code only names the configured variants\' resource ids, and what it can change '
  + 'on SageMaker is scoped to the configured endpoints';

/**
 * The cost guard's degrade action, configured, audited and reversible: a function subscribed to the SNS topic AWS
 * Budgets notifies (`topic`, e.g. CostGuard's) that, on a breach — by default ACTUAL spend at or above 100 % of the
 * budget — applies the configured actions:
 * - `scaleToMinimum(endpoint, variant)`: an autoscaled variant's scalable target gets MaxCapacity = MinCapacity, so
 *   Application Auto Scaling scales it in and cannot scale it back out; a variant without autoscaling gets
 *   DesiredInstanceCount = `minInstanceCount` (which one is read at run time, so an imported endpoint works too);
 * - `routeTo(routing, model, weights)`: the model's weights in the routing table (by `cost-guard`, the notification as
 *   the reason), so the gateway sends the traffic to the cheaper variant or backend.
 *
 * Every degrade is one item of the `ledger` table (on demand, point-in-time recovery, encrypted, retained by default),
 * keyed by budget and month: a second notification in the month does not degrade twice. The item holds the
 * notification and each action's state BEFORE and AFTER (weights and routing version; min/max or desired instance
 * count); `npm run degrade -- revert --last --table <ledger>` (or `revertDegrade`) restores them, refusing when someone
 * changed a target since, and records who reverted when. A failed action is retried by Lambda's asynchronous retries
 * (only what is pending); after them the event lands in `deadLetterQueue`. Alarms (`alarms`) on the function's errors
 * and on that queue notify `alarmAction` (by default a new encrypted SNS topic, `alarmTopic`) of ALARM and OK.
 */
export class BudgetDegrade extends Construct {
  /** The ledger: one item per degrade. */
  public readonly ledger: dynamodb.Table;
  /** The ledger's name (what `npm run degrade -- --table` takes). */
  public readonly ledgerTableName: string;
  /** The function applying the actions. */
  public readonly function: lambda.Function;
  /** Notifications the function failed on after its retries, and those SNS could not deliver to it. */
  public readonly deadLetterQueue: sqs.Queue;
  /**
   * Every alarm: the function failed (an action failed, the ledger was unreachable, or a degrade was still being
   * applied); the dead-letter queue is not empty; a message on the topic could not be read (a changed Budgets format).
   */
  public readonly alarms: cloudwatch.Alarm[];
  /** Where every alarm sends its ALARM and OK transitions: `alarmAction`, or `alarmTopic`. */
  public readonly alarmAction: cloudwatch.IAlarmAction;
  /** The topic created for the alarms when no `alarmAction` was given: subscribe to it. */
  public readonly alarmTopic?: AlarmTopic;
  /** The actions configured, in order. */
  public readonly actions: DegradeActionSpec[] = [];
  /** Grants to whoever reverts degrades, one per target added (`grantRevert`). */
  private readonly revertGrants: ((grantee: iam.IGrantable) => void)[] = [];
  private readonly endpointsGranted = new Set<string>();
  private readonly routingsGranted = new Set<ModelRouting>();
  private readonly trigger: DegradeTrigger;

  constructor(scope: Construct, id: string, props: BudgetDegradeProps) {
    super(scope, id);
    this.trigger = {
      notificationTypes: props.notificationTypes ?? DEFAULT_DEGRADE_TRIGGER.notificationTypes,
      minThresholdPercent: props.minThresholdPercent ?? DEFAULT_DEGRADE_TRIGGER.minThresholdPercent,
      ...(props.budgetName === undefined ? {} : { budgetName: props.budgetName }),
    };
    // Problems of the trigger now; of the actions at synth, once they are all added (at least one is needed).
    throwIfProblems(this, degradeTriggerProblems(this.trigger));
    this.node.addValidation({ validate: () => budgetDegradeProblems(this.actions, this.trigger) });

    const ledgerRemovalPolicy = props.ledgerRemovalPolicy ?? RemovalPolicy.RETAIN;
    this.ledger = new dynamodb.Table(this, 'Ledger', {
      partitionKey: { name: LedgerAttributes.ID, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: ledgerRemovalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy: ledgerRemovalPolicy,
    });
    this.ledgerTableName = this.ledger.tableName;
    this.revertGrants.push((grantee) => this.ledger.grant(grantee, ...REVERT_LEDGER_ACTIONS));

    const environment = degradeEnvironment({ actions: [], trigger: this.trigger, ledgerTableName: this.ledgerTableName });
    this.function = createHandlerFunction(this, 'Function', {
      handler: DEGRADE_HANDLER,
      description: 'Degrades the platform on a budget breach (cost guard): scales variants to their minimum, routes to cheaper variants; recorded in its ledger',
      environment: {
        ...environment,
        [DegradeVariables.ACTIONS]: Lazy.string({ produce: () => Stack.of(this).toJsonString(this.actions) }),
      },
      // The handler's stale cut-off (DegradeVariables.STALE_AFTER_MS, written by degradeEnvironment) is derived from it.
      timeout: Duration.seconds(DEGRADE_FUNCTION_TIMEOUT_S),
    });
    this.ledger.grant(this.function, ...HANDLER_LEDGER_ACTIONS);

    // The messages are budget notifications (names and amounts).
    this.deadLetterQueue = createDeadLetterQueue(this, 'DeadLetterQueue', 'of the degrade function\'s asynchronous invocations and of its SNS subscription');
    const queue = this.deadLetterQueue;
    this.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: sendOnlyDestination(queue),
    });
    props.topic.addSubscription(new subscriptions.LambdaSubscription(this.function, { deadLetterQueue: queue }));

    const notifications = alarmActionOf(this, props);
    this.alarmAction = notifications.action;
    this.alarmTopic = notifications.topic;
    this.alarms = [
      anyFailureAlarm(this, 'ErrorsAlarm', this.function.metricErrors({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1) }),
        'The cost guard\'s degrade function failed: a degrade action failed or its ledger was unreachable (retried; see its log and `npm run degrade -- show`)'),
      anyFailureAlarm(this, 'DeadLetterAlarm', queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) }),
        'A budget breach was not fully degraded: the notification is in the degrade dead-letter queue after the retries; see the function\'s log and `npm run degrade -- show`, and degrade by hand if needed'),
      anyFailureAlarm(this, 'UnparsedNotificationsAlarm', new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE, metricName: DegradeMetrics.UNPARSED_NOTIFICATIONS, dimensionsMap: { [DegradeMetricDimensions.LEDGER]: this.ledgerTableName },
        statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5),
      }), 'The cost guard\'s degrade function received a message on the budget topic it could not read (neither a budget notification nor a '
        + 'CloudWatch alarm): if AWS Budgets changed its message format, budget breaches no longer degrade; see the function\'s log (reason unparsed-notification)'),
    ];
    notifyOnStateChanges(this.alarmAction, this.alarms);
  }

  /**
   * On a breach, sets `variantName` of `endpoint` to its minimum instance count: an autoscaled variant's MaxCapacity
   * is lowered to its MinCapacity; a variant without autoscaling gets `minInstanceCount`. Allows the function (and
   * `grantRevert`) `DescribeEndpoint` and `UpdateEndpointWeightsAndCapacities` on the endpoint, and reading and
   * registering scalable targets.
   */
  public scaleToMinimum(endpoint: IModelEndpoint, variantName: string, options: ScaleToMinimumOptions = {}): this {
    const problems: string[] = [];
    if (!endpoint.productionVariantNames.includes(variantName)) {
      problems.push(`scaleToMinimum: endpoint ${endpoint.node.path} has no production variant '${variantName}'; its production variants are ${endpoint.productionVariantNames.join(', ')}`);
    }
    return this.add({ kind: 'scale-to-minimum', endpointName: endpoint.endpointName, variantName, minInstanceCount: options.minInstanceCount ?? 1 }, problems, () => {
      if (this.endpointsGranted.has(endpoint.endpointArn)) return;
      const grants = [(grantee: iam.IGrantable) => iam.Grant.addToPrincipal({ grantee, actions: ENDPOINT_ACTIONS, resourceArns: [endpoint.endpointArn] })];
      if (this.endpointsGranted.size === 0) {
        grants.push((grantee) => iam.Grant.addToPrincipal({ grantee, actions: AUTOSCALING_ACTIONS, resourceArns: ['*'], conditions: AUTOSCALING_CONDITION }));
        Validations.of(this.function.role!).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason: `${AUTOSCALING_WILDCARD_REASON}; xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions either`,
        });
      }
      this.endpointsGranted.add(endpoint.endpointArn);
      for (const grant of grants) {
        grant(this.function);
        this.revertGrants.push(grant);
      }
    });
  }

  /**
   * On a breach, sets `model`'s routing weights in `routing` to `weights` (every variant of the model, any non-negative
   * scale, at least one positive), so the gateway sends the traffic to the cheaper variant or backend. Allows the
   * function (and `grantRevert`) to update the routing table's weights (`grantUpdateWeights`).
   */
  public routeTo(routing: ModelRouting, model: string, weights: Record<string, number>): this {
    const problems = routing.models.includes(model) ? [] : [`routeTo: model '${model}' is not in ${routing.node.path}: add it there first (addModel)`];
    return this.add({ kind: 'route', routingTableName: routing.tableName, model, weights: { ...weights } }, problems, () => {
      if (this.routingsGranted.has(routing)) return;
      this.routingsGranted.add(routing);
      routing.grantUpdateWeights(this.function);
      this.revertGrants.push((grantee) => routing.grantUpdateWeights(grantee));
    });
  }

  /**
   * Allows `grantee` what `npm run degrade -- show` and `revert` (`revertDegrade`) need: reading the ledger and
   * recording reverts, and restoring every configured target (routing weights, variants' scaling). Call it after the
   * actions are configured.
   */
  public grantRevert(grantee: iam.IGrantable): void {
    for (const grant of this.revertGrants) grant(grantee);
  }

  /** Validates and adds an action, then grants what it needs. */
  private add(action: DegradeActionSpec, problems: string[], grant: () => void): this {
    const index = this.actions.length;
    throwIfProblems(this, [...problems, ...degradeActionProblems(action, `actions[${index}]`)]);
    this.actions.push(action);
    grant();
    return this;
  }

}
