/**
 * The drift detector's contract, defined once: the Lambda environment the DriftDetector construct writes
 * (`driftEnvironment`) and the drift handler reads (`parseDriftEnvironment`). The statistics are runtime/core/drift;
 * the dataset layout is runtime/core/datasets.ts. Metrics go to METRICS_NAMESPACE (runtime/core/metrics.ts). Pure:
 * imports only other pure modules.
 */
import type { DriftOptions } from '../core/drift/detect';
import { Environment, EnvironmentReader } from './environment';
import { SharedVariables } from './shared';

/** Bundle name of the drift Lambda handler (runtime/handlers/drift-handler.ts). */
export const DRIFT_HANDLER = 'drift-handler';

/** Names of the drift handler's environment variables. */
export const DriftVariables = {
  /** JSON array of DriftModelSettings: the models checked, each with its sources and options. */
  MODELS: 'DRIFT_MODELS',
  /** Bucket of the prediction-log dataset (runtime/core/datasets.ts): prediction logs and baselines. */
  DATASET_BUCKET_NAME: 'DATASET_BUCKET_NAME',
  /** Length of the window checked, milliseconds: the window ends at the invocation's time. */
  WINDOW_MS: 'DRIFT_WINDOW_MS',
  /** Deadline of one S3 call, milliseconds (optional). */
  CALL_TIMEOUT_MS: 'DRIFT_CALL_TIMEOUT_MS',
  /** `true` for path-style S3 URLs, e.g. local stand-ins such as s3rver (optional). */
  S3_FORCE_PATH_STYLE: SharedVariables.S3_FORCE_PATH_STYLE,
} as const;

/** A SageMaker endpoint's data capture to read, beside (or instead of) the prediction logs. */
export interface DataCaptureSettings {
  /** Bucket SageMaker writes the captured data to. */
  readonly bucket: string;
  /** Key prefix of the capture (`DataCaptureProps.prefix`), without a trailing slash. */
  readonly prefix: string;
  /** Endpoint name: the key segment after the prefix. */
  readonly endpointName: string;
  /** Model version of each variant read, by variant name: the captured lines do not carry it. */
  readonly modelVersions: Readonly<Record<string, string>>;
}

/** One model the drift handler checks. */
export interface DriftModelSettings {
  /** Model name: the `model=` partition of the prediction logs and baselines, and the `Model` metric dimension. */
  readonly model: string;
  /**
   * Read the model's prediction logs in the dataset bucket (the gateway's, the server's).
   * @default true
   */
  readonly predictionLogs?: boolean;
  /**
   * Read an endpoint's data capture too.
   * @default - none
   */
  readonly dataCapture?: DataCaptureSettings;
  /**
   * Feature names of the model's input columns, by position of a row's flattened inputs (server logs, data capture),
   * e.g. the gateway's feature references. A position without a name is `<input>[<i>]`.
   * @default - `<input>[<i>]` throughout
   */
  readonly inputColumns?: readonly string[];
  /**
   * Methods and thresholds of the drift decision (per column, and the dataset-drift share).
   * @default - runtime/core/drift defaults (Evidently's by type and sample size)
   */
  readonly detection?: DriftOptions;
}

/** The drift handler's settings, as the construct writes them and the handler reads them. */
export interface DriftSettings {
  /** The models checked. */
  readonly models: readonly DriftModelSettings[];
  /** The dataset bucket (a CloudFormation token on the construct side). */
  readonly datasetBucketName: string;
  /** Length of the window checked, milliseconds, ending at the invocation's time. */
  readonly windowMs: number;
  /**
   * Deadline of one S3 call, milliseconds.
   * @default DEFAULT_DRIFT_CALL_TIMEOUT_MS
   */
  readonly callTimeoutMs?: number;
  /**
   * Path-style S3 URLs (local stand-ins such as s3rver).
   * @default false
   */
  readonly s3ForcePathStyle?: boolean;
}

/** Default deadline of one S3 call, milliseconds. */
export const DEFAULT_DRIFT_CALL_TIMEOUT_MS = 30_000;
/** Shortest window: a minute. */
export const MIN_DRIFT_WINDOW_MS = 60_000;
/** Longest window: 31 days (the `dt` partitions listed grow with it). */
export const MAX_DRIFT_WINDOW_MS = 31 * 86_400_000;

const V = DriftVariables;

/** The drift handler's Lambda environment for `settings` (optional values only when set). */
export function driftEnvironment(settings: DriftSettings): Record<string, string> {
  const environment: Record<string, string> = {
    [V.MODELS]: JSON.stringify(settings.models),
    [V.DATASET_BUCKET_NAME]: settings.datasetBucketName,
    [V.WINDOW_MS]: String(settings.windowMs),
  };
  if (settings.callTimeoutMs !== undefined) environment[V.CALL_TIMEOUT_MS] = String(settings.callTimeoutMs);
  if (settings.s3ForcePathStyle) environment[V.S3_FORCE_PATH_STYLE] = 'true';
  return environment;
}

/** Problems of the models setting (each naming the model and what to fix). */
export function driftModelsProblems(models: unknown): string[] {
  if (!Array.isArray(models) || models.length === 0) return ['expected a non-empty JSON array of models'];
  return models.flatMap((m: Partial<DriftModelSettings> | null, i) => {
    const where = `models[${i}]`;
    if (m === null || typeof m !== 'object' || typeof m.model !== 'string' || m.model === '') return [`${where}: expected an object with a model name`];
    const problems: string[] = [];
    if (m.predictionLogs === false && m.dataCapture === undefined) problems.push(`${where} (${m.model}): reads nothing; keep predictionLogs or add a dataCapture`);
    const capture = m.dataCapture;
    if (capture !== undefined && (typeof capture?.bucket !== 'string' || typeof capture.prefix !== 'string' || typeof capture.endpointName !== 'string'
      || capture.modelVersions === null || typeof capture.modelVersions !== 'object' || Object.keys(capture.modelVersions).length === 0)) {
      problems.push(`${where} (${m.model}): dataCapture needs bucket, prefix, endpointName and the modelVersions of its variants`);
    }
    return problems;
  });
}

/** Reads the drift handler's settings from its environment; throws one error listing every problem. */
export function parseDriftEnvironment(env: Environment): Required<DriftSettings> {
  const read = new EnvironmentReader(env, DRIFT_HANDLER, 'the DriftDetector construct');
  const models = read.json<DriftModelSettings[]>(V.MODELS, 'a JSON array of models');
  if (models !== undefined) for (const problem of driftModelsProblems(models)) read.problem(`${V.MODELS}: ${problem}`);
  const datasetBucketName = read.required(V.DATASET_BUCKET_NAME);
  const windowMs = read.number(V.WINDOW_MS, 3_600_000, { min: MIN_DRIFT_WINDOW_MS, max: MAX_DRIFT_WINDOW_MS });
  const callTimeoutMs = read.number(V.CALL_TIMEOUT_MS, DEFAULT_DRIFT_CALL_TIMEOUT_MS, { min: 100, max: 2 ** 31 - 1 });
  const s3ForcePathStyle = read.bool(V.S3_FORCE_PATH_STYLE);
  read.throwIfProblems();
  return { models: models ?? [], datasetBucketName, windowMs, callTimeoutMs, s3ForcePathStyle };
}
