import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LabelIngestion, LabelIngestionProps } from '../../lib/monitoring/label-ingestion';
import { PredictionLogDataset } from '../../lib/monitoring/prediction-log-dataset';
import { LabelIngestionVariables } from '../../runtime/contracts/label-ingestion';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };

function build(props: Partial<LabelIngestionProps> = {}, options: { nag?: boolean } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Stack', { env: ENV });
  const dataset = new PredictionLogDataset(stack, 'Dataset', {});
  const labels = new LabelIngestion(stack, 'Labels', { dataset, models: ['fraud', 'churn'], ...props });
  return { app, stack, dataset, labels };
}

const id = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as any);

/** Every statement of the policies attached to a role. */
function statementsOf(template: Template, roleId: string): any[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('LabelIngestion', () => {
  const { app, stack, dataset, labels } = build({}, { nag: true });
  const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() });
  labels.grantPutLabels(producer);
  const template = Template.fromStack(stack);
  const functionRole = id(stack, labels.function.role as iam.Role);

  test('the function gets the contract environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          [LabelIngestionVariables.DATASET_BUCKET_NAME]: { Ref: id(stack, dataset.bucket as any) },
          [LabelIngestionVariables.MODELS]: '["fraud","churn"]',
          [LabelIngestionVariables.DEAD_LETTER_QUEUE_URL]: { Ref: id(stack, labels.deadLetterQueue) },
          METRICS_NAMESPACE: 'MlPlatform',
        },
      },
    });
  });

  test('a KMS-encrypted stream feeds the function with partial batch responses and an on-failure destination', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', { StreamEncryption: { EncryptionType: 'KMS', KeyId: Match.anyValue() } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 100,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [id(stack, labels.deadLetterQueue), 'Arn'] } } },
    });
  });

  test('the drop bucket is KMS-encrypted, private, and notifies the function of created objects; failed drops reach the dead-letter queue', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' }, BucketKeyEnabled: true }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: id(stack, labels.dropBucket) },
      NotificationConfiguration: { LambdaFunctionConfigurations: [{ Events: ['s3:ObjectCreated:*'], LambdaFunctionArn: Match.anyValue() }] },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [id(stack, labels.deadLetterQueue), 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  test('least privilege: the function writes only under labels/ of the dataset, reads only the drop bucket, sends only to its queue', () => {
    const statements = statementsOf(template, functionRole);
    const s3Actions = statements.filter((s) => JSON.stringify(s.Action).includes('s3:'));
    expect(s3Actions.map((s) => [s.Action, JSON.stringify(s.Resource)])).toEqual(expect.arrayContaining([
      ['s3:PutObject', expect.stringContaining('/labels/*')],
      ['s3:GetObject', expect.stringContaining(id(stack, labels.dropBucket))],
    ]));
    expect(s3Actions).toHaveLength(2);
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('sqs:')).map((s) => s.Action)).toEqual(expect.arrayContaining(['sqs:SendMessage']));
    expect(JSON.stringify(statements)).not.toMatch(/"s3:\*"|"sqs:\*"|"kms:\*"|s3:Delete|s3:GetObject\*/);
  });

  test('grantPutLabels: stream put and drop-bucket put, keys through Kinesis and S3 only', () => {
    const statements = statementsOf(template, id(stack, producer));
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual(['kinesis:DescribeStreamSummary', 'kinesis:ListShards', 'kinesis:PutRecord', 'kinesis:PutRecords', 'kms:GenerateDataKey', 'kms:GenerateDataKey', 's3:PutObject'].sort());
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('kms:')).map((s) => s.Condition.StringEquals['kms:ViaService']).sort())
      .toEqual(['kinesis.us-east-1.amazonaws.com', 's3.us-east-1.amazonaws.com']);
  });

  test('alarms on dead letters, errors and iterator age, each with an action; exposed for ModelMonitoring', () => {
    expect(labels.alarms).toHaveLength(3);
    expect(alarmsWithoutActions(template)).toEqual([]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 1_800_000 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Threshold: 0 });
  });

  test('cdk-nag AwsSolutions clean', () => {
    expect(() => app.synth()).not.toThrow();
  });
});

describe('LabelIngestion props', () => {
  test('every problem at once, each naming the prop and the fix', () => {
    expect(() => build({ models: ['fraud', '../x', 'fraud'], batchSize: 0, maxIteratorAge: Duration.seconds(5) })).toThrow(
      'Stack/Labels: invalid props:\n'
      + "  - models[1]: '../x' is not a model name; use 1–128 letters, digits, '.', '_' or '-' (the name the model is served under)\n"
      + "  - models[2]: 'fraud' is given twice; list each model once\n"
      + '  - batchSize: 0 must be an integer from 1 to 10000 (Kinesis event source limit)\n'
      + '  - maxIteratorAge: 5 s must be from 1 minute to 1 day (the stream keeps records 24 hours by default)',
    );
    expect(() => build({ models: [] })).toThrow('models: name at least one model whose labels this ingestion accepts');
  });

  test('too many models for the function environment', () => {
    const models = Array.from({ length: 400 }, (_, i) => `model-number-${i}`);
    expect(() => build({ models })).toThrow(/models: the function's environment would take \d+ bytes, over Lambda's 4096/);
  });
});
