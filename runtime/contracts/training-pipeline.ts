/**
 * The training pipeline's contract, defined once: the Lambda steps' names and environments (`trainingStepEnvironment`
 * written by the TrainingPipeline construct, `parseTrainingStepEnvironment` read by the handlers), the shapes of the
 * state the steps pass along, the environment the training and evaluation containers receive, and the S3 layout of a
 * run (one prefix per execution name, so a retried step finds its own output). Pure: imports only other pure modules.
 */
import { Environment, EnvironmentReader } from './environment';
import type { DataGateSpec } from '../core/training/data-gate';
import { gitShaProblem, imageDigestProblem } from '../core/training/lineage';
import type { ModelGateSpec, ServingMeasurement } from '../core/training/model-gate';
import { SharedVariables } from './shared';

/** Bundle names of the pipeline's Lambda steps (files of runtime/handlers/). */
export const TrainingHandlers = {
  /** Builds the point-in-time-correct training set. */
  TRAINING_SET: 'training-set-handler',
  /** Runs the data gate on the training set. */
  DATA_GATE: 'training-data-gate-handler',
  /** Runs the model gate on the evaluation against the champion. */
  MODEL_GATE: 'training-model-gate-handler',
} as const;

/** Names of the Lambda steps' environment variables (each step reads the ones it needs). */
export const TrainingStepVariables = {
  /** The pipeline's artifact bucket: training sets, models, evaluations (versioned, retained). */
  BUCKET: 'TRAINING_BUCKET',
  /** JSON array of the FeatureViewSpecs read (lib/features/spec `toSpec()`). */
  VIEWS: 'TRAINING_VIEWS',
  /** JSON array of feature references, `view:feature`. */
  FEATURE_REFS: 'TRAINING_FEATURE_REFS',
  /** Spine table of entity rows (and labels) in the Athena database: `table` or `database.table`. */
  SPINE_TABLE: 'TRAINING_SPINE_TABLE',
  /** Athena workgroup of the feature store. */
  ATHENA_WORKGROUP: 'TRAINING_ATHENA_WORKGROUP',
  /** Glue database of the offline tables. */
  ATHENA_DATABASE: 'TRAINING_ATHENA_DATABASE',
  /** JSON of the data gate's spec (runtime/core/training data gate). */
  DATA_GATE: 'TRAINING_DATA_GATE',
  /** JSON of the model gate's spec (runtime/core/training model gate). */
  MODEL_GATE: 'TRAINING_MODEL_GATE',
  /** Model name: the baseline's `model=` partition and the lineage's model. */
  MODEL_NAME: 'TRAINING_MODEL_NAME',
  /** Bucket of the drift baselines (runtime/aws/baseline-store.ts), optional. */
  BASELINE_BUCKET: 'TRAINING_BASELINE_BUCKET',
  /** Model version whose baseline the data gate compares against, optional (with BASELINE_BUCKET). */
  BASELINE_VERSION: 'TRAINING_BASELINE_VERSION',
  /** Model package group of the champion (the latest approved package). */
  MODEL_PACKAGE_GROUP: 'TRAINING_MODEL_PACKAGE_GROUP',
  /** Deadline of one AWS call (Athena: of the whole query), milliseconds, optional. */
  CALL_TIMEOUT_MS: 'TRAINING_CALL_TIMEOUT_MS',
  /** `true` for path-style S3 URLs (local stand-ins such as s3rver). */
  S3_FORCE_PATH_STYLE: SharedVariables.S3_FORCE_PATH_STYLE,
} as const;

