import { App, CfnParameter, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { customer, customerTxnStats, fraudFeatureViews, merchantRisk } from '../../examples/fraud-features';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AlarmTopic, Feature, FeatureIngestion, FeatureIngestionProps, FeatureStore, FeatureStoreProps, FeatureView, IFeatureIngestion } from '../../lib';
import { MaterializerVariables } from '../../runtime/contracts/materializer';
import { MaterializerMetrics, METRICS_NAMESPACE, UNKNOWN_FEATURE_VIEW } from '../../runtime/core/metrics';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };

/** The condition limiting a key grant to requests a service makes for the grantee. */
const viaService = (service: string) => ({ StringEquals: { 'kms:ViaService': `${service}.${ENV.region}.amazonaws.com` } });

/** A stack holding a store of the fraud views. */
function storeStack(): { stack: Stack; store: FeatureStore } {
  const stack = new Stack(new App(), 'Stack', { env: ENV });
  return { stack, store: new FeatureStore(stack, 'Store', { views: fraudFeatureViews }) };
}

/** An ingestion of the given props in a fresh stack and store. */
function ingestion(props: Partial<FeatureIngestionProps> = {}): { stack: Stack; store: FeatureStore; ingest: FeatureIngestion } {
  const { stack, store } = storeStack();
  const ingest = new FeatureIngestion(stack, 'Ingest', { store, views: fraudFeatureViews, ...props });
  return { stack, store, ingest };
}

