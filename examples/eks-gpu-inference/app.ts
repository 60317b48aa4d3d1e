/**
 * Synthesizes the EKS GPU inference example with the cdk-nag AwsSolutions checks:
 * `npx cdk synth --app 'npx tsx examples/eks-gpu-inference/app.ts'`.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EksGpuInferenceStack } from './stack';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
new EksGpuInferenceStack(app, 'EksGpuInference', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' },
});
app.synth();
