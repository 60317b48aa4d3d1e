import { Duration, Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CheckpointDefaults } from '../../runtime/contracts/checkpoint';
import { grantObjectAccess } from '../private/object-grants';
import { sageMakerSpotTrainingProblems } from '../private/validate-spot-training-fleet-props';

/** Settings of a SageMaker managed-spot training job. */
export interface SageMakerSpotTrainingProps {
  /** SageMaker training instance type, e.g. `ml.g5.xlarge`. */
  readonly instanceType: string;
  /** Instances of the training job. @default 1 */
  readonly instanceCount?: number;
  /** Size of each instance's ML storage volume. @default Size.gibibytes(100) */
  readonly volumeSize?: Size;
  /** Longest time the training itself may run (at most 28 days, SageMaker's limit). @default Duration.hours(24) */
  readonly maxRuntime?: Duration;
  /**
   * Longest time the job may take in all, waiting for spot capacity included: at least `maxRuntime` (SageMaker
   * refuses less). When it passes, SageMaker stops the job, and its last checkpoint stays in the bucket.
   * @default - twice maxRuntime
   */
  readonly maxWait?: Duration;
  /** The bucket SageMaker syncs the checkpoint directory to (e.g. a `SpotTrainingFleet`'s `checkpointBucket`). */
  readonly checkpointBucket: s3.IBucket;
  /**
   * Key prefix of this training's checkpoints. SageMaker restores what is under it into the local directory when a
   * spot job restarts, so give each training run its own prefix (append the run's id, e.g. the execution name).
   */
  readonly checkpointPrefix: string;
  /** Directory in the container SageMaker syncs with the prefix. @default CheckpointDefaults.LOCAL_DIR (/opt/ml/checkpoints) */
  readonly localPath?: string;
}

/** The managed-spot subset of SageMaker's CreateTrainingJob request, with its API field names. */
export interface SpotTrainingJobParameters {
  /** Always true. */
  readonly EnableManagedSpotTraining: boolean;
  /** MaxRuntimeInSeconds and MaxWaitTimeInSeconds (>= MaxRuntimeInSeconds). */
  readonly StoppingCondition: { readonly MaxRuntimeInSeconds: number; readonly MaxWaitTimeInSeconds: number };
  /** Where checkpoints are synced: `s3://<bucket>/<prefix>` and the local directory. */
  readonly CheckpointConfig: { readonly S3Uri: string; readonly LocalPath: string };
  /** Instance type, count and volume size. */
  readonly ResourceConfig: { readonly InstanceType: string; readonly InstanceCount: number; readonly VolumeSizeInGB: number };
}

/**
 * SageMaker managed spot training for a training step: the validated CreateTrainingJob parameters
 * (`EnableManagedSpotTraining`, `StoppingCondition` with `MaxWaitTimeInSeconds` >= `MaxRuntimeInSeconds`,
 * `CheckpointConfig`, `ResourceConfig`) and the checkpoint permissions of the training role. There is no TrainingJob
 * L2, and Step Functions' `SageMakerCreateTrainingJob` task has no managed-spot or checkpoint fields: merge
 * `parameters` into the request of a `CallAwsService` (`sagemaker:createTrainingJob`) or `CustomState` task.
 *
 * @example
 * const spot = new SageMakerSpotTraining({
 *   instanceType: 'ml.g5.xlarge', maxRuntime: Duration.hours(8), maxWait: Duration.hours(12),
 *   checkpointBucket: fleet.checkpointBucket, checkpointPrefix: 'sagemaker/fraud',
 * });
 * spot.grantCheckpoints(trainingRole);
 */
export class SageMakerSpotTraining {
  /** The CreateTrainingJob parameters. */
  public readonly parameters: SpotTrainingJobParameters;
  /** The bucket checkpoints are synced to. */
  public readonly checkpointBucket: s3.IBucket;
  /** The key prefix of the checkpoints. */
  public readonly checkpointPrefix: string;

  constructor(props: SageMakerSpotTrainingProps) {
    const problems = sageMakerSpotTrainingProblems(props);
    if (problems.length > 0) throw new Error(`SageMakerSpotTraining: invalid props:\n  - ${problems.join('\n  - ')}`);
    const maxRuntime = props.maxRuntime ?? Duration.hours(24);
    const maxWait = props.maxWait ?? Duration.seconds(maxRuntime.toSeconds() * 2);
    this.checkpointBucket = props.checkpointBucket;
    this.checkpointPrefix = props.checkpointPrefix;
    this.parameters = {
      EnableManagedSpotTraining: true,
      StoppingCondition: { MaxRuntimeInSeconds: maxRuntime.toSeconds(), MaxWaitTimeInSeconds: maxWait.toSeconds() },
      CheckpointConfig: {
        S3Uri: `s3://${props.checkpointBucket.bucketName}/${props.checkpointPrefix}`,
        LocalPath: props.localPath ?? CheckpointDefaults.LOCAL_DIR,
      },
      ResourceConfig: {
        InstanceType: props.instanceType,
        InstanceCount: props.instanceCount ?? 1,
        VolumeSizeInGB: (props.volumeSize ?? Size.gibibytes(100)).toGibibytes(),
      },
    };
  }

  /**
   * Lets the training role get, put and delete (current versions only) objects under the checkpoint prefix
   * (SageMaker syncs the local directory both ways), abort its multipart uploads, list the bucket under the prefix
   * (`s3:prefix` condition) and use the bucket's key through S3. No DeleteObjectVersion: the noncurrent versions stay
   * as the last fallback.
   */
  public grantCheckpoints(grantee: iam.IGrantable): iam.Grant {
    const objects = `${this.checkpointPrefix}/*`;
    return grantObjectAccess(this.checkpointBucket, grantee, { read: [objects], write: [objects], delete: [objects], list: [objects] },
      'SageMaker syncs the checkpoint directory with the checkpoint prefix both ways (files of any name): S3 scopes object permissions by key prefix only');
  }
}
