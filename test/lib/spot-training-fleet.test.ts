import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GpuInstanceType } from '../../lib/compute/gpu-instance-type';
import { SageMakerSpotTraining, SageMakerSpotTrainingProps } from '../../lib/training/sagemaker-spot-training';
import { SpotTrainingFleet, SpotTrainingFleetMetrics, SpotTrainingFleetProps } from '../../lib/training/spot-training-fleet';
import { CheckpointVariables } from '../../runtime/contracts/checkpoint';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };

/** A stack with a VPC and a fleet built from `props` (cdk-nag on when `nag`). */
function build(props: Partial<SpotTrainingFleetProps> = {}, options: { nag?: boolean } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Stack', { env: ENV });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  Validations.of(vpc).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'a test VPC: flow logs are not what this test is about' });
  const fleet = new SpotTrainingFleet(stack, 'Fleet', { vpc, image: ecs.ContainerImage.fromRegistry('example/train:1'), ...props });
  return { app, stack, fleet };
}

/** The exact statements of a checkpoint grant under `prefix`. */
const checkpointStatements = (bucketArn: unknown, prefix: string, keyArn: unknown) => {
  const objects = { 'Fn::Join': ['', [bucketArn, `/${prefix}/*`]] };
  return [
    { Effect: 'Allow', Action: 's3:GetObject', Resource: objects },
    { Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: objects },
    { Effect: 'Allow', Action: 's3:DeleteObject', Resource: objects },
    { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': [`${prefix}/*`] } } },
    { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: keyArn, Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } },
  ];
};

const getAtt = (stack: Stack, construct: { node: { defaultChild?: unknown } }, attribute: string) =>
  ({ 'Fn::GetAtt': [stack.getLogicalId(construct.node.defaultChild as any), attribute] });