/** Environment of the training and evaluation containers (besides the checkpoint contract for training). */
export const TrainingJobVariables = {
  /** S3 URI of the training set's data file (JSON lines). */
  TRAINING_SET_URI: 'TRAINING_SET_URI',
  /** SHA-256 of the training set's data file. */
  TRAINING_SET_SHA256: 'TRAINING_SET_SHA256',
  /** S3 URI the training job writes its model artifact to (`model.tar.gz`); the evaluation job reads it. */
  MODEL_ARTIFACT_URI: 'MODEL_ARTIFACT_URI',
  /** S3 URI the evaluation job writes its `EvaluationReport` JSON to. */
  EVALUATION_URI: 'EVALUATION_URI',
  /**
   * S3 URI of the champion's model artifact (the latest approved package's), for the evaluation job: it evaluates the
   * champion on the same held-out data as the challenger and writes `champion.metrics` into its report. Empty when
   * there is no champion yet.
   */
  CHAMPION_MODEL_URI: 'CHAMPION_MODEL_URI',
} as const;

/** The pipeline's S3 layout, one prefix per execution name. */
export const TrainingLayout = {
  /** Training set prefix of an execution: `data.jsonl` and `manifest.json`. */
  trainingSetPrefix: (execution: string) => `training-sets/${execution}/`,
  /** Model artifact key of an execution (Batch trainer; SageMaker writes under `models/<execution>/`). */
  modelPrefix: (execution: string) => `models/${execution}/`,
  /** Evaluation report key of an execution. */
  evaluationKey: (execution: string) => `evaluations/${execution}/evaluation.json`,
  /** Checkpoint prefix of an execution, stable across the training job's attempts. */
  checkpointPrefix: (execution: string) => `checkpoints/${execution}`,
  /** Name of the data file in a training set prefix. */
  DATA_FILE: 'data.jsonl',
  /** Name of the manifest in a training set prefix (written last: its presence means the set is complete). */
  MANIFEST_FILE: 'manifest.json',
  /** Name of the Batch trainer's model artifact in the model prefix. */
  MODEL_FILE: 'model.tar.gz',
} as const;

/**
 * Input of an execution: the lineage facts recorded with the package. The state machine refuses to start without them
 * (a run must not train for hours and then fail to register).
 */
export interface TrainingExecutionInput {
  /** Version of the training code (a git SHA). */
  readonly codeVersion: string;
  /** Digest of the training image, `sha256:<64 hex>`. */
  readonly imageDigest: string;
}

/**
 * Why an execution input cannot be recorded as lineage (each problem naming the field and the fix); empty when it can.
 * The formats are runtime/core/training/lineage.ts `LineagePatterns`, the ones the model gate's lineage requires.
 */
export function executionInputProblems(input: unknown): string[] {
  const i = (input !== null && typeof input === 'object' ? input : {}) as Partial<Record<keyof TrainingExecutionInput, unknown>>;
  return [gitShaProblem('codeVersion', i.codeVersion), imageDigestProblem('imageDigest', i.imageDigest)].filter((p): p is string => p !== undefined);
}

/** The data snapshot a training set is: what lineage records. */
export interface TrainingSetResult {
  /** `s3://bucket/training-sets/<execution>/data.jsonl`. */
  readonly uri: string;
  /** Rows in the set. */
  readonly rowCount: number;
  /** SHA-256 (hex) of the data file: the snapshot's content hash. */
  readonly sha256: string;
  /** Earliest and latest `event_timestamp` of the rows (ISO-8601); absent only in a set of no rows. */
  readonly fromTime?: string;
  readonly toTime?: string;
  /**
   * Rows the retrieval returned that the set leaves out: an `event_timestamp` that is no event time (the feature
   * store's rule: ISO-8601 with a zone or epoch milliseconds, from 1971 to now + 5 minutes; epoch seconds are refused
   * with the hint), or a row that is not JSON. The data gate holds their share to `maxTypeErrorRate`.
   * @default 0
   */
  readonly rejectedRows?: number;
  /** Why, for the first few rejected rows (at most `MAX_REJECTED_REASONS`). @default - none rejected */
  readonly rejectedReasons?: readonly string[];
  /** When the set was built (ISO-8601): a retried step returns the first build's manifest unchanged. */
  readonly createdAt: string;
}

