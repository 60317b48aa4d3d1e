/**
 * The TrainingPipeline's gate steps on real loopback servers: the training set and the evaluation report in s3rver
 * (a real S3Client with an endpoint override), the set built by the training set step itself. SageMaker has no local
 * stand-in: the champion's ListModelPackages answers (and a throttle) come from aws-sdk-client-mock on a real
 * SageMakerClient, and only those. A loopback proxy in front of s3rver counts the bytes S3 sends (the ranged read).
 */
import { createServer, request } from 'http';
import type { AddressInfo } from 'net';
import { createHash } from 'crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListModelPackagesCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { FeatureDtype, FeatureViewSpec } from '../../lib/features/spec';
import {
  DataGateSettings, GateStepResult, ModelGateEvent, ModelGateSettings, parseS3Uri, TRAINING_STEP_TRANSIENT_ERROR, TrainingLayout, TrainingSetStepResult,
} from '../../runtime/contracts/training-pipeline';
import { expectedColumnsOf } from '../../runtime/core/training/data-gate';
import {
  DATA_INTEGRITY_CHECK, LINE_FORMAT_CHECK, MAX_LINE_BYTES, openObject, REJECTED_ROWS_CHECK, runDataGate,
} from '../../runtime/handlers/training-data-gate-handler';
import {
  approvedChampionExists, EVALUATION_REPORT_CHECK, MAX_REPORT_BYTES, ModelGatePorts, runModelGate, s3ObjectHead,
} from '../../runtime/handlers/training-model-gate-handler';
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

const put = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));

/** A training set built by the training set step in s3rver. */
const trainingSet = (execution: string, data: Record<string, unknown>[]) => buildTrainingSet({ s3, bucket: BUCKET, retrieve: async () => data }, { execution, input: LINEAGE_INPUT });

const dataGatePorts = { open: (uri: string) => openObject(s3, uri, 5000), baseline: async () => undefined, settings: DATA_GATE };

