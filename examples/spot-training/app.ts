/**
 * Synthesizes the spot training example with the cdk-nag AwsSolutions checks:
 * `npx cdk synth --app 'npx tsx examples/spot-training/app.ts'`.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SpotTrainingStack } from './stack';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
new SpotTrainingStack(app, 'SpotTraining', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' },
});
app.synth();
