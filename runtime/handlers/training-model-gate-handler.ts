/**
 * Lambda step 5 of the TrainingPipeline: the model gate. Reads the evaluation job's report (EVALUATION_URI) and the
 * champion's metrics, runs runtime/core/training `checkModel`, and returns the verdict with the model package metadata
 * the register step records: the lineage (`buildLineage`: data snapshot, code version, image digest, metrics, both
 * gates' verdicts) flattened by `toModelPackageMetadata`.
 *
 * The champion is the model package group's latest Approved package; its metrics are read from its
 * CustomerMetadataProperties (`metric:<name>`, METRIC_METADATA_PREFIX, written by this step when it was registered),
 * so a package approved by hand becomes the champion too, and no second copy of the metrics can disagree with the
 * registry. No approved package (the first model) → the serving constraints alone decide.
 *
 * A refusal is a result (`passed: false` with the reasons), including a malformed report (check `evaluation-report`);
 * transient S3/SageMaker failures are thrown as TrainingStepTransientError (retried); a bad event, spec or lineage
 * (the execution input's codeVersion and imageDigest) is thrown, naming the problem.
 *
 * Environment: runtime/contracts/training-pipeline.ts.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand, ListModelPackagesCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { getObjectBytes } from '../aws/offline-store';
import {
  awsCall, EvaluationReport, failureCause, ModelGateEvent, ModelGateSettings, ModelGateStepResult, parseS3Uri, parseTrainingStepEnvironment, TrainingHandlers,
} from '../contracts/training-pipeline';
import type { GateCheck, GateResult } from '../core/training/checks';
import { buildLineage, LineageLimits, METRIC_METADATA_PREFIX, toModelPackageMetadata } from '../core/training/lineage';
import { checkModel } from '../core/training/model-gate';

/** Largest evaluation report read, bytes: metrics and a few measurements, never this big. */
export const MAX_REPORT_BYTES = 1024 * 1024;
/** Name of the check that the evaluation report is readable. */
export const EVALUATION_REPORT_CHECK = 'evaluation-report';

/** What the model gate step needs. */
export interface ModelGatePorts {
  /** The bytes of the evaluation report at an s3:// URI (at most MAX_REPORT_BYTES + 1 are needed). */
  readonly readReport: (uri: string) => Promise<Buffer>;
  /** The champion's metrics: the latest approved package's; undefined when none is approved. */
  readonly championMetrics: () => Promise<Record<string, number> | undefined>;
  readonly settings: ModelGateSettings;
  /** The clock, for the lineage's `createdAt`. @default Date.now */
  readonly now?: () => number;
}

/** Metrics recorded in package metadata (`metric:<name>` → number); other keys and non-numbers are ignored. */
export function metricsFromMetadata(metadata: Readonly<Record<string, string>> | undefined): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    const n = Number(value);
    if (key.startsWith(METRIC_METADATA_PREFIX) && value.trim() !== '' && Number.isFinite(n)) metrics[key.slice(METRIC_METADATA_PREFIX.length)] = n;
  }
  return metrics;
}

/** The report in `bytes`, or why it is unusable (a string). */
export function parseEvaluationReport(bytes: Buffer, uri: string): EvaluationReport | string {
  if (bytes.length > MAX_REPORT_BYTES) return `evaluation report ${uri} is over ${MAX_REPORT_BYTES} bytes; it holds metrics and a few measurements`;
  let report: unknown;
  try {
    report = JSON.parse(bytes.toString('utf8'));
  } catch {
    return `evaluation report ${uri} is not JSON (non-finite numbers such as NaN are not JSON: write null or leave the metric out)`;
  }
  const r = report as Partial<EvaluationReport> | null;
  if (r === null || typeof r !== 'object' || Array.isArray(r) || r.metrics === null || typeof r.metrics !== 'object' || Array.isArray(r.metrics)) {
    return `evaluation report ${uri} has no metrics object; the evaluation job must write { "metrics": { … }, "serving": { … } }`;
  }
  const serving = r.serving !== null && typeof r.serving === 'object' && !Array.isArray(r.serving) ? r.serving : undefined;
  return { metrics: r.metrics, ...(serving ? { serving } : {}) };
}