describe('SpotTrainingFleet', () => {
  const { app, stack, fleet } = build({}, { nag: true });
  const template = Template.fromJSON(app.synth().getStackByName(stack.stackName).template);

  test('a managed spot environment: price-capacity-optimized over several GPU types, the AL2023 NVIDIA ECS image', () => {
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      Type: 'managed',
      ComputeResources: Match.objectLike({
        Type: 'SPOT',
        AllocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED',
        InstanceTypes: ['g6.xlarge', 'g5.xlarge', 'g6e.xlarge'],
        Ec2Configuration: [{ ImageType: 'ECS_AL2023_NVIDIA' }],
        MinvCpus: 0,
        MaxvCpus: 64,
      }),
    });
  });

  test('an on-demand environment of the same types behind it', () => {
    template.resourceCountIs('AWS::Batch::ComputeEnvironment', 2);
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ Type: 'EC2', AllocationStrategy: 'BEST_FIT_PROGRESSIVE', InstanceTypes: ['g6.xlarge', 'g5.xlarge', 'g6e.xlarge'] }),
    });
  });

  test('instances require IMDSv2 with a hop limit containers reach, and an encrypted gp3 root volume', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 100, VolumeType: 'gp3', DeleteOnTermination: true } }],
      }),
    });
  });

  test('production queue first (spot, then on-demand), experiments after it on spot only', () => {
    const spot = getAtt(stack, fleet.spotEnvironment, 'ComputeEnvironmentArn');
    const onDemand = getAtt(stack, fleet.onDemandEnvironment, 'ComputeEnvironmentArn');
    template.hasResourceProperties('AWS::Batch::JobQueue', {
      Priority: 100, ComputeEnvironmentOrder: [{ ComputeEnvironment: spot, Order: 1 }, { ComputeEnvironment: onDemand, Order: 2 }],
    });
    template.hasResourceProperties('AWS::Batch::JobQueue', { Priority: 10, ComputeEnvironmentOrder: [{ ComputeEnvironment: spot, Order: 1 }] });
  });

  test('the job definition: GPUs, retries spot reclaims then exits on any exit code (in that order), attempt timeout, checkpoint contract', () => {
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      Type: 'container',
      PlatformCapabilities: ['EC2'],
      ContainerProperties: Match.objectLike({
        ResourceRequirements: [{ Type: 'MEMORY', Value: '14336' }, { Type: 'VCPU', Value: '4' }, { Type: 'GPU', Value: '1' }],
        Environment: [
          { Name: CheckpointVariables.BUCKET, Value: { Ref: stack.getLogicalId(fleet.checkpointBucket.node.defaultChild as any) } },
          { Name: CheckpointVariables.PREFIX, Value: 'checkpoints' },
          { Name: CheckpointVariables.INTERVAL_S, Value: '900' },
          { Name: CheckpointVariables.KEEP, Value: '3' },
          { Name: CheckpointVariables.LOCAL_DIR, Value: '/opt/ml/checkpoints' },
        ],
      }),
      // An attempt without an exit code (image pull failed, task did not start) matches the last entry: when nothing
      // matches, Batch retries.
      RetryStrategy: { Attempts: 5, EvaluateOnExit: [
        { Action: 'RETRY', OnStatusReason: 'Host EC2*' }, { Action: 'RETRY', OnExitCode: '143' }, { Action: 'EXIT', OnExitCode: '*' }, { Action: 'EXIT', OnStatusReason: '*' },
      ] },
      Timeout: { AttemptDurationSeconds: 86_400 },
    });
  });

  test('the checkpoint bucket: KMS, versioned, TLS only, access-logged, old versions expire, uploads aborted after a day', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'checkpoints/' }),
      LifecycleConfiguration: { Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 7 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('least privilege: the job role gets, puts and deletes (current versions) objects under the prefix, lists under it, the key through S3', () => {
    const bucketArn = getAtt(stack, fleet.checkpointBucket, 'Arn');
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))
      .find((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: stack.getLogicalId(fleet.jobRole.node.defaultChild as any) }]))!;
    // Exactly these: no DeleteObjectVersion (noncurrent versions are the last fallback), no retention or legal hold,
    // no unscoped List*/GetBucket*.
    expect(policy.Properties.PolicyDocument.Statement).toEqual(checkpointStatements(bucketArn, 'checkpoints', getAtt(stack, fleet.encryptionKey as any, 'Arn')));
    // No statement of any policy of the fleet has a bare '*' resource.
    for (const p of Object.values(template.findResources('AWS::IAM::Policy'))) {
      for (const s of p.Properties.PolicyDocument.Statement) expect([s.Resource].flat()).not.toContain('*');
    }
  });

  test('grantSubmit: batch:SubmitJob on the job definition and the given queue only', () => {
    const { stack, fleet } = build();
    const role = new iam.Role(stack, 'Submitter', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
    fleet.grantSubmit(role, fleet.productionQueue);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as any) }],
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'batch:SubmitJob', Resource: [{ Ref: stack.getLogicalId(fleet.jobDefinition.node.defaultChild as any) }, getAtt(stack, fleet.productionQueue, 'JobQueueArn')] }] },
    });
  });

  test('failed jobs and spot reclaims of its queues reach the event log (no environment) and become metrics', () => {
    const queues = [fleet.productionQueue, fleet.experimentQueue, fleet.onDemandQueue].map((q) => getAtt(stack, q, 'JobQueueArn'));
    const base = { 'source': ['aws.batch'], 'detail-type': ['Batch Job State Change'] };
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: { ...base, detail: { jobQueue: queues, status: ['FAILED'] } } });
    // Each reclaim once: a retry (the retry strategy retries reclaims only) is a RUNNABLE event of a job that already
    // has an attempt; the last attempt's reclaim is FAILED with its reason or the helper's exit code. Matching
    // RUNNABLE on `attempts.statusReason: Host EC2*` counted a job reclaimed once again on every later retry.
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { ...base, detail: { jobQueue: queues, $or: [
        { status: ['RUNNABLE'], attempts: { statusReason: [{ exists: true }] } },
        { status: ['FAILED'], statusReason: [{ wildcard: 'Host EC2*' }] },
        { status: ['FAILED'], container: { exitCode: [143] } },
      ] } },
    });
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    for (const rule of rules) {
      const [target] = rule.Properties.Targets;
      expect(JSON.stringify(target.Arn)).toContain(':log-group:');
      expect(Object.values(target.InputTransformer.InputPathsMap)).not.toContain('$.detail.container');
    }
    const [logPolicy] = Object.values(template.findResources('AWS::Logs::ResourcePolicy'));
    expect(JSON.stringify(logPolicy.Properties.PolicyDocument)).toMatch(/logs:PutLogEvents.*events\.amazonaws\.com/);
    for (const [kind, name] of [['failed', SpotTrainingFleetMetrics.FAILED_JOBS], ['interrupted', SpotTrainingFleetMetrics.SPOT_INTERRUPTIONS]]) {
      template.hasResourceProperties('AWS::Logs::MetricFilter', {
        FilterPattern: `{ $.kind = "${kind}" }`,
        MetricTransformations: [{ MetricNamespace: 'MlPlatform', MetricName: name, MetricValue: '1', Dimensions: [{ Key: 'Fleet', Value: '$.fleet' }] }],
      });
    }
  });

  test('alarms on any failed job and on more than 5 reclaims an hour, each with an action', () => {
    expect(fleet.alarms).toHaveLength(2);
    expect(alarmsWithoutActions(template)).toEqual([]);
    const fleetDimension = [{ Name: 'Fleet', Value: fleet.node.addr }];
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: SpotTrainingFleetMetrics.FAILED_JOBS, Dimensions: fleetDimension, Threshold: 0, Period: 300, Statistic: 'Sum' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: SpotTrainingFleetMetrics.SPOT_INTERRUPTIONS, Dimensions: fleetDimension, Threshold: 5, Period: 3600, Statistic: 'Sum' });
  });

  test('spot draining: the launch template\'s MIME multipart user data sets ECS_ENABLE_SPOT_INSTANCE_DRAINING for the ECS agent', () => {
    const [launchTemplate] = Object.values(template.findResources('AWS::EC2::LaunchTemplate'));
    // Fn::Join of the MIME text and each part's script (Fn::Base64: CloudFormation encodes the part).
    const parts: unknown[] = launchTemplate.Properties.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1];
    const text = parts.map((p: any) => (typeof p === 'string' ? p : p['Fn::Base64'])).join('');
    expect(text).toMatch(/^Content-Type: multipart\/mixed; boundary=/);
    expect(text).toContain('Content-Type: text/x-shellscript');
    expect(text).toContain('echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config');
  });

  test('on-demand fallback: production jobs stuck RUNNABLE for capacity are cancelled after 30 minutes; an on-demand-only queue takes them', () => {
    template.hasResourceProperties('AWS::Batch::JobQueue', {
      Priority: 100,
      JobStateTimeLimitActions: [{ Action: 'CANCEL', MaxTimeSeconds: 1800, Reason: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY', State: 'RUNNABLE' }],
    });
    const onDemand = getAtt(stack, fleet.onDemandEnvironment, 'ComputeEnvironmentArn');
    template.hasResourceProperties('AWS::Batch::JobQueue', {
      Priority: 100, ComputeEnvironmentOrder: [{ ComputeEnvironment: onDemand, Order: 1 }], JobStateTimeLimitActions: Match.absent(),
    });
    expect(stack.resolve(fleet.onDemandQueue.jobQueueArn)).toEqual(getAtt(stack, fleet.onDemandQueue, 'JobQueueArn'));
  });

  test('cdk-nag AwsSolutions clean (synthesized above with the checks on)', () => {
    expect(() => app.synth()).not.toThrow();
  });
});

