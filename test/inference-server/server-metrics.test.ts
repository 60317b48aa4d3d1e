/**
 * The Prometheus exposition keeps the names dashboards and alarms use: every family, type, label, help text and
 * bucket layout of the hand-written registry the server had before prom-client (listed below from a scrape of it),
 * plus the warm-up failure counter added since. Each server has a registry of its own.
 */
import * as path from 'path';
import { ServerMetrics } from '../../runtime/inference-server/server-metrics';
import { PROMETHEUS_CONTENT_TYPE } from '../../runtime/inference-server/prometheus';
import { rows } from './reference';
import { call, MODELS_DIR, oipInput, startServer } from './server-process';

interface Family {
  type: string;
  help: string;
  labels: string[];
  buckets?: string[];
}

const LATENCY = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];
const BATCH = ['1', '2', '4', '8', '16', '32', '64', '128', '256', '512', '+Inf'];

/** The exposition of the hand-written registry (commit 0bd7e08), after one answered and one invalid request. */
const BEFORE_PROM_CLIENT: Record<string, Family> = {
  inference_requests_total: { type: 'counter', help: 'Inference requests answered, by outcome.', labels: ['model', 'priority', 'outcome'] },
  inference_queue_depth: { type: 'gauge', help: 'Requests waiting in the queue, by priority level (1 = highest).', labels: ['priority'] },
  inference_batch_size: { type: 'histogram', help: 'Rows per batch run (by a worker, or inline on the main thread).', labels: [], buckets: BATCH },
  inference_queue_seconds: { type: 'histogram', help: 'Time requests waited in the queue.', labels: [], buckets: LATENCY },
  inference_compute_seconds: { type: 'histogram', help: 'Time spent running one batch (by a worker, or inline on the main thread).', labels: [], buckets: LATENCY },
  inference_request_duration_seconds: {
    type: 'histogram', help: 'Server time from request received to answer, by priority and outcome.', labels: ['priority', 'outcome'], buckets: LATENCY,
  },
  inference_model_load_seconds: { type: 'gauge', help: 'Longest time a worker took to create its session.', labels: [] },
  inference_startup_seconds: { type: 'gauge', help: 'Time from start (including the model download) until ready.', labels: [] },
  inference_execution_provider: { type: 'gauge', help: 'Execution provider in use (1), with the one requested.', labels: ['provider', 'requested'] },
  inference_ready: { type: 'gauge', help: '1 when the server accepts inference requests.', labels: [] },
  inference_workers_ready: { type: 'gauge', help: 'Workers with a loaded, warmed-up session.', labels: [] },
  inference_batches_in_flight: { type: 'gauge', help: 'Batches being computed.', labels: [] },
  inference_worker_restarts_total: { type: 'counter', help: 'Workers replaced after dying.', labels: [] },
  inference_inline_runs_total: { type: 'counter', help: 'Batches (lone requests of a tiny model) run on the main thread rather than a worker.', labels: [] },
  inference_prediction_log_records_total: {
    type: 'counter', help: 'Prediction log records by result: delivered, dropped (buffer full), failed.', labels: ['result'],
  },
};

/** Families of a text exposition: type and help, the label names of their series, and histogram bucket bounds. */
function families(text: string): Record<string, Family> {
  const out: Record<string, Family> = {};
  let current: Family | undefined;
  for (const line of text.split('\n').filter((l) => l !== '')) {
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help) {
      current = out[help[1]] = { type: '', help: help[2], labels: [] };
      continue;
    }
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      out[type[1]].type = type[2];
      continue;
    }
    const labels = /\{(.*)\}/.exec(line)?.[1] ?? '';
    for (const [, name, value] of labels.matchAll(/(\w+)="([^"]*)"/g)) {
      if (name === 'le') {
        current!.buckets ??= [];
        if (!current!.buckets.includes(value)) current!.buckets.push(value);
      } else if (!current!.labels.includes(name)) {
        current!.labels.push(name);
      }
    }
  }
  return out;
}

test('/metrics keeps every family, type, label, help text and bucket layout, and adds the warm-up failure counter', async () => {
  const server = await startServer({
    MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'), PREDICTION_LOG_SINK: 'stdout', PREDICTION_LOG_SAMPLE_RATE: '1',
  });
  try {
    const url = `${server.url}/v2/models/fraud-mlp/infer`;
    expect((await call(url, { body: { inputs: [oipInput('features', 'FP32', [1, 16], rows(1, 16)[0])] } })).status).toBe(200);
    expect((await call(url, { body: '{' })).status).toBe(400);
    const scrape = await call(`${server.url}/metrics`);
    expect(scrape.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(families(scrape.text)).toEqual({
      ...BEFORE_PROM_CLIENT,
      inference_warmup_failures_total: {
        type: 'counter', help: 'Worker warm-ups whose synthesized inputs the model rejected (the workers serve regardless).', labels: [],
      },
    });
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test('each server counts in a registry of its own', async () => {
  const sources = {
    queueDepths: () => [], ready: () => true, workersReady: () => 1, workerRestarts: () => 0, warmupFailures: () => 0,
    batchesInFlight: () => 0, inlineRuns: () => 0, predictionLog: () => ({}),
  };
  const [a, b] = [new ServerMetrics('a', sources), new ServerMetrics('b', sources)];
  a.answered(1, 'success', 0.01);
  a.batchSize.observe(4);
  expect(await a.render()).toMatch(/^inference_requests_total\{model="a",priority="1",outcome="success"\} 1$/m);
  expect(await a.render()).toMatch(/^inference_batch_size_count 1$/m);
  expect(await b.render()).not.toMatch(/^inference_requests_total\{/m);
  expect(await b.render()).toMatch(/^inference_batch_size_count 0$/m);
});
