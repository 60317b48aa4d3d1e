import * as path from 'path';
import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { fraudPrescreenInputs, transaction } from '../../examples/fraud-features';
import { Fallback, IInferenceGateway, InferenceGateway, ModelBackend } from '../../lib';
import { DriftDetector, DriftDetectorProps } from '../../lib/monitoring/drift-detector';
import { PredictionLogDataset } from '../../lib/monitoring/prediction-log-dataset';
import { ModelEndpoint } from '../../lib/serving/model-endpoint';
import { DriftModelSettings, DriftVariables } from '../../runtime/contracts/drift';
import { DriftMetrics, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { alarmsWithoutActions } from '../support/alarms';
import { expectScheduledJob } from '../support/scheduled-job';

/** A stack with a dataset, a capture bucket (KMS) of an imported endpoint, and a drift detector of `fraud`. */
function build(props: Partial<DriftDetectorProps> = {}, options: { nag?: boolean; capture?: boolean } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Drift', { env: { account: '123456789012', region: 'us-east-1' } });
  const dataset = new PredictionLogDataset(stack, 'Dataset');
  const captureKey = new kms.Key(stack, 'CaptureKey', { enableKeyRotation: true });
  const captureBucket = s3.Bucket.fromBucketAttributes(stack, 'CaptureBucket', { bucketName: 'capture-bucket', encryptionKey: captureKey });
  const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', {
    endpointName: 'fraud-endpoint', variantNames: ['AllTraffic'], modelName: 'fraud', modelVersions: { AllTraffic: 'v3' },
    dataCapture: { bucket: captureBucket, prefix: 'capture' },
  });
  const detector = new DriftDetector(stack, 'Drift', {
    dataset, modelName: 'fraud', inputColumns: ['txn:amount', 'txn:count'],
    ...(options.capture ? { dataCapture: endpoint } : {}),
    ...props,
  });
  return { app, stack, detector, dataset, captureKey };
}

