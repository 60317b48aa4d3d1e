/**
 * TrainingPipeline: a Step Functions DAG that retrains a model behind gates and registers it.
 *
 *   BuildTrainingSet (Lambda) → DataGate (Lambda) → [DataGatePassed?] → Train (Batch RUN_JOB on a spot fleet;
 *   cancelled for capacity → TrainOnDemand on the fleet's on-demand queue) → FindChampion (the group's latest
 *   approved package) → [HasChampion?] → DescribeChampion | NoChampion → Evaluate (Batch RUN_JOB, the user's
 *   evaluation image: challenger and champion on the same held-out data) → ModelGate (Lambda) → [ModelGatePassed?]
 *   → RegisterModel (sagemaker:createModelPackage) → Succeeded
 *
 * A failed gate ends the execution in a Fail state whose cause is the gate's reasons: nothing is trained after a
 * failed data gate, nothing registered after a failed model gate.
 */
import { Aws, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { CheckpointVariables } from '../../runtime/contracts/checkpoint';
import {
  DataGateEvent, ModelGateEvent, ModelGateSettings, TRAINING_STEP_TRANSIENT_ERROR, TrainingExecutionInput, TrainingHandlers, TrainingJobVariables,
  TrainingLayout, TrainingSetEvent, TrainingStatePaths, trainingStepEnvironment,
} from '../../runtime/contracts/training-pipeline';
import type { FeatureView } from '../features/feature-view';
import type { AlarmActionProps } from '../monitoring/alarm-actions';
import type { AlarmTopic } from '../monitoring/alarm-topic';
import { createAccessLogsBucket, createDataBucket, deliverAccessLogsByBucketPolicy } from '../private/access-logs';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from '../private/alarm-actions';
import { createHandlerFunction } from '../private/handler-function';
import { acknowledgeWildcards, grantObjectAccess as grantObjects, ObjectAccess } from '../private/object-grants';
import { batchTrainerProblems, PIPELINE_TIMEOUT, validateTrainingPipelineProps } from '../private/validate-training-pipeline-props';
import { throwIfProblems } from '../private/validation';
import { dataGateSettings, TrainingDataGateProps } from './data-gate-settings';
import { SageMakerSpotTraining, SageMakerSpotTrainingProps } from './sagemaker-spot-training';

/** The feature store's offline side the training set is read from (a `FeatureStore` is one). */
export interface IOfflineFeatureSource {
  /** Glue database of the offline tables. */
  readonly databaseName: string;
  /** Athena workgroup of the offline queries. */
  readonly workgroupName: string;
  /** Grants Athena queries over the views' offline history. */
  grantReadOffline(grantee: iam.IGrantable, views?: FeatureView[]): iam.Grant;
}

/** The Batch fleet the pipeline trains on (a `SpotTrainingFleet` is one). */
export interface ITrainingFleet {
  /**
   * Queue of time-critical jobs: spot first, on-demand behind it. A job waiting there for capacity is cancelled with
   * the reason `CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY` (the queue's job state time limit action).
   */
  readonly productionQueue: batch.IJobQueue;
  /** On-demand-only queue: where the pipeline submits a training job the production queue cancelled for capacity. */
  readonly onDemandQueue: batch.IJobQueue;
  /** The training job definition (GPU, retries on spot reclaims, the checkpoint contract). */
  readonly jobDefinition: batch.IJobDefinition;
  /** Attempts of a job of `jobDefinition`. */
  readonly attempts: number;
  /** Longest one attempt of a job of `jobDefinition` runs. */
  readonly attemptTimeout: Duration;
  /** Bucket of the checkpoints. */
  readonly checkpointBucket: s3.IBucket;
  /**
   * Base key prefix of the checkpoints: the job role may use `<checkpointPrefix>/*` only, so the pipeline's jobs
   * checkpoint under `<checkpointPrefix>/<execution name>`.
   */
  readonly checkpointPrefix: string;
  /** Role of the training containers: granted reading the training set and writing the model. */
  readonly jobRole: iam.IGrantable;
}

/** The Batch job that evaluates a trained model and measures its serving constraints. */
export interface EvaluationJob {
  /** Queue the evaluation runs on. */
  readonly jobQueue: batch.IJobQueue;
  /**
   * The user's evaluation image: reads TRAINING_SET_URI and MODEL_ARTIFACT_URI, serves the model on the inference
   * server to measure p99 latency and throughput, and writes an `EvaluationReport` JSON to EVALUATION_URI.
   */
  readonly jobDefinition: batch.IJobDefinition;
  /** Role of the evaluation container: granted reading the set and the model and writing the report. */
  readonly jobRole: iam.IGrantable;
  /**
   * Longest the Evaluate step may take, every attempt and the wait for capacity included (the step's TimeoutSeconds:
   * Step Functions terminates the job when it passes). One attempt's limit is the job definition's own timeout.
   * @default Duration.hours(4)
   */
  readonly timeout?: Duration;
}

/** Where the training step runs. */
export abstract class Trainer {
  /**
   * Train on a Batch fleet's production queue (RUN_JOB: the step waits for the job; Batch retries spot reclaims with
   * the job definition's retry strategy). The job keeps the fleet's checkpoint contract (bucket, interval, kept
   * generations) with a prefix per execution, `<fleet.checkpointPrefix>/<execution name>` (the helper appends the
   * Batch job id, stable across attempts), and receives the training set's URI and hash and the URI to write its
   * `model.tar.gz` to. When the production queue cancels the job for lack of capacity, the job is submitted again to
   * the fleet's on-demand queue (`TrainOnDemand`); that job starts from its own (empty) checkpoint prefix.
   */
  public static batch(fleet: ITrainingFleet, options: BatchTrainerOptions = {}): Trainer {
    return new BatchTrainer(fleet, options);
  }

  /**
   * Train with SageMaker managed spot training (`createTrainingJob.sync`: the step waits for the job; SageMaker waits
   * for spot capacity up to `maxWait` and restores the checkpoints of `checkpoints/<execution name>` when it restarts
   * the job). The job's name is derived from the execution (the same on a retried step), its `train` channel is the
   * training set, and SageMaker uploads `/opt/ml/model` under the pipeline's `models/<execution name>/`.
   */
  public static sageMaker(options: SageMakerTrainerOptions): Trainer {
    return new SageMakerTrainer(options);
  }

  /** @internal */
  public abstract _bind(scope: Construct, context: TrainerContext): TrainerBinding;
}

/** Options of `Trainer.batch`. */
export interface BatchTrainerOptions {
  /**
   * Longest ONE attempt of the training job may run (Batch's per-attempt timeout, AttemptDurationSeconds, in place of
   * the job definition's): Batch stops the attempt and does not retry it. Attempts × this must fit the pipeline's
   * 5 days; the Train step itself is bounded by attempts × this plus an hour of queueing (its TimeoutSeconds).
   * @default - the fleet's `attemptTimeout`
   */
  readonly timeout?: Duration;
}

/** Options of `Trainer.sageMaker`: the managed-spot settings, the algorithm image and the role SageMaker assumes. */
export interface SageMakerTrainerOptions extends Omit<SageMakerSpotTrainingProps, 'checkpointPrefix'> {
  /** The training image (an ECR image URI SageMaker can pull with `role`). */
  readonly trainingImage: string;
  /**
   * The role SageMaker runs the job with (assumed by `sagemaker.amazonaws.com`): granted the training set, the model
   * prefix and the checkpoints here; give it what the image itself needs (ECR pull, CloudWatch Logs).
   */
  readonly role: iam.IRole;
}

/** What a trainer binds against. @internal */
export interface TrainerContext {
  /** The pipeline's name for its artifacts (the model package group's). */
  readonly modelName: string;
  /** Grants `grantee` reading training sets and writing models in the pipeline's bucket. */
  readonly grantTrainingAccess: (grantee: iam.IGrantable) => void;
  /** The bucket of training sets and models. */
  readonly bucket: s3.IBucket;
}

/** A training step: a state with retries and catches. @internal */
export type TrainingStep = sfn.IChainable & sfn.INextable & { addRetry(props: sfn.RetryProps): unknown; addCatch(handler: sfn.IChainable, props?: sfn.CatchProps): unknown };

/** A bound training step. @internal */
export interface TrainerBinding {
  /** The step (its result is at TrainingStatePaths.TRAINING, with `modelArtifactUri`). */
  readonly step: TrainingStep;
  /** The same training on on-demand capacity, run when `step` fails with a cause matching `capacityShortage`. */
  readonly onDemand?: { readonly step: TrainingStep; readonly capacityShortage: string };
  /** The statements the state machine's role needs for the step, beyond those the step adds itself. */
  readonly policyStatements: iam.PolicyStatement[];
  /** Resources of `policyStatements` that are patterns (acknowledged for cdk-nag with the reason given). */
  readonly wildcardResources: { readonly resources: string[]; readonly reason: string };
}

/** `s3://<bucket>/models/<execution>/`, as a States.Format expression. */
function modelPrefixUri(bucket: s3.IBucket): string {
  return sfn.JsonPath.format(`s3://${bucket.bucketName}/${TrainingLayout.modelPrefix('{}')}`, sfn.JsonPath.executionName);
}

/**
 * A Batch RUN_JOB step bounded as a whole. BatchSubmitJob renders `taskTimeout` as the job's per-attempt timeout and no
 * TimeoutSeconds, so a job waiting for capacity or retrying would hold the step until the execution's own timeout.
 */
class BatchJobStep extends tasks.BatchSubmitJob {
  constructor(scope: Construct, id: string, private readonly stepTimeout: Duration, props: tasks.BatchSubmitJobProps) {
    super(scope, id, props);
  }

  public toStateJson(topLevelQueryLanguage?: sfn.QueryLanguage): object {
    return { ...super.toStateJson(topLevelQueryLanguage), TimeoutSeconds: this.stepTimeout.toSeconds() };
  }
}

/** Time a training job may spend queued for capacity between its attempts, on top of attempts × attempt timeout. */
const TRAINING_QUEUE_ALLOWANCE = Duration.hours(1);

class BatchTrainer extends Trainer {
  constructor(private readonly fleet: ITrainingFleet, private readonly options: BatchTrainerOptions) {
    super();
  }

  public _bind(scope: Construct, context: TrainerContext): TrainerBinding {
    const { fleet } = this;
    const attemptTimeout = this.options.timeout ?? fleet.attemptTimeout;
    throwIfProblems(scope, batchTrainerProblems(fleet.attempts, attemptTimeout));
    context.grantTrainingAccess(fleet.jobRole);
    const modelArtifactUri = sfn.JsonPath.format(`s3://${context.bucket.bucketName}/${TrainingLayout.modelPrefix('{}')}${TrainingLayout.MODEL_FILE}`, sfn.JsonPath.executionName);
    const stepTimeout = Duration.seconds(fleet.attempts * attemptTimeout.toSeconds() + TRAINING_QUEUE_ALLOWANCE.toSeconds());
    const submit = (id: string, queue: batch.IJobQueue, comment: string) => new BatchJobStep(scope, id, stepTimeout, {
      comment,
      jobName: 'train',
      jobQueueArn: queue.jobQueueArn,
      jobDefinitionArn: fleet.jobDefinition.jobDefinitionArn,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      containerOverrides: {
        environment: {
          // Only the prefix: the job definition's bucket, interval and kept generations stay the fleet's, and the
          // job role may use objects under the fleet's prefix only.
          [CheckpointVariables.PREFIX]: sfn.JsonPath.format(`${fleet.checkpointPrefix}/{}`, sfn.JsonPath.executionName),
          [TrainingJobVariables.TRAINING_SET_URI]: sfn.JsonPath.stringAt(`${TrainingStatePaths.TRAINING_SET}.uri`),
          [TrainingJobVariables.TRAINING_SET_SHA256]: sfn.JsonPath.stringAt(`${TrainingStatePaths.TRAINING_SET}.sha256`),
          [TrainingJobVariables.MODEL_ARTIFACT_URI]: modelArtifactUri,
        },
      },
      timeout: this.options.timeout,
      resultSelector: { 'jobId.$': '$.JobId', modelArtifactUri },
      resultPath: TrainingStatePaths.TRAINING,
    });
    const step = submit('Train', fleet.productionQueue,
      'Trains on the fleet\'s production queue; Batch retries spot reclaims, the job resumes from its checkpoints');
    const onDemand = submit('TrainOnDemand', fleet.onDemandQueue,
      'The production queue cancelled the job for lack of capacity: trains on the fleet\'s on-demand queue');
    // BatchSubmitJob grants SubmitJob on every revision of any job definition (`job-definition/*`): the ARN it is given may name a revision.
    const jobDefinitions = Stack.of(scope).formatArn({ service: 'batch', resource: 'job-definition', resourceName: '*' });
    return {
      step,
      onDemand: { step: onDemand, capacityShortage: batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY },
      policyStatements: [],
      wildcardResources: { resources: [jobDefinitions], reason: 'The Batch RUN_JOB integration grants batch:SubmitJob on job definitions by any revision (job-definition/*); the queues are the fleet\'s production and on-demand queues only' },
    };
  }
}

/** Root of the per-execution checkpoint prefixes (`checkpoints`). */
const CHECKPOINTS_ROOT = TrainingLayout.checkpointPrefix('').replace(/\/$/, '');

/** Longest prefix of the model name in SageMaker training job names (the rest is a 32-character hash). */
const TRAINING_JOB_NAME_PREFIX_LENGTH = 30;

class SageMakerTrainer extends Trainer {
  constructor(private readonly options: SageMakerTrainerOptions) {
    super();
  }

  public _bind(scope: Construct, context: TrainerContext): TrainerBinding {
    const { trainingImage, role, ...spotProps } = this.options;
    const spot = new SageMakerSpotTraining({ ...spotProps, checkpointPrefix: CHECKPOINTS_ROOT });
    spot.grantCheckpoints(role);
    context.grantTrainingAccess(role);
    const stack = Stack.of(scope);
    // Training job names: 1-63 letters, digits and hyphens. The execution ARN's hash makes the name unique per
    // execution (of any state machine) and the same on a retried step, which SageMaker then refuses instead of
    // starting a second job.
    const namePrefix = context.modelName.slice(0, TRAINING_JOB_NAME_PREFIX_LENGTH).replace(/-+$/, '').toLowerCase();
    const jobArns = stack.formatArn({ service: 'sagemaker', resource: 'training-job', resourceName: `${namePrefix}-*` });
    const { CheckpointConfig, ...spotParameters } = spot.parameters;
    const step = new sfn.CustomState(scope, 'Train', {
      stateJson: {
        Type: 'Task',
        Comment: 'Trains with SageMaker managed spot training; SageMaker waits for spot capacity up to MaxWait and restores the checkpoints on a restart',
        Resource: `arn:${Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync`,
        Parameters: {
          'TrainingJobName.$': `States.Format('${namePrefix}-{}', States.Hash($$.Execution.Id, 'MD5'))`,
          AlgorithmSpecification: { TrainingImage: trainingImage, TrainingInputMode: 'File' },
          RoleArn: role.roleArn,
          InputDataConfig: [{
            ChannelName: 'train',
            DataSource: { S3DataSource: { S3DataType: 'S3Prefix', 'S3Uri.$': `${TrainingStatePaths.TRAINING_SET}.uri`, S3DataDistributionType: 'FullyReplicated' } },
          }],
          OutputDataConfig: { 'S3OutputPath.$': modelPrefixUri(context.bucket) },
          Environment: {
            [`${TrainingJobVariables.TRAINING_SET_URI}.$`]: `${TrainingStatePaths.TRAINING_SET}.uri`,
            [`${TrainingJobVariables.TRAINING_SET_SHA256}.$`]: `${TrainingStatePaths.TRAINING_SET}.sha256`,
          },
          ...spotParameters,
          CheckpointConfig: {
            'S3Uri.$': sfn.JsonPath.format(`${CheckpointConfig.S3Uri}/{}`, sfn.JsonPath.executionName),
            LocalPath: CheckpointConfig.LocalPath,
          },
        },
        ResultSelector: { 'trainingJobArn.$': '$.TrainingJobArn', 'modelArtifactUri.$': '$.ModelArtifacts.S3ModelArtifacts' },
        ResultPath: TrainingStatePaths.TRAINING,
        TimeoutSeconds: spot.parameters.StoppingCondition.MaxWaitTimeInSeconds + 3600,
      },
    });
    const rule = stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForSageMakerTrainingJobsRule' });
    return {
      step,
      policyStatements: [
        new iam.PolicyStatement({ actions: ['sagemaker:CreateTrainingJob', 'sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob'], resources: [jobArns] }),
        new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [role.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } } }),
        new iam.PolicyStatement({ actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'], resources: [rule] }),
      ],
      wildcardResources: { resources: [jobArns], reason: `Training jobs are named per execution ('${namePrefix}-' and a hash of the execution): the statement covers this pipeline's jobs only` },
    };
  }
}