/** The report's finite metrics for the lineage, the gated metric first, within the lineage's bounds. */
function lineageMetrics(metrics: Readonly<Record<string, unknown>>, gated: string): Record<string, number> {
  const finite = Object.entries(metrics).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]) && e[0].length <= LineageLimits.MAX_TEXT);
  finite.sort(([a], [b]) => Number(b === gated) - Number(a === gated));
  return Object.fromEntries(finite.slice(0, LineageLimits.MAX_ENTRIES));
}

/** Checks the event's shape; throws naming the first field that is not what the state machine passes. */
function checkEvent(event: ModelGateEvent): void {
  const problem = (field: string, expected: string) => new Error(`${field}: expected ${expected} (the TrainingPipeline state machine passes it)`);
  if (event === null || typeof event !== 'object') throw problem('event', 'an object');
  if (typeof event.evaluationUri !== 'string') throw problem('evaluationUri', 'the s3:// URI of the evaluation report');
  parseS3Uri(event.evaluationUri);
  if (event.trainingSet === null || typeof event.trainingSet !== 'object') throw problem('trainingSet', 'the training set step\'s result');
  if (event.dataGate === null || typeof event.dataGate !== 'object' || !Array.isArray(event.dataGate.checks)) throw problem('dataGate', 'the data gate step\'s result');
}

/** Judges the challenger of `event` against the champion. */
export async function runModelGate(ports: ModelGatePorts, event: ModelGateEvent): Promise<ModelGateStepResult> {
  checkEvent(event);
  const report = parseEvaluationReport(await awsCall('reading the evaluation report', () => ports.readReport(event.evaluationUri)), event.evaluationUri);
  const { servingPricePerHour, ...spec } = ports.settings;
  let result: GateResult;
  if (typeof report === 'string') {
    const check: GateCheck = { name: EVALUATION_REPORT_CHECK, passed: false, observed: null, threshold: null, reason: report };
    result = { passed: false, checks: [check] };
  } else {
    const champion = await awsCall('reading the champion', ports.championMetrics);
    result = checkModel({
      challenger: { metrics: report.metrics, serving: { ...report.serving, ...(servingPricePerHour !== undefined ? { pricePerHour: servingPricePerHour } : {}) } },
      ...(champion ? { champion: { metrics: champion } } : {}),
    }, spec);
  }
  return { passed: result.passed, checks: result.checks, cause: failureCause(result), modelPackageMetadata: packageMetadata(ports, event, report, result) };
}

/** The lineage as package metadata; a lineage SageMaker cannot take (no code version) fails naming the fix. */
function packageMetadata(ports: ModelGatePorts, event: ModelGateEvent, report: EvaluationReport | string, model: GateResult): Record<string, string> {
  const set = event.trainingSet;
  let lineage;
  try {
    lineage = buildLineage({
      data: { datasetUri: set.uri, rowCount: set.rowCount, timeRange: { start: set.fromTime!, end: set.toTime! }, manifestSha256: set.manifestSha256 },
      gitSha: event.input?.codeVersion as string,
      imageDigest: event.input?.imageDigest as string,
      metrics: typeof report === 'string' ? {} : lineageMetrics(report.metrics, ports.settings.metric?.name),
      gates: { data: event.dataGate as GateResult, model },
      createdAt: new Date((ports.now ?? Date.now)()).toISOString(),
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}. The lineage recorded with the package needs the execution input { "codeVersion": "<git sha>", "imageDigest": "sha256:<64 hex>" } and the training set step's result`);
  }
  const metadata = toModelPackageMetadata(lineage);
  if (metadata.cut.length > 0) console.warn(JSON.stringify({ message: 'lineage shortened to fit SageMaker metadata', cut: metadata.cut }));
  return metadata.properties;
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
    readReport: (uri) => { const { bucket, key } = parseS3Uri(uri); return getObjectBytes(s3, bucket, key, { timeoutMs }); },
    championMetrics: () => approvedChampionMetrics(sagemaker, settings.modelPackageGroup!, timeoutMs),
    settings: settings.modelGate as ModelGateSettings,
  };
}

/** Lambda entry point: the model gate's verdict and the package metadata. */
export async function handler(event: ModelGateEvent): Promise<ModelGateStepResult> {
  cached ??= portsFromEnvironment();
  return runModelGate(cached, event);
}
