/**
 * The embedded model backend in this process (onnxruntime-node, as in the gateway Lambda): its answers equal our
 * inference server's for the same input, its refusals are the server's (same checks, same messages), its deadline
 * and its bound hold, and through `GatewayCore` (features from dynalite) it serves, falls back on a deadline and
 * opens the breaker after failures. The server runs once, for comparison.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { createModelInvoker } from '../../runtime/backends/create-model-invoker';
import { EmbeddedModelInvoker } from '../../runtime/backends/embedded-model-invoker';
import { oipRequest } from '../../runtime/backends/oip-call';
import { EMBEDDED_VARIANT } from '../../runtime/contracts/model-backend';
import { GatewayCode } from '../../runtime/core/gateway-codes';
import { ModelCall, ModelFailureKind } from '../../runtime/core/model-call';
import { C1_M1_ROW, ENTITY, FeatureStoreOnLoopback } from '../support/gateway-features';
import { call, MODELS_DIR, ServerProcess, startServer } from '../inference-server/server-process';

const FRAUD = path.join(MODELS_DIR, 'fraud-mlp.onnx');
let server: ServerProcess;
let store: FeatureStoreOnLoopback;
let fraud: EmbeddedModelInvoker;
/** The slow model (`slowModel`) and the time of one of its runs, measured here. */
let slow: EmbeddedModelInvoker;
let slowRunMs: number;
let requests = 0;

/** A call of the fraud model's shape: `features` [1, data.length]. */
function callWith(inputs: ModelCall['inputs'], deadlineMs = 5000): ModelCall {
  return { inputs, deadlineMs, priority: 1, requestId: `r-${++requests}` };
}

/** The time one call takes, milliseconds (the machine's speed, measured in the test that relies on it). */
async function timed(invoker: EmbeddedModelInvoker, c: ModelCall): Promise<number> {
  const started = performance.now();
  await invoker.invoke(c);
  return performance.now() - started;
}

/**
 * A model of the fraud model's signature whose one row costs a lot of work but little memory: `features` [batch, 16]
 * tiled 8000 times, through a chain of 2000 Sin nodes, averaged, sigmoid → `probability` [batch, 1] (a few hundred
 * milliseconds a run here). Written to a temporary file.
 */
