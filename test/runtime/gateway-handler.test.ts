/**
 * The inference gateway end to end on loopback: real API Gateway proxy events → the gateway handler → online
 * features from dynalite (one BatchGetItem) → our inference server through the real SageMaker Runtime client →
 * prediction log records in kinesalite. Faults are real: a server stopped, a server frozen (SIGSTOP), a server
 * slowed by its own fault injection (its worker blocks) under overload, a table and a stream that do not exist.
 */
import * as path from 'path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../../examples/fraud-features';
import { FeatureViewSpec, validateRecord } from '../../lib/features/spec';
import { SageMakerModelInvoker } from '../../runtime/aws/sagemaker-model-invoker';
import { OnlineFeatureClient, putOnlineRow } from '../../runtime/aws/online-store';
import { KinesisPredictionLogSink } from '../../runtime/aws/prediction-log-sinks';
import { GatewayCode } from '../../runtime/core/gateway-codes';
import { GatewayConfig, GatewayLogEntry, GatewayCore } from '../../runtime/core/gateway-core';
import { GatewayMetrics, MetricDatum } from '../../runtime/core/metrics';
import { PREDICT_REQUEST_LIMITS } from '../../runtime/core/predict-request';
import { parseJsonLines, PredictionLogRecord } from '../../runtime/core/prediction-log';
import { assignVariant } from '../../runtime/core/variant-assignment';
import { gatewayEnvironment, GatewayVariables } from '../../runtime/contracts/gateway';
import { createGatewayHandler, GatewayHandler, gatewayFromEnvironment, LOG_DELIVERY_BUDGET_MS } from '../../runtime/handlers/gateway-handler';
import { VariantRouter } from '../../runtime/local/variant-router';
import { call, metrics as serverMetrics, ServerProcess, startServer, waitForMetrics } from '../inference-server/server-process';
import { LocalService, localClientConfig, startDynalite, startKinesalite, createOnlineTable } from '../support/local-aws';

const TABLE = 'features_online';
const STREAM = 'predictions';
const MODEL_FILE = path.join(__dirname, '..', 'fixtures', 'models', 'fraud-mlp.onnx');
const [customerView, merchantView] = fraudFeatureViews.map((v) => v.toSpec());
const NOW = Date.now();
const embedding = Array.from({ length: 12 }, (_, i) => Math.round(Math.sin(i) * 100) / 100);

let dynalite: LocalService;
let kinesalite: LocalService;
let dynamo: DynamoDBClient;
let kinesis: KinesisClient;
const servers: ServerProcess[] = [];

function serve(env: Record<string, string> = {}): Promise<ServerProcess> {
  return startServer({ MODEL_URI: MODEL_FILE, MODEL_NAME: 'fraud_mlp', ENDPOINT_NAME: 'fraud', INFERENCE_WORKERS: '1', ...env })
    .then((server) => { servers.push(server); return server; });
}

function invokerOf(server: ServerProcess, headers: Record<string, string> = {}): SageMakerModelInvoker {
  const client = new SageMakerRuntimeClient({ ...localClientConfig(server.url), maxAttempts: 1 });
  // Extra request headers (the server's fault injection) ride on an SDK middleware, as any header would.
  client.middlewareStack.add((next) => (args: any) => {
    Object.assign(args.request.headers, headers);
    return next(args);
  }, { step: 'build', name: 'testHeaders' });
  return new SageMakerModelInvoker(client, 'fraud');
}

const baseConfig: GatewayConfig = {
  model: 'fraud', modelVersion: '7', views: [customerView, merchantView], featureRefs: fraudModelFeatureRefs, inputName: 'features',
  deadlineMs: 2000, fallbackOutputs: { probability: [0.01] }, defaultTier: 'batch',
  tierByApiKeyId: { 'key-critical': 'critical', 'key-standard': 'standard', 'key-batch': 'batch' },
};

/** One metrics line per request, as the gateway emitted it. */
type MetricsLine = { dimensions: Record<string, string>; metrics: MetricDatum[] };
interface Harness { handler: GatewayHandler; metrics: MetricsLine[]; logged: GatewayLogEntry[] }
const sinks: KinesisPredictionLogSink[] = [];

