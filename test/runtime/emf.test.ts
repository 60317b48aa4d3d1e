/**
 * The EMF encoder publishes only values CloudWatch accepts (±2^360 at most): an exploded metric is clamped, not a
 * line CloudWatch drops (an alarm on it stays silent exactly when the model emits garbage); NaN is left out.
 */
import { MAX_METRIC_MAGNITUDE, toEmf } from '../../runtime/core/metrics';
import { QualityAccumulator } from '../../runtime/core/model-quality';

test('Infinity and 1e200 are clamped to ±1e100, 1e-200 is 0, NaN is left out of the values and the definitions', () => {
  const line = JSON.parse(toEmf({ Model: 'fraud' }, [
    { name: 'Huge', value: 1e200, unit: 'None' }, { name: 'Infinite', value: -Infinity, unit: 'None' },
    { name: 'Tiny', value: 1e-200, unit: 'None' }, { name: 'Missing', value: NaN, unit: 'None' }, { name: 'Plain', value: 0.25, unit: 'None' },
  ], { timestampMs: 0 }));
  expect(line).toMatchObject({ Huge: MAX_METRIC_MAGNITUDE, Infinite: -MAX_METRIC_MAGNITUDE, Tiny: 0, Plain: 0.25 });
  expect(line).not.toHaveProperty('Missing');
  expect(line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).toEqual(['Huge', 'Infinite', 'Tiny', 'Plain']);
});

test('a regression model answering 1e200 publishes an RMSE an alarm can see', () => {
  const quality = new QualityAccumulator({ problem: 'regression' });
  quality.add(1e200, 3);
  quality.add(2, 3);
  const { rmse } = quality.summary();
  expect(rmse).toBe(Infinity); // (1e200)² overflows
  const line = JSON.parse(toEmf({ Model: 'm' }, [{ name: 'RootMeanSquaredError', value: rmse!, unit: 'None' }]));
  expect(line.RootMeanSquaredError).toBe(MAX_METRIC_MAGNITUDE);
});
