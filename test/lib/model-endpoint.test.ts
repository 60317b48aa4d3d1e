import * as path from 'path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import {
  IModelEndpoint, InferenceImage, InferenceInstanceType, ModelArtifact, ModelEndpoint, ModelEndpointProps, ProductionVariantProps,
} from '../../lib/serving';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };

/** Two real ONNX models (two versions of the model, as far as the endpoint is concerned). */
const fraudV1 = path.join(__dirname, '..', 'fixtures', 'models', 'fraud-mlp.onnx');
const fraudV2 = path.join(__dirname, '..', 'fixtures', 'models', 'multi-input.onnx');

/** An existing VPC, imported (no resources of its own). */
function importedVpc(stack: Stack): ec2.IVpc {
  return ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
  });
}

/** A CPU production variant serving the first model. */
function variantOf(name: string, props: Partial<ProductionVariantProps> = {}): ProductionVariantProps {
  return { name, model: ModelArtifact.fromAsset(fraudV1), instanceType: InferenceInstanceType.C6I_XLARGE, initialInstanceCount: 2, ...props };
}

/** Every policy statement attached to a role in the template. */
function statementsOf(template: Template, stack: Stack, role: iam.IRole): any[] {
  const roleId = stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

const actionsOf = (statement: any): string[] => [statement.Action].flat();
const resourcesOf = (statement: any): any[] => [statement.Resource].flat();

/** The one statement granting `action`. */
function statementWith(statements: any[], action: string): any {
  const found = statements.filter((s) => actionsOf(s).includes(action));
  expect(found).toHaveLength(1);
  return found[0];
}

/** The logical ID of a construct's CloudFormation resource. */
function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as any);
}

/** Both stacks are synthesized once, with the AwsSolutions checks on (synth throws on any unacknowledged finding). */
const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

