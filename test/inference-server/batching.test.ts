/**
 * Dynamic batching, priorities, deadlines, queue limits and worker crashes, observed from outside the bundled server.
 * One worker and fault injection (`x-inference-fault: delay=<ms>` keeps the worker busy the way a slow model would)
 * make queueing deterministic: batches form behind the busy worker (the batcher is work-conserving), and the tests
 * assert order and outcomes, never durations.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InvokeEndpointCommand, SageMakerRuntimeClient, ServiceUnavailable } from '@aws-sdk/client-sagemaker-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import * as ort from 'onnxruntime-node';
import { parseJsonLines } from '../../runtime/core/prediction-log';
import { rows } from './reference';
import { Answer, call, metrics, MODELS_DIR, oipInput, ServerProcess, startServer, waitForMetrics } from './server-process';

const MODEL = path.join(MODELS_DIR, 'multi-input.onnx');
/** Longest wait for a batch to fill while a worker is free (long: a request held for it is plain to see). */
const QUEUE_DELAY_MS = 1000;
let server: ServerProcess;
let session: ort.InferenceSession;
let logDir: string;

beforeAll(async () => {
  logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batching-log-'));
  [server, session] = await Promise.all([
    startServer({
      MODEL_URI: MODEL,
      MODEL_NAME: 'm',
      INFERENCE_WORKERS: '1',
      INFERENCE_MAX_BATCH_SIZE: '4',
      INFERENCE_MAX_QUEUE_DELAY_MS: String(QUEUE_DELAY_MS),
      INFERENCE_MAX_QUEUE_SIZE: '4',
      INFERENCE_FAULT_INJECTION: 'true',
      PREDICTION_LOG_SINK: `file://${path.join(logDir, 'predictions.jsonl')}`,
      PREDICTION_LOG_SAMPLE_RATE: '1',
      PREDICTION_LOG_FLUSH_MS: '10',
    }),
    ort.InferenceSession.create(MODEL),
  ]);
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  await session.release();
  fs.rmSync(logDir, { recursive: true, force: true });
});

interface Sample {
  readonly id: string;
  readonly features: number[][];
  readonly tokens: number[][];
}

function sample(id: string, count: number, seq = 3, seed = 1): Sample {
  return {
    id,
    features: rows(count, 4, seed),
    tokens: rows(count, seq, seed + 100).map((r) => r.map((v) => Math.round(v * 10))),
  };
}

function infer(s: Sample, options: { priority?: number; timeoutMs?: number; fault?: string } = {}): Promise<Answer> {
  const parameters = { ...(options.priority ? { priority: options.priority } : {}), ...(options.timeoutMs ? { timeout_ms: options.timeoutMs } : {}) };
  return call(`${server.url}/v2/models/m/infer`, {
    body: {
      id: s.id,
      parameters,
      inputs: [
        oipInput('features', 'FP32', [s.features.length, 4], s.features),
        oipInput('tokens', 'INT64', [s.tokens.length, s.tokens[0].length], s.tokens),
      ],
    },
    headers: options.fault ? { 'x-inference-fault': options.fault } : {},
  });
}

/** The same rows run one at a time, in process: what an unbatched server answers. */
async function unbatched(s: Sample): Promise<{ scores: number[]; label: number[] }> {
  const scores: number[] = [];
  const label: number[] = [];
  for (let r = 0; r < s.features.length; r++) {
    const out = await session.run({
      features: new ort.Tensor('float32', Float32Array.from(s.features[r]), [1, 4]),
      tokens: new ort.Tensor('int64', BigInt64Array.from(s.tokens[r].map(BigInt)), [1, s.tokens[r].length]),
    });
    scores.push(...(out.scores.data as Float32Array));
    label.push(...Array.from(out.label.data as BigInt64Array, Number));
  }
  return { scores, label };
}

async function expectUnbatchedResults(s: Sample, answer: Answer): Promise<void> {
  expect(answer.status).toBe(200);
  expect(answer.json.id).toBe(s.id);
  const expected = await unbatched(s);
  const [scores, label] = answer.json.outputs;
  expect(scores.shape).toEqual([s.features.length, 3]);
  expect(label.shape).toEqual([s.features.length]);
  expect(label.data).toEqual(expected.label);
  scores.data.forEach((v: number, i: number) => expect(v).toBeCloseTo(expected.scores[i], 5));
}

async function batchStats(): Promise<{ batches: number; rows: number }> {
  const m = await metrics(server);
  return { batches: m.get('inference_batch_size_count')!, rows: m.get('inference_batch_size_sum')! };
}

