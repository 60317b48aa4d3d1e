import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  AlarmTopic, BudgetNotificationType, CostGuard, CostGuardProps, costPer1000Predictions, DEFAULT_BUDGET_NOTIFICATIONS, ModelEndpoint, PlatformTags,
} from '../../lib';
import { DEFAULT_DEGRADE_TRIGGER } from '../../runtime/core/degrade';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };
const TAGS = { platform: 'ml-platform', team: 'fraud-ml', environment: 'prod' };
const budgets = { Service: 'budgets.amazonaws.com' };

/** An app tagged with TAGS (unless `tags: false`), a stack with an imported endpoint and a guard built by `build`. */
function synthesized(build: (stack: Stack) => CostGuard, options: { tags?: boolean } = {}) {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  if (options.tags !== false) PlatformTags.apply(app, TAGS);
  const stack = new Stack(app, 'Stack', { env: ENV });
  const guard = build(stack);
  const template = Template.fromJSON(app.synth().getStackByName(stack.stackName).template);
  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as any);
  return { app, stack, guard, template, id };
}

const endpointOf = (stack: Stack) => ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', {
  endpointName: 'fraud-endpoint', variantNames: ['champion', 'challenger'], modelName: 'fraud',
});

/** Evaluates a generated metric math expression of `ipi` with JavaScript semantics for IF and arithmetic. */
function evaluate(expression: string, ipi: number): number {
  expect(expression).toMatch(/^[IF()ipi0-9.,*/ ><-]+$/); // only what we generate: no other function or identifier
  return new Function('IF', 'ipi', `return ${expression};`)((c: boolean, a: number, b: number) => (c ? a : b), ipi);
}