// A GPU champion/challenger endpoint with data capture and autoscaling.
const gpuStack = new Stack(app, 'Gpu', { env: ENV });
const caller = new iam.Role(gpuStack, 'Caller', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
const gpu = new ModelEndpoint(gpuStack, 'Fraud', {
  endpointName: 'fraud-scoring',
  image: InferenceImage.fromServer({ gpu: true }),
  serverSettings: { maxBatchSize: 64 },
  variants: [
    {
      name: 'v1',
      model: ModelArtifact.fromAsset(fraudV1),
      instanceType: InferenceInstanceType.G5_12XLARGE,
      initialInstanceCount: 2,
      initialWeight: 9,
      autoScaling: { minCapacity: 2, maxCapacity: 6, targetInvocationsPerInstance: 600, gpuUtilization: {} },
    },
    {
      name: 'v2',
      model: ModelArtifact.fromAsset(fraudV2, { version: '2026-05-01' }),
      instanceType: InferenceInstanceType.G5_XLARGE,
      initialWeight: 1,
      serverSettings: { maxBatchSize: 16 },
    },
  ],
  dataCapture: { samplingPercentage: 10 },
});
gpu.grantInvoke(caller);

// A CPU endpoint in a VPC with a shadow variant reading a model prefix, and a volume key.
const cpuStack = new Stack(app, 'Cpu', { env: ENV });
const modelBucket = s3.Bucket.fromBucketName(cpuStack, 'ModelBucket', 'ml-models');
const volumeKey = new kms.Key(cpuStack, 'VolumeKey', { enableKeyRotation: true });
const cpu = new ModelEndpoint(cpuStack, 'Ranker', {
  image: InferenceImage.fromServer(),
  variants: [{ name: 'champion', model: ModelArtifact.fromAsset(fraudV1), instanceType: InferenceInstanceType.C6I_XLARGE, initialWeight: 5 }],
  shadowVariant: {
    name: 'candidate',
    model: ModelArtifact.fromBucket(modelBucket, 'ranker/v8/'),
    instanceType: InferenceInstanceType.C6I_XLARGE,
    samplingPercentage: 25,
  },
  modelDataDownloadTimeout: Duration.minutes(20),
  containerStartupHealthCheckTimeout: Duration.minutes(15),
  volumeEncryptionKey: volumeKey,
  vpc: importedVpc(cpuStack),
});

let synthError: unknown;
let gpuTemplate: Template;
let cpuTemplate: Template;
try {
  const assembly = app.synth();
  gpuTemplate = Template.fromJSON(assembly.getStackByName(gpuStack.stackName).template);
  cpuTemplate = Template.fromJSON(assembly.getStackByName(cpuStack.stackName).template);
} catch (error) {
  synthError = error;
}
const gpuStatements = () => statementsOf(gpuTemplate, gpuStack, gpu.role);
const cpuStatements = () => statementsOf(cpuTemplate, cpuStack, cpu.role);
const configRef = (stack: Stack, endpoint: ModelEndpoint) => ({ 'Fn::GetAtt': [logicalId(stack, { node: { defaultChild: endpoint.cfnEndpointConfig } }), 'EndpointConfigName'] });

describe('ModelEndpoint: cdk-nag', () => {
  test('both stacks pass the AwsSolutions checks (synthesis throws on any unacknowledged finding)', () => {
    expect(synthError).toBeUndefined();
  });
});

describe('ModelEndpoint: production variants, shadow, timeouts', () => {
  test('champion and challenger are weighted production variants, each on its own model', () => {
    const models = gpuTemplate.findResources('AWS::SageMaker::Model');
    expect(Object.keys(models)).toHaveLength(2);
    const modelOf = (variant: string) => Object.keys(models).find((id) => models[id].Properties.PrimaryContainer.Environment.MODEL_VARIANT === variant);
    gpuTemplate.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [
        Match.objectLike({ VariantName: 'v1', InstanceType: 'ml.g5.12xlarge', InitialInstanceCount: 2, InitialVariantWeight: 9, ModelName: { 'Fn::GetAtt': [modelOf('v1'), 'ModelName'] } }),
        Match.objectLike({ VariantName: 'v2', InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1, InitialVariantWeight: 1, ModelName: { 'Fn::GetAtt': [modelOf('v2'), 'ModelName'] } }),
      ],
      ShadowProductionVariants: Match.absent(),
    });
    expect(gpu.variantNames).toEqual(['v1', 'v2']);
  });

  test('model loading gets 10-minute download and start-up health-check timeouts by default, and routes to the least busy instance', () => {
    const config = Object.values(gpuTemplate.findResources('AWS::SageMaker::EndpointConfig'))[0] as any;
    for (const variant of config.Properties.ProductionVariants) {
      expect(variant).toEqual(expect.objectContaining({
        ModelDataDownloadTimeoutInSeconds: 600,
        ContainerStartupHealthCheckTimeoutInSeconds: 600,
        RoutingConfig: { RoutingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
      }));
    }
    cpuTemplate.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ ModelDataDownloadTimeoutInSeconds: 1200, ContainerStartupHealthCheckTimeoutInSeconds: 900 })],
    });
  });

  test('a shadow variant receives its sampling percentage of the single production variant\'s requests', () => {
    cpuTemplate.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ VariantName: 'champion', InitialVariantWeight: 1, InstanceType: 'ml.c6i.xlarge' })],
      ShadowProductionVariants: [Match.objectLike({ VariantName: 'candidate', InitialVariantWeight: 0.25, InstanceType: 'ml.c6i.xlarge' })],
    });
    expect(cpu.variantNames).toEqual(['champion', 'candidate']);
    expect(cpu.productionVariantNames).toEqual(['champion']);
  });

  test('models carry the server contract in their environment, the model data source, and version tags', () => {
    const v1 = ModelArtifact.fromAsset(fraudV1).bind(new Stack(new App(), 'Probe', { env: ENV }));
    gpuTemplate.hasResourceProperties('AWS::SageMaker::Model', {
      ExecutionRoleArn: { 'Fn::GetAtt': [logicalId(gpuStack, gpu.role), 'Arn'] },
      PrimaryContainer: {
        Image: { 'Fn::Sub': Match.stringLikeRegexp('cdk-hnb659fds-container-assets') },
        ModelDataSource: { S3DataSource: { S3Uri: v1.s3Uri, S3DataType: 'S3Object', CompressionType: 'None' } },
        Environment: {
          MODEL_URI: `/opt/ml/model/${v1.fileName}`,
          MODEL_NAME: 'fraud-scoring',
          MODEL_VERSION: v1.version,
          MODEL_VARIANT: 'v1',
          ENDPOINT_NAME: 'fraud-scoring',
          INFERENCE_MAX_BATCH_SIZE: '64',
        },
      },
      Tags: [
        { Key: 'ml-platform:image-version', Value: Match.stringLikeRegexp('^[0-9a-f]{64}$') },
        { Key: 'ml-platform:model-version', Value: v1.version },
        { Key: 'ml-platform:variant', Value: 'v1' },
      ],
      ModelName: Match.absent(),
    });
    gpuTemplate.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: { Environment: Match.objectLike({ MODEL_VERSION: '2026-05-01', MODEL_VARIANT: 'v2', INFERENCE_MAX_BATCH_SIZE: '16' }) },
    });
  });

  test('server settings become the server\'s variables, a variant\'s over the endpoint\'s; the raw environment passes other variables', () => {
    const stack = new Stack(new App(), 'Settings', { env: ENV });
    new ModelEndpoint(stack, 'Fraud', {
      image: InferenceImage.fromServer(),
      serverSettings: { maxBatchSize: 8, maxQueueDelay: Duration.millis(1.5), http: { headersTimeout: Duration.seconds(5) } },
      environment: { MODEL_URI: '/opt/ml/model/fraud/model.onnx', FEATURE_FLAG: 'on' },
      variants: [
        variantOf('v1', { serverSettings: { maxBatchSize: 4, http: { requestTimeout: Duration.seconds(20) } } }),
        variantOf('v2'),
      ],
    });
    const environments = Object.values<any>(Template.fromStack(stack).findResources('AWS::SageMaker::Model'))
      .map((m) => m.Properties.PrimaryContainer.Environment);
    const byVariant = Object.fromEntries(environments.map((e) => [e.MODEL_VARIANT, e]));
    const shared = { INFERENCE_MAX_QUEUE_DELAY_MS: '1.5', INFERENCE_HTTP_HEADERS_TIMEOUT_MS: '5000', MODEL_URI: '/opt/ml/model/fraud/model.onnx', FEATURE_FLAG: 'on' };
    expect(byVariant.v1).toEqual(expect.objectContaining({ ...shared, INFERENCE_MAX_BATCH_SIZE: '4', INFERENCE_HTTP_REQUEST_TIMEOUT_MS: '20000' }));
    expect(byVariant.v2).toEqual(expect.objectContaining({ ...shared, INFERENCE_MAX_BATCH_SIZE: '8' }));
    expect(byVariant.v2.INFERENCE_HTTP_REQUEST_TIMEOUT_MS).toBeUndefined();
  });

  test('a prefix artifact is copied uncompressed, and the containers run in the VPC', () => {
    const subnets = ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'];
    cpuTemplate.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: Match.objectLike({
        ModelDataSource: { S3DataSource: { S3Uri: 's3://ml-models/ranker/v8/', S3DataType: 'S3Prefix', CompressionType: 'None' } },
        Environment: Match.objectLike({ MODEL_VARIANT: 'candidate', MODEL_URI: Match.absent() }),
      }),
      VpcConfig: { Subnets: subnets, SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^RankerSecurityGroup'), 'GroupId'] }] },
    });
    cpuTemplate.resourcePropertiesCountIs('AWS::SageMaker::Model', { VpcConfig: Match.objectLike({ Subnets: subnets }) }, 2);
    cpuTemplate.hasResourceProperties('AWS::EC2::SecurityGroup', { VpcId: 'vpc-0123456789abcdef0', SecurityGroupIngress: Match.absent() });
  });

  test('the volume key is set on the EBS-only configuration, which has no fixed name', () => {
    cpuTemplate.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      KmsKeyId: { 'Fn::GetAtt': [logicalId(cpuStack, volumeKey), 'Arn'] },
      DataCaptureConfig: Match.absent(),
      EndpointConfigName: Match.absent(),
    });
  });

  test('the endpoint is named and runs the config', () => {
    gpuTemplate.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'fraud-scoring', EndpointConfigName: configRef(gpuStack, gpu) });
    cpuTemplate.hasResourceProperties('AWS::SageMaker::Endpoint', {
      EndpointName: Match.stringLikeRegexp('^Cpu-Ranker-[0-9A-F]{8}$'),
      EndpointConfigName: configRef(cpuStack, cpu),
    });
    expect(cpu.endpointName).toMatch(/^Cpu-Ranker-[0-9A-F]{8}$/);
  });

  test('container logs go to the endpoint\'s log group, kept a month', () => {
    gpuTemplate.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/sagemaker/Endpoints/fraud-scoring', RetentionInDays: 30 });
    gpuTemplate.hasResource('AWS::SageMaker::Endpoint', { DependsOn: Match.arrayWith([logicalId(gpuStack, gpu.logGroup)]) });
  });
});