/** A gateway as Lambda runs it (each answer waits for its prediction-log delivery), over the loopback services. */
function gatewayWith(model: SageMakerModelInvoker | VariantRouter, config: Partial<GatewayConfig> = {}, where: { table?: string; stream?: string } = {}): Harness {
  const metrics: Harness['metrics'] = [];
  const logged: GatewayLogEntry[] = [];
  const log = new KinesisPredictionLogSink({ client: kinesis, streamName: where.stream ?? STREAM, flushIntervalMs: 10 });
  sinks.push(log);
  const gateway = new GatewayCore({ ...baseConfig, ...config }, {
    features: new OnlineFeatureClient({ client: dynamo, tableName: where.table ?? TABLE, timeoutMs: 10_000 }),
    model,
    predictionLog: log,
    logDeliveryBudgetMs: LOG_DELIVERY_BUDGET_MS,
    metrics: (dimensions, m) => metrics.push({ dimensions, metrics: m }),
    log: (entry) => logged.push(entry),
  });
  return { handler: createGatewayHandler(gateway), metrics, logged };
}

/** The value of metric `name` in a line, or undefined when the line does not hold it. */
function valueOf(line: MetricsLine, name: string): number | undefined {
  return line.metrics.find((d) => d.name === name)?.value;
}

let requestCounter = 0;
/** A REST API proxy event as API Gateway sends it to the Lambda. */
function event(body: unknown, options: { apiKeyId?: string; model?: string } = {}): APIGatewayProxyEvent {
  const requestId = `req-${++requestCounter}`;
  return {
    body: typeof body === 'string' ? body : JSON.stringify(body), isBase64Encoded: false, httpMethod: 'POST',
    path: `/predict/${options.model ?? 'fraud'}`, resource: '/predict/{model}', pathParameters: { model: options.model ?? 'fraud' },
    headers: { 'content-type': 'application/json' }, multiValueHeaders: {}, queryStringParameters: null, multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      requestId, apiId: 'api', stage: 'prod', httpMethod: 'POST', path: '/prod/predict/fraud', resourcePath: '/predict/{model}', resourceId: 'res',
      accountId: '123456789012', protocol: 'HTTP/1.1', requestTimeEpoch: Date.now(), authorizer: undefined,
      identity: { apiKeyId: options.apiKeyId ?? 'key-critical', apiKey: 'secret', sourceIp: '127.0.0.1' } as any,
    },
  } as APIGatewayProxyEvent;
}

async function writeFeatures(view: FeatureViewSpec, record: Record<string, unknown>): Promise<void> {
  const { row, errors } = validateRecord(view, record);
  if (!row) throw new Error(errors.join('; '));
  await putOnlineRow(dynamo, TABLE, view, row, { ingestedAtMs: NOW, timeoutMs: 10_000 });
}

async function readPredictionLog(): Promise<PredictionLogRecord[]> {
  const { StreamDescription } = await kinesis.send(new DescribeStreamCommand({ StreamName: STREAM }));
  const records: PredictionLogRecord[] = [];
  for (const shard of StreamDescription!.Shards!) {
    const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    const { Records } = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
    for (const r of Records ?? []) records.push(...parseJsonLines(Buffer.from(r.Data!).toString('utf8')));
  }
  return records;
}

const entity = { customer_id: 'c1', merchant_id: 'm1' };

beforeAll(async () => {
  [dynalite, kinesalite] = await Promise.all([startDynalite(), startKinesalite()]);
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  kinesis = new KinesisClient(localClientConfig(kinesalite.endpoint));
  await createOnlineTable(dynamo, TABLE);
  await kinesis.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
  const eventTime = new Date(NOW - 60_000).toISOString();
  await writeFeatures(customerView, { customer_id: 'c1', event_time: eventTime, txn_count_1h: 4, txn_amount_avg_24h: 37.5, is_new_device: true, spend_embedding: embedding });
  await writeFeatures(customerView, { customer_id: 'c2', event_time: eventTime, txn_count_1h: 1 }); // no embedding
  await writeFeatures(merchantView, { merchant_id: 'm1', event_time: eventTime, chargeback_rate_30d: 0.02 });
});

afterAll(async () => {
  await Promise.all(sinks.map((sink) => sink.close()));
  await Promise.all(servers.map((s) => s.stop()));
  dynamo?.destroy();
  kinesis?.destroy();
  await Promise.all([dynalite?.stop(), kinesalite?.stop()]);
});

