import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ModelQualityMonitor, ModelQualityMonitorProps } from '../../lib/monitoring/model-quality-monitor';
import { PredictionLogDataset } from '../../lib/monitoring/prediction-log-dataset';
import { LABEL_JOIN_HANDLER, LabelJoinVariables, parseLabelJoinEnvironment } from '../../runtime/contracts/label-join';
import { METRICS_NAMESPACE, ModelQualityMetrics } from '../../runtime/core/metrics';
import { alarmsWithoutActions } from '../support/alarms';
import { expectScheduledJob } from '../support/scheduled-job';

/** A stack with a dataset and a quality monitor of `fraud` (classification on output `score`). */
function build(props: Partial<ModelQualityMonitorProps> = {}, options: { nag?: boolean } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Quality', { env: { account: '123456789012', region: 'us-east-1' } });
  const dataset = new PredictionLogDataset(stack, 'Dataset');
  const monitor = new ModelQualityMonitor(stack, 'Quality', {
    dataset, modelName: 'fraud', problem: 'classification', scoreOutput: 'score', positiveLabel: 'fraud', ...props,
  });
  return { app, stack, monitor, dataset };
}

describe('ModelQualityMonitor', () => {
  const { stack, monitor, dataset } = build();
  const template = Template.fromStack(stack);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as any);

  test('an hourly EventBridge rule runs the label-join function, with retries and the dead-letter queue', () => {
    expectScheduledJob(stack, template, monitor, 'rate(1 hour)');
  });

  test('the environment is what the handler parses: model, problem, score output, dataset, windows (1 day / 7 days)', () => {
    const fn = template.findResources('AWS::Lambda::Function')[id(monitor.function)];
    const env = fn.Properties.Environment.Variables;
    expect(fn.Properties.MemorySize).toBe(1024);
    expect(fn.Properties.Timeout).toBe(300);
    expect(env[LabelJoinVariables.DATASET_BUCKET_NAME]).toEqual({ Ref: id(dataset.bucket as s3.Bucket) });
    const parsed = parseLabelJoinEnvironment({ ...env, [LabelJoinVariables.DATASET_BUCKET_NAME]: 'bucket' });
    expect(parsed).toEqual({
      model: 'fraud', problem: 'classification', threshold: 0.5, positiveLabel: 'fraud', scoreOutput: 'score', datasetBucketName: 'bucket',
      labelWindowMs: 86_400_000, lookbackMs: 7 * 86_400_000, callTimeoutMs: 30_000, s3ForcePathStyle: false,
    });
    expect(LABEL_JOIN_HANDLER).toBe('label-join-handler');
  });

  test("least privilege: read and list only the model's prediction logs, labels and baselines; decrypt through S3", () => {
    const roleId = id(monitor.function.role as any);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId)).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const json = JSON.stringify(stack.resolve(statements));
    const actions = [...new Set(statements.flatMap((s: any) => [s.Action].flat()))].sort();
    expect(actions).toEqual(['kms:Decrypt', 'logs:CreateLogStream', 'logs:PutLogEvents', 's3:GetObject', 's3:ListBucket', 'sqs:SendMessage', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    expect(json).toContain('/prediction-logs/model=fraud/*');
    expect(json).toContain('/labels/model=fraud/*');
    expect(json).toContain('/baselines/model=fraud/*');
    expect(json).toContain('"s3:prefix":["prediction-logs/model=fraud/*","labels/model=fraud/*","baselines/model=fraud/*"]');
    expect(json).not.toContain('"/*"');
    const decrypts = statements.filter((s: any) => [s.Action].flat().includes('kms:Decrypt'));
    expect(decrypts.every((s: any) => s.Condition?.StringEquals?.['kms:ViaService'] === 's3.us-east-1.amazonaws.com')).toBe(true);
  });

  test('alarms on failed runs and on the dead-letter queue, each with an action', () => {
    expect(monitor.alarms).toHaveLength(2);
    expect(alarmsWithoutActions(template)).toEqual([]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Period: 3600, Threshold: 0, OKActions: Match.anyValue() });
  });

  test('metrics: the quality names in the platform namespace, dimension Model (or Model + Variant), the statistic of the worst variant', () => {
    const m = (metric: ReturnType<ModelQualityMonitor['metric']>) => [metric.namespace, metric.metricName, metric.dimensions, metric.statistic, metric.period.toSeconds()];
    const model = { Model: 'fraud' };
    expect(m(monitor.metricQualityDrop())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.QUALITY_DROP, model, 'Maximum', 3600]);
    expect(m(monitor.metricCoverage())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.COVERAGE, model, 'Minimum', 3600]);
    expect(m(monitor.metricAuc())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.AUC, model, 'Minimum', 3600]);
    expect(m(monitor.metricAccuracy())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.ACCURACY, model, 'Minimum', 3600]);
    expect(m(monitor.metricCalibrationError())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.ECE, model, 'Maximum', 3600]);
    expect(m(monitor.metricBrierScore())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.BRIER, model, 'Maximum', 3600]);
    expect(m(monitor.metricLabelled())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.LABELLED, model, 'Sum', 3600]);
    expect(m(monitor.metricLabelDelay())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.LABEL_DELAY_MAX_S, model, 'Maximum', 3600]);
    expect(m(monitor.metricRmse())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.RMSE, model, 'Maximum', 3600]);
    expect(m(monitor.metricMae())).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.MAE, model, 'Maximum', 3600]);
    expect(m(monitor.metricVariant(ModelQualityMetrics.AUC, 'challenger'))).toEqual([METRICS_NAMESPACE, ModelQualityMetrics.AUC, { Model: 'fraud', Variant: 'challenger' }, 'Average', 3600]);
  });

  test('regression with a 15-minute schedule, a 6-hour label window and a 2-day lookback', () => {
    const other = build({ problem: 'regression', positiveLabel: undefined, scoreOutput: 'eta[0]', schedule: Duration.minutes(15), labelWindow: Duration.hours(6), lookback: Duration.days(2) });
    const t = Template.fromStack(other.stack);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    const env = t.findResources('AWS::Lambda::Function')[other.stack.getLogicalId(other.monitor.function.node.defaultChild as any)].Properties.Environment.Variables;
    expect(env).toMatchObject({ [LabelJoinVariables.PROBLEM]: 'regression', [LabelJoinVariables.SCORE_OUTPUT]: 'eta[0]', [LabelJoinVariables.LABEL_WINDOW_MS]: String(6 * 3_600_000), [LabelJoinVariables.LOOKBACK_MS]: String(2 * 86_400_000) });
    expect(env).not.toHaveProperty(LabelJoinVariables.THRESHOLD);
    expect(other.monitor.metricRmse().period.toSeconds()).toBe(900);
  });

  test('cdk-nag AwsSolutions: clean', () => {
    expect(() => build({}, { nag: true }).app.synth()).not.toThrow();
  });
});

