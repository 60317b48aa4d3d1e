/**
 * One source of names, proven on loopback: the runtime is driven into the situations the alarms watch — the
 * materializer storing features (dynalite + s3rver), the gateway answering from them with our real inference server,
 * falling back (features missing, the server stopped, the breaker open), relaying the server's refusals and shedding,
 * and the server itself shedding and expiring queued requests (its EMF lines, one per second, on its stdout). Every
 * metric name and dimension set in the EMF they emit is collected; then the alarms a `ModelMonitoring` synthesizes
 * are walked, and each metric of our namespace they read must be among the emitted ones, except the few this
 * scenario cannot produce (listed below with the reason).
 */
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { KinesisStreamEvent } from 'aws-lambda';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../../examples/fraud-features';
import { Fallback, FeatureIngestion, FeatureStore, InferenceGateway, ModelBackend, ModelEndpoint } from '../../lib';
import { ModelMonitoring } from '../../lib/monitoring/model-monitoring';
import { OnlineFeatureClient } from '../../runtime/aws/online-store';
import { HttpModelInvoker } from '../../runtime/backends/http-model-invoker';
import { encodeFeatureRecord } from '../../runtime/contracts/feature-record';
import { GatewayCode } from '../../runtime/core/gateway-codes';
import { GatewayConfig, GatewayCore } from '../../runtime/core/gateway-core';
import { METRICS_NAMESPACE, toEmf } from '../../runtime/core/metrics';
import { createMaterializer } from '../../runtime/handlers/materializer-handler';
import { call, MODELS_DIR, oipInput, ServerProcess, startServer, waitForMetrics } from '../inference-server/server-process';
import { rows } from '../inference-server/reference';
import { EMBEDDING } from '../support/gateway-features';
import { FeatureStoreStandIns, startFeatureStoreStandIns } from '../support/local-aws';

const TABLE = 'features_online';
const BUCKET = 'features-offline';
const [customerView, merchantView] = fraudFeatureViews.map((v) => v.toSpec());
const ENTITY = { customer_id: 'c1', merchant_id: 'm1' };

/** A metric as CloudWatch files it: namespace, name and the NAMES of its dimensions (sorted). */
type MetricIdentity = string;
const identity = (namespace: string, name: string, dimensions: readonly string[]): MetricIdentity => `${namespace}/${name}{${[...dimensions].sort().join(',')}}`;

/** Every metric an EMF line publishes: each metric under each of its dimension sets. */
function publishedBy(line: Record<string, any>): MetricIdentity[] {
  return (line._aws.CloudWatchMetrics as { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[])
    .flatMap((d) => d.Dimensions.flatMap((set) => d.Metrics.map((m) => identity(d.Namespace, m.Name, set))));
}

let standIns: FeatureStoreStandIns;
let server: ServerProcess;
/** Every EMF line the runtime wrote, parsed. */
const emf: Record<string, any>[] = [];

/** A Kinesis event as Lambda delivers it, holding the records of `view`. */
function kinesisEvent(view: typeof customerView, records: Record<string, unknown>[], firstSequence: number): KinesisStreamEvent {
  return {
    Records: records.map((record, i) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0', partitionKey: 'k', sequenceNumber: String(firstSequence + i),
        data: Buffer.from(encodeFeatureRecord(view, record)).toString('base64'), approximateArrivalTimestamp: Date.now() / 1000,
      },
      eventSource: 'aws:kinesis', eventVersion: '1.0', eventID: `shardId-000000000000:${firstSequence + i}`, eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/materializer', awsRegion: 'us-east-1', eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/features',
    })),
  };
}

const config: GatewayConfig = {
  model: 'fraud', modelVersion: '1', views: [customerView, merchantView], featureRefs: fraudModelFeatureRefs, inputName: 'features',
  deadlineMs: 5000, fallbackOutputs: { probability: [0.01] }, defaultTier: 'batch', breaker: { failureThreshold: 3, openMs: 60_000 },
  tierByApiKeyId: { 'key-critical': 'critical', 'key-batch': 'batch' },
};

/** A gateway as the Lambda handler builds it, its metrics encoded by the same `toEmf`; `fault`: the server's fault injection. */
function gateway(fault?: string, overrides: Partial<GatewayConfig> = {}): (tier: 'critical' | 'batch', entity?: Record<string, string>) => Promise<any> {
  const core = new GatewayCore({ ...config, ...overrides }, {
    features: new OnlineFeatureClient({ client: standIns.dynamo, tableName: TABLE, timeoutMs: 10_000 }),
    model: new HttpModelInvoker({ url: server.url, model: 'fraud', headers: fault ? { 'x-inference-fault': fault } : undefined }),
    metrics: (dimensions, metrics) => emf.push(JSON.parse(toEmf(dimensions, metrics, { namespace: METRICS_NAMESPACE }))),
    log: () => undefined,
  });
  let counter = 0;
  return async (tier, entity = ENTITY) => {
    const response = await core.handle({ model: 'fraud', body: JSON.stringify({ entity }), apiKeyId: `key-${tier}`, requestId: `r-${++counter}` });
    return { status: response.statusCode, ...JSON.parse(response.body) };
  };
}

