/**
 * Validation of the spot training fleet's props and of the SageMaker managed-spot training settings: every problem at
 * once, each naming the prop and the fix. Internal: not exported from lib/index.ts.
 */
import { Duration, Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import { parseInstanceName } from './gpu-catalog';
import { concreteSeconds, environmentProblems, rangeProblems, wholeSecondsProblems } from './validation';
import { CHECKPOINT_PREFIX_PATTERN, CheckpointDefaults, CheckpointVariables } from '../../runtime/contracts/checkpoint';
import type { GpuInstanceType } from '../compute/gpu-instance-type';
import type { SageMakerSpotTrainingProps } from '../training/sagemaker-spot-training';
import type { SpotTrainingFleetProps } from '../training/spot-training-fleet';

/** Defaults of the fleet, shared by the construct and its validation. */
export const SpotTrainingFleetDefaults = {
  MAX_VCPUS: 64,
  GPUS_PER_JOB: 1,
  JOB_VCPUS: 4,
  /** 14 GiB: the 16 GiB of an xlarge GPU instance less what the ECS agent and the OS keep. */
  JOB_MEMORY: Size.gibibytes(14),
  ATTEMPTS: 5,
  ATTEMPT_TIMEOUT: Duration.hours(24),
  /** CUDA images are 10-20 GB and a pulled image is stored twice while it is extracted. */
  ROOT_VOLUME_SIZE: Size.gibibytes(100),
  CHECKPOINT_PREFIX: 'checkpoints',
  NONCURRENT_CHECKPOINT_EXPIRATION: Duration.days(7),
  INTERRUPTIONS_PER_HOUR: 5,
  ON_DEMAND_FALLBACK_AFTER: Duration.minutes(30),
} as const;

/** Batch: attempts of a job (RetryStrategy.Attempts). */
const MAX_ATTEMPTS = 10;
/** Longest training run accepted here: SageMaker's limit on MaxRuntimeInSeconds, used for both paths. */
export const MAX_TRAINING_RUNTIME = Duration.days(28);
/** Batch: shortest attempt timeout. */
const MIN_ATTEMPT_TIMEOUT = Duration.minutes(1);
/** EBS gp3: largest volume. */
const MAX_VOLUME_GIB = 16_384;

/** Every problem of a `SpotTrainingFleet`'s props. */
export function spotTrainingFleetProblems(props: SpotTrainingFleetProps): string[] {
  const problems: string[] = [];
  if (!props.vpc) problems.push('vpc: required (the VPC the training instances run in; private subnets with egress or VPC endpoints for ECR, S3 and CloudWatch Logs)');
  if (!props.image) problems.push('image: required (the training container image, e.g. ecs.ContainerImage.fromEcrRepository(repo, tag))');
  const types = props.instanceTypes;
  if (types !== undefined && types.length === 0) problems.push('instanceTypes: list at least one GPU instance type (several families give spot more pools to draw from), or omit it for the default');
  const maxvCpus = props.maxvCpus ?? SpotTrainingFleetDefaults.MAX_VCPUS;
  problems.push(...rangeProblems('maxvCpus', props.maxvCpus, { min: 1, integer: true }));
  problems.push(...rangeProblems('onDemandMaxvCpus', props.onDemandMaxvCpus, { min: 1, integer: true }));
  const jobVcpus = props.jobVcpus ?? SpotTrainingFleetDefaults.JOB_VCPUS;
  problems.push(...rangeProblems('jobVcpus', props.jobVcpus, { min: 1, integer: true }));
  for (const [prop, max] of [['maxvCpus', maxvCpus], ['onDemandMaxvCpus', props.onDemandMaxvCpus ?? maxvCpus]] as const) {
    if (Number.isInteger(max) && Number.isInteger(jobVcpus) && !Token.isUnresolved(max) && !Token.isUnresolved(jobVcpus) && max < jobVcpus) {
      problems.push(`${prop}: ${max} is fewer than the ${jobVcpus} vCPUs of one job (jobVcpus): no job could ever start; raise ${prop} or lower jobVcpus`);
    }
  }
  problems.push(...gpusPerJobProblems(props.gpusPerJob, types));
  const memory = props.jobMemory;
  if (memory) {
    const mib = memory.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!(Number.isInteger(mib) && mib >= 4)) problems.push(`jobMemory: ${mib} MiB must be whole MiB, at least 4 (Batch's minimum)`);
  }
  problems.push(...rangeProblems('attempts', props.attempts, { min: 1, max: MAX_ATTEMPTS, integer: true }));
  problems.push(...wholeSecondsProblems('attemptTimeout', props.attemptTimeout,
    { min: MIN_ATTEMPT_TIMEOUT, max: MAX_TRAINING_RUNTIME, why: 'Batch\'s shortest attempt timeout; at most the longest training run accepted here' }));
  const volume = props.rootVolumeSize;
  if (volume) {
    const gib = volume.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!(Number.isInteger(gib) && gib >= 30 && gib <= MAX_VOLUME_GIB)) {
      problems.push(`rootVolumeSize: ${gib} GiB must be whole GiB from 30 (the ECS GPU AMI's own size) to ${MAX_VOLUME_GIB} (gp3's largest)`);
    }
  }
  problems.push(...checkpointPrefixProblems('checkpointPrefix', props.checkpointPrefix));
  problems.push(...wholeSecondsProblems('checkpointInterval', props.checkpointInterval, {
    min: Duration.seconds(CheckpointDefaults.MIN_INTERVAL_S), max: Duration.seconds(CheckpointDefaults.MAX_INTERVAL_S),
    why: 'the checkpoint helper\'s range; spot guidance is every 15-30 minutes',
  }));
  problems.push(...rangeProblems('checkpointsKept', props.checkpointsKept, { min: 1, max: CheckpointDefaults.MAX_KEEP, integer: true }));
  const expiration = concreteSeconds(props.noncurrentCheckpointExpiration);
  if (expiration !== undefined && !(Number.isInteger(expiration / 86_400) && expiration >= 86_400)) {
    problems.push(`noncurrentCheckpointExpiration: ${props.noncurrentCheckpointExpiration!.toHumanString()} must be whole days, at least 1 (S3 lifecycle rules count days)`);
  }
  problems.push(...rangeProblems('interruptionsPerHourThreshold', props.interruptionsPerHourThreshold, { min: 1, integer: true }));
  problems.push(...wholeSecondsProblems('onDemandFallbackAfter', props.onDemandFallbackAfter,
    { min: Duration.minutes(10), max: Duration.hours(24), why: 'the range of Batch\'s job state time limit actions' }));
  const taken = new Map<string, string>(Object.values(CheckpointVariables).map((name) => [name, 'set by the fleet from its checkpoint props (checkpointPrefix, checkpointInterval, checkpointsKept): remove it'] as const));
  taken.set(CheckpointVariables.BATCH_JOB_ID, 'set by AWS Batch: remove it');
  problems.push(...environmentProblems('environment', props.environment, { taken, maxValueLength: 32_768 }));
  return problems;
}