describe('SpotTrainingFleet props', () => {
  test('chosen values reach the template', () => {
    const { stack } = build({
      instanceTypes: [GpuInstanceType.G5_12XLARGE, GpuInstanceType.G6_12XLARGE], gpusPerJob: 4, jobVcpus: 16, jobMemory: Size.gibibytes(120),
      attempts: 3, attemptTimeout: Duration.hours(6), checkpointPrefix: 'fraud/ckpt', checkpointInterval: Duration.minutes(30), checkpointsKept: 5,
      environment: { EPOCHS: '20' }, onDemandFallbackAfter: Duration.hours(1),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Batch::JobQueue', { JobStateTimeLimitActions: [Match.objectLike({ MaxTimeSeconds: 3600 })] });
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        ResourceRequirements: Match.arrayWith([{ Type: 'GPU', Value: '4' }]),
        Environment: Match.arrayWith([{ Name: 'EPOCHS', Value: '20' }, { Name: CheckpointVariables.PREFIX, Value: 'fraud/ckpt' }, { Name: CheckpointVariables.INTERVAL_S, Value: '1800' }, { Name: CheckpointVariables.KEEP, Value: '5' }]),
      }),
      RetryStrategy: Match.objectLike({ Attempts: 3 }),
      Timeout: { AttemptDurationSeconds: 21_600 },
    });
  });

  test('every problem at once, each naming the prop and the fix', () => {
    expect(() => build({
      instanceTypes: [GpuInstanceType.G5_XLARGE, GpuInstanceType.G5_12XLARGE], gpusPerJob: 2, maxvCpus: 2.5, attempts: 11,
      attemptTimeout: Duration.seconds(30), checkpointPrefix: '/ckpt/', checkpointInterval: Duration.seconds(10),
      environment: { CHECKPOINT_BUCKET: 'other' }, onDemandFallbackAfter: Duration.minutes(5),
    })).toThrow(
      'Stack/Fleet: invalid props:\n'
      + '  - maxvCpus: 2.5 must be an integer >= 1\n'
      + '  - gpusPerJob: 2 GPUs do not fit on g5.xlarge (1 GPU): lower gpusPerJob or list only instance types with at least 2 GPUs\n'
      + '  - attempts: 11 must be an integer between 1 and 10\n'
      + "  - attemptTimeout: 30 seconds must be whole seconds between 60 seconds and 28 days (Batch's shortest attempt timeout; at most the longest training run accepted here)\n"
      + "  - checkpointPrefix: '/ckpt/' must be key segments of letters, digits, '_', '.', '=' or '-' joined by '/', without leading or trailing '/' or '..' (e.g. 'checkpoints/fraud')\n"
      + "  - checkpointInterval: 10 seconds must be whole seconds between 60 seconds and 2 hours (the checkpoint helper's range; spot guidance is every 15-30 minutes)\n"
      + "  - onDemandFallbackAfter: 5 minutes must be whole seconds between 600 seconds and 1 day (the range of Batch's job state time limit actions)\n"
      + '  - environment.CHECKPOINT_BUCKET: set by the fleet from its checkpoint props (checkpointPrefix, checkpointInterval, checkpointsKept): remove it',
    );
  });

  test('the job id Batch sets is not the environment\'s to set (the checkpoint helper extends the prefix with it)', () => {
    expect(() => build({ environment: { [CheckpointVariables.BATCH_JOB_ID]: 'fixed' } }))
      .toThrow(`environment.${CheckpointVariables.BATCH_JOB_ID}: set by AWS Batch: remove it`);
  });

  test('an environment too small for one job, and no instance types', () => {
    expect(() => build({ maxvCpus: 2 })).toThrow('maxvCpus: 2 is fewer than the 4 vCPUs of one job (jobVcpus): no job could ever start; raise maxvCpus or lower jobVcpus');
    expect(() => build({ instanceTypes: [] })).toThrow('instanceTypes: list at least one GPU instance type');
  });
});

