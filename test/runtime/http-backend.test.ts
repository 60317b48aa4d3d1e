/**
 * The HTTP model backend (the Kubernetes path) on loopback: `GatewayCore` with features from a real online table on
 * dynalite, calling our real inference server process through `HttpModelInvoker` on its OIP v2 route. The server
 * tells what it received: its prediction log (request id, tier from the priority, variant), its refusal of another
 * variant, its count of expired requests (the deadline). Faults are real: the server's own fault injection holds
 * its worker, a stopped server refuses connections, a full queue refuses lower priorities.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HttpModelInvoker } from '../../runtime/backends/http-model-invoker';
import { createModelInvoker } from '../../runtime/backends/create-model-invoker';
import { GatewayCode } from '../../runtime/core/gateway-codes';
import { GatewayMetrics } from '../../runtime/core/metrics';
import { ModelCallError, ModelFailureKind } from '../../runtime/core/model-call';
import { parseJsonLines, PredictionLogRecord } from '../../runtime/core/prediction-log';
import { C1_M1_ROW, ENTITY, FeatureStoreOnLoopback, valueOf } from '../support/gateway-features';
import { call, metrics as serverMetrics, MODELS_DIR, ServerProcess, startServer, waitForMetrics } from '../inference-server/server-process';

const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'http-backend-')), 'predictions.jsonl');
let store: FeatureStoreOnLoopback;
let server: ServerProcess;

/** The fraud model served as `fraud_mlp`, variant `champion`: one worker, no batching, a queue of 8, faults on request. */
function serve(env: Record<string, string> = {}): Promise<ServerProcess> {
  return startServer({
    MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'), MODEL_NAME: 'fraud_mlp', MODEL_VARIANT: 'champion', INFERENCE_WORKERS: '1',
    INFERENCE_MAX_BATCH_SIZE: '1', INFERENCE_MAX_QUEUE_SIZE: '8', INFERENCE_FAULT_INJECTION: 'true', ...env,
  });
}

function invoker(target: ServerProcess, fault?: string): HttpModelInvoker {
  return new HttpModelInvoker({ url: target.url, model: 'fraud_mlp', headers: fault ? { 'x-inference-fault': fault } : undefined });
}