/** Properties of a `TrainingPipeline`. */
export interface TrainingPipelineProps extends AlarmActionProps {
  /** Model name: the model package group's name and the baseline's model. */
  readonly modelName: string;
  /** The feature store the training set is read from. */
  readonly featureStore: IOfflineFeatureSource;
  /** The views read (the store's definitions). */
  readonly views: FeatureView[];
  /** Feature references of the training set, `view:feature`. */
  readonly featureRefs: string[];
  /**
   * Glue table of entity rows and labels (join keys, `event_timestamp`, label columns) in the store's database:
   * `table` or `database.table`.
   */
  readonly spineTable: string;
  /**
   * Where the spine table's files are: the training set step (Athena with its credentials) may then read the table's
   * Glue definition and these objects, nothing else.
   * @default - none granted: grant the spine's table and data to `trainingSetFunction` yourself
   */
  readonly spineData?: { readonly bucket: s3.IBucket; readonly prefix: string };
  /**
   * The data gate's spec: schema, null rates, row count, label; drift against the baseline when given. `columns`
   * defaults to the `featureRefs` typed as their views declare them (the training set's `<view>__<feature>` columns).
   */
  readonly dataGate: TrainingDataGateProps;
  /**
   * Baseline the data gate checks drift against: the bucket holding `baselines/model=<m>/version=<v>/` and the version.
   * @default - no drift check (schema, null rates, row count and label only)
   */
  readonly baseline?: { readonly bucket: s3.IBucket; readonly modelVersion: string };
  /** Where training runs. */
  readonly trainer: Trainer;
  /** The evaluation job. */
  readonly evaluation: EvaluationJob;
  /** The model gate's spec: the metric the challenger must win on, and serving constraints. */
  readonly modelGate: ModelGateSettings;
  /** Image URI of the serving container recorded in the model package (e.g. the inference server's). */
  readonly inferenceImageUri: string;
  /**
   * Register packages as Approved (a CanaryRollout with `startOnModelApproval` on `modelPackageGroupName` then starts
   * itself); otherwise PendingManualApproval.
   * @default false
   */
  readonly autoApprove?: boolean;
  /**
   * Run on a schedule (an EventBridge rate); manual starts always work (`grantStartExecution`).
   * @default - manual starts only
   */
  readonly schedule?: Duration;
  /**
   * The lineage facts scheduled runs start with (manual runs pass them as execution input): the training code's
   * version and the training image's digest, recorded with every package. Required with `schedule`.
   * @default - none: only manual runs, each started with `{ "codeVersion": "<git sha>", "imageDigest": "sha256:…" }`
   */
  readonly scheduledRunInput?: TrainingExecutionInput;
}

