import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ModelEndpoint, ModelRouting } from '../../lib';
import { RoutingTableClient } from '../../runtime/aws/routing-table';
import { RoutingAttributes, RoutingSyncMetrics } from '../../runtime/core/routing';
import { alarmsWithoutActions } from '../support/alarms';
import { createRoutingTable, localClientConfig, startDynalite } from '../support/local-aws';

/** The UpdateItem parameters of each custom resource of `type` in `template`, by model, the table's name as `table`. */
function seedCalls(template: Template, type: string, table = 'routing'): Record<string, any> {
  return Object.fromEntries(Object.values(template.findResources(type)).map((s) => {
    const call = JSON.parse(s.Properties.Create['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : table)).join(''));
    return [call.parameters.Key.model.S, call];
  }));
}

/** A stack with a routing table: `fraud` with an (imported) endpoint, `ranker` without; a reader and an operator role. */
function build(props: ConstructorParameters<typeof ModelRouting>[2] = {}, options: { nag?: boolean } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Routing', { env: { account: '123456789012', region: 'us-east-1' } });
  const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', {
    endpointName: 'fraud-endpoint', variantNames: ['champion', 'challenger', 'shadow'], productionVariantNames: ['champion', 'challenger'],
  });
  const routing = new ModelRouting(stack, 'Routing', props);
  // Given out of the endpoint's order: the seed follows the endpoint's production variant order.
  routing.addModel({ model: 'fraud', variantWeights: { challenger: 10, champion: 90 }, endpoint });
  routing.addModel({ model: 'ranker', variantWeights: { a: 1, b: 1 } });
  const reader = new iam.Role(stack, 'Gateway', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
  routing.grantRead(reader);
  routing.grantUpdateWeights(operator);
  return { app, stack, routing, endpoint, reader, operator };
}

/** The actions of every statement of the policies attached to `role`. */
function actionsOf(template: Template, stack: Stack, role: iam.Role): string[] {
  const id = stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === id))
    .flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()))
    .sort();
}

