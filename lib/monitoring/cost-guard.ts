import { Annotations, Duration, Names, Stack } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AlarmActionProps } from './alarm-actions';
import { AlarmTopic } from './alarm-topic';
import { PlatformTagKeys, PlatformTags } from './platform-tags';
import { notifyOnStateChanges } from '../private/alarm-actions';
import {
  costGuardProblems, costPerPredictionAlarmProblems, costPerPredictionProblems, DEFAULT_COST_PERIOD,
} from '../private/validate-cost-guard-props';
import { throwIfProblems } from '../private/validation';
import type { IModelEndpoint } from '../serving/model-endpoint-base';

/** What a budget notification compares with its threshold. */
export enum BudgetNotificationType {
  /** The cost incurred so far this month. */
  ACTUAL = 'ACTUAL',
  /** The cost AWS forecasts for the whole month (needs about five weeks of usage history before it is available). */
  FORECASTED = 'FORECASTED',
}

/** One notification of a `CostGuard` budget: sent once a month when the cost first exceeds the threshold. */
export interface BudgetNotification {
  /** Threshold, in percent of `monthlyLimit` (e.g. 80). */
  readonly thresholdPercent: number;
  /** Whether the actual or the forecasted cost is compared. */
  readonly type: BudgetNotificationType;
}

/** A cost allocation tag a budget counts: costs of resources whose tag `key` has one of `values`. */
export interface CostTagFilter {
  /** Tag key, as set on the resources (without the `user:` prefix Budgets uses for user-defined tags). */
  readonly key: string;
  /** Tag values counted (any of them). */
  readonly values: string[];
}

/**
 * The default notifications: 50, 80 and 95 % of the limit actually spent (a heads-up, time to act, last call), 100 %
 * spent (the breach: what a degrade action acts on), and
 * 100 % forecasted (the month is on course to exceed the budget, while there is still time to change that).
 */
export const DEFAULT_BUDGET_NOTIFICATIONS: readonly BudgetNotification[] = [
  { thresholdPercent: 50, type: BudgetNotificationType.ACTUAL },
  { thresholdPercent: 80, type: BudgetNotificationType.ACTUAL },
  { thresholdPercent: 95, type: BudgetNotificationType.ACTUAL },
  // The breach itself: what a degrade action (BudgetDegrade) acts on by default.
  { thresholdPercent: 100, type: BudgetNotificationType.ACTUAL },
  { thresholdPercent: 100, type: BudgetNotificationType.FORECASTED },
];

/** Properties of a `CostGuard`. */
export interface CostGuardProps extends AlarmActionProps {
  /** Monthly cost limit, in USD (above 0). */
  readonly monthlyLimit: number;
  /**
   * The cost allocation tag the budget counts. The tag must be activated as a cost allocation tag (Billing console)
   * before its costs are counted.
   * @default - the `platform` tag with the value of the `PlatformTags` applied to this construct's scope or an ancestor
   *   (an error names the fix when there is none)
   */
  readonly tagFilter?: CostTagFilter;
  /**
   * Notifications of the budget (at most 5, each threshold and type once), all sent to `topic` and `emailSubscribers`.
   * @default DEFAULT_BUDGET_NOTIFICATIONS: 50 / 80 / 95 / 100 % ACTUAL and 100 % FORECASTED
   */
  readonly notifications?: BudgetNotification[];
  /**
   * SNS topic every notification is published to (a degrade action or chat tool subscribes here). The statement that
   * lets AWS Budgets of this account publish is added to its policy and, when it is encrypted, to its key's policy;
   * for an imported topic or key you add them yourself (a warning says so).
   * @default - a new `AlarmTopic` (encrypted with its own customer-managed key) that admits AWS Budgets
   */
  readonly topic?: sns.ITopic;
  /**
   * Email addresses Budgets notifies directly (at most 10), besides the topic.
   * @default - none: subscribe people to `topic`
   */
  readonly emailSubscribers?: string[];
}

/** Properties of the cost-per-1,000-predictions metric (`costPer1000Predictions`). */
export interface CostPerPredictionProps {
  /**
   * Price of one instance-hour of the variant's instance type, in USD: yours to state (on-demand, savings plan or
   * negotiated rate of your region), never guessed here. A concrete number.
   */
  readonly pricePerInstanceHour: number;
  /**
   * Period of each data point (whole minutes, at most a day). Longer periods smooth periods of a handful of requests.
   * @default Duration.hours(1)
   */
  readonly period?: Duration;
}

