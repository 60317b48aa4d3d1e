/**
 * The checkpoint contract of training containers, defined once: the environment the SpotTrainingFleet's job
 * definition writes (`checkpointEnvironment`) and the checkpoint helper inside the container reads
 * (`parseCheckpointEnvironment`). (A SageMaker managed-spot training job does not use it: SageMaker itself syncs the
 * local /opt/ml/checkpoints with the job's checkpoint S3 URI.) Pure: imports only other pure modules.
 */
import { Environment, EnvironmentReader } from './environment';
import { SharedVariables } from './shared';

/** Names of the checkpoint environment variables. */
export const CheckpointVariables = {
  /** Bucket holding the checkpoints (versioned, encrypted: the fleet's checkpoint bucket). */
  BUCKET: 'CHECKPOINT_BUCKET',
  /**
   * Key prefix of the checkpoints, without a trailing slash. On AWS Batch (`AWS_BATCH_JOB_ID` set) the helper appends
   * `/<job id>`: the id is the same for every attempt of a job, so a retried attempt resumes where the reclaimed one
   * stopped, and jobs sharing the fleet's base prefix never resume each other's checkpoints.
   */
  PREFIX: 'CHECKPOINT_PREFIX',
  /** Seconds between periodic checkpoints. */
  INTERVAL_S: 'CHECKPOINT_INTERVAL_S',
  /** Generations kept; older ones are deleted after a newer one is published. */
  KEEP: 'CHECKPOINT_KEEP',
  /** Local directory the training code writes a checkpoint into, synced to S3. */
  LOCAL_DIR: 'CHECKPOINT_LOCAL_DIR',
  /** `true` for path-style S3 URLs (local stand-ins such as s3rver). */
  S3_FORCE_PATH_STYLE: SharedVariables.S3_FORCE_PATH_STYLE,
  /** Set by AWS Batch in every job container: the job's id (`<uuid>`, or `<uuid>:<index>` for an array job's child). */
  BATCH_JOB_ID: 'AWS_BATCH_JOB_ID',
} as const;

/**
 * Exit code of a training container that was interrupted (spot notice or SIGTERM) after saving its checkpoint: 143,
 * the shell's code for a SIGTERM'd process. Never 0: Batch would mark the job succeeded and the pipeline would go on
 * with a half-trained model. The SpotTrainingFleet's retry strategy retries this code (the next attempt resumes from
 * the checkpoint) and treats every other non-zero code as an application error.
 */
export const INTERRUPTED_EXIT_CODE = 143;

/** Defaults and bounds of the checkpoint settings. */
export const CheckpointDefaults = {
  /** 15 minutes: spot guidance is a checkpoint every 15-30 minutes. */
  INTERVAL_S: 900,
  /** Shortest interval accepted: checkpoints of GPU-sized state take tens of seconds to write. */
  MIN_INTERVAL_S: 60,
  /** Longest interval accepted: 2 hours. */
  MAX_INTERVAL_S: 7200,
  /** Generations kept: the newest plus two to fall back on when it proves corrupt. */
  KEEP: 3,
  /** Most generations kept. */
  MAX_KEEP: 100,
  /** Local directory in the container. */
  LOCAL_DIR: '/opt/ml/checkpoints',
} as const;

/** The checkpoint settings of one training job. */
export interface CheckpointSettings {
  /** Bucket name. */
  readonly bucket: string;
  /** Key prefix, without a trailing slash. */
  readonly prefix: string;
  /** Seconds between periodic checkpoints. @default CheckpointDefaults.INTERVAL_S */
  readonly intervalS?: number;
  /** Generations kept. @default CheckpointDefaults.KEEP */
  readonly keep?: number;
  /** Local directory synced to S3. @default CheckpointDefaults.LOCAL_DIR */
  readonly localDir?: string;
  /** Path-style S3 URLs. @default false */
  readonly s3ForcePathStyle?: boolean;
}

/** Matches a key prefix: no leading or trailing slash, no empty segment, no `..`. */
export const CHECKPOINT_PREFIX_PATTERN = /^(?!.*(?:^|\/)\.\.(?:\/|$))[\w.=-]+(?:\/[\w.=-]+)*$/;

/** The environment of `settings`; values the builder receives as tokens are written as they are. */
export function checkpointEnvironment(settings: CheckpointSettings, stringify: (n: number) => string = String): Record<string, string> {
  const env: Record<string, string> = {
    [CheckpointVariables.BUCKET]: settings.bucket,
    [CheckpointVariables.PREFIX]: settings.prefix,
    [CheckpointVariables.INTERVAL_S]: stringify(settings.intervalS ?? CheckpointDefaults.INTERVAL_S),
    [CheckpointVariables.KEEP]: stringify(settings.keep ?? CheckpointDefaults.KEEP),
    [CheckpointVariables.LOCAL_DIR]: settings.localDir ?? CheckpointDefaults.LOCAL_DIR,
  };
  if (settings.s3ForcePathStyle) env[CheckpointVariables.S3_FORCE_PATH_STYLE] = 'true';
  return env;
}

/** Reads the checkpoint settings (the prefix extended with the Batch job id, when set); throws one error naming every problem. */
export function parseCheckpointEnvironment(env: Environment): Required<CheckpointSettings> {
  const read = new EnvironmentReader(env, 'checkpoint helper', 'the SpotTrainingFleet job definition (or checkpointEnvironment)');
  const bucket = read.required(CheckpointVariables.BUCKET);
  const prefix = read.required(CheckpointVariables.PREFIX);
  if (prefix && !CHECKPOINT_PREFIX_PATTERN.test(prefix)) {
    read.problem(`${CheckpointVariables.PREFIX}=${prefix}: expected key segments of letters, digits, '_', '.', '=' or '-' joined by '/', without leading or trailing '/' or '..'`);
  }
  // Array children (`<uuid>:<index>`) become `<uuid>-<index>`: ':' is not a key segment character here.
  const jobId = read.optional(CheckpointVariables.BATCH_JOB_ID)?.replace(/:/g, '-');
  if (jobId !== undefined && !/^[\w.=-]{1,128}$/.test(jobId)) read.problem(`${CheckpointVariables.BATCH_JOB_ID}=${jobId}: expected a Batch job id`);
  const settings = {
    bucket,
    prefix: jobId === undefined ? prefix : `${prefix}/${jobId}`,
    intervalS: read.number(CheckpointVariables.INTERVAL_S, CheckpointDefaults.INTERVAL_S, { min: CheckpointDefaults.MIN_INTERVAL_S, max: CheckpointDefaults.MAX_INTERVAL_S }),
    keep: read.number(CheckpointVariables.KEEP, CheckpointDefaults.KEEP, { min: 1, max: CheckpointDefaults.MAX_KEEP }),
    localDir: read.optional(CheckpointVariables.LOCAL_DIR) ?? CheckpointDefaults.LOCAL_DIR,
    s3ForcePathStyle: read.bool(CheckpointVariables.S3_FORCE_PATH_STYLE),
  };
  read.throwIfProblems();
  return settings;
}
