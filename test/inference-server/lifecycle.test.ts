/**
 * Start-up and shutdown of the bundled server: a model fetched from S3 (s3rver), readiness that stays false until every
 * worker has loaded and warmed up, SIGTERM draining, CUDA falling back to CPU, and refusing to start on bad settings.
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { localClientConfig, LocalService, startS3rver } from '../support/local-aws';
import { rows } from './reference';
import { call, metrics, MODELS_DIR, oipInput, startServer } from './server-process';

const FRAUD = path.join(MODELS_DIR, 'fraud-mlp.onnx');
const [ROW] = rows(1, 16);
const body = { inputs: [oipInput('features', 'FP32', [1, 16], ROW)] };

/** A proxy in front of S3 that holds GETs of one key until `release()` (so the test sees the server while loading). */
async function startGate(target: string, heldPath: string): Promise<{ url: string; release: () => void; held: Promise<void>; stop: () => Promise<void> }> {
  let release!: () => void;
  const open = new Promise<void>((resolve) => { release = resolve; });
  let markHeld!: () => void;
  const held = new Promise<void>((resolve) => { markHeld = resolve; });
  const proxy = http.createServer(async (req, res) => {
    if (req.method === 'GET' && req.url?.startsWith(heldPath)) {
      markHeld();
      await open;
    }
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    release,
    held,
    stop: () => new Promise((resolve) => proxy.close(() => resolve())),
  };
}

describe('start-up', () => {
  let s3: LocalService;

  beforeAll(async () => {
    s3 = await startS3rver();
    const client = new S3Client(localClientConfig(s3.endpoint));
    await client.send(new CreateBucketCommand({ Bucket: 'models' }));
    await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'fraud/v7/fraud.onnx', Body: fs.readFileSync(FRAUD) }));
    client.destroy();
  });

  afterAll(async () => {
    await s3.stop();
  });

  test('live at once; ready only after the model (from S3) is loaded and every worker has warmed up', async () => {
    const gate = await startGate(s3.endpoint, '/models/fraud/v7/fraud.onnx');
    const server = await startServer({
      MODEL_URI: 's3://models/fraud/v7/fraud.onnx',
      INFERENCE_WORKERS: '2',
      INFERENCE_WARMUP_RUNS: '3',
      AWS_ENDPOINT_URL_S3: gate.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    }, { waitReady: false });
    try {
      await gate.held;
      expect(await call(`${server.url}/v2/health/live`)).toMatchObject({ status: 200 });
      expect(await call(`${server.url}/v2/health/ready`)).toMatchObject({ status: 503, json: { ready: false, state: 'loading' } });
      expect((await call(`${server.url}/ping`)).status).toBe(503);
      expect((await call(`${server.url}/v2/models/fraud/ready`)).status).toBe(503);
      expect(await call(`${server.url}/v2/models/fraud`)).toMatchObject({ status: 503, json: { error: expect.stringMatching(/is loading the model/) } });
      const early = await call(`${server.url}/v2/models/fraud/infer`, { body });
      expect(early).toMatchObject({ status: 503, json: { error: 'the server is loading the model; retry on another instance or later' } });
      expect(early.headers['retry-after']).toBe('1');

      gate.release();
      await server.waitForLine((l) => l.msg === 'ready');
      expect((await call(`${server.url}/v2/health/ready`)).status).toBe(200);
      expect((await call(`${server.url}/ping`)).status).toBe(200);
      expect((await call(`${server.url}/v2/models/fraud/infer`, { body })).status).toBe(200);

      const messages = server.lines.map((l) => `${l.msg}${l.worker === undefined ? '' : ` ${l.worker}`}`);
      const ready = messages.indexOf('ready');
      for (const worker of [0, 1]) {
        expect(messages.indexOf(`worker loaded model ${worker}`)).toBeGreaterThan(messages.indexOf('model fetched'));
        expect(messages.indexOf(`worker ready ${worker}`)).toBeLessThan(ready);
      }
      expect(server.lines.find((l) => l.msg === 'worker ready')).toMatchObject({ warmupRuns: 6 });
      const m = await metrics(server);
      expect(m.get('inference_workers_ready')).toBe(2);
      expect(m.get('inference_startup_seconds')).toBeGreaterThan(0);
    } finally {
      gate.release();
      expect(await server.stop()).toBe(0);
      await gate.stop();
    }
  });

  test('CUDA requested where it is unavailable: falls back to CPU, logged and reported in metadata and metrics', async () => {
    const server = await startServer({ MODEL_URI: FRAUD, INFERENCE_EXECUTION_PROVIDER: 'cuda' });
    try {
      expect(server.lines.find((l) => l.msg === 'CUDA execution provider unavailable, running on CPU')).toMatchObject({ level: 'warn', reason: expect.any(String) });
      const metadata = await call(`${server.url}/v2/models/fraud-mlp`);
      expect(metadata.json.parameters).toMatchObject({
        execution_provider: 'cpu', requested_execution_provider: 'cuda', execution_provider_fallback_reason: expect.any(String),
      });
      expect((await metrics(server)).get('inference_execution_provider{provider="cpu",requested="cuda"}')).toBe(1);
      expect((await call(`${server.url}/v2/models/fraud-mlp/infer`, { body })).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test('a model that cannot be found: the process says where it looked and exits 1', async () => {
    const server = await startServer({ MODEL_URI: '/nonexistent/model' }, { waitReady: false });
    expect(await server.exited).toBe(1);
    expect(server.lines.find((l) => l.msg === 'cannot load the model')).toMatchObject({
      error: 'MODEL_URI /nonexistent/model does not exist; mount the model there or point MODEL_URI at a .onnx file or s3:// URI',
    });
  });

  test('invalid settings: every problem is listed and the process exits 2', async () => {
    const server = startServer({ MODEL_URI: FRAUD, INFERENCE_MAX_BATCH_SIZE: '0', INFERENCE_NON_FINITE: 'maybe', INFERENCE_DEFAULT_PRIORITY: 'urgent' });
    const error = (await server.catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/server exited \(2\) first/);
    expect(error.message).toMatch(/INFERENCE_MAX_BATCH_SIZE=0: expected an integer from 1 to 65536/);
    expect(error.message).toMatch(/INFERENCE_NON_FINITE=maybe: expected one of reject, allow/);
    expect(error.message).toMatch(/INFERENCE_DEFAULT_PRIORITY=urgent: expected a level 1..3 or one of critical, standard, batch/);
  });
});

test('SIGTERM: not ready at once, keeps serving through the grace period, finishes in-flight work, releases sessions, exits 0', async () => {
  // Two workers: one stays busy with the in-flight request, the other serves requests arriving during the grace period.
  const server = await startServer({
    MODEL_URI: FRAUD, INFERENCE_WORKERS: '2', INFERENCE_DRAIN_GRACE_MS: '300', INFERENCE_FAULT_INJECTION: 'true', INFERENCE_MAX_QUEUE_DELAY_MS: '0',
  });
  let inflightDone = false;
  const inflight = call(`${server.url}/v2/models/fraud-mlp/infer`, { body, headers: { 'x-inference-fault': 'delay=3000' } }).then((a) => {
    inflightDone = true;
    return a;
  });
  await (async () => {
    while ((await metrics(server)).get('inference_batches_in_flight') !== 1) await new Promise((r) => setTimeout(r, 10));
  })();

  server.child.kill('SIGTERM');
  await server.waitForLine((l) => l.msg === 'draining');
  expect(await call(`${server.url}/v2/health/ready`)).toMatchObject({ status: 503, json: { ready: false, state: 'draining' } });
  expect((await call(`${server.url}/ping`)).status).toBe(503);
  expect((await call(`${server.url}/v2/health/live`)).status).toBe(200);
  expect((await call(`${server.url}/v2/models/fraud-mlp/infer`, { body })).status).toBe(200);

  await server.waitForLine((l) => l.msg === 'stopped accepting requests');
  expect(inflightDone).toBe(false);
  await expect(call(`${server.url}/v2/health/live`)).rejects.toThrow();

  expect((await inflight).status).toBe(200);
  expect(await server.exited).toBe(0);
  const order = server.lines.map((l) => l.msg);
  expect(order.indexOf('sessions released')).toBeGreaterThan(order.indexOf('stopped accepting requests'));
  expect(order[order.length - 1]).toBe('stopped');
});
