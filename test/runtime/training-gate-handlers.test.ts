/**
 * The TrainingPipeline's gate steps on real loopback servers: the training set and the evaluation report in s3rver
 * (a real S3Client with an endpoint override), the set built by the training set step itself. SageMaker has no local
 * stand-in: the champion's ListModelPackages/DescribeModelPackage answers (and a throttle) come from
 * aws-sdk-client-mock on a real SageMakerClient, and only those.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand, ListModelPackagesCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { FeatureDtype, FeatureViewSpec } from '../../lib/features/spec';
import { getObjectBytes } from '../../runtime/aws/offline-store';
import {
  DataGateSettings, GateStepResult, ModelGateEvent, ModelGateSettings, parseS3Uri, TRAINING_STEP_TRANSIENT_ERROR, TrainingLayout, TrainingSetStepResult,
} from '../../runtime/contracts/training-pipeline';
import { expectedColumnsOf } from '../../runtime/core/training/data-gate';
import { DATA_INTEGRITY_CHECK, runDataGate } from '../../runtime/handlers/training-data-gate-handler';
import { approvedChampionMetrics, EVALUATION_REPORT_CHECK, ModelGatePorts, runModelGate } from '../../runtime/handlers/training-model-gate-handler';
import { buildTrainingSet } from '../../runtime/handlers/training-set-handler';
import { LocalService, localClientConfig, startS3rver } from '../support/local-aws';

const BUCKET = 'training-bucket';
const T0 = Date.UTC(2026, 2, 1);
const stats: FeatureViewSpec = {
  specFormat: 1, name: 'customer_stats', version: 1, entities: [{ name: 'customer', joinKeys: ['customer_id'] }],
  eventTimeField: 'event_time', ttlSeconds: 86_400, freshnessSeconds: 60,
  features: [{ name: 'txn_count', dtype: FeatureDtype.INT64 }, { name: 'avg_amount', dtype: FeatureDtype.FLOAT64 }],
};
const DATA_GATE: DataGateSettings = {
  columns: expectedColumnsOf([stats]), label: { name: 'label', dtype: FeatureDtype.INT64, task: 'classification' }, minRows: 100,
};
const MODEL_GATE: ModelGateSettings = {
  metric: { name: 'auc', direction: 'higher-is-better', minMargin: 0.01 }, serving: { maxLatencyP99Ms: 50 },
};
const LINEAGE_INPUT = { codeVersion: '0123abc', imageDigest: `sha256:${'a'.repeat(64)}` };

/** 200 training rows; `nullEvery` rows have no avg_amount (2: half of them). */
function rows(nullEvery = 0): Record<string, unknown>[] {
  return Array.from({ length: 200 }, (_, i) => ({
    customer_id: `c${i}`, event_timestamp: new Date(T0 + i * 60_000).toISOString(), label: i % 2,
    customer_stats__txn_count: i % 17, customer_stats__avg_amount: nullEvery > 0 && i % nullEvery === 0 ? null : 10 + (i % 7),
  }));
}

let s3rver: LocalService;
let s3: S3Client;
const sagemaker = new SageMakerClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const sagemakerMock = mockClient(sagemaker);

beforeAll(async () => {
  s3rver = await startS3rver();
  s3 = new S3Client(localClientConfig(s3rver.endpoint));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  s3?.destroy();
  sagemakerMock.restore();
  await s3rver?.stop();
});

const readS3 = (uri: string) => { const { bucket, key } = parseS3Uri(uri); return getObjectBytes(s3, bucket, key); };
const put = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));

/** A training set built by the training set step in s3rver. */
const trainingSet = (execution: string, data: Record<string, unknown>[]) => buildTrainingSet({ s3, bucket: BUCKET, retrieve: async () => data }, { execution });

const dataGatePorts = { read: readS3, baseline: async () => undefined, settings: DATA_GATE };