/** Starts a request that keeps the single worker busy; resolves once it is computing. */
async function occupyWorker(id: string, ms: number): Promise<{ answer: Promise<Answer>; done: () => boolean }> {
  let finished = false;
  const answer = infer(sample(id, 4), { priority: 1, fault: `delay=${ms}` }).then((a) => {
    finished = true;
    return a;
  });
  await waitForMetrics(server, (m) => m.get('inference_batches_in_flight') === 1);
  return { answer, done: () => finished };
}

/** The request ids the prediction log holds now. */
async function loggedIds(): Promise<string[]> {
  return loggedIdsUntil(() => true);
}

/** The ids of `wanted` in the order the prediction log holds them, once all are there (earlier tests' lines may come late). */
async function loggedOrderOf(wanted: readonly string[]): Promise<string[]> {
  const ids = await loggedIdsUntil((logged) => wanted.every((id) => logged.includes(id)));
  return ids.filter((id) => wanted.includes(id));
}

async function loggedIdsUntil(done: (ids: string[]) => boolean): Promise<string[]> {
  const file = path.join(logDir, 'predictions.jsonl');
  for (;;) {
    const ids = fs.existsSync(file) ? parseJsonLines(fs.readFileSync(file, 'utf8')).map((r) => r.requestId) : [];
    if (done(ids)) return ids;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sends requests (priority 2) while the worker is busy; resolves with their answers once it has freed. */
async function queuedBehindBusyWorker(send: (() => Promise<Answer>)[]): Promise<Answer[]> {
  const busy = await occupyWorker('busy-batching', 500);
  const answers = send.map((s) => s());
  await waitForMetrics(server, (m) => m.get('inference_queue_depth{priority="2"}') === send.length);
  expect(busy.done()).toBe(false);
  expect((await busy.answer).status).toBe(200);
  return Promise.all(answers);
}

test('a lone request with an idle worker is computed at once, not held for the queue delay', async () => {
  // The queue delay is QUEUE_DELAY_MS: a request held for it could not be answered before a timer of that length fires.
  const s = sample('lone', 1);
  const answer = infer(s);
  const first = await Promise.race([
    answer.then(() => 'answered'),
    new Promise((resolve) => setTimeout(resolve, QUEUE_DELAY_MS)).then(() => 'queue delay passed'),
  ]);
  expect(first).toBe('answered');
  await expectUnbatchedResults(s, await answer);
});

test('requests queued behind a busy worker run together when it frees, and each gets exactly the rows an unbatched run gives', async () => {
  const samples = [sample('a', 1, 3, 1), sample('b', 2, 3, 2), sample('c', 1, 3, 3)];
  const before = await batchStats();
  const answers = await queuedBehindBusyWorker(samples.map((s) => () => infer(s)));
  for (const [i, s] of samples.entries()) await expectUnbatchedResults(s, answers[i]);
  // The busy request's batch, then one batch of the three requests.
  expect(await batchStats()).toEqual({ batches: before.batches + 2, rows: before.rows + 4 + 4 });
});

test('requests with different non-batch shapes are never mixed in a batch', async () => {
  const samples = [sample('short-1', 1, 3, 4), sample('long-1', 1, 5, 5), sample('short-2', 1, 3, 6), sample('long-2', 1, 5, 7)];
  const before = await batchStats();
  const answers = await queuedBehindBusyWorker(samples.map((s) => () => infer(s)));
  for (const [i, s] of samples.entries()) await expectUnbatchedResults(s, answers[i]);
  // The busy request's batch, then four rows of two shapes: two batches of two.
  expect(await batchStats()).toEqual({ batches: before.batches + 3, rows: before.rows + 4 + 4 });
});

test('higher priorities are served first', async () => {
  const busy = await occupyWorker('busy-priority', 1000);
  const queued: Promise<Answer>[] = [];
  for (const [id, priority] of [['low', 3], ['mid', 2], ['high', 1]] as const) {
    queued.push(infer(sample(id, 4), { priority }));
    await waitForMetrics(server, (m) => m.get(`inference_queue_depth{priority="${priority}"}`) === 1);
  }
  const answers = await Promise.all([busy.answer, ...queued]);
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  expect(await loggedOrderOf(['busy-priority', 'low', 'mid', 'high'])).toEqual(['busy-priority', 'high', 'mid', 'low']);
});

test('a deadline passing in the queue is answered right then with a timeout, and the request is never computed', async () => {
  const before = await batchStats();
  const busy = await occupyWorker('busy-deadline', 1000);
  const late = await infer(sample('late', 4), { timeoutMs: 100 });
  expect(busy.done()).toBe(false);
  expect(late.status).toBe(504);
  expect(late.json.error).toMatch(/request 'late' waited past its 100 ms deadline in the queue and was not computed/);
  expect((await busy.answer).status).toBe(200);
  expect(await batchStats()).toEqual({ batches: before.batches + 1, rows: before.rows + 4 });
  expect(await loggedIds()).not.toContain('late');
  expect((await metrics(server)).get('inference_requests_total{model="m",priority="2",outcome="timed_out"}')).toBe(1);
});

test('a full queue refuses at once (429 + Retry-After, 503 on the SageMaker paths) and sheds the lowest priority for a higher one', async () => {
  const busy = await occupyWorker('busy-queue', 1500);
  const queued = [1, 2, 3, 4].map((i) => infer(sample(`q${i}`, 4), { priority: 3 }));
  await waitForMetrics(server, (m) => m.get('inference_queue_depth{priority="3"}') === 4);

  const refused = await call(`${server.url}/v2/models/m/infer`, { body: '{}', headers: { 'x-inference-priority': '3', 'content-type': 'application/json' } });
  expect(refused.status).toBe(429);
  expect(refused.headers['retry-after']).toBe('1');
  expect(refused.json.error).toMatch(/the queue is full; retry later/);

  const container = await call(`${server.url}/invocations`, { body: { inputs: [] }, headers: { 'x-inference-priority': 'batch' } });
  expect(container.status).toBe(503);

  const sagemaker = new SageMakerRuntimeClient({
    endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, requestHandler: new NodeHttpHandler(), maxAttempts: 1,
  });
  const s = sample('sm', 4);
  const error = await sagemaker.send(new InvokeEndpointCommand({
    EndpointName: 'm',
    ContentType: 'application/json',
    CustomAttributes: 'priority=3',
    Body: Buffer.from(JSON.stringify({ inputs: [oipInput('features', 'FP32', [4, 4], s.features), oipInput('tokens', 'INT64', [4, 3], s.tokens)] })),
  })).catch((e) => e);
  expect(error).toBeInstanceOf(ServiceUnavailable);
  expect(error.$metadata.httpStatusCode).toBe(503);

  const high = infer(sample('vip', 4), { priority: 1 });
  const shed = await queued[3];
  expect(shed.status).toBe(429);
  expect(shed.json.error).toMatch(/request 'q4' was shed: the queue is full and a higher-priority request took its place/);
  expect(busy.done()).toBe(false);

  expect((await busy.answer).status).toBe(200);
  expect((await high).status).toBe(200);
  expect((await Promise.all(queued.slice(0, 3))).map((a) => a.status)).toEqual([200, 200, 200]);
  const m = await metrics(server);
  expect(m.get('inference_requests_total{model="m",priority="3",outcome="shed"}')).toBe(1);
  expect(m.get('inference_requests_total{model="m",priority="3",outcome="rejected"}')).toBe(3);
});

test('a worker that dies mid-batch fails that batch\'s requests with an error, is replaced, and serving goes on', async () => {
  const restartsBefore = (await metrics(server)).get('inference_worker_restarts_total')!;
  // Queued behind a busy worker, the two requests share the batch that crashes.
  const [crashed, sameBatch] = await queuedBehindBusyWorker([
    () => infer(sample('crash', 2), { fault: 'exit' }),
    () => infer(sample('bystander', 2)),
  ]);
  for (const answer of [crashed, sameBatch]) {
    expect(answer.status).toBe(500);
    expect(answer.json.error).toMatch(/^internal error \(request id [\w-]+\); retry the request/);
  }
  // The detail is in the server log, under the id the caller was given.
  const id = (answer: Answer) => /request id ([\w-]+)/.exec(answer.json.error)![1];
  for (const answer of [crashed, sameBatch]) {
    expect(server.lines.find((l) => l.msg === 'internal error' && l.requestId === id(answer))).toMatchObject({
      level: 'error', error: expect.stringMatching(/worker 0 exited \(code 1\) while computing this request's batch/),
    });
  }
  const after = sample('after-crash', 4);
  await expectUnbatchedResults(after, await infer(after));
  const m = await metrics(server);
  expect(m.get('inference_worker_restarts_total')).toBe(restartsBefore + 1);
  expect(m.get('inference_requests_total{model="m",priority="2",outcome="error"}')).toBe(2);
  expect((await call(`${server.url}/v2/health/ready`)).status).toBe(200);
});
