import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { CanaryRollout, CanaryRolloutProps, IModelRouting, ModelRouting } from '../../lib';
import { RolloutIdError, RolloutRunningError, RolloutTooLargeError, RolloutVersionConflictError } from '../../runtime/aws/rollout-store';
import {
  PERMANENT_ROLLOUT_ERRORS, RolloutAttributes, RolloutErrorNames, RolloutMetrics, RolloutRequestFields, RolloutResponseFields, RolloutVariables,
} from '../../runtime/contracts/rollout';
import { RolloutPlanError } from '../../runtime/core/rollout/plan';
import { RoutingNotFoundError, RoutingValidationError } from '../../runtime/core/routing';
import { RolloutNotFoundError, RolloutRequestError } from '../../runtime/handlers/rollout-handler';
import type { RolloutPlan } from '../../runtime/core/rollout/types';
import { alarmsWithoutActions } from '../support/alarms';

/** A stack with a routing table holding `fraud`, a guardrail and a business alarm, and a rollout of `fraud`. */
function build(props: Partial<CanaryRolloutProps> = {}, options: { nag?: boolean } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Rollout', { env: { account: '123456789012', region: 'us-east-1' } });
  const routing = new ModelRouting(stack, 'Routing');
  routing.addModel({ model: 'fraud', variantWeights: { champion: 100, challenger: 0 } });
  const metric = new cloudwatch.Metric({ namespace: 'Test', metricName: 'Errors' });
  const guardrail = new cloudwatch.Alarm(stack, 'Guardrail', { metric, threshold: 1, evaluationPeriods: 1 });
  const business = new cloudwatch.Alarm(stack, 'Conversions', { metric, threshold: 1, evaluationPeriods: 1 });
  for (const alarm of [guardrail, business]) alarm.addAlarmAction({ bind: () => ({ alarmActionArn: 'arn:aws:sns:us-east-1:123456789012:oncall' }) });
  const rollout = new CanaryRollout(stack, 'Canary', {
    routing, model: 'fraud', champion: 'champion', challenger: 'challenger', guardrail, alarms: [business],
    thresholds: { maxLatencyP99: Duration.millis(250) },
    ...props,
  });
  return { app, stack, routing, rollout, guardrail, business };
}

/** The state machine's definition, references replaced by `<logical id>`. */
function definitionOf(template: Template): any {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  const parts = machine.Properties.DefinitionString['Fn::Join'][1];
  return JSON.parse(parts.map((p: any) => (typeof p === 'string' ? p : `<${p['Fn::GetAtt']?.[0] ?? p.Ref}>`)).join(''));
}

