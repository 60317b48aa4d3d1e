/**
 * Lambda step 5 of the TrainingPipeline: the model gate. Reads the evaluation job's report (EVALUATION_URI), runs
 * runtime/core/training `checkModel`, and returns the verdict with the model package metadata the register step
 * records: the lineage (`buildLineage`: data snapshot, code version, image digest, metrics, both gates' verdicts)
 * flattened by `toModelPackageMetadata`.
 *
 * The challenger is compared with the champion evaluated on the SAME held-out data: the evaluation job receives the
 * champion's model (CHAMPION_MODEL_URI) and writes its metrics to the report's `champion.metrics`. Metrics the
 * champion got on its own held-out set at registration are not comparable (after drift they block every new model or
 * let a worse one through), so they are never used. Whether a champion exists is the model package group's latest
 * Approved package (a package approved by hand counts too): one exists but the report has no champion metrics → the
 * metric check fails naming CHAMPION_MODEL_URI. No approved package (the first model) → the serving constraints decide.
 *
 * The report is read with a ranged GET of at most MAX_REPORT_BYTES + 1 bytes: a larger object is refused by its size
 * (Content-Range), never downloaded. A refusal is a result (`passed: false` with the reasons), including a malformed
 * report (check `evaluation-report`); transient S3/SageMaker failures are thrown as TrainingStepTransientError
 * (retried); a bad event, spec or lineage (the execution input's codeVersion and imageDigest) is thrown, naming it.
 *
 * Environment: runtime/contracts/training-pipeline.ts.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListModelPackagesCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import {
  awsCall, EvaluationReport, failureCause, ModelGateEvent, ModelGateSettings, ModelGateStepResult, parseS3Uri, parseTrainingStepEnvironment,
  TrainingHandlers, TrainingJobVariables,
} from '../contracts/training-pipeline';
import type { GateCheck, GateResult } from '../core/training/checks';
import { buildLineage, LineageLimits, toModelPackageMetadata } from '../core/training/lineage';
import { checkModel } from '../core/training/model-gate';

/** Largest evaluation report read, bytes: metrics and a few measurements, never this big. */
export const MAX_REPORT_BYTES = 1024 * 1024;
/** Name of the check that the evaluation report is readable. */
export const EVALUATION_REPORT_CHECK = 'evaluation-report';

/** The first bytes of an object and its whole size. */
export interface ObjectHead {
  /** At most the `maxBytes` asked for. */
  readonly bytes: Buffer;
  /** Size of the whole object, bytes. */
  readonly size: number;
}

/** What the model gate step needs. */
export interface ModelGatePorts {
  /** The first `maxBytes` bytes of the evaluation report at an s3:// URI, and its size (`s3ObjectHead`). */
  readonly readReport: (uri: string, maxBytes: number) => Promise<ObjectHead>;
  /** Whether a champion exists: the model package group has an approved package. */
  readonly championExists: () => Promise<boolean>;
  readonly settings: ModelGateSettings;
  /** The clock, for the lineage's `createdAt`. @default Date.now */
  readonly now?: () => number;
}

/**
 * Reads at most `maxBytes` of an S3 object with a ranged GET (`Range: bytes=0-<maxBytes − 1>`) and its size from
 * Content-Range: a larger object is never downloaded. An empty object (S3 answers 416 to any range) is 0 bytes.
 */
