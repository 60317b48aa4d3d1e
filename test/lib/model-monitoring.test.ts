import * as path from 'path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { customer, customerTxnStats, fraudFeatureViews, fraudModelFeatureRefs, merchantRisk } from '../../examples/fraud-features';
import {
  AlarmTopic, Fallback, Feature, FeatureIngestion, FeatureStore, InferenceGateway, InferenceImage, InferenceInstanceType, ModelArtifact, ModelBackend,
  FeatureView, ModelEndpoint, ModelMonitoring, ModelMonitoringProps,
} from '../../lib';
import { AVAILABILITY_SLI, LATENCY_SLI } from '../../lib/monitoring/model-monitoring';
import { burnRateExpression, percentExpression } from '../../lib/monitoring/slo';
import { GatewayMetrics, InferenceServerMetrics, MaterializerMetrics } from '../../runtime/core/metrics';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };
const MODEL = path.join(__dirname, '..', '..', 'examples', 'models', 'fraud-mlp.onnx');

function platform() {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Monitored', { env: ENV });
  const store = new FeatureStore(stack, 'Features', { views: fraudFeatureViews });
  const ingestion = new FeatureIngestion(stack, 'Ingest', { store, views: fraudFeatureViews });
  const endpoint = new ModelEndpoint(stack, 'Fraud', {
    image: InferenceImage.fromServer({ gpu: true }),
    variants: [
      { name: 'champion', model: ModelArtifact.fromAsset(MODEL), instanceType: InferenceInstanceType.G5_12XLARGE, initialWeight: 9 },
      { name: 'challenger', model: ModelArtifact.fromAsset(MODEL), instanceType: InferenceInstanceType.G5_XLARGE, initialWeight: 1 },
    ],
  });
  const gateway = new InferenceGateway(stack, 'Gateway', {
    backend: ModelBackend.sageMaker(endpoint), store, features: fraudFeatureViews, featureRefs: fraudModelFeatureRefs, modelName: 'fraud',
    fallback: Fallback.constant({ probability: [0.01] }), deadline: Duration.millis(40),
  });
  return { app, stack, store, ingestion, endpoint, gateway };
}

const p = platform();
const monitoring = new ModelMonitoring(p.stack, 'Monitoring', { endpoint: p.endpoint, gateway: p.gateway, store: p.store, ingestion: p.ingestion, views: fraudFeatureViews });
const template = Template.fromJSON(p.app.synth().getStackByName(p.stack.stackName).template); // cdk-nag runs here
const json = template.toJSON();
const idOf = (alarm: any) => p.stack.getLogicalId(alarm.node.defaultChild);
const child = (path: string) => path.split('/').reduce((c: any, id) => c.node.findChild(id), monitoring) as any;
/** The one metric an alarm on a labelled metric reads (CloudFormation's Metrics form). */
const single = (alarmProps: any) => {
  const [{ MetricStat: stat }] = alarmProps.Metrics;
  return { Namespace: stat.Metric.Namespace, MetricName: stat.Metric.MetricName, Dimensions: stat.Metric.Dimensions, Stat: stat.Stat, Period: stat.Period };
};
const props = (id: string) => json.Resources[idOf(child(id))].Properties;
const topicRef = (topic: AlarmTopic) => ({ Ref: p.stack.getLogicalId(topic.topic.node.defaultChild as any) });
const criticalRef = topicRef(monitoring.criticalTopic!);
const warningRef = topicRef(monitoring.warningTopic!);
/** The expression an alarm returns. */
const expressionOf = (alarmProps: any) => alarmProps.Metrics.find((m: any) => m.ReturnData !== false).Expression;
/** Metric name and stat of each metric an alarm reads, by id. */
const statsOf = (alarmProps: any) => Object.fromEntries(alarmProps.Metrics.filter((m: any) => m.MetricStat)
  .map((m: any) => [m.Id, { name: m.MetricStat.Metric.MetricName, stat: m.MetricStat.Stat, period: m.MetricStat.Period, dims: m.MetricStat.Metric.Dimensions }]));