/** The server's prediction-log record of a request, once flushed. */
async function serverLogged(requestId: string): Promise<PredictionLogRecord> {
  for (;;) {
    const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    const record = parseJsonLines(text).find((r) => r.requestId === requestId);
    if (record) return record;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(async () => {
  [store, server] = await Promise.all([
    FeatureStoreOnLoopback.start(),
    serve({ PREDICTION_LOG_SINK: `file://${logFile}`, PREDICTION_LOG_SAMPLE_RATE: '1', PREDICTION_LOG_FLUSH_MS: '10' }),
  ]);
});

afterAll(async () => {
  await server?.stop();
  await store?.stop();
});

test('scores an entity through the HTTP backend: the server receives the request id, the priority and the variant', async () => {
  const gateway = store.gateway(invoker(server), { variants: [{ name: 'champion', weight: 1 }] });
  const { response, body } = await gateway.predict({ entity: ENTITY, userId: 'u-1' }, 'standard');
  expect(response.statusCode).toBe(200);
  const direct = await call(`${server.url}/v2/models/fraud_mlp/infer`, { body: { inputs: [{ name: 'features', shape: [1, 16], datatype: 'FP32', data: C1_M1_ROW }] } });
  // The variant comes back from the server (x-inference-variant), the outputs are the server's for the same row.
  expect(body).toMatchObject({ fallback: false, variant: 'champion', tier: 'standard', outputs: { probability: direct.json.outputs[0].data } });
  expect(direct.headers['x-inference-variant']).toBe('champion');
  // The server logged the gateway's request id, the standard tier's priority (2) and its variant.
  expect(await serverLogged(body.requestId)).toMatchObject({ model: 'fraud_mlp', variant: 'champion', tier: 'standard', outputs: { probability: [direct.json.outputs[0].data] } });
});

test('a call for a variant the server does not serve is refused by the server: a logged MODEL_ERROR, never answered by the wrong variant', async () => {
  const gateway = store.gateway(invoker(server), { variants: [{ name: 'challenger', weight: 1 }] });
  const { response, body } = await gateway.predict({ entity: ENTITY, userId: 'u-1' });
  expect(response.statusCode).toBe(200);
  expect(body).toMatchObject({ fallback: true, fallbackReason: GatewayCode.MODEL_ERROR, outputs: { probability: [0.01] } });
  expect(gateway.logged).toEqual([expect.objectContaining({ code: GatewayCode.MODEL_ERROR, detail: expect.stringMatching(/answered 404: .*variant "challenger" is not served here/) })]);
});

test('the server receives the deadline: a call queued behind a held worker expires at the server, and the gateway answers the marked fallback', async () => {
  const expired = async () => [...(await serverMetrics(server)).entries()]
    .filter(([series]) => series.startsWith('inference_requests_total{') && series.includes('outcome="timed_out"')).reduce((n, [, v]) => n + v, 0);
  const before = await expired();
  const holding = invoker(server, 'delay=400').invoke({ inputs: { features: { shape: [1, 16], data: C1_M1_ROW } }, deadlineMs: 5000, priority: 1, requestId: 'hold-1' });
  await waitForMetrics(server, (m) => (m.get('inference_batches_in_flight') ?? 0) > 0);
  const queued = invoker(server).invoke({ inputs: { features: { shape: [1, 16], data: C1_M1_ROW } }, deadlineMs: 100, priority: 1, requestId: 'late-1' });
  await expect(queued).rejects.toMatchObject({ kind: ModelFailureKind.TIMEOUT });
  await holding;
  // Told nothing, the server would have computed it after the held run (its default deadline is 5 s).
  expect(await expired()).toBeGreaterThan(before);

  const gateway = store.gateway(invoker(server, 'delay=500'), { deadlineMs: 300 });
  const { response, body } = await gateway.predict({ entity: ENTITY });
  expect(response.statusCode).toBe(200);
  expect(body).toMatchObject({ fallback: true, fallbackReason: GatewayCode.MODEL_TIMEOUT, outputs: { probability: [0.01] } });
});

test('server stopped: failures open the breaker, then fallback answers come without calling the model; the cause is logged, never returned', async () => {
  const doomed = await serve();
  const gateway = store.gateway(invoker(doomed), { breaker: { failureThreshold: 3, openMs: 60_000 } });
  expect((await gateway.predict({ entity: ENTITY })).body.fallback).toBe(false);
  await doomed.stop();
  const reasons: string[] = [];
  for (let i = 0; i < 6; i++) {
    const { response, body } = await gateway.predict({ entity: ENTITY });
    expect(response.statusCode).toBe(200);
    expect(body).toMatchObject({ fallback: true, outputs: { probability: [0.01] } });
    expect(response.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|http:|fetch/i);
    reasons.push(body.fallbackReason);
  }
  expect(reasons).toEqual([...Array(3).fill(GatewayCode.MODEL_ERROR), ...Array(3).fill(GatewayCode.CIRCUIT_OPEN)]);
  expect(gateway.logged.filter((e) => e.code === GatewayCode.MODEL_ERROR)).toEqual(Array(3).fill(expect.objectContaining({ detail: expect.stringMatching(/ECONNREFUSED/) })));
  expect(gateway.metrics.filter((line) => valueOf(line, GatewayMetrics.MODEL_FAILURES) !== undefined)).toHaveLength(3);
});

test('overload: the server refuses the lowest priorities first (429 relayed to unprotected tiers), then the gateway sheds them itself', async () => {
  // Each run held 50 ms by the server's fault injection: capacity ~20/s whatever the machine's speed; a queue of 8.
  const gateway = store.gateway(invoker(server, 'delay=50'), { deadlineMs: 5000 });
  const burst = await Promise.all([...Array(8).fill('critical'), ...Array(30).fill('batch')]
    .map((tier: string) => gateway.predict({ entity: ENTITY }, tier).then((answer) => ({ tier, ...answer }))));
  const critical = burst.filter((a) => a.tier === 'critical');
  expect(critical.map((a) => [a.response.statusCode, a.body.fallback])).toEqual(Array(8).fill([200, false]));
  const refused = burst.filter((a) => a.response.statusCode === 429);
  expect(refused.length).toBeGreaterThan(0);
  for (const a of refused) {
    expect(a).toMatchObject({ tier: 'batch', body: { code: GatewayCode.MODEL_OVERLOADED, tier: 'batch' } });
    expect(a.response.headers['retry-after']).toBe('1');
  }
  // The gateway learnt from those refusals: batch callers right after are shed before any feature read or model call.
  const linesBefore = gateway.metrics.length;
  const followUp = [];
  for (let i = 0; i < 5; i++) followUp.push(await gateway.predict({ entity: ENTITY }, 'batch'));
  const shed = followUp.filter((a) => a.body.code === GatewayCode.SHED);
  expect(shed.length).toBeGreaterThan(0);
  for (const line of gateway.metrics.slice(linesBefore).filter((l) => valueOf(l, GatewayMetrics.SHED) === 1)) {
    expect(valueOf(line, GatewayMetrics.FEATURE_LATENCY_MS)).toBeUndefined();
    expect(valueOf(line, GatewayMetrics.MODEL_LATENCY_MS)).toBeUndefined();
  }
});

test('a refused call is an error naming the server\'s answer; the factory builds the invoker from the backend configuration', async () => {
  const noSuchModel = new HttpModelInvoker({ url: `${server.url}/`, model: 'other' });
  const error = await noSuchModel.invoke({ inputs: { features: { shape: [1, 16], data: C1_M1_ROW } }, deadlineMs: 2000, priority: 2, requestId: 'r-404' }).catch((e) => e);
  expect(error).toBeInstanceOf(ModelCallError);
  expect(error).toMatchObject({ kind: ModelFailureKind.ERROR, message: expect.stringMatching(/answered 404: .*unknown model 'other'/) });
  // The factory builds the same invoker from the backend configuration, the gateway's model name filling the route.
  const built = createModelInvoker({ kind: 'http', url: server.url }, { modelName: 'fraud_mlp' });
  const answer = await built.invoke({ inputs: { features: { shape: [1, 16], data: C1_M1_ROW } }, deadlineMs: 2000, priority: 2, requestId: 'r-factory' });
  expect(answer).toMatchObject({ variant: 'champion', outputs: { probability: [expect.any(Number)] } });
  expect(() => createModelInvoker({ kind: 'http', url: 'ftp://x' })).toThrow(/url must start with http:\/\/ or https:\/\/[\s\S]*model must be set/);
});