/** The message of the error `fn` throws (fails the test when it does not throw). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error; none was thrown');
}

function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as any);
}

describe('FeatureIngestion', () => {
  const { stack, store, ingest } = ingestion({
    batchSize: 1000, parallelizationFactor: 2, maxBatchingWindow: Duration.seconds(5), retryAttempts: 3, maxRecordAge: Duration.hours(2),
  });
  const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() });
  ingest.grantPut(producer);
  const template = Template.fromStack(stack);
  const keyArn = { 'Fn::GetAtt': [logicalId(stack, store.key), 'Arn'] };
  const streamArn = { 'Fn::GetAtt': [logicalId(stack, ingest.stream), 'Arn'] };
  const functionRoleId = logicalId(stack, ingest.function.role as iam.Role);

  test('creates an on-demand stream encrypted with the store key', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: keyArn },
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 24,
    });
  });

  test('the materializer: Node 22, bundled handler, X-Ray, its own log group, the contract environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      MemorySize: 512,
      Timeout: 60,
      LoggingConfig: { LogGroup: { Ref: logicalId(stack, ingest.function.logGroup as any) } },
      Environment: {
        Variables: {
          ONLINE_TABLE_NAME: { Ref: logicalId(stack, store.table) },
          OFFLINE_BUCKET_NAME: { Ref: logicalId(stack, store.bucket) },
          METRICS_NAMESPACE,
          FEATURE_VIEWS: Match.anyValue(),
        },
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const variables = Object.values(template.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables;
    expect(JSON.parse(variables.FEATURE_VIEWS)).toEqual(fraudFeatureViews.map((v) => v.toSpec()));
  });

  test("the materializer's event-time window starts where the store's partition projection does (carried in its environment)", () => {
    const windowStart = (storeProps: Partial<FeatureStoreProps>) => {
      const stack = new Stack(new App(), 'Stack', { env: ENV });
      const windowStore = new FeatureStore(stack, 'Store', { views: fraudFeatureViews, ...storeProps });
      new FeatureIngestion(stack, 'Ingest', { store: windowStore, views: fraudFeatureViews });
      const variables = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables;
      const projections = Object.values(Template.fromStack(stack).findResources('AWS::Glue::Table')).map((t) => t.Properties.TableInput.Parameters['projection.event_date.range']);
      return { variable: variables[MaterializerVariables.EARLIEST_EVENT_DATE], projection: [...new Set(projections)] };
    };
    expect(windowStart({})).toEqual({ variable: '2020-01-01', projection: ['2020-01-01,NOW+1DAYS'] });
    expect(windowStart({ earliestEventDate: '2018-01-01' })).toEqual({ variable: '2018-01-01', projection: ['2018-01-01,NOW+1DAYS'] });
    expect(windowStart({ offlineExpiration: Duration.days(730) })).toEqual({ variable: 'NOW-730DAYS', projection: ['NOW-730DAYS,NOW+1DAYS'] });
  });

  test('the function has its own role, no managed policies', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] },
      ManagedPolicyArns: Match.absent(),
    });
  });

  test('event source: bisect, partial batch responses, bounded retries and age, on-failure queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: streamArn,
      BatchSize: 1000,
      ParallelizationFactor: 2,
      MaximumBatchingWindowInSeconds: 5,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 7200,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack, ingest.onFailureQueue), 'Arn'] } } },
    });
  });

  test('the on-failure queue is encrypted and refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('iterator age alarm: Maximum IteratorAge above the smallest freshness of the views, in milliseconds', () => {
    expect(customerTxnStats.freshness.toSeconds()).toBeLessThan(merchantRisk.freshness.toSeconds());
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda', MetricName: 'IteratorAge', Statistic: 'Maximum', Period: 60,
      Threshold: customerTxnStats.freshness.toMilliseconds(),
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, ingest.function) } }],
    });
    expect(ingest.alarms).toContain(ingest.iteratorAgeAlarm);
  });

  test('alarms on dead letters of every view and of unknown views, handler errors and a non-empty on-failure queue', () => {
    for (const view of [...fraudFeatureViews, { name: UNKNOWN_FEATURE_VIEW }]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: METRICS_NAMESPACE, MetricName: MaterializerMetrics.DEAD_LETTERED, Statistic: 'Sum', Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold', Dimensions: [{ Name: 'FeatureView', Value: view.name }],
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Statistic: 'Sum', Threshold: 0 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Maximum', Threshold: 0,
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, ingest.onFailureQueue), 'QueueName'] } }],
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4 + fraudFeatureViews.length);
    expect(ingest.alarms).toHaveLength(4 + fraudFeatureViews.length);
  });

  test('every alarm notifies the alarm topic created here when it fires and when it recovers', () => {
    expect(ingest.alarmTopic).toBeDefined();
    expect(ingest.alarmAction).toBe(ingest.alarmTopic);
    const topicRef = { Ref: logicalId(stack, ingest.alarmTopic!.topic) };
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(ingest.alarms.length);
    for (const alarm of alarms) expect(alarm.Properties).toMatchObject({ AlarmActions: [topicRef], OKActions: [topicRef] });
    expect(alarmsWithoutActions(template)).toEqual([]);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(stack, ingest.alarmTopic!.key as any), 'Arn'] } });
  });

  test("the function's role: store writes through the store's grants, and * only for X-Ray", () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === functionRoleId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s: any) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 's3:PutObject', 'kinesis:GetRecords', 'sqs:SendMessage', 'logs:PutLogEvents']));
    const starred = statements.filter((s: any) => [s.Resource].flat().includes('*'));
    expect(starred.flatMap((s: any) => [s.Action].flat()).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  test('grantPut lets producers put records (either API, KPL describe calls) with the stream key, nothing more', () => {
    const producerId = logicalId(stack, producer);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: producerId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: ['kinesis:PutRecord', 'kinesis:PutRecords', 'kinesis:ListShards', 'kinesis:DescribeStreamSummary'], Effect: 'Allow', Resource: streamArn },
          { Action: 'kms:GenerateDataKey', Effect: 'Allow', Resource: keyArn, Condition: viaService('kinesis') },
        ]),
      },
    });
    const producerActions = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === producerId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    expect(producerActions.sort()).toEqual(['kinesis:DescribeStreamSummary', 'kinesis:ListShards', 'kinesis:PutRecord', 'kinesis:PutRecords', 'kms:GenerateDataKey']);
  });

  test('grantReplay lets an operator re-drive failed batches: queue, function configuration, stream reads, the materializer writes', () => {
    const replay = ingestion({});
    const operator = new iam.Role(replay.stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    replay.ingest.grantReplay(operator);
    const replayTemplate = Template.fromStack(replay.stack);
    const operatorId = logicalId(replay.stack, operator);
    const actions = Object.values(replayTemplate.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === operatorId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    // What scripts/replay-failed-batches.ts sends (GetShardIterator, GetRecords), what the README's commands call, and
    // the materializer's own writes; nothing to put on the stream or to change the function.
    expect(actions).toEqual(expect.arrayContaining([
      'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'lambda:GetFunctionConfiguration', 'kinesis:GetShardIterator', 'kinesis:GetRecords',
      'dynamodb:PutItem', 's3:PutObject', 'kms:Decrypt',
    ]));
    expect(actions.filter((a: string) => /^kinesis:Put|^lambda:(Update|Invoke)/.test(a))).toEqual([]);
    replayTemplate.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: operatorId }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Condition: viaService('kinesis') })]) },
    });
  });

  test("the store's key, shared by the table, the bucket and the stream, is used by the materializer through each service only", () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === functionRoleId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const keyUses = statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('kms:')));
    expect(keyUses.map((s: any) => ({ actions: [s.Action].flat(), resource: s.Resource, condition: s.Condition }))).toEqual(expect.arrayContaining([
      { actions: ['kms:Decrypt'], resource: keyArn, condition: viaService('kinesis') },
      { actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], resource: keyArn, condition: viaService('dynamodb') },
      { actions: ['kms:GenerateDataKey'], resource: keyArn, condition: viaService('s3') },
    ]));
    expect(keyUses).toHaveLength(3);
  });
});

describe('FeatureIngestion into an imported store', () => {
  const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Consumer', { env: ENV });
  const store = FeatureStore.fromFeatureStoreAttributes(stack, 'Store', {
    tableName: 'features-online', bucketName: 'features-offline', keyArn: KEY_ARN, views: fraudFeatureViews, earliestEventDate: 'NOW-730DAYS',
  });
  const ingest = new FeatureIngestion(stack, 'Ingest', { store, views: [customerTxnStats] });
  const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
  ingest.grantReplay(operator);
  const template = Template.fromStack(stack);
  const functionRoleId = logicalId(stack, ingest.function.role as iam.Role);

  test('synthesizes with cdk-nag clean: a stream encrypted with the imported key, the materializer told the store\'s names and window', () => {
    expect(() => app.synth()).not.toThrow();
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::KMS::Key', 1); // the alarm topic's own key
    template.hasResourceProperties('AWS::Kinesis::Stream', { StreamEncryption: { EncryptionType: 'KMS', KeyId: KEY_ARN } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { ONLINE_TABLE_NAME: 'features-online', OFFLINE_BUCKET_NAME: 'features-offline', [MaterializerVariables.EARLIEST_EVENT_DATE]: 'NOW-730DAYS' } },
    });
  });

  test("the materializer writes the imported table and bucket, using the imported key through each service only", () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === functionRoleId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const put = statements.find((s: any) => s.Action === 'dynamodb:PutItem');
    expect(JSON.stringify(put.Resource)).toContain(':table/features-online');
    const objects = statements.find((s: any) => s.Action === 's3:PutObject');
    expect(JSON.stringify(objects.Resource)).toMatch(/features-offline\/offline\/customer_txn_stats\/\*.*features-offline\/dead-letter\/\*/);
    expect(JSON.stringify(objects.Resource)).not.toContain('merchant_risk');
    const keyUses = statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('kms:')));
    expect(keyUses.map((s: any) => ({ actions: [s.Action].flat(), resource: s.Resource, condition: s.Condition }))).toEqual(expect.arrayContaining([
      { actions: ['kms:Decrypt'], resource: KEY_ARN, condition: viaService('kinesis') },
      { actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], resource: KEY_ARN, condition: viaService('dynamodb') },
      { actions: ['kms:GenerateDataKey'], resource: KEY_ARN, condition: viaService('s3') },
    ]));
    expect(keyUses).toHaveLength(3);
  });

  test('grantReplay reaches the imported store too', () => {
    const operatorId = logicalId(stack, operator);
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === operatorId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 's3:PutObject', 'kinesis:GetRecords', 'kms:Decrypt']));
  });

  test('views are checked against the imported store\'s views', () => {
    const other = new Stack(new App(), 'Other', { env: ENV });
    const imported = FeatureStore.fromFeatureStoreAttributes(other, 'Store', { tableName: 'features-online', bucketName: 'features-offline', keyArn: KEY_ARN, views: [merchantRisk] });
    expect(() => new FeatureIngestion(other, 'Ingest', { store: imported, views: [customerTxnStats] }))
      .toThrow(/views\[0\]: view 'customer_txn_stats' is not in the feature store \(it holds: merchant_risk\)/);
  });
});

