/**
 * Feature availability as the model sees it, on loopback: the gateway reads the fraud views from a real online
 * table on dynalite (rows fresh, without a value, older than the view's TTL, or absent) and scores with our real
 * inference server; the values served by status (`FeatureServingMetrics`, dimensions Model + FeatureView) are summed
 * per view and go out as one line per view per interval (the first request's at once), or per request with an
 * interval of 0. Request-time features are not the store's and are not counted; a request refused before the read,
 * or whose read failed, counts no values.
 */
import * as path from 'path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { customerTxnStats, fraudFeatureViews, fraudRealtimeInputs, merchantRisk, transaction } from '../../examples/fraud-features';
import { FeatureViewSpec, validateRecord } from '../../lib/features/spec';
import { OnlineFeatureClient, putOnlineRow } from '../../runtime/aws/online-store';
import { HttpModelInvoker } from '../../runtime/backends/http-model-invoker';
import { GatewayCode } from '../../runtime/core/gateway-codes';
import { DEFAULT_FEATURE_METRICS_INTERVAL_MS, GatewayConfig, GatewayCore, GatewayPorts } from '../../runtime/core/gateway-core';
import { FeatureServingMetrics, GatewayMetrics, MetricDimensions } from '../../runtime/core/metrics';
import { ServerProcess, startServer } from '../inference-server/server-process';
import { MetricsLine, valueOf } from '../support/gateway-features';
import { createOnlineTable, LocalService, localClientConfig, startDynalite } from '../support/local-aws';

const TABLE = 'features_online';
const [customerView, merchantView] = fraudFeatureViews.map((v) => v.toSpec());
const CUSTOMER = customerTxnStats.name;
const MERCHANT = merchantRisk.name;
const embedding = Array.from({ length: 12 }, (_, i) => i / 10);
/** Every request-time feature sent but `card_present`, which is served as its fallback (not counted: not the store's). */
const request = { amount: 12.5, hour_of_day: 9 };

const config: GatewayConfig = {
  model: 'fraud', modelVersion: '1', views: [customerView, merchantView], requestSource: transaction.toSpec(), featureRefs: fraudRealtimeInputs,
  inputName: 'features', deadlineMs: 5000, fallbackOutputs: { probability: [0.01] }, defaultTier: 'critical',
};

let dynalite: LocalService;
let dynamo: DynamoDBClient;
let server: ServerProcess;

async function write(view: FeatureViewSpec, record: Record<string, unknown>): Promise<void> {
  const { row, errors } = validateRecord(view, record);
  if (!row) throw new Error(errors.join('; '));
  await putOnlineRow(dynamo, TABLE, view, row, { ingestedAtMs: Date.now(), timeoutMs: 10_000 });
}

beforeAll(async () => {
  [dynalite, server] = await Promise.all([
    startDynalite(),
    startServer({ MODEL_URI: path.join(__dirname, '..', '..', 'examples', 'models', 'fraud-realtime.onnx'), MODEL_NAME: 'fraud', INFERENCE_WORKERS: '1' }),
  ]);
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await createOnlineTable(dynamo, TABLE);
  const fresh = new Date(Date.now() - 60_000).toISOString();
  const stale = new Date(Date.now() - 2 * customerView.ttlSeconds * 1000).toISOString(); // beyond the customer view's TTL
  await write(customerView, { customer_id: 'c-full', event_time: fresh, txn_count_1h: 4, txn_amount_avg_24h: 37.5, is_new_device: true, spend_embedding: embedding });
  await write(customerView, { customer_id: 'c-no-embedding', event_time: fresh, txn_count_1h: 2, txn_amount_avg_24h: 10, is_new_device: false });
  await write(customerView, { customer_id: 'c-old', event_time: stale, txn_count_1h: 9, txn_amount_avg_24h: 99, is_new_device: true, spend_embedding: embedding });
  await write(merchantView, { merchant_id: 'm1', event_time: fresh, chargeback_rate_30d: 0.02 });
});

afterAll(async () => {
  dynamo?.destroy();
  await Promise.all([dynalite?.stop(), server?.stop()]);
});

