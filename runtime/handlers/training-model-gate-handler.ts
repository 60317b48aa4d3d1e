/**
 * Lambda step 5 of the TrainingPipeline: the model gate. Reads the evaluation job's report (EVALUATION_URI) and the
 * champion's metrics, runs runtime/core/training `checkModel`, and returns the verdict with the model package metadata
 * (lineage) the register step records.
 *
 * The champion is the model package group's latest Approved package; its metrics are read from its
 * CustomerMetadataProperties (`metric.<name>`, written by this step when it was registered), so a package approved by
 * hand becomes the champion too, and no second copy of the metrics can disagree with the registry. No approved package
 * (the first model) → the serving constraints alone decide.
 *
 * Environment: runtime/contracts/training-pipeline.ts.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand, ListModelPackagesCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { getObjectBytes } from '../aws/offline-store';
import {
  EvaluationReport, failureCause, ModelGateEvent, ModelGateSettings, ModelGateStepResult, parseS3Uri, parseTrainingStepEnvironment, TrainingHandlers,
} from '../contracts/training-pipeline';
import { checkModel } from '../core/training/model-gate';

/** Prefix of a metric's key in a package's CustomerMetadataProperties. */
export const METRIC_METADATA_PREFIX = 'metric.';
/** SageMaker's limits on CustomerMetadataProperties: keys, key length, value length. */
const METADATA_LIMITS = { keys: 50, keyLength: 128, valueLength: 256 };
/** Largest evaluation report read, bytes: metrics and a few measurements, never this big. */
const MAX_REPORT_BYTES = 1024 * 1024;

/** What the model gate step needs. */
export interface ModelGatePorts {
  /** The evaluation report at an s3:// URI. */
  readonly readReport: (uri: string) => Promise<EvaluationReport>;
  /** The champion's metrics: the latest approved package's; undefined when none is approved. */
  readonly championMetrics: () => Promise<Record<string, number> | undefined>;
  readonly settings: ModelGateSettings;
  readonly modelName: string;
}

/** Metrics recorded in package metadata (`metric.<name>` → number); other keys and non-numbers are ignored. */
export function metricsFromMetadata(metadata: Readonly<Record<string, string>> | undefined): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    const n = Number(value);
    if (key.startsWith(METRIC_METADATA_PREFIX) && value.trim() !== '' && Number.isFinite(n)) metrics[key.slice(METRIC_METADATA_PREFIX.length)] = n;
  }
  return metrics;
}

/** A string cut to SageMaker's value limit. */
const cut = (text: string) => (text.length > METADATA_LIMITS.valueLength ? `${text.slice(0, METADATA_LIMITS.valueLength - 1)}…` : text);

/** The package metadata: lineage (data snapshot, code version, image digest), then the metrics, within SageMaker's limits. */
export function modelPackageMetadata(event: ModelGateEvent, report: EvaluationReport, modelName: string): Record<string, string> {
  const metadata: Record<string, string> = {
    model: cut(modelName),
    execution: cut(event.execution),
    'data.uri': cut(event.trainingSet.uri),
    'data.sha256': event.trainingSet.sha256,
    'data.rows': String(event.trainingSet.rowCount),
    'code.version': cut(String(event.input?.codeVersion ?? 'unknown')),
    'image.digest': cut(String(event.input?.imageDigest ?? 'unknown')),
  };
  if (event.trainingSet.fromTime && event.trainingSet.toTime) metadata['data.range'] = `${event.trainingSet.fromTime}/${event.trainingSet.toTime}`;
  for (const [name, value] of Object.entries(report.metrics)) {
    const key = `${METRIC_METADATA_PREFIX}${name}`;
    if (Object.keys(metadata).length >= METADATA_LIMITS.keys) break;
    if (key.length <= METADATA_LIMITS.keyLength && Number.isFinite(value)) metadata[key] = String(value);
  }
  return metadata;
}

/** Judges the challenger of `event` against the champion. */
export async function runModelGate(ports: ModelGatePorts, event: ModelGateEvent): Promise<ModelGateStepResult> {
  const report = await ports.readReport(event.evaluationUri);
  if (report === null || typeof report !== 'object' || report.metrics === null || typeof report.metrics !== 'object') {
    throw new Error(`evaluation report ${event.evaluationUri} has no metrics object; the evaluation job must write { "metrics": { … }, "serving": { … } }`);
  }
  const champion = await ports.championMetrics();
  const { servingPricePerHour, ...spec } = ports.settings;
  const result = checkModel({
    challenger: { metrics: report.metrics, serving: { ...report.serving, ...(servingPricePerHour !== undefined ? { pricePerHour: servingPricePerHour } : {}) } },
    ...(champion ? { champion: { metrics: champion } } : {}),
  }, spec);
  return { passed: result.passed, checks: result.checks, cause: failureCause(result), modelPackageMetadata: modelPackageMetadata(event, report, ports.modelName) };
}

/** The latest approved package's metrics in `group` (SageMaker's API). */
export async function approvedChampionMetrics(client: SageMakerClient, group: string, timeoutMs: number): Promise<Record<string, number> | undefined> {
  const listed = await client.send(new ListModelPackagesCommand({
    ModelPackageGroupName: group, ModelApprovalStatus: 'Approved', SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 1,
  }), { abortSignal: AbortSignal.timeout(timeoutMs) });
  const arn = listed.ModelPackageSummaryList?.[0]?.ModelPackageArn;
  if (!arn) return undefined;
  const described = await client.send(new DescribeModelPackageCommand({ ModelPackageName: arn }), { abortSignal: AbortSignal.timeout(timeoutMs) });
  return metricsFromMetadata(described.CustomerMetadataProperties);
}

let cached: ModelGatePorts | undefined;

function portsFromEnvironment(): ModelGatePorts {
  const settings = parseTrainingStepEnvironment(process.env, TrainingHandlers.MODEL_GATE);
  const s3 = new S3Client({ forcePathStyle: settings.s3ForcePathStyle });
  const sagemaker = new SageMakerClient({});
  const timeoutMs = Math.min(settings.callTimeoutMs, 30_000);
  return {
    readReport: async (uri) => {
      const { bucket, key } = parseS3Uri(uri);
      const bytes = await getObjectBytes(s3, bucket, key, { timeoutMs });
      if (bytes.length > MAX_REPORT_BYTES) throw new Error(`evaluation report ${uri} is ${bytes.length} bytes, over ${MAX_REPORT_BYTES}`);
      return JSON.parse(bytes.toString('utf8')) as EvaluationReport;
    },
    championMetrics: () => approvedChampionMetrics(sagemaker, settings.modelPackageGroup!, timeoutMs),
    settings: settings.modelGate as ModelGateSettings,
    modelName: settings.modelName,
  };
}

/** Lambda entry point: the model gate's verdict and the package metadata. */
export async function handler(event: ModelGateEvent): Promise<ModelGateStepResult> {
  cached ??= portsFromEnvironment();
  return runModelGate(cached, event);
}