describe('DriftDetector', () => {
  const { stack, detector, dataset, captureKey } = build({ detection: { columns: { 'txn:amount': { method: 'psi', threshold: 0.2 } } } }, { capture: true });
  const template = Template.fromStack(stack);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as any);

  test('an hourly EventBridge rule runs the function, with retries and the dead-letter queue', () => {
    expectScheduledJob(stack, template, detector, 'rate(1 hour)');
  });

  test('the environment: the model with its sources, columns and detection options, the dataset bucket, the window', () => {
    const fn = template.findResources('AWS::Lambda::Function')[id(detector.function)];
    const env = fn.Properties.Environment.Variables;
    expect(fn.Properties.MemorySize).toBe(1769);
    expect(fn.Properties.Timeout).toBe(300);
    expect(env[DriftVariables.WINDOW_MS]).toBe('3600000');
    expect(env[DriftVariables.DATASET_BUCKET_NAME]).toEqual({ Ref: id(dataset.bucket as s3.Bucket) });
    const models = JSON.parse(env[DriftVariables.MODELS]) as DriftModelSettings[];
    expect(models).toEqual([{
      model: 'fraud', inputColumns: ['txn:amount', 'txn:count'], detection: { columns: { 'txn:amount': { method: 'psi', threshold: 0.2 } } },
      dataCapture: { bucket: 'capture-bucket', prefix: 'capture', endpointName: 'fraud-endpoint', modelVersions: { AllTraffic: 'v3' } },
    }]);
  });

  test('least privilege: read and list only the model\'s logs, its baselines and the endpoint\'s capture; decrypt through S3', () => {
    const roleId = id(detector.function.role as any);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId)).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const json = JSON.stringify(stack.resolve(statements));
    const actions = [...new Set(statements.flatMap((s: any) => [s.Action].flat()))].sort();
    expect(actions).toEqual(['kms:Decrypt', 'logs:CreateLogStream', 'logs:PutLogEvents', 's3:GetObject', 's3:ListBucket', 'sqs:SendMessage', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    expect(json).toContain('/prediction-logs/model=fraud/*');
    expect(json).toContain('/baselines/model=fraud/*');
    expect(json).toContain(':s3:::capture-bucket/capture/fraud-endpoint/*');
    expect(json).toContain('"s3:prefix":["capture/fraud-endpoint/*"]');
    expect(json).not.toContain('"/*"');
    expect(json).not.toMatch(/labels\//);
    const decrypts = statements.filter((s: any) => [s.Action].flat().includes('kms:Decrypt'));
    expect(decrypts.every((s: any) => s.Condition?.StringEquals?.['kms:ViaService'] === 's3.us-east-1.amazonaws.com')).toBe(true);
    expect(JSON.stringify(stack.resolve(decrypts))).toContain(id(captureKey));
  });

  test('alarms on failed runs and on the dead-letter queue, each with an action', () => {
    expect(detector.alarms).toHaveLength(2);
    expect(alarmsWithoutActions(template)).toEqual([]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Period: 3600, Threshold: 0, OKActions: Match.anyValue() });
  });

  test('metrics: the drift names in the platform namespace, dimension Model, one period of the schedule', () => {
    const m = (metric: ReturnType<DriftDetector['metric']>) => [metric.namespace, metric.metricName, metric.dimensions, metric.statistic, metric.period.toSeconds()];
    expect(m(detector.metricDriftedFeatureShare())).toEqual([METRICS_NAMESPACE, DriftMetrics.DRIFTED_FEATURE_SHARE, { Model: 'fraud' }, 'Maximum', 3600]);
    expect(m(detector.metricPredictionDriftScore())).toEqual([METRICS_NAMESPACE, DriftMetrics.PREDICTION_DRIFT_SCORE, { Model: 'fraud' }, 'Maximum', 3600]);
    expect(m(detector.metricPredictionDiversity())).toEqual([METRICS_NAMESPACE, DriftMetrics.PREDICTION_DIVERSITY, { Model: 'fraud' }, 'Minimum', 3600]);
    expect(m(detector.metricTopPredictionShare())).toEqual([METRICS_NAMESPACE, DriftMetrics.TOP_PREDICTION_SHARE, { Model: 'fraud' }, 'Maximum', 3600]);
    expect(m(detector.metricDataQualityIssues())).toEqual([METRICS_NAMESPACE, DriftMetrics.COLUMNS_WITH_QUALITY_ISSUES, { Model: 'fraud' }, 'Maximum', 3600]);
    expect(m(detector.metricWindowRows())).toEqual([METRICS_NAMESPACE, DriftMetrics.WINDOW_ROWS, { Model: 'fraud' }, 'Maximum', 3600]);
    expect(m(detector.metricColumn(DriftMetrics.DRIFT_SCORE, 'txn:amount'))).toEqual([METRICS_NAMESPACE, DriftMetrics.DRIFT_SCORE, { Model: 'fraud', Feature: 'txn:amount' }, 'Maximum', 3600]);
  });

  test('schedule and window: a 15-minute check of the last day', () => {
    const other = build({ schedule: Duration.minutes(15), window: Duration.days(1) });
    const t = Template.fromStack(other.stack);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    const fn = t.findResources('AWS::Lambda::Function')[other.stack.getLogicalId(other.detector.function.node.defaultChild as any)];
    expect(fn.Properties.Environment.Variables[DriftVariables.WINDOW_MS]).toBe(String(86_400_000));
    expect(other.detector.metricWindowRows().period.toSeconds()).toBe(900);
  });

  test('cdk-nag AwsSolutions: clean', () => {
    expect(() => build({}, { nag: true, capture: true }).app.synth()).not.toThrow();
  });
});