/** The statements of the policies attached to the role of `logicalIdPrefix`. */
function statementsOf(template: Template, stack: Stack, role: iam.IRole): any[] {
  const id = stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === id))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('CanaryRollout', () => {
  const { stack, rollout, routing, guardrail, business } = build();
  const template = Template.fromStack(stack);
  const definition = definitionOf(template);

  test('state machine: Start → Done? → Wait (waitSeconds from the answer) → Evaluate → Done?; promoted succeeds, rolled back fails', () => {
    const s = definition.States;
    expect(definition.StartAt).toBe('Start');
    expect(s.Start).toMatchObject({ Type: 'Task', Resource: expect.stringMatching(/:states:::lambda:invoke$/), Next: 'Done?' });
    expect(s.Start.Parameters.Payload).toEqual({ action: 'start', 'rolloutId.$': "States.Format('{}-{}', $$.Execution.StartTime, $$.Execution.Name)", 'input.$': '$' });
    expect(s.Start.ResultSelector).toEqual({
      'rolloutId.$': '$.Payload.rolloutId', 'done.$': '$.Payload.done', 'rolledBack.$': '$.Payload.rolledBack', 'waitSeconds.$': '$.Payload.waitSeconds', 'phase.$': '$.Payload.state.phase',
    });
    expect(s['Done?']).toMatchObject({
      Type: 'Choice', Default: 'WaitInterval',
      Choices: [
        { And: [{ Variable: '$.done', BooleanEquals: true }, { Variable: '$.rolledBack', BooleanEquals: true }], Next: 'RolledBack' },
        { Variable: '$.done', BooleanEquals: true, Next: 'Promoted' },
      ],
    });
    expect(s.WaitInterval).toEqual({ Type: 'Wait', SecondsPath: '$.waitSeconds', Next: 'Evaluate' });
    expect(s.Evaluate).toMatchObject({ Type: 'Task', Next: 'Done?', Parameters: { Payload: { action: 'evaluate', 'rolloutId.$': '$.rolloutId' } } });
    expect(s.Promoted.Type).toBe('Succeed');
    expect(s.RolledBack).toMatchObject({ Type: 'Fail', Error: 'RolledBack' });
  });

  test('retries: transient errors with backoff, never the errors no retry cures; an evaluation failing past them rolls back', () => {
    const s = definition.States;
    for (const task of [s.Start, s.Evaluate, s.RollBackAfterError]) {
      expect(task.Retry).toEqual(expect.arrayContaining([
        expect.objectContaining({ ErrorEquals: expect.arrayContaining(['RolloutRunningError', 'RolloutNotFoundError', 'RolloutPlanError']), MaxAttempts: 0 }),
        expect.objectContaining({ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 4, BackoffRate: 2 }),
      ]));
    }
    expect(s.Evaluate.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RollBackAfterError' }]);
    expect(s.RollBackAfterError).toMatchObject({ Next: 'RolledBack', Parameters: { Payload: { action: 'rollback', 'rolloutId.$': '$.rolloutId', by: 'canary-rollout' } } });
  });

  test('the names crossing to the handler are the contract\'s: error names are the runtime classes\' own, payloads use its fields', () => {
    const lock = { model: 'm', rolloutId: 'r', by: 'b', since: 's' };
    const runtimeErrors = [
      new RolloutRequestError([]), new RolloutPlanError([]), new RolloutNotFoundError('m'), new RolloutRunningError(lock), new RolloutIdError('r'),
      new RolloutVersionConflictError('m', 'r', 1), new RolloutTooLargeError('r', 1), new RoutingNotFoundError('m'), new RoutingValidationError('m', []),
    ];
    expect(runtimeErrors.map((e) => e.name).sort()).toEqual(Object.values(RolloutErrorNames).sort());
    const s = definition.States;
    for (const task of [s.Start, s.Evaluate, s.RollBackAfterError]) {
      expect(task.Retry).toContainEqual(expect.objectContaining({ ErrorEquals: [...PERMANENT_ROLLOUT_ERRORS], MaxAttempts: 0 }));
      for (const field of Object.keys(task.Parameters.Payload)) expect(Object.values(RolloutRequestFields)).toContain(field.replace(/\.\$$/, ''));
      for (const [field, path] of Object.entries(task.ResultSelector)) {
        expect(Object.values(RolloutResponseFields)).toContain(field.replace(/\.\$$/, ''));
        for (const part of String(path).replace(/^\$\.Payload\./, '').split('.')) expect(Object.values(RolloutResponseFields)).toContain(part);
      }
    }
  });

  test('logs everything to its log group, traced with X-Ray', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }] },
      TracingConfiguration: { Enabled: true },
    });
  });

  test('table: key model + rolloutId, on demand, point-in-time recovery, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: RolloutAttributes.MODEL, KeyType: 'HASH' }, { AttributeName: RolloutAttributes.ROLLOUT_ID, KeyType: 'RANGE' }],
        BillingMode: 'PAY_PER_REQUEST', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain',
    });
  });

  test('the function gets the deployed plan (alarms by name) and the tables and topic by name', () => {
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('canary rollouts of model fraud') } }));
    const env = fn.Properties.Environment.Variables;
    expect(Object.keys(env).sort()).toEqual([RolloutVariables.PLAN, RolloutVariables.ROUTING_TABLE_NAME, RolloutVariables.TABLE_NAME, RolloutVariables.TOPIC_ARN].sort());
    const planJson = env[RolloutVariables.PLAN]['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : `<${p.Ref}>`)).join('');
    const plan: RolloutPlan = JSON.parse(planJson);
    expect(plan).toEqual({
      model: 'fraud', champion: 'champion', challenger: 'challenger', evaluation: { intervalMs: 60_000 },
      guardrails: { alarms: [`<${stack.getLogicalId(guardrail.node.defaultChild as cloudwatch.CfnAlarm)}>`, `<${stack.getLogicalId(business.node.defaultChild as cloudwatch.CfnAlarm)}>`], maxLatencyP99Ms: 250 },
    });
  });

  test('least privilege: its tables, the named alarms, metrics (no resource-level permission), the topic', () => {
    const statements = statementsOf(template, stack, rollout.function.role!);
    const byAction = (action: string) => statements.filter((s) => [s.Action].flat().includes(action));
    const tableId = stack.getLogicalId(rollout.table.node.defaultChild as any);
    const routingId = stack.getLogicalId(routing.table.node.defaultChild as any);
    expect(byAction('dynamodb:PutItem')).toEqual([expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], Resource: expect.arrayContaining([{ 'Fn::GetAtt': [tableId, 'Arn'] }]) })]);
    expect(byAction('dynamodb:UpdateItem').flatMap((s) => [s.Resource].flat())).toEqual(expect.arrayContaining([{ 'Fn::GetAtt': [routingId, 'Arn'] }]));
    expect(byAction('cloudwatch:DescribeAlarms')).toEqual([expect.objectContaining({
      Resource: [{ 'Fn::GetAtt': [stack.getLogicalId(guardrail.node.defaultChild as cloudwatch.CfnAlarm), 'Arn'] }, { 'Fn::GetAtt': [stack.getLogicalId(business.node.defaultChild as cloudwatch.CfnAlarm), 'Arn'] }],
    })]);
    expect(byAction('cloudwatch:GetMetricData')).toEqual([expect.objectContaining({ Resource: '*' })]);
    expect(byAction('sns:Publish')).toHaveLength(1);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).not.toContain('dynamodb:Scan');
    expect(actions).not.toContain('dynamodb:Query');
  });

  test('alarms: an execution failed and a rollout rolled back, each with an action', () => {
    expect(rollout.alarms).toHaveLength(2);
    expect(alarmsWithoutActions(template)).toEqual([]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: RolloutMetrics.ROLLED_BACK, Namespace: 'MlPlatform', Dimensions: [{ Name: 'Model', Value: 'fraud' }], Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold', AlarmActions: Match.anyValue(), OKActions: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsFailed', Namespace: 'AWS/States', AlarmActions: Match.anyValue() });
  });
});