describe('inference gateway on loopback', () => {
  let server: ServerProcess;
  let harness: Harness;
  beforeAll(async () => {
    server = await serve();
    harness = gatewayWith(invokerOf(server));
  });

  test('scores an entity: features in one round trip, the model through the SageMaker client, the prediction logged', async () => {
    const response = await harness.handler(event({ entity }, { apiKeyId: 'key-standard' }));
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body);
    // The same 16 numbers, sent straight to the server, give the same probability: nothing was lost on the way.
    const row = [4, 37.5, 1, ...embedding, 0.02];
    const direct = await call(`${server.url}/v2/models/fraud_mlp/infer`, { body: { inputs: [{ name: 'features', shape: [1, 16], datatype: 'FP32', data: row }] } });
    expect(body).toMatchObject({ model: 'fraud', modelVersion: '7', tier: 'standard', fallback: false, outputs: { probability: direct.json.outputs[0].data } });
    expect(body.outputs.probability[0]).toBeGreaterThan(0);
    expect(body.outputs.probability[0]).toBeLessThan(1);
    expect(body.featureStatuses['customer_txn_stats:spend_embedding']).toBe('PRESENT');

    const logged = (await readPredictionLog()).find((r) => r.requestId === body.requestId);
    expect(logged).toMatchObject({
      schema: 1, model: 'fraud', modelVersion: '7', tier: 'standard', fallback: false, outputs: body.outputs,
      features: { 'customer_txn_stats:txn_count_1h': 4, 'merchant_risk:chargeback_rate_30d': 0.02 },
    });
    expect(harness.metrics.some((m) => m.metrics.some((d) => d.name === 'Predictions'))).toBe(true);
  });

  test('bad requests get a 4xx with a reason code and a JSON error naming the problem', async () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /body must be UTF-8 JSON/],
      [{ customer: 'c1' }, /"entity" must be an object with the join keys customer_id, merchant_id/],
      [{ entity: { customer_id: 'c1' } }, /entity\.merchant_id must be a non-empty string or an integer/],
      [{ entity, userId: 42 }, /"userId" must be a non-empty string/],
      // Lone UTF-16 surrogates, as JSON escapes: valid JSON, not valid text (no store can key on them).
      ['{"entity": {"customer_id": "c\\ud800", "merchant_id": "m1"}}', /entity\.customer_id contains a lone UTF-16 surrogate/],
      ['{"entity": {"customer_id": "c1", "merchant_id": "m1"}, "userId": "u\\udc00"}', /"userId" contains a lone UTF-16 surrogate/],
    ];
    for (const [body, message] of cases) {
      const response = await harness.handler(event(body));
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body)).toMatchObject({ code: GatewayCode.BAD_REQUEST, error: expect.stringMatching(message) });
    }
    // A base64 body (binary media types) that is not UTF-8 is refused, not decoded into replacement characters.
    const binary = await harness.handler({ ...event(''), body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'), isBase64Encoded: true });
    expect(binary.statusCode).toBe(400);
    expect(JSON.parse(binary.body)).toMatchObject({ code: GatewayCode.BAD_REQUEST, error: expect.stringMatching(/UTF-8 JSON/) });
    const unknown = await harness.handler(event({ entity }, { model: 'other' }));
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ code: GatewayCode.UNKNOWN_MODEL, error: "unknown model; this gateway serves 'fraud'" });
  });

  test('the runtime enforces the bounds API Gateway\'s schema enforces: a direct invocation with an oversized key is a 400, not a store error', async () => {
    const { MAX_JOIN_KEY_LENGTH, MAX_USER_ID_LENGTH } = PREDICT_REQUEST_LIMITS;
    const { handler, logged } = gatewayWith(invokerOf(server));
    const cases: [unknown, RegExp][] = [
      // 10 KB: DynamoDB refuses such a key (ValidationException), which used to come back as a 200 fallback.
      [{ entity: { customer_id: 'c'.repeat(10_000), merchant_id: 'm1' } }, /entity\.customer_id is 10000 characters long; at most 128/],
      [{ entity: { customer_id: 'c'.repeat(MAX_JOIN_KEY_LENGTH + 1), merchant_id: 'm1' } }, /entity\.customer_id is 129 characters long/],
      [{ entity, userId: 'u'.repeat(MAX_USER_ID_LENGTH + 1) }, /"userId" is 257 characters long; at most 256/],
      [{ entity: { customer_id: 2 ** 53, merchant_id: 'm1' } }, /entity\.customer_id must be a non-empty string or an integer/],
      [{ entity: { customer_id: 1.5, merchant_id: 'm1' } }, /entity\.customer_id must be a non-empty string or an integer/],
      [{ entity, extra: 1 }, /body has fields other than "entity" and "userId"/],
      [{ entity: { ...entity, region: 'eu' } }, /"entity" has fields other than the join keys customer_id, merchant_id/],
      [[entity], /body must be a JSON object/],
    ];
    for (const [body, message] of cases) {
      const response = await handler(event(body));
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body)).toMatchObject({ code: GatewayCode.BAD_REQUEST, error: expect.stringMatching(message) });
    }
    expect(logged).toEqual([]); // refused before any store was asked
    // At the bounds: accepted (a 128-character key of 4-byte characters counts 128, as JSON Schema counts), read and answered.
    for (const customer of ['c'.repeat(MAX_JOIN_KEY_LENGTH), '😀'.repeat(MAX_JOIN_KEY_LENGTH), Number.MAX_SAFE_INTEGER]) {
      const response = await handler(event({ entity: { customer_id: customer, merchant_id: 'm1' }, userId: 'u'.repeat(MAX_USER_ID_LENGTH) }));
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(response.body)).toMatchObject({ fallback: true, fallbackReason: GatewayCode.FEATURES_MISSING });
    }
  });

  test('a 404 and a 500 emit their metrics line too', async () => {
    const unknown = gatewayWith(invokerOf(server));
    expect((await unknown.handler(event({ entity }, { model: 'other' }))).statusCode).toBe(404);
    expect(unknown.metrics).toHaveLength(1);
    expect(valueOf(unknown.metrics[0], GatewayMetrics.UNKNOWN_MODEL)).toBe(1);
    // A feature port that answers no entity at all: a defect no real store produces (hence a stand-in port here).
    const metrics: MetricsLine[] = [];
    const logged: GatewayLogEntry[] = [];
    const broken = new GatewayCore(baseConfig, {
      features: { getOnlineFeatures: async () => ({ entities: [] }) }, model: invokerOf(server),
      metrics: (dimensions, m) => metrics.push({ dimensions, metrics: m }), log: (e) => logged.push(e),
    });
    const response = await broken.handle({ model: 'fraud', body: JSON.stringify({ entity }), requestId: 'r-500' });
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toMatchObject({ code: GatewayCode.INTERNAL_ERROR });
    expect(metrics).toHaveLength(1);
    expect(metrics[0].dimensions).toEqual({ Model: 'fraud' });
    expect(valueOf(metrics[0], GatewayMetrics.INTERNAL_ERRORS)).toBe(1);
    expect(valueOf(metrics[0], GatewayMetrics.FEATURE_LATENCY_MS)).toBeGreaterThanOrEqual(0); // where its time went, as for any request
    expect(logged).toEqual([expect.objectContaining({ requestId: 'r-500', code: GatewayCode.INTERNAL_ERROR, detail: expect.stringMatching(/TypeError/) })]);
  });

  test('the prediction cache answers a repeated input without calling the model again', async () => {
    const cached = gatewayWith(invokerOf(server), { cacheTtlMs: 60_000 });
    const first = JSON.parse((await cached.handler(event({ entity }))).body);
    const second = JSON.parse((await cached.handler(event({ entity }))).body);
    expect(second).toMatchObject({ fallback: false, outputs: first.outputs });
    const count = (name: string) => cached.metrics.filter((line) => valueOf(line, name) !== undefined).length;
    expect(count(GatewayMetrics.MODEL_LATENCY_MS)).toBe(1);
    expect(count(GatewayMetrics.CACHE_HITS)).toBe(1);
  });

  test('an entity whose features are missing gets the marked fallback, never an unmarked default', async () => {
    const response = await harness.handler(event({ entity: { customer_id: 'c2', merchant_id: 'm1' } }));
    const body = JSON.parse(response.body);
    expect(response.statusCode).toBe(200);
    expect(body).toMatchObject({ fallback: true, fallbackReason: GatewayCode.FEATURES_MISSING, outputs: { probability: [0.01] } });
    expect(body.featureStatuses['customer_txn_stats:spend_embedding']).toBe('NOT_FOUND');
    expect(body.featureStatuses['customer_txn_stats:txn_count_1h']).toBe('PRESENT');
    const logged = (await readPredictionLog()).find((r) => r.requestId === body.requestId);
    expect(logged).toMatchObject({ fallback: true, outputs: { probability: [0.01] } });
  });

  test('a missing online table: the fallback with FEATURES_UNAVAILABLE, the AWS error logged, never returned', async () => {
    const { handler, logged } = gatewayWith(invokerOf(server), {}, { table: 'no_such_online_table' });
    const response = await handler(event({ entity }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ fallback: true, fallbackReason: GatewayCode.FEATURES_UNAVAILABLE, outputs: { probability: [0.01] } });
    expect(response.body).not.toMatch(/no_such_online_table|ResourceNotFound|Requested resource|arn:|dynamodb/i);
    expect(logged).toEqual([expect.objectContaining({ code: GatewayCode.FEATURES_UNAVAILABLE, detail: expect.stringMatching(/ResourceNotFoundException/) })]);
  });

  test('a missing prediction-log stream: answers go on, each lost record is counted and emitted', async () => {
    const { handler, metrics } = gatewayWith(invokerOf(server), {}, { stream: 'no_such_prediction_stream' });
    for (let i = 0; i < 3; i++) {
      const response = await handler(event({ entity }));
      expect(response.statusCode).toBe(200);
      expect(response.body).not.toMatch(/no_such_prediction_stream|kinesis/i);
    }
    // Each answer waits for its record's delivery (Lambda), so each request's line reports its own loss.
    const requestLines = metrics.filter((line) => line.dimensions.FeatureView === undefined); // not the feature-serving lines
    expect(requestLines.map((line) => valueOf(line, GatewayMetrics.LOG_DELIVERY_FAILURES))).toEqual([1, 1, 1]);
    expect(requestLines.map((line) => valueOf(line, GatewayMetrics.LOG_RECORDS_DROPPED))).toEqual([0, 0, 0]);
  });
});