/** Properties of a cost-per-1,000-predictions alarm (`CostGuard.addCostPerPredictionAlarm`). */
export interface CostPerPredictionAlarmProps extends CostPerPredictionProps {
  /** Warn when serving 1,000 predictions costs more than this many USD. */
  readonly threshold: number;
  /**
   * Consecutive periods above the threshold before the alarm fires (all of them must breach).
   * @default 3 (three hours with the default period)
   */
  readonly evaluationPeriods?: number;
}

/** Service principal of AWS Budgets. */
const BUDGETS = new iam.ServicePrincipal('budgets.amazonaws.com');
/** Budgets' prefix of user-defined cost allocation tags in cost filters (`user:<key>$<value>`). */
const USER_TAG_PREFIX = 'user:';
const DEFAULT_EVALUATION_PERIODS = 3;

/**
 * Cost of 1,000 predictions of a SageMaker variant, in USD, per period: instance-hours × declared price ÷ predictions.
 *
 * SageMaker's `InvocationsPerInstance` (AWS/SageMaker, EndpointName + VariantName) adds 1/n for each request to a
 * variant running n instances, so its Sum over a period of P seconds is invocations ÷ n. The variant's instance-hours
 * in that period are n × P / 3600, so the cost per 1,000 predictions is
 * `1000 × price × n × (P / 3600) ÷ invocations = 1000 × price × (P / 3600) ÷ Sum(InvocationsPerInstance)`: n cancels,
 * and no instance-count metric is needed (while n changes within a period, the Sum weighs each request by the count
 * it met). A period without predictions reads 0 (not infinity and not a division by zero), so an idle variant never
 * fires a cost alarm: idle GPUs are the idle-GPU alarm's job.
 *
 * @example
 * costPer1000Predictions(endpoint, 'champion', { pricePerInstanceHour: 1.41 }) // g5.xlarge at your rate
 */
export function costPer1000Predictions(endpoint: IModelEndpoint, variantName: string, props: CostPerPredictionProps): cloudwatch.MathExpression {
  throwIfProblems(endpoint, costPerPredictionProblems(props));
  const period = props.period ?? DEFAULT_COST_PERIOD;
  return new cloudwatch.MathExpression({
    expression: `IF(ipi > 0, 1000 * ${decimal(props.pricePerInstanceHour)} * ${period.toSeconds()} / 3600 / ipi, 0)`,
    usingMetrics: { ipi: endpoint.metric('InvocationsPerInstance', variantName, { statistic: 'Sum', period }) },
    period,
    label: `USD per 1,000 predictions (${variantName})`,
  });
}

/**
 * A monthly AWS Budgets cost budget over the platform's tagged resources, notifying an SNS topic (and optionally
 * email addresses) as the month's cost crosses each threshold; plus cost-per-1,000-predictions alarms
 * (`addCostPerPredictionAlarm`). The budget counts what carries the cost allocation tag (by default the `platform`
 * tag of `PlatformTags`), so tag the platform and activate the tag as a cost allocation tag first.
 *
 * @example
 * PlatformTags.apply(app, { platform: 'ml-platform', team: 'fraud-ml', environment: 'prod' });
 * const cost = new CostGuard(stack, 'Cost', { monthlyLimit: 5000, alarmAction: alarms });
 * cost.topic.addSubscription(new subscriptions.EmailSubscription('finops@example.com'));
 * cost.addCostPerPredictionAlarm(endpoint, 'champion', { pricePerInstanceHour: 1.41, threshold: 0.05 });
 */
export class CostGuard extends Construct {
  /** Where every budget notification is published: the degrade action subscribes here. */
  public readonly topic: sns.ITopic;
  /** The topic created here when none was given (with its key). */
  public readonly budgetTopic?: AlarmTopic;
  /** The AWS Budgets budget (L1: AWS Budgets has no L2). */
  public readonly budget: budgets.CfnBudget;
  /** The cost-per-1,000-predictions alarms added so far. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  private readonly props: CostGuardProps;
  private costAlarmTopic?: AlarmTopic;

  constructor(scope: Construct, id: string, props: CostGuardProps) {
    super(scope, id);
    const platformTags = PlatformTags.of(this);
    throwIfProblems(this, costGuardProblems(props, platformTags !== undefined));
    this.props = props;
    const tagFilter = props.tagFilter ?? { key: PlatformTagKeys.PLATFORM, values: [platformTags!.platform] };
    if (props.topic) {
      this.topic = props.topic;
    } else {
      this.budgetTopic = new AlarmTopic(this, 'Topic', { displayName: 'AWS Budgets notifications' });
      this.topic = this.budgetTopic.topic;
    }
    this.allowBudgetsToPublish();
    const subscribers = [
      { subscriptionType: 'SNS', address: this.topic.topicArn },
      ...(props.emailSubscribers ?? []).map((address) => ({ subscriptionType: 'EMAIL', address })),
    ];
    this.budget = new budgets.CfnBudget(this, 'Budget', {
      budget: {
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyLimit, unit: 'USD' },
        costFilters: { TagKeyValue: tagFilter.values.map((value) => `${USER_TAG_PREFIX}${tagFilter.key}$${value}`) },
      },
      notificationsWithSubscribers: (props.notifications ?? DEFAULT_BUDGET_NOTIFICATIONS).map((n) => ({
        notification: { notificationType: n.type, comparisonOperator: 'GREATER_THAN', threshold: n.thresholdPercent, thresholdType: 'PERCENTAGE' },
        subscribers,
      })),
    });
    // Budgets checks that it may publish when the budget is created: create the policies first.
    this.budget.node.addDependency(this.topic);
  }

  /** The topic created for the cost alarms when `alarmAction` was not given (after the first alarm). */
  public get alarmTopic(): AlarmTopic | undefined {
    return this.costAlarmTopic;
  }

