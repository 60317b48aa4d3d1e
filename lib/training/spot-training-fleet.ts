import { ArnFormat, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { checkpointEnvironment, INTERRUPTED_EXIT_CODE } from '../../runtime/contracts/checkpoint';
import { METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { GpuInstanceType } from '../compute/gpu-instance-type';
import { AlarmActionProps } from '../monitoring/alarm-actions';
import { AlarmTopic } from '../monitoring/alarm-topic';
import { createAccessLogsBucket, createDataBucket, deliverAccessLogsByBucketPolicy } from '../private/access-logs';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from '../private/alarm-actions';
import { grantObjectAccess } from '../private/object-grants';
import { throwIfProblems } from '../private/validation';
import { spotTrainingFleetProblems, SpotTrainingFleetDefaults } from '../private/validate-spot-training-fleet-props';

/** Properties of a `SpotTrainingFleet`. */
export interface SpotTrainingFleetProps extends AlarmActionProps {
  /** The VPC the training instances run in. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the instances: they need a route to ECR, S3 and CloudWatch Logs (NAT or VPC endpoints).
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * GPU instance types the fleet launches. List several families: each is a separate spot capacity pool, and
   * price-capacity-optimized allocation picks the deepest, cheapest ones.
   * @default [GpuInstanceType.G6_XLARGE, GpuInstanceType.G5_XLARGE, GpuInstanceType.G6E_XLARGE]
   */
  readonly instanceTypes?: GpuInstanceType[];
  /** Most vCPUs the spot environment runs at once (4 per xlarge instance). @default 64 */
  readonly maxvCpus?: number;
  /** Most vCPUs the on-demand environment behind the production queue runs at once. @default - maxvCpus */
  readonly onDemandMaxvCpus?: number;
  /** The training container image. */
  readonly image: ecs.ContainerImage;
  /** Command of the training container. @default - the image's CMD */
  readonly command?: string[];
  /**
   * Further environment of the training container. The checkpoint variables (runtime/contracts/checkpoint.ts) are
   * set by the fleet. Batch job state change events carry the container's environment, so pass secrets as secrets.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /** GPUs per job: at most the GPU count of the smallest instance type. @default 1 */
  readonly gpusPerJob?: number;
  /** vCPUs per job. @default 4 */
  readonly jobVcpus?: number;
  /** Memory per job (less than the instance's: the ECS agent and the OS keep some). @default Size.gibibytes(14) */
  readonly jobMemory?: Size;
  /** Attempts of a job (1-10): spot reclaims are retried until they are spent. @default 5 */
  readonly attempts?: number;
  /** Longest time one attempt may run before Batch stops it (1 minute to 28 days). @default Duration.hours(24) */
  readonly attemptTimeout?: Duration;
  /** Root volume of the instances (encrypted gp3), holding the pulled images. @default Size.gibibytes(100) */
  readonly rootVolumeSize?: Size;
  /**
   * Base key prefix of the checkpoints in `checkpointBucket`. Each job's checkpoints go under
   * `<checkpointPrefix>/<AWS_BATCH_JOB_ID>`: the checkpoint helper appends the job id, which stays the same across the
   * attempts of one job, so a retried attempt resumes where the reclaimed one stopped.
   * @default 'checkpoints'
   */
  readonly checkpointPrefix?: string;
  /** Time between periodic checkpoints (1 minute to 2 hours). @default Duration.minutes(15) */
  readonly checkpointInterval?: Duration;
  /** Checkpoint generations kept by the helper. @default 3 */
  readonly checkpointsKept?: number;
  /** How long overwritten or deleted checkpoint objects stay recoverable (whole days). @default Duration.days(7) */
  readonly noncurrentCheckpointExpiration?: Duration;
  /** Customer-managed key of the checkpoint bucket. @default - a new key with rotation */
  readonly encryptionKey?: kms.IKey;
  /** Bucket receiving the checkpoint bucket's server access logs. @default - a new bucket, logs kept 90 days */
  readonly accessLogsBucket?: s3.IBucket;
  /** Alarm when more attempts than this are ended by spot reclaims in one hour. @default 5 */
  readonly interruptionsPerHourThreshold?: number;
  /**
   * How long a production job may wait RUNNABLE at the head of the production queue because EC2 has no capacity for
   * it (`CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY`) before Batch cancels it with that reason (10 minutes to 24 hours).
   * A `TrainingPipeline` catches that cancellation and submits the job to `onDemandQueue`.
   * @default Duration.minutes(30)
   */
  readonly onDemandFallbackAfter?: Duration;
}

/** Batch job queue priorities: a higher number is scheduled first. */
export const SpotTrainingQueuePriority = {
  /** Production retraining. */
  PRODUCTION: 100,
  /** Experiments. */
  EXPERIMENT: 10,
} as const;

/** Metric names of the fleet (namespace `MlPlatform`, dimension `Fleet`): written by metric filters, never by code. */
export const SpotTrainingFleetMetrics = {
  /** Jobs of the fleet's queues that ended FAILED. */
  FAILED_JOBS: 'TrainingJobsFailed',
  /**
   * Attempts ended by a spot reclaim, each counted once: a job going back to RUNNABLE after an attempt (the fleet's
   * retry strategy retries only reclaims: `Host EC2*`, or the helper's exit on the interruption notice), and a job
   * whose last attempt was reclaimed ending FAILED.
   */
  SPOT_INTERRUPTIONS: 'TrainingSpotInterruptions',
} as const;

/** Batch's status reason of an attempt whose instance was terminated (spot reclaim): what the retry strategy matches. */
const HOST_TERMINATED_REASON = 'Host EC2*';

/**
 * The fleet's retry strategy (Batch evaluates it in order, the first match wins; at most 5 entries): reclaimed hosts
 * are retried, and so are containers that saved their checkpoint on the interruption notice and exited with
 * INTERRUPTED_EXIT_CODE; any other exit code is final, and so is an attempt without one (the image could not be
 * pulled, the task did not start: when nothing matches, Batch retries). Give it to any job definition that runs on the
 * fleet's spot queues (e.g. an evaluation job), with `retryAttempts`.
 */
export function spotRetryStrategies(): batch.RetryStrategy[] {
  return [
    batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onStatusReason: HOST_TERMINATED_REASON })),
    batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: String(INTERRUPTED_EXIT_CODE) })),
    batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onExitCode: '*' })),
    batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onStatusReason: '*' })),
  ];
}
const ACCESS_LOG_RETENTION = Duration.days(90);
/** ECS agent setting: drain the instance on its spot interruption notice. */
const SPOT_DRAINING_SETTING = 'ECS_ENABLE_SPOT_INSTANCE_DRAINING=true';
const FLEET_DIMENSION = 'Fleet';