/**
 * The training set step's result: the manifest as stored, plus the SHA-256 of `manifest.json` itself (the lineage's
 * `data:manifestSha256`: the manifest names the data file and its hash, so its own hash pins the exact snapshot).
 */
export interface TrainingSetStepResult extends TrainingSetResult {
  /** SHA-256 (hex) of the stored `manifest.json` bytes. */
  readonly manifestSha256: string;
}

/** One check of a gate, as the gates report it (runtime/core/training). */
export interface GateCheckResult {
  readonly name: string;
  readonly passed: boolean;
  readonly observed?: unknown;
  readonly threshold?: unknown;
  readonly reason?: string;
}

/** A gate step's output: the state machine fails the execution with `cause` when `passed` is false. */
export interface GateStepResult {
  readonly passed: boolean;
  readonly checks: readonly GateCheckResult[];
  /** The failed checks' reasons joined, for the Fail state's cause ('' when passed). */
  readonly cause: string;
}

/** The model gate's output: the gate result plus the package metadata (lineage) the register step records. */
export interface ModelGateStepResult extends GateStepResult {
  /** SageMaker CustomerMetadataProperties: string values within SageMaker's limits. */
  readonly modelPackageMetadata: Record<string, string>;
}

/**
 * What the evaluation job writes to EVALUATION_URI: the challenger's metrics on the held-out data, the champion's
 * metrics on the SAME data (when CHAMPION_MODEL_URI was given), and the serving constraints it measured on the inference
 * server (`latencyP99Ms`, `modelBytes`, `throughputPerSecond`; the instance price comes from the pipeline's settings).
 * The model gate only judges these.
 */
export interface EvaluationReport {
  /** The challenger's metric values by name, e.g. `{ "auc": 0.915 }`. */
  readonly metrics: Readonly<Record<string, number>>;
  /**
   * The champion (CHAMPION_MODEL_URI) evaluated on the same held-out data as the challenger. Required by the model gate
   * when a champion exists: metrics from the champion's own registration-time data are not comparable.
   * @default - no champion evaluated (the first model)
   */
  readonly champion?: EvaluationChampion;
  /** What was measured on the inference server. @default - nothing measured */
  readonly serving?: Omit<ServingMeasurement, 'pricePerHour'>;
}