describe('DriftDetector validation', () => {
  test('every problem at once, each naming the prop and the fix', () => {
    let message = '';
    try {
      build({ modelName: 'fraud/../x', predictionLogs: false, schedule: Duration.seconds(90), window: Duration.days(40), timeout: Duration.minutes(20), memorySize: Size.mebibytes(128) });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/modelName: 'fraud\/\.\.\/x' must be 1–128 letters/);
    expect(message).toMatch(/predictionLogs: false leaves nothing to read; keep the prediction logs or add a dataCapture source/);
    expect(message).toMatch(/schedule: 1 minute 30 seconds must be whole minutes/);
    expect(message).toMatch(/window: 40 days must be whole seconds between/);
    expect(message).toMatch(/timeout: 20 minutes must be whole seconds between 30 seconds and 900 seconds/);
    expect(message).toMatch(/memorySize \(MiB\): 128 must be an integer between 256 and 10240/);
  });

  test('a data-capture source must capture, and say its versions', () => {
    const app = new App();
    const stack = new Stack(app, 'NoCapture');
    const silent = ModelEndpoint.fromEndpointAttributes(stack, 'Silent', { endpointName: 'fraud-endpoint', variantNames: ['AllTraffic'], modelName: 'fraud' });
    expect(() => new DriftDetector(stack, 'Drift', { dataset: new PredictionLogDataset(stack, 'Dataset'), modelName: 'fraud', dataCapture: silent }))
      .toThrow(/dataCapture: endpoint NoCapture\/Silent captures nothing; turn on its dataCapture/);
  });

  test('an environment over Lambda\'s 4 KB (150 input columns) fails at synth, naming the sizes and the fix; 60 columns fit', () => {
    const columns = (n: number) => Array.from({ length: n }, (_, i) => `customer_transactions:feature_${String(i).padStart(3, '0')}`);
    expect(() => build({ inputColumns: columns(150) }, { capture: true })).toThrow(
      /inputColumns: the drift function's environment would take \d+ bytes, over Lambda's 4096-byte limit \(DRIFT_MODELS holds the 150 input column names: \d+ B, and the detection options: 0 B\); pass inputColumns: \[\] when the model's predictions reach the dataset only through the gateway/,
    );
    expect(() => build({ inputColumns: columns(60) }, { capture: true })).not.toThrow();
    const detection = { columns: Object.fromEntries(columns(80).map((c) => [c, { method: 'psi' as const, threshold: 0.2 }])) };
    expect(() => build({ inputColumns: columns(2), detection })).toThrow(/detection: the drift function's environment would take \d+ bytes/);
  });

  test('a model name is required without a gateway', () => {
    expect(() => build({ modelName: undefined })).toThrow(/modelName: required without a gateway/);
  });
});

test('given the gateway, the model name and the input columns are the gateway\'s', () => {
  const app = new App();
  const stack = new Stack(app, 'Gatewayed', { env: { account: '123456789012', region: 'us-east-1' } });
  const gateway = new InferenceGateway(stack, 'Prescreen', {
    backend: ModelBackend.embedded({ modelPath: path.join(__dirname, '..', '..', 'examples', 'models', 'fraud-prescreen.onnx'), modelName: 'prescreen' }),
    requestSource: transaction, featureRefs: fraudPrescreenInputs, fallback: Fallback.constant({ probability: [0.5] }),
  });
  const detector = new DriftDetector(stack, 'Drift', { dataset: new PredictionLogDataset(stack, 'Dataset'), gateway });
  const fn = Template.fromStack(stack).findResources('AWS::Lambda::Function')[stack.getLogicalId(detector.function.node.defaultChild as any)];
  const [model] = JSON.parse(fn.Properties.Environment.Variables[DriftVariables.MODELS]) as DriftModelSettings[];
  expect(detector.modelName).toBe('prescreen');
  expect(model.inputColumns).toEqual(fraudPrescreenInputs);
  expect(fraudPrescreenInputs.length).toBeGreaterThan(0);

  // The same gateway as it would be with 150 features (a real one needs 150 feature definitions): its featureRefs no longer fit.
  const featureRefs = Array.from({ length: 150 }, (_, i) => `customer_transactions:feature_${String(i).padStart(3, '0')}`);
  const wide: IInferenceGateway = Object.assign(Object.create(gateway), { featureRefs });
  expect(() => new DriftDetector(stack, 'WideDrift', { dataset: new PredictionLogDataset(stack, 'WideDataset'), gateway: wide }))
    .toThrow(/inputColumns: .* over Lambda's 4096-byte limit \(DRIFT_MODELS holds the 150 input column names, by default the gateway's featureRefs: \d+ B/);
  expect(() => new DriftDetector(stack, 'NarrowDrift', { dataset: new PredictionLogDataset(stack, 'NarrowDataset'), gateway: wide, inputColumns: [] })).not.toThrow();
});
