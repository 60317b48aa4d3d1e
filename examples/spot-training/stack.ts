import { Duration, Size, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../fraud-features';
import { FeatureStore } from '../../lib/features/feature-store';
import { AlarmTopic } from '../../lib/monitoring/alarm-topic';
import { SpotTrainingFleet, spotRetryStrategies } from '../../lib/training/spot-training-fleet';
import { Trainer, TrainingPipeline } from '../../lib/training/training-pipeline';

/** The spine table (labelled entity rows) in the feature store's Glue database, and where its files are. */
export const SPINE_TABLE = 'fraud_labels';
/** Key prefix of the spine's Parquet files in the feature store's bucket. */
export const SPINE_PREFIX = 'spine/fraud_labels/';

/** The model the example retrains: the model package group's name. */
export const MODEL_NAME = 'fraud';

/**
 * Example lineage of the training image the weekly runs use: replace with your image's digest and the git SHA it was
 * built from (CI knows both). The image is pulled by this digest, so what the package records is what ran.
 */
export const FRAUD_TRAINING_RUN = {
  codeVersion: '3f2c1e9a7b5d4c6e8f0a1b2c3d4e5f6a7b8c9d0e',
  imageDigest: 'sha256:4b1d2c3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c',
} as const;

/** Properties of a `SpotTrainingStack`. */
export interface SpotTrainingStackProps extends StackProps {
  /**
   * Image of the training job (reads TRAINING_SET_URI, checkpoints with runtime/training's helper, writes
   * MODEL_ARTIFACT_URI).
   * @default - the ECR image `fraud-train@<FRAUD_TRAINING_RUN.imageDigest>` of the stack's account and region
   */
  readonly trainingImage?: ecs.ContainerImage;
  /**
   * Lineage of the scheduled runs: the training code's version and the digest of `trainingImage`.
   * @default FRAUD_TRAINING_RUN
   */
  readonly scheduledRunInput?: { readonly codeVersion: string; readonly imageDigest: string };
  /**
   * Image of the evaluation job (writes an `EvaluationReport` to EVALUATION_URI).
   * @default - an ECR image `fraud-evaluate:latest` of the stack's account and region
   */
  readonly evaluationImage?: ecs.ContainerImage;
  /**
   * Serving image recorded in the model packages.
   * @default - an ECR image `inference-server:latest` of the stack's account and region
   */
  readonly inferenceImageUri?: string;
}

/**
 * Weekly gated retraining of the fraud model on spot GPUs: a VPC (flow logs), a `SpotTrainingFleet` (spot first,
 * on-demand behind it for the production queue, checkpoints every 15 minutes), the fraud feature store, and a
 * `TrainingPipeline` (point-in-time training set → data gate → train on the fleet → evaluate → model gate →
 * model package, Approved).
 *
 * Hand-off to serving: an approved package in `pipeline.modelPackageGroupName` is what a `CanaryRollout` with
 * `startOnModelApproval: { modelPackageGroupName }` starts a canary from. That rollout needs the serving side (a
 * `ModelRouting` and the model's `ModelMonitoring` guardrail, as bin/platform.ts builds for `fraudRollout`), so it is
 * not repeated here: give the serving stack's rollout this stack's `pipeline.modelPackageGroupName`.
 */
export class SpotTrainingStack extends Stack {
  /** The spot GPU fleet. */
  public readonly fleet: SpotTrainingFleet;
  /** The feature store the training sets are read from. */
  public readonly featureStore: FeatureStore;
  /** The gated retraining pipeline. */
  public readonly pipeline: TrainingPipeline;
  /** The evaluation job definition. */
  public readonly evaluationJob: batch.EcsJobDefinition;
  /** Where every alarm of the stack goes. */
  public readonly alarms: AlarmTopic;

  constructor(scope: Construct, id: string, props: SpotTrainingStackProps = {}) {
    super(scope, id, props);
    const registry = `${this.account}.dkr.ecr.${this.region}.${this.urlSuffix}`;
    this.alarms = new AlarmTopic(this, 'Alarms', { displayName: 'Fraud retraining alarms' });
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { all: {} } });
    this.featureStore = new FeatureStore(this, 'Features', { views: fraudFeatureViews });
    this.fleet = new SpotTrainingFleet(this, 'Fleet', {
      vpc,
      image: props.trainingImage ?? ecs.ContainerImage.fromRegistry(`${registry}/fraud-train@${FRAUD_TRAINING_RUN.imageDigest}`),
      alarmAction: this.alarms,
    });

    const evaluationRole = new iam.Role(this, 'EvaluationRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Evaluation job of the fraud retraining: reads the training set and the model, writes the report',
    });
    const evaluationContainer = new batch.EcsEc2ContainerDefinition(this, 'EvaluationContainer', {
      image: props.evaluationImage ?? ecs.ContainerImage.fromRegistry(`${registry}/fraud-evaluate:latest`),
      // 14 GiB: an xlarge GPU instance has 16 GiB, less what the ECS agent and the OS keep (the fleet's job memory).
      cpu: 4, memory: Size.gibibytes(14), gpu: 1, jobRole: evaluationRole,
    });
    Validations.of(evaluationContainer.executionRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${this.region}:${this.account}:log-group:/aws/batch/job:*]`,
      reason: 'Batch writes each job\'s logs to a new stream of its /aws/batch/job log group: stream names are known only at run time',
    });
    // It runs on the production queue, spot first: retried on reclaims like the training job.
    this.evaluationJob = new batch.EcsJobDefinition(this, 'Evaluation', {
      container: evaluationContainer, timeout: Duration.hours(2), retryAttempts: this.fleet.attempts, retryStrategies: spotRetryStrategies(),
    });

    // The spine: labelled entity rows (Parquet) your labelling process writes under SPINE_PREFIX of the store's bucket.
    new glue.CfnTable(this, 'FraudLabels', {
      catalogId: this.account,
      databaseName: this.featureStore.databaseName,
      tableInput: {
        name: SPINE_TABLE,
        description: 'Labelled transactions: the training spine (join keys, event_timestamp, is_fraud)',
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'parquet' },
        storageDescriptor: {
          location: `s3://${this.featureStore.bucket.bucketName}/${SPINE_PREFIX}`,
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          columns: [
            { name: 'customer_id', type: 'string' }, { name: 'merchant_id', type: 'string' },
            { name: 'event_timestamp', type: 'timestamp' }, { name: 'is_fraud', type: 'int' },
          ],
        },
      },
    });

    this.pipeline = new TrainingPipeline(this, 'Pipeline', {
      modelName: MODEL_NAME,
      featureStore: this.featureStore,
      views: fraudFeatureViews,
      featureRefs: fraudModelFeatureRefs,
      spineTable: SPINE_TABLE,
      spineData: { bucket: this.featureStore.bucket, prefix: SPINE_PREFIX },
      dataGate: {
        minRows: 10_000,
        maxNullRate: 0.05,
      },
      // One attempt at most 12 hours: the fleet's 5 attempts fit the pipeline's 5 days.
      trainer: Trainer.batch(this.fleet, { timeout: Duration.hours(12) }),
      evaluation: { jobQueue: this.fleet.productionQueue, jobDefinition: this.evaluationJob, jobRole: evaluationRole },
      modelGate: {
        metric: { name: 'auc', direction: 'higher-is-better', minMargin: 0.005 },
        serving: { maxLatencyP99Ms: 50, maxModelBytes: 512 * 1024 * 1024, maxCostPer1000: 0.01 },
        servingPricePerHour: 1.006,
      },
      inferenceImageUri: props.inferenceImageUri ?? `${registry}/inference-server:latest`,
      autoApprove: true,
      schedule: Duration.days(7),
      scheduledRunInput: props.scheduledRunInput ?? FRAUD_TRAINING_RUN,
      alarmAction: this.alarms,
    });
  }
}