/** Key patterns of the pipeline's bucket, one prefix per execution. */
const TRAINING_SETS = `${TrainingLayout.trainingSetPrefix('*')}*`;
const MODELS = `${TrainingLayout.modelPrefix('*')}*`;
const EVALUATIONS = TrainingLayout.evaluationKey('*');
/** ARNs of any Batch job of the stack's account and region (job ids are assigned at submission). */
const BATCH_JOBS = (stack: Stack) => stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' });
/** Why `model-package/<group>/*` is a pattern. */
const PACKAGES_REASON = 'Model package ARNs are the group\'s name and a version number SageMaker assigns: model-package/<group>/* covers this model\'s packages only';

/** Why the pipeline's object grants are key patterns. */
const OBJECTS_REASON = 'S3 scopes object permissions by key only: a run\'s objects are under a prefix per execution, known at run time; the grant is limited to the pipeline\'s prefix of that kind';

/** Grants `access` in `bucket` (exact actions, the key through S3). */
function grantObjectAccess(bucket: s3.IBucket, grantee: iam.IGrantable, access: ObjectAccess): void {
  grantObjects(bucket, grantee, access, OBJECTS_REASON);
}

/** Where the champion's model is kept while the evaluation runs: `{ modelDataUrl }`, '' without a champion. */
const CHAMPION_PATH = '$.champion';
/** Where a failed training step's error and cause are kept for the capacity check. */
const TRAINING_FAILURE_PATH = '$.trainingFailure';
/** Memory of the Lambda steps that read a whole training set. */
const TRAINING_SET_MEMORY = Size.mebibytes(3008);