export function s3ObjectHead(s3: S3Client, timeoutMs: number): (uri: string, maxBytes: number) => Promise<ObjectHead> {
  return async (uri, maxBytes) => {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${maxBytes - 1}` }), { abortSignal: AbortSignal.timeout(timeoutMs) });
      const bytes = Buffer.from(await object.Body!.transformToByteArray());
      const total = /\/(\d+)$/.exec(object.ContentRange ?? '')?.[1];
      return { bytes: bytes.subarray(0, maxBytes), size: total !== undefined ? Number(total) : bytes.length };
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return { bytes: Buffer.alloc(0), size: 0 };
      throw error;
    }
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The report in `head`, or why it is unusable (a string). */
export function parseEvaluationReport(head: ObjectHead, uri: string): EvaluationReport | string {
  if (head.size > MAX_REPORT_BYTES) return `evaluation report ${uri} is ${head.size} bytes, over ${MAX_REPORT_BYTES}; it holds metrics and a few measurements`;
  let report: unknown;
  try {
    report = JSON.parse(head.bytes.toString('utf8'));
  } catch {
    return `evaluation report ${uri} is not JSON (non-finite numbers such as NaN are not JSON: write null or leave the metric out)`;
  }
  if (!isObject(report) || !isObject(report.metrics)) {
    return `evaluation report ${uri} has no metrics object; the evaluation job must write { "metrics": { … }, "champion": { "metrics": { … } }, "serving": { … } }`;
  }
  if (report.champion !== undefined && !(isObject(report.champion) && isObject(report.champion.metrics))) {
    return `evaluation report ${uri} has a champion that is not { "metrics": { … } }: the champion's metrics on the same held-out data`;
  }
  const r = report as unknown as EvaluationReport;
  return { metrics: r.metrics, ...(r.champion ? { champion: { metrics: r.champion.metrics } } : {}), ...(isObject(report.serving) ? { serving: r.serving } : {}) };
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
  const report = parseEvaluationReport(await awsCall('reading the evaluation report', () => ports.readReport(event.evaluationUri, MAX_REPORT_BYTES)), event.evaluationUri);
  const { servingPricePerHour, ...spec } = ports.settings;
  let result: GateResult;
  if (typeof report === 'string') {
    const check: GateCheck = { name: EVALUATION_REPORT_CHECK, passed: false, observed: null, threshold: null, reason: report };
    result = { passed: false, checks: [check] };
  } else {
    const championExists = await awsCall('finding the champion', ports.championExists);
    if (championExists && report.champion === undefined) {
      const reason = `the model package group has an approved champion, but evaluation report ${event.evaluationUri} has no champion.metrics: the evaluation job must evaluate the champion's model (${TrainingJobVariables.CHAMPION_MODEL_URI}) on the same held-out data and write its metrics there`;
      result = { passed: false, checks: [{ name: 'metric', passed: false, observed: null, threshold: spec.metric?.minMargin ?? 0, reason }] };
    } else {
      result = checkModel({
        challenger: { metrics: report.metrics, serving: { ...report.serving, ...(servingPricePerHour !== undefined ? { pricePerHour: servingPricePerHour } : {}) } },
        ...(championExists ? { champion: report.champion } : {}),
      }, spec);
    }
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

/** Whether `group` has an approved model package: a champion to beat (SageMaker's API). */
export async function approvedChampionExists(client: SageMakerClient, group: string, timeoutMs: number): Promise<boolean> {
  const listed = await client.send(new ListModelPackagesCommand({
    ModelPackageGroupName: group, ModelApprovalStatus: 'Approved', SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 1,
  }), { abortSignal: AbortSignal.timeout(timeoutMs) });
  return (listed.ModelPackageSummaryList ?? []).length > 0;
}

let cached: ModelGatePorts | undefined;

function portsFromEnvironment(): ModelGatePorts {
  const settings = parseTrainingStepEnvironment(process.env, TrainingHandlers.MODEL_GATE);
  const s3 = new S3Client({ forcePathStyle: settings.s3ForcePathStyle });
  const sagemaker = new SageMakerClient({});
  const timeoutMs = Math.min(settings.callTimeoutMs, 30_000);
  return {
    readReport: s3ObjectHead(s3, timeoutMs),
    championExists: () => approvedChampionExists(sagemaker, settings.modelPackageGroup!, timeoutMs),
    settings: settings.modelGate as ModelGateSettings,
  };
}

/** Lambda entry point: the model gate's verdict and the package metadata. */
export async function handler(event: ModelGateEvent): Promise<ModelGateStepResult> {
  cached ??= portsFromEnvironment();
  return runModelGate(cached, event);
}