describe('ModelEndpoint: a redeploy keeps the live variant state', () => {
  const retained = (...excluded: string[]) => ({
    RetainAllVariantProperties: true,
    ExcludeRetainedVariantProperties: excluded.map((type) => ({ VariantPropertyType: type })),
  });

  test('autoscaled: live weights (the routing table\'s) and autoscaled instance counts are kept; data capture changes deploy', () => {
    gpuTemplate.hasResourceProperties('AWS::SageMaker::Endpoint', retained('DataCaptureConfig'));
  });

  test('fixed instance counts: live weights are kept; a changed initialInstanceCount and data capture deploy', () => {
    const stack = new Stack(new App(), 'Fixed', { env: ENV });
    new ModelEndpoint(stack, 'Fraud', {
      image: InferenceImage.fromServer(),
      variants: [variantOf('v1', { initialWeight: 9 }), variantOf('v2', { initialWeight: 1 })],
    });
    Template.fromStack(stack).hasResourceProperties('AWS::SageMaker::Endpoint', retained('DataCaptureConfig', 'DesiredInstanceCount'));
  });

  test('beside a shadow variant the weights are its sampling, so a changed samplingPercentage deploys too', () => {
    cpuTemplate.hasResourceProperties('AWS::SageMaker::Endpoint', retained('DataCaptureConfig', 'DesiredInstanceCount', 'DesiredWeight'));
  });
});

describe('ModelEndpoint: data capture', () => {
  test('captures input and output, as JSON, at the sampling percentage, encrypted with the capture key', () => {
    gpuTemplate.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      DataCaptureConfig: {
        EnableCapture: true,
        InitialSamplingPercentage: 10,
        CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
        CaptureContentTypeHeader: { JsonContentTypes: ['application/json'] },
        DestinationS3Uri: { 'Fn::Join': ['', ['s3://', { Ref: logicalId(gpuStack, gpu.dataCaptureBucket!) }, '/data-capture']] },
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FraudDataCaptureKey'), 'Arn'] },
      },
    });
  });

  test('the capture bucket is KMS-encrypted with a rotating key, private, versioned, logged and expiring', () => {
    gpuTemplate.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    gpuTemplate.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } })] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('^FraudDataCaptureAccessLogs') }, LogFilePrefix: 'data-capture/' },
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({ ExpirationInDays: 90, Status: 'Enabled' }),
          Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
        ],
      },
    });
    expect(gpu.dataCaptureBucket!.encryptionKey).toBeDefined();
  });

  test('both capture buckets refuse requests without TLS 1.2; logs arrive by bucket policy, ACLs are disabled', () => {
    const denyInsecure = Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    const denyOldTls = Match.objectLike({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } });
    const logsBucket = gpu.node.findChild('DataCaptureAccessLogs') as s3.Bucket;
    for (const bucket of [gpu.dataCaptureBucket!, logsBucket]) {
      gpuTemplate.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalId(gpuStack, bucket) },
        PolicyDocument: { Statement: Match.arrayWith([denyInsecure, denyOldTls]) },
      });
    }
    gpuTemplate.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(gpuStack, logsBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject',
          Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(gpuStack, gpu.dataCaptureBucket!), 'Arn'] } }, StringEquals: { 'aws:SourceAccount': ENV.account } },
        })]),
      },
    });
    gpuTemplate.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90 })] },
    });
    const buckets = JSON.stringify(gpuTemplate.findResources('AWS::S3::Bucket'));
    expect(buckets).not.toContain('AccessControl');
    expect(buckets).not.toContain('ObjectWriter');
    expect(gpuStack.resolve(gpu.dataCaptureS3Uri)).toEqual({ 'Fn::Join': ['', ['s3://', { Ref: logicalId(gpuStack, gpu.dataCaptureBucket!) }, '/data-capture']] });
    // What drift detection reads through IModelEndpoint: the bucket, the prefix and the key SageMaker encrypts with.
    expect(gpu.dataCapture).toEqual({ bucket: gpu.dataCaptureBucket, prefix: 'data-capture', encryptionKey: gpu.dataCaptureBucket!.encryptionKey });
  });

  test('grantReadDataCapture lets a reader get the captured objects and decrypt them; refused without capture', () => {
    const stack = new Stack(new App(), 'Reader', { env: ENV });
    const endpoint = new ModelEndpoint(stack, 'Fraud', {
      image: InferenceImage.fromServer(),
      variants: [{ name: 'v1', model: ModelArtifact.fromAsset(fraudV1), instanceType: InferenceInstanceType.C6I_LARGE }],
      dataCapture: { samplingPercentage: 100, prefix: 'capture/fraud' },
    });
    const reader = new iam.Role(stack, 'Drift', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    endpoint.grantReadDataCapture(reader);
    const statements = statementsOf(Template.fromStack(stack), stack, reader);
    expect(resourcesOf(statementWith(statements, 's3:GetObject*'))).toContainEqual(
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack, endpoint.dataCaptureBucket!), 'Arn'] }, '/capture/fraud/*']] });
    expect(statements.some((s) => actionsOf(s).includes('kms:Decrypt'))).toBe(true);
    expect(() => cpu.grantReadDataCapture(reader)).toThrow(/data capture is off/);
  });
});

