/**
 * Typed server settings: props in Duration and Size become the variables the server reads, every problem is named by
 * its prop path with the server's own bounds (the contract's table), and unresolved tokens pass unchecked.
 */
import { App, CfnParameter, Duration, Size, Stack } from 'aws-cdk-lib';
import { parseInferenceServerEnvironment } from '../../runtime/contracts/inference-server';
import { ExecutionProvider, InferenceServerSettings, PriorityTier, serverSettingsEnvironment } from '../../lib/serving';

test('props become the server variables, in the units the server reads (µs for the inline bound)', () => {
  const { environment, problems } = serverSettingsEnvironment({
    maxBatchSize: 64, maxQueueDelay: Duration.millis(2.5), defaultTimeout: Duration.seconds(2), defaultPriority: PriorityTier.CRITICAL,
    executionProvider: ExecutionProvider.CUDA, inlineMaxRun: Duration.millis(0.1), maxPayload: Size.mebibytes(6), allowNonFinite: true,
    metricsInterval: Duration.seconds(10), drainGrace: Duration.seconds(3), http: { maxHeaderSize: Size.kibibytes(32) },
    predictionLog: { sink: 'stdout', sampleRate: 0.5, flushInterval: Duration.millis(200) },
  });
  expect(problems).toEqual([]);
  expect(environment).toEqual({
    INFERENCE_MAX_BATCH_SIZE: '64', INFERENCE_MAX_QUEUE_DELAY_MS: '2.5', INFERENCE_DEFAULT_TIMEOUT_MS: '2000', INFERENCE_DEFAULT_PRIORITY: 'critical',
    INFERENCE_EXECUTION_PROVIDER: 'cuda', INFERENCE_INLINE_MAX_RUN_US: '100', INFERENCE_MAX_PAYLOAD_BYTES: '6291456', INFERENCE_NON_FINITE: 'allow',
    INFERENCE_METRICS_INTERVAL_S: '10', INFERENCE_DRAIN_GRACE_MS: '3000', INFERENCE_HTTP_MAX_HEADER_BYTES: '32768',
    PREDICTION_LOG_SINK: 'stdout', PREDICTION_LOG_SAMPLE_RATE: '0.5', PREDICTION_LOG_FLUSH_MS: '200',
  });
  expect(parseInferenceServerEnvironment(environment, 4)).toMatchObject({ maxBatchSize: 64, defaultPriority: 1, inlineMaxRunUs: 100, metricsIntervalS: 10 });
  expect(serverSettingsEnvironment({}).environment).toEqual({});
});

test('every problem at once, named by prop path, with the server bounds', () => {
  const { problems } = serverSettingsEnvironment({
    maxBatchSize: 0, workers: 65, inlineMaxRun: Duration.millis(0.3), metricsInterval: Duration.millis(1500), defaultTimeout: Duration.days(30),
    drainGrace: Duration.seconds(30), http: { maxHeaderSize: Size.bytes(10), headersTimeout: Duration.seconds(40) },
    predictionLog: { sink: 'ftp://x', sampleRate: 2 },
  }, 'variants[0].serverSettings');
  expect(problems).toEqual([
    'variants[0].serverSettings.maxBatchSize: 0 must be an integer from 1 to 65536',
    'variants[0].serverSettings.defaultTimeout: 2592000000 ms must be an integer from 1 to 2147483647 ms',
    'variants[0].serverSettings.workers: 65 must be an integer from 1 to 64',
    'variants[0].serverSettings.inlineMaxRun: 300 µs must be a number from 0 to 250 µs',
    'variants[0].serverSettings.metricsInterval: 1.5 s must be an integer from 0 to 3600 s',
    'variants[0].serverSettings.predictionLog.sampleRate: 2 must be a number from 0 to 1',
    'variants[0].serverSettings.http.maxHeaderSize: 10 bytes must be an integer from 1024 to 1048576 bytes',
    "variants[0].serverSettings.predictionLog.sink: 'ftp://x' must be stdout, file:///path, kinesis://stream or s3://bucket/prefix",
    'variants[0].serverSettings.drainGrace (30000) must be below variants[0].serverSettings.shutdownTimeout (28000) to leave time to finish in-flight work',
    'variants[0].serverSettings.http.headersTimeout (40000) must not be above variants[0].serverSettings.http.requestTimeout (30000): the headers are part of the request',
  ]);
});

test('synth refuses exactly what the server refuses: settings without problems start the server, the others do not', () => {
  const cases: InferenceServerSettings[] = [
    { maxBatchSize: 1 }, { maxBatchSize: 65536 }, { maxBatchSize: 65537 }, { maxQueueDelay: Duration.minutes(1) }, { maxQueueDelay: Duration.seconds(61) },
    { inlineMaxRun: Duration.millis(0.25) }, { inlineMaxRun: Duration.millis(0.251) }, { metricsInterval: Duration.seconds(0) },
    { metricsInterval: Duration.hours(2) }, { shutdownTimeout: Duration.seconds(5) }, { maxPayload: Size.bytes(0) }, { warmupRuns: 1001 },
  ];
  for (const settings of cases) {
    const { environment, problems } = serverSettingsEnvironment(settings);
    let serverRefused = false;
    try {
      parseInferenceServerEnvironment(environment, 4);
    } catch {
      serverRefused = true;
    }
    expect({ settings: environment, refused: problems.length > 0 }).toEqual({ settings: environment, refused: serverRefused });
  }
});

test('unresolved tokens are written as tokens and not checked', () => {
  const stack = new Stack(new App(), 'Tokens');
  const batch = new CfnParameter(stack, 'Batch', { type: 'Number' }).valueAsNumber;
  const { environment, problems } = serverSettingsEnvironment({ maxBatchSize: batch, defaultTimeout: Duration.millis(batch) });
  expect(problems).toEqual([]);
  expect(stack.resolve(environment)).toEqual({
    INFERENCE_MAX_BATCH_SIZE: { Ref: 'Batch' }, INFERENCE_DEFAULT_TIMEOUT_MS: { Ref: 'Batch' },
  });
});