describe('SageMakerSpotTraining', () => {
  const stack = new Stack(new App(), 'Stack', { env: ENV });
  const bucket = s3.Bucket.fromBucketName(stack, 'Bucket', 'checkpoints-bucket');
  const props = (p: Partial<SageMakerSpotTrainingProps> = {}): SageMakerSpotTrainingProps =>
    ({ instanceType: 'ml.g5.xlarge', checkpointBucket: bucket, checkpointPrefix: 'sagemaker/fraud', ...p });

  test('8 h of training within 12 h including the wait for spot: the CreateTrainingJob managed-spot parameters', () => {
    const spot = new SageMakerSpotTraining(props({ maxRuntime: Duration.hours(8), maxWait: Duration.hours(12), instanceCount: 2 }));
    expect(spot.parameters).toEqual({
      EnableManagedSpotTraining: true,
      StoppingCondition: { MaxRuntimeInSeconds: 28_800, MaxWaitTimeInSeconds: 43_200 },
      CheckpointConfig: { S3Uri: 's3://checkpoints-bucket/sagemaker/fraud', LocalPath: '/opt/ml/checkpoints' },
      ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 2, VolumeSizeInGB: 100 },
    });
  });

  test('defaults: 24 h of training, twice that in all; maxWait equal to maxRuntime is accepted', () => {
    expect(new SageMakerSpotTraining(props()).parameters.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 86_400, MaxWaitTimeInSeconds: 172_800 });
    expect(new SageMakerSpotTraining(props({ maxRuntime: Duration.hours(8), maxWait: Duration.hours(8) })).parameters.StoppingCondition.MaxWaitTimeInSeconds).toBe(28_800);
  });

  test('maxWait shorter than maxRuntime, runtime past 28 days, an EC2 name and a bad prefix are refused, naming each', () => {
    expect(() => new SageMakerSpotTraining(props({ maxRuntime: Duration.hours(8), maxWait: Duration.hours(6) }))).toThrow(
      'maxWait: 6 hours (21600 s) is shorter than maxRuntime 8 hours (28800 s): SageMaker requires MaxWaitTimeInSeconds >= MaxRuntimeInSeconds',
    );
    expect(() => new SageMakerSpotTraining(props({ maxRuntime: Duration.days(29), maxWait: Duration.days(30) })))
      .toThrow("maxRuntime: 29 days must be whole seconds between 1 seconds and 28 days (SageMaker's MaxRuntimeInSeconds)");
    expect(() => new SageMakerSpotTraining(props({ instanceType: 'g5.xlarge' })))
      .toThrow("instanceType: 'g5.xlarge' is not a SageMaker instance type; use 'ml.<family>.<size>', e.g. 'ml.g5.xlarge'");
    expect(() => new SageMakerSpotTraining(props({ checkpointPrefix: 'a/../b' }))).toThrow("checkpointPrefix: 'a/../b' must be key segments");
  });

  test('grantCheckpoints: get, put, delete (current versions) and list under the prefix only, the key through S3', () => {
    const role = new iam.Role(stack, 'TrainingRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
    const encrypted = new s3.Bucket(stack, 'Encrypted', { encryption: s3.BucketEncryption.KMS });
    new SageMakerSpotTraining(props({ checkpointBucket: encrypted })).grantCheckpoints(role);
    const policy = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .find((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: stack.getLogicalId(role.node.defaultChild as any) }]))!;
    expect(policy.Properties.PolicyDocument.Statement).toEqual(checkpointStatements(
      getAtt(stack, encrypted, 'Arn'), 'sagemaker/fraud', getAtt(stack, encrypted.encryptionKey as any, 'Arn')));
  });
});