test('a user always lands on the same variant, and the variant that answers is the one assigned', async () => {
  const [champion, challenger] = await Promise.all([serve({ MODEL_VARIANT: 'champion' }), serve({ MODEL_VARIANT: 'challenger' })]);
  const variants = [{ name: 'champion', weight: 70 }, { name: 'challenger', weight: 30 }];
  const modelVersions = { champion: 'v41', challenger: 'v42' };
  const { handler } = gatewayWith(new VariantRouter({ champion: invokerOf(champion), challenger: invokerOf(challenger) }), { variants, modelVersions });
  const seen = new Map<string, string>();
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 40; i++) {
      const userId = `user-${i}`;
      const body = JSON.parse((await handler(event({ entity, userId }))).body);
      // The variant comes back from the server that answered (x-Amzn-Invoked-Production-Variant).
      expect(body.variant).toBe(assignVariant(userId, variants, 'fraud'));
      expect(body.modelVersion).toBe(modelVersions[body.variant as keyof typeof modelVersions]);
      if (round === 1) expect(body.variant).toBe(seen.get(userId));
      seen.set(userId, body.variant);
    }
  }
  expect(new Set(seen.values())).toEqual(new Set(['champion', 'challenger']));
});

test('server stopped: failures open the breaker, then fallback answers come without calling the model', async () => {
  const server = await serve();
  const { handler, metrics, logged } = gatewayWith(invokerOf(server), { breaker: { failureThreshold: 3, openMs: 60_000 } });
  expect(JSON.parse((await handler(event({ entity }))).body).fallback).toBe(false);
  await server.stop();
  const reasons: string[] = [];
  for (let i = 0; i < 6; i++) {
    const response = await handler(event({ entity }));
    const body = JSON.parse(response.body);
    expect(body).toMatchObject({ fallback: true, outputs: { probability: [0.01] } });
    expect(response.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|endpoint/i); // the cause is logged, not returned
    reasons.push(body.fallbackReason);
  }
  expect(reasons).toEqual([...Array(3).fill(GatewayCode.MODEL_ERROR), ...Array(3).fill(GatewayCode.CIRCUIT_OPEN)]);
  expect(logged.filter((e) => e.code === GatewayCode.MODEL_ERROR)).toEqual(Array(3).fill(expect.objectContaining({ detail: expect.stringMatching(/ECONNREFUSED/) })));
  const failures = metrics.filter((line) => valueOf(line, GatewayMetrics.MODEL_FAILURES) !== undefined);
  expect(failures).toHaveLength(3); // the open breaker made no further calls
});

