/**
 * The server's configuration contract: defaults, every problem listed at once (named by variable, as the server words
 * them), and the builder and the parser reading one table, so that what a construct writes is what the server reads.
 */
import {
  inferenceServerEnvironment, MAX_TIMER_MS, NUMERIC_SETTINGS, NumericSettingName, parseInferenceServerEnvironment, ServerVariables,
} from '../../runtime/contracts/inference-server';
import { loadConfig } from '../../runtime/inference-server/config';

test('defaults: SageMaker port and model path, batching and queue limits, workers from the cores', () => {
  expect(loadConfig({}, 8)).toMatchObject({
    host: '0.0.0.0', port: 8080, modelUri: '/opt/ml/model', modelVersion: '1', variant: 'AllTraffic', executionProvider: 'cpu',
    workers: 2, intraOpThreads: 3, maxBatchSize: 32, maxQueueDelayMs: 2, inlineMaxRunUs: 100, maxQueueSize: 512, defaultPriority: 2,
    defaultTimeoutMs: 5000, maxPayloadBytes: 6291456, nonFinite: 'reject', warmupRuns: 2, drainGraceMs: 5000, shutdownTimeoutMs: 28000,
    metricsIntervalS: 60, faultInjection: false, s3ForcePathStyle: false,
    http: { headersTimeoutMs: 10000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 65000, maxConnections: 1024, maxHeaderBytes: 16384 },
    predictionLog: { sink: undefined, sampleRate: 0.1, bufferRecords: 10000, flushMs: undefined },
  });
  expect(loadConfig({ [ServerVariables.EXECUTION_PROVIDER]: 'cuda' }, 8).workers).toBe(1);
});

test('every invalid variable is listed at once, each named with what it accepts', () => {
  const env = {
    INFERENCE_MAX_BATCH_SIZE: '0', INFERENCE_NON_FINITE: 'maybe', INFERENCE_DEFAULT_PRIORITY: 'urgent', INFERENCE_METRICS_INTERVAL_S: '0.5',
    PREDICTION_LOG_SINK: 'ftp://x', INFERENCE_DRAIN_GRACE_MS: '30000', INFERENCE_HTTP_HEADERS_TIMEOUT_MS: '40000',
  };
  const message = (() => {
    try {
      loadConfig(env, 4);
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  })();
  for (const expected of [
    /INFERENCE_MAX_BATCH_SIZE=0: expected an integer from 1 to 65536/,
    /INFERENCE_NON_FINITE=maybe: expected one of reject, allow/,
    /INFERENCE_DEFAULT_PRIORITY=urgent: expected a level 1..3 or one of critical, standard, batch/,
    /INFERENCE_METRICS_INTERVAL_S=0.5: expected an integer from 0 to 3600/,
    /PREDICTION_LOG_SINK=ftp:\/\/x: expected stdout, file:\/\/\/path, kinesis:\/\/stream or s3:\/\/bucket\/prefix/,
    /INFERENCE_DRAIN_GRACE_MS \(30000\) must be below INFERENCE_SHUTDOWN_TIMEOUT_MS \(28000\)/,
    /INFERENCE_HTTP_HEADERS_TIMEOUT_MS \(40000\) must not be above INFERENCE_HTTP_REQUEST_TIMEOUT_MS \(30000\)/,
  ]) expect(message).toMatch(expected);
});

test('what the builder writes, the parser reads: every numeric setting at its bounds, and one past them refused', () => {
  // Settings that rules across settings compare start where any value of the other one passes.
  const V = ServerVariables;
  const base = { [V.SHUTDOWN_TIMEOUT_MS]: String(MAX_TIMER_MS), [V.DRAIN_GRACE_MS]: '0', [V.HTTP_REQUEST_TIMEOUT_MS]: String(MAX_TIMER_MS), [V.HTTP_HEADERS_TIMEOUT_MS]: '1' };
  const read = (env: Record<string, string>) => parseInferenceServerEnvironment({ ...base, ...env }, 4);
  for (const [name, setting] of Object.entries(NUMERIC_SETTINGS) as [NumericSettingName, (typeof NUMERIC_SETTINGS)[NumericSettingName]][]) {
    const max = 'max' in setting ? setting.max : 10 ** 9;
    for (const value of [setting.min, max]) {
      const env = inferenceServerEnvironment({ [name]: value });
      expect(Object.keys(env)).toEqual([setting.variable]);
      if (name === 'drainGraceMs' && value === max) continue; // must stay below the shutdown timeout (a rule across settings)
      expect(() => read(env)).not.toThrow();
    }
    expect(() => read(inferenceServerEnvironment({ [name]: setting.min - 1 }))).toThrow(`${setting.variable}=${setting.min - 1}: expected`);
    if ('max' in setting) expect(() => read(inferenceServerEnvironment({ [name]: setting.max + 1 }))).toThrow(`${setting.variable}=${setting.max + 1}: expected`);
  }
  const config = read(inferenceServerEnvironment({ maxBatchSize: 7, maxQueueDelayMs: 2.5, inlineMaxRunUs: 40, defaultPriority: 'critical', variant: 'blue' }));
  expect(config).toMatchObject({ maxBatchSize: 7, maxQueueDelayMs: 2.5, inlineMaxRunUs: 40, defaultPriority: 1, variant: 'blue' });
});
