/**
 * Request-time features on loopback: the predict body's `request` object, validated against the request source,
 * merged with the stored features (dynalite) in the model input's column order, scored by our inference server
 * (through the real SageMaker Runtime client) and logged with both. A gateway on request-time features only needs
 * no feature store at all.
 */
import * as path from 'path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { fraudFeatureViews, fraudModelFeatureRefs, fraudPrescreenInputs, fraudRealtimeInputs, transaction } from '../../examples/fraud-features';
import { validateRecord } from '../../lib/features/spec';
import { OnlineFeatureClient, putOnlineRow } from '../../runtime/aws/online-store';
import { SageMakerModelInvoker } from '../../runtime/aws/sagemaker-model-invoker';
import { GatewayCode } from '../../runtime/core/gateway-codes';
import { GatewayConfig, GatewayCore, GatewayPorts } from '../../runtime/core/gateway-core';
import { ModelAnswer, ModelCall, ModelInvoker } from '../../runtime/core/model-call';
import { PredictionLogRecord } from '../../runtime/core/prediction-log';
import { call, ServerProcess, startServer } from '../inference-server/server-process';
import { createOnlineTable, LocalService, localClientConfig, startDynalite } from '../support/local-aws';

const TABLE = 'features_online';
const MODELS = path.join(__dirname, '..', '..', 'examples', 'models');
const [customerView, merchantView] = fraudFeatureViews.map((v) => v.toSpec());
const embedding = Array.from({ length: 12 }, (_, i) => Math.fround(i / 10)); // float32 vectors come back as float32
const entity = { customer_id: 'c1', merchant_id: 'm1' };

/** Passes calls to the real server and keeps what each call sent, so a test can read the model input's columns. */
class RecordingInvoker implements ModelInvoker {
  public readonly calls: ModelCall[] = [];
  constructor(private readonly next: ModelInvoker) {}
  public invoke(modelCall: ModelCall): Promise<ModelAnswer> {
    this.calls.push(modelCall);
    return this.next.invoke(modelCall);
  }
}

let dynalite: LocalService;
let dynamo: DynamoDBClient;
let realtime: ServerProcess;
let prescreen: ServerProcess;

function invokerOf(server: ServerProcess, endpoint: string): RecordingInvoker {
  return new RecordingInvoker(new SageMakerModelInvoker(new SageMakerRuntimeClient({ ...localClientConfig(server.url), maxAttempts: 1 }), endpoint));
}

const realtimeConfig: GatewayConfig = {
  model: 'fraud', modelVersion: '1', views: [customerView, merchantView], requestSource: transaction.toSpec(),
  featureRefs: fraudRealtimeInputs, inputName: 'features', deadlineMs: 2000, fallbackOutputs: { probability: [0.01] }, defaultTier: 'critical',
};

function gateway(config: GatewayConfig, model: ModelInvoker, ports: Partial<GatewayPorts> = {}): { core: GatewayCore; logged: PredictionLogRecord[] } {
  const logged: PredictionLogRecord[] = [];
  const core = new GatewayCore(config, {
    model, predictionLog: { write: (record) => { logged.push(record); return true; }, close: async () => undefined }, log: () => undefined, ...ports,
  });
  return { core, logged };
}

function predict(core: GatewayCore, body: unknown) {
  return core.handle({ model: 'fraud', body: typeof body === 'string' ? body : JSON.stringify(body), requestId: `r-${Math.random()}` });
}

beforeAll(async () => {
  [dynalite, realtime, prescreen] = await Promise.all([
    startDynalite(),
    startServer({ MODEL_URI: path.join(MODELS, 'fraud-realtime.onnx'), MODEL_NAME: 'fraud', ENDPOINT_NAME: 'fraud', INFERENCE_WORKERS: '1' }),
    startServer({ MODEL_URI: path.join(MODELS, 'fraud-prescreen.onnx'), MODEL_NAME: 'fraud', ENDPOINT_NAME: 'prescreen', INFERENCE_WORKERS: '1' }),
  ]);
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await createOnlineTable(dynamo, TABLE);
  const eventTime = new Date(Date.now() - 60_000).toISOString();
  for (const [view, record] of [
    [customerView, { customer_id: 'c1', event_time: eventTime, txn_count_1h: 4, txn_amount_avg_24h: 37.5, is_new_device: true, spend_embedding: embedding }],
    [merchantView, { merchant_id: 'm1', event_time: eventTime, chargeback_rate_30d: 0.02 }],
  ] as const) {
    const { row, errors } = validateRecord(view, record);
    if (!row) throw new Error(errors.join('; '));
    await putOnlineRow(dynamo, TABLE, view, row, { ingestedAtMs: Date.now(), timeoutMs: 10_000 });
  }
});

afterAll(async () => {
  dynamo?.destroy();
  await Promise.all([dynalite?.stop(), realtime?.stop(), prescreen?.stop()]);
});