test('server frozen: the deadline expires and the fallback answers; lower tiers missing deadlines never open the breaker', async () => {
  const server = await serve();
  // Admission never sheds here, so every standard-tier call reaches the frozen model.
  const { handler } = gatewayWith(invokerOf(server), {
    deadlineMs: 300, breaker: { failureThreshold: 2, openMs: 60_000 }, admission: { protectedTiers: ['critical', 'standard', 'batch'] },
  });
  expect(JSON.parse((await handler(event({ entity }))).body).fallback).toBe(false);
  server.child.kill('SIGSTOP');
  try {
    for (let i = 0; i < 3; i++) {
      const body = JSON.parse((await handler(event({ entity }, { apiKeyId: 'key-standard' }))).body);
      expect(body).toMatchObject({ fallback: true, fallbackReason: GatewayCode.MODEL_TIMEOUT, outputs: { probability: [0.01] } });
    }
  } finally {
    server.child.kill('SIGCONT');
  }
  // Three standard-tier timeouts against a threshold of 2: the breaker stayed closed, the critical tier is served.
  expect(JSON.parse((await handler(event({ entity }))).body)).toMatchObject({ fallback: false });
});

test('overload: the gateway itself sheds the lowest tier, before any feature read or model call, while the top tier is served', async () => {
  // One worker, no batching, each run held 50 ms by the server's fault injection (capacity ~20/s whatever the machine's speed), a queue of 8.
  const server = await serve({ INFERENCE_MAX_BATCH_SIZE: '1', INFERENCE_MAX_QUEUE_SIZE: '8', INFERENCE_FAULT_INJECTION: 'true' });
  const { handler, metrics } = gatewayWith(invokerOf(server, { 'x-inference-fault': 'delay=50' }), { deadlineMs: 5000 });
  type Sent = { tier: string; response: Awaited<ReturnType<GatewayHandler>>; body: any };
  const send = (tier: string): Promise<Sent> => handler(event({ entity }, { apiKeyId: `key-${tier}` })).then((response) => ({ tier, response, body: JSON.parse(response.body) }));

  // 1. A burst far above capacity: the server refuses what its queue cannot hold, lowest priority first; the
  //    gateway relays those refusals (MODEL_OVERLOADED) and learns from them.
  const burst = await Promise.all([...Array(8).fill('critical'), ...Array(30).fill('standard'), ...Array(30).fill('batch')].map(send));
  const outcome = (tier: string) => {
    const mine = burst.filter((a) => a.tier === tier);
    return {
      served: mine.filter((a) => a.response.statusCode === 200 && !a.body.fallback).length,
      refused: mine.filter((a) => a.response.statusCode === 429).length,
      total: mine.length,
    };
  };
  expect(outcome('critical')).toEqual({ served: 8, refused: 0, total: 8 });
  expect(outcome('batch').refused).toBeGreaterThan(0);
  expect(outcome('batch').refused / 30).toBeGreaterThanOrEqual(outcome('standard').refused / 30);
  const relayed = burst.filter((a) => a.response.statusCode === 429);
  for (const a of relayed) {
    expect(a.body).toMatchObject({ code: GatewayCode.MODEL_OVERLOADED, tier: expect.stringMatching(/^(standard|batch)$/) });
    expect(a.response.headers?.['retry-after']).toBe('1');
  }
  // The counters tell the model's refusals from the gateway's own shedding: nothing was shed by the gateway yet.
  expect(metrics.filter((line) => valueOf(line, GatewayMetrics.MODEL_OVERLOADED) === 1)).toHaveLength(relayed.length);
  expect(metrics.filter((line) => valueOf(line, GatewayMetrics.SHED) !== undefined)).toHaveLength(0);

  // 2. The model stays saturated (its queue held full of top-priority calls sent straight to it) while batch callers
  //    keep coming: the gateway sheds them itself (SHED, Retry-After), spending neither a feature read nor a model
  //    call on them; the few it lets through probe the model, which refuses them.
  let saturating = true;
  const saturation = Array.from({ length: 12 }, async () => {
    while (saturating) {
      const answer = await call(`${server.url}/v2/models/fraud_mlp/infer`, {
        body: { inputs: [{ name: 'features', shape: [1, 16], datatype: 'FP32', data: Array(16).fill(0.5) }] },
        headers: { 'x-inference-priority': '1', 'x-inference-fault': 'delay=50' },
      });
      if (answer.status !== 200) await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  await waitForMetrics(server, (m) => (m.get('inference_queue_depth{priority="1"}') ?? 0) >= 8);
  // Calls the server answered, other than the saturating ones (priority 1). Not only priority 3: a call refused
  // before its body is read is counted at the server's default priority.
  const batchAtServer = async () => [...(await serverMetrics(server)).entries()]
    .filter(([series]) => series.startsWith('inference_requests_total{') && !series.includes('priority="1"')).reduce((n, [, v]) => n + v, 0);
  const serverBefore = await batchAtServer();
  const linesBefore = metrics.length;
  const followUp: Sent[] = [];
  try {
    for (let i = 0; i < 20; i++) followUp.push(await send('batch'));
  } finally {
    saturating = false;
    await Promise.all(saturation);
  }
  const shed = followUp.filter((a) => a.body.code === GatewayCode.SHED);
  expect(shed.length).toBeGreaterThanOrEqual(10);
  for (const a of shed) {
    expect(a.response.statusCode).toBe(429);
    expect(a.body).toMatchObject({ tier: 'batch' });
    expect(a.response.headers?.['retry-after']).toBe('1');
  }
  // One metrics line per request: the shed ones hold no feature read and no model call, and the server saw only the probes.
  const lines = metrics.slice(linesBefore);
  expect(lines).toHaveLength(20);
  const shedLines = lines.filter((line) => valueOf(line, GatewayMetrics.SHED) === 1);
  expect(shedLines).toHaveLength(shed.length);
  for (const line of shedLines) {
    expect(valueOf(line, GatewayMetrics.FEATURE_LATENCY_MS)).toBeUndefined();
    expect(valueOf(line, GatewayMetrics.MODEL_LATENCY_MS)).toBeUndefined();
  }
  expect(await batchAtServer() - serverBefore).toBe(20 - shed.length);

  // 3. The critical tier is never shed by the gateway, and is served again once the saturation ends.
  for (let i = 0; i < 3; i++) expect((await send('critical')).body).toMatchObject({ fallback: false, tier: 'critical' });
});

test('the gateway Lambda environment is checked, naming what is missing or malformed', () => {
  const env = gatewayEnvironment({ config: baseConfig, backend: { kind: 'sagemaker', endpointName: 'fraud' }, onlineTableName: TABLE });
  expect(() => gatewayFromEnvironment({ ...env, [GatewayVariables.CONFIG]: '{' })).toThrow(/gateway-handler: invalid environment:\n  - GATEWAY_CONFIG must be a JSON GatewayConfig/);
  // Every problem at once: a missing backend and a missing table (the model reads stored features).
  expect(() => gatewayFromEnvironment({ ...env, [GatewayVariables.MODEL_BACKEND]: '', [GatewayVariables.ONLINE_TABLE_NAME]: '' }))
    .toThrow(/MODEL_BACKEND is not set; deploy it with the InferenceGateway construct\n  - ONLINE_TABLE_NAME is not set but the model reads stored features/);
  // The config's shape: every problem at once, before any client is built.
  const broken = { ...baseConfig, deadlineMs: 2 ** 31, featureRefs: 'customer_txn_stats:txn_count_1h', defaultTier: 'gold', fallbackOutputs: { probability: ['x'] } };
  expect(() => gatewayFromEnvironment({ ...env, [GatewayVariables.CONFIG]: JSON.stringify(broken) })).toThrow(new RegExp([
    'GATEWAY_CONFIG: featureRefs must be an array', 'GATEWAY_CONFIG: deadlineMs must be an integer from 1 to 900000',
    'GATEWAY_CONFIG: fallbackOutputs must be', 'GATEWAY_CONFIG: defaultTier must be one of critical, standard, batch',
  ].join('[\\s\\S]*')));
  expect(() => gatewayFromEnvironment({ ...env, [GatewayVariables.MODEL_BACKEND]: JSON.stringify({ kind: 'http', url: 'ftp://x' }) }))
    .toThrow(/MODEL_BACKEND: url must start with http:\/\/ or https:\/\//);
  expect(() => gatewayFromEnvironment({ ...env, GATEWAY_CONFIG: JSON.stringify({ ...baseConfig, featureRefs: ['customer_txn_stats:last_device_type'] }) }))
    .toThrow(/'customer_txn_stats:last_device_type' is a string; model inputs are numeric/);
  expect(typeof gatewayFromEnvironment({ ...env, AWS_REGION: 'us-east-1' })).toBe('function');
});