/** Problems of `gpusPerJob`: a whole number of GPUs that the smallest instance type of the fleet carries. */
function gpusPerJobProblems(gpusPerJob: number | undefined, types: readonly GpuInstanceType[] | undefined): string[] {
  if (gpusPerJob === undefined || Token.isUnresolved(gpusPerJob)) return [];
  const range = rangeProblems('gpusPerJob', gpusPerJob, { min: 1, integer: true });
  if (range.length > 0 || !types?.length) return range;
  const smallest = types.reduce((a, b) => (b.gpuCount < a.gpuCount ? b : a));
  return gpusPerJob <= smallest.gpuCount ? []
    : [`gpusPerJob: ${gpusPerJob} GPUs do not fit on ${smallest.name} (${smallest.gpuCount} GPU${smallest.gpuCount > 1 ? 's' : ''}): lower gpusPerJob or list only instance types with at least ${gpusPerJob} GPUs`];
}

/** Problems of a checkpoint key prefix given as `prop`. */
function checkpointPrefixProblems(prop: string, prefix: string | undefined): string[] {
  if (prefix === undefined || Token.isUnresolved(prefix)) return [];
  return CHECKPOINT_PREFIX_PATTERN.test(prefix) ? []
    : [`${prop}: '${String(prefix).slice(0, 80)}' must be key segments of letters, digits, '_', '.', '=' or '-' joined by '/', without leading or trailing '/' or '..' (e.g. 'checkpoints/fraud')`];
}

/** Every problem of SageMaker managed-spot training settings. */
export function sageMakerSpotTrainingProblems(props: SageMakerSpotTrainingProps): string[] {
  const problems: string[] = [];
  const name = props.instanceType;
  if (name === undefined) problems.push('instanceType: required (a SageMaker training instance type, e.g. \'ml.g5.xlarge\')');
  else if (!Token.isUnresolved(name) && (typeof name !== 'string' || !name.startsWith('ml.') || !parseInstanceName(name.slice(3)))) {
    problems.push(`instanceType: '${String(name).slice(0, 60)}' is not a SageMaker instance type; use 'ml.<family>.<size>', e.g. 'ml.g5.xlarge'`);
  }
  problems.push(...rangeProblems('instanceCount', props.instanceCount, { min: 1, integer: true }));
  const volume = props.volumeSize;
  if (volume) {
    const gib = volume.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!(Number.isInteger(gib) && gib >= 1 && gib <= MAX_VOLUME_GIB)) problems.push(`volumeSize: ${gib} GiB must be whole GiB from 1 to ${MAX_VOLUME_GIB}`);
  }
  if (!props.checkpointBucket) problems.push('checkpointBucket: required (the bucket SageMaker syncs /opt/ml/checkpoints to, e.g. a SpotTrainingFleet\'s checkpointBucket)');
  problems.push(...checkpointPrefixProblems('checkpointPrefix', props.checkpointPrefix));
  if (props.checkpointPrefix === undefined) problems.push('checkpointPrefix: required (the key prefix of this training\'s checkpoints, e.g. \'sagemaker/fraud\')');
  const runtimeSeconds = concreteSeconds(props.maxRuntime);
  problems.push(...wholeSecondsProblems('maxRuntime', props.maxRuntime, { min: Duration.seconds(1), max: MAX_TRAINING_RUNTIME, why: 'SageMaker\'s MaxRuntimeInSeconds' }));
  const waitSeconds = concreteSeconds(props.maxWait);
  if (props.maxWait && waitSeconds !== undefined && !Number.isInteger(waitSeconds)) problems.push(`maxWait: ${props.maxWait.toHumanString()} must be whole seconds`);
  if (runtimeSeconds !== undefined && waitSeconds !== undefined && waitSeconds < runtimeSeconds) {
    problems.push(`maxWait: ${props.maxWait!.toHumanString()} (${waitSeconds} s) is shorter than maxRuntime ${props.maxRuntime!.toHumanString()} (${runtimeSeconds} s): `
      + 'SageMaker requires MaxWaitTimeInSeconds >= MaxRuntimeInSeconds (the wait for spot capacity counts against maxWait too); raise maxWait or lower maxRuntime');
  }
  return problems;
}