describe('CostGuard', () => {
  const { guard, template, id } = synthesized((stack) => new CostGuard(stack, 'Cost', { monthlyLimit: 5000 }));
  const topicArn = { Ref: id(guard.budgetTopic!.topic) };

  test('a monthly COST budget of the limit in USD, counting the platform tag of PlatformTags', () => {
    template.resourceCountIs('AWS::Budgets::Budget', 1);
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: {
        BudgetType: 'COST',
        TimeUnit: 'MONTHLY',
        BudgetLimit: { Amount: 5000, Unit: 'USD' },
        CostFilters: { TagKeyValue: ['user:platform$ml-platform'] },
      },
    });
  });

  test('notifies the topic at 50, 80, 95, 100 % actual and 100 % forecasted, each GREATER_THAN a percentage', () => {
    const [budget] = Object.values(template.findResources('AWS::Budgets::Budget'));
    expect(budget.Properties.NotificationsWithSubscribers).toEqual([
      [50, 'ACTUAL'], [80, 'ACTUAL'], [95, 'ACTUAL'], [100, 'ACTUAL'], [100, 'FORECASTED'],
    ].map(([threshold, type]) => ({
      Notification: { NotificationType: type, ComparisonOperator: 'GREATER_THAN', Threshold: threshold, ThresholdType: 'PERCENTAGE' },
      Subscribers: [{ SubscriptionType: 'SNS', Address: topicArn }],
    })));
    // Budgets checks its permission when the budget is created: the topic and its policy come first.
    expect(budget.DependsOn).toEqual(expect.arrayContaining([id(guard.budgetTopic!.topic), expect.stringMatching(/^CostTopicPolicy/)]));
  });

  test('the default notifications include one the default degrade trigger acts on (else a breach would never degrade)', () => {
    const { notificationTypes, minThresholdPercent } = DEFAULT_DEGRADE_TRIGGER;
    expect(DEFAULT_BUDGET_NOTIFICATIONS.some((n) => notificationTypes.includes(n.type) && n.thresholdPercent >= minThresholdPercent)).toBe(true);
  });

  test("the topic is encrypted and admits this account's AWS Budgets only (SourceAccount, SourceArn)", () => {
    expect(guard.topic).toBe(guard.budgetTopic!.topic);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [id(guard.budgetTopic!.key as kms.Key), 'Arn'] } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicArn],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Allow', Principal: budgets, Action: 'sns:Publish', Resource: topicArn,
          Condition: {
            StringEquals: { 'aws:SourceAccount': ENV.account },
            ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:budgets::${ENV.account}:*`]] } },
          },
        })]),
      },
    });
  });

  test('the key lets AWS Budgets encrypt what it publishes (kms:GenerateDataKey*, kms:Decrypt)', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Principal: budgets, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*' })]),
      },
    });
  });

  test('the budget itself carries the platform tags', () => {
    template.hasResourceProperties('AWS::Budgets::Budget', {
      ResourceTags: Match.arrayWith([{ Key: 'platform', Value: 'ml-platform' }, { Key: 'team', Value: 'fraud-ml' }]),
    });
  });
});

describe('CostGuard options', () => {
  test("the user's encrypted topic, a tag filter, notifications and email subscribers", () => {
    let topic!: sns.Topic;
    const { template, id } = synthesized((stack) => {
      topic = new sns.Topic(stack, 'Own', { masterKey: new kms.Key(stack, 'OwnKey', { enableKeyRotation: true }), enforceSSL: true });
      return new CostGuard(stack, 'Cost', {
        monthlyLimit: 1200.5,
        topic,
        tagFilter: { key: 'cost-center', values: ['ml', 'ml-research'] },
        notifications: [{ thresholdPercent: 90, type: BudgetNotificationType.ACTUAL }, { thresholdPercent: 110, type: BudgetNotificationType.FORECASTED }],
        emailSubscribers: ['finops@example.com'],
      });
    });
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetLimit: { Amount: 1200.5, Unit: 'USD' }, CostFilters: { TagKeyValue: ['user:cost-center$ml', 'user:cost-center$ml-research'] } },
      NotificationsWithSubscribers: [90, 110].map((threshold, i) => ({
        Notification: Match.objectLike({ Threshold: threshold, NotificationType: i === 0 ? 'ACTUAL' : 'FORECASTED' }),
        Subscribers: [{ SubscriptionType: 'SNS', Address: { Ref: id(topic) } }, { SubscriptionType: 'EMAIL', Address: 'finops@example.com' }],
      })),
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: id(topic) }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: budgets, Action: 'sns:Publish' })]) },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: budgets, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
  });

  test('an imported topic: a warning says to admit AWS Budgets yourself', () => {
    const { stack } = synthesized((s) => new CostGuard(s, 'Cost', {
      monthlyLimit: 100, topic: sns.Topic.fromTopicArn(s, 'Imported', `arn:aws:sns:us-east-1:${ENV.account}:budgets`),
    }));
    Annotations.fromStack(stack).hasWarning('/Stack/Cost', Match.stringLikeRegexp('budgets.amazonaws.com to sns:Publish'));
  });

  test('without PlatformTags and without tagFilter, and with every other prop wrong: every problem at once, naming the fix', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: ENV });
    const props = {
      monthlyLimit: 0,
      notifications: [
        { thresholdPercent: 0, type: BudgetNotificationType.ACTUAL }, { thresholdPercent: 80, type: BudgetNotificationType.ACTUAL },
        { thresholdPercent: 80, type: BudgetNotificationType.ACTUAL }, { thresholdPercent: 90, type: BudgetNotificationType.ACTUAL },
        { thresholdPercent: 95, type: BudgetNotificationType.ACTUAL }, { thresholdPercent: 100, type: BudgetNotificationType.FORECASTED },
      ],
      emailSubscribers: ['not-an-address', ...Array.from({ length: 10 }, (_, i) => `p${i}@example.com`)],
    } satisfies CostGuardProps;
    let message = '';
    try {
      new CostGuard(stack, 'Cost', props);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n').slice(1).map((line) => line.trim())).toEqual([
      '- monthlyLimit: 0 must be a number of USD above 0, e.g. 5000',
      '- tagFilter: none given and no PlatformTags applied to this scope or above: call PlatformTags.apply(app, {...}) or pass tagFilter: { key, values }',
      '- notifications: 6 notifications; AWS Budgets allows 5 per budget',
      '- notifications[0].thresholdPercent: 0 must be a percentage of the limit above 0, e.g. 80',
      '- notifications[2]: a second ACTUAL notification at 80 %: remove one',
      '- emailSubscribers: 11 addresses; AWS Budgets allows 10 per notification: subscribe the rest to the topic',
      "- emailSubscribers[0]: 'not-an-address' is not an email address of at most 50 characters (name@example.com)",
    ]);
    expect(() => new CostGuard(stack, 'Filter', { monthlyLimit: 1, tagFilter: { key: 'team', values: ['a$b', ''] } })).toThrow(
      /tagFilter\.values\[0\]: 'a\$b' may hold only letters, digits, spaces and _ \. : \/ = \+ - @[\s\S]*tagFilter\.values\[1\]: a tag value is required/);
  });
});

describe('cost per 1,000 predictions', () => {
  const { stack } = synthesized((s) => new CostGuard(s, 'Cost', { monthlyLimit: 100 }));
  const endpoint = endpointOf(new Stack(new App(), 'Other', { env: ENV }));

  test('worked numbers: 2 instances at 1.41 USD an hour serving 7,200 predictions in an hour cost 0.3917 USD per 1,000', () => {
    const metric = costPer1000Predictions(endpoint, 'champion', { pricePerInstanceHour: 1.41 });
    // By hand: 2 instance-hours × 1.41 USD = 2.82 USD for 7,200 predictions → 2.82 / 7.2 = 0.391666… USD per 1,000.
    // SageMaker's InvocationsPerInstance adds 1/2 per request: its hourly Sum is 7,200 / 2 = 3,600.
    expect(evaluate(metric.expression, 3600)).toBeCloseTo(2.82 / 7.2, 10);
    // Same traffic rate over 5-minute periods: 600 predictions, Sum 300; the cost per prediction does not depend on P.
    const fiveMinutes = costPer1000Predictions(endpoint, 'champion', { pricePerInstanceHour: 1.41, period: Duration.minutes(5) });
    expect(evaluate(fiveMinutes.expression, 300)).toBeCloseTo(2.82 / 7.2, 10);
    // Four times the traffic on the same instances: a quarter of the cost per prediction.
    expect(evaluate(metric.expression, 4 * 3600)).toBeCloseTo(2.82 / 7.2 / 4, 10);
    // No predictions: 0, not a division by zero (Infinity or NaN would flap the alarm).
    expect(evaluate(metric.expression, 0)).toBe(0);
    expect(metric.expression).toBe('IF(ipi > 0, 1000 * 1.41 * 3600 / 3600 / ipi, 0)');
  });

  test('reads InvocationsPerInstance (Sum) of the variant over the period; prices print in plain decimals', () => {
    const metric = costPer1000Predictions(endpoint, 'challenger', { pricePerInstanceHour: 0.0000001, period: Duration.minutes(15) });
    expect(metric.expression).toBe('IF(ipi > 0, 1000 * 0.0000001 * 900 / 3600 / ipi, 0)');
    const ipi = metric.usingMetrics.ipi as cloudwatch.Metric;
    expect({ namespace: ipi.namespace, name: ipi.metricName, statistic: ipi.statistic, period: ipi.period.toSeconds(), dimensions: ipi.dimensions })
      .toEqual({ namespace: 'AWS/SageMaker', name: 'InvocationsPerInstance', statistic: 'Sum', period: 900, dimensions: { EndpointName: 'fraud-endpoint', VariantName: 'challenger' } });
    expect(() => costPer1000Predictions(endpoint, 'nope', { pricePerInstanceHour: 1 })).toThrow(/no variant named 'nope'/);
  });

  test('refuses a missing or non-positive price, a bad period, threshold or evaluation window, all at once', () => {
    const guard = new CostGuard(stack, 'Invalid', { monthlyLimit: 1 });
    expect(() => guard.addCostPerPredictionAlarm(endpoint, 'champion', {
      pricePerInstanceHour: -1, threshold: 0, period: Duration.seconds(90), evaluationPeriods: 0,
    })).toThrow(/pricePerInstanceHour: -1 must be USD per instance-hour above 0[\s\S]*period: 1 minute 30 seconds must be whole minutes from 1 minute to 1 day[\s\S]*threshold: 0 must be USD per 1,000 predictions above 0[\s\S]*evaluationPeriods: 0 must be an integer >= 1/);
    expect(() => guard.addCostPerPredictionAlarm(endpoint, 'champion', { pricePerInstanceHour: 1, threshold: 1, evaluationPeriods: 169 }))
      .toThrow(/evaluationPeriods: 169 periods of 1 hour exceed 7 day\(s\)/);
  });
});

describe('cost per 1,000 predictions alarm', () => {
  let alarms!: AlarmTopic;
  const { guard, template, id } = synthesized((stack) => {
    alarms = new AlarmTopic(stack, 'Alarms');
    const g = new CostGuard(stack, 'Cost', { monthlyLimit: 100, alarmAction: alarms });
    g.addCostPerPredictionAlarm(endpointOf(stack), 'champion', { pricePerInstanceHour: 1.41, threshold: 0.5 });
    return g;
  });

  test('a warning above the threshold for 3 hours in a row, idle periods never breaching, notifying the alarm action', () => {
    expect(guard.alarms).toHaveLength(1);
    expect(guard.alarmTopic).toBeUndefined();
    expect(alarmsWithoutActions(template)).toEqual([]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0.5,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: id(alarms.topic) }],
      OKActions: [{ Ref: id(alarms.topic) }],
      AlarmDescription: Match.stringLikeRegexp('^Warning: 1,000 predictions of fraud variant champion cost more than 0.5 USD'),
      Metrics: [
        Match.objectLike({ Expression: 'IF(ipi > 0, 1000 * 1.41 * 3600 / 3600 / ipi, 0)' }),
        {
          Id: 'ipi',
          ReturnData: false,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SageMaker', MetricName: 'InvocationsPerInstance',
              Dimensions: [{ Name: 'EndpointName', Value: 'fraud-endpoint' }, { Name: 'VariantName', Value: 'champion' }],
            },
            Period: 3600,
            Stat: 'Sum',
          },
        },
      ],
    });
  });

  test('without an alarm action, one alarm topic of the guard is created for its alarms', () => {
    const { guard: own, template: ownTemplate, id: ownId } = synthesized((stack) => {
      const g = new CostGuard(stack, 'Cost', { monthlyLimit: 100 });
      g.addCostPerPredictionAlarm(endpointOf(stack), 'champion', { pricePerInstanceHour: 1, threshold: 1 });
      const other = ModelEndpoint.fromEndpointAttributes(stack, 'Other', { endpointName: 'other', variantNames: ['a'] });
      g.addCostPerPredictionAlarm(other, 'a', { pricePerInstanceHour: 1, threshold: 1 });
      return g;
    });
    expect(own.alarmTopic).toBeDefined();
    ownTemplate.resourceCountIs('AWS::SNS::Topic', 2); // budget notifications, cost alarms
    ownTemplate.resourceCountIs('AWS::CloudWatch::Alarm', 2);
    ownTemplate.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: ownId(own.alarmTopic!.topic) }] });
  });
});