function slowModel(): string {
  const sines = 2000;
  const info = (name: string, dims: (number | string)[]): onnx.IValueInfoProto => ({
    name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const tiles = BigInt64Array.from([1n, 8000n]);
  const chain = Array.from({ length: sines }, (_, i) => ({ opType: 'Sin', input: [i === 0 ? 'tiled' : `sin${i - 1}`], output: [`sin${i}`] }));
  const model = onnx.ModelProto.encode({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'test/runtime/embedded-backend.test.ts',
    graph: {
      name: 'slow',
      node: [
        { opType: 'Tile', input: ['features', 'repeats'], output: ['tiled'] },
        ...chain,
        { opType: 'ReduceMean', input: [`sin${sines - 1}`], output: ['mean'], attribute: [{ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }] },
        { opType: 'Sigmoid', input: ['mean'], output: ['probability'] },
      ],
      initializer: [{ name: 'repeats', dims: [2], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(tiles.buffer) }],
      input: [info('features', ['batch', 16])],
      output: [info('probability', ['batch', 1])],
    },
  }).finish();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slow-model-')), 'slow.onnx');
  fs.writeFileSync(file, model);
  return file;
}

beforeAll(async () => {
  [server, store] = await Promise.all([
    startServer({ MODEL_URI: FRAUD, MODEL_NAME: 'fraud_mlp', INFERENCE_WORKERS: '1' }),
    FeatureStoreOnLoopback.start(),
  ]);
  fraud = new EmbeddedModelInvoker({ modelPath: FRAUD });
  slow = new EmbeddedModelInvoker({ modelPath: slowModel() });
  await Promise.all([fraud.ready(), slow.ready()]);
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await timed(slow, callWith({ features: { shape: [1, 16], data: C1_M1_ROW } })));
  slowRunMs = Math.min(...runs);
});

afterAll(async () => {
  await server?.stop();
  await store?.stop();
});

test('answers equal the inference server\'s for the same input', async () => {
  const rows = [C1_M1_ROW, Array(16).fill(0), Array.from({ length: 16 }, (_, i) => (i % 3) - 1.25), Array(16).fill(3.4e38)];
  for (const row of rows) {
    const c = callWith({ features: { shape: [1, 16], data: row } });
    const embedded = await fraud.invoke(c);
    const served = await call(`${server.url}/v2/models/fraud_mlp/infer`, { body: oipRequest(c) });
    expect(served.status).toBe(200);
    expect(embedded).toEqual({ variant: EMBEDDED_VARIANT, outputs: { probability: served.json.outputs[0].data.map(Number) } }); // NaN is "NaN" in JSON
  }
});

test('a model that rejects the synthesized warm-up (an STFT-style pad needs samples) is a warning, and serves real inputs', async () => {
  const warnings: string[] = [];
  const warn = jest.spyOn(console, 'warn').mockImplementation((line: string) => { warnings.push(line); });
  try {
    const audio = new EmbeddedModelInvoker({ modelPath: path.join(MODELS_DIR, 'audio-energy.onnx') });
    await audio.ready();
    expect(warnings.some((w) => w.includes('embedded model warm-up failed; serving anyway'))).toBe(true);
    const samples = Array.from({ length: 32 }, (_, i) => Math.sin(i));
    const answer = await audio.invoke(callWith({ audio: { shape: [1, samples.length], data: samples } }));
    expect(answer.outputs.energy).toHaveLength(1);
    expect(answer.outputs.energy[0]).toBeGreaterThan(0);
  } finally {
    warn.mockRestore();
  }
});

test('bad tensors are refused with the server\'s own messages, without running the model', async () => {
  const cases: ModelCall['inputs'][] = [
    { feature: { shape: [1, 16], data: C1_M1_ROW } },
    { features: { shape: [1, 15], data: C1_M1_ROW.slice(1) } },
    { features: { shape: [1, 16], data: C1_M1_ROW.slice(1) } },
    { features: { shape: [16], data: C1_M1_ROW } },
    { features: { shape: [1, 16], data: [NaN, ...C1_M1_ROW.slice(1)] } },
    { features: { shape: [1, 16], data: [1e39, ...C1_M1_ROW.slice(1)] } },
    { features: { shape: [1, 16], data: C1_M1_ROW }, extra: { shape: [1, 1], data: [1] } },
  ];
  const runs = fraud.runs;
  for (const inputs of cases) {
    const c = callWith(inputs);
    const served = await call(`${server.url}/v2/models/fraud_mlp/infer`, { body: oipRequest(c) });
    expect(served.status).toBe(400);
    await expect(fraud.invoke(c)).rejects.toMatchObject({ kind: ModelFailureKind.ERROR, message: `embedded model: ${served.json.error}` });
  }
  expect(fraud.runs).toBe(runs);
});

test('deadline: a call that cannot start in time fails TIMEOUT without running; one that ends after its deadline fails TIMEOUT too', async () => {
  const heavy = (deadlineMs: number) => callWith({ features: { shape: [1, 16], data: C1_M1_ROW } }, deadlineMs);
  const runs = slow.runs;
  const [first, second] = await Promise.allSettled([slow.invoke(heavy(60_000)), slow.invoke(heavy(slowRunMs / 4))]);
  expect(first).toMatchObject({ status: 'fulfilled', value: { variant: EMBEDDED_VARIANT, outputs: { probability: [expect.any(Number)] } } });
  expect(second).toMatchObject({ status: 'rejected', reason: { kind: ModelFailureKind.TIMEOUT, message: expect.stringMatching(/could not start within/) } });
  expect(slow.runs).toBe(runs + 1); // the late call never ran
  await expect(slow.invoke(heavy(slowRunMs / 4))).rejects.toMatchObject({ kind: ModelFailureKind.TIMEOUT, message: expect.stringMatching(/answered after the/) });
  expect(slow.runs).toBe(runs + 2);
});

test('more calls than maxPending at once are refused as OVERLOADED; a model that does not load fails every call as an ERROR', async () => {
  const bounded = new EmbeddedModelInvoker({ modelPath: FRAUD, maxPending: 2 });
  const settled = await Promise.allSettled([1, 2, 3, 4].map(() => bounded.invoke(callWith({ features: { shape: [1, 16], data: C1_M1_ROW } }))));
  expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
  expect(settled[3]).toMatchObject({ reason: { kind: ModelFailureKind.OVERLOADED } });

  const missing = createModelInvoker({ kind: 'embedded', modelPath: 'no-such-model.onnx' }, { baseDir: os.tmpdir() });
  await expect(missing.invoke(callWith({ features: { shape: [1, 16], data: C1_M1_ROW } })))
    .rejects.toMatchObject({ kind: ModelFailureKind.ERROR, message: expect.stringMatching(/no-such-model\.onnx failed to load/) });
});

describe('through GatewayCore, features from dynalite', () => {
  test('serves the embedded model\'s answer, as variant "embedded"', async () => {
    const gateway = store.gateway(fraud);
    const { response, body } = await gateway.predict({ entity: ENTITY });
    expect(response.statusCode).toBe(200);
    const direct = await fraud.invoke(callWith({ features: { shape: [1, 16], data: C1_M1_ROW } }));
    expect(body).toMatchObject({ fallback: false, variant: EMBEDDED_VARIANT, outputs: direct.outputs });
  });

  test('a model that refuses the gateway\'s input: logged MODEL_ERROR fallbacks, then the breaker opens', async () => {
    const gateway = store.gateway(fraud, { inputName: 'inputs', breaker: { failureThreshold: 2, openMs: 60_000 } });
    const reasons = [];
    for (let i = 0; i < 4; i++) {
      const { response, body } = await gateway.predict({ entity: ENTITY });
      expect(response.statusCode).toBe(200);
      expect(body).toMatchObject({ fallback: true, outputs: { probability: [0.01] } });
      reasons.push(body.fallbackReason);
    }
    expect(reasons).toEqual([GatewayCode.MODEL_ERROR, GatewayCode.MODEL_ERROR, GatewayCode.CIRCUIT_OPEN, GatewayCode.CIRCUIT_OPEN]);
    expect(gateway.logged[0].detail).toMatch(/unknown input "inputs"; the model's inputs are features \(FP32 \[-1,16\]\)/);
  });

  test('a model slower than the deadline: MODEL_TIMEOUT fallbacks for the top tier open the breaker', async () => {
    // A quarter of a run: well above a feature read on loopback (the model gets what is left), and below the run even
    // when the run was timed on a loaded machine that is quiet now (half a run once let a run finish in time).
    const gateway = store.gateway(slow, { deadlineMs: slowRunMs / 4, breaker: { failureThreshold: 2, openMs: 60_000 } });
    const reasons = [];
    for (let i = 0; i < 3; i++) reasons.push((await gateway.predict({ entity: ENTITY })).body.fallbackReason);
    expect(reasons).toEqual([GatewayCode.MODEL_TIMEOUT, GatewayCode.MODEL_TIMEOUT, GatewayCode.CIRCUIT_OPEN]);
  });
});
