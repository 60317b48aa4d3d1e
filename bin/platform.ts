import * as path from 'path';
import { App, Stack, StackProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { fraudFeatureViews, fraudPrescreenInputs, fraudRealtimeInputs, transaction } from '../examples/fraud-features';
import {
  AlarmTopic, Fallback, FeatureIngestion, FeatureStore, InferenceGateway, InferenceImage, InferenceInstanceType,
  ModelArtifact, ModelBackend, ModelEndpoint, ModelRouting, PriorityTier,
} from '../lib';

const MODELS = path.join(__dirname, '..', 'examples', 'models');

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
  /** Live variant weights (champion/challenger), owned at runtime: `npm run route -- show fraud`. */
  public readonly routing: ModelRouting;
  /** The load-shedding gateway in front of it: stored + request-time features, weights from the routing table. */
  public readonly fraudGateway: InferenceGateway;
  /** A gateway with its model embedded in the function, on request-time features only: no store, no endpoint. */
  public readonly prescreenGateway: InferenceGateway;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, { description: 'ml-platform-constructs reference platform', ...props });
    this.alarms = new AlarmTopic(this, 'Alarms', { displayName: 'ML platform alarms' });
    this.featureStore = new FeatureStore(this, 'Features', { views: fraudFeatureViews });
    this.featureIngestion = new FeatureIngestion(this, 'FeatureIngestion', {
      store: this.featureStore, views: fraudFeatureViews, alarmAction: this.alarms,
    });
    const fraudModel = ModelArtifact.fromAsset(path.join(MODELS, 'fraud-realtime.onnx'));
    this.fraudEndpoint = new ModelEndpoint(this, 'FraudEndpoint', {
      modelName: 'fraud',
      image: InferenceImage.fromServer({ gpu: true }),
      variants: [{
        name: 'champion',
        model: fraudModel,
        instanceType: InferenceInstanceType.G5_XLARGE,
        initialInstanceCount: 2,
        initialWeight: 9,
        autoScaling: { maxCapacity: 8, targetInvocationsPerInstance: 3000, gpuUtilization: {} },
      }, {
        name: 'challenger',
        model: fraudModel,
        instanceType: InferenceInstanceType.G5_XLARGE,
        initialWeight: 1,
      }],
      dataCapture: { samplingPercentage: 10 },
      serverSettings: { maxBatchSize: 64 },
    });
    this.routing = new ModelRouting(this, 'Routing', { alarmAction: this.alarms });
    this.routing.addModel({ model: 'fraud', variantWeights: this.fraudEndpoint.productionVariantWeights, endpoint: this.fraudEndpoint });
    this.fraudGateway = new InferenceGateway(this, 'FraudGateway', {
      backend: ModelBackend.sageMaker(this.fraudEndpoint),
      store: this.featureStore,
      features: fraudFeatureViews,
      requestSource: transaction,
      featureRefs: fraudRealtimeInputs,
      routing: this.routing,
      fallback: Fallback.constant({ probability: [0.01] }),
      tiers: [PriorityTier.CRITICAL, PriorityTier.STANDARD, PriorityTier.batch({ rateLimit: 20, quotaPerDay: 1_000_000 })],
    });
    this.prescreenGateway = new InferenceGateway(this, 'PrescreenGateway', {
      backend: ModelBackend.embedded({ modelPath: path.join(MODELS, 'fraud-prescreen.onnx'), modelName: 'prescreen' }),
      requestSource: transaction,
      featureRefs: fraudPrescreenInputs,
      fallback: Fallback.constant({ probability: [0.5] }),
      tiers: [PriorityTier.CRITICAL, PriorityTier.STANDARD],
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