/**
 * A GPU training fleet on AWS Batch, built for spot: a spot compute environment (price-capacity-optimized over
 * several GPU instance types, the Amazon Linux 2023 NVIDIA ECS image, IMDSv2 with a hop limit containers reach, an
 * encrypted root volume) with an on-demand environment behind it; a production queue (priority 100: spot first, then
 * on-demand) and an experiment queue (priority 10, spot only); a GPU job definition whose retry strategy retries spot
 * reclaims (`Host EC2*`) and exits on application errors, with an attempt timeout; a checkpoint bucket (KMS,
 * versioned, lifecycle, TLS only, access-logged) the job role may use under the checkpoint prefix only; the checkpoint
 * contract as the container's environment; and alarms on failed jobs and on the spot interruption rate.
 *
 * Batch sends a production job to the on-demand environment when the spot environment has no vCPUs left within its
 * `maxvCpus`. A production job waiting RUNNABLE because EC2 has no capacity for it is cancelled after
 * `onDemandFallbackAfter` with the reason `CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY`; a `TrainingPipeline` then
 * submits it to `onDemandQueue` (on-demand only). Experiments wait on spot: list several families. The instances'
 * ECS agent drains a spot instance on its interruption notice (`ECS_ENABLE_SPOT_INSTANCE_DRAINING`): its tasks get
 * SIGTERM and Batch places no new job there.
 *
 * Batch publishes no job metrics: job state change events of the fleet's queues go through EventBridge to a log
 * group (`eventLog`: only the job id, name, queue, status and reason are written), and metric filters count failed
 * jobs and reclaimed attempts. That needs no function to run and keeps each event for a month to look at.
 *
 * @example
 * const fleet = new SpotTrainingFleet(stack, 'Training', {
 *   vpc, image: ecs.ContainerImage.fromEcrRepository(repo, 'v42'), alarmAction: alarms,
 * });
 * fleet.grantSubmit(pipelineRole, fleet.productionQueue);
 */