/** A gateway over the loopback table (or `table`) and the server, keeping every metrics line; one line per view per request unless `ports` say otherwise. */
function gateway(table = TABLE, ports: Pick<GatewayPorts, 'featureMetricsIntervalMs' | 'now'> = { featureMetricsIntervalMs: 0 }): { core: GatewayCore; lines: MetricsLine[] } {
  const lines: MetricsLine[] = [];
  const core = new GatewayCore(config, {
    features: new OnlineFeatureClient({ client: dynamo, tableName: table, timeoutMs: 10_000, maxAttempts: 1 }),
    model: new HttpModelInvoker({ url: server.url, model: 'fraud' }),
    metrics: (dimensions, metrics) => lines.push({ dimensions, metrics }),
    log: () => undefined,
    ...ports,
  });
  return { core, lines };
}

let counter = 0;
async function predict(core: GatewayCore, body: unknown, model = 'fraud') {
  const response = await core.handle({ model, body: JSON.stringify(body), requestId: `r-${++counter}` });
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

/** Values served by status for each view, from the feature-serving lines. */
function servedByView(lines: readonly MetricsLine[]): Record<string, Record<string, number | undefined>> {
  const byView: Record<string, Record<string, number | undefined>> = {};
  for (const line of lines.filter((l) => l.dimensions[MetricDimensions.FEATURE_VIEW] !== undefined)) {
    expect(line.dimensions).toEqual({ [MetricDimensions.MODEL]: 'fraud', [MetricDimensions.FEATURE_VIEW]: expect.any(String) });
    expect(line.metrics.map((m) => m.unit)).toEqual(Object.values(FeatureServingMetrics).map(() => 'Count'));
    byView[line.dimensions[MetricDimensions.FEATURE_VIEW]] = Object.fromEntries(Object.values(FeatureServingMetrics).map((name) => [name, valueOf(line, name)]));
  }
  return byView;
}

const served = (present: number, notFound: number, outsideMaxAge: number, fallback: number) => ({
  [FeatureServingMetrics.PRESENT]: present, [FeatureServingMetrics.NOT_FOUND]: notFound,
  [FeatureServingMetrics.OUTSIDE_MAX_AGE]: outsideMaxAge, [FeatureServingMetrics.FALLBACK]: fallback,
});

test('with an interval of 0, one line per view per request counts the stored values served by status; request-time features are not counted', async () => {
  const { core, lines } = gateway();
  // [entity, what the customer view serves, what the merchant view serves, the answer]. The customer view's
  // features: txn_count_1h, txn_amount_avg_24h, is_new_device (each with a fallback), spend_embedding (none).
  const cases: [Record<string, string>, object, object, object][] = [
    [{ customer_id: 'c-full', merchant_id: 'm1' }, served(4, 0, 0, 0), served(1, 0, 0, 0), { fallback: false }],
    [{ customer_id: 'c-no-embedding', merchant_id: 'm1' }, served(3, 1, 0, 0), served(1, 0, 0, 0), { fallback: true, fallbackReason: GatewayCode.FEATURES_MISSING }],
    [{ customer_id: 'c-old', merchant_id: 'm1' }, served(0, 0, 1, 3), served(1, 0, 0, 0), { fallback: true, fallbackReason: GatewayCode.FEATURES_MISSING }],
    [{ customer_id: 'c-none', merchant_id: 'm-none' }, served(0, 1, 0, 3), served(0, 0, 0, 1), { fallback: true, fallbackReason: GatewayCode.FEATURES_MISSING }],
  ];
  for (const [entity, customer, merchant, answer] of cases) {
    const before = lines.length;
    const { status, body } = await predict(core, { entity, request });
    expect(status).toBe(200);
    expect(body).toMatchObject(answer);
    expect(body.featureStatuses['transaction:card_present']).toBe('FALLBACK');
    const emitted = lines.slice(before);
    // The request's own line and one per view read: nothing for the request source.
    expect(emitted).toHaveLength(3);
    expect(emitted.filter((l) => valueOf(l, GatewayMetrics.FEATURE_LATENCY_MS) !== undefined)).toHaveLength(1);
    expect(servedByView(emitted)).toEqual({ [CUSTOMER]: customer, [MERCHANT]: merchant });
  }
});

test('a request refused before the read, or whose read failed, counts no feature values', async () => {
  const { core, lines } = gateway();
  expect((await predict(core, { entity: { customer_id: 'c-full', merchant_id: 'm1' }, request }, 'other')).status).toBe(404);
  expect((await predict(core, { entity: { customer_id: 'c-full' }, request })).status).toBe(400);
  expect(lines).toHaveLength(2);
  expect(servedByView(lines)).toEqual({});

  // A table that does not exist: the read fails (the gateway's own FeatureLookupLatencyMs line says so), no values served.
  const broken = gateway('no_such_table');
  const { status, body } = await predict(broken.core, { entity: { customer_id: 'c-full', merchant_id: 'm1' }, request });
  expect(status).toBe(200);
  expect(body).toMatchObject({ fallback: true, fallbackReason: GatewayCode.FEATURES_UNAVAILABLE });
  expect(broken.lines).toHaveLength(1);
  expect(servedByView(broken.lines)).toEqual({});
});

test('by default the values served are summed per view and go out as one line per view per interval, written by the request that finds it elapsed', async () => {
  let clock = 1_700_000_000_000;
  const { core, lines } = gateway(TABLE, { now: () => clock }); // the default interval, on an injected clock
  const send = async (entity: Record<string, string>, at: number) => {
    clock = at;
    const before = lines.length;
    expect((await predict(core, { entity, request })).status).toBe(200);
    return lines.slice(before);
  };
  const start = clock;
  // The first request's values go out at once (a new container is seen at once)...
  expect(servedByView(await send({ customer_id: 'c-full', merchant_id: 'm1' }, start))).toEqual({ [CUSTOMER]: served(4, 0, 0, 0), [MERCHANT]: served(1, 0, 0, 0) });
  // ...then within the interval each request writes only its own line...
  for (const [entity, at] of [[{ customer_id: 'c-no-embedding', merchant_id: 'm1' }, start + 1_000], [{ customer_id: 'c-old', merchant_id: 'm1' }, start + 30_000],
    [{ customer_id: 'c-none', merchant_id: 'm-none' }, start + DEFAULT_FEATURE_METRICS_INTERVAL_MS - 1]] as const) {
    const emitted = await send(entity, at);
    expect(emitted).toHaveLength(1);
    expect(servedByView(emitted)).toEqual({});
  }
  // ...and the request that finds the interval elapsed writes one line per view with the sums since the last line
  // (its own values included): c-no-embedding + c-old + c-none + c-full.
  const due = await send({ customer_id: 'c-full', merchant_id: 'm1' }, start + DEFAULT_FEATURE_METRICS_INTERVAL_MS);
  expect(due).toHaveLength(3);
  expect(servedByView(due)).toEqual({ [CUSTOMER]: served(3 + 0 + 0 + 4, 1 + 0 + 1 + 0, 0 + 1 + 0 + 0, 0 + 3 + 3 + 0), [MERCHANT]: served(3, 0, 0, 1) });

  // A flush writes what was summed since at once (deltas: nothing twice), and nothing when nothing was.
  const written = lines.length;
  core.flushFeatureMetrics();
  expect(lines).toHaveLength(written);
  expect(servedByView(await send({ customer_id: 'c-old', merchant_id: 'm1' }, clock + 1))).toEqual({});
  const before = lines.length;
  core.flushFeatureMetrics();
  expect(servedByView(lines.slice(before))).toEqual({ [CUSTOMER]: served(0, 0, 1, 3), [MERCHANT]: served(1, 0, 0, 0) });

  // A clock that goes back does not hold the lines back until it catches up.
  expect(servedByView(await send({ customer_id: 'c-full', merchant_id: 'm1' }, start - 3_600_000))).toEqual({ [CUSTOMER]: served(4, 0, 0, 0), [MERCHANT]: served(1, 0, 0, 0) });
});

test('an interval that is not a whole number of milliseconds ≥ 0 is refused, naming the option', () => {
  for (const featureMetricsIntervalMs of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    expect(() => gateway(TABLE, { featureMetricsIntervalMs })).toThrow(/GatewayPorts\.featureMetricsIntervalMs must be a whole number of milliseconds ≥ 0 \(0: every request\)/);
  }
});