/** Expected shape of each alarm: [construct id, threshold, evaluation periods, datapoints to alarm, missing data, severity]. */
const SUSTAINED = { EvaluationPeriods: 5, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching', ComparisonOperator: 'GreaterThanThreshold' };
const UTILIZATION = { EvaluationPeriods: 3, TreatMissingData: 'notBreaching', ComparisonOperator: 'GreaterThanThreshold' };

describe('ModelMonitoring: alarms by severity', () => {
  test.each([
    ['ModelLatency-champion', 20_000, 40_000, SUSTAINED],
    ['ModelLatency-challenger', 20_000, 40_000, SUSTAINED],
    ['ServerErrors-champion', 1, 5, SUSTAINED],
    ['ClientErrors-champion', 5, 20, SUSTAINED],
    ['QueueDepth-champion', 128, 384, SUSTAINED],
    ['DeadlinesExpired-champion', 1, 5, SUSTAINED],
    ['FallbackRate', 1, 5, SUSTAINED],
    ['ShedRate', 1, 5, SUSTAINED],
    [`FeatureFreshness-${customerTxnStats.name}`, 120_000, 240_000, SUSTAINED],
    [`FeatureFreshness-${merchantRisk.name}`, 900_000, 1_800_000, SUSTAINED],
    ['GpuUtilization-champion', 85, 95, UTILIZATION],
    ['GpuMemory-challenger', 85, 95, UTILIZATION],
    ['Memory-champion', 80, 90, UTILIZATION],
  ])('%s: warning at %d, critical at %d, each notifying its severity on ALARM and OK', (id, warning, critical, shape) => {
    expect(props(`${id}-Warning`)).toMatchObject({ ...shape, Threshold: warning, AlarmActions: [warningRef], OKActions: [warningRef] });
    expect(props(`${id}-Critical`)).toMatchObject({ ...shape, Threshold: critical, AlarmActions: [criticalRef], OKActions: [criticalRef] });
  });

  test('model latency is SageMaker ModelLatency p99 per variant (microseconds: half the 40 ms deadline warns, the deadline pages)', () => {
    expect(single(props('ModelLatency-champion-Critical'))).toMatchObject({
      Namespace: 'AWS/SageMaker', MetricName: 'ModelLatency', Stat: 'p99', Period: 60,
      Dimensions: [{ Name: 'EndpointName', Value: p.stack.resolve(p.endpoint.endpointName) }, { Name: 'VariantName', Value: 'champion' }],
    });
  });

  test('error and gateway rates are metric math over the counts, 0 without traffic', () => {
    const fivexx = props('ServerErrors-champion-Critical');
    expect(expressionOf(fivexx)).toBe(percentExpression('FILL(failed0, 0)', 'invocations0'));
    expect(statsOf(fivexx)).toMatchObject({ failed0: { name: 'Invocation5XXErrors', stat: 'Sum' }, invocations0: { name: 'Invocations', stat: 'Sum' } });
    expect(statsOf(props('ClientErrors-challenger-Warning')).refused1.name).toBe('Invocation4XXErrors');
    const fallback = props('FallbackRate-Critical');
    expect(expressionOf(fallback)).toBe(percentExpression('FILL(fallbacks, 0)', AVAILABILITY_SLI.total));
    expect(statsOf(fallback)).toMatchObject({
      predictions: { name: GatewayMetrics.PREDICTIONS }, fallbacks: { name: GatewayMetrics.FALLBACKS }, shed: { name: GatewayMetrics.SHED },
      overloaded: { name: GatewayMetrics.MODEL_OVERLOADED }, errors: { name: GatewayMetrics.INTERNAL_ERRORS },
    });
    expect(expressionOf(props('ShedRate-Warning'))).toBe(percentExpression('FILL(shed, 0)', AVAILABILITY_SLI.total));
  });

  test('server queue depth and deadline expiries read the server\'s EMF names with Model and Variant', () => {
    expect(single(props('QueueDepth-challenger-Critical'))).toMatchObject({
      Namespace: 'MlPlatform', MetricName: InferenceServerMetrics.QUEUE_DEPTH_MAX, Stat: 'Maximum',
      Dimensions: [{ Name: 'Model', Value: p.endpoint.modelName }, { Name: 'Variant', Value: 'challenger' }],
    });
    const expired = props('DeadlinesExpired-champion-Critical');
    expect(expressionOf(expired)).toBe(percentExpression('FILL(expired0, 0)', 'requests0'));
    expect(statsOf(expired)).toMatchObject({ expired0: { name: InferenceServerMetrics.DEADLINE_EXPIRED }, requests0: { name: InferenceServerMetrics.REQUESTS } });
  });

  test('GPU metrics are per GPU: the per-instance sum divided by the instance type\'s GPUs (4 on g5.12xlarge, 1 on g5.xlarge)', () => {
    const four = props('GpuUtilization-champion-Critical');
    expect(expressionOf(four)).toBe('gpu0 / 4');
    expect(statsOf(four).gpu0).toMatchObject({ name: 'GPUUtilization', stat: 'Average', period: 300 });
    expect(expressionOf(props('GpuMemory-champion-Warning'))).toBe('gpuMemory0 / 4');
    expect(single(props('GpuUtilization-challenger-Critical'))).toMatchObject({ Namespace: '/aws/sagemaker/Endpoints', MetricName: 'GPUUtilization', Period: 300 });
    expect(single(props('Memory-challenger-Critical'))).toMatchObject({ Namespace: '/aws/sagemaker/Endpoints', MetricName: 'MemoryUtilization', Stat: 'Average' });
  });

  test('a silent producer: the newest event age per view above its freshness objective, missing data breaching, for the whole objective', () => {
    expect(single(props(`SilentProducer-${customerTxnStats.name}`))).toMatchObject({
      Namespace: 'MlPlatform', MetricName: MaterializerMetrics.NEWEST_EVENT_AGE_MS, Stat: 'Minimum', Period: 60,
      Dimensions: [{ Name: 'FeatureView', Value: customerTxnStats.name }],
    });
    expect(props(`SilentProducer-${customerTxnStats.name}`)).toMatchObject({
      Threshold: 120_000, EvaluationPeriods: 2, DatapointsToAlarm: 2, TreatMissingData: 'breaching', AlarmActions: [criticalRef],
    });
    expect(props(`SilentProducer-${merchantRisk.name}`)).toMatchObject({ Threshold: 900_000, EvaluationPeriods: 15, TreatMissingData: 'breaching' });
  });

  test('a silent producer past a day: hourly periods for the whole objective (CloudWatch allows 7 days with hourly periods), capped at 168', () => {
    const slowView = (name: string, freshness: Duration) => new FeatureView({
      name, entities: [customer], freshness, ttl: Duration.days(30), features: [Feature.int64('weekly_count', { fallback: 0 })],
    });
    const weekly = slowView('customer_weekly', Duration.days(7));
    const daily = slowView('customer_daily', Duration.days(1));
    const biweekly = slowView('customer_biweekly', Duration.days(14));
    const stack = new Stack(new App(), 'Slow', { env: ENV });
    const store = new FeatureStore(stack, 'Features', { views: [weekly, daily, biweekly] });
    const m = new ModelMonitoring(stack, 'Monitoring', { modelName: 'fraud', store, views: [weekly, daily, biweekly] });
    const alarmOf = (view: FeatureView) => Template.fromStack(stack).toJSON().Resources[stack.getLogicalId((m.node.findChild(`SilentProducer-${view.name}`) as any).node.defaultChild)].Properties;
    const shape = (view: FeatureView) => {
      const alarm = alarmOf(view);
      return { Period: single(alarm).Period, EvaluationPeriods: alarm.EvaluationPeriods, DatapointsToAlarm: alarm.DatapointsToAlarm, Threshold: alarm.Threshold, TreatMissingData: alarm.TreatMissingData };
    };
    // A 7-day objective breaches after 7 days of missing data, not after 1.
    expect(shape(weekly)).toEqual({ Period: 3600, EvaluationPeriods: 168, DatapointsToAlarm: 168, Threshold: 7 * 86_400_000, TreatMissingData: 'breaching' });
    expect(shape(daily)).toMatchObject({ Period: 60, EvaluationPeriods: 1440, DatapointsToAlarm: 1440 });
    expect(shape(biweekly)).toMatchObject({ Period: 3600, EvaluationPeriods: 168, Threshold: 14 * 86_400_000 });
    for (const { Period, EvaluationPeriods } of [weekly, daily, biweekly].map(shape)) {
      expect(Period * EvaluationPeriods).toBeLessThanOrEqual(Period >= 3600 ? 7 * 86_400 : 86_400);
    }
  });

  test('idle GPU: under 10 % of one GPU for 6 hourly periods while provisioned (no data: no instances, not idle)', () => {
    const idle = props('IdleGpu-champion');
    expect(idle).toMatchObject({
      Threshold: 10, EvaluationPeriods: 6, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'notBreaching', AlarmActions: [warningRef],
    });
    expect(expressionOf(idle)).toBe('gpu0 / 4');
    expect(statsOf(idle).gpu0.period).toBe(3600);
  });

  test('idle GPU over a week: 168 hourly periods (CloudWatch\'s longest window for hourly periods)', () => {
    const q = platform();
    const m = new ModelMonitoring(q.stack, 'Monitoring', { endpoint: q.endpoint, idleGpuDuration: Duration.days(7) });
    const idle = Template.fromStack(q.stack).toJSON().Resources[q.stack.getLogicalId((m.node.findChild('IdleGpu-champion') as any).node.defaultChild)].Properties;
    expect(idle).toMatchObject({ EvaluationPeriods: 168 });
  });

  test('memory creep: a trend (RATE of hourly averages, points per hour) above 0.5 in 20 of 24 hours', () => {
    const creep = props('MemoryCreep-champion');
    expect(creep).toMatchObject({
      Threshold: 0.5, EvaluationPeriods: 24, DatapointsToAlarm: 20, TreatMissingData: 'notBreaching', AlarmActions: [warningRef],
    });
    expect(expressionOf(creep)).toBe('RATE(memory0) * 3600');
    expect(statsOf(creep).memory0).toMatchObject({ name: 'MemoryUtilization', stat: 'Average', period: 3600 });
  });

  test('every alarm reaches a person: directly, or (burn-rate windows) through a composite that notifies', () => {
    const composites = template.findResources('AWS::CloudWatch::CompositeAlarm');
    const heardThrough = (id: string) => Object.values(composites).some((c: any) => c.Properties.AlarmActions?.length > 0
      && JSON.stringify(c.Properties.AlarmRule).includes(`"${id}"`));
    expect(alarmsWithoutActions(template)).toEqual([]);
    const windows = Object.values(monitoring.slos).flatMap((slo) => slo.windowAlarms);
    expect(windows.length).toBe(4 * Object.keys(monitoring.slos).length);
    for (const window of windows) {
      expect(json.Resources[idOf(window)].Properties.AlarmActions).toBeUndefined();
      expect(heardThrough(idOf(window))).toBe(true);
    }
  });
});

describe('ModelMonitoring: SLOs with multi-window burn-rate alarms', () => {
  test('availability 99.9 %: four windows (1 h, 5 min at 14.4; 6 h, 30 min at 6), each the burn-rate expression over its own period', () => {
    const expected = burnRateExpression(AVAILABILITY_SLI, 0.999);
    for (const [id, period, threshold] of [['FastBurn60m', 3600, 14.4], ['FastBurn5m', 300, 14.4], ['SlowBurn360m', 21600, 6], ['SlowBurn30m', 1800, 6]] as const) {
      const window = props(`AvailabilitySlo/${id}`);
      expect(window).toMatchObject({ Threshold: threshold, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
      expect(expressionOf(window)).toBe(expected);
      expect(Object.values(statsOf(window)).every((m: any) => m.period === period && m.stat === 'Sum')).toBe(true);
    }
  });

  test('each pair is one composite (AND): fast pages (critical), slow opens a ticket (warning)', () => {
    const ref = (id: string) => idOf(child(`AvailabilitySlo/${id}`));
    const fast = props('AvailabilitySlo/FastBurnAlarm');
    expect(JSON.stringify(fast.AlarmRule)).toMatch(new RegExp(`ALARM\\(\\\\"",\\{"Fn::GetAtt":\\["${ref('FastBurn60m')}","Arn"\\]\\},"\\\\"\\) AND ALARM\\(\\\\"",\\{"Fn::GetAtt":\\["${ref('FastBurn5m')}"`));
    expect(fast).toMatchObject({ AlarmActions: [criticalRef], OKActions: [criticalRef] });
    const slow = props('AvailabilitySlo/SlowBurnAlarm');
    expect(JSON.stringify(slow.AlarmRule)).toContain(' AND ');
    expect(JSON.stringify(slow.AlarmRule)).toContain(ref('SlowBurn360m'));
    expect(slow).toMatchObject({ AlarmActions: [warningRef] });
  });

  test('latency 99 %: good = GatewayLatencyMs TC(:40) (the deadline), total = SampleCount', () => {
    const window = props('LatencySlo/FastBurn60m');
    expect(expressionOf(window)).toBe(burnRateExpression(LATENCY_SLI, 0.99));
    expect(statsOf(window)).toMatchObject({ all: { name: GatewayMetrics.LATENCY_MS, stat: 'SampleCount' }, fast: { name: GatewayMetrics.LATENCY_MS, stat: 'TC(:40)' } });
  });

  test('feature availability per view (99 %): PRESENT over all statuses, dimensions Model and FeatureView', () => {
    const window = props(`FeatureAvailability-${merchantRisk.name}Slo/SlowBurn30m`);
    expect(expressionOf(window)).toContain('* 100 /');
    expect(statsOf(window).present1).toMatchObject({
      name: 'FeatureValuesPresent', dims: [{ Name: 'FeatureView', Value: merchantRisk.name }, { Name: 'Model', Value: 'fraud' }],
    });
  });
});

describe('ModelMonitoring: guardrail and gathered alarms', () => {
  test('the guardrail ORs every critical alarm, the ingestion\'s included, and notifies the critical action', () => {
    const rule = JSON.stringify(props('Guardrail').AlarmRule);
    for (const alarm of monitoring.criticalAlarms) expect(rule).toContain(`"${idOf(alarm)}"`);
    for (const alarm of monitoring.warningAlarms) expect(rule).not.toContain(`"${idOf(alarm)}"`);
    for (const alarm of p.ingestion.alarms) expect(monitoring.criticalAlarms).toContain(alarm);
    expect(rule.split(' OR ').length).toBe(monitoring.criticalAlarms.length);
    expect(props('Guardrail')).toMatchObject({ AlarmActions: [criticalRef], OKActions: [criticalRef] });
    expect(monitoring.alarms.length).toBe(monitoring.criticalAlarms.length + monitoring.warningAlarms.length);
  });

  test('the ingestion\'s alarms are gathered, not duplicated: no dead-letter or iterator-age alarm of our own', () => {
    const ours = Object.entries(template.findResources('AWS::CloudWatch::Alarm'))
      .filter(([id]) => id.startsWith('Monitoring'))
      .map(([, a]: any) => [a.Properties.MetricName, ...(a.Properties.Metrics ?? []).map((m: any) => m.MetricStat?.Metric.MetricName)]).flat();
    expect(ours).not.toContain(MaterializerMetrics.DEAD_LETTERED);
    expect(ours).not.toContain('IteratorAge');
    expect(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: MaterializerMetrics.DEAD_LETTERED } })).not.toEqual({});
    expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: MaterializerMetrics.DEAD_LETTERED } })).every((id) => id.startsWith('Ingest'))).toBe(true);
  });

  test('one encrypted topic per severity', () => {
    for (const topic of [monitoring.warningTopic!, monitoring.criticalTopic!]) {
      expect(json.Resources[p.stack.getLogicalId(topic.topic.node.defaultChild as any)].Properties.KmsMasterKeyId).toBeDefined();
    }
  });

  test('cdk-nag AwsSolutions: no findings', () => {
    expect(Annotations.fromStack(p.stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
  });
});