describe('FeatureIngestion for monitoring (IFeatureIngestion)', () => {
  const { stack, ingest } = ingestion();
  const monitored: IFeatureIngestion = ingest;
  const resolve = (metric: cloudwatch.IMetric) => stack.resolve(metric.toMetricConfig().metricStat);

  test('the metrics behind the alarms are on the interface: dead letters per view and of unknown views, failed batches, errors', () => {
    expect(resolve(monitored.metricDeadLettered(customerTxnStats))).toMatchObject({
      namespace: METRICS_NAMESPACE, metricName: MaterializerMetrics.DEAD_LETTERED, statistic: 'Sum', dimensions: [{ name: 'FeatureView', value: 'customer_txn_stats' }],
    });
    expect(resolve(monitored.metricUnknownViewDeadLettered())).toMatchObject({
      namespace: METRICS_NAMESPACE, metricName: MaterializerMetrics.DEAD_LETTERED, dimensions: [{ name: 'FeatureView', value: UNKNOWN_FEATURE_VIEW }],
    });
    expect(resolve(monitored.metricFailedBatches())).toMatchObject({ namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', statistic: 'Maximum' });
    expect(resolve(monitored.metricErrors({ period: Duration.minutes(5) }))).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'Errors', statistic: 'Sum' });
    expect(monitored.onFailureQueue).toBe(ingest.onFailureQueue);
    expect(monitored.alarms).toHaveLength(4 + fraudFeatureViews.length);
  });
});