describe('CanaryRollout started on model approval', () => {
  test('an approved package of the group starts an execution, its ARN in the reason; undeliverable events are alarmed', () => {
    const { stack, rollout } = build({ startOnModelApproval: { modelPackageGroupName: 'fraud-models' } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.sagemaker'], 'detail-type': ['SageMaker Model Package State Change'],
        detail: { ModelPackageGroupName: ['fraud-models'], ModelApprovalStatus: ['Approved'] },
      },
      Targets: [Match.objectLike({
        Arn: { Ref: stack.getLogicalId(rollout.stateMachine.node.defaultChild as any) },
        InputTransformer: { InputPathsMap: { 'detail-ModelPackageArn': '$.detail.ModelPackageArn' }, InputTemplate: '{"by":"model-registry","reason":"model package <detail-ModelPackageArn> approved"}' },
        DeadLetterConfig: Match.anyValue(),
      })],
    });
    expect(rollout.alarms).toHaveLength(3);
    expect(alarmsWithoutActions(template)).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions', () => {
  test('clean, with the defaults and with a customer-managed key, a shadow and a registry trigger', () => {
    expect(() => build({}, { nag: true }).app.synth()).not.toThrow();
    const app = build({
      shadow: { percent: 10, maxDivergence: 0.02 },
      startOnModelApproval: { modelPackageGroupName: 'fraud-models' },
    }, { nag: true });
    const key = new kms.Key(app.stack, 'Key', { enableKeyRotation: true });
    expect(() => {
      new CanaryRollout(app.stack, 'Encrypted', {
        routing: app.routing, model: 'fraud', champion: 'champion', challenger: 'challenger', guardrail: app.guardrail, encryptionKey: key,
        thresholds: { maxLatencyP99: Duration.millis(250) },
      });
      app.app.synth();
    }).not.toThrow();
  });
});

describe('props', () => {
  test('every problem at once, naming the prop and the fix', () => {
    let message = '';
    try {
      build({
        model: 'ranker', champion: 'same', challenger: 'same', evaluationInterval: Duration.seconds(90),
        steps: [{ percent: 50, bake: Duration.seconds(30) }, { percent: 40, bake: Duration.minutes(5) }],
        thresholds: { maxLatencyP99: Duration.millis(250), maxErrorPercent: 120 }, predictionDrift: { modelName: 'fraud-challenger' },
        startOnModelApproval: { modelPackageGroupName: 'not a group' },
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n').slice(1).map((l) => l.replace(/^ {2}- /, ''))).toEqual(expect.arrayContaining([
      expect.stringMatching(/^model: 'ranker' is not in the routing table: add it first \(routing.addModel/),
      expect.stringMatching(/^evaluationInterval: 1 minute 30 seconds must be whole minutes/),
      expect.stringMatching(/^predictionDrift: read for nothing without thresholds.maxPredictionDrift/),
      expect.stringMatching(/^startOnModelApproval.modelPackageGroupName: 'not a group'/),
      expect.stringMatching(/^challenger is "same", the same as champion/),
      expect.stringMatching(/^steps\[0\]\.bake is 30000: set it to an integer of at least evaluationInterval \(90000\).*\(durations in milliseconds\)/),
      expect.stringMatching(/^steps\[1\]\.percent is 40, not above the step before/),
      expect.stringMatching(/^thresholds\.maxErrorPercent is 120/),
    ]));
  });

  test('a drift threshold needs predictionDrift (else it would never be checked)', () => {
    expect(() => build({ thresholds: { maxLatencyP99: Duration.millis(250), maxPredictionDrift: 0.2 } }))
      .toThrow(/thresholds\.maxPredictionDrift: never checked without predictionDrift.*set predictionDrift, or leave maxPredictionDrift out/);
    expect(() => build({ thresholds: { maxLatencyP99: Duration.millis(250), maxPredictionDrift: 0.2 }, predictionDrift: { modelName: 'fraud-challenger' } })).not.toThrow();
  });

  test('the plan in the function\'s environment must fit Lambda\'s 4 KB (alarm names resolved at deploy counted at their longest)', () => {
    const stackOf = () => {
      const stack = new Stack(new App(), 'Big');
      const metric = new cloudwatch.Metric({ namespace: 'Test', metricName: 'Errors' });
      return { stack, alarm: (i: number) => new cloudwatch.Alarm(stack, `Business${i}`, { metric, threshold: 1, evaluationPeriods: 1 }) };
    };
    const many = stackOf();
    const routing = new ModelRouting(many.stack, 'Routing');
    routing.addModel({ model: 'fraud', variantWeights: { champion: 100, challenger: 0 } });
    expect(() => new CanaryRollout(many.stack, 'Canary', {
      routing, model: 'fraud', champion: 'champion', challenger: 'challenger', alarms: Array.from({ length: 16 }, (_, i) => many.alarm(i)),
      thresholds: { maxLatencyP99: Duration.millis(250) },
    })).toThrow(new RegExp(`steps/alarms: the rollout function's environment would take up to \\d+ bytes, over Lambda's 4096-byte limit \\(${RolloutVariables.PLAN} holds the plan.*fewer alarms`));
    // A few alarms fit.
    expect(() => build({ alarms: [] })).not.toThrow();
  });

  test('the latency budget is required', () => {
    expect(() => build({ thresholds: {} as never })).toThrow(/thresholds.maxLatencyP99: required/);
  });
});

test('takes any IModelRouting, e.g. a routing table shared from another stack: its name, its models and its grant', () => {
  const app = new App();
  const stack = new Stack(app, 'Consumer', { env: { account: '123456789012', region: 'us-east-1' } });
  const shared = dynamodb.Table.fromTableName(stack, 'SharedRouting', 'shared-routing');
  const routing: IModelRouting = {
    tableName: 'shared-routing', models: ['fraud'],
    grantUpdateWeights: (grantee) => shared.grant(grantee, 'dynamodb:GetItem', 'dynamodb:UpdateItem'),
  };
  const rollout = new CanaryRollout(stack, 'Rollout', {
    routing, model: 'fraud', champion: 'champion', challenger: 'challenger', thresholds: { maxLatencyP99: Duration.millis(50) },
  });
  const template = Template.fromStack(stack);
  const fn = template.toJSON().Resources[stack.getLogicalId(rollout.function.node.defaultChild as any)];
  expect(fn.Properties.Environment.Variables[RolloutVariables.ROUTING_TABLE_NAME]).toBe('shared-routing');
  expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).toContain(':table/shared-routing');
  expect(() => new CanaryRollout(stack, 'Other', {
    routing, model: 'churn', champion: 'a', challenger: 'b', thresholds: { maxLatencyP99: Duration.millis(50) },
  })).toThrow(/model: 'churn' is not in the routing table/);
});