describe('ModelMonitoring: dashboard', () => {
  const body = () => {
    const raw = json.Resources[idOf(monitoring.dashboard)].Properties.DashboardBody;
    const text = typeof raw === 'string' ? raw : (raw['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : `<${JSON.stringify(part).replace(/"/g, '')}>`)).join('');
    return JSON.parse(text) as { widgets: any[] };
  };

  test('snapshot', () => {
    expect(body()).toMatchSnapshot();
  });

  test('rows as on-call reads them: serving, SLOs, features, then GPU, memory and cost', () => {
    const widgets = body().widgets;
    const titles = widgets.filter((w) => w.type === 'text').map((w) => w.properties.markdown);
    expect(titles).toEqual([
      '## fraud: traffic, errors, latency, saturation',
      '## Service level objectives: error budget left over 30 days, burn rate',
      '## Features: freshness, availability, dead letters',
      '## GPU, memory and cost',
      expect.stringContaining('### Cost'),
    ]);
    const graphTitles = widgets.filter((w) => w.type === 'metric').map((w) => w.properties.title);
    expect(graphTitles).toEqual([
      'Traffic: requests / min', 'Errors: % of requests', 'Latency: gateway ms (left), model p99 µs (right)', 'Saturation: server queue depth',
      'Error budget left, % (30 days)', 'Burn rate over 1 hour (page at 14.4, ticket at 6)',
      'Feature freshness lag (ms)', 'Newest event age (ms): a silent producer', 'Feature availability: % of values served PRESENT', 'Dead letters / min',
      'GPU and GPU memory, % of one GPU', 'Host memory % and growth (points/hour)',
    ]);
    const rows = [...new Set(widgets.map((w) => w.y))];
    expect(widgets.filter((w) => w.type === 'metric' && w.properties.title.startsWith('Error budget'))[0].y).toBeGreaterThan(widgets.find((w) => w.properties.title === 'Traffic: requests / min').y);
    expect(rows.length).toBe(8);
  });

  test('the SLO widgets read the same expressions as the alarms: budget left over 30 days, burn rate over 1 hour', () => {
    const widgets = body().widgets;
    const budget = widgets.find((w) => w.properties.title === 'Error budget left, % (30 days)');
    expect(budget).toMatchObject({ type: 'metric', properties: { view: 'singleValue', setPeriodToTimeRange: true, start: '-P30D' } });
    const expressions = budget.properties.metrics.filter((m: any) => m[0]?.expression).map((m: any) => m[0].expression);
    expect(expressions).toContain(`100 * (1 - ${burnRateExpression(AVAILABILITY_SLI, 0.999)})`);
    expect(expressions).toContain(`100 * (1 - ${burnRateExpression(LATENCY_SLI, 0.99)})`);
    const burn = widgets.find((w) => w.properties.title?.startsWith('Burn rate over 1 hour'));
    const burnExpressions = burn.properties.metrics.filter((m: any) => m[0]?.expression).map((m: any) => m[0].expression);
    expect(burnExpressions).toContain(expressionOf(props('AvailabilitySlo/FastBurn60m')));
    expect(burnExpressions).toContain(expressionOf(props('LatencySlo/FastBurn60m')));
  });

  test('addWidgets adds a row (for a cost guard)', () => {
    const q = platform();
    const m = new ModelMonitoring(q.stack, 'Monitoring', { endpoint: q.endpoint });
    const before = (m.dashboard as any).rows.length;
    m.addWidgets(new (require('aws-cdk-lib/aws-cloudwatch').TextWidget)({ markdown: 'cost' }));
    expect((m.dashboard as any).rows.length).toBe(before + 1);
  });
});

describe('ModelMonitoring: only what is given', () => {
  test('an endpoint alone: no gateway, SLO or feature alarms; an imported endpoint without instance types gets no GPU alarms and a warning', () => {
    const app = new App();
    const stack = new Stack(app, 'Imported', { env: ENV });
    const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', { endpointName: 'fraud', variantNames: ['v1', 'v2'] });
    const m = new ModelMonitoring(stack, 'Monitoring', { endpoint, gpusPerInstance: { v2: 2 } });
    const ids = m.node.children.map((c) => c.node.id);
    expect(ids).toEqual(expect.arrayContaining(['ModelLatency-v1-Critical', 'Memory-v1-Warning', 'GpuUtilization-v2-Critical', 'IdleGpu-v2']));
    expect(ids.filter((id) => /FallbackRate|ShedRate|Slo|FeatureFreshness|SilentProducer|GpuUtilization-v1|IdleGpu-v1/.test(id))).toEqual([]);
    const template2 = Template.fromStack(stack);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp("variant v1: GPUs per instance unknown.*gpusPerInstance: \\{ 'v1'"))).toHaveLength(1);
    expect(alarmsWithoutActions(template2)).toEqual([]);
  });

  test('an imported endpoint with instance types in its attributes gets GPU alarms per GPU, no warning', () => {
    const stack = new Stack(new App(), 'ImportedTyped', { env: ENV });
    const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', {
      endpointName: 'fraud', variantNames: ['v1', 'v2'], variantInstanceTypes: { v1: InferenceInstanceType.G5_12XLARGE, v2: InferenceInstanceType.C6I_LARGE },
    });
    const m = new ModelMonitoring(stack, 'Monitoring', { endpoint });
    const ids = m.node.children.map((c) => c.node.id);
    expect(ids).toEqual(expect.arrayContaining(['GpuUtilization-v1-Critical', 'IdleGpu-v1']));
    expect(ids.filter((id) => /Gpu.*-v2/.test(id))).toEqual([]); // a CPU variant
    const gpu = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId((m.node.findChild('GpuUtilization-v1-Critical') as any).node.defaultChild)].Properties;
    expect(expressionOf(gpu)).toBe('gpu0 / 4');
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('GPUs per instance unknown'))).toEqual([]);
  });

  test('feature availability SLOs only for the views the gateway reads (given as views), not every view of the store', () => {
    const q = platform();
    const unread = new FeatureView({ name: 'unread_view', entities: [customer], ttl: Duration.days(1), features: [Feature.int64('n', { fallback: 0 })] });
    const store = new FeatureStore(q.stack, 'MoreFeatures', { views: [...fraudFeatureViews, unread] });
    const sloIds = (m: ModelMonitoring) => Object.keys(m.slos).filter((name) => name.startsWith('FeatureAvailability'));
    expect(sloIds(new ModelMonitoring(q.stack, 'Defaulted', { gateway: q.gateway, store }))).toEqual([]);
    const given = new ModelMonitoring(q.stack, 'Given', { gateway: q.gateway, store, views: [customerTxnStats] });
    expect(sloIds(given)).toEqual([`FeatureAvailability-${customerTxnStats.name}`]);
    // Freshness still covers every view of the store when none are given.
    expect(new ModelMonitoring(q.stack, 'Fresh', { gateway: q.gateway, store }).node.tryFindChild(`SilentProducer-${unread.name}`)).toBeDefined();
  });

  test('given actions are used, and no topics are created', () => {
    const q = platform();
    const warn = new AlarmTopic(q.stack, 'Tickets');
    const page = new AlarmTopic(q.stack, 'Pages');
    const m = new ModelMonitoring(q.stack, 'Monitoring', { gateway: q.gateway, warningAction: warn, criticalAction: page });
    expect(m.warningTopic).toBeUndefined();
    expect(m.criticalTopic).toBeUndefined();
    const t = Template.fromStack(q.stack);
    t.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmActions: [topicRef(page)], AlarmDescription: Match.stringLikeRegexp('^Guardrail') });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topicRef(warn)], AlarmDescription: Match.stringLikeRegexp('warning: share of the gateway') });
  });

  test('alarms a routing adds after the monitoring is created are in the guardrail', () => {
    const q = platform();
    const routing = { alarms: [] as any[] };
    const m = new ModelMonitoring(q.stack, 'Monitoring', { modelName: 'fraud', routing });
    const late = new (require('aws-cdk-lib/aws-cloudwatch').Alarm)(q.stack, 'Late', { metric: q.gateway.metricShed(), threshold: 1, evaluationPeriods: 1 });
    routing.alarms.push(late);
    const rule = JSON.stringify(Template.fromStack(q.stack).toJSON().Resources[q.stack.getLogicalId(m.guardrail.node.defaultChild as any)].Properties.AlarmRule);
    expect(rule).toContain(q.stack.getLogicalId(late.node.defaultChild));
  });
});