export class SpotTrainingFleet extends Construct {
  /** The spot compute environment. */
  public readonly spotEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  /** The on-demand compute environment behind the production queue. */
  public readonly onDemandEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  /** Production retraining: priority 100, spot then on-demand. */
  public readonly productionQueue: batch.JobQueue;
  /** Experiments: priority 10, spot only. */
  public readonly experimentQueue: batch.JobQueue;
  /** Time-critical jobs that found no capacity on the production queue: priority 100, on-demand only. */
  public readonly onDemandQueue: batch.JobQueue;
  /** Attempts of a job of `jobDefinition`. */
  public readonly attempts: number;
  /** Longest one attempt of a job of `jobDefinition` runs (Batch's AttemptDurationSeconds). */
  public readonly attemptTimeout: Duration;
  /** The GPU training job definition. */
  public readonly jobDefinition: batch.EcsJobDefinition;
  /** The role training containers run with. */
  public readonly jobRole: iam.Role;
  /** The checkpoint bucket. */
  public readonly checkpointBucket: s3.Bucket;
  /** The key of the checkpoint bucket. */
  public readonly encryptionKey: kms.IKey;
  /** Base key prefix of the checkpoints. */
  public readonly checkpointPrefix: string;
  /** The GPU instance types of the fleet. */
  public readonly instanceTypes: readonly GpuInstanceType[];
  /** Job state changes (failures and reclaimed attempts) of the fleet's queues. */
  public readonly eventLog: logs.LogGroup;
  /** Alarms: failed jobs, spot interruption rate. */
  public readonly alarms: cloudwatch.Alarm[];
  /** Where every alarm sends its ALARM and OK transitions: `alarmAction`, or `alarmTopic`. */
  public readonly alarmAction: cloudwatch.IAlarmAction;
  /** The topic created for the alarms when no `alarmAction` was given: subscribe to it. */
  public readonly alarmTopic?: AlarmTopic;