/** The champion's part of an `EvaluationReport`. */
export interface EvaluationChampion {
  /** Metric values by name on the challenger's held-out data. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** Most reasons of rejected rows a manifest keeps. */
export const MAX_REJECTED_REASONS = 5;

/** Payload of the training set step (the construct builds it; the handler reads it). */
export interface TrainingSetEvent {
  /** Execution name: the set's prefix, so a retried step finds its own output. */
  readonly execution: string;
  /** The execution's input: its lineage facts are checked here, before anything is built or trained. */
  readonly input: Partial<TrainingExecutionInput>;
}

/** Payload of the data gate step. */
export interface DataGateEvent {
  readonly execution: string;
  readonly trainingSet: TrainingSetStepResult;
}

/** Payload of the model gate step. */
export interface ModelGateEvent {
  readonly execution: string;
  /** The execution's input (lineage facts; checked by the state machine's first state, and again by the step). */
  readonly input: Partial<TrainingExecutionInput>;
  /** S3 URI of the evaluation job's `EvaluationReport`. */
  readonly evaluationUri: string;
  readonly trainingSet: TrainingSetStepResult;
  /** S3 URI of the model artifact trained. */
  readonly modelArtifactUri: string;
  /** The data gate's result (recorded in the lineage). */
  readonly dataGate: GateStepResult;
}

/** Paths of the execution state where each step's result is kept (the construct's ResultPaths). */
export const TrainingStatePaths = {
  TRAINING_SET: '$.trainingSet',
  DATA_GATE: '$.dataGate',
  TRAINING: '$.training',
  EVALUATION: '$.evaluation',
  MODEL_GATE: '$.modelGate',
  MODEL_PACKAGE: '$.modelPackage',
} as const;

/** Settings of the Lambda steps, as the construct writes them and the handlers read them. */
export interface TrainingStepSettings {
  readonly bucket: string;
  readonly modelName: string;
  /** Training set step: views, references, spine, Athena. */
  readonly views?: readonly unknown[];
  readonly featureRefs?: readonly string[];
  readonly spineTable?: string;
  readonly athenaWorkGroup?: string;
  readonly athenaDatabase?: string;
  /** Data gate step. */
  readonly dataGate?: unknown;
  readonly baselineBucket?: string;
  readonly baselineVersion?: string;
  /** Model gate step. */
  readonly modelGate?: unknown;
  readonly modelPackageGroup?: string;
  /** @default DEFAULT_TRAINING_CALL_TIMEOUT_MS */
  readonly callTimeoutMs?: number;
  /** @default false */
  readonly s3ForcePathStyle?: boolean;
}

/** Default deadline of one AWS call (Athena: of the whole query), milliseconds: 10 minutes. */
export const DEFAULT_TRAINING_CALL_TIMEOUT_MS = 600_000;

const V = TrainingStepVariables;

/** A step's Lambda environment (only the settings given). */
export function trainingStepEnvironment(settings: TrainingStepSettings): Record<string, string> {
  const env: Record<string, string> = { [V.BUCKET]: settings.bucket, [V.MODEL_NAME]: settings.modelName };
  const json = (name: string, value: unknown) => { if (value !== undefined) env[name] = JSON.stringify(value); };
  const text = (name: string, value: string | undefined) => { if (value !== undefined) env[name] = value; };
  json(V.VIEWS, settings.views);
  json(V.FEATURE_REFS, settings.featureRefs);
  text(V.SPINE_TABLE, settings.spineTable);
  text(V.ATHENA_WORKGROUP, settings.athenaWorkGroup);
  text(V.ATHENA_DATABASE, settings.athenaDatabase);
  json(V.DATA_GATE, settings.dataGate);
  text(V.BASELINE_BUCKET, settings.baselineBucket);
  text(V.BASELINE_VERSION, settings.baselineVersion);
  json(V.MODEL_GATE, settings.modelGate);
  text(V.MODEL_PACKAGE_GROUP, settings.modelPackageGroup);
  if (settings.callTimeoutMs !== undefined) env[V.CALL_TIMEOUT_MS] = String(settings.callTimeoutMs);
  if (settings.s3ForcePathStyle) env[V.S3_FORCE_PATH_STYLE] = 'true';
  return env;
}

/** Which settings a step needs. */
export type TrainingStepName = typeof TrainingHandlers[keyof typeof TrainingHandlers];

/** Reads a step's settings; throws one error naming every missing or malformed variable the step needs. */
export function parseTrainingStepEnvironment(env: Environment, step: TrainingStepName): TrainingStepSettings & Required<Pick<TrainingStepSettings, 'callTimeoutMs' | 's3ForcePathStyle'>> {
  const read = new EnvironmentReader(env, step, 'the TrainingPipeline construct');
  const settings: TrainingStepSettings = { bucket: read.required(V.BUCKET), modelName: read.required(V.MODEL_NAME) };
  let stepSettings: Partial<TrainingStepSettings> = {};
  if (step === TrainingHandlers.TRAINING_SET) {
    stepSettings = {
      views: read.json<unknown[]>(V.VIEWS, 'a JSON array of feature view specs'),
      featureRefs: read.json<string[]>(V.FEATURE_REFS, 'a JSON array of feature references'),
      spineTable: read.required(V.SPINE_TABLE),
      athenaWorkGroup: read.required(V.ATHENA_WORKGROUP),
      athenaDatabase: read.required(V.ATHENA_DATABASE),
    };
  } else if (step === TrainingHandlers.DATA_GATE) {
    stepSettings = {
      dataGate: read.json(V.DATA_GATE, 'the data gate spec as JSON'),
      baselineBucket: read.optional(V.BASELINE_BUCKET),
      baselineVersion: read.optional(V.BASELINE_VERSION),
    };
    if ((stepSettings.baselineBucket === undefined) !== (stepSettings.baselineVersion === undefined)) {
      read.problem(`${V.BASELINE_BUCKET} and ${V.BASELINE_VERSION} go together: set both (compare against that baseline) or neither`);
    }
  } else {
    stepSettings = { modelGate: read.json(V.MODEL_GATE, 'the model gate spec as JSON'), modelPackageGroup: read.required(V.MODEL_PACKAGE_GROUP) };
  }
  const callTimeoutMs = read.number(V.CALL_TIMEOUT_MS, DEFAULT_TRAINING_CALL_TIMEOUT_MS, { min: 100, max: 2 ** 31 - 1 });
  const s3ForcePathStyle = read.bool(V.S3_FORCE_PATH_STYLE);
  read.throwIfProblems();
  return { ...settings, ...stepSettings, callTimeoutMs, s3ForcePathStyle };
}

/** Splits `s3://bucket/key` into its parts; throws naming the value when it is not one. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([a-z0-9.-]{3,63})\/(.+)$/.exec(uri);
  if (!match) throw new Error(`'${uri.slice(0, 200)}' is not an s3://bucket/key URI`);
  return { bucket: match[1], key: match[2] };
}

/** The data gate spec as the construct writes it: the baseline profile is read from the store, not the environment. */
export type DataGateSettings = Omit<DataGateSpec, 'drift'> & {
  /** Methods and thresholds of the drift check (with a baseline). @default - runtime/core/drift defaults */
  readonly driftOptions?: NonNullable<DataGateSpec['drift']>['options'];
};

/** The model gate spec as the construct writes it: the gate's spec plus the serving instance's price. */
export interface ModelGateSettings extends ModelGateSpec {
  /** Price per hour of one serving instance, for the cost per 1,000 predictions. @default - cost not computed */
  readonly servingPricePerHour?: number;
}

/** The failed checks' reasons joined, for a gate's Fail state cause. */
export function failureCause(result: Pick<GateStepResult, 'checks'>): string {
  return result.checks.filter((c) => !c.passed).map((c) => c.reason).join('; ');
}

/**
 * Name of the error a Lambda step throws for a failure a retry can fix (throttling, a 5xx, a timeout, a dropped
 * connection): the state machine retries it with backoff. Any other error a step throws is permanent (bad input or
 * configuration, a missing object) and fails the execution with the error's message; a gate's refusal is a result.
 */
export const TRAINING_STEP_TRANSIENT_ERROR = 'TrainingStepTransientError';

/** A failure of a Lambda step that a retry can fix; its `name` is what the state machine's Retry matches. */
export class TrainingStepTransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = TRAINING_STEP_TRANSIENT_ERROR;
  }
}

/** Error names of AWS and of Node that a retry can fix. */
const TRANSIENT_NAMES = new Set([
  'TimeoutError', 'AbortError', 'ThrottlingException', 'Throttling', 'TooManyRequestsException', 'SlowDown', 'RequestTimeout',
  'RequestTimeoutException', 'InternalError', 'InternalFailure', 'InternalServerException', 'ServiceUnavailable', 'ServiceUnavailableException',
]);
/** Socket error codes a retry can fix. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/** Whether a retry can fix `error`: an AWS 5xx/429, a throttle, a deadline, a network failure. */
export function isTransientError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as { name?: unknown; code?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return Boolean(e.$retryable) || (typeof status === 'number' && (status >= 500 || status === 429))
    || TRANSIENT_NAMES.has(String(e.name)) || TRANSIENT_CODES.has(String(e.code));
}

/** Runs an AWS call of a step: a transient failure becomes a TrainingStepTransientError naming `what`; others pass through. */
export async function awsCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isTransientError(error)) throw new TrainingStepTransientError(`${what} failed transiently (${String((error as Error).name)}); retried by the state machine`, { cause: error });
    throw error;
  }
}