describe('ModelMonitoring: validation names the prop', () => {
  const make = (over: Partial<ModelMonitoringProps>) => () => {
    const q = platform();
    return new ModelMonitoring(q.stack, 'Monitoring', { gateway: q.gateway, ...over });
  };

  test.each([
    [{ availabilityObjective: 1 }, 'availabilityObjective: 1 must be a fraction between 0 and 1, exclusive'],
    [{ latencyObjective: 0 }, 'latencyObjective: 0 must be a fraction between 0 and 1'],
    [{ featureAvailabilityObjective: 99.9 }, 'featureAvailabilityObjective: 99.9 must be a fraction'],
    [{ availabilityObjective: 0.9 }, 'availabilityObjective: 0.9 is too low for burn-rate alerting'],
    [{ thresholds: { warning: { fallbackPercent: 10 } } }, 'thresholds.warning.fallbackPercent: 10 is above thresholds.critical.fallbackPercent (5)'],
    [{ thresholds: { critical: { modelLatencyP99: Duration.millis(10) } } }, 'thresholds.warning.modelLatencyP99: 20 is above thresholds.critical.modelLatencyP99 (10)'],
    [{ thresholds: { critical: { queueDepth: -1 } } }, 'thresholds.critical.queueDepth: -1 must be a positive number'],
    [{ idleGpuDuration: Duration.minutes(90) }, 'idleGpuDuration: 1 hour 30 minutes must be whole hours from 1 to 168'],
    [{ idleGpuDuration: Duration.hours(169) }, 'idleGpuDuration: 7 days 1 hour must be whole hours from 1 to 168'],
  ])('%j', (over, message) => {
    expect(make(over as Partial<ModelMonitoringProps>)).toThrow(message);
  });

  test('nothing to monitor, and no model name', () => {
    const stack = new Stack(new App(), 'Empty');
    expect(() => new ModelMonitoring(stack, 'Monitoring', {})).toThrow(/nothing to monitor: pass at least one of endpoint, gateway[\s\S]*modelName: required without an endpoint or a gateway/);
  });
});
