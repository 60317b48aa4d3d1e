import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  DEFAULT_ROLLOUT_BY, PERMANENT_ROLLOUT_ERRORS, ROLLOUT_HANDLER, ROLLOUT_ID_SEPARATOR, RolloutActions, RolloutAttributes, rolloutEnvironment, RolloutMetrics,
  RolloutRequestFields as Req, RolloutResponseFields as Res,
} from '../../runtime/contracts/rollout';
import { MetricDimensions, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import type { RolloutPlan } from '../../runtime/core/rollout/types';
import { AlarmActionProps } from '../monitoring/alarm-actions';
import { AlarmTopic } from '../monitoring/alarm-topic';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from '../private/alarm-actions';
import { createDeadLetterQueue } from '../private/dead-letter';
import { createHandlerFunction } from '../private/handler-function';
import { grantKeyViaService } from '../private/kms-grants';
import { canaryRolloutProblems } from '../private/validate-canary-rollout-props';
import { throwIfProblems } from '../private/validation';
import type { IModelRouting } from '../serving/model-routing';

/** One canary step: the challenger's share of live traffic and how long it bakes there before it may be promoted. */
export interface CanaryStep {
  /** Percent of live traffic the challenger answers, in (0, 100]; steps increase and the last is 100. */
  readonly percent: number;
  /** Least time at this step before a promotion: at least `evaluationInterval`. */
  readonly bake: Duration;
}

/** What every evaluation checks of the challenger (besides the alarms). */
export interface CanaryThresholds {
  /** Largest p99 latency of the challenger's model calls (its latency budget). */
  readonly maxLatencyP99: Duration;
  /**
   * Largest share of the challenger's requests whose model call failed, percent.
   * @default 1
   */
  readonly maxErrorPercent?: number;
  /**
   * Largest share of the challenger's requests answered by a fallback, percent.
   * @default 5
   */
  readonly maxFallbackPercent?: number;
  /**
   * Least challenger requests in one evaluation; fewer count as missing data (never as a pass).
   * @default 100
   */
  readonly minRequests?: number;
  /**
   * Largest prediction drift score of the challenger (read where `predictionDrift` says).
   * @default - not checked
   */
  readonly maxPredictionDrift?: number;
  /**
   * Consecutive healthy evaluations (once a step's bake is over) that promote to the next step.
   * @default 2
   */
  readonly healthyEvaluations?: number;
  /**
   * Consecutive unhealthy evaluations that roll back (one flapping datapoint does not). An alarm in ALARM rolls back at once.
   * @default 2
   */
  readonly unhealthyEvaluations?: number;
  /**
   * Consecutive evaluations without data that roll back (the ones before hold).
   * @default 3
   */
  readonly maxMissingEvaluations?: number;
}

/** A shadow phase before the first step: the challenger gets a copy of live traffic, its answers logged and compared, never returned. */
export interface CanaryShadow {
  /**
   * Percent of live requests copied to the challenger.
   * @default 100
   */
  readonly percent?: number;
  /** Largest mean |challenger − champion| score over the compared requests, in the model's score units (exit criterion). */
  readonly maxDivergence: number;
  /**
   * Least requests compared before the shadow may end (exit criterion).
   * @default 1000
   */
  readonly minComparedRequests?: number;
  /**
   * Largest p99 latency of the challenger's shadow calls (exit criterion).
   * @default - `thresholds.maxLatencyP99`
   */
  readonly maxLatencyP99?: Duration;
  /**
   * Longest the shadow may run without meeting its exit criteria; then the rollout is aborted (champion only).
   * @default Duration.hours(24)
   */
  readonly maxDuration?: Duration;
}

/** Where the challenger's prediction drift is read: the drift detector of its predictions. */
export interface CanaryPredictionDrift {
  /** The `Model` dimension the drift detector reports the challenger's `PredictionDriftScore` under (its `modelName`). */
  readonly modelName: string;
  /**
   * How far back its last run may be (at least its schedule).
   * @default Duration.hours(1)
   */
  readonly lookback?: Duration;
}

/** A rollout that starts when a model package is approved in the SageMaker model registry. */
export interface StartOnModelApproval {
  /** The model package group whose packages start a rollout when their approval status becomes `Approved`. */
  readonly modelPackageGroupName: string;
}

/** Properties of a `CanaryRollout`. */
export interface CanaryRolloutProps extends AlarmActionProps {
  /** The routing table whose weights (and shadow) the rollout changes: the model must be added to it (`addModel`). */
  readonly routing: IModelRouting;
  /** The model (its name in the routing table). */
  readonly model: string;
  /** The variant serving all traffic now; it takes all traffic back on a rollback. */
  readonly champion: string;
  /** The variant rolled out; it answers all traffic once promoted. */
  readonly challenger: string;
  /**
   * The model's composite guardrail alarm (`ModelMonitoring.guardrail`): in ALARM, the rollout rolls back at once.
   * @default - none
   */
  readonly guardrail?: cloudwatch.IAlarm;
  /**
   * Business alarms the rollout also watches (a conversion drop, complaints): in ALARM, it rolls back at once.
   * @default []
   */
  readonly alarms?: cloudwatch.IAlarm[];
  /**
   * The canary steps.
   * @default 5 → 20 → 50 → 100 %, each baking 10 minutes
   */
  readonly steps?: CanaryStep[];
  /**
   * Time between two evaluations (whole minutes: the metrics' resolution).
   * @default Duration.minutes(1)
   */
  readonly evaluationInterval?: Duration;
  /** What every evaluation checks of the challenger. */
  readonly thresholds: CanaryThresholds;
  /**
   * A shadow phase before the first step, with its exit criteria.
   * @default - none: the rollout starts at the first step
   */
  readonly shadow?: CanaryShadow;
  /**
   * Where the challenger's prediction drift is read.
   * @default - not read (`thresholds.maxPredictionDrift` is then never checked)
   */
  readonly predictionDrift?: CanaryPredictionDrift;
  /**
   * Where every decision that changes routing (start, promotion, completion, rollback) is published.
   * @default - the `AlarmTopic` created for the alarms when no `alarmAction` is given; else none
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * Start a rollout when a model package of this group is approved in the model registry.
   * @default - started by hand only (`npm run rollout -- start`, or `StartExecution`)
   */
  readonly startOnModelApproval?: StartOnModelApproval;
  /**
   * Customer-managed key encrypting the rollout table and the state machine's log group.
   * @default - AWS owned keys (DynamoDB's and CloudWatch Logs' default encryption)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the rollout table (state and history of every rollout) when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The rollout table actions the handler sends (runtime/aws/rollout-store.ts). */
const TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];
/**
 * What the state machine keeps of the handler's answer (`RolloutResponse`, without the state: the table holds it), under
 * the answer's own field names (the phase at the top level).
 */
const RESULT = {
  ...Object.fromEntries([Res.ROLLOUT_ID, Res.DONE, Res.ROLLED_BACK, Res.WAIT_SECONDS].map((field) => [`${field}.$`, `$.Payload.${field}`])),
  [`${Res.PHASE}.$`]: `$.Payload.${Res.STATE}.${Res.PHASE}`,
};
/** A field the state machine kept of the last answer (`RESULT`), as a JSONPath. */
const kept = (field: string) => `$.${field}`;

/**
 * A safe rollout of a challenger variant against the champion of one model, driving the routing table
 * (`ModelRouting`, and so the SageMaker weights for direct callers): an optional shadow phase that ends only on its
 * exit criteria, then canary steps (5 → 20 → 50 → 100 % by default) with bake times. Each evaluation watches the
 * guardrail and business alarms, the challenger's errors, fallbacks and p99 latency and its prediction drift, and
 * promotes, holds or rolls back to the champion (and notifies). Missing data is never a pass; flapping needs
 * consecutive evaluations. State and history (who, what, when, why) are kept in `table`; a second rollout of the model
 * is refused while one runs; `npm run rollout -- rollback` is the one command that rolls back.
 *
 * A Step Functions state machine runs it: Start → Evaluate → done? (promoted: succeed; rolled back: fail) → Wait the
 * interval → Evaluate…, each step one call of the rollout function (runtime/handlers/rollout-handler.ts), retried on
 * transient errors; an evaluation that keeps failing rolls back. Logs (ALL, with execution data) go to a log group,
 * traces to X-Ray. Alarms — an execution failed (a rollback included), a rollout rolled back, and undeliverable
 * registry events — notify `alarmAction`.
 *
 * Start an execution with the input `{ "by": "<who>", "reason": "<why>" }` (both optional), or with
 * `{ "plan": <RolloutPlan> }` to roll out another plan for the same model; the execution name becomes part of the
 * rollout id. With `startOnModelApproval`, an approved model package starts one (by `model-registry`): deploy the
 * approved model to the challenger variant before approving it.
 */
export class CanaryRollout extends Construct {
  /** The rollouts: state, plan and history of each, and one lock item per model. */
  public readonly table: dynamodb.Table;
  /** The function that starts, evaluates and rolls back. */
  public readonly function: lambda.Function;
  /** The state machine running a rollout. */
  public readonly stateMachine: sfn.StateMachine;
  /** The plan the state machine rolls out (alarm names as tokens). */
  public readonly plan: RolloutPlan;
  /** Where decisions are published; undefined when nowhere. */
  public readonly notificationTopic?: sns.ITopic;
  /** An execution failed (a rollback included) and a rollout rolled back (and registry events undeliverable). */
  public readonly alarms: cloudwatch.Alarm[];
  /** Where every alarm sends its ALARM and OK transitions. */
  public readonly alarmAction: cloudwatch.IAlarmAction;
  /** The topic created for the alarms when no `alarmAction` was given. */
  public readonly alarmTopic?: AlarmTopic;
  /** The rule starting a rollout on a model approval, when `startOnModelApproval`. */
  public readonly approvalRule?: events.Rule;

  constructor(scope: Construct, id: string, props: CanaryRolloutProps) {
    super(scope, id);
    this.plan = planOf(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: RolloutAttributes.MODEL, type: dynamodb.AttributeType.STRING },
      sortKey: { name: RolloutAttributes.ROLLOUT_ID, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.DEFAULT,
      encryptionKey: props.encryptionKey,
      deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy,
    });

    const notifications = alarmActionOf(this, props);
    this.alarmAction = notifications.action;
    this.alarmTopic = notifications.topic;
    this.notificationTopic = props.notificationTopic ?? notifications.topic?.topic;

    const environment = rolloutEnvironment({
      tableName: this.table.tableName,
      routingTableName: props.routing.tableName,
      plan: this.plan,
      topicArn: this.notificationTopic?.topicArn,
      predictionDrift: props.predictionDrift && { model: props.predictionDrift.modelName, lookbackMs: (props.predictionDrift.lookback ?? Duration.hours(1)).toMilliseconds() },
    });
    throwIfProblems(this, canaryRolloutProblems(props, this.plan, environment));
    this.function = createHandlerFunction(this, 'Handler', {
      handler: ROLLOUT_HANDLER,
      description: `Starts, evaluates and rolls back canary rollouts of model ${props.model}`,
      environment,
    });
    this.grantHandler(props);
    this.stateMachine = this.createStateMachine(props);
    this.alarms = this.createAlarms(props);
    if (props.startOnModelApproval) this.approvalRule = this.createApprovalRule(props.startOnModelApproval);
  }

  /** Allows `grantee` to start a rollout (`states:StartExecution` on the state machine). */
  public grantStart(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  /**
   * Allows `grantee` to read the rollouts and roll one back as `npm run rollout` does: the rollout table (read, and the
   * writes of a rollback) and the routing table's weights.
   */
  public grantOperate(grantee: iam.IGrantable, routing: IModelRouting): iam.Grant {
    routing.grantUpdateWeights(grantee);
    const grant = this.table.grant(grantee, ...TABLE_ACTIONS, 'dynamodb:Query');
    if (this.table.encryptionKey) grantKeyViaService(this.table.encryptionKey, grantee, 'dynamodb', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    return grant;
  }

  /**
   * Rollouts of the model that rolled back (`RolloutsRolledBack`, dimension Model).
   * @default - Sum over 5 minutes
   */
  public metricRolledBack(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName: RolloutMetrics.ROLLED_BACK, dimensionsMap: { [MetricDimensions.MODEL]: this.plan.model },
      statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5), ...props,
    });
  }

  /** The function's permissions: the rollout table, the routing table's weights, the alarms it reads, metrics, the topic. */
  private grantHandler(props: CanaryRolloutProps): void {
    const fn = this.function;
    this.table.grant(fn, ...TABLE_ACTIONS);
    if (props.encryptionKey) grantKeyViaService(props.encryptionKey, fn, 'dynamodb', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    props.routing.grantUpdateWeights(fn);
    const alarms = [props.guardrail, ...(props.alarms ?? [])].filter((a): a is cloudwatch.IAlarm => a !== undefined);
    if (alarms.length > 0) {
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['cloudwatch:DescribeAlarms'], resourceArns: alarms.map((a) => a.alarmArn) });
    }
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['cloudwatch:GetMetricData'], resourceArns: ['*'] });
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:GetMetricData supports no resource-level permissions (it reads the gateway metrics of the challenger and champion); '
        + 'xray:PutTraceSegments and xray:PutTelemetryRecords support none either; every other statement of this role is scoped',
    });
    const topic = this.notificationTopic;
    if (topic) {
      // sns:Publish and the two key actions a publish to an encrypted topic needs (not grantPublish's kms:GenerateDataKey*).
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['sns:Publish'], resourceArns: [topic.topicArn] });
      topic.masterKey?.grant(fn, 'kms:Decrypt', 'kms:GenerateDataKey');
    }
  }

  /** Start → Evaluate → done? → Wait → Evaluate…; an evaluation that keeps failing rolls back. */
  private createStateMachine(props: CanaryRolloutProps): sfn.StateMachine {
    const invoke = (id: string, payload: Record<string, unknown>, comment: string) => {
      const task = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: this.function, payload: sfn.TaskInput.fromObject(payload), resultSelector: RESULT, comment,
        retryOnServiceExceptions: true,
      });
      // Retriers run in order: the errors no retry cures first (none), then everything else with a backoff.
      task.addRetry({ errors: [...PERMANENT_ROLLOUT_ERRORS], maxAttempts: 0 });
      task.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), maxAttempts: 4, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
      return task;
    };
    const rolloutId = sfn.JsonPath.stringAt(kept(Res.ROLLOUT_ID));
    const start = invoke('Start', {
      [Req.ACTION]: RolloutActions.START,
      // A retried start is the same rollout: its id comes from the execution (time-ordered, as the store expects).
      [Req.ROLLOUT_ID]: sfn.JsonPath.format(`{}${ROLLOUT_ID_SEPARATOR}{}`, sfn.JsonPath.executionStartTime, sfn.JsonPath.executionName),
      [Req.INPUT]: sfn.JsonPath.entirePayload,
    }, 'Takes the model\'s lock and applies the first routing (shadow or first step)');
    const evaluate = invoke('Evaluate', { [Req.ACTION]: RolloutActions.EVALUATE, [Req.ROLLOUT_ID]: rolloutId },
      'Observes the guardrails and metrics, then promotes, holds or rolls back');
    const rollBack = invoke('RollBackAfterError', {
      [Req.ACTION]: RolloutActions.ROLLBACK, [Req.ROLLOUT_ID]: rolloutId, [Req.BY]: DEFAULT_ROLLOUT_BY,
      [Req.REASON]: sfn.JsonPath.format('evaluation kept failing ({}): all traffic to the champion', sfn.JsonPath.stringAt('$.error.Error')),
    }, 'All traffic to the champion after an evaluation failed past its retries');
    evaluate.addCatch(rollBack, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    const rolledBack = new sfn.Fail(this, 'RolledBack', { error: 'RolledBack', cause: 'The rollout ended on the champion (rolled back or aborted): see its history (npm run rollout -- history)' });
    const promoted = new sfn.Succeed(this, 'Promoted', { comment: 'The challenger answers all traffic' });
    const wait = new sfn.Wait(this, 'WaitInterval', { time: sfn.WaitTime.secondsPath(kept(Res.WAIT_SECONDS)) });
    const isDone = sfn.Condition.booleanEquals(kept(Res.DONE), true);
    const done = new sfn.Choice(this, 'Done?')
      .when(sfn.Condition.and(isDone, sfn.Condition.booleanEquals(kept(Res.ROLLED_BACK), true)), rolledBack)
      .when(isDone, promoted)
      .otherwise(wait.next(evaluate));
    start.next(done);
    evaluate.next(done);
    rollBack.next(rolledBack);

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY, encryptionKey: props.encryptionKey,
    });
    if (props.encryptionKey) {
      props.encryptionKey.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${Stack.of(this).region}.amazonaws.com`));
    }
    const machine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      comment: `Canary rollout of model ${props.model}: ${props.challenger} against ${props.champion}`,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    Validations.of(machine.role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on the rollout function\'s versions and aliases (aws-cdk-lib\'s LambdaInvoke grant): one function',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'CloudWatch Logs log delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) support no resource-level permissions',
      },
    );
    return machine;
  }

  /** An execution failed (rolled back or an error), and a rollout rolled back; each notifies the alarm action. */
  private createAlarms(props: CanaryRolloutProps): cloudwatch.Alarm[] {
    const alarms = [
      anyFailureAlarm(this, 'ExecutionFailedAlarm', this.stateMachine.metricFailed({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
        `A canary rollout of model ${props.model} failed: rolled back to ${props.champion}, or an error stopped it (see the execution and npm run rollout -- status)`),
      anyFailureAlarm(this, 'RolledBackAlarm', this.metricRolledBack(),
        `A canary rollout of model ${props.model} rolled back: all traffic is on ${props.champion} again (see npm run rollout -- history for why)`),
    ];
    notifyOnStateChanges(this.alarmAction, alarms);
    return alarms;
  }

  /** An EventBridge rule starting an execution when a model package of the group is approved. */
  private createApprovalRule(approval: StartOnModelApproval): events.Rule {
    const deadLetterQueue: sqs.Queue = createDeadLetterQueue(this, 'ApprovalDeadLetterQueue', 'the model approval events that could not start a rollout');
    const rule = new events.Rule(this, 'OnModelApproval', {
      description: `Starts a canary rollout when a model package of ${approval.modelPackageGroupName} is approved`,
      eventPattern: {
        source: ['aws.sagemaker'],
        detailType: ['SageMaker Model Package State Change'],
        detail: { ModelPackageGroupName: [approval.modelPackageGroupName], ModelApprovalStatus: ['Approved'] },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine, {
        input: events.RuleTargetInput.fromObject({ [Req.BY]: 'model-registry', [Req.REASON]: `model package ${events.EventField.fromPath('$.detail.ModelPackageArn')} approved` }),
        deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(2),
      })],
    });
    const alarm = anyFailureAlarm(this, 'ApprovalDeadLetterAlarm', deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5) }),
      'A model approval could not start its canary rollout (the events are in the dead-letter queue): start it by hand (npm run rollout -- start)');
    notifyOnStateChanges(this.alarmAction, [alarm]);
    this.alarms.push(alarm);
    return rule;
  }
}

/** The rollout plan of the props (durations in milliseconds, alarms by name). */
function planOf(props: CanaryRolloutProps): RolloutPlan {
  const ms = (d: Duration | undefined) => d?.toMilliseconds();
  const t = props.thresholds ?? ({} as CanaryThresholds);
  const alarms = [props.guardrail, ...(props.alarms ?? [])].filter((a): a is cloudwatch.IAlarm => a !== undefined).map((a) => a.alarmName);
  const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return {
    model: props.model,
    champion: props.champion,
    challenger: props.challenger,
    ...(props.shadow ? {
      shadow: defined({
        percent: props.shadow.percent,
        exitCriteria: defined({
          maxDivergence: props.shadow.maxDivergence, minComparedRequests: props.shadow.minComparedRequests,
          maxLatencyP99Ms: ms(props.shadow.maxLatencyP99), maxDurationMs: ms(props.shadow.maxDuration),
        }),
      }),
    } : {}),
    ...(props.steps ? { steps: props.steps.map((s) => ({ percent: s.percent, bakeMs: ms(s.bake)! })) } : {}),
    evaluation: defined({
      intervalMs: ms(props.evaluationInterval ?? Duration.minutes(1)), healthyEvaluations: t.healthyEvaluations,
      unhealthyEvaluations: t.unhealthyEvaluations, maxMissingEvaluations: t.maxMissingEvaluations,
    }),
    guardrails: defined({
      alarms, maxLatencyP99Ms: ms(t.maxLatencyP99)!, maxErrorPercent: t.maxErrorPercent, maxFallbackPercent: t.maxFallbackPercent,
      minRequests: t.minRequests, maxPredictionDrift: t.maxPredictionDrift,
    }),
  };
}
