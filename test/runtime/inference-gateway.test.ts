/**
 * The inference gateway end to end on loopback: real API Gateway proxy events → the gateway handler → online
 * features from dynalite (one BatchGetItem) → our inference server through the real SageMaker Runtime client →
 * prediction log records in kinesalite. Faults are real: a server stopped, a server frozen (SIGSTOP), a server
 * slowed by its own fault injection (its worker blocks) under overload.
 */
import * as path from 'path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../../examples/fraud-features';
import { FeatureViewSpec, validateRecord } from '../../lib/features/spec';
import { SageMakerModelInvoker } from '../../runtime/aws/model-invoker';
import { OnlineFeatureClient, putOnlineRow } from '../../runtime/aws/online-store';
import { KinesisPredictionLogSink } from '../../runtime/aws/prediction-log-sinks';
import { GatewayConfig, InferenceGateway } from '../../runtime/core/inference-gateway';
import { MetricDatum } from '../../runtime/core/metrics';
import { parseJsonLines, PredictionLogRecord } from '../../runtime/core/prediction-log';
import { assignVariant } from '../../runtime/core/variant-assignment';
import { createGatewayHandler, GatewayHandler, gatewayFromEnvironment } from '../../runtime/handlers/inference-gateway';
import { VariantRouter } from '../../runtime/local/variant-router';
import { call, ServerProcess, startServer } from '../inference-server/server-process';
import { LocalService, localClientConfig, startDynalite, startKinesalite } from '../support/local-aws';

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

interface Harness { handler: GatewayHandler; metrics: { dimensions: Record<string, string>; metrics: MetricDatum[] }[]; log: KinesisPredictionLogSink }
const sinks: KinesisPredictionLogSink[] = [];

function gatewayWith(model: SageMakerModelInvoker | VariantRouter, config: Partial<GatewayConfig> = {}): Harness {
  const metrics: Harness['metrics'] = [];
  const log = new KinesisPredictionLogSink({ client: kinesis, streamName: STREAM, flushIntervalMs: 10 });
  sinks.push(log);
  const gateway = new InferenceGateway({ ...baseConfig, ...config }, {
    features: new OnlineFeatureClient({ client: dynamo, tableName: TABLE, timeoutMs: 10_000 }),
    model,
    predictionLog: log,
    metrics: (dimensions, m) => metrics.push({ dimensions, metrics: m }),
  });
  return { handler: createGatewayHandler(gateway, () => log.flush()), metrics, log };
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
  await dynamo.send(new CreateTableCommand({
    TableName: TABLE, BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
  }));
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

  test('bad requests get a 4xx with a JSON error naming the problem', async () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /body must be JSON/],
      [{ customer: 'c1' }, /"entity" must be an object with the join keys customer_id, merchant_id/],
      [{ entity: { customer_id: 'c1' } }, /entity\.merchant_id must be a non-empty string or an integer/],
      [{ entity, userId: 42 }, /"userId" must be a non-empty string/],
    ];
    for (const [body, message] of cases) {
      const response = await harness.handler(event(body));
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body).error).toMatch(message);
    }
    const unknown = await harness.handler(event({ entity }, { model: 'other' }));
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(unknown.body).error).toMatch(/unknown model 'other'/);
  });

  test('the prediction cache answers a repeated input without calling the model again', async () => {
    const cached = gatewayWith(invokerOf(server), { cacheTtlMs: 60_000 });
    const first = JSON.parse((await cached.handler(event({ entity }))).body);
    const second = JSON.parse((await cached.handler(event({ entity }))).body);
    expect(second).toMatchObject({ fallback: false, outputs: first.outputs });
    const count = (name: string) => cached.metrics.flatMap((m) => m.metrics).filter((d) => d.name === name).length;
    expect(count('ModelLatencyMs')).toBe(1);
    expect(count('PredictionCacheHits')).toBe(1);
  });

  test('an entity whose features are missing gets the marked fallback, never an unmarked default', async () => {
    const response = await harness.handler(event({ entity: { customer_id: 'c2', merchant_id: 'm1' } }));
    const body = JSON.parse(response.body);
    expect(response.statusCode).toBe(200);
    expect(body).toMatchObject({ fallback: true, outputs: { probability: [0.01] } });
    expect(body.fallbackReason).toMatch(/customer_txn_stats:spend_embedding \(NOT_FOUND\)/);
    expect(body.featureStatuses['customer_txn_stats:txn_count_1h']).toBe('PRESENT');
    const logged = (await readPredictionLog()).find((r) => r.requestId === body.requestId);
    expect(logged).toMatchObject({ fallback: true, outputs: { probability: [0.01] } });
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
  const { handler, metrics } = gatewayWith(invokerOf(server), { breaker: { failureThreshold: 3, openMs: 60_000 } });
  expect(JSON.parse((await handler(event({ entity }))).body).fallback).toBe(false);
  await server.stop();
  const reasons: string[] = [];
  for (let i = 0; i < 6; i++) {
    const body = JSON.parse((await handler(event({ entity }))).body);
    expect(body).toMatchObject({ fallback: true, outputs: { probability: [0.01] } });
    reasons.push(body.fallbackReason);
  }
  expect(reasons.slice(0, 3)).toEqual(Array(3).fill(expect.stringMatching(/^model error: .*ECONNREFUSED/)));
  expect(reasons.slice(3)).toEqual(Array(3).fill(expect.stringMatching(/^circuit breaker open/)));
  const failures = metrics.flatMap((m) => m.metrics).filter((d) => d.name === 'ModelCallFailures');
  expect(failures).toHaveLength(3); // the open breaker made no further calls
});