describe('ModelQualityMonitor validation', () => {
  test('every problem at once, each naming the prop and the fix', () => {
    let message = '';
    try {
      build({
        modelName: 'fraud/../x', problem: 'regression', threshold: 1.5, scoreOutput: '', schedule: Duration.seconds(90),
        labelWindow: Duration.days(8), lookback: Duration.days(2), timeout: Duration.minutes(20), memorySize: Size.mebibytes(128),
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/modelName: model 'fraud\/\.\.\/x': a dataset partition takes 1–128 letters/);
    expect(message).toMatch(/threshold: applies to classification only; remove it/);
    expect(message).toMatch(/positiveLabel: applies to classification only; remove it/);
    expect(message).toMatch(/threshold: 1.5 must be between 0 and 1/);
    expect(message).toMatch(/scoreOutput: name the model output that is the score/);
    expect(message).toMatch(/schedule: 1 minute 30 seconds must be whole minutes/);
    expect(message).toMatch(/lookback: shorter than labelWindow; .* make the lookback at least as long/);
    expect(message).toMatch(/timeout: 20 minutes must be whole seconds between 30 seconds and 900 seconds/);
    expect(message).toMatch(/memorySize \(MiB\): 128 must be an integer between 256 and 10240/);
  });

  test('a label window shorter than the schedule would miss labels; a model name is required without a gateway', () => {
    expect(() => build({ labelWindow: Duration.minutes(30) })).toThrow(/labelWindow: shorter than the schedule/);
    expect(() => build({ modelName: undefined })).toThrow(/modelName: required without a gateway/);
    expect(() => build({ problem: 'ranking' as any })).toThrow(/problem: 'ranking' must be one of classification, regression/);
  });
});
