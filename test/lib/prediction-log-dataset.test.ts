import * as path from 'path';
import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../../examples/fraud-features';
import {
  AlarmTopic, Fallback, FeatureStore, InferenceGateway, InferenceImage, InferenceInstanceType, ModelArtifact, ModelBackend, ModelEndpoint,
} from '../../lib';
import { PredictionLogDataset, PredictionLogDatasetProps } from '../../lib/monitoring/prediction-log-dataset';
import { predictionLogModelPrefix } from '../../runtime/core/datasets';
import { s3LogKey } from '../../runtime/aws/prediction-log-sinks';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };
const MODEL = path.join(__dirname, '..', '..', 'examples', 'models', 'fraud-mlp.onnx');

/** A stack (cdk-nag on) with a store, an endpoint, a gateway logging to its stream, and a dataset delivering it. */
function platform(props: Partial<PredictionLogDatasetProps> = {}) {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Datasets', { env: ENV });
  const store = new FeatureStore(stack, 'Features', { views: fraudFeatureViews });
  const endpoint = new ModelEndpoint(stack, 'Fraud', {
    image: InferenceImage.fromServer({ gpu: false }),
    variants: [{ name: 'champion', model: ModelArtifact.fromAsset(MODEL), instanceType: InferenceInstanceType.C5_XLARGE }],
  });
  const gateway = new InferenceGateway(stack, 'Gateway', {
    backend: ModelBackend.sageMaker(endpoint), store, features: fraudFeatureViews, featureRefs: fraudModelFeatureRefs, modelName: 'fraud',
    fallback: Fallback.constant({ probability: [0.01] }),
  });
  const dataset = new PredictionLogDataset(stack, 'Dataset', { gateways: [gateway], ...props });
  return { app, stack, store, gateway, dataset };
}

const p = platform({ retention: Duration.days(180) });
const server = new iam.Role(p.stack, 'Server', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
const drift = new iam.Role(p.stack, 'Drift', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
p.dataset.grantWrite(server, predictionLogModelPrefix('fraud'));
p.dataset.grantRead(drift, predictionLogModelPrefix('fraud'));
const template = Template.fromJSON(p.app.synth().getStackByName(p.stack.stackName).template); // cdk-nag runs here
const id = (c: { node: { defaultChild?: unknown } }) => p.stack.getLogicalId(c.node.defaultChild as any);
const bucketArn = { 'Fn::GetAtt': [id(p.dataset.bucket), 'Arn'] };
const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn, `/${prefix}`]] });
const datasetKeyArn = { 'Fn::GetAtt': [id(p.dataset.encryptionKey as kms.Key), 'Arn'] };
const storeKeyArn = { 'Fn::GetAtt': [id(p.store.key as kms.Key), 'Arn'] };

/** Every statement of the policies attached to a role. */
function statementsOf(role: iam.IRole): any[] {
  const roleId = p.stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy: any) => policy.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((policy: any) => policy.Properties.PolicyDocument.Statement);
}

