import { App, CfnElement, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { customerTxnStats } from '../../examples/fraud-features';
import { FeatureStore } from '../../lib/features/feature-store';
import { SpotTrainingFleet, SpotTrainingFleetProps } from '../../lib/training/spot-training-fleet';
import { Trainer, TrainingPipeline, TrainingPipelineProps } from '../../lib/training/training-pipeline';
import { TRAINING_STEP_TRANSIENT_ERROR, TrainingHandlers, TrainingJobVariables, TrainingStepVariables } from '../../runtime/contracts/training-pipeline';
import { CheckpointVariables } from '../../runtime/contracts/checkpoint';
import { expectedColumnsOf } from '../../runtime/core/training/data-gate';
import { dataGateSettings } from '../../lib/training/data-gate-settings';
import { alarmsWithoutActions } from '../support/alarms';

/** A stack with a feature store, a spot fleet, an evaluation job definition and a pipeline of `fraud`. */
function build(props: Partial<TrainingPipelineProps> = {}, options: { nag?: boolean; scope?: { app: App; stack: Stack }; fleet?: Partial<SpotTrainingFleetProps>; batchTimeout?: Duration } = {}) {
  const app = options.scope?.app ?? new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = options.scope?.stack ?? new Stack(app, 'Training', { env: { account: '123456789012', region: 'us-east-1' } });
  const store = new FeatureStore(stack, 'Features', { views: [customerTxnStats] });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { all: {} } });
  const fleet = new SpotTrainingFleet(stack, 'Fleet', { vpc, image: ecs.ContainerImage.fromRegistry('123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1'), ...options.fleet });
  const evaluationRole = new iam.Role(stack, 'EvaluationRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
  const evaluationJob = new batch.EcsJobDefinition(stack, 'Evaluation', {
    container: new batch.EcsEc2ContainerDefinition(stack, 'EvaluationContainer', {
      image: ecs.ContainerImage.fromRegistry('123456789012.dkr.ecr.us-east-1.amazonaws.com/evaluate:1'),
      cpu: 4, memory: Size.gibibytes(16), gpu: 1, jobRole: evaluationRole,
    }),
  });
  Validations.of(evaluationJob.container.executionRole).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:us-east-1:123456789012:log-group:/aws/batch/job:*]',
    reason: 'aws-batch\'s execution role of the test\'s evaluation container writes a new stream per job to /aws/batch/job',
  });
  const refs = customerTxnStats.toSpec().features.map((f) => `${customerTxnStats.name}:${f.name}`);
  const pipeline = new TrainingPipeline(stack, 'Pipeline', {
    modelName: 'fraud',
    featureStore: store,
    views: [customerTxnStats],
    featureRefs: refs,
    spineTable: 'fraud_labels',
    dataGate: { columns: expectedColumnsOf([customerTxnStats.toSpec()]), minRows: 1000 },
    trainer: Trainer.batch(fleet, { timeout: options.batchTimeout }),
    evaluation: { jobQueue: fleet.productionQueue, jobDefinition: evaluationJob, jobRole: evaluationRole },
    modelGate: { metric: { name: 'auc', direction: 'higher-is-better', minMargin: 0.01 }, serving: { maxLatencyP99Ms: 50 } },
    inferenceImageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/inference-server:1',
    ...Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)),
  });
  return { app, stack, pipeline, fleet };
}

/** The state machine's definition, as deployed (tokens joined with placeholders). */
function definitionOf(template: Template): any {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as any[];
  const body = machine.Properties.DefinitionString;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return JSON.parse(text);
}

