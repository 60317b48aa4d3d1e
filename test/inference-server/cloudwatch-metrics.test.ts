/**
 * The server's metrics reach CloudWatch without a scraper: one EMF line on stdout per interval (1 s here), plus a
 * last one on SIGTERM, in the platform namespace with Model and Variant dimensions. Requests that succeed, get shed,
 * expire in the queue and are invalid are sent to the real server (one worker kept busy by fault injection makes the
 * queueing deterministic); the counts read back from its stdout must be the ones sent, as deltas per interval.
 */
import * as path from 'path';
import { InferenceServerMetrics as M, METRICS_NAMESPACE, MetricDimensions } from '../../runtime/core/metrics';
import type { LogLine } from '../../runtime/inference-server/launcher';
import { rows } from './reference';
import { Answer, call, metrics, MODELS_DIR, oipInput, ServerProcess, startServer, waitForMetrics } from './server-process';

const INTERVAL_S = 1;
let server: ServerProcess;
let url: string;

beforeAll(async () => {
  server = await startServer({
    MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'),
    MODEL_NAME: 'fraud',
    MODEL_VARIANT: 'blue',
    INFERENCE_WORKERS: '1',
    INFERENCE_MAX_BATCH_SIZE: '4',
    INFERENCE_MAX_QUEUE_SIZE: '3',
    INFERENCE_MAX_QUEUE_DELAY_MS: '0',
    INFERENCE_INLINE_MAX_RUN_US: '0',
    INFERENCE_FAULT_INJECTION: 'true',
    INFERENCE_METRICS_INTERVAL_S: String(INTERVAL_S),
  });
  url = `${server.url}/v2/models/fraud/infer`;
});

afterAll(async () => {
  await server.stop();
});

function infer(seed: number, options: { priority?: number; timeoutMs?: number; fault?: string } = {}): Promise<Answer> {
  return call(url, {
    body: {
      parameters: { ...(options.priority ? { priority: options.priority } : {}), ...(options.timeoutMs ? { timeout_ms: options.timeoutMs } : {}) },
      inputs: [oipInput('features', 'FP32', [1, 16], rows(1, 16, seed)[0])],
    },
    headers: options.fault ? { 'x-inference-fault': options.fault } : {},
  });
}

/** The server's per-interval metric lines so far. */
function metricLines(): LogLine[] {
  return server.lines.filter((l) => l._aws !== undefined && l[M.REQUESTS] !== undefined);
}

/** A metric summed over the given lines. */
function total(lines: LogLine[], name: string): number {
  return lines.reduce((sum, l) => sum + ((l[name] as number | undefined) ?? 0), 0);
}

/** The largest value of a metric over the given lines. */
function largest(lines: LogLine[], name: string): number {
  return Math.max(...lines.map((l) => (l[name] as number | undefined) ?? -Infinity));
}

async function waitForQueue(level: number, depth: number): Promise<void> {
  await waitForMetrics(server, (m) => m.get(`inference_queue_depth{priority="${level}"}`) === depth);
}

test('one EMF line per interval and one on SIGTERM carry the requests sent, shed and expired, as deltas', async () => {
  // Phase 1: the worker is busy; two batch-tier requests queue, a critical one fills the queue, a standard one with a
  // 100 ms deadline sheds the newest batch-tier request and then expires; one request is invalid.
  const busy = infer(1, { priority: 1, fault: 'delay=800' });
  await waitForMetrics(server, (m) => m.get('inference_batches_in_flight') === 1);
  const batch1 = infer(2, { priority: 3 });
  await waitForQueue(3, 1);
  const batch2 = infer(3, { priority: 3 });
  await waitForQueue(3, 2);
  const critical = infer(4, { priority: 1 });
  await waitForQueue(1, 1);
  const expiring = infer(5, { priority: 2, timeoutMs: 100 });
  const invalid = await call(url, { body: '{' });
  const statuses = (await Promise.all([busy, batch1, batch2, critical, expiring])).map((a) => a.status);
  expect(statuses).toEqual([200, 200, 429, 200, 504]);
  expect(invalid.status).toBe(400);

  const phase1 = { sent: 6, succeeded: 3, shed: 1, expired: 1, invalid: 1 };
  await waitFor(() => total(metricLines(), M.REQUESTS) === phase1.sent);
  const firstLines = metricLines();
  expect(total(firstLines, M.SUCCEEDED)).toBe(phase1.succeeded);
  expect(total(firstLines, M.SHED)).toBe(phase1.shed);
  expect(total(firstLines, M.DEADLINE_EXPIRED)).toBe(phase1.expired);
  expect(total(firstLines, M.INVALID)).toBe(phase1.invalid);
  expect(total(firstLines, M.REJECTED)).toBe(0);
  expect(total(firstLines, M.ERRORS)).toBe(0);
  // Arrivals saw 1, 2, 3 and 3 requests queued (the expiring one took the shed one's place).
  expect(largest(firstLines, M.QUEUE_DEPTH_MAX)).toBe(3);
  expect(largest(firstLines, M.LATENCY_MAX_MS.batch)).toBeGreaterThan(0);
  const prometheus = await metrics(server);
  expect(total(firstLines, M.BATCHES)).toBe(prometheus.get('inference_batch_size_count'));
  expect(largest(firstLines, M.BATCH_SIZE_MAX)).toBe(2); // the critical and the surviving batch-tier request

  // Phase 2: two more successes, then SIGTERM: the last line carries what the intervals had not reported yet.
  expect((await Promise.all([infer(6, { priority: 1 }), infer(7, { priority: 1 })])).map((a) => a.status)).toEqual([200, 200]);
  expect(await server.stop()).toBe(0);
  const lines = metricLines();
  expect(total(lines, M.REQUESTS)).toBe(phase1.sent + 2);
  expect(total(lines, M.SUCCEEDED)).toBe(phase1.succeeded + 2);
  expect(total(lines, M.SHED)).toBe(phase1.shed);
  expect(total(lines.slice(firstLines.length), M.SUCCEEDED)).toBe(2);
  expect(largest(lines.slice(firstLines.length), M.LATENCY_MAX_MS.critical)).toBeGreaterThan(0);
  const draining = server.lines.findIndex((l) => l.msg === 'draining');
  expect(server.lines.indexOf(lines[lines.length - 1])).toBeGreaterThan(draining);

  // One line per interval, not per request: timers never fire early, so lines before the last are an interval apart.
  const stamps = lines.map((l) => (l._aws as { Timestamp: number }).Timestamp);
  for (let i = 1; i < stamps.length - 1; i++) expect(stamps[i] - stamps[i - 1]).toBeGreaterThanOrEqual(INTERVAL_S * 1000 * 0.9);

  const names = new Set(Object.values(M).flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v))));
  for (const line of lines) {
    expect(line).toMatchObject({ [MetricDimensions.MODEL]: 'fraud', [MetricDimensions.VARIANT]: 'blue' });
    const [directive] = (line._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics;
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([[MetricDimensions.MODEL, MetricDimensions.VARIANT], [MetricDimensions.MODEL]]);
    for (const { Name } of directive.Metrics) {
      expect(names).toContain(Name);
      expect(typeof line[Name]).toBe('number');
    }
  }
});

/** Polls until `condition` holds; fails (listing the metric lines) after 20 intervals without it. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 20 * INTERVAL_S * 1000) throw new Error(`no metric lines carry the requests sent; lines: ${JSON.stringify(metricLines())}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
