/**
 * Lambda step 2 of the TrainingPipeline: the data gate. Reads the training set the previous step wrote (checking its
 * SHA-256 against the manifest: the data judged is the data snapshot recorded), and runs runtime/core/training
 * `checkTrainingData`: schema, null rates, row count and label always; drift against the model's baseline
 * (runtime/aws/baseline-store.ts) when the pipeline names one. A failed gate is a result, not an error: the state
 * machine ends the execution in its `DataGateFailed` state with `cause`. A data file whose SHA-256 is not the
 * manifest's is such a failure too (check `data-integrity`): it changed after it was built, and is never judged.
 * Transient S3 failures are thrown as TrainingStepTransientError (retried); a bad event or spec is thrown, naming it.
 *
 * Environment: runtime/contracts/training-pipeline.ts.
 */
import { createHash } from 'crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { readBaseline } from '../aws/baseline-store';
import { getObjectBytes } from '../aws/offline-store';
import {
  awsCall, DataGateEvent, DataGateSettings, failureCause, GateStepResult, parseS3Uri, parseTrainingStepEnvironment, TrainingHandlers,
} from '../contracts/training-pipeline';
import type { DatasetProfile } from '../core/drift/profile';
import { checkTrainingData } from '../core/training/data-gate';

/** What the data gate step needs. */
export interface DataGatePorts {
  /** The bytes of the object at an s3:// URI. */
  readonly read: (uri: string) => Promise<Buffer>;
  /** The baseline profile; undefined when the pipeline names none, or none was written. */
  readonly baseline: () => Promise<DatasetProfile | undefined>;
  readonly settings: DataGateSettings;
}

/** The rows of a JSON-lines training set (blank lines skipped; a malformed line fails the step, naming it). */
export function parseTrainingSet(data: Buffer): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  data.toString('utf8').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      throw new Error(`training set line ${i + 1} is not JSON: the set was not written by the training set step; rebuild it with a new execution`);
    }
  });
  return rows;
}

/** Name of the check that the data file is the one the manifest recorded. */
export const DATA_INTEGRITY_CHECK = 'data-integrity';

/** Judges the training set of `event`. */
export async function runDataGate(ports: DataGatePorts, event: DataGateEvent): Promise<GateStepResult> {
  const set = event?.trainingSet;
  if (set === null || typeof set !== 'object' || typeof set.uri !== 'string' || !/^[0-9a-f]{64}$/.test(String(set.sha256))) {
    throw new Error('trainingSet: expected the training set step\'s result ({ uri, sha256, rowCount, … }) at $.trainingSet of the execution state');
  }
  parseS3Uri(set.uri);
  const data = await awsCall('reading the training set', () => ports.read(set.uri));
  const sha256 = createHash('sha256').update(data).digest('hex');
  if (sha256 !== set.sha256) {
    const reason = `training set ${set.uri} has SHA-256 ${sha256}, not the manifest's ${set.sha256}: it changed after it was built; start a new execution`;
    return { passed: false, checks: [{ name: DATA_INTEGRITY_CHECK, passed: false, observed: sha256, threshold: set.sha256, reason }], cause: reason };
  }
  const baseline = await awsCall('reading the baseline', ports.baseline);
  const { driftOptions, ...spec } = ports.settings;
  const result = checkTrainingData({ rows: parseTrainingSet(data) }, { ...spec, ...(baseline ? { drift: { baseline, options: driftOptions } } : {}) });
  return { passed: result.passed, checks: result.checks, cause: failureCause(result) };
}

let cached: DataGatePorts | undefined;

function portsFromEnvironment(): DataGatePorts {
  const settings = parseTrainingStepEnvironment(process.env, TrainingHandlers.DATA_GATE);
  const s3 = new S3Client({ forcePathStyle: settings.s3ForcePathStyle });
  const timeoutMs = Math.min(settings.callTimeoutMs, 60_000);
  return {
    read: (uri) => { const { bucket, key } = parseS3Uri(uri); return getObjectBytes(s3, bucket, key, { timeoutMs }); },
    baseline: async () => (settings.baselineBucket ? readBaseline(s3, settings.baselineBucket, settings.modelName, settings.baselineVersion!, { timeoutMs }) : undefined),
    settings: settings.dataGate as DataGateSettings,
  };
}

/** Lambda entry point: the data gate's verdict. */
export async function handler(event: DataGateEvent): Promise<GateStepResult> {
  cached ??= portsFromEnvironment();
  return runDataGate(cached, event);
}