describe('request-time features', () => {
  test('merged with the stored features in the model input\'s column order; the prediction log records both', async () => {
    const model = invokerOf(realtime, 'fraud');
    const { core, logged } = gateway(realtimeConfig, model, { features: new OnlineFeatureClient({ client: dynamo, tableName: TABLE, timeoutMs: 10_000 }) });
    const response = await predict(core, { entity, request: { amount: 812.4, card_present: true, hour_of_day: 3 } });
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body);
    expect(body.fallback).toBe(false);

    // Stored columns first (as fraudModelFeatureRefs lists them), then amount and card_present (bool as 1).
    const row = [4, 37.5, 1, ...embedding, 0.02, 812.4, 1];
    expect(model.calls).toHaveLength(1);
    expect(model.calls[0].inputs.features.shape).toEqual([1, 18]);
    expect(model.calls[0].inputs.features.data).toEqual(row);
    const direct = await call(`${realtime.url}/v2/models/fraud/infer`, { body: { inputs: [{ name: 'features', shape: [1, 18], datatype: 'FP32', data: row }] } });
    expect(body.outputs.probability).toEqual(direct.json.outputs[0].data);

    expect(logged).toHaveLength(1);
    expect(logged[0].features).toMatchObject({ 'customer_txn_stats:txn_count_1h': 4, 'merchant_risk:chargeback_rate_30d': 0.02, 'transaction:amount': 812.4, 'transaction:card_present': true });
    expect(body.featureStatuses).toMatchObject({ 'transaction:amount': 'PRESENT', 'customer_txn_stats:txn_count_1h': 'PRESENT' });
  });

  test('a request feature with a fallback may be left out: served as its fallback, marked FALLBACK', async () => {
    const model = invokerOf(realtime, 'fraud');
    const { core, logged } = gateway(realtimeConfig, model, { features: new OnlineFeatureClient({ client: dynamo, tableName: TABLE, timeoutMs: 10_000 }) });
    const response = await predict(core, { entity, request: { amount: 5, hour_of_day: 12 } });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).featureStatuses['transaction:card_present']).toBe('FALLBACK');
    expect(model.calls[0].inputs.features.data.at(-1)).toBe(0);
    expect(logged[0].features!['transaction:card_present']).toBe(false);
  });

  test('invalid request-time features get a 400 naming the field, before any store read or model call', async () => {
    const model = invokerOf(realtime, 'fraud');
    let reads = 0;
    const features = new OnlineFeatureClient({ client: dynamo, tableName: TABLE, timeoutMs: 10_000 });
    const counting = { getOnlineFeatures: (request: Parameters<typeof features.getOnlineFeatures>[0]) => { reads++; return features.getOnlineFeatures(request); } };
    const { core } = gateway(realtimeConfig, model, { features: counting });
    const cases: [unknown, RegExp][] = [
      [{ entity }, /"request" must be an object with the request-time features amount, card_present, hour_of_day/],
      [{ entity, request: { hour_of_day: 3 } }, /request\.amount is required \(float64\)/],
      [{ entity, request: { amount: '12', hour_of_day: 3 } }, /request\.amount: expected a finite float64, got the string "12"/],
      // Finite as JSON, Infinity as the model's float32 input.
      [{ entity, request: { amount: 1e300, hour_of_day: 3 } }, /request\.amount: number 1e\+300 is outside the float32 range/],
      [{ entity, request: { amount: 1, hour_of_day: 1.5 } }, /request\.hour_of_day: expected an int64/],
      [{ entity, request: { amount: 1, hour_of_day: 3, card_present: 'yes' } }, /request\.card_present: expected a bool/],
      [{ entity, request: { amount: 1, hour_of_day: 3, merchant: 'x' } }, /"request" has fields other than amount, card_present, hour_of_day/],
      [{ entity, request: { amount: 1, hour_of_day: 3 }, extra: 1 }, /body has fields other than "entity", "request" and "userId"/],
      // A value nested 5,000 deep: described, never walked (a recursive check would overflow the stack: a 500).
      [`{"entity": ${JSON.stringify(entity)}, "request": {"amount": ${'['.repeat(5000)}1${']'.repeat(5000)}, "hour_of_day": 3}}`,
        /request\.amount: expected a finite float64, got an array of 1/],
    ];
    for (const [body, message] of cases) {
      const response = await predict(core, body);
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body)).toMatchObject({ code: GatewayCode.BAD_REQUEST, error: expect.stringMatching(message) });
    }
    expect(reads).toBe(0);
    expect(model.calls).toHaveLength(0);
  });

  test('a gateway on request-time features only needs no feature store and no entity', async () => {
    const model = invokerOf(prescreen, 'prescreen');
    const config: GatewayConfig = { ...realtimeConfig, views: [], featureRefs: fraudPrescreenInputs };
    const { core, logged } = gateway(config, model);
    const response = await predict(core, { request: { amount: 20, card_present: false, hour_of_day: 23 } });
    expect(response.statusCode).toBe(200);
    expect(model.calls[0].inputs.features.data).toEqual([20, 0, 23]);
    expect(logged[0].features).toEqual({ 'transaction:amount': 20, 'transaction:card_present': false, 'transaction:hour_of_day': 23 });
    // An entity is not part of this model's request.
    const withEntity = await predict(core, { entity, request: { amount: 20, hour_of_day: 23 } });
    expect(withEntity.statusCode).toBe(400);
  });

  test('a model input that names a stored feature needs a feature client, and references must resolve', () => {
    const model = invokerOf(realtime, 'fraud');
    expect(() => gateway(realtimeConfig, model)).toThrow(/GatewayPorts.features: the model reads stored features/);
    expect(() => gateway({ ...realtimeConfig, featureRefs: [...fraudModelFeatureRefs, 'transaction:nope'] }, model))
      .toThrow(/'transaction:nope': 'transaction' has no feature 'nope'/);
  });
});