  /**
   * A warning alarm when 1,000 predictions of `variantName` cost more than `threshold` USD for `evaluationPeriods`
   * periods in a row (`costPer1000Predictions`; periods without predictions never breach). It notifies `alarmAction`
   * of ALARM and OK.
   */
  public addCostPerPredictionAlarm(endpoint: IModelEndpoint, variantName: string, props: CostPerPredictionAlarmProps): cloudwatch.Alarm {
    throwIfProblems(this, costPerPredictionAlarmProblems(props));
    const evaluationPeriods = props.evaluationPeriods ?? DEFAULT_EVALUATION_PERIODS;
    const alarm = new cloudwatch.Alarm(this, `CostPer1000Predictions-${Names.nodeUniqueId(endpoint.node)}-${variantName}`, {
      metric: costPer1000Predictions(endpoint, variantName, props),
      threshold: props.threshold,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Warning: 1,000 predictions of ${endpoint.modelName} variant ${variantName} cost more than `
        + `${decimal(props.threshold)} USD (at the declared ${decimal(props.pricePerInstanceHour)} USD per instance-hour). `
        + 'Raise the batch size or traffic per instance, scale in, or move to a cheaper instance type.',
    });
    notifyOnStateChanges(this.props.alarmAction ?? this.ensureCostAlarmTopic(), [alarm]);
    this.alarms.push(alarm);
    return alarm;
  }

  private ensureCostAlarmTopic(): AlarmTopic {
    this.costAlarmTopic ??= new AlarmTopic(this, 'AlarmTopic');
    return this.costAlarmTopic;
  }

  /**
   * Lets AWS Budgets of this account publish to the topic and use its key. The topic policy follows "Creating an
   * Amazon SNS topic for budget notifications" (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html):
   * `budgets.amazonaws.com`, `SNS:Publish`, conditions `aws:SourceAccount` and `aws:SourceArn` =
   * `arn:<partition>:budgets::<account>:*`. An encrypted topic also needs its key to admit the publishing service with
   * `kms:GenerateDataKey*` and `kms:Decrypt` ("Enable compatibility between event sources from AWS services and
   * encrypted topics", https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
   * The key statement carries no condition (as `AlarmTopic`'s for CloudWatch): a condition key the service does not
   * send would silently stop every notification; who may publish is decided by the topic policy.
   */
  private allowBudgetsToPublish(): void {
    const stack = Stack.of(this);
    const publish = this.topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowThisAccountsBudgetsToPublish',
      principals: [BUDGETS],
      actions: ['sns:Publish'],
      resources: [this.topic.topicArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'budgets', region: '', resource: '*' }) },
      },
    }));
    if (!publish.statementAdded) {
      Annotations.of(this).addWarningV2('ml-platform:costGuardTopicPolicy',
        'The topic is imported: add a statement allowing budgets.amazonaws.com to sns:Publish to its policy, or Budgets cannot notify it');
    }
    const key = this.topic.masterKey;
    if (!key) return;
    const decrypt = key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowBudgetsToPublishToTheEncryptedTopic',
      principals: [BUDGETS],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }), true);
    if (!decrypt.statementAdded) {
      Annotations.of(this).addWarningV2('ml-platform:costGuardKeyPolicy',
        'The topic\'s key is imported or AWS managed: let budgets.amazonaws.com call kms:GenerateDataKey* and kms:Decrypt in its key policy (alias/aws/sns cannot), or Budgets cannot notify the topic');
    }
  }
}

/** A number as metric math and people read it: plain decimal notation, never `1e-7`. */
function decimal(value: number): string {
  return value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 });
}
