import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BudgetDegrade, ModelEndpoint, ModelRouting } from '../../lib';
import { DEGRADE_FUNCTION_TIMEOUT_S, DegradeVariables, degradeStaleAfterMs } from '../../runtime/contracts/degrade';
import { LedgerAttributes } from '../../runtime/core/degrade';
import { DegradeMetricDimensions, DegradeMetrics, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { alarmsWithoutActions } from '../support/alarms';

/** A stack with a budget topic, an endpoint (gpu, cpu), a routing table with `fraud`, and a degrade of both. */
function build(options: { nag?: boolean; configure?: (degrade: BudgetDegrade, endpoint: ReturnType<typeof ModelEndpoint.fromEndpointAttributes>, routing: ModelRouting) => void } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Cost', { env: { account: '123456789012', region: 'us-east-1' } });
  const topic = new sns.Topic(stack, 'BudgetTopic', { enforceSSL: true, masterKey: undefined });
  Validations.of(topic).acknowledge({ id: 'AwsSolutions-SNS2', reason: 'test topic (CostGuard encrypts its own)' });
  const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', { endpointName: 'fraud-endpoint', variantNames: ['gpu', 'cpu'] });
  const routing = new ModelRouting(stack, 'Routing');
  routing.addModel({ model: 'fraud', variantWeights: { gpu: 90, cpu: 10 } });
  const degrade = new BudgetDegrade(stack, 'Degrade', { topic });
  (options.configure ?? ((d, e, r) => d.routeTo(r, 'fraud', { gpu: 0, cpu: 100 }).scaleToMinimum(e, 'gpu')))(degrade, endpoint, routing);
  return { app, stack, degrade, routing, endpoint, topic };
}

describe('BudgetDegrade', () => {
  const { stack, degrade, routing } = build();
  const template = Template.fromStack(stack);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as any);

  test('the function is subscribed to the topic, with the dead-letter queue for deliveries SNS cannot make', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda', Endpoint: { 'Fn::GetAtt': [id(degrade.function), 'Arn'] },
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [id(degrade.deadLetterQueue), 'Arn'] } },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [id(degrade.deadLetterQueue), 'Arn'] } } },
    });
  });

  test('the ledger: key id, on demand, point-in-time recovery, encrypted, retained with deletion protection', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: LedgerAttributes.ID, KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, SSESpecification: { SSEEnabled: true }, DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain',
    });
  });

  test('the environment carries the actions and the default trigger (ACTUAL at 100 %)', () => {
    const fn = template.findResources('AWS::Lambda::Function')[id(degrade.function)];
    const env = fn.Properties.Environment.Variables;
    expect(JSON.parse(env[DegradeVariables.TRIGGER])).toEqual({ notificationTypes: ['ACTUAL'], minThresholdPercent: 100 });
    // The stale cut-off follows the function's timeout: a retry after a crash resumes within Lambda's retries.
    expect(fn.Properties.Timeout).toBe(DEGRADE_FUNCTION_TIMEOUT_S);
    expect(Number(env[DegradeVariables.STALE_AFTER_MS])).toBe(degradeStaleAfterMs(fn.Properties.Timeout));
    expect(Number(env[DegradeVariables.STALE_AFTER_MS])).toBeGreaterThan(fn.Properties.Timeout * 1000);
    expect(Number(env[DegradeVariables.STALE_AFTER_MS])).toBeLessThan(3 * 60_000);
    const actions = JSON.stringify(stack.resolve(env[DegradeVariables.ACTIONS]));
    expect(actions).toContain('\\"kind\\":\\"route\\"');
    expect(actions).toContain('\\"variantName\\":\\"gpu\\"');
    expect(degrade.actions).toEqual([
      { kind: 'route', routingTableName: routing.tableName, model: 'fraud', weights: { gpu: 0, cpu: 100 } },
      { kind: 'scale-to-minimum', endpointName: 'fraud-endpoint', variantName: 'gpu', minInstanceCount: 1 },
    ]);
  });

  test('least privilege: the ledger claim and updates, the routing weights, the endpoint, scalable targets, the queue', () => {
    const roleId = id(degrade.function.role as any);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId)).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const byActions = Object.fromEntries(statements.map((s: any) => [[s.Action].flat().join(','), s.Resource]));
    const conditions = Object.fromEntries(statements.map((s: any) => [[s.Action].flat().join(','), s.Condition]));
    expect([byActions['dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem']].flat()).toEqual([{ 'Fn::GetAtt': [id(degrade.ledger), 'Arn'] }]);
    expect([byActions['dynamodb:GetItem,dynamodb:UpdateItem']].flat()).toEqual([{ 'Fn::GetAtt': [id(routing.table), 'Arn'] }]);
    expect(byActions['sagemaker:DescribeEndpoint,sagemaker:UpdateEndpointWeightsAndCapacities']).toEqual(
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:123456789012:endpoint/fraud-endpoint']] });
    expect(byActions['application-autoscaling:DescribeScalableTargets,application-autoscaling:RegisterScalableTarget']).toBe('*');
    expect(conditions['application-autoscaling:DescribeScalableTargets,application-autoscaling:RegisterScalableTarget'])
      .toEqual({ StringEquals: { 'application-autoscaling:service-namespace': 'sagemaker' } });
    expect(byActions['sqs:SendMessage']).toEqual({ 'Fn::GetAtt': [id(degrade.deadLetterQueue), 'Arn'] });
  });

  test('alarms on errors, on the dead-letter queue and on unreadable notifications, each notifying its action of ALARM and OK', () => {
    expect(degrade.alarms).toHaveLength(3);
    const unparsed = template.findResources('AWS::CloudWatch::Alarm')[id(degrade.alarms[2])].Properties;
    expect(unparsed).toMatchObject({
      Namespace: METRICS_NAMESPACE, MetricName: DegradeMetrics.UNPARSED_NOTIFICATIONS, Statistic: 'Sum',
      Dimensions: [{ Name: DegradeMetricDimensions.LEDGER, Value: { Ref: id(degrade.ledger) } }],
    });
    expect(alarmsWithoutActions(template)).toEqual([]);
    for (const alarm of degrade.alarms) {
      const props = template.findResources('AWS::CloudWatch::Alarm')[id(alarm)].Properties;
      expect(props).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', OKActions: props.AlarmActions });
    }
    expect(degrade.alarmTopic).toBeDefined();
  });

  test('grantRevert: the ledger read and the revert record, and every target', () => {
    const built = build();
    const operator = new iam.Role(built.stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    built.degrade.grantRevert(operator);
    const after = Template.fromStack(built.stack);
    const id = (c: { node: { defaultChild?: unknown } }) => built.stack.getLogicalId(c.node.defaultChild as any);
    const actions = Object.values(after.findResources('AWS::IAM::Policy')).filter((p) => p.Properties.Roles.some((r: any) => r.Ref === id(operator)))
      .flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    expect([...new Set(actions)].sort()).toEqual([
      'application-autoscaling:DescribeScalableTargets', 'application-autoscaling:RegisterScalableTarget',
      'dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem', 'sagemaker:DescribeEndpoint', 'sagemaker:UpdateEndpointWeightsAndCapacities',
    ]);
  });

  test('cdk-nag AwsSolutions: clean', () => {
    const { app } = build({ nag: true });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('BudgetDegrade validation', () => {
  test('an unknown variant, a model the routing lacks and bad weights are refused, each named', () => {
    expect(() => build({ configure: (d, e) => d.scaleToMinimum(e, 'tpu') })).toThrow(/no production variant 'tpu'; its production variants are gpu, cpu/);
    expect(() => build({ configure: (d, _e, r) => d.routeTo(r, 'ranker', { a: 1 }) })).toThrow(/model 'ranker' is not in .*addModel/);
    expect(() => build({ configure: (d, _e, r) => d.routeTo(r, 'fraud', { gpu: 0, cpu: 0 }) })).toThrow(/actions\[0\]\.weights/);
    expect(() => build({ configure: (d, e) => d.scaleToMinimum(e, 'gpu', { minInstanceCount: 0 }) })).toThrow(/minInstanceCount must be an integer from 1/);
  });

  test('no action, or the same target twice, fails synth; a bad trigger fails at once', () => {
    expect(() => build({ configure: () => undefined }).app.synth()).toThrow(/no actions: add scaleToMinimum or routeTo/);
    expect(() => build({ configure: (d, e) => d.scaleToMinimum(e, 'gpu').scaleToMinimum(e, 'gpu') }).app.synth()).toThrow(/same thing twice/);
    const stack = new Stack();
    const topic = new sns.Topic(stack, 'T');
    expect(() => new BudgetDegrade(stack, 'D', { topic, minThresholdPercent: 0, notificationTypes: [] })).toThrow(/notificationTypes[\s\S]*minThresholdPercent/);
  });

  test('ledgerRemovalPolicy DESTROY: no deletion protection', () => {
    const stack = new Stack();
    const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'E', { endpointName: 'e', variantNames: ['v'] });
    new BudgetDegrade(stack, 'D', { topic: new sns.Topic(stack, 'T'), ledgerRemovalPolicy: RemovalPolicy.DESTROY }).scaleToMinimum(endpoint, 'v');
    Template.fromStack(stack).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: { DeletionProtectionEnabled: false } });
  });
});