/** A step's payload as the state machine builds it: each field of the event a JSON path (or a value). */
type Payload<T> = { readonly [K in keyof T]-?: string };

/** Errors of Lambda's service that a retry can fix (throttles, a service hiccup). */
const LAMBDA_TRANSIENT_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];
/** Errors of Batch's API that a retry can fix (throttled or failed SubmitJob/DescribeJobs). */
const BATCH_TRANSIENT_ERRORS = ['Batch.AWSBatchException', 'Batch.TooManyRequestsException', 'Batch.ServerException'];
/** Errors of SageMaker's API that a retry can fix. */
const SAGEMAKER_TRANSIENT_ERRORS = ['SageMaker.ThrottlingException', 'SageMaker.InternalFailure', 'SageMaker.ServiceUnavailable'];
/** Retry policy of every transient error: 2 s, then doubling, 6 attempts (about 2 minutes), with jitter. */
const TRANSIENT_RETRY = { interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL };

/**
 * A gated retraining pipeline (Step Functions): point-in-time training set → data gate → train (Batch on a spot
 * fleet) → evaluate → model gate (challenger vs the latest approved package, serving constraints) → model package.
 * Steps are idempotent, keyed by the execution name (a retried step finds its own output); each retries transient
 * errors with backoff and has a timeout; failures alarm.
 */
