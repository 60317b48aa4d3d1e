import { App, CfnElement, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MODEL_NAME, SPINE_PREFIX, SPINE_TABLE, SpotTrainingStack } from '../../examples/spot-training/stack';
import { CheckpointVariables } from '../../runtime/contracts/checkpoint';
import { alarmsWithoutActions } from '../support/alarms';

/** The state machine's definition with every token replaced by its resolved CloudFormation, as JSON text. */
function definitionOf(template: Template): any {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as any[];
  const body = machine.Properties.DefinitionString;
  const parts = typeof body === 'string' ? [body] : body['Fn::Join'][1];
  return JSON.parse(parts.map((p: unknown) => (typeof p === 'string' ? p : JSON.stringify(JSON.stringify(p)).slice(1, -1))).join(''));
}

describe('examples/spot-training', () => {
  // One synthesis, with cdk-nag on: synth throws on any unacknowledged AwsSolutions finding.
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new SpotTrainingStack(app, 'SpotTraining', { env: { account: '123456789012', region: 'us-east-1' } });
  const template = Template.fromJSON(app.synth().getStackByName(stack.stackName).template);
  const states = definitionOf(template).States;
  const logicalId = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);

  test('the pipeline trains on the fleet\'s production queue with its job definition and checkpoint bucket, a prefix per execution', () => {
    expect(JSON.parse(states.Train.Parameters.JobQueue)).toEqual({ 'Fn::GetAtt': [logicalId(stack.fleet.productionQueue), 'JobQueueArn'] });
    expect(JSON.parse(states.Train.Parameters.JobDefinition)).toEqual({ Ref: logicalId(stack.fleet.jobDefinition) });
    const env = Object.fromEntries(states.Train.Parameters.ContainerOverrides.Environment.map((e: any) => [e.Name, e['Value.$'] ?? e.Value]));
    // The job definition's checkpoint contract (the fleet's bucket, interval, keep) with a prefix per execution under the fleet's.
    expect(env[CheckpointVariables.PREFIX]).toBe(`States.Format('${stack.fleet.checkpointPrefix}/{}', $$.Execution.Name)`);
    expect(env).not.toHaveProperty(CheckpointVariables.BUCKET);
    expect(states.TrainOnDemand.Parameters.JobQueue).toContain(logicalId(stack.fleet.onDemandQueue));
    expect(JSON.parse(states.Evaluate.Parameters.JobDefinition)).toEqual({ Ref: logicalId(stack.evaluationJob) });
  });

  test('the evaluation job fits an xlarge GPU instance (14 GiB) and is retried on spot reclaims like the training job', () => {
    const evaluation = template.toJSON().Resources[logicalId(stack.evaluationJob)].Properties;
    expect(evaluation.ContainerProperties.ResourceRequirements).toContainEqual({ Type: 'MEMORY', Value: '14336' });
    const training = template.toJSON().Resources[logicalId(stack.fleet.jobDefinition)].Properties;
    expect(evaluation.RetryStrategy).toEqual(training.RetryStrategy);
  });

  test('the model package group is the hand-off to a CanaryRollout: packages registered Approved, retained', () => {
    expect(stack.pipeline.modelPackageGroupName).toBe(MODEL_NAME);
    template.hasResource('AWS::SageMaker::ModelPackageGroup', { DeletionPolicy: 'Retain', Properties: { ModelPackageGroupName: MODEL_NAME, ModelPackageGroupDescription: Match.anyValue() } });
    expect(states.RegisterModel.Parameters).toMatchObject({ ModelPackageGroupName: MODEL_NAME, ModelApprovalStatus: 'Approved' });
  });

  test('weekly schedule, flow logs on the VPC, every alarm (fleet and pipeline) to the one topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(7 days)' });
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    expect(alarmsWithoutActions(template)).toEqual([]);
    const topic = { Ref: logicalId(stack.alarms.topic) };
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[]) expect(alarm.Properties.AlarmActions).toEqual([topic]);
  });

  test('the spine table exists, and the training set step may read its definition and its files only', () => {
    template.hasResourceProperties('AWS::Glue::Table', { TableInput: Match.objectLike({
      Name: SPINE_TABLE,
      StorageDescriptor: Match.objectLike({ Columns: Match.arrayWith([{ Name: 'event_timestamp', Type: 'timestamp' }]) }),
    }) });
    const role = stack.resolve((stack.pipeline.trainingSetFunction.role as any).node.defaultChild.logicalId);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === role))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const text = JSON.stringify(statements);
    expect(text).toContain(`/${SPINE_TABLE}`); // the Glue table ARN
    expect(text).toContain(`${SPINE_PREFIX}*`);
    const list = statements.find((s: any) => s.Action === 's3:ListBucket' && JSON.stringify(s.Condition ?? {}).includes(SPINE_PREFIX));
    expect(list).toBeDefined();
  });
});
