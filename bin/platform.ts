import * as path from 'path';
import { App, Stack, StackProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../examples/fraud-features';
import {
  AlarmTopic, Fallback, FeatureIngestion, FeatureStore, InferenceGateway, InferenceImage, InferenceInstanceType,
  ModelArtifact, ModelEndpoint, PriorityTier,
} from '../lib';

/**
 * The reference platform: every capability of the library wired together the way a platform engineer would.
 * `bin/app.ts` synthesizes it (`npm start`); the tests synthesize the same code and run cdk-nag over it.
 */
export class ReferencePlatformStack extends Stack {
  /** Where every alarm of the platform notifies (encrypted SNS): subscribe the on-call rotation to `alarms.topic`. */
  public readonly alarms: AlarmTopic;
  /** Online and offline feature store holding the fraud example's views. */
  public readonly featureStore: FeatureStore;
  /** Streaming materialization of those views. */
  public readonly featureIngestion: FeatureIngestion;
  /** The fraud model on SageMaker: GPU server, autoscaled, 10 % data capture. */
  public readonly fraudEndpoint: ModelEndpoint;
  /** The load-shedding gateway in front of it. */
  public readonly fraudGateway: InferenceGateway;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, { description: 'ml-platform-constructs reference platform', ...props });
    this.alarms = new AlarmTopic(this, 'Alarms', { displayName: 'ML platform alarms' });
    this.featureStore = new FeatureStore(this, 'Features', { views: fraudFeatureViews });
    this.featureIngestion = new FeatureIngestion(this, 'FeatureIngestion', {
      store: this.featureStore, views: fraudFeatureViews, alarmAction: this.alarms,
    });
    this.fraudEndpoint = new ModelEndpoint(this, 'FraudEndpoint', {
      modelName: 'fraud',
      image: InferenceImage.fromServer({ gpu: true }),
      variants: [{
        name: 'champion',
        model: ModelArtifact.fromAsset(path.join(__dirname, '..', 'examples', 'models', 'fraud-mlp.onnx')),
        instanceType: InferenceInstanceType.G5_XLARGE,
        initialInstanceCount: 2,
        autoScaling: { maxCapacity: 8, targetInvocationsPerInstance: 3000, gpuUtilization: {} },
      }],
      dataCapture: { samplingPercentage: 10 },
      serverSettings: { maxBatchSize: 64 },
    });
    this.fraudGateway = new InferenceGateway(this, 'FraudGateway', {
      endpoint: this.fraudEndpoint,
      store: this.featureStore,
      features: fraudFeatureViews,
      featureRefs: fraudModelFeatureRefs,
      fallback: Fallback.constant({ probability: [0.01] }),
      tiers: [PriorityTier.CRITICAL, PriorityTier.STANDARD, PriorityTier.batch({ rateLimit: 20, quotaPerDay: 1_000_000 })],
    });
  }
}

/** Builds the reference platform into `app`, with the AwsSolutions checks enabled. */
export function buildReferencePlatform(app: App): ReferencePlatformStack[] {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  // The deploying credentials' account and region (`cdk deploy`); a placeholder account where there are none (synth, tests).
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT ?? '123456789012', region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' };
  return [new ReferencePlatformStack(app, 'MlPlatform', { env })];
}