describe('FeatureIngestion options', () => {
  test("a given alarm action is every alarm's action, and no topic is created", () => {
    const { stack, store } = storeStack();
    const alarms = new AlarmTopic(stack, 'PlatformAlarms');
    const ingest = new FeatureIngestion(stack, 'Ingest', { store, views: fraudFeatureViews, alarmAction: alarms });
    expect(ingest.alarmTopic).toBeUndefined();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const topicRef = { Ref: logicalId(stack, alarms.topic) };
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties).toMatchObject({ AlarmActions: [topicRef], OKActions: [topicRef] });
    }
  });

  test('a subset of views: alarm threshold and write prefixes follow that subset', () => {
    const { stack, store } = storeStack();
    new FeatureIngestion(stack, 'Ingest', { store, views: [merchantRisk] });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 15 * 60 * 1000 });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('/offline/merchant_risk/*');
    expect(policies).not.toContain('customer_txn_stats');
    template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
  });

  test('an existing stream is consumed as given; a provisioned stream gets its shards', () => {
    const { stack, store } = storeStack();
    const stream = new kinesis.Stream(stack, 'Existing', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: store.key });
    const given = new FeatureIngestion(stack, 'Given', { store, views: [customerTxnStats], stream });
    expect(given.stream).toBe(stream);
    new FeatureIngestion(stack, 'Provisioned', { store, views: [merchantRisk], streamMode: kinesis.StreamMode.PROVISIONED, shardCount: 4, streamRetention: Duration.days(3) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Kinesis::Stream', 2);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, stream), 'Arn'] } });
    template.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 4, StreamModeDetails: { StreamMode: 'PROVISIONED' }, RetentionPeriodHours: 72 });
  });

  test('function settings come from the props', () => {
    const { stack } = ingestion({
      memorySize: Size.mebibytes(1024), timeout: Duration.seconds(30), reservedConcurrentExecutions: 4, tracing: lambda.Tracing.PASS_THROUGH,
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024, Timeout: 30, ReservedConcurrentExecutions: 4, TracingConfig: { Mode: 'PassThrough' },
    });
  });

  test('risky but legal settings are warnings', () => {
    const { stack } = ingestion({
      maxBatchingWindow: Duration.seconds(30), timeout: Duration.minutes(5), maxRecordAge: Duration.days(2),
      streamMode: kinesis.StreamMode.PROVISIONED, shardCount: 2, parallelizationFactor: 3, reservedConcurrentExecutions: 2,
    });
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning('/Stack/Ingest', Match.stringLikeRegexp("view 'customer_txn_stats': freshness 120 s is shorter than maxBatchingWindow \\+ timeout \\(330 s\\)"));
    annotations.hasWarning('/Stack/Ingest', Match.stringLikeRegexp('maxRecordAge \\(172800 s\\) is not shorter than the stream retention'));
    annotations.hasWarning('/Stack/Ingest', Match.stringLikeRegexp('reservedConcurrentExecutions 2 is below shards × parallelizationFactor \\(6\\)'));
  });

  test('defaults raise no warning', () => {
    const { stack } = ingestion();
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('.*'))).toEqual([]);
  });
});