describe('PredictionLogDataset', () => {
  test('the bucket is KMS-encrypted with the dataset key, TLS-only, versioned, private; logs and labels expire after the retention', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: datasetKeyArn }, BucketKeyEnabled: true }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Id: 'prediction-logs', Prefix: 'prediction-logs/', ExpirationInDays: 180 }),
          Match.objectLike({ Id: 'labels', Prefix: 'labels/', ExpirationInDays: 180 }),
          Match.objectLike({ Id: 'delivery-errors', Prefix: 'prediction-log-errors/', ExpirationInDays: 30 }),
        ]),
      },
    });
  });

  test('Firehose reads the gateway stream and partitions by the records\' model and event time (JQ), GZIP, encrypted, errors apart', () => {
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: { 'Fn::GetAtt': [id(p.gateway.predictionLog as any), 'Arn'] } },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        BucketARN: bucketArn,
        Prefix: 'prediction-logs/model=!{partitionKeyFromQuery:model}/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/',
        ErrorOutputPrefix: 'prediction-log-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
        FileExtension: '.jsonl.gz',
        CompressionFormat: 'GZIP',
        BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
        EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: datasetKeyArn } },
        DynamicPartitioningConfiguration: { Enabled: true, RetryOptions: { DurationInSeconds: 300 } },
        ProcessingConfiguration: {
          Enabled: true,
          Processors: [{
            Type: 'MetadataExtraction',
            Parameters: [
              { ParameterName: 'MetadataExtractionQuery', ParameterValue: '{model: .model, dt: .ts[0:10], hour: .ts[11:13]}' },
              { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
            ],
          }],
        },
        CloudWatchLoggingOptions: { Enabled: true, LogGroupName: { Ref: Match.anyValue() }, LogStreamName: { Ref: Match.anyValue() } },
      }),
    });
  });

  test('the JQ query yields the layout\'s partition values of a logged ts: its UTC date and hour (event time)', () => {
    // jq's .ts[0:10] / .ts[11:13] are character slices, as String.slice; the gateway writes ts with toISOString().
    const ts = new Date(Date.UTC(2026, 4, 31, 23, 59, 59, 999)).toISOString();
    expect([ts.slice(0, 10), ts.slice(11, 13)]).toEqual(['2026-05-31', '23']);
    expect(PredictionLogDataset.PARTITION_QUERY).toBe('{model: .model, dt: .ts[0:10], hour: .ts[11:13]}');
  });

  test('the Firehose role reads only its stream (decrypting through Kinesis) and writes only the dataset and error prefixes', () => {
    const [delivery] = Object.values(template.findResources('AWS::KinesisFirehose::DeliveryStream'));
    const roleId = delivery.Properties.KinesisStreamSourceConfiguration.RoleARN['Fn::GetAtt'][0];
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'firehose.amazonaws.com' }, Condition: { StringEquals: { 'sts:ExternalId': ENV.account } } })] },
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy: any) => policy.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((policy: any) => policy.Properties.PolicyDocument.Statement);
    const simplified = statements.map((s: any) => ({ actions: [s.Action].flat().sort(), resources: [s.Resource].flat(), condition: s.Condition }));
    expect(simplified).toEqual([
      { actions: ['kinesis:DescribeStream', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards'], resources: [{ 'Fn::GetAtt': [id(p.gateway.predictionLog as any), 'Arn'] }], condition: undefined },
      { actions: ['s3:AbortMultipartUpload', 's3:PutObject'], resources: [objects('prediction-logs/*'), objects('prediction-log-errors/*')], condition: undefined },
      { actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [bucketArn], condition: undefined },
      { actions: ['logs:PutLogEvents'], resources: [expect.anything()], condition: undefined },
      { actions: ['kms:Decrypt'], resources: [storeKeyArn], condition: { StringEquals: { 'kms:ViaService': 'kinesis.us-east-1.amazonaws.com' } } },
      { actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [datasetKeyArn], condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } },
    ]);
    expect(statements.every((s: any) => s.Effect === 'Allow' && ![s.Action].flat().some((a: string) => a.includes('*')))).toBe(true);
  });

  test('Glue tables over the layout: OpenX JSON SerDe, the record columns, partitions projected (model injected, dt date, hour 00–23)', () => {
    const location = (prefix: string) => ({ 'Fn::Join': ['', ['s3://', { Ref: id(p.dataset.bucket) }, `/${prefix}`]] });
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: {
        Name: 'prediction_logs',
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [{ Name: 'model', Type: 'string' }, { Name: 'dt', Type: 'string' }, { Name: 'hour', Type: 'string' }],
        Parameters: {
          'classification': 'json',
          'EXTERNAL': 'TRUE',
          'projection.enabled': 'true',
          'projection.model.type': 'injected',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': 'NOW-180DAYS,NOW+1DAYS',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'projection.hour.type': 'integer',
          'projection.hour.range': '0,23',
          'projection.hour.digits': '2',
          'storage.location.template': { 'Fn::Join': ['', ['s3://', { Ref: id(p.dataset.bucket) }, '/prediction-logs/model=${model}/dt=${dt}/hour=${hour}/']] },
        },
        StorageDescriptor: Match.objectLike({
          Location: location('prediction-logs/'),
          InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', Parameters: { 'ignore.malformed.json': 'TRUE' } },
          Columns: Match.arrayWith([
            Match.objectLike({ Name: 'ts', Type: 'string' }), Match.objectLike({ Name: 'requestid', Type: 'string' }),
            Match.objectLike({ Name: 'features', Type: 'string' }), Match.objectLike({ Name: 'fallback', Type: 'boolean' }),
          ]),
        }),
      },
    });
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'labels',
        PartitionKeys: [{ Name: 'model', Type: 'string' }, { Name: 'dt', Type: 'string' }],
        Parameters: Match.objectLike({
          'projection.model.type': 'injected',
          'projection.dt.type': 'date',
          'storage.location.template': { 'Fn::Join': ['', ['s3://', { Ref: id(p.dataset.bucket) }, '/labels/model=${model}/dt=${dt}/']] },
        }),
        StorageDescriptor: Match.objectLike({
          Location: location('labels/'),
          Columns: [
            { Name: 'schema', Type: 'int' }, { Name: 'requestid', Type: 'string' }, Match.objectLike({ Name: 'entity', Type: 'string' }),
            { Name: 'eventtime', Type: 'string' }, Match.objectLike({ Name: 'label', Type: 'string' }), { Name: 'labeltime', Type: 'string' },
            Match.objectLike({ Name: 'receivedat', Type: 'string' }),
          ],
        }),
      }),
    });
    // A data column named like a partition column would not bind in Athena.
    const tables = Object.values(template.findResources('AWS::Glue::Table')) as any[];
    for (const t of tables) {
      const partitions = t.Properties.TableInput.PartitionKeys.map((k: any) => k.Name);
      expect(t.Properties.TableInput.StorageDescriptor.Columns.filter((c: any) => partitions.includes(c.Name))).toEqual([]);
    }
  });

  test('alarms on stale data, failed S3 deliveries and the partition limit, each notifying the topic on ALARM and OK', () => {
    const name = { Ref: p.stack.getLogicalId(p.dataset.deliveryStreams[0]) };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Firehose', MetricName: 'DeliveryToS3.DataFreshness', Dimensions: [{ Name: 'DeliveryStreamName', Value: name }],
      Statistic: 'Maximum', Period: 300, Threshold: 900, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Firehose', MetricName: 'DeliveryToS3.Success', Statistic: 'Minimum', Threshold: 1, ComparisonOperator: 'LessThanThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Firehose', MetricName: 'PartitionCountExceeded', Statistic: 'Maximum', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(p.dataset.alarms).toHaveLength(3);
    const topic = { Ref: id(p.dataset.alarmTopic!.topic) };
    for (const alarm of p.dataset.alarms) {
      expect(p.stack.resolve((alarm.node.defaultChild as any).alarmActions)).toEqual([topic]);
      expect(p.stack.resolve((alarm.node.defaultChild as any).okActions)).toEqual([topic]);
    }
    expect(alarmsWithoutActions(template)).toEqual([]);
  });

  test('readers read and list only the granted prefixes; the server writes only its model\'s prefix; keys through S3 only', () => {
    expect(statementsOf(drift)).toEqual([
      expect.objectContaining({ Action: 's3:GetObject', Resource: objects('prediction-logs/model=fraud/*') }),
      expect.objectContaining({ Action: 's3:ListBucket', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': ['prediction-logs/model=fraud/*'] } } }),
      expect.objectContaining({ Action: 'kms:Decrypt', Resource: datasetKeyArn, Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } }),
    ]);
    expect(statementsOf(server)).toEqual([
      expect.objectContaining({ Action: 's3:PutObject', Resource: objects('prediction-logs/model=fraud/*') }),
      expect.objectContaining({ Action: 'kms:GenerateDataKey', Resource: datasetKeyArn }),
    ]);
  });

  test('the server sink URI puts the server\'s S3 sink objects in the dataset layout', () => {
    const uri = p.stack.resolve(p.dataset.serverSinkUri('fraud'));
    expect(uri).toEqual({ 'Fn::Join': ['', ['s3://', { Ref: id(p.dataset.bucket) }, '/prediction-logs/model=fraud/']] });
    // The sink writes `<prefix>dt=…/hour=…/<object>.jsonl` (runtime/aws/prediction-log-sinks.ts): the prefix of the URI.
    const key = s3LogKey(predictionLogModelPrefix('fraud'), new Date(Date.UTC(2026, 4, 31, 23, 5)));
    expect(key).toMatch(/^prediction-logs\/model=fraud\/dt=2026-05-31\/hour=23\/[^/]+\.jsonl$/);
  });

  test('an imported dataset grants the same', () => {
    const stack = new Stack(new App(), 'Other', { env: ENV });
    const bucket = s3.Bucket.fromBucketName(stack, 'B', 'datasets');
    const key = kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:us-east-1:123456789012:key/abc');
    const imported = PredictionLogDataset.fromPredictionLogDatasetAttributes(stack, 'Imported', { bucket, encryptionKey: key, databaseName: 'monitoring' });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    imported.grantRead(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['prediction-logs/*', 'labels/*', 'baselines/*'] } },
        })]),
      },
    });
    expect(stack.resolve(imported.serverSinkUri('fraud'))).toBe('s3://datasets/prediction-logs/model=fraud/');
  });

  test('an alarm action given is used, no topic created; validation lists every problem with the fix', () => {
    const stack = new Stack(new App(), 'S', { env: ENV });
    const topic = new AlarmTopic(stack, 'Shared');
    const dataset = new PredictionLogDataset(stack, 'Dataset', { alarmAction: topic });
    expect(dataset.alarmTopic).toBeUndefined();
    expect(() => new PredictionLogDataset(stack, 'Bad', {
      retention: Duration.hours(12), bufferingInterval: Duration.seconds(30), bufferingSize: Size.mebibytes(32),
      maxDeliveryDelay: Duration.seconds(50), databaseName: 'Bad-Name',
    })).toThrow(/retention: S3 lifecycle rules count whole days[\s\S]*bufferingInterval: 30 seconds must be whole seconds between 60 seconds and 900 seconds[\s\S]*bufferingSize: 32 MiB must be whole MiB between 64 and 128[\s\S]*maxDeliveryDelay: 50 seconds must be at least twice bufferingInterval[\s\S]*databaseName: 'Bad-Name'/);
  });
});