  constructor(scope: Construct, id: string, props: SpotTrainingFleetProps) {
    super(scope, id);
    throwIfProblems(this, spotTrainingFleetProblems(props));
    deliverAccessLogsByBucketPolicy(this);
    const defaults = SpotTrainingFleetDefaults;
    this.instanceTypes = [...(props.instanceTypes ?? [GpuInstanceType.G6_XLARGE, GpuInstanceType.G5_XLARGE, GpuInstanceType.G6E_XLARGE])];
    this.checkpointPrefix = props.checkpointPrefix ?? defaults.CHECKPOINT_PREFIX;

    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'Encrypts training checkpoints' });
    this.checkpointBucket = createDataBucket(this, 'CheckpointBucket', {
      encryptionKey: this.encryptionKey,
      serverAccessLogsBucket: props.accessLogsBucket ?? createAccessLogsBucket(this, 'CheckpointAccessLogs', { logsOf: 'the checkpoint bucket', retention: ACCESS_LOG_RETENTION }),
      serverAccessLogsPrefix: 'checkpoints/',
      lifecycleRules: [{
        id: 'old-checkpoints-and-uploads',
        noncurrentVersionExpiration: props.noncurrentCheckpointExpiration ?? defaults.NONCURRENT_CHECKPOINT_EXPIRATION,
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Batch takes a launch template's user data only as MIME multipart. On a spot interruption notice the ECS agent
    // drains the instance: its tasks are stopped (SIGTERM: the checkpoint helper saves) and nothing new is placed.
    const userData = new ec2.MultipartUserData();
    const ecsConfig = ec2.UserData.forLinux();
    ecsConfig.addCommands(`echo ${SPOT_DRAINING_SETTING} >> /etc/ecs/ecs.config`);
    userData.addPart(ec2.MultipartBody.fromUserData(ecsConfig));
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      userData,
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      // Containers are one hop further than the instance: the checkpoint helper reads the spot notice from IMDS.
      httpPutResponseHopLimit: 2,
      blockDevices: [{
        deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs((props.rootVolumeSize ?? defaults.ROOT_VOLUME_SIZE).toGibibytes(), {
          encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true,
        }),
      }],
    });
    const environment = (spot: boolean, maxvCpus: number) => new batch.ManagedEc2EcsComputeEnvironment(this, spot ? 'Spot' : 'OnDemand', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      spot,
      allocationStrategy: spot ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      instanceTypes: this.instanceTypes.map((t) => t.toEc2()),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      launchTemplate,
      maxvCpus,
      minvCpus: 0,
    });
    const maxvCpus = props.maxvCpus ?? defaults.MAX_VCPUS;
    this.spotEnvironment = environment(true, maxvCpus);
    this.onDemandEnvironment = environment(false, props.onDemandMaxvCpus ?? maxvCpus);
    this.productionQueue = new batch.JobQueue(this, 'ProductionQueue', {
      priority: SpotTrainingQueuePriority.PRODUCTION,
      computeEnvironments: [{ computeEnvironment: this.spotEnvironment, order: 1 }, { computeEnvironment: this.onDemandEnvironment, order: 2 }],
      jobStateTimeLimitActions: [{
        reason: batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
        state: batch.JobStateTimeLimitActionsState.RUNNABLE,
        maxTime: props.onDemandFallbackAfter ?? defaults.ON_DEMAND_FALLBACK_AFTER,
        action: batch.JobStateTimeLimitActionsAction.CANCEL,
      }],
    });
    this.onDemandQueue = new batch.JobQueue(this, 'OnDemandQueue', {
      priority: SpotTrainingQueuePriority.PRODUCTION,
      computeEnvironments: [{ computeEnvironment: this.onDemandEnvironment, order: 1 }],
    });
    this.experimentQueue = new batch.JobQueue(this, 'ExperimentQueue', {
      priority: SpotTrainingQueuePriority.EXPERIMENT,
      computeEnvironments: [{ computeEnvironment: this.spotEnvironment, order: 1 }],
    });

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Training containers of the spot training fleet: checkpoints under the checkpoint prefix',
    });
    const checkpoints = `${this.checkpointPrefix}/*`;
    grantObjectAccess(this.checkpointBucket, this.jobRole, { read: [checkpoints], write: [checkpoints], delete: [checkpoints], list: [checkpoints] },
      'Checkpoints are objects under the checkpoint prefix whose keys the job chooses: S3 scopes object permissions by key prefix only');
    const container = new batch.EcsEc2ContainerDefinition(this, 'Container', {
      image: props.image,
      command: props.command,
      cpu: props.jobVcpus ?? defaults.JOB_VCPUS,
      memory: props.jobMemory ?? defaults.JOB_MEMORY,
      gpu: props.gpusPerJob ?? defaults.GPUS_PER_JOB,
      jobRole: this.jobRole,
      environment: {
        ...props.environment,
        ...checkpointEnvironment({
          bucket: this.checkpointBucket.bucketName,
          prefix: this.checkpointPrefix,
          intervalS: props.checkpointInterval?.toSeconds(),
          keep: props.checkpointsKept,
        }),
      },
    });
    this.attempts = props.attempts ?? defaults.ATTEMPTS;
    this.attemptTimeout = props.attemptTimeout ?? defaults.ATTEMPT_TIMEOUT;
    this.jobDefinition = new batch.EcsJobDefinition(this, 'JobDefinition', {
      container,
      retryAttempts: this.attempts,
      retryStrategies: spotRetryStrategies(),
      timeout: this.attemptTimeout,
      propagateTags: true,
    });
    this.acknowledgeBatchRoles(container);

    this.eventLog = new logs.LogGroup(this, 'JobEvents', {
      logGroupName: `/aws/events/${Stack.of(this).stackName}-${this.node.addr.slice(0, 12)}-training-jobs`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.recordJobEvents();
    const fleet = this.node.addr;
    this.alarms = [
      anyFailureAlarm(this, 'FailedJobsAlarm', this.metricFailedJobs(),
        'A training job of the spot training fleet failed (application error, spent attempts or timeout): see the fleet\'s job event log and the job\'s logs'),
      new cloudwatch.Alarm(this, 'InterruptionsAlarm', {
        metric: this.metricSpotInterruptions(),
        threshold: props.interruptionsPerHourThreshold ?? defaults.INTERRUPTIONS_PER_HOUR,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Spot reclaims of fleet ${fleet} exceed the threshold in an hour: add instance types or families, or move time-critical jobs to the production queue`,
      }),
    ];
    const notifications = alarmActionOf(this, props);
    this.alarmAction = notifications.action;
    this.alarmTopic = notifications.topic;
    notifyOnStateChanges(this.alarmAction, this.alarms);
  }

  /** Lets `grantee` submit jobs of the fleet's job definition to `queue` (`batch:SubmitJob` on both). */
  public grantSubmit(grantee: iam.IGrantable, queue: batch.IJobQueue): void {
    this.jobDefinition.grantSubmitJob(grantee, queue);
  }

  /** Jobs of the fleet's queues that ended FAILED. @default - Sum over 5 minutes */
  public metricFailedJobs(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(SpotTrainingFleetMetrics.FAILED_JOBS, { period: Duration.minutes(5), ...props });
  }

  /** Attempts of the fleet's jobs ended by a spot reclaim. @default - Sum over 1 hour */
  public metricSpotInterruptions(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(SpotTrainingFleetMetrics.SPOT_INTERRUPTIONS, { period: Duration.hours(1), ...props });
  }

  private metric(metricName: string, props: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { [FLEET_DIMENSION]: this.node.addr }, statistic: cloudwatch.Stats.SUM, ...props,
    });
  }

  /**
   * EventBridge rules from the queues' job state changes to `eventLog`, writing only what the metric filters and a
   * reader need (events also carry the container's environment), and the metric filters counting them.
   *
   * A reclaimed attempt is counted once. Event patterns match an array when ANY element matches, so "the last attempt
   * was reclaimed" cannot be matched on a RUNNABLE event (a job reclaimed once would count again on every later
   * retry). Instead: the fleet's retry strategy (`spotRetryStrategies`) retries only reclaims, so each RUNNABLE event
   * of a job that already has an attempt (one with a status reason) is one reclaim; the last attempt's reclaim shows
   * as FAILED with `Host EC2*` or the helper's INTERRUPTED_EXIT_CODE. Limits: a job definition on these queues with
   * another retry strategy counts its other retries too; the first RUNNABLE event has no attempt and is not counted.
   */
  private recordJobEvents(): void {
    const queues = [this.productionQueue.jobQueueArn, this.experimentQueue.jobQueueArn, this.onDemandQueue.jobQueueArn];
    const rules = {
      failed: { status: ['FAILED'] },
      interrupted: { $or: [
        { status: ['RUNNABLE'], attempts: { statusReason: [{ exists: true }] } },
        { status: ['FAILED'], statusReason: [{ wildcard: HOST_TERMINATED_REASON }] },
        { status: ['FAILED'], container: { exitCode: [INTERRUPTED_EXIT_CODE] } },
      ] },
    };
    // CloudWatch Logs targets take the log group's ARN without the ':*' of its Arn attribute.
    const arn = Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', arnFormat: ArnFormat.COLON_RESOURCE_NAME, resourceName: this.eventLog.logGroupName });
    const field = (name: string) => events.EventField.fromPath(`$.detail.${name}`);
    for (const [kind, detail] of Object.entries(rules)) {
      const message = { kind, fleet: this.node.addr, jobId: field('jobId'), jobName: field('jobName'), jobQueue: field('jobQueue'), status: field('status'), statusReason: field('statusReason') };
      new events.Rule(this, `${kind === 'failed' ? 'Failed' : 'Interrupted'}JobsRule`, {
        description: `Batch job state changes of the spot training fleet's queues: ${kind}`,
        eventPattern: { source: ['aws.batch'], detailType: ['Batch Job State Change'], detail: { jobQueue: queues, ...detail } },
        targets: [{ bind: () => ({ arn, input: targets.LogGroupTargetInput.fromObjectV2({ message }) }) }],
      });
      new logs.MetricFilter(this, `${kind === 'failed' ? 'Failed' : 'Interrupted'}JobsFilter`, {
        logGroup: this.eventLog,
        filterPattern: logs.FilterPattern.stringValue('$.kind', '=', kind),
        metricNamespace: METRICS_NAMESPACE,
        metricName: kind === 'failed' ? SpotTrainingFleetMetrics.FAILED_JOBS : SpotTrainingFleetMetrics.SPOT_INTERRUPTIONS,
        metricValue: '1',
        dimensions: { [FLEET_DIMENSION]: '$.fleet' },
      });
    }
    // EventBridge writes to a log group only when the log group's resource policy lets it.
    new logs.ResourcePolicy(this, 'JobEventsPolicy', {
      policyStatements: [new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.eventLog.logGroupArn],
      })],
    });
  }

  /**
   * cdk-nag findings of the roles aws-batch creates: the execution role writes to Batch's default log group, one
   * stream per job; the instance role has the AWS managed policy Batch documents for ECS instances.
   */
  private acknowledgeBatchRoles(container: batch.EcsEc2ContainerDefinition): void {
    Validations.of(container.executionRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${Stack.of(this).region}:${Stack.of(this).account}:log-group:/aws/batch/job:*]`,
      reason: 'Batch writes each job\'s logs to a new stream of its /aws/batch/job log group: stream names are known only at run time',
    });
    for (const environment of [this.spotEnvironment, this.onDemandEnvironment]) {
      Validations.of(environment).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
        reason: 'The instance role registers the instances with ECS: the AWS managed policy Batch documents for ECS compute environments',
      });
    }
  }
}