describe('data gate step', () => {
  test('passes a good training set', async () => {
    const set = await trainingSet('dg-good', rows());
    const result = await runDataGate(dataGatePorts, { execution: 'dg-good', trainingSet: set });
    expect(result).toMatchObject({ passed: true, cause: '' });
    expect(result.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['row-count', 'null-rate', 'label-classes']));
  });

  test('fails a null-heavy column with the gate\'s reason', async () => {
    const set = await trainingSet('dg-nulls', rows(2));
    const result = await runDataGate(dataGatePorts, { execution: 'dg-nulls', trainingSet: set });
    expect(result.passed).toBe(false);
    expect(result.checks.filter((c) => !c.passed)).toEqual([expect.objectContaining({ name: 'null-rate', observed: 0.5, threshold: 0.05 })]);
    expect(result.cause).toMatch(/customer_stats__avg_amount/);
    expect(result.cause).toMatch(/50 %/);
  });

  test('refuses data whose SHA-256 is not the manifest\'s (an object replaced after the set was built)', async () => {
    const set = await trainingSet('dg-tampered', rows());
    await put(`${TrainingLayout.trainingSetPrefix('dg-tampered')}${TrainingLayout.DATA_FILE}`, rows().map((r) => JSON.stringify({ ...r, label: 1 })).join('\n'));
    const result = await runDataGate(dataGatePorts, { execution: 'dg-tampered', trainingSet: set });
    expect(result).toMatchObject({ passed: false, checks: [{ name: DATA_INTEGRITY_CHECK, passed: false, threshold: set.sha256 }] });
    expect(result.cause).toMatch(/not the manifest's .* changed after it was built; start a new execution/);
  });

  test('an event without the training set fails naming it', async () => {
    await expect(runDataGate(dataGatePorts, { execution: 'x' } as never)).rejects.toThrow(/^trainingSet: expected the training set step's result/);
  });
});

describe('model gate step', () => {
  let set: TrainingSetStepResult;
  let dataGate: GateStepResult;
  beforeAll(async () => {
    set = await trainingSet('mg', rows());
    dataGate = await runDataGate(dataGatePorts, { execution: 'mg', trainingSet: set });
  });
  beforeEach(() => sagemakerMock.reset());

  const ports: ModelGatePorts = {
    readReport: readS3,
    championMetrics: () => approvedChampionMetrics(sagemaker, 'fraud', 1000),
    settings: { ...MODEL_GATE, servingPricePerHour: 1.408 },
    now: () => T0,
  };

  /** The event of an execution whose evaluation report is `report` (written to s3rver as given). */
  async function event(execution: string, report: string, input: object = LINEAGE_INPUT): Promise<ModelGateEvent> {
    await put(TrainingLayout.evaluationKey(execution), report);
    return {
      execution, input, trainingSet: set, dataGate, evaluationUri: `s3://${BUCKET}/${TrainingLayout.evaluationKey(execution)}`,
      modelArtifactUri: `s3://${BUCKET}/${TrainingLayout.modelPrefix(execution)}model.tar.gz`,
    };
  }
  const report = (auc: unknown, latencyP99Ms = 20) => JSON.stringify({ metrics: { auc, logloss: 0.3 }, serving: { latencyP99Ms, modelBytes: 1e6, throughputPerSecond: 200 } });
  /** The group's latest approved package carries `metadata`. */
  function champion(metadata: Record<string, string>): void {
    const arn = 'arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/3';
    sagemakerMock.on(ListModelPackagesCommand, { ModelPackageGroupName: 'fraud', ModelApprovalStatus: 'Approved', SortBy: 'CreationTime', SortOrder: 'Descending' })
      .resolves({ ModelPackageSummaryList: [{ ModelPackageArn: arn, ModelPackageGroupName: 'fraud', ModelPackageStatus: 'Completed', CreationTime: new Date(T0) }] });
    sagemakerMock.on(DescribeModelPackageCommand, { ModelPackageName: arn }).resolves({ CustomerMetadataProperties: metadata });
  }

  test('the first model (no approved package) is judged on the serving constraints, and its lineage is the package metadata', async () => {
    sagemakerMock.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    const result = await runModelGate(ports, await event('mg-first', report(0.9)));
    expect(result).toMatchObject({ passed: true, cause: '' });
    expect(result.checks[0].reason).toMatch(/^no champion: the first model \(auc 0.9\)/);
    expect(result.modelPackageMetadata).toMatchObject({
      'data:uri': set.uri, 'data:rows': '200', 'data:start': set.fromTime, 'data:end': set.toTime, 'data:manifestSha256': set.manifestSha256,
      'code:gitSha': '0123abc', 'image:digest': LINEAGE_INPUT.imageDigest, 'gate:data': 'passed', 'gate:model': 'passed',
      'metric:auc': '0.9', 'metric:logloss': '0.3', 'lineage:createdAt': new Date(T0).toISOString(),
    });
    expect(sagemakerMock.commandCalls(DescribeModelPackageCommand)).toHaveLength(0);
  });

  test('a challenger that beats the champion (read back from the metadata the step wrote) passes', async () => {
    sagemakerMock.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    const first = await runModelGate(ports, await event('mg-champion', report(0.9)));
    champion(first.modelPackageMetadata);
    const result = await runModelGate(ports, await event('mg-beats', report(0.915)));
    expect(result.passed).toBe(true);
    expect(result.checks[0].reason).toBe('challenger auc 0.915 vs champion 0.9 (higher-is-better): improvement 0.015 meets the margin 0.01');
  });

  test('a challenger short of the margin fails with the gate\'s reason', async () => {
    champion({ 'metric:auc': '0.9' });
    const result = await runModelGate(ports, await event('mg-short', report(0.905)));
    expect(result.passed).toBe(false);
    expect(result.cause).toBe('challenger auc 0.905 vs champion 0.9 (higher-is-better): improvement 0.005 is short of the margin 0.01 by 0.005');
    expect(result.modelPackageMetadata['gate:model']).toBe('failed: metric');
  });

  test('a champion without the metric fails, naming the fix', async () => {
    champion({ 'code:gitSha': 'fedcba9', 'metric:accuracy': '0.8' });
    const result = await runModelGate(ports, await event('mg-no-metric', report(0.95)));
    expect(result.cause).toBe('the champion\'s metric auc is missing; evaluate the champion on the same data before comparing');
  });

  test('a latency over the budget fails the serving constraint', async () => {
    champion({ 'metric:auc': '0.9' });
    const result = await runModelGate(ports, await event('mg-slow', report(0.95, 62)));
    expect(result.cause).toBe('p99 latency 62 ms exceeds the budget of 50 ms');
  });

  test.each([
    ['not JSON', 'auc=0.9', /is not JSON/],
    ['a literal NaN (Python\'s json.dumps)', '{"metrics": {"auc": NaN}}', /is not JSON \(non-finite numbers such as NaN are not JSON/],
    ['no metrics object', '{"metrics": [0.9]}', /has no metrics object; the evaluation job must write/],
    ['an array', '[]', /has no metrics object/],
  ])('a malformed report (%s) is a failed check with a clear reason, not a crash', async (_name, body, reason) => {
    const result = await runModelGate(ports, await event('mg-malformed', body));
    expect(result).toMatchObject({ passed: false, checks: [{ name: EVALUATION_REPORT_CHECK, passed: false }] });
    expect(result.cause).toMatch(reason);
    expect(result.modelPackageMetadata['gate:model']).toBe(`failed: ${EVALUATION_REPORT_CHECK}`);
    expect(sagemakerMock.calls()).toHaveLength(0);
  });

  test.each([null, 'NaN', 'Infinity'])('a metric of %p fails the metric check, naming it', async (auc) => {
    champion({ 'metric:auc': '0.9' });
    const result = await runModelGate(ports, await event('mg-nan', report(auc)));
    expect(result.cause).toBe(`the challenger's metric auc is ${String(auc)}; the evaluation must report a finite auc`);
    expect(result.modelPackageMetadata['metric:auc']).toBeUndefined();
  });

  test('an execution started without the lineage facts fails naming them', async () => {
    sagemakerMock.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    await expect(runModelGate(ports, await event('mg-no-lineage', report(0.9), {})))
      .rejects.toThrow(/gitSha must be a git commit.*imageDigest must be sha256:.*needs the execution input \{ "codeVersion"/);
  });

  test('an event without the evaluation URI fails naming it', async () => {
    await expect(runModelGate(ports, { ...(await event('mg-bad', report(0.9))), evaluationUri: undefined } as never)).rejects.toThrow(/^evaluationUri: expected/);
  });

  test('SageMaker throttling is a transient error the state machine retries', async () => {
    sagemakerMock.on(ListModelPackagesCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    await expect(runModelGate(ports, await event('mg-throttled', report(0.9)))).rejects.toMatchObject({ name: TRAINING_STEP_TRANSIENT_ERROR });
  });

  test('an evaluation report missing in S3 is a permanent error, not retried', async () => {
    const e = await event('mg-missing', report(0.9));
    const error = await runModelGate(ports, { ...e, evaluationUri: `s3://${BUCKET}/evaluations/none/evaluation.json` }).catch((x: Error) => x);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).not.toBe(TRAINING_STEP_TRANSIENT_ERROR);
  });
});