/** A request straight to the server (its own queue, priorities and deadlines). */
function infer(seed: number, options: { priority: number; timeoutMs?: number; fault?: string }): Promise<number> {
  return call(`${server.url}/v2/models/fraud/infer`, {
    body: { parameters: { priority: options.priority, ...(options.timeoutMs ? { timeout_ms: options.timeoutMs } : {}) }, inputs: [oipInput('features', 'FP32', [1, 16], rows(1, 16, seed)[0])] },
    headers: options.fault ? { 'x-inference-fault': options.fault } : {},
  }).then((a) => a.status);
}

beforeAll(async () => {
  [standIns, server] = await Promise.all([
    startFeatureStoreStandIns(TABLE, BUCKET),
    startServer({
      MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'), MODEL_NAME: 'fraud', MODEL_VARIANT: 'blue', INFERENCE_WORKERS: '1',
      INFERENCE_MAX_BATCH_SIZE: '4', INFERENCE_MAX_QUEUE_SIZE: '3', INFERENCE_MAX_QUEUE_DELAY_MS: '0', INFERENCE_INLINE_MAX_RUN_US: '0',
      INFERENCE_FAULT_INJECTION: 'true', INFERENCE_METRICS_INTERVAL_S: '1',
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([server?.stop(), standIns?.stop()]);
});

/** Drives the runtime through the scenario; resolves with every metric its EMF published. */
async function driveRuntime(): Promise<Set<MetricIdentity>> {
  // The materializer stores the features the gateway reads (c2 without its embedding; one record invalid).
  const materialize = createMaterializer({ views: [customerView, merchantView], dynamo: standIns.dynamo, s3: standIns.s3, tableName: TABLE, bucketName: BUCKET, log: (line) => emf.push(JSON.parse(line)) });
  const eventTime = Date.now() - 60_000;
  await materialize(kinesisEvent(customerView, [
    { customer_id: 'c1', event_time: eventTime, txn_count_1h: 4, txn_amount_avg_24h: 37.5, is_new_device: true, spend_embedding: EMBEDDING },
    { customer_id: 'c2', event_time: eventTime, txn_count_1h: 1 },
    { customer_id: 'c3', event_time: 'yesterday' },
  ], 1));
  await materialize(kinesisEvent(merchantView, [{ merchant_id: 'm1', event_time: eventTime, chargeback_rate_30d: 0.02 }], 10));

  // Answers, and a fallback for features missing.
  const predict = gateway();
  expect(await predict('critical')).toMatchObject({ status: 200, fallback: false });
  expect(await predict('critical', { customer_id: 'c2', merchant_id: 'm1' })).toMatchObject({ fallback: true, fallbackReason: GatewayCode.FEATURES_MISSING });

  // Overload: the server (50 ms a run, a queue of 3) refuses batch calls, and the gateway relays its refusals.
  const slow = gateway('delay=50');
  const burst = await Promise.all([...Array(3).fill('critical'), ...Array(30).fill('batch')].map((tier) => slow(tier)));
  expect(burst.some((a) => a.code === GatewayCode.MODEL_OVERLOADED)).toBe(true);
  // The top tier's calls time out (the server holds a run 1.5 s, the deadline is 600 ms): fallbacks, and the gateway
  // sheds the tiers below before any feature read or model call.
  const late = gateway('delay=1500', { deadlineMs: 600, admission: { halfLifeMs: 60_000 } });
  expect(await Promise.all([late('critical'), late('critical'), late('critical')])).toEqual(Array(3).fill(expect.objectContaining({ fallback: true, fallbackReason: GatewayCode.MODEL_TIMEOUT })));
  expect(await late('batch')).toMatchObject({ status: 429, code: GatewayCode.SHED });

  // The server's own queue: a held worker, two batch-tier requests queued, a critical one fills the queue, a
  // standard one with a 100 ms deadline sheds the newest batch-tier request and then expires.
  await waitForMetrics(server, (m) => m.get('inference_batches_in_flight') === 0);
  const held = infer(1, { priority: 1, fault: 'delay=400' });
  await waitForMetrics(server, (m) => m.get('inference_batches_in_flight') === 1);
  const queued = [infer(2, { priority: 3 })];
  await waitForMetrics(server, (m) => m.get('inference_queue_depth{priority="3"}') === 1);
  queued.push(infer(3, { priority: 3 }));
  await waitForMetrics(server, (m) => m.get('inference_queue_depth{priority="3"}') === 2);
  queued.push(infer(4, { priority: 1 }));
  await waitForMetrics(server, (m) => m.get('inference_queue_depth{priority="1"}') === 1);
  queued.push(infer(5, { priority: 2, timeoutMs: 100 }));
  expect(await Promise.all([held, ...queued])).toEqual([200, 200, 429, 200, 504]);

  // The server stopped (its last EMF line written on SIGTERM): model errors, then the breaker opens.
  await server.stop();
  const reasons = [];
  for (let i = 0; i < 4; i++) reasons.push((await predict('critical')).fallbackReason);
  expect(reasons).toEqual([GatewayCode.MODEL_ERROR, GatewayCode.MODEL_ERROR, GatewayCode.MODEL_ERROR, GatewayCode.CIRCUIT_OPEN]);

  // A defect (a feature port that answers no entity, which no real store does: hence a stand-in port) is a 500, counted.
  const broken = new GatewayCore(config, {
    features: { getOnlineFeatures: async () => ({ entities: [] }) }, model: new HttpModelInvoker({ url: server.url, model: 'fraud' }),
    metrics: (dimensions, metrics) => emf.push(JSON.parse(toEmf(dimensions, metrics, { namespace: METRICS_NAMESPACE }))), log: () => undefined,
  });
  expect((await broken.handle({ model: 'fraud', body: JSON.stringify({ entity: ENTITY }), requestId: 'r-defect' })).statusCode).toBe(500);

  emf.push(...server.lines.filter((l) => l._aws !== undefined));
  return new Set(emf.flatMap(publishedBy));
}

/** The stack a platform team writes: the fraud views stored and ingested, the gateway, the endpoint, all monitored. */
function monitoredStack(): Stack {
  const stack = new Stack(new App(), 'Monitored', { env: { account: '123456789012', region: 'us-east-1' } });
  const store = new FeatureStore(stack, 'Features', { views: fraudFeatureViews });
  const ingestion = new FeatureIngestion(stack, 'Ingest', { store, views: fraudFeatureViews });
  // Imported: the names the server emits under are the endpoint's model name and variant names.
  const endpoint = ModelEndpoint.fromEndpointAttributes(stack, 'Endpoint', { endpointName: 'fraud', variantNames: ['blue'], modelName: 'fraud' });
  const gatewayConstruct = new InferenceGateway(stack, 'Gateway', {
    backend: ModelBackend.sageMaker(endpoint), store, features: fraudFeatureViews, featureRefs: fraudModelFeatureRefs, modelName: 'fraud',
    fallback: Fallback.constant({ probability: [0.01] }),
  });
  new ModelMonitoring(stack, 'Monitoring', { endpoint, gateway: gatewayConstruct, store, views: fraudFeatureViews, ingestion, gpusPerInstance: { blue: 1 } });
  return stack;
}

/** Every metric of our namespace an alarm of the template reads (a single metric, or each metric of its math). */
function readByAlarms(template: Record<string, any>): Map<MetricIdentity, string[]> {
  const read = new Map<MetricIdentity, string[]>();
  const add = (alarm: string, metric: { Namespace?: string; MetricName?: string; Dimensions?: { Name: string }[] } | undefined) => {
    if (metric?.Namespace !== METRICS_NAMESPACE || !metric.MetricName) return;
    const key = identity(metric.Namespace, metric.MetricName, (metric.Dimensions ?? []).map((d) => d.Name));
    read.set(key, [...read.get(key) ?? [], alarm]);
  };
  for (const [id, resource] of Object.entries<any>(template.Resources)) {
    if (resource.Type !== 'AWS::CloudWatch::Alarm') continue;
    add(id, resource.Properties);
    for (const query of resource.Properties.Metrics ?? []) add(id, query.MetricStat?.Metric);
  }
  return read;
}

/**
 * Namespaces the alarms also read that our runtime does not emit into, so this loopback scenario cannot exercise
 * them (AWS publishes them): every alarm metric is either ours (checked above) or from one of these.
 */
const NOT_EXERCISED: Record<string, string> = {
  'AWS/SageMaker': 'the endpoint\'s invocation metrics (model latency, 4xx/5xx): SageMaker publishes them; there is no local SageMaker',
  '/aws/sagemaker/Endpoints': 'instance metrics (GPU utilisation, GPU memory, host memory): the SageMaker agent on a (GPU) instance publishes them',
  'AWS/Lambda': 'the materializer\'s errors and iterator age: Lambda publishes them',
  'AWS/SQS': 'the ingestion\'s failure queue: SQS publishes it',
  'AWS/Kinesis': 'the feature stream: Kinesis publishes it',
};

/** The namespaces of every metric the template's alarms read. */
function namespacesReadByAlarms(template: Record<string, any>): Set<string> {
  const alarms = Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
  return new Set(alarms.flatMap((a) => [a.Properties.Namespace, ...(a.Properties.Metrics ?? []).map((q: any) => q.MetricStat?.Metric.Namespace)]).filter((n) => n !== undefined));
}

test('every metric of our namespace the alarms read is one the runtime emits, under the same dimension names', async () => {
  const emitted = await driveRuntime();
  const template = Template.fromStack(monitoredStack()).toJSON();
  const read = readByAlarms(template);
  expect(read.size).toBeGreaterThan(0);
  const missing = [...read].filter(([metric]) => !emitted.has(metric)).map(([metric, alarms]) => `${metric} (read by ${alarms.join(', ')})`);
  expect(missing).toEqual([]);
  expect([...namespacesReadByAlarms(template)].filter((n) => n !== METRICS_NAMESPACE && !(n in NOT_EXERCISED))).toEqual([]);
});