/** Replaces the data file of `set` with `body` and returns the set as if the manifest had recorded that file. */
async function replaceData(set: TrainingSetStepResult, body: string): Promise<TrainingSetStepResult> {
  const { key } = parseS3Uri(set.uri);
  await put(key, body);
  return { ...set, sha256: createHash('sha256').update(body).digest('hex') };
}

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

  test('a line that is not a JSON object, or longer than MAX_LINE_BYTES, is a counted problem, not a crash', async () => {
    const set = await trainingSet('dg-lines', rows());
    const good = rows().map((r) => JSON.stringify(r));
    const body = [...good.slice(0, 100), '{"customer_id": "c1", trunc', '[1, 2]', `{"x": "${'y'.repeat(MAX_LINE_BYTES)}"}`, ...good.slice(100)].join('\n');
    const result = await runDataGate(dataGatePorts, { execution: 'dg-lines', trainingSet: await replaceData(set, body) });
    expect(result.passed).toBe(false);
    expect(result.checks.filter((c) => !c.passed)).toEqual([expect.objectContaining({ name: LINE_FORMAT_CHECK, observed: 3, threshold: 0 })]);
    expect(result.cause).toBe('3 lines of the training set are not rows (line 101: not JSON); the set was not written by the training set step: start a new execution');
    expect(result.checks.find((c) => c.name === 'row-count')).toMatchObject({ observed: 200 });
  });

  test('rows the training set step left out for their event_timestamp are held to maxTypeErrorRate', async () => {
    const data = [...rows(), { ...rows()[0], event_timestamp: 8.7e15 }, { ...rows()[1], event_timestamp: 1767225600 }];
    const set = await trainingSet('dg-rejected', data);
    expect(set).toMatchObject({ rowCount: 200, rejectedRows: 2 });
    const strict = await runDataGate(dataGatePorts, { execution: 'dg-rejected', trainingSet: set });
    expect(strict.checks.filter((c) => !c.passed)).toEqual([expect.objectContaining({ name: REJECTED_ROWS_CHECK, observed: 2 / 202, threshold: 0 })]);
    expect(strict.cause).toMatch(/^2 of 202 rows were left out .*row 202: event_timestamp: 1767225600 looks like epoch seconds/);
    const lenient = await runDataGate({ ...dataGatePorts, settings: { ...DATA_GATE, maxTypeErrorRate: 0.02 } }, { execution: 'dg-rejected', trainingSet: set });
    expect(lenient.passed).toBe(true);
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
    readReport: (uri, maxBytes) => s3ObjectHead(s3, 5000)(uri, maxBytes),
    championExists: () => approvedChampionExists(sagemaker, 'fraud', 1000),
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
  /** A report of the challenger's `auc` and, when given, the champion's metrics on the same data. */
  const report = (auc: unknown, latencyP99Ms = 20, champion?: Record<string, unknown>) => JSON.stringify({
    metrics: { auc, logloss: 0.3 }, ...(champion ? { champion: { metrics: champion } } : {}), serving: { latencyP99Ms, modelBytes: 1e6, throughputPerSecond: 200 },
  });
  /** The group has an approved package: a champion exists. */
  function champion(): void {
    const arn = 'arn:aws:sagemaker:us-east-1:123456789012:model-package/fraud/3';
    sagemakerMock.on(ListModelPackagesCommand, { ModelPackageGroupName: 'fraud', ModelApprovalStatus: 'Approved', SortBy: 'CreationTime', SortOrder: 'Descending' })
      .resolves({ ModelPackageSummaryList: [{ ModelPackageArn: arn, ModelPackageGroupName: 'fraud', ModelPackageStatus: 'Completed', CreationTime: new Date(T0) }] });
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
  });

  test('a challenger that beats the champion on the same data passes', async () => {
    champion();
    const result = await runModelGate(ports, await event('mg-beats', report(0.915, 20, { auc: 0.9 })));
    expect(result.passed).toBe(true);
    expect(result.checks[0].reason).toBe('challenger auc 0.915 vs champion 0.9 (higher-is-better): improvement 0.015 meets the margin 0.01');
  });

  test('the champion is judged on the report\'s same-data metrics, never on the metrics it registered with', async () => {
    // Drift: the champion registered with auc 0.95 on its own held-out set, but scores 0.88 on today's data.
    sagemakerMock.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    const registered = await runModelGate(ports, await event('mg-old-champion', report(0.95)));
    expect(registered.modelPackageMetadata['metric:auc']).toBe('0.95');
    champion();
    const result = await runModelGate(ports, await event('mg-drifted', report(0.9, 20, { auc: 0.88 })));
    expect(result.passed).toBe(true);
    expect(result.checks[0].reason).toBe('challenger auc 0.9 vs champion 0.88 (higher-is-better): improvement 0.02 meets the margin 0.01');
  });

  test('a champion exists but the report has no champion metrics: fails naming CHAMPION_MODEL_URI', async () => {
    champion();
    const result = await runModelGate(ports, await event('mg-no-champion-metrics', report(0.99)));
    expect(result).toMatchObject({ passed: false, checks: [{ name: 'metric', passed: false }] });
    expect(result.cause).toMatch(/has an approved champion, but evaluation report .* has no champion\.metrics: .*\(CHAMPION_MODEL_URI\) on the same held-out data/);
  });

  test('a challenger short of the margin fails with the gate\'s reason', async () => {
    champion();
    const result = await runModelGate(ports, await event('mg-short', report(0.905, 20, { auc: 0.9 })));
    expect(result.passed).toBe(false);
    expect(result.cause).toBe('challenger auc 0.905 vs champion 0.9 (higher-is-better): improvement 0.005 is short of the margin 0.01 by 0.005');
    expect(result.modelPackageMetadata['gate:model']).toBe('failed: metric');
  });

  test('a champion without the metric fails, naming the fix', async () => {
    champion();
    const result = await runModelGate(ports, await event('mg-no-metric', report(0.95, 20, { accuracy: 0.8 })));
    expect(result.cause).toBe('the champion\'s metric auc is missing; evaluate the champion on the same data before comparing');
  });

  test('a latency over the budget fails the serving constraint', async () => {
    champion();
    const result = await runModelGate(ports, await event('mg-slow', report(0.95, 62, { auc: 0.9 })));
    expect(result.cause).toBe('p99 latency 62 ms exceeds the budget of 50 ms');
  });

  test.each([
    ['not JSON', 'auc=0.9', /is not JSON/],
    ['a literal NaN (Python\'s json.dumps)', '{"metrics": {"auc": NaN}}', /is not JSON \(non-finite numbers such as NaN are not JSON/],
    ['no metrics object', '{"metrics": [0.9]}', /has no metrics object; the evaluation job must write/],
    ['an array', '[]', /has no metrics object/],
    ['a champion without metrics', '{"metrics": {"auc": 0.9}, "champion": {"auc": 0.8}}', /has a champion that is not \{ "metrics": \{ … \} \}/],
  ])('a malformed report (%s) is a failed check with a clear reason, not a crash', async (_name, body, reason) => {
    const result = await runModelGate(ports, await event('mg-malformed', body));
    expect(result).toMatchObject({ passed: false, checks: [{ name: EVALUATION_REPORT_CHECK, passed: false }] });
    expect(result.cause).toMatch(reason);
    expect(result.modelPackageMetadata['gate:model']).toBe(`failed: ${EVALUATION_REPORT_CHECK}`);
    expect(sagemakerMock.calls()).toHaveLength(0);
  });

  test.each([null, 'NaN', 'Infinity'])('a metric of %p fails the metric check, naming it', async (auc) => {
    champion();
    const result = await runModelGate(ports, await event('mg-nan', report(auc, 20, { auc: 0.9 })));
    expect(result.cause).toBe(`the challenger's metric auc is ${String(auc)}; the evaluation must report a finite auc`);
    expect(result.modelPackageMetadata['metric:auc']).toBeUndefined();
  });

  test('an execution started without the lineage facts fails naming them', async () => {
    sagemakerMock.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    await expect(runModelGate(ports, await event('mg-no-lineage', report(0.9), {})))
      .rejects.toThrow(/gitSha must be a git commit.*imageDigest must be sha256:.*needs the execution input \{ "codeVersion"/);
  });

  test('a report over MAX_REPORT_BYTES is refused by its size after a ranged read, never downloaded', async () => {
    // A loopback proxy in front of s3rver counts the body bytes S3 sends.
    let received = 0;
    const proxy = createServer((req, res) => {
      const upstream = request(`${s3rver.endpoint}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.on('data', (chunk: Buffer) => { received += chunk.length; });
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const client = new S3Client(localClientConfig(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`));
    try {
      const huge = JSON.stringify({ metrics: { auc: 0.9 }, padding: 'x'.repeat(8 * MAX_REPORT_BYTES) });
      const result = await runModelGate({ ...ports, readReport: s3ObjectHead(client, 5000) }, await event('mg-huge', huge));
      expect(result).toMatchObject({ passed: false, checks: [{ name: EVALUATION_REPORT_CHECK, passed: false }] });
      expect(result.cause).toMatch(new RegExp(`is ${huge.length} bytes, over ${MAX_REPORT_BYTES}`));
      expect(received).toBeLessThanOrEqual(MAX_REPORT_BYTES);
      expect(sagemakerMock.calls()).toHaveLength(0);
    } finally {
      client.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
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