test('server frozen: the deadline expires and the fallback answers; lower tiers missing deadlines never open the breaker', async () => {
  const server = await serve();
  // Admission never sheds here, so every standard-tier call reaches the frozen model.
  const { handler } = gatewayWith(invokerOf(server), { deadlineMs: 300, breaker: { failureThreshold: 2, openMs: 60_000 }, admission: { shedAt: {} } });
  expect(JSON.parse((await handler(event({ entity }))).body).fallback).toBe(false);
  server.child.kill('SIGSTOP');
  try {
    for (let i = 0; i < 3; i++) {
      const body = JSON.parse((await handler(event({ entity }, { apiKeyId: 'key-standard' }))).body);
      expect(body).toMatchObject({ fallback: true, outputs: { probability: [0.01] } });
      expect(body.fallbackReason).toMatch(/^model timeout: no answer within the \d+ ms deadline/);
    }
  } finally {
    server.child.kill('SIGCONT');
  }
  // Three standard-tier timeouts against a threshold of 2: the breaker stayed closed, the critical tier is served.
  expect(JSON.parse((await handler(event({ entity }))).body)).toMatchObject({ fallback: false });
});

test('overload: the lowest tier is shed first while the top tier is served by the model', async () => {
  // One worker, no batching, each run held 50 ms by the server's fault injection (capacity ~20/s whatever the machine's speed), a queue of 8.
  const server = await serve({ INFERENCE_MAX_BATCH_SIZE: '1', INFERENCE_MAX_QUEUE_SIZE: '8', INFERENCE_FAULT_INJECTION: 'true' });
  const { handler } = gatewayWith(invokerOf(server, { 'x-inference-fault': 'delay=50' }), { deadlineMs: 5000 });
  const tiers = [...Array(8).fill('critical'), ...Array(30).fill('standard'), ...Array(30).fill('batch')];
  const answers = await Promise.all(tiers.map(async (tier) => ({ tier, response: await handler(event({ entity }, { apiKeyId: `key-${tier}` })) })));
  const outcome = (tier: string) => {
    const mine = answers.filter((a) => a.tier === tier);
    return {
      served: mine.filter((a) => a.response.statusCode === 200 && !JSON.parse(a.response.body).fallback).length,
      shed: mine.filter((a) => a.response.statusCode === 429).length,
      total: mine.length,
    };
  };
  const critical = outcome('critical');
  const standard = outcome('standard');
  const batch = outcome('batch');
  expect(critical).toEqual({ served: 8, shed: 0, total: 8 });
  expect(batch.shed).toBeGreaterThan(0);
  expect(batch.shed / batch.total).toBeGreaterThanOrEqual(standard.shed / standard.total);
  const shedAnswer = answers.find((a) => a.response.statusCode === 429)!.response;
  expect(shedAnswer.headers?.['retry-after']).toBe('1');
  expect(JSON.parse(shedAnswer.body).error).toMatch(/^shed: /);
});

test('the gateway Lambda environment is checked, naming what is missing or malformed', () => {
  const env = { GATEWAY_CONFIG: JSON.stringify(baseConfig), ONLINE_TABLE_NAME: TABLE, ENDPOINT_NAME: 'fraud', AWS_REGION: 'us-east-1' };
  expect(() => gatewayFromEnvironment({ ...env, GATEWAY_CONFIG: '{' })).toThrow(/inference-gateway: GATEWAY_CONFIG must be a JSON GatewayConfig/);
  expect(() => gatewayFromEnvironment({ ...env, ENDPOINT_NAME: '' })).toThrow(/ENDPOINT_NAME is not set; deploy it with the InferenceGateway construct/);
  expect(() => gatewayFromEnvironment({ ...env, GATEWAY_CONFIG: JSON.stringify({ ...baseConfig, featureRefs: ['customer_txn_stats:last_device_type'] }) }))
    .toThrow(/GatewayConfig.featureRefs: customer_txn_stats:last_device_type are strings/);
  expect(typeof gatewayFromEnvironment(env)).toBe('function');
});
