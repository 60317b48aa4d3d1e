import * as path from 'path';
import { App, Duration, Stack, StackProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { EksGpuInferenceStack } from '../examples/eks-gpu-inference/stack';
import { fraudFeatureViews, fraudPrescreenInputs, fraudRealtimeInputs, transaction } from '../examples/fraud-features';
import { MODEL_NAME as FRAUD_MODEL_PACKAGE_GROUP, SpotTrainingStack } from '../examples/spot-training/stack';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  AlarmTopic, BudgetDegrade, CanaryRollout, costPer1000Predictions, CostGuard, DriftDetector, Fallback, FeatureIngestion, FeatureStore,
  InferenceGateway, InferenceImage, InferenceInstanceType, LabelIngestion, ModelArtifact, ModelBackend, ModelEndpoint, ModelMonitoring,
  ModelQualityMonitor, ModelRouting, PlatformTags, PredictionLogDataset, PriorityTier,
} from '../lib';

const MODELS = path.join(__dirname, '..', 'examples', 'models');

/**
 * On-demand prices the platform declares for its cost metrics, USD per instance-hour (us-east-1, checked by the
 * platform team; a price table is the user's input, never a guess of the library).
 */
const DECLARED_PRICES = { champion: 1.408, challenger: 0.736 };

/**
 * The reference platform: every capability of the library wired together the way a platform engineer would.
 * `bin/app.ts` synthesizes it (`npm start`); the tests synthesize the same code and run cdk-nag over it.
 */
export class ReferencePlatformStack extends Stack {
  /** Where every warning of the platform notifies (encrypted SNS): subscribe the team's channel to `alarms.topic`. */
  public readonly alarms: AlarmTopic;
  /** Where critical alarms page (encrypted SNS): subscribe the on-call rotation to `pager.topic`. */
  public readonly pager: AlarmTopic;
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
  /** Both gateways' prediction logs as an S3 dataset (Firehose, partitioned by model and date; Glue tables), labels and baselines beside them. */
  public readonly predictionLogs: PredictionLogDataset;
  /** Late ground-truth labels (Kinesis records or S3 drops), validated into the dataset; refused ones dead-lettered. */
  public readonly labels: LabelIngestion;
  /** Hourly drift checks of each model's inputs and outputs against its version's baseline. */
  public readonly fraudDrift: DriftDetector;
  public readonly prescreenDrift: DriftDetector;
  /** Hourly join of the fraud model's labels with its logged predictions: quality per variant, against the baseline. */
  public readonly fraudQuality: ModelQualityMonitor;
  /** The fraud model's alarms by severity, SLOs with burn-rate alarms, guardrail and dashboard. */
  public readonly fraudMonitoring: ModelMonitoring;
  /** The pre-screening model's (its gateway is all there is). */
  public readonly prescreenMonitoring: ModelMonitoring;
  /**
   * Champion → challenger through the routing table: a shadow phase with exit criteria, then 5 → 20 → 50 → 100 %,
   * rolled back on the fraud guardrail or the challenger's own errors, fallbacks and latency; started by hand or by a
   * model approval in the registry.
   */
  public readonly fraudRollout: CanaryRollout;
  /** The platform's monthly budget and cost per 1,000 predictions. */
  public readonly cost: CostGuard;
  /** What a budget breach does: all fraud traffic to the cheaper challenger, the champion down to its minimum. */
  public readonly degrade: BudgetDegrade;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, { description: 'ml-platform-constructs reference platform', ...props });
    this.alarms = new AlarmTopic(this, 'Alarms', { displayName: 'ML platform alarms' });
    this.pager = new AlarmTopic(this, 'Pager', { displayName: 'ML platform pages (critical)' });
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
        instanceType: InferenceInstanceType.G4DN_XLARGE,
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

    this.predictionLogs = new PredictionLogDataset(this, 'PredictionLogs', { gateways: [this.fraudGateway, this.prescreenGateway], alarmAction: this.alarms });
    this.labels = new LabelIngestion(this, 'Labels', { dataset: this.predictionLogs, models: ['fraud', 'prescreen'], alarmAction: this.alarms });
    // The gateway's logs name every feature; the endpoint's data capture would count the same (sampled) predictions again.
    this.fraudDrift = new DriftDetector(this, 'FraudDrift', { dataset: this.predictionLogs, gateway: this.fraudGateway, alarmAction: this.alarms });
    this.prescreenDrift = new DriftDetector(this, 'PrescreenDrift', { dataset: this.predictionLogs, gateway: this.prescreenGateway, alarmAction: this.alarms });
    this.fraudQuality = new ModelQualityMonitor(this, 'FraudQuality', {
      dataset: this.predictionLogs, gateway: this.fraudGateway, problem: 'classification', scoreOutput: 'probability', alarmAction: this.alarms,
    });

    this.fraudMonitoring = new ModelMonitoring(this, 'FraudMonitoring', {
      endpoint: this.fraudEndpoint, gateway: this.fraudGateway, views: fraudFeatureViews, ingestion: this.featureIngestion, routing: this.routing,
      drift: this.fraudDrift, quality: this.fraudQuality,
      // A score's top predictions are the baseline's deciles: 10 % each while nothing changed.
      maxTopPredictionSharePercent: 50,
      warningAction: this.alarms, criticalAction: this.pager,
    });
    this.prescreenMonitoring = new ModelMonitoring(this, 'PrescreenMonitoring', {
      gateway: this.prescreenGateway, drift: this.prescreenDrift, maxTopPredictionSharePercent: 50, warningAction: this.alarms, criticalAction: this.pager,
    });
    this.fraudRollout = new CanaryRollout(this, 'FraudRollout', {
      routing: this.routing, model: 'fraud', champion: 'champion', challenger: 'challenger',
      guardrail: this.fraudMonitoring.guardrail,
      thresholds: { maxLatencyP99: Duration.millis(50) },
      shadow: { percent: 10, maxDivergence: 0.02 },
      // The training pipeline's model package group (MlPlatformTraining): an approved package starts the canary.
      startOnModelApproval: { modelPackageGroupName: FRAUD_MODEL_PACKAGE_GROUP },
      notificationTopic: this.alarms.topic,
      alarmAction: this.alarms,
    });
    // Budget notifications go to the platform's warning topic, where people are subscribed (and the degrade listens).
    this.cost = new CostGuard(this, 'Cost', { monthlyLimit: 20_000, topic: this.alarms.topic, alarmAction: this.alarms });
    for (const [variant, pricePerInstanceHour] of Object.entries(DECLARED_PRICES)) {
      this.cost.addCostPerPredictionAlarm(this.fraudEndpoint, variant, { pricePerInstanceHour, threshold: 0.05 });
    }
    this.fraudMonitoring.addWidgets(...Object.entries(DECLARED_PRICES).map(([variant, pricePerInstanceHour]) => new cloudwatch.GraphWidget({
      title: `Cost per 1,000 predictions, ${variant} (USD, declared price)`, width: 12,
      left: [costPer1000Predictions(this.fraudEndpoint, variant, { pricePerInstanceHour }).with({ label: variant })],
    })));
    this.degrade = new BudgetDegrade(this, 'CostDegrade', { topic: this.cost.topic, alarmAction: this.alarms })
      .routeTo(this.routing, 'fraud', { champion: 0, challenger: 100 })
      .scaleToMinimum(this.fraudEndpoint, 'champion');

    PlatformTags.model(this.fraudEndpoint, 'fraud');
    PlatformTags.model(this.fraudGateway, 'fraud');
    PlatformTags.model(this.fraudMonitoring, 'fraud');
    PlatformTags.model(this.prescreenGateway, 'prescreen');
    PlatformTags.model(this.prescreenMonitoring, 'prescreen');
    PlatformTags.model(this.fraudDrift, 'fraud');
    PlatformTags.model(this.fraudQuality, 'fraud');
    PlatformTags.model(this.fraudRollout, 'fraud');
    PlatformTags.model(this.prescreenDrift, 'prescreen');
  }
}