describe('ModelRouting', () => {
  const { stack, routing, reader, operator } = build();
  const template = Template.fromStack(stack);
  const tableId = stack.getLogicalId(routing.table.node.defaultChild as any);

  test('table: on demand, point-in-time recovery, encrypted, NEW_AND_OLD_IMAGES stream, key `model`, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: RoutingAttributes.MODEL, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: RoutingAttributes.MODEL, AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('each model is seeded on create and update, never overwriting live weights, nothing on delete', () => {
    const seeds = template.findResources('Custom::ModelRoutingSeed');
    expect(Object.keys(seeds)).toHaveLength(2);
    const fraud = seedCalls(template, 'Custom::ModelRoutingSeed', `<${tableId}>`).fraud;
    expect(fraud).toMatchObject({ service: 'DynamoDB', action: 'UpdateItem', physicalResourceId: { id: 'routing-seed:fraud' }, parameters: { TableName: `<${tableId}>` } });
    const { UpdateExpression, ExpressionAttributeNames, ExpressionAttributeValues } = fraud.parameters;
    expect(UpdateExpression).toBe('SET #v = if_not_exists(#v, :v), #s = if_not_exists(#s, :s), #ver = if_not_exists(#ver, :ver), #t = if_not_exists(#t, :t), #e = :e');
    expect(ExpressionAttributeNames).toEqual({ '#v': 'variants', '#ver': 'version', '#t': 'trail', '#s': 'variantSet', '#e': 'endpointName' });
    expect(ExpressionAttributeValues[':e']).toEqual({ S: 'fraud-endpoint' });
    // The endpoint's production variant order, whatever the order given.
    expect(ExpressionAttributeValues[':v'].L.map((v: any) => v.M.name.S)).toEqual(['champion', 'challenger']);
    expect(ExpressionAttributeValues[':t'].L[0].M).toMatchObject({ by: { S: 'cloudformation' }, version: { N: '1' } });
    for (const seed of Object.values({ ...seeds, ...template.findResources('Custom::ModelRoutingVariants') })) {
      expect(seed.Properties.Update).toEqual(seed.Properties.Create);
      expect(seed.Properties.Delete).toBeUndefined();
      expect(seed.Properties.InstallLatestAwsSdk).toBe(false);
    }
    // The seed's role may only UpdateItem on this table.
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'dynamodb:UpdateItem', Effect: 'Allow', Resource: { 'Fn::GetAtt': [tableId, 'Arn'] } }] },
    });
  });

  test('a changed set of variants replaces them: a resource per set, run before the seed, its failed condition ignored', () => {
    const variants = template.findResources('Custom::ModelRoutingVariants');
    expect(Object.keys(variants)).toHaveLength(2);
    const fraud = seedCalls(template, 'Custom::ModelRoutingVariants').fraud;
    expect(fraud).toMatchObject({ ignoreErrorCodesMatching: 'ConditionalCheckFailedException', physicalResourceId: { id: expect.stringMatching(/^routing-variants:fraud:[0-9a-f]{16}$/) } });
    expect(fraud.parameters.ConditionExpression).toBe('attribute_exists(#s) AND #s <> :s');
    expect(fraud.parameters.ExpressionAttributeValues[':s']).toEqual({ S: '["challenger","champion"]' });
    // Each seed depends on its model's replacement: a first deploy is one change, a replacement one write.
    for (const [id, seed] of Object.entries(template.findResources('Custom::ModelRoutingSeed'))) {
      expect(seed.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/Variants/)]));
      expect(id).toMatch(/Seed/);
    }
    // Another set of names is another resource (created, so its call runs); the same set in another order is not.
    const idsOf = (weights: Record<string, number>) => {
      const stack = new Stack();
      new ModelRouting(stack, 'Routing').addModel({ model: 'fraud', variantWeights: weights });
      return Object.keys(Template.fromStack(stack).findResources('Custom::ModelRoutingVariants'));
    };
    expect(idsOf({ a: 1, b: 2 })).toEqual(idsOf({ b: 5, a: 1 }));
    expect(idsOf({ a: 1, b: 2 })).not.toEqual(idsOf({ a: 1, c: 2 }));
  });

  test('alarms: the sync\'s failure queue and SageMaker\'s refusals per model with an endpoint, each with an action', () => {
    expect(routing.alarms).toHaveLength(2);
    expect(alarmsWithoutActions(template)).toEqual([]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: RoutingSyncMetrics.REFUSED, Dimensions: [{ Name: 'Model', Value: 'fraud' }], Threshold: 0, ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }], OKActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0, Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('SyncFailureQueue'), 'QueueName'] } }],
    });
    expect(routing.alarmTopic).toBeDefined();
    // A given action: every alarm notifies it, no topic of its own.
    const stack = new Stack();
    const topic = new sns.Topic(stack, 'Ops');
    const own = new ModelRouting(stack, 'Routing', { alarmAction: new actions.SnsAction(topic) });
    own.addModel({ model: 'fraud', variantWeights: { a: 1 }, endpoint: ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', { endpointName: 'e', variantNames: ['a'] }) });
    const ownTemplate = Template.fromStack(stack);
    expect(alarmsWithoutActions(ownTemplate)).toEqual([]);
    expect(own.alarmTopic).toBeUndefined();
    ownTemplate.resourceCountIs('AWS::SNS::Topic', 1);
    for (const alarm of Object.values(ownTemplate.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: stack.getLogicalId(topic.node.defaultChild as any) }]);
    }
  });

  test('the seed\'s provider runs with a role of its own: no managed policy, its logs and the seed\'s UpdateItem only', () => {
    const role = routing.node.findChild('SeedProviderRole') as iam.Role;
    const roleId = stack.getLogicalId(role.node.defaultChild as any);
    expect(template.findResources('AWS::IAM::Role')[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    expect([...new Set(actionsOf(template, stack, role))]).toEqual(['dynamodb:UpdateItem', 'logs:CreateLogStream', 'logs:PutLogEvents']);
    template.hasResourceProperties('AWS::Lambda::Function', { Role: { 'Fn::GetAtt': [roleId, 'Arn'] }, LoggingConfig: { LogGroup: Match.anyValue() } });
  });

  test('the synthesized seed, sent to dynalite as CloudFormation would: created once, live weights kept, a changed set replaced', async () => {
    const dynalite = await startDynalite();
    const dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
    /** Runs a deploy of `deployed` as CloudFormation would: each model's replacement (its failed condition ignored), then its seed. */
    const deploy = async (deployed: Template) => {
      const [variants, seeds] = [seedCalls(deployed, 'Custom::ModelRoutingVariants'), seedCalls(deployed, 'Custom::ModelRoutingSeed')];
      await dynamo.send(new UpdateItemCommand(variants.fraud.parameters)).catch((e) => {
        if (!new RegExp(variants.fraud.ignoreErrorCodesMatching).test(e.name)) throw e;
      });
      await dynamo.send(new UpdateItemCommand(seeds.fraud.parameters));
    };
    try {
      await createRoutingTable(dynamo, 'routing');
      const table = new RoutingTableClient({ client: dynamo, tableName: 'routing' });
      await deploy(template);
      expect(await table.get('fraud', { consistentRead: true })).toMatchObject({ version: 1, trail: [{ version: 1, by: 'cloudformation' }] });
      await table.setWeights('fraud', { champion: 50, challenger: 50 }, { expectedVersion: 1, by: 'alice', reason: 'even split' });
      await deploy(template); // a redeploy
      const entry = await table.get('fraud', { consistentRead: true });
      expect(entry).toMatchObject({ version: 2, endpointName: 'fraud-endpoint', variants: [{ name: 'champion', weight: 50 }, { name: 'challenger', weight: 50 }] });
      expect(entry!.trail.map((c) => c.by)).toEqual(['cloudformation', 'alice']);

      // The endpoint's variants change (challenger → challenger2): the deploy replaces them, audited, as version 3.
      const stack = new Stack(new App(), 'Routing');
      const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', { endpointName: 'fraud-endpoint-2', variantNames: ['champion', 'challenger2'] });
      new ModelRouting(stack, 'Routing').addModel({ model: 'fraud', variantWeights: { champion: 90, challenger2: 10 }, endpoint });
      await deploy(Template.fromStack(stack));
      const replaced = await table.get('fraud', { consistentRead: true });
      expect(replaced).toMatchObject({ version: 3, endpointName: 'fraud-endpoint-2', variants: [{ name: 'champion', weight: 90 }, { name: 'challenger2', weight: 10 }] });
      expect(replaced!.trail.at(-1)).toMatchObject({
        version: 3, by: 'cloudformation', reason: expect.stringMatching(/^variants changed by deploy: now champion, challenger2/),
        from: { champion: 50, challenger: 50 }, to: { champion: 90, challenger2: 10 },
      });
      expect(replaced!.trail.at(-1)!.at).toBeUndefined();
      // The new variants can be set, and the next deploy keeps them.
      await table.setWeights('fraud', { champion: 80, challenger2: 20 }, { expectedVersion: 3, by: 'alice', reason: 'step' });
      await deploy(Template.fromStack(stack));
      expect(await table.get('fraud', { consistentRead: true })).toMatchObject({ version: 4, variants: [{ name: 'champion', weight: 80 }, { name: 'challenger2', weight: 20 }] });
    } finally {
      dynamo.destroy();
      await dynalite.stop();
    }
  });

  test('grantRead is GetItem only; grantUpdateWeights GetItem and UpdateItem, on the table alone', () => {
    expect(actionsOf(template, stack, reader)).toEqual(['dynamodb:GetItem']);
    expect(actionsOf(template, stack, operator)).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: stack.getLogicalId(reader.node.defaultChild as any) }],
      PolicyDocument: { Statement: [{ Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: Match.arrayWith([{ 'Fn::GetAtt': [tableId, 'Arn'] }]) }] },
    });
  });

  test('the sync: on the table stream, partial batch failures, bounded retries, failures to an encrypted queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [tableId, 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 20,
      MaximumRecordAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('SyncFailureQueue'), 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  });

  test('the sync may update the weights of the added endpoint only, read the stream, and send to its failure queue', () => {
    const role = routing.syncFunction!.role as iam.Role;
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === stack.getLogicalId(role.node.defaultChild as any)))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const on = (action: string) => statements.filter((s: any) => [s.Action].flat().includes(action)).map((s: any) => stack.resolve(s.Resource));
    expect(on('sagemaker:UpdateEndpointWeightsAndCapacities')).toEqual([{
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:123456789012:endpoint/fraud-endpoint']],
    }]);
    expect(on('dynamodb:GetRecords')).toEqual([{ 'Fn::GetAtt': [tableId, 'StreamArn'] }]);
    expect(on('sqs:SendMessage')).toHaveLength(1);
    expect(statements.flatMap((s: any) => [s.Action].flat()).sort()).toEqual([
      'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams',
      'logs:CreateLogStream', 'logs:PutLogEvents', 'sagemaker:UpdateEndpointWeightsAndCapacities', 'sqs:SendMessage',
      'xray:PutTelemetryRecords', 'xray:PutTraceSegments',
    ]);
  });

  test('metricSyncRefused reads the sync\'s metric by model', () => {
    expect(routing.metricSyncRefused('fraud')).toMatchObject({ metricName: RoutingSyncMetrics.REFUSED, dimensions: { Model: 'fraud' }, statistic: 'Sum' });
  });

  test('cdk-nag AwsSolutions: clean', () => {
    const { app } = build({}, { nag: true });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('ModelRouting options', () => {
  test('a customer-managed key: the table, the seed, the readers and the sync use it through DynamoDB only', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, 'Keyed', { env: { account: '123456789012', region: 'us-east-1' } });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const routing = new ModelRouting(stack, 'Routing', { encryptionKey: key, removalPolicy: RemovalPolicy.DESTROY, syncRetryAttempts: 3, syncMaxRecordAge: Duration.minutes(30) });
    routing.addModel({
      model: 'fraud', variantWeights: { a: 1 },
      endpoint: ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', { endpointName: 'fraud', variantNames: ['a'] }),
    });
    routing.grantRead(new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() }));
    const template = Template.fromStack(stack);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() }, DeletionProtectionEnabled: false },
      DeletionPolicy: 'Delete',
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 3, MaximumRecordAgeInSeconds: 1800 });
    const keyStatements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('kms:')));
    expect(keyStatements.length).toBeGreaterThanOrEqual(3); // seed, reader, sync
    for (const s of keyStatements) expect(s.Condition).toEqual({ StringEquals: { 'kms:ViaService': 'dynamodb.us-east-1.amazonaws.com' } });
    expect(() => app.synth()).not.toThrow();
  });

  test('no endpoint, no sync: no function, no queue', () => {
    const stack = new Stack();
    const routing = new ModelRouting(stack, 'Routing');
    routing.addModel({ model: 'ranker', variantWeights: { a: 1, b: 3 } });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    template.resourceCountIs('AWS::SQS::Queue', 0);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(routing.syncFunction).toBeUndefined();
    expect(routing.alarms).toEqual([]);
    expect(routing.models).toEqual(['ranker']);
  });

  test('invalid models and weights are refused with every problem', () => {
    const stack = new Stack();
    const routing = new ModelRouting(stack, 'Routing');
    routing.addModel({ model: 'fraud', variantWeights: { a: 1 } });
    const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', { endpointName: 'e', variantNames: ['champion', 'challenger'] });
    expect(() => routing.addModel({ model: 'fraud', variantWeights: { champion: -1, blue: NaN }, endpoint })).toThrow(new RegExp([
      "weight of 'champion' is negative", "weight of 'blue' is not a finite number", "model 'fraud' is added twice",
      "must weigh exactly the endpoint's production variants \\(champion, challenger\\); missing challenger; unknown blue",
    ].join('[\\s\\S]*')));
    expect(() => routing.addModel({ model: 'zero', variantWeights: { a: 0 } })).toThrow(/every weight is 0/);
    expect(() => new ModelRouting(stack, 'Bad', { syncRetryAttempts: -1, syncMaxRecordAge: Duration.seconds(10) }))
      .toThrow(/syncRetryAttempts: -1 must be an integer between 0 and 10000[\s\S]*syncMaxRecordAge: 10 s must be from 60 s/);
  });
});
