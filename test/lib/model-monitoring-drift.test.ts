/**
 * ModelMonitoring over a drift detector and a model-quality monitor alone (no endpoint, no gateway): alarms on the
 * drift and quality metrics, by severity, with actions, in the guardrail; and the props' validation.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DriftDetector, ModelMonitoring, ModelMonitoringProps, ModelQualityMonitor, PredictionLogDataset } from '../../lib';
import { DriftMetrics, METRICS_NAMESPACE, ModelQualityMetrics } from '../../runtime/core/metrics';
import { alarmsWithoutActions } from '../support/alarms';

function build(props: Partial<ModelMonitoringProps> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Drifting', { env: { account: '123456789012', region: 'us-east-1' } });
  const dataset = new PredictionLogDataset(stack, 'Dataset');
  const drift = new DriftDetector(stack, 'Drift', { dataset, modelName: 'fraud' });
  const quality = new ModelQualityMonitor(stack, 'Quality', { dataset, modelName: 'fraud', problem: 'classification', scoreOutput: 'probability' });
  const monitoring = new ModelMonitoring(stack, 'Monitoring', { drift, quality, ...props });
  return { app, stack, drift, quality, monitoring };
}

const built = build({ maxTopPredictionSharePercent: 50, minLabelCoveragePercent: 2 });
const template = Template.fromStack(built.stack);
const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
/** The alarms of ModelMonitoring on one metric name (dimension Model = fraud), with their threshold and operator. */
const on = (metricName: string) => alarms.map((a) => ({ alarm: a, stat: a.Metrics?.[0]?.MetricStat }))
  .filter(({ stat }) => stat?.Metric.MetricName === metricName && stat.Metric.Namespace === METRICS_NAMESPACE)
  .map(({ alarm: a, stat }) => ({ threshold: a.Threshold, operator: a.ComparisonOperator, stat: stat.Stat, period: stat.Period, dims: stat.Metric.Dimensions, missing: a.TreatMissingData }));

test('the model is named by the drift detector: no model name needed', () => {
  expect(built.monitoring.modelName).toBe('fraud');
});

test('features drifted: a warning at 30 % and a page at 50 % (Evidently\'s dataset drift), one check each, per model', () => {
  const expected = { operator: 'GreaterThanThreshold', stat: 'Maximum', period: 3600, dims: [{ Name: 'Model', Value: 'fraud' }], missing: 'notBreaching' };
  expect(on(DriftMetrics.DRIFTED_FEATURE_SHARE)).toEqual([{ ...expected, threshold: 30 }, { ...expected, threshold: 50 }]);
});

test('prediction drift, data quality and a collapse of the top predictions are warnings', () => {
  expect(on(DriftMetrics.PREDICTION_DRIFTED)).toEqual([expect.objectContaining({ threshold: 0, operator: 'GreaterThanThreshold' })]);
  expect(on(DriftMetrics.COLUMNS_WITH_QUALITY_ISSUES)).toEqual([expect.objectContaining({ threshold: 0, operator: 'GreaterThanThreshold' })]);
  expect(on(DriftMetrics.TOP_PREDICTION_SHARE)).toEqual([expect.objectContaining({ threshold: 50, operator: 'GreaterThanThreshold', stat: 'Maximum' })]);
  const warnings = built.monitoring.warningAlarms.map((a) => a.node.id);
  expect(warnings).toEqual(expect.arrayContaining(['PredictionDrift', 'DataQuality', 'PredictionCollapse', 'DriftedFeatures-Warning', 'QualityDrop-Warning', 'LabelCoverage']));
});

test('quality: a drop against the baseline warns at 5 % and pages at 10 %; coverage below its floor warns', () => {
  expect(on(ModelQualityMetrics.QUALITY_DROP).map((a) => [a.threshold, a.stat])).toEqual([[5, 'Maximum'], [10, 'Maximum']]);
  expect(on(ModelQualityMetrics.COVERAGE)).toEqual([expect.objectContaining({ threshold: 2, operator: 'LessThanThreshold', stat: 'Minimum' })]);
});

test('the critical drift and quality alarms are in the guardrail; every alarm has an action', () => {
  expect(built.monitoring.criticalAlarms.map((a) => a.node.id)).toEqual(['DriftedFeatures-Critical', 'QualityDrop-Critical']);
  const rule = JSON.stringify(template.findResources('AWS::CloudWatch::CompositeAlarm'));
  for (const alarm of built.monitoring.criticalAlarms) expect(rule).toContain(built.stack.getLogicalId(alarm.node.defaultChild as any));
  expect(alarmsWithoutActions(template)).toEqual([]);
});

test('without the opt-in floors there is no collapse or coverage alarm', () => {
  const plain = Template.fromStack(build().stack);
  const names = Object.values(plain.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.Metrics?.[0]?.MetricStat.Metric.MetricName);
  expect(names).not.toContain(DriftMetrics.TOP_PREDICTION_SHARE);
  expect(names).not.toContain(ModelQualityMetrics.COVERAGE);
  expect(names).toContain(DriftMetrics.DRIFTED_FEATURE_SHARE);
});

test('validation: a detector of another model, floors without their source, out-of-range floors', () => {
  const app = new App();
  const stack = new Stack(app, 'Bad');
  const dataset = new PredictionLogDataset(stack, 'Dataset');
  const drift = new DriftDetector(stack, 'Drift', { dataset, modelName: 'churn' });
  expect(() => new ModelMonitoring(stack, 'M1', { modelName: 'fraud', drift })).toThrow(/drift: checks model 'churn', but this monitoring is of 'fraud'/);
  expect(() => new ModelMonitoring(stack, 'M2', { modelName: 'fraud', maxTopPredictionSharePercent: 50, minLabelCoveragePercent: 5 }))
    .toThrow(/maxTopPredictionSharePercent: the top predictions are counted by a drift check; pass drift[\s\S]*minLabelCoveragePercent: the coverage is measured by the label join; pass quality/);
  expect(() => new ModelMonitoring(stack, 'M3', { drift, maxTopPredictionSharePercent: 150 })).toThrow(/maxTopPredictionSharePercent/);
});