describe('ModelEndpoint: autoscaling', () => {
  const targetId = () => logicalId(gpuStack, gpu.scalableTargets.v1);

  test('the champion scales between its min and max through SageMaker\'s service-linked role, after the endpoint exists', () => {
    gpuTemplate.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 1);
    gpuTemplate.hasResource('AWS::ApplicationAutoScaling::ScalableTarget', {
      Properties: {
        ServiceNamespace: 'sagemaker',
        ResourceId: 'endpoint/fraud-scoring/variant/v1',
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        MinCapacity: 2,
        MaxCapacity: 6,
        RoleARN: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint$')])] },
      },
      DependsOn: [logicalId(gpuStack, { node: { defaultChild: gpu.cfnEndpoint } })],
    });
    expect(Object.keys(gpu.scalableTargets)).toEqual(['v1']);
    cpuTemplate.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
  });

  test('target tracking on invocations per instance', () => {
    gpuTemplate.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      ScalingTargetId: { Ref: targetId() },
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        TargetValue: 600,
        ScaleInCooldown: 300,
        ScaleOutCooldown: 60,
      },
    });
  });

  test('step scaling out on GPU utilisation per GPU (the 4-GPU sum divided by 4): +1 above 70 %, +2 above 90 %', () => {
    gpuTemplate.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      ScalingTargetId: { Ref: targetId() },
      StepScalingPolicyConfiguration: {
        AdjustmentType: 'ChangeInCapacity',
        Cooldown: 300,
        MetricAggregationType: 'Average',
        StepAdjustments: [
          { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 20, ScalingAdjustment: 1 },
          { MetricIntervalLowerBound: 20, ScalingAdjustment: 2 },
        ],
      },
    });
    gpuTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 70,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 2,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'gpu / 4', ReturnData: true }),
        Match.objectLike({
          Id: 'gpu',
          MetricStat: {
            Metric: {
              Namespace: '/aws/sagemaker/Endpoints',
              MetricName: 'GPUUtilization',
              Dimensions: [{ Name: 'EndpointName', Value: 'fraud-scoring' }, { Name: 'VariantName', Value: 'v1' }],
            },
            Period: 60,
            Stat: 'Average',
          },
        }),
      ]),
    });
    // Scale-in is left to target tracking: no lower GPU alarm.
    gpuTemplate.resourceCountIs('AWS::CloudWatch::Alarm', 1);
  });

  test('every alarm acts: the GPU alarm triggers its step scaling policy', () => {
    expect(alarmsWithoutActions(gpuTemplate)).toEqual([]);
    expect(alarmsWithoutActions(cpuTemplate)).toEqual([]);
    const policy = Object.keys(gpuTemplate.findResources('AWS::ApplicationAutoScaling::ScalingPolicy', { Properties: { PolicyType: 'StepScaling' } }));
    gpuTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: policy[0] }] });
  });
});