export class TrainingPipeline extends Construct {
  /** The state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** Bucket of training sets, models and evaluations: versioned and retained, so earlier models stay deployable. */
  public readonly bucket: s3.Bucket;
  /** The model package group the pipeline registers into. */
  public readonly modelPackageGroup: sagemaker.CfnModelPackageGroup;
  /** Name of the model package group (give it to a CanaryRollout's `startOnModelApproval`). */
  public readonly modelPackageGroupName: string;
  /** The training set step's function (grant it the spine table's data when it lives outside the store). */
  public readonly trainingSetFunction: lambda.Function;
  /** The failed and timed-out executions alarms. */
  public readonly alarms: cloudwatch.Alarm[];
  /** The action the alarms notify. */
  public readonly alarmAction: cloudwatch.IAlarmAction;
  /** The topic created for the alarms, when no `alarmAction` was given. */
  public readonly alarmTopic?: AlarmTopic;

  constructor(scope: Construct, id: string, props: TrainingPipelineProps) {
    super(scope, id);
    throwIfProblems(this, validateTrainingPipelineProps(props));
    deliverAccessLogsByBucketPolicy(this);
    const key = new kms.Key(this, 'Key', { enableKeyRotation: true, description: `Training sets, models and evaluations of ${this.node.path}` });
    this.bucket = createDataBucket(this, 'Bucket', {
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: createAccessLogsBucket(this, 'AccessLogs', { logsOf: 'the training bucket', retention: Duration.days(90) }),
    });
    this.modelPackageGroupName = props.modelName;
    this.modelPackageGroup = new sagemaker.CfnModelPackageGroup(this, 'ModelPackageGroup', {
      modelPackageGroupName: props.modelName,
      modelPackageGroupDescription: `Models of ${props.modelName} registered by ${this.node.path}`,
    });
    this.modelPackageGroup.applyRemovalPolicy(RemovalPolicy.RETAIN);

    const common = { bucket: this.bucket.bucketName, modelName: props.modelName };
    this.trainingSetFunction = createHandlerFunction(this, 'TrainingSetFunction', {
      handler: TrainingHandlers.TRAINING_SET,
      description: `Builds the point-in-time training set of ${props.modelName}`,
      timeout: Duration.minutes(15),
      memorySize: TRAINING_SET_MEMORY,
      environment: trainingStepEnvironment({
        ...common, views: props.views.map((v) => v.toSpec()), featureRefs: props.featureRefs, spineTable: props.spineTable,
        athenaWorkGroup: props.featureStore.workgroupName, athenaDatabase: props.featureStore.databaseName,
      }),
    });
    props.featureStore.grantReadOffline(this.trainingSetFunction, props.views);
    grantObjectAccess(this.bucket, this.trainingSetFunction, { read: [TRAINING_SETS], write: [TRAINING_SETS], list: [TRAINING_SETS] });
    if (props.spineData) this.grantSpineRead(props.spineTable, props.spineData, props.featureStore.databaseName);

    const dataGateFunction = createHandlerFunction(this, 'DataGateFunction', {
      handler: TrainingHandlers.DATA_GATE,
      description: `Data gate of ${props.modelName}'s training sets`,
      timeout: Duration.minutes(5),
      // It reads the training set the first step built with as much memory.
      memorySize: TRAINING_SET_MEMORY,
      environment: trainingStepEnvironment({
        ...common, dataGate: dataGateSettings(props), baselineBucket: props.baseline?.bucket.bucketName, baselineVersion: props.baseline?.modelVersion,
      }),
    });
    grantObjectAccess(this.bucket, dataGateFunction, { read: [TRAINING_SETS] });
    const baselines = `baselines/model=${props.modelName}/*`;
    if (props.baseline) grantObjectAccess(props.baseline.bucket, dataGateFunction, { read: [baselines], list: [baselines] });

    const modelGateFunction = createHandlerFunction(this, 'ModelGateFunction', {
      handler: TrainingHandlers.MODEL_GATE,
      description: `Model gate of ${props.modelName}'s challengers`,
      environment: trainingStepEnvironment({
        ...common, modelGate: props.modelGate, modelPackageGroup: props.modelName,
      }),
    });
    grantObjectAccess(this.bucket, modelGateFunction, { read: [EVALUATIONS] });
    const stack = Stack.of(this);
    const packageArns = stack.formatArn({ service: 'sagemaker', resource: 'model-package', resourceName: `${props.modelName}/*` });
    modelGateFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['sagemaker:ListModelPackages'], resources: ['*'] }));
    Validations.of(modelGateFunction.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'sagemaker:ListModelPackages (whether the group has an approved champion), xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions; every other statement of this role is scoped',
    });

    const modelArtifactUri = sfn.JsonPath.stringAt(`${TrainingStatePaths.TRAINING}.modelArtifactUri`);
    const evaluationUri = sfn.JsonPath.format(`s3://${this.bucket.bucketName}/${TrainingLayout.evaluationKey('{}')}`, sfn.JsonPath.executionName);

    const buildSet = this.lambdaStep('BuildTrainingSet', this.trainingSetFunction, TrainingStatePaths.TRAINING_SET,
      { execution: sfn.JsonPath.executionName, input: sfn.JsonPath.stringAt('$$.Execution.Input') } satisfies Payload<TrainingSetEvent>, Duration.minutes(15));
    const dataGate = this.lambdaStep('DataGate', dataGateFunction, TrainingStatePaths.DATA_GATE,
      { execution: sfn.JsonPath.executionName, trainingSet: sfn.JsonPath.stringAt(TrainingStatePaths.TRAINING_SET) } satisfies Payload<DataGateEvent>, Duration.minutes(5));
    const training = props.trainer._bind(this, {
      modelName: props.modelName,
      bucket: this.bucket,
      grantTrainingAccess: (grantee) => grantObjectAccess(this.bucket, grantee, { read: [TRAINING_SETS], write: [MODELS] }),
    });
    const train = training.step;
    for (const step of [train, training.onDemand?.step]) step?.addRetry({ errors: [...BATCH_TRANSIENT_ERRORS, ...SAGEMAKER_TRANSIENT_ERRORS], ...TRANSIENT_RETRY });

    grantObjectAccess(this.bucket, props.evaluation.jobRole, { read: [TRAINING_SETS, MODELS], write: [EVALUATIONS] });
    const evaluate = new BatchJobStep(this, 'Evaluate', props.evaluation.timeout ?? Duration.hours(4), {
      comment: 'The evaluation image measures the challenger and the champion on the same held-out data, and the challenger\'s p99 latency and throughput on the inference server and model size',
      jobName: 'evaluate',
      jobQueueArn: props.evaluation.jobQueue.jobQueueArn,
      jobDefinitionArn: props.evaluation.jobDefinition.jobDefinitionArn,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      containerOverrides: {
        environment: {
          [TrainingJobVariables.TRAINING_SET_URI]: sfn.JsonPath.stringAt(`${TrainingStatePaths.TRAINING_SET}.uri`),
          [TrainingJobVariables.MODEL_ARTIFACT_URI]: modelArtifactUri,
          [TrainingJobVariables.EVALUATION_URI]: evaluationUri,
          [TrainingJobVariables.CHAMPION_MODEL_URI]: sfn.JsonPath.stringAt(`${CHAMPION_PATH}.modelDataUrl`),
        },
      },
      resultPath: sfn.JsonPath.DISCARD,
    });
    evaluate.addRetry({ errors: BATCH_TRANSIENT_ERRORS, ...TRANSIENT_RETRY });
    const findChampion = this.findChampion(packageArns, evaluate);

    const modelGate = this.lambdaStep('ModelGate', modelGateFunction, TrainingStatePaths.MODEL_GATE, {
      execution: sfn.JsonPath.executionName,
      input: sfn.JsonPath.stringAt('$$.Execution.Input'),
      trainingSet: sfn.JsonPath.stringAt(TrainingStatePaths.TRAINING_SET),
      dataGate: sfn.JsonPath.stringAt(TrainingStatePaths.DATA_GATE),
      modelArtifactUri,
      evaluationUri,
    } satisfies Payload<ModelGateEvent>, Duration.minutes(1));

    const register = new tasks.CallAwsService(this, 'RegisterModel', {
      comment: 'Registers the challenger with its lineage; the client token makes a retried call return the same package',
      service: 'sagemaker',
      action: 'createModelPackage',
      iamResources: [packageArns],
      iamAction: 'sagemaker:CreateModelPackage',
      parameters: {
        ModelPackageGroupName: props.modelName,
        ModelPackageDescription: sfn.JsonPath.format('Trained by execution {}', sfn.JsonPath.executionName),
        ModelApprovalStatus: props.autoApprove ? 'Approved' : 'PendingManualApproval',
        ClientToken: sfn.JsonPath.hash(sfn.JsonPath.executionName, 'MD5'),
        InferenceSpecification: {
          Containers: [{ Image: props.inferenceImageUri, ModelDataUrl: modelArtifactUri }],
          SupportedContentTypes: ['application/json'],
          SupportedResponseMIMETypes: ['application/json'],
        },
        CustomerMetadataProperties: sfn.JsonPath.objectAt(`${TrainingStatePaths.MODEL_GATE}.modelPackageMetadata`),
      },
      resultSelector: { 'arn.$': '$.ModelPackageArn' },
      resultPath: TrainingStatePaths.MODEL_PACKAGE,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    register.addRetry({ errors: SAGEMAKER_TRANSIENT_ERRORS, ...TRANSIENT_RETRY });

    // The lineage facts are checked before anything runs: a run must not train for hours and then fail to register.
    const definition = new sfn.Choice(this, 'CheckInput', { comment: 'The execution input carries the lineage facts: { "codeVersion": "<git sha>", "imageDigest": "sha256:<64 hex>" }' })
      .when(sfn.Condition.and(
        sfn.Condition.isPresent('$.codeVersion'), sfn.Condition.isString('$.codeVersion'),
        sfn.Condition.isPresent('$.imageDigest'), sfn.Condition.stringMatches('$.imageDigest', 'sha256:*'),
      ), buildSet)
      .otherwise(new sfn.Fail(this, 'InvalidInput', {
        error: 'InvalidInput',
        cause: 'Start the execution with { "codeVersion": "<git sha>", "imageDigest": "sha256:<64 hex>" }: the lineage recorded with the package',
      }));
    buildSet
      .next(dataGate)
      .next(this.gate('DataGatePassed', TrainingStatePaths.DATA_GATE, 'DataGateFailed', 'The training set failed the data gate; nothing was trained',
        this.trained(training, findChampion).next(modelGate).next(this.gate('ModelGatePassed', TrainingStatePaths.MODEL_GATE, 'ModelGateFailed',
          'The challenger failed the model gate; nothing was registered', register.next(new sfn.Succeed(this, 'Registered'))))));

    const logGroup = new logs.LogGroup(this, 'ExecutionLogs', { retention: logs.RetentionDays.SIX_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: PIPELINE_TIMEOUT,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: `Gated retraining of ${props.modelName}`,
    });
    for (const statement of training.policyStatements) this.stateMachine.addToRolePolicy(statement);
    // Batch's Run a Job (.sync) follows the job with DescribeJobs and terminates it when the step times out or the
    // execution stops (BatchSubmitJob grants neither): without them a stopped execution leaves the GPU job running.
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }));
    this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:TerminateJob'], resources: [BATCH_JOBS(stack)] }));

    if (props.schedule) {
      new events.Rule(this, 'Schedule', {
        description: `Retrains ${props.modelName}`,
        schedule: events.Schedule.rate(props.schedule),
        targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject(props.scheduledRunInput ?? {}) })],
      });
    }

    const notifications = alarmActionOf(this, props);
    this.alarmAction = notifications.action;
    this.alarmTopic = notifications.topic;
    this.alarms = [
      anyFailureAlarm(this, 'FailedAlarm', this.stateMachine.metricFailed({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
        `A retraining of ${props.modelName} failed (a gate refused, or a step failed after its retries); the execution's failed state names the cause`),
      anyFailureAlarm(this, 'TimedOutAlarm', this.stateMachine.metricTimedOut({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
        `A retraining of ${props.modelName} timed out`),
    ];
    notifyOnStateChanges(this.alarmAction, this.alarms);

    this.acknowledgeStateMachineWildcards([this.trainingSetFunction, dataGateFunction, modelGateFunction], packageArns, training.wildcardResources);
  }

  /** cdk-nag findings of the state machine's role: each pattern the task integrations grant, with why it is one. */
  private acknowledgeStateMachineWildcards(functions: lambda.IFunction[], packageArns: string, trainer: TrainerBinding['wildcardResources']): void {
    const role = this.stateMachine.role;
    acknowledgeWildcards(role, functions.map((fn) => `${fn.functionArn}:*`),
      'The Lambda task integration invokes the function by any version or alias (<arn>:*); the functions are the pipeline\'s own steps');
    acknowledgeWildcards(role, [Stack.of(this).formatArn({ service: 'batch', resource: 'job-definition', resourceName: '*' })],
      'The Batch RUN_JOB integration grants batch:SubmitJob on job definitions by any revision (job-definition/*); SubmitJob is also scoped to the given job queues');
    acknowledgeWildcards(role, [packageArns], PACKAGES_REASON);
    acknowledgeWildcards(role, trainer.resources, trainer.reason);
    acknowledgeWildcards(role, [BATCH_JOBS(Stack.of(this))],
      'Batch job ARNs carry the job id Batch assigns at submission: batch:TerminateJob on job/* lets Step Functions stop the job of a stopped or timed-out step');
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'batch:DescribeJobs (the .sync Batch integration following its job), sagemaker:ListModelPackages (finding the champion), CloudWatch Logs delivery (logs:CreateLogDelivery and the other vended-log actions) and X-Ray (xray:PutTraceSegments, GetSamplingRules) support no resource-level permissions; every other statement is scoped',
    });
  }

  /** Grants starting an execution by hand (`aws stepfunctions start-execution`). */
  public grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private lambdaStep(id: string, fn: lambda.IFunction, resultPath: string, payload: object, timeout: Duration): tasks.LambdaInvoke {
    const step = new tasks.LambdaInvoke(this, id, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath,
      taskTimeout: sfn.Timeout.duration(timeout),
    });
    step.addRetry({ errors: [...LAMBDA_TRANSIENT_ERRORS, TRAINING_STEP_TRANSIENT_ERROR], ...TRANSIENT_RETRY });
    return step;
  }

  /** Lets the training set step's Athena queries read the spine table: its Glue definition and its objects. */
  private grantSpineRead(spineTable: string, data: { readonly bucket: s3.IBucket; readonly prefix: string }, storeDatabase: string): void {
    const [database, table] = spineTable.includes('.') ? spineTable.split('.') : [storeDatabase, spineTable];
    const stack = Stack.of(this);
    this.trainingSetFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions'],
      resources: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: database }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${database}/${table}` }),
      ],
    }));
    const objects = `${data.prefix}*`;
    grantObjects(data.bucket, this.trainingSetFunction, { read: [objects], list: [objects] }, 'S3 scopes object permissions by key only: the grant covers the spine table\'s files (its prefix), nothing else of the bucket');
  }

  /**
   * The training step followed by `next`. With an on-demand fallback, a failure whose cause names the capacity
   * shortage (the production queue cancelled the job) trains again on on-demand capacity; any other failure ends the
   * execution with the step's error and cause.
   */
  private trained(training: TrainerBinding, next: sfn.IChainable): sfn.Chain {
    if (training.onDemand) {
      const { step: onDemand, capacityShortage } = training.onDemand;
      onDemand.next(next);
      training.step.addCatch(new sfn.Choice(this, 'CapacityShortage', { comment: `Did the production queue cancel the job (${capacityShortage})?` })
        .when(sfn.Condition.stringMatches(`${TRAINING_FAILURE_PATH}.Cause`, `*${capacityShortage}*`), onDemand)
        .otherwise(new sfn.Fail(this, 'TrainingFailed', { errorPath: `${TRAINING_FAILURE_PATH}.Error`, causePath: `${TRAINING_FAILURE_PATH}.Cause` })),
      { errors: [sfn.Errors.TASKS_FAILED], resultPath: TRAINING_FAILURE_PATH });
    }
    return sfn.Chain.start(training.step).next(next);
  }

  /**
   * The champion for the evaluation job: the group's latest approved package (ListModelPackages, newest first, one)
   * and its model artifact (DescribeModelPackage), or '' when none is approved yet; then `evaluate`.
   */
  private findChampion(packageArns: string, evaluate: sfn.IChainable & sfn.INextable): sfn.Chain {
    const find = new tasks.CallAwsService(this, 'FindChampion', {
      comment: 'The champion: the latest approved package of the group',
      service: 'sagemaker',
      action: 'listModelPackages',
      // ListModelPackages supports no resource-level permissions.
      iamResources: ['*'],
      iamAction: 'sagemaker:ListModelPackages',
      parameters: { ModelPackageGroupName: this.modelPackageGroupName, ModelApprovalStatus: 'Approved', SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 1 },
      resultSelector: { 'packages.$': '$.ModelPackageSummaryList' },
      resultPath: CHAMPION_PATH,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    const describe = new tasks.CallAwsService(this, 'DescribeChampion', {
      service: 'sagemaker',
      action: 'describeModelPackage',
      iamResources: [packageArns],
      iamAction: 'sagemaker:DescribeModelPackage',
      parameters: { ModelPackageName: sfn.JsonPath.stringAt(`${CHAMPION_PATH}.packages[0].ModelPackageArn`) },
      resultSelector: { 'arn.$': '$.ModelPackageArn', 'modelDataUrl.$': '$.InferenceSpecification.Containers[0].ModelDataUrl' },
      resultPath: CHAMPION_PATH,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    for (const step of [find, describe]) step.addRetry({ errors: SAGEMAKER_TRANSIENT_ERRORS, ...TRANSIENT_RETRY });
    const none = new sfn.Pass(this, 'NoChampion', { result: sfn.Result.fromObject({ modelDataUrl: '' }), resultPath: CHAMPION_PATH });
    return find.next(new sfn.Choice(this, 'HasChampion')
      .when(sfn.Condition.isPresent(`${CHAMPION_PATH}.packages[0]`), describe)
      .otherwise(none)
      .afterwards())
      .next(evaluate);
  }

  private gate(id: string, resultPath: string, failId: string, error: string, next: sfn.IChainable): sfn.Choice {
    const failed = new sfn.Fail(this, failId, { error: failId, causePath: `${resultPath}.cause`, comment: error });
    return new sfn.Choice(this, id).when(sfn.Condition.booleanEquals(`${resultPath}.passed`, true), next).otherwise(failed);
  }
}
