import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CheckpointVariables } from '../../runtime/contracts/checkpoint';
import { GpuInstanceType } from '../../lib/compute/gpu-instance-type';
import { SageMakerSpotTraining, SageMakerSpotTrainingProps } from '../../lib/training/sagemaker-spot-training';
import { SpotTrainingFleet, SpotTrainingFleetProps } from '../../lib/training/spot-training-fleet';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };

/** A stack with a VPC and a fleet built from `props` (cdk-nag on when `nag`). */
function build(props: Partial<SpotTrainingFleetProps> = {}, options: { nag?: boolean } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Stack', { env: ENV });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  Validations.of(vpc).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'test VPC' });
  const fleet = new SpotTrainingFleet(stack, 'Fleet', { vpc, image: ecs.ContainerImage.fromRegistry('example/train:1'), ...props });
  return { app, stack, fleet };
}

describe('SpotTrainingFleet', () => {
  const { app, stack, fleet } = build({}, { nag: true });
  const template = Template.fromStack(stack);

  test('synthesizes', () => {
    expect(template.toJSON()).toBeDefined();
  });

  test('cdk-nag AwsSolutions clean', () => {
    expect(() => app.synth()).not.toThrow();
  });
});
test('dump', () => {
  const { stack } = build();
  const t = Template.fromStack(stack).toJSON();
  require('fs').writeFileSync('/tmp/fleet-template.json', JSON.stringify(t, null, 1));
});