/** The deploying credentials' account and region (`cdk deploy`); a placeholder account where there are none (synth, tests). */
function platformEnvironment(): { account: string; region: string } {
  return { account: process.env.CDK_DEFAULT_ACCOUNT ?? '123456789012', region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' };
}

/** Builds the reference platform into `app`, with the AwsSolutions checks enabled. */
export function buildReferencePlatform(app: App): ReferencePlatformStack[] {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  // Every taggable resource carries platform, model, team and environment: what the budget and cost reports count by.
  PlatformTags.apply(app, { platform: 'ml-platform', team: 'ml-platform', environment: process.env.PLATFORM_ENVIRONMENT ?? 'prod' });
  return [new ReferencePlatformStack(app, 'MlPlatform', { env: platformEnvironment() })];
}

/** The platform's GPU stacks, beside the reference platform (call `buildReferencePlatform` first: its checks and tags cover them). */
export interface GpuPlatformStacks {
  /** GPU serving on EKS behind the inference gateway (examples/eks-gpu-inference). */
  readonly eksGpuInference: EksGpuInferenceStack;
  /** Spot GPU training with checkpoints and the gated training pipeline (examples/spot-training). */
  readonly spotTraining: SpotTrainingStack;
}

/**
 * Builds the GPU stacks into `app`: their own stacks (an EKS cluster and a Batch fleet are deployed and torn down on
 * their own schedule), synthesized by `npm start` with the same cdk-nag checks; each example's test synthesizes it.
 */
export function buildGpuPlatform(app: App): GpuPlatformStacks {
  const env = platformEnvironment();
  return {
    eksGpuInference: new EksGpuInferenceStack(app, 'MlPlatformEksGpu', { env }),
    spotTraining: new SpotTrainingStack(app, 'MlPlatformTraining', { env }),
  };
}