describe('ModelEndpoint: least-privilege execution role', () => {
  test('SageMaker assumes it, and it has no managed policies (no *FullAccess)', () => {
    gpuTemplate.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Action: 'sts:AssumeRole', Principal: { Service: 'sagemaker.amazonaws.com' } })] },
      ManagedPolicyArns: Match.absent(),
    });
    for (const template of [gpuTemplate, cpuTemplate]) {
      expect(JSON.stringify(template.toJSON())).not.toMatch(/FullAccess/);
      for (const role of Object.values<any>(template.findResources('AWS::IAM::Role'))) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
    }
  });

  test('the only * resource is ecr:GetAuthorizationToken, which IAM cannot scope', () => {
    const starred = gpuStatements().filter((s) => resourcesOf(s).includes('*'));
    expect(starred.map(actionsOf)).toEqual([['ecr:GetAuthorizationToken']]);
    expect(gpuStatements().every((s) => actionsOf(s).every((a) => !a.includes('*')))).toBe(true);
  });

  test('pulls only from the image repository, reads only the model objects, writes only the capture prefix', () => {
    const repository = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:us-east-1:123456789012:repository/cdk-hnb659fds-container-assets-123456789012-us-east-1']] };
    expect(resourcesOf(statementWith(gpuStatements(), 'ecr:BatchGetImage'))).toEqual([repository]);
    expect(actionsOf(statementWith(gpuStatements(), 'ecr:BatchGetImage')).sort()).toEqual(['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']);

    const probe = new Stack(new App(), 'Probe', { env: ENV });
    const objects = [fraudV1, fraudV2].map((f, i) => probe.resolve(ModelArtifact.fromAsset(f).bind(new Construct(probe, `Model${i}`)).objectsArn));
    const reads = gpuStatements().filter((s) => actionsOf(s).includes('s3:GetObject'));
    expect(reads.flatMap(actionsOf)).toEqual(['s3:GetObject', 's3:GetObject']);
    expect(reads.flatMap(resourcesOf)).toEqual(expect.arrayContaining(objects));
    expect(reads.flatMap(resourcesOf)).toHaveLength(2);

    const put = statementWith(gpuStatements(), 's3:PutObject');
    expect(resourcesOf(put)).toEqual([{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(gpuStack, gpu.dataCaptureBucket!), 'Arn'] }, '/data-capture/*']] }]);
    expect(actionsOf(statementWith(gpuStatements(), 'kms:GenerateDataKey')).sort()).toEqual(['kms:Encrypt', 'kms:GenerateDataKey']);
    expect(resourcesOf(statementWith(gpuStatements(), 'logs:PutLogEvents'))).toEqual([{ 'Fn::GetAtt': [logicalId(gpuStack, gpu.logGroup), 'Arn'] }]);
  });

  test('a model prefix is read under the prefix and listed with a prefix condition; VPC access needs ENI permissions', () => {
    const reads = cpuStatements().filter((s) => actionsOf(s).includes('s3:GetObject')).flatMap(resourcesOf);
    expect(reads).toContainEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::ml-models/ranker/v8/*']] });
    expect(reads).toHaveLength(2);
    const list = statementWith(cpuStatements(), 's3:ListBucket');
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['ranker/v8/*'] } });
    expect(resourcesOf(list)).toEqual([{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::ml-models']] }]);
    const eni = statementWith(cpuStatements(), 'ec2:CreateNetworkInterface');
    expect(resourcesOf(eni)).toEqual(['*']);
    expect(cpuStatements().some((s) => actionsOf(s).includes('s3:PutObject'))).toBe(false);
  });

  test('the unavoidable wildcards are acknowledged for cdk-nag on the role, each with its reason', () => {
    const acknowledged = gpu.role.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .reduce((all, m) => ({ ...all, ...m.data }), {} as Record<string, string>);
    // CDK records acknowledgements under the 'Annotation::' namespace; cdk-nag strips it.
    expect(Object.keys(acknowledged).sort()).toEqual([
      'Annotation::AwsSolutions-IAM5[Resource::*]',
      `Annotation::AwsSolutions-IAM5[Resource::<${logicalId(gpuStack, gpu.dataCaptureBucket!)}.Arn>/data-capture/*]`,
    ]);
    expect(acknowledged['Annotation::AwsSolutions-IAM5[Resource::*]']).toMatch(/ecr:GetAuthorizationToken has no resource-level permissions/);
  });

  test('grantInvoke allows sagemaker:InvokeEndpoint on this endpoint only', () => {
    const statements = statementsOf(gpuTemplate, gpuStack, caller);
    expect(statements).toEqual([expect.objectContaining({
      Action: 'sagemaker:InvokeEndpoint',
      Effect: 'Allow',
      Resource: { Ref: logicalId(gpuStack, { node: { defaultChild: gpu.cfnEndpoint } }) },
    })]);
  });

  test('models wait for the role and its policies; the endpoint for the capture bucket and its policy', () => {
    const policyId = Object.keys(gpuTemplate.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: logicalId(gpuStack, gpu.role) }] } }))[0];
    const dependsOn = (type: string) => Object.values<any>(gpuTemplate.findResources(type)).map((r) => r.DependsOn);
    for (const deps of dependsOn('AWS::SageMaker::Model')) expect(deps).toEqual(expect.arrayContaining([policyId, logicalId(gpuStack, gpu.role)]));
    const captureBucket = logicalId(gpuStack, gpu.dataCaptureBucket!);
    expect(dependsOn('AWS::SageMaker::Endpoint')[0]).toEqual(expect.arrayContaining([
      policyId, captureBucket, expect.stringMatching(/^FraudDataCapturePolicy/), logicalId(gpuStack, gpu.logGroup),
    ]));
  });
});

describe('ModelEndpoint: metrics', () => {
  test('per-variant metrics name their namespace, dimensions, statistic and period', () => {
    const dims = { EndpointName: 'fraud-scoring', VariantName: 'v2' };
    const shape = (m: any) => ({ namespace: m.namespace, metricName: m.metricName, dimensions: m.dimensions, statistic: m.statistic, period: m.period.toSeconds() });
    expect(shape(gpu.metricModelLatency('v2'))).toEqual({ namespace: 'AWS/SageMaker', metricName: 'ModelLatency', dimensions: dims, statistic: 'p99', period: 60 });
    expect(shape(gpu.metricInvocations('v2'))).toEqual({ namespace: 'AWS/SageMaker', metricName: 'Invocations', dimensions: dims, statistic: 'Sum', period: 60 });
    expect(shape(gpu.metricInvocation4XXErrors('v2'))).toEqual({ namespace: 'AWS/SageMaker', metricName: 'Invocation4XXErrors', dimensions: dims, statistic: 'Sum', period: 60 });
    expect(shape(gpu.metricInvocation5XXErrors('v2'))).toEqual({ namespace: 'AWS/SageMaker', metricName: 'Invocation5XXErrors', dimensions: dims, statistic: 'Sum', period: 60 });
    expect(shape(gpu.metricGpuUtilization('v2'))).toEqual({ namespace: '/aws/sagemaker/Endpoints', metricName: 'GPUUtilization', dimensions: dims, statistic: 'Average', period: 60 });
    expect(shape(gpu.metricModelLatency('v2', { statistic: 'p50', period: Duration.minutes(5) }))).toEqual(expect.objectContaining({ statistic: 'p50', period: 300 }));
    expect(shape(cpu.metric('OverheadLatency', 'candidate'))).toEqual(expect.objectContaining({ metricName: 'OverheadLatency', dimensions: { EndpointName: cpu.endpointName, VariantName: 'candidate' } }));
  });

  test('metrics of an unknown variant are refused', () => {
    expect(() => gpu.metricInvocations('v3')).toThrow(/no variant named 'v3'; variants are v1, v2/);
  });

  test('an imported endpoint grants invoke on its lower-case ARN and has the same metrics', () => {
    const stack = new Stack(new App(), 'Imported', { env: ENV });
    const imported = ModelEndpoint.fromEndpointAttributes(stack, 'Existing', { endpointName: 'Fraud-Prod', variantNames: ['blue'] });
    const role = new iam.Role(stack, 'Caller', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    imported.grantInvoke(role);
    expect(statementsOf(Template.fromStack(stack), stack, role)).toEqual([expect.objectContaining({
      Action: 'sagemaker:InvokeEndpoint',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:123456789012:endpoint/fraud-prod']] },
    })]);
    expect(imported.metricInvocations('blue').dimensions).toEqual({ EndpointName: 'Fraud-Prod', VariantName: 'blue' });
    expect(() => imported.metricInvocations('green')).toThrow(/no variant named 'green'/);
  });
});

describe('ModelEndpoint: what an endpoint tells its consumers', () => {
  test('an owned endpoint exposes model name, production variants, initial weights and model versions', () => {
    const v1 = ModelArtifact.fromAsset(fraudV1).bind(new Stack(new App(), 'Probe', { env: ENV }));
    const facts = (e: IModelEndpoint) => ({
      modelName: e.modelName, variantNames: e.variantNames, productionVariantNames: e.productionVariantNames,
      productionVariantWeights: e.productionVariantWeights, modelVersions: e.modelVersions,
    });
    expect(facts(gpu)).toEqual({
      modelName: 'fraud-scoring',
      variantNames: ['v1', 'v2'],
      productionVariantNames: ['v1', 'v2'],
      productionVariantWeights: { v1: 9, v2: 1 },
      modelVersions: { v1: v1.version, v2: '2026-05-01' },
    });
    expect(facts(cpu)).toEqual(expect.objectContaining({ productionVariantNames: ['champion'], modelVersions: { champion: v1.version, candidate: expect.any(String) } }));
  });

  test('an imported endpoint keeps the facts its attributes give', () => {
    const stack = new Stack(new App(), 'Imported', { env: ENV });
    const imported = ModelEndpoint.fromEndpointAttributes(stack, 'Existing', {
      endpointName: 'fraud-prod',
      variantNames: ['blue', 'green', 'shadow'],
      productionVariantNames: ['blue', 'green'],
      productionVariantWeights: { blue: 9, green: 1 },
      modelName: 'fraud',
      modelVersions: { blue: '2026-04-01', green: '2026-05-01', shadow: '2026-06-01' },
    });
    expect(imported.modelName).toBe('fraud');
    expect(imported.productionVariantNames).toEqual(['blue', 'green']);
    expect(imported.productionVariantWeights).toEqual({ blue: 9, green: 1 });
    expect(imported.modelVersions).toEqual({ blue: '2026-04-01', green: '2026-05-01', shadow: '2026-06-01' });
  });

  test('an imported endpoint\'s defaults: the endpoint name as model name, every variant in production at weight 1, version 1', () => {
    const stack = new Stack(new App(), 'Imported', { env: ENV });
    const imported = ModelEndpoint.fromEndpointAttributes(stack, 'Existing', { endpointName: 'fraud-prod', variantNames: ['blue', 'green'], modelVersions: { green: '7' } });
    expect(imported.modelName).toBe('fraud-prod');
    expect(imported.productionVariantNames).toEqual(['blue', 'green']);
    expect(imported.productionVariantWeights).toEqual({ blue: 1, green: 1 });
    expect(imported.modelVersions).toEqual({ blue: '1', green: '7' });
  });

  test('an imported endpoint\'s attributes are checked: every name they use is one of its variants', () => {
    const stack = new Stack(new App(), 'Imported', { env: ENV });
    let n = 0;
    const bad = () => ModelEndpoint.fromEndpointAttributes(stack, `Bad${n++}`, {
      endpointName: 'fraud-prod',
      variantNames: ['blue'],
      productionVariantNames: ['blue', 'green'],
      productionVariantWeights: { blue: 0, red: 2 },
      modelVersions: { purple: '2' },
    });
    expect(bad).toThrow(/^Imported\/Bad\d+: invalid props:/);
    expect(bad).toThrow(/productionVariantNames: 'green' is not one of variantNames \(blue\)/);
    expect(bad).toThrow(/productionVariantWeights: 'red' is not one of productionVariantNames \(blue, green\)/);
    expect(bad).toThrow(/modelVersions: 'purple' is not one of variantNames \(blue\)/);
    expect(() => ModelEndpoint.fromEndpointAttributes(stack, 'NoVariants', { endpointName: 'x', variantNames: [] }))
      .toThrow(/variantNames: name at least one variant/);
    expect(() => ModelEndpoint.fromEndpointAttributes(stack, 'AllZero', { endpointName: 'x', variantNames: ['a'], productionVariantWeights: { a: 0 } }))
      .toThrow(/productionVariantWeights: every weight is 0/);
  });
});

describe('ModelEndpoint.fromEndpointAttributes: instance types', () => {
  test('an imported endpoint carries the instance types it is given (GPUs per instance for monitoring); a type must name a variant', () => {
    const stack = new Stack(new App(), 'Imported', { env: ENV });
    const imported = ModelEndpoint.fromEndpointAttributes(stack, 'Existing', {
      endpointName: 'fraud-prod', variantNames: ['blue', 'green'], variantInstanceTypes: { blue: InferenceInstanceType.G5_12XLARGE },
    });
    expect(imported.variantInstanceTypes?.blue?.gpuCount).toBe(4);
    expect(imported.variantInstanceTypes?.green).toBeUndefined();
    expect(() => ModelEndpoint.fromEndpointAttributes(stack, 'Bad', {
      endpointName: 'fraud-prod', variantNames: ['blue'], variantInstanceTypes: { red: InferenceInstanceType.G5_XLARGE },
    })).toThrow(/variantInstanceTypes: 'red' is not one of variantNames \(blue\)/);
  });
});

describe('ModelEndpoint: a new model version replaces model and endpoint config', () => {
  test('a changed model file changes the model data and version; nothing pins a name, so CloudFormation replaces both', () => {
    const synth = (file: string) => {
      const stack = new Stack(new App(), 'Versioned', { env: ENV });
      new ModelEndpoint(stack, 'Fraud', {
        endpointName: 'fraud',
        image: InferenceImage.fromServer(),
        variants: [{ name: 'champion', model: ModelArtifact.fromAsset(file), instanceType: InferenceInstanceType.C6I_XLARGE, initialInstanceCount: 2 }],
      });
      const template = Template.fromStack(stack);
      const [modelId, model] = Object.entries<any>(template.findResources('AWS::SageMaker::Model'))[0];
      const [configId, config] = Object.entries<any>(template.findResources('AWS::SageMaker::EndpointConfig'))[0];
      return { modelId, model: model.Properties, configId, config: config.Properties };
    };
    const before = synth(fraudV1);
    const after = synth(fraudV2);
    expect(after.model.PrimaryContainer.ModelDataSource.S3DataSource.S3Uri).not.toBe(before.model.PrimaryContainer.ModelDataSource.S3DataSource.S3Uri);
    expect(after.model.PrimaryContainer.Environment.MODEL_VERSION).not.toBe(before.model.PrimaryContainer.Environment.MODEL_VERSION);
    // Models and endpoint configs are immutable: every property change replaces them, and CloudFormation can only
    // replace resources whose physical name it generates.
    for (const { model, config, modelId } of [before, after]) {
      expect(model.ModelName).toBeUndefined();
      expect(config.EndpointConfigName).toBeUndefined();
      expect(config.ProductionVariants[0].ModelName).toEqual({ 'Fn::GetAtt': [modelId, 'ModelName'] });
    }
  });
});

describe('ModelEndpoint: validation', () => {
  const stack = new Stack(new App(), 'Invalid', { env: ENV });
  let n = 0;
  const model = ModelArtifact.fromAsset(fraudV1);
  const variant = (props: Partial<ProductionVariantProps> = {}): ProductionVariantProps => ({
    name: 'v1', model, instanceType: InferenceInstanceType.C6I_XLARGE, ...props,
  });
  const make = (props: Partial<ModelEndpointProps>) => () => new ModelEndpoint(stack, `E${n++}`, {
    image: InferenceImage.fromServer(), variants: [variant()], ...props,
  });

  test('every problem is reported at once, naming the prop and the fix', () => {
    let message = '';
    try {
      make({
        endpointName: 'fraud_scoring',
        variants: [variant({ initialWeight: 0 }), variant({ initialWeight: -1, initialInstanceCount: 0 })],
        dataCapture: { samplingPercentage: 150, captureInput: false, captureOutput: false },
      })();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid\/E\d+: invalid props:/);
    expect(message).toMatch(/endpointName: 'fraud_scoring' must be 1-63 letters, digits or hyphens/);
    expect(message).toMatch(/variants\[1\]\.name: 'v1' is used by another variant/);
    expect(message).toMatch(/variants\[1\]\.initialWeight: -1 must be a number >= 0/);
    expect(message).toMatch(/variants\[1\]\.initialInstanceCount: 0 must be an integer >= 1/);
    expect(message).toMatch(/dataCapture\.samplingPercentage: 150 must be between 0 and 100/);
    expect(message).toMatch(/captureInput and captureOutput are both false/);
  });

  test('variants: at least one, at most 10, not all weights zero', () => {
    expect(make({ variants: [] })).toThrow(/variants: at least one production variant is required/);
    expect(make({ variants: Array.from({ length: 11 }, (_, i) => variant({ name: `v${i}` })) })).toThrow(/11 variants; SageMaker allows at most 10/);
    expect(make({ variants: [variant({ initialWeight: 0 }), variant({ name: 'v2', initialWeight: 0 })] })).toThrow(/every initialWeight is 0/);
  });

  test('the image\'s accelerator must match the instance type', () => {
    expect(make({ image: InferenceImage.fromServer({ gpu: true }) }))
      .toThrow(/variants\[0\]\.instanceType: ml\.c6i\.xlarge has accelerator NONE but the image is built for NVIDIA_GPU; use a GPU instance type/);
    expect(make({ variants: [variant({ instanceType: InferenceInstanceType.G5_XLARGE })] }))
      .toThrow(/ml\.g5\.xlarge has accelerator NVIDIA_GPU but the image is built for NONE; use a CPU instance type/);
    expect(make({ shadowVariant: { name: 's', model, instanceType: InferenceInstanceType.INF2_XLARGE } }))
      .toThrow(/shadowVariant\.instanceType: ml\.inf2\.xlarge has accelerator AWS_NEURON/);
  });

  test('autoscaling: refused on burstable types, bounded, GPU scaling only on GPUs', () => {
    const scaling = { maxCapacity: 4, targetInvocationsPerInstance: 100 };
    expect(make({ variants: [variant({ instanceType: InferenceInstanceType.T2_MEDIUM, autoScaling: scaling })] }))
      .toThrow(/variants\[0\]\.autoScaling: ml\.t2\.medium is a burstable instance type, which SageMaker cannot autoscale/);
    expect(make({ variants: [variant({ autoScaling: { ...scaling, minCapacity: 5 } })] }))
      .toThrow(/autoScaling\.maxCapacity: 4 must be an integer >= minCapacity \(5\)/);
    expect(make({ variants: [variant({ initialInstanceCount: 6, autoScaling: { ...scaling, minCapacity: 2 } })] }))
      .toThrow(/initialInstanceCount: 6 must lie between autoScaling\.minCapacity \(2\) and maxCapacity \(4\)/);
    expect(make({ variants: [variant({ autoScaling: { ...scaling, targetInvocationsPerInstance: 0 } })] }))
      .toThrow(/targetInvocationsPerInstance: 0 must be > 0/);
    expect(make({ variants: [variant({ autoScaling: { ...scaling, gpuUtilization: {} } })] }))
      .toThrow(/autoScaling\.gpuUtilization: ml\.c6i\.xlarge has no GPU/);
    expect(make({
      image: InferenceImage.fromServer({ gpu: true }),
      variants: [variant({ instanceType: InferenceInstanceType.G5_XLARGE, autoScaling: { ...scaling, gpuUtilization: { scaleOutAbovePercent: 95 } } })],
    })).toThrow(/scaleOutFastAbovePercent \(90\) must be above scaleOutAbovePercent \(95\)/);
  });

  test('a shadow variant needs exactly one production variant', () => {
    expect(make({
      variants: [variant(), variant({ name: 'v2' })],
      shadowVariant: { name: 'shadow', model, instanceType: InferenceInstanceType.C6I_XLARGE, samplingPercentage: 0 },
    })).toThrow(/shadowVariant: SageMaker allows a shadow variant only beside exactly one production variant \(got 2\)[\s\S]*samplingPercentage: 0 must be between 1 and 100/);
  });

  test('timeouts stay within SageMaker\'s 60 s to 1 h', () => {
    expect(make({ modelDataDownloadTimeout: Duration.seconds(30) })).toThrow(/modelDataDownloadTimeout: 30 seconds must be whole seconds between 60 seconds and 1 hour/);
    expect(make({ containerStartupHealthCheckTimeout: Duration.hours(2) })).toThrow(/containerStartupHealthCheckTimeout: 2 hours/);
  });

  test('a volume KMS key is refused on instance types with NVMe instance storage', () => {
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    expect(make({
      image: InferenceImage.fromServer({ gpu: true }),
      variants: [variant({ instanceType: InferenceInstanceType.G5_XLARGE })],
      volumeEncryptionKey: key,
    })).toThrow(/volumeEncryptionKey: variants\[0\] uses ml\.g5\.xlarge, whose NVMe instance storage is hardware-encrypted/);
  });

  test('environment: the endpoint\'s own variables are reserved, names must be valid', () => {
    expect(make({ environment: { MODEL_VERSION: '3' } })).toThrow(/environment\.MODEL_VERSION: set by the endpoint itself/);
    expect(make({ variants: [variant({ environment: { 'BAD-NAME': 'x' } })] })).toThrow(/variants\[0\]\.environment: 'BAD-NAME' is not a valid variable name/);
  });

  test('environment: a variable a typed server setting covers is refused, naming the setting to use', () => {
    expect(make({ environment: { INFERENCE_MAX_BATCH_SIZE: '64' } })).toThrow(/environment\.INFERENCE_MAX_BATCH_SIZE: use serverSettings\.maxBatchSize/);
    expect(make({ variants: [variant({ environment: { INFERENCE_HTTP_HEADERS_TIMEOUT_MS: '5000' } })] }))
      .toThrow(/variants\[0\]\.environment\.INFERENCE_HTTP_HEADERS_TIMEOUT_MS: use variants\[0\]\.serverSettings\.http\.headersTimeout/);
    expect(make({ shadowVariant: { name: 's', model, instanceType: InferenceInstanceType.C6I_XLARGE, environment: { PREDICTION_LOG_SINK: 'stdout' } } }))
      .toThrow(/shadowVariant\.environment\.PREDICTION_LOG_SINK: use shadowVariant\.serverSettings\.predictionLog\.sink/);
  });

  test('server settings are checked against the server\'s bounds, the variant\'s merged over the endpoint\'s', () => {
    let message = '';
    try {
      make({
        serverSettings: { maxBatchSize: 0, drainGrace: Duration.seconds(20) },
        variants: [variant({ serverSettings: { maxQueueDelay: Duration.minutes(2), shutdownTimeout: Duration.seconds(10) } })],
      })();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/serverSettings\.maxBatchSize: 0 must be an integer from 1 to 65536/);
    expect(message).toMatch(/variants\[0\]\.serverSettings\.maxQueueDelay: 120000 ms must be a number from 0 to 60000 ms/);
    // Fine on either level alone, refused merged: the server would not start.
    expect(message).toMatch(/variants\[0\]\.serverSettings\.drainGrace \(20000\) must be below variants\[0\]\.serverSettings\.shutdownTimeout \(10000\)/);
    // The endpoint's own problem is reported once, under the endpoint.
    expect(message).not.toMatch(/variants\[0\]\.serverSettings\.maxBatchSize/);
  });

  test('data capture: an own bucket takes no retention; prefixes have no slashes at the ends', () => {
    const bucket = s3.Bucket.fromBucketName(stack, 'Own', 'capture');
    expect(make({ dataCapture: { samplingPercentage: 5, bucket, retention: Duration.days(7) } })).toThrow(/retention and accessLogsBucket apply to the bucket created here/);
    expect(make({ dataCapture: { samplingPercentage: 5, prefix: '/capture/' } })).toThrow(/dataCapture\.prefix: '\/capture\/' must be non-empty without a leading or trailing '\/'/);
    expect(make({ dataCapture: { samplingPercentage: 12.5 } })).toThrow(/samplingPercentage: 12.5 must be an integer/);
  });

  test('a single-instance endpoint is legal but warned about', () => {
    const warned = new Stack(new App(), 'Single', { env: ENV });
    new ModelEndpoint(warned, 'Fraud', { image: InferenceImage.fromServer(), variants: [variant()] });
    Annotations.fromStack(warned).hasWarning('/Single/Fraud', Match.stringLikeRegexp('single instance'));
    Annotations.fromStack(gpuStack).hasNoWarning('*', Match.stringLikeRegexp('single instance'));
  });
});