describe('TrainingPipeline', () => {
  // One synthesis with cdk-nag on: synth throws on any unacknowledged AwsSolutions finding.
  const RUN_INPUT = { codeVersion: '3f2c1e9', imageDigest: `sha256:${'ab'.repeat(32)}` };
  const { app, stack, pipeline, fleet } = build({ autoApprove: true, schedule: Duration.days(7), scheduledRunInput: RUN_INPUT }, { nag: true });
  const template = Template.fromJSON(app.synth().getStackByName(stack.stackName).template);
  const definition = definitionOf(template);
  const states = definition.States;

  test('the DAG: training set → data gate → train → evaluate → model gate → register, gates ending in Fail states with the reasons', () => {
    expect(definition.StartAt).toBe('CheckInput');
    expect(states.CheckInput.Choices).toEqual([{
      And: [
        { Variable: '$.codeVersion', IsPresent: true }, { Variable: '$.codeVersion', IsString: true },
        { Variable: '$.imageDigest', IsPresent: true }, { Variable: '$.imageDigest', StringMatches: 'sha256:*' },
      ],
      Next: 'BuildTrainingSet',
    }]);
    expect(states.CheckInput.Default).toBe('InvalidInput');
    expect(states.InvalidInput).toMatchObject({ Type: 'Fail', Error: 'InvalidInput', Cause: expect.stringContaining('"codeVersion"') });
    expect(states.BuildTrainingSet.Next).toBe('DataGate');
    expect(states.DataGate.Next).toBe('DataGatePassed');
    expect(states.DataGatePassed.Choices).toEqual([{ Variable: '$.dataGate.passed', BooleanEquals: true, Next: 'Train' }]);
    expect(states.DataGatePassed.Default).toBe('DataGateFailed');
    expect(states.DataGateFailed).toMatchObject({ Type: 'Fail', Error: 'DataGateFailed', CausePath: '$.dataGate.cause' });
    // Train → the champion (latest approved package, or none) → Evaluate; a capacity cancellation → TrainOnDemand.
    expect(states.Train.Next).toBe('FindChampion');
    expect(states.Train.Catch).toEqual([{ ErrorEquals: ['States.TaskFailed'], ResultPath: '$.trainingFailure', Next: 'CapacityShortage' }]);
    expect(states.CapacityShortage.Choices).toEqual([{ Variable: '$.trainingFailure.Cause', StringMatches: '*CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY*', Next: 'TrainOnDemand' }]);
    expect(states.CapacityShortage.Default).toBe('TrainingFailed');
    expect(states.TrainingFailed).toMatchObject({ Type: 'Fail', ErrorPath: '$.trainingFailure.Error', CausePath: '$.trainingFailure.Cause' });
    expect(states.TrainOnDemand.Next).toBe('FindChampion');
    expect(states.FindChampion.Next).toBe('HasChampion');
    expect(states.HasChampion.Choices).toEqual([{ Variable: '$.champion.packages[0]', IsPresent: true, Next: 'DescribeChampion' }]);
    expect(states.HasChampion.Default).toBe('NoChampion');
    expect(states.DescribeChampion.Next).toBe('Evaluate');
    expect(states.NoChampion).toMatchObject({ Type: 'Pass', Result: { modelDataUrl: '' }, ResultPath: '$.champion', Next: 'Evaluate' });
    expect(states.Evaluate.Next).toBe('ModelGate');
    expect(states.ModelGate.Next).toBe('ModelGatePassed');
    expect(states.ModelGatePassed.Choices[0]).toMatchObject({ Variable: '$.modelGate.passed', BooleanEquals: true, Next: 'RegisterModel' });
    expect(states.ModelGateFailed).toMatchObject({ Type: 'Fail', CausePath: '$.modelGate.cause' });
    expect(states.RegisterModel.Next).toBe('Registered');
  });

  test('Lambda steps retry transient errors with backoff, have timeouts, and are keyed by the execution name', () => {
    for (const name of ['BuildTrainingSet', 'DataGate', 'ModelGate']) {
      expect(states[name].Retry).toEqual([expect.objectContaining({
        // A step's own transient AWS errors (throttles, 5xx) come back under the contract's name and are retried too.
        ErrorEquals: expect.arrayContaining(['Lambda.ServiceException', 'Lambda.TooManyRequestsException', TRAINING_STEP_TRANSIENT_ERROR]),
        IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 6,
      })]);
      expect(states[name].TimeoutSeconds).toBeGreaterThan(0);
      expect(states[name].Parameters['execution.$']).toBe('$$.Execution.Name');
    }
  });

  test('training runs as a Batch RUN_JOB on the production queue, with a checkpoint prefix per execution under the fleet\'s', () => {
    expect(states.Train.Resource).toBe('arn:TOKEN:states:::batch:submitJob.sync');
    expect(states.Train.Retry[0]).toMatchObject({ ErrorEquals: expect.arrayContaining(['Batch.AWSBatchException']), BackoffRate: 2 });
    const env = Object.fromEntries(states.Train.Parameters.ContainerOverrides.Environment.map((e: any) => [e.Name, e['Value.$'] ?? e.Value]));
    expect(env[CheckpointVariables.PREFIX]).toBe("States.Format('checkpoints/{}', $$.Execution.Name)");
    expect(env[TrainingJobVariables.TRAINING_SET_URI]).toBe('$.trainingSet.uri');
    expect(env[TrainingJobVariables.MODEL_ARTIFACT_URI]).toMatch(/^States\.Format\('s3:\/\/TOKEN\/models\/\{\}\/model\.tar\.gz', \$\$\.Execution\.Name\)$/);
    expect(states.Evaluate.Resource).toBe('arn:TOKEN:states:::batch:submitJob.sync');
  });

  test('the champion: the group\'s latest approved package, its model artifact to the evaluation job as CHAMPION_MODEL_URI', () => {
    expect(states.FindChampion.Resource).toBe('arn:TOKEN:states:::aws-sdk:sagemaker:listModelPackages');
    expect(states.FindChampion.Parameters).toEqual({ ModelPackageGroupName: 'fraud', ModelApprovalStatus: 'Approved', SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 1 });
    expect(states.FindChampion.ResultSelector).toEqual({ 'packages.$': '$.ModelPackageSummaryList' });
    expect(states.DescribeChampion.Resource).toBe('arn:TOKEN:states:::aws-sdk:sagemaker:describeModelPackage');
    expect(states.DescribeChampion.Parameters).toEqual({ 'ModelPackageName.$': '$.champion.packages[0].ModelPackageArn' });
    expect(states.DescribeChampion.ResultSelector['modelDataUrl.$']).toBe('$.InferenceSpecification.Containers[0].ModelDataUrl');
    for (const name of ['FindChampion', 'DescribeChampion']) expect(states[name].Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['SageMaker.ThrottlingException']));
    expect(states.Evaluate.Parameters.ContainerOverrides.Environment).toContainEqual({ Name: TrainingJobVariables.CHAMPION_MODEL_URI, 'Value.$': '$.champion.modelDataUrl' });
  });

  test('the state machine role: Batch .sync follows and terminates its jobs; the champion lookup (List on *, Describe on the group\'s packages)', () => {
    const role = stack.getLogicalId(pipeline.stateMachine.role.node.defaultChild as CfnElement);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const find = (action: string) => statements.filter((st: any) => [st.Action].flat().includes(action)).map((st: any) => JSON.stringify(st.Resource));
    expect(find('batch:DescribeJobs')).toEqual(['"*"']);
    expect(find('batch:TerminateJob')).toEqual([expect.stringContaining(':batch:us-east-1:123456789012:job/*')]);
    expect(find('sagemaker:ListModelPackages')).toEqual(['"*"']);
    expect(find('sagemaker:DescribeModelPackage')).toEqual([expect.stringMatching(/:model-package\/fraud\/\*"\]\]\}$/)]);
  });

  test('step bounds: Train within attempts × attempt timeout + 1 h, Evaluate 4 h, both as TimeoutSeconds; the data gate has the training set step\'s memory', () => {
    // BatchSubmitJob renders taskTimeout as a per-attempt timeout only: the steps had no TimeoutSeconds.
    expect(states.Train.TimeoutSeconds).toBe(5 * 86_400 + 3600);
    expect(states.TrainOnDemand.TimeoutSeconds).toBe(5 * 86_400 + 3600);
    expect(states.Train.Parameters.Timeout).toBeUndefined();
    expect(states.Evaluate.TimeoutSeconds).toBe(4 * 3600);
    const memory = (fn: { node: { defaultChild?: unknown } }) => template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)].Properties.MemorySize;
    expect(memory(pipeline.node.findChild('DataGateFunction') as any)).toBe(3008);
    expect(memory(pipeline.trainingSetFunction)).toBe(3008);
  });

  test('register: createModelPackage in the group, Approved with autoApprove, lineage from the model gate, idempotent client token', () => {
    expect(states.RegisterModel.Resource).toBe('arn:TOKEN:states:::aws-sdk:sagemaker:createModelPackage');
    expect(states.RegisterModel.Parameters).toMatchObject({
      ModelPackageGroupName: 'fraud',
      ModelApprovalStatus: 'Approved',
      'ClientToken.$': "States.Hash($$.Execution.Name, 'MD5')",
      'CustomerMetadataProperties.$': '$.modelGate.modelPackageMetadata',
    });
    template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'fraud' });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ VersioningConfiguration: { Status: 'Enabled' } }) });
  });

  test('least privilege: CreateModelPackage on the group\'s packages only; steps read their prefixes', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Action: 'sagemaker:CreateModelPackage',
        Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':model-package/fraud/\\*$')])] },
      })]) },
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).not.toMatch(/"Action":"(s3|sagemaker|batch):\*"/);
  });

  test('every alarm has an action; the schedule starts executions; environments follow the contract', () => {
    expect(alarmsWithoutActions(template)).toEqual([]);
    expect(pipeline.alarms).toHaveLength(2);
    // Scheduled runs start with the lineage facts, which the first state requires.
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(7 days)', Targets: [Match.objectLike({ Input: JSON.stringify(RUN_INPUT) })] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [TrainingStepVariables.SPINE_TABLE]: 'fraud_labels', [TrainingStepVariables.ATHENA_WORKGROUP]: Match.anyValue() }) },
    });
    expect(Object.values(TrainingHandlers)).toHaveLength(3);
  });

  describe('Trainer.sageMaker', () => {
    // A second nagged synthesis: the SageMaker trainer, without autoApprove.
    const built = (() => {
      const app = new App();
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      const s = new Stack(app, 'SageMakerTraining', { env: { account: '123456789012', region: 'us-east-1' } });
      const role = new iam.Role(s, 'SageMakerRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
      const checkpoints = new s3.Bucket(s, 'Checkpoints', { enforceSSL: true, versioned: true });
      Validations.of(checkpoints).acknowledge({ id: 'AwsSolutions-S1', reason: 'a test bucket: access logs are not what this test is about' });
      return { app, stack: s, role, checkpoints };
    })();
    const sageMaker = build({
      trainer: Trainer.sageMaker({
        trainingImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1', role: built.role, checkpointBucket: built.checkpoints,
        instanceType: 'ml.g5.xlarge', maxRuntime: Duration.hours(8), maxWait: Duration.hours(12),
      }),
    }, { scope: built });
    const t = Template.fromJSON(built.app.synth().getStackByName(built.stack.stackName).template);
    const train = definitionOf(t).States.Train;

    test('createTrainingJob.sync with managed spot, MaxWait, a checkpoint URI per execution, a job name per execution', () => {
      expect(train.Resource).toBe('arn:TOKEN:states:::sagemaker:createTrainingJob.sync');
      expect(train.Parameters).toMatchObject({
        'TrainingJobName.$': "States.Format('fraud-{}', States.Hash($$.Execution.Id, 'MD5'))",
        AlgorithmSpecification: { TrainingImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1', TrainingInputMode: 'File' },
        EnableManagedSpotTraining: true,
        StoppingCondition: { MaxRuntimeInSeconds: 8 * 3600, MaxWaitTimeInSeconds: 12 * 3600 },
        ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeSizeInGB: 100 },
        CheckpointConfig: { 'S3Uri.$': "States.Format('s3://TOKEN/checkpoints/{}', $$.Execution.Name)", LocalPath: '/opt/ml/checkpoints' },
        OutputDataConfig: { 'S3OutputPath.$': "States.Format('s3://TOKEN/models/{}/', $$.Execution.Name)" },
        InputDataConfig: [{ ChannelName: 'train', DataSource: { S3DataSource: { 'S3Uri.$': '$.trainingSet.uri' } } }],
        Environment: { [`${TrainingJobVariables.TRAINING_SET_SHA256}.$`]: '$.trainingSet.sha256' },
      });
      expect(train.ResultSelector['modelArtifactUri.$']).toBe('$.ModelArtifacts.S3ModelArtifacts');
      expect(train.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['SageMaker.ThrottlingException']));
      expect(train.TimeoutSeconds).toBeGreaterThan(12 * 3600);
      // Evaluation and registration read the artifact the trainer reported.
      const states = definitionOf(t).States;
      expect(states.Evaluate.Parameters.ContainerOverrides.Environment).toContainEqual({ Name: TrainingJobVariables.MODEL_ARTIFACT_URI, 'Value.$': '$.training.modelArtifactUri' });
      expect(states.RegisterModel.Parameters.InferenceSpecification.Containers[0]['ModelDataUrl.$']).toBe('$.training.modelArtifactUri');
      expect(sageMaker.stack.resolve(states.RegisterModel.Parameters.ModelApprovalStatus)).toBe('PendingManualApproval');
    });

    test('IAM: the .sync integration on this pipeline\'s jobs only, PassRole of the training role to SageMaker only, checkpoints under the prefix', () => {
      const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
      const resolved = JSON.stringify(statements);
      expect(statements).toContainEqual(expect.objectContaining({
        Action: ['sagemaker:CreateTrainingJob', 'sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob'],
        Resource: { 'Fn::Join': ['', expect.arrayContaining([':sagemaker:us-east-1:123456789012:training-job/fraud-*'])] },
      }));
      expect(statements).toContainEqual(expect.objectContaining({
        Action: 'iam:PassRole', Resource: { 'Fn::GetAtt': [built.stack.getLogicalId(built.role.node.defaultChild as CfnElement), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      }));
      expect(resolved).toContain(':events:us-east-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule');
      expect(resolved).toMatch(/"\/checkpoints\/\*"/);
      expect(resolved).not.toMatch(/"Action":"iam:PassRole","Resource":"\*"/);
    });
  });

  test('a fleet with its own checkpoint prefix, interval and keep: the Train step overrides only the prefix, under the fleet\'s', () => {
    const custom = build({}, { fleet: { checkpointPrefix: 'fraud/ckpt', checkpointInterval: Duration.minutes(30), checkpointsKept: 5 } });
    const train = definitionOf(Template.fromStack(custom.stack)).States.Train;
    const env = Object.fromEntries(train.Parameters.ContainerOverrides.Environment.map((e: any) => [e.Name, e['Value.$'] ?? e.Value]));
    // Within the job role's `fraud/ckpt/*`; the helper appends the Batch job id. The fleet's interval and keep stay.
    expect(env[CheckpointVariables.PREFIX]).toBe("States.Format('fraud/ckpt/{}', $$.Execution.Name)");
    for (const name of [CheckpointVariables.BUCKET, CheckpointVariables.INTERVAL_S, CheckpointVariables.KEEP, CheckpointVariables.LOCAL_DIR]) expect(env).not.toHaveProperty(name);
  });

  test('Trainer.batch timeout is per attempt: attempts × timeout must fit the 5-day execution, naming the numbers', () => {
    expect(() => build({}, { batchTimeout: Duration.days(2) })).toThrow(
      "trainer: 5 attempts × 2 days per attempt = 10 days exceeds the pipeline's 5 days (its state machine timeout): lower Trainer.batch's timeout (one attempt's limit) to at most 1 day, or the fleet's attempts",
    );
    const t = definitionOf(Template.fromStack(build({}, { batchTimeout: Duration.hours(12) }).stack)).States;
    expect(t.Train.Parameters.Timeout).toEqual({ AttemptDurationSeconds: 12 * 3600 });
    expect(t.Train.TimeoutSeconds).toBe(5 * 12 * 3600 + 3600);
  });

  test('invalid props throw naming each prop', () => {
    expect(() => build({
      modelName: 'fraud model', featureRefs: ['nope:x'], spineTable: 'Bad-Table', schedule: Duration.minutes(5),
      modelGate: { metric: { name: 'auc', direction: 'up' as never, minMargin: -1 }, serving: { maxCostPer1000: 0.01 } },
    })).toThrow(/modelName: 'fraud model'[\s\S]*featureRefs:[\s\S]*spineTable:[\s\S]*modelGate: metric\.direction[\s\S]*servingPricePerHour: required[\s\S]*schedule: 5 minutes/);
    // A schedule without the lineage its runs record would train for hours and stop at the first state.
    expect(() => build({ schedule: Duration.days(7) })).toThrow(/scheduledRunInput: a schedule needs the lineage/);
    expect(() => build({ schedule: Duration.days(7), scheduledRunInput: { codeVersion: '', imageDigest: 'latest' } }))
      .toThrow(/scheduledRunInput\.imageDigest: 'latest' must look like 'sha256:<64 hex digits>'[\s\S]*scheduledRunInput\.codeVersion/);
  });

  test('cdk-nag AwsSolutions clean (the synthesis above throws on findings); object grants carry no action wildcards', () => {
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement.flatMap((st: any) => [st.Action].flat()));
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 's3:ListBucket']));
    // No grant has S3 or KMS action wildcards, the fleet's checkpoint grant included (it had s3:DeleteObject*).
    expect(actions.filter((a: string) => /^(s3|kms):.*\*$/.test(a))).toEqual([]);
    expect(actions).not.toContain('s3:DeleteObjectVersion');
    expect(fleet.checkpointPrefix).toBe('checkpoints');
  });
});

test('the data gate expects the featureRefs, typed as their views declare them, unless columns are given', () => {
  const featureRefs = customerTxnStats.toSpec().features.slice(0, 2).map((f) => `${customerTxnStats.name}:${f.name}`);
  const derived = dataGateSettings({ dataGate: { minRows: 10 }, views: [customerTxnStats], featureRefs });
  const all = expectedColumnsOf([customerTxnStats.toSpec()]);
  expect(derived.columns.map((c) => c.profileName)).toEqual(featureRefs);
  expect(derived.columns).toEqual(all.filter((c) => featureRefs.includes(c.profileName ?? '')));
  expect(derived.minRows).toBe(10);
  const given = [all[0]];
  expect(dataGateSettings({ dataGate: { columns: given }, views: [customerTxnStats], featureRefs }).columns).toBe(given);
});
