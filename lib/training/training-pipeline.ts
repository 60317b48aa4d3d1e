/**
 * TrainingPipeline: a Step Functions DAG that retrains a model behind gates and registers it.
 *
 *   BuildTrainingSet (Lambda) → DataGate (Lambda) → [DataGatePassed?] → Train (Batch RUN_JOB on a spot fleet)
 *   → Evaluate (Batch RUN_JOB, the user's evaluation image) → ModelGate (Lambda) → [ModelGatePassed?]
 *   → RegisterModel (sagemaker:createModelPackage) → Succeeded
 *
 * A failed gate ends the execution in a Fail state whose cause is the gate's reasons: nothing is trained after a
 * failed data gate, nothing registered after a failed model gate.
 */
import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
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
import { checkpointEnvironment } from '../../runtime/contracts/checkpoint';
import {
  DataGateEvent, DataGateSettings, ModelGateEvent, ModelGateSettings, TrainingHandlers, TrainingJobVariables, TrainingLayout, TrainingSetEvent, TrainingStatePaths, trainingStepEnvironment,
} from '../../runtime/contracts/training-pipeline';
import type { FeatureView } from '../features/feature-view';
import type { AlarmActionProps } from '../monitoring/alarm-actions';
import type { AlarmTopic } from '../monitoring/alarm-topic';
import { createAccessLogsBucket, createDataBucket, deliverAccessLogsByBucketPolicy } from '../private/access-logs';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from '../private/alarm-actions';
import { createHandlerFunction } from '../private/handler-function';
import { validateTrainingPipelineProps } from '../private/validate-training-pipeline-props';
import { throwIfProblems } from '../private/validation';

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
  /** Queue of time-critical jobs: spot first, on-demand behind it. */
  readonly productionQueue: batch.IJobQueue;
  /** The training job definition (GPU, retries on spot reclaims, the checkpoint contract). */
  readonly jobDefinition: batch.IJobDefinition;
  /** Bucket of the checkpoints. */
  readonly checkpointBucket: s3.IBucket;
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
   * Longest an evaluation may run.
   * @default Duration.hours(2)
   */
  readonly timeout?: Duration;
}

/** Where the training step runs. */
export abstract class Trainer {
  /**
   * Train on a Batch fleet's production queue (RUN_JOB: the step waits for the job; Batch retries spot reclaims with
   * the job definition's retry strategy). The job receives the checkpoint contract with a prefix per execution
   * (`checkpoints/<execution name>`, stable across attempts), the training set's URI and hash, and the URI to write its
   * `model.tar.gz` to.
   */
  public static batch(fleet: ITrainingFleet, options: BatchTrainerOptions = {}): Trainer {
    return new BatchTrainer(fleet, options);
  }

  /** @internal */
  public abstract _bind(scope: Construct, context: TrainerContext): sfn.TaskStateBase;

  /** Acknowledges the prefix-scoped wildcards granted to the training role. @internal */
  public abstract _acknowledge(reason: string): void;
}

/** Options of `Trainer.batch`. */
export interface BatchTrainerOptions {
  /**
   * Longest the training job may run, all attempts together.
   * @default Duration.days(3)
   */
  readonly timeout?: Duration;
}

/** What a trainer binds against. @internal */
export interface TrainerContext {
  readonly bucket: s3.IBucket;
  readonly modelArtifactUri: string;
}

class BatchTrainer extends Trainer {
  constructor(private readonly fleet: ITrainingFleet, private readonly options: BatchTrainerOptions) {
    super();
  }

  public _acknowledge(reason: string): void {
    if (Construct.isConstruct(this.fleet.jobRole)) Validations.of(this.fleet.jobRole).acknowledge({ id: 'AwsSolutions-IAM5', reason });
  }