describe('FeatureIngestion validation', () => {
  test('lists every problem at once, naming the prop and the fix', () => {
    const stranger = new FeatureView({ name: 'card_stats', entities: [customer], ttl: Duration.days(1), features: [Feature.int64('n')] });
    const attempt = () => ingestion({
      views: [customerTxnStats, customerTxnStats, stranger],
      batchSize: 20_000,
      parallelizationFactor: 11,
      retryAttempts: -1,
      maxRecordAge: Duration.seconds(30),
      maxBatchingWindow: Duration.minutes(3),
      shardCount: 2,
      memorySize: Size.mebibytes(64),
      reservedConcurrentExecutions: 0,
    });
    expect(attempt).toThrow(/Stack\/Ingest: invalid props/);
    expect(attempt).toThrow(/views\[1\]: 'customer_txn_stats' is given twice/);
    expect(attempt).toThrow(/views\[2\]: view 'card_stats' is not in the feature store \(it holds: customer_txn_stats, merchant_risk\); add it to the store's views/);
    expect(attempt).toThrow(/batchSize: 20000 must be an integer from 1 to 10000/);
    expect(attempt).toThrow(/parallelizationFactor: 11 must be an integer from 1 to 10/);
    expect(attempt).toThrow(/retryAttempts: -1 must be an integer from 0 to 10000; unbounded retries/);
    expect(attempt).toThrow(/maxRecordAge: 30 s must be from 60 s to 7 days/);
    expect(attempt).toThrow(/maxBatchingWindow: 180 s makes view 'customer_txn_stats''s freshness objective of 120 s unachievable/);
    expect(attempt).toThrow(/shardCount: applies to provisioned streams only/);
    expect(attempt).toThrow(/memorySize: 64 MiB must be a whole number of MiB from 128 to 10240/);
    expect(attempt).toThrow(/reservedConcurrentExecutions: 0 must be a positive integer/);
  });

  test('a view redefined under the same name is not the store\'s view', () => {
    const { stack, store } = storeStack();
    const v2 = new FeatureView({ name: 'merchant_risk', version: 2, entities: [customer], ttl: Duration.days(1), features: [Feature.int64('n')] });
    expect(() => new FeatureIngestion(stack, 'Ingest', { store, views: [v2] })).toThrow(/'merchant_risk' v2 differs from the store's definition \(v1\)/);
  });

  test('stream settings conflict with a given stream; the batching window is capped at 5 minutes', () => {
    const { stack, store } = storeStack();
    const stream = new kinesis.Stream(stack, 'Existing');
    const message = errorOf(() => new FeatureIngestion(stack, 'Ingest', {
      store, views: [merchantRisk], stream, streamRetention: Duration.days(2), maxBatchingWindow: Duration.minutes(6),
    }));
    expect(message).toMatch(/streamRetention: configure only the stream this construct creates; drop them or drop stream/);
    expect(message).toMatch(/maxBatchingWindow: 360 s exceeds Lambda's 300 s limit/);
  });

  test('view specs over the 4 KB Lambda environment are refused, naming the views and their sizes', () => {
    const wordy = (name: string) => new FeatureView({
      name, entities: [customer], ttl: Duration.days(1),
      features: Array.from({ length: 12 }, (_, i) => Feature.float64(`feature_${i}`, { description: 'x'.repeat(150) })),
    });
    const views = [wordy('wordy_a'), wordy('wordy_b')];
    const stack = new Stack(new App(), 'Stack', { env: ENV });
    const store = new FeatureStore(stack, 'Store', { views });
    expect(() => new FeatureIngestion(stack, 'Ingest', { store, views }))
      .toThrow(/views: the materializer's environment would take up to \d+ bytes, over Lambda's 4096-byte limit \(FEATURE_VIEWS holds every view spec: wordy_a \d+ B, wordy_b \d+ B\); split the views/);
    expect(() => new FeatureIngestion(stack, 'IngestA', { store, views: [views[0]] })).not.toThrow();
  });

  test('unresolved tokens are left to deployment', () => {
    const { stack, store } = storeStack();
    const size = new CfnParameter(stack, 'BatchSize', { type: 'Number' }).valueAsNumber;
    expect(() => new FeatureIngestion(stack, 'Ingest', { store, views: fraudFeatureViews, batchSize: size, retryAttempts: size })).not.toThrow();
  });
});