  public _bind(scope: Construct, context: TrainerContext): sfn.TaskStateBase {
    context.bucket.grantRead(this.fleet.jobRole, `${TrainingLayout.trainingSetPrefix('*')}*`);
    context.bucket.grantReadWrite(this.fleet.jobRole, `${TrainingLayout.modelPrefix('*')}*`);
    return new tasks.BatchSubmitJob(scope, 'Train', {
      comment: 'Trains on the fleet\'s production queue; Batch retries spot reclaims, the job resumes from its checkpoints',
      jobName: 'train',
      jobQueueArn: this.fleet.productionQueue.jobQueueArn,
      jobDefinitionArn: this.fleet.jobDefinition.jobDefinitionArn,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      containerOverrides: {
        environment: {
          ...checkpointEnvironment({
            bucket: this.fleet.checkpointBucket.bucketName,
            prefix: sfn.JsonPath.format(`${TrainingLayout.checkpointPrefix('{}')}`, sfn.JsonPath.executionName),
          }),
          [TrainingJobVariables.TRAINING_SET_URI]: sfn.JsonPath.stringAt(`${TrainingStatePaths.TRAINING_SET}.uri`),
          [TrainingJobVariables.TRAINING_SET_SHA256]: sfn.JsonPath.stringAt(`${TrainingStatePaths.TRAINING_SET}.sha256`),
          [TrainingJobVariables.MODEL_ARTIFACT_URI]: context.modelArtifactUri,
        },
      },
      taskTimeout: sfn.Timeout.duration(this.options.timeout ?? Duration.days(3)),
      resultSelector: { 'jobId.$': '$.JobId' },
      resultPath: TrainingStatePaths.TRAINING,
    });
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
   * `table` or `database.table`. Grant its data to `trainingSetFunction` when it lives outside the store.
   */
  readonly spineTable: string;
  /** The data gate's spec: schema, null rates, row count, label; drift against the baseline when given. */
  readonly dataGate: DataGateSettings;
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
}

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
      memorySize: Size.mebibytes(3008),
      environment: trainingStepEnvironment({
        ...common, views: props.views.map((v) => v.toSpec()), featureRefs: props.featureRefs, spineTable: props.spineTable,
        athenaWorkGroup: props.featureStore.workgroupName, athenaDatabase: props.featureStore.databaseName,
      }),
    });
    props.featureStore.grantReadOffline(this.trainingSetFunction, props.views);
    this.bucket.grantReadWrite(this.trainingSetFunction, `${TrainingLayout.trainingSetPrefix('*')}*`);

    const dataGateFunction = createHandlerFunction(this, 'DataGateFunction', {
      handler: TrainingHandlers.DATA_GATE,
      description: `Data gate of ${props.modelName}'s training sets`,
      timeout: Duration.minutes(5),
      environment: trainingStepEnvironment({
        ...common, dataGate: props.dataGate, baselineBucket: props.baseline?.bucket.bucketName, baselineVersion: props.baseline?.modelVersion,
      }),
    });
    this.bucket.grantRead(dataGateFunction, `${TrainingLayout.trainingSetPrefix('*')}*`);
    props.baseline?.bucket.grantRead(dataGateFunction, `baselines/model=${props.modelName}/*`);

    const modelGateFunction = createHandlerFunction(this, 'ModelGateFunction', {
      handler: TrainingHandlers.MODEL_GATE,
      description: `Model gate of ${props.modelName}'s challengers`,
      environment: trainingStepEnvironment({
        ...common, modelGate: props.modelGate, modelPackageGroup: props.modelName,
      }),
    });
    this.bucket.grantRead(modelGateFunction, `${TrainingLayout.evaluationKey('*')}`);
    const stack = Stack.of(this);
    const packageArns = stack.formatArn({ service: 'sagemaker', resource: 'model-package', resourceName: `${props.modelName}/*` });
    modelGateFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['sagemaker:ListModelPackages'], resources: ['*'] }));
    modelGateFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeModelPackage'], resources: [packageArns] }));

    const modelArtifactUri = sfn.JsonPath.format(`s3://${this.bucket.bucketName}/${TrainingLayout.modelPrefix('{}')}${TrainingLayout.MODEL_FILE}`, sfn.JsonPath.executionName);
    const evaluationUri = sfn.JsonPath.format(`s3://${this.bucket.bucketName}/${TrainingLayout.evaluationKey('{}')}`, sfn.JsonPath.executionName);

    const buildSet = this.lambdaStep('BuildTrainingSet', this.trainingSetFunction, TrainingStatePaths.TRAINING_SET,
      { execution: sfn.JsonPath.executionName } satisfies Payload<TrainingSetEvent>, Duration.minutes(15));
    const dataGate = this.lambdaStep('DataGate', dataGateFunction, TrainingStatePaths.DATA_GATE,
      { execution: sfn.JsonPath.executionName, trainingSet: sfn.JsonPath.stringAt(TrainingStatePaths.TRAINING_SET) } satisfies Payload<DataGateEvent>, Duration.minutes(5));
    const train = props.trainer._bind(this, { bucket: this.bucket, modelArtifactUri });
    train.addRetry({ errors: [...BATCH_TRANSIENT_ERRORS, ...SAGEMAKER_TRANSIENT_ERRORS], ...TRANSIENT_RETRY });

    this.bucket.grantRead(props.evaluation.jobRole, `${TrainingLayout.trainingSetPrefix('*')}*`);
    this.bucket.grantRead(props.evaluation.jobRole, `${TrainingLayout.modelPrefix('*')}*`);
    this.bucket.grantWrite(props.evaluation.jobRole, `${TrainingLayout.evaluationKey('*')}`);
    const evaluate = new tasks.BatchSubmitJob(this, 'Evaluate', {
      comment: 'The evaluation image measures the challenger: metrics on held-out data, p99 latency and throughput on the inference server, model size',
      jobName: 'evaluate',
      jobQueueArn: props.evaluation.jobQueue.jobQueueArn,
      jobDefinitionArn: props.evaluation.jobDefinition.jobDefinitionArn,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      containerOverrides: {
        environment: {
          [TrainingJobVariables.TRAINING_SET_URI]: sfn.JsonPath.stringAt(`${TrainingStatePaths.TRAINING_SET}.uri`),
          [TrainingJobVariables.MODEL_ARTIFACT_URI]: modelArtifactUri,
          [TrainingJobVariables.EVALUATION_URI]: evaluationUri,
        },
      },
      taskTimeout: sfn.Timeout.duration(props.evaluation.timeout ?? Duration.hours(2)),
      resultPath: sfn.JsonPath.DISCARD,
    });
    evaluate.addRetry({ errors: BATCH_TRANSIENT_ERRORS, ...TRANSIENT_RETRY });

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

    const definition = buildSet
      .next(dataGate)
      .next(this.gate('DataGatePassed', TrainingStatePaths.DATA_GATE, 'DataGateFailed', 'The training set failed the data gate; nothing was trained',
        train.next(evaluate).next(modelGate).next(this.gate('ModelGatePassed', TrainingStatePaths.MODEL_GATE, 'ModelGateFailed',
          'The challenger failed the model gate; nothing was registered', register.next(new sfn.Succeed(this, 'Registered'))))));

    const logGroup = new logs.LogGroup(this, 'ExecutionLogs', { retention: logs.RetentionDays.SIX_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: Duration.days(5),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: `Gated retraining of ${props.modelName}`,
    });

    if (props.schedule) {
      new events.Rule(this, 'Schedule', {
        description: `Retrains ${props.modelName}`,
        schedule: events.Schedule.rate(props.schedule),
        targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject({}) })],
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

    const reason = 'S3 object permissions are scoped by key prefix to the pipeline\'s layout (training-sets/, models/, evaluations/ per execution), '
      + 'KMS actions come from the bucket\'s grants (through S3 only), Lambda invokes carry version qualifiers, Batch RUN_JOB needs job definitions by '
      + 'revision and its managed rule, and CreateModelPackage / DescribeModelPackage are scoped to this model\'s package group; '
      + 'sagemaker:ListModelPackages supports no resource-level permissions';
    for (const grantee of [this.stateMachine.role, this.trainingSetFunction.role, dataGateFunction.role, modelGateFunction.role, props.evaluation.jobRole]) {
      if (Construct.isConstruct(grantee)) Validations.of(grantee).acknowledge({ id: 'AwsSolutions-IAM5', reason });
    }
    props.trainer._acknowledge(reason);
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
    step.addRetry({ errors: LAMBDA_TRANSIENT_ERRORS, ...TRANSIENT_RETRY });
    return step;
  }

  private gate(id: string, resultPath: string, failId: string, error: string, next: sfn.IChainable): sfn.Choice {
    const failed = new sfn.Fail(this, failId, { error: failId, causePath: `${resultPath}.cause`, comment: error });
    return new sfn.Choice(this, id).when(sfn.Condition.booleanEquals(`${resultPath}.passed`, true), next).otherwise(failed);
  }
}
