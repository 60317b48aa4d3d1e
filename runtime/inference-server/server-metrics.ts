/**
 * The server's Prometheus metrics (`GET /metrics`), in a prom-client registry of its own (several servers in one
 * process stay independent). Names, for dashboards and alarms:
 *
 * - `inference_requests_total{model,priority,outcome}` — outcome: success, rejected (refused on arrival: queue full
 *   or not ready), shed (queued, then evicted for a higher priority), timed_out, invalid, error
 * - `inference_queue_depth{priority}` — requests queued per priority level
 * - `inference_batch_size` — rows per batch run (histogram)
 * - `inference_queue_seconds`, `inference_compute_seconds`, `inference_request_duration_seconds{priority,outcome}` —
 *   time queued, model run time per batch, server time from request received to answer (histograms; the `rejected`
 *   series shows how fast "overloaded" is said)
 * - `inference_model_load_seconds`, `inference_startup_seconds` — session creation; start until ready
 * - `inference_execution_provider{provider,requested}` — 1 for the provider in use
 * - `inference_ready`, `inference_workers_ready`, `inference_worker_restarts_total`, `inference_batches_in_flight`
 * - `inference_warmup_failures_total` — worker warm-ups whose synthesized inputs the model rejected (the workers serve
 *   regardless; a warm-up sample avoids it)
 * - `inference_inline_runs_total` — batches (lone requests) run on the main thread rather than a worker (inline-runner.ts)
 * - `inference_prediction_log_records_total{result}` — result: delivered, dropped (buffer full), failed
 *
 * The same events also feed `interval` (cloudwatch-reporter.ts), which CloudWatch receives as one EMF line per
 * interval: on SageMaker nothing scrapes `/metrics`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { InferenceServerPrometheusMetrics } from '../core/metrics';
import { IntervalStats } from './cloudwatch-reporter';
import type { Outcome } from './errors';
import { scrapedCounter, scrapedGauge } from './prometheus';

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** Live values read at scrape time. */
export interface MetricSources {
  /** [priority level, queued requests] pairs. */
  readonly queueDepths: () => readonly (readonly [number, number])[];
  readonly ready: () => boolean;
  readonly workersReady: () => number;
  readonly workerRestarts: () => number;
  /** Worker warm-ups whose synthesized inputs the model rejected, since start. */
  readonly warmupFailures: () => number;
  readonly batchesInFlight: () => number;
  /** Batches run inline on the main thread, since start. */
  readonly inlineRuns: () => number;
  /** Prediction log counts by result; empty when prediction logging is off. */
  readonly predictionLog: () => Readonly<Record<string, number>>;
}

/** The series of one answered (priority, outcome) pair, bound once (no label hashing per answer). */
interface AnsweredSeries {
  readonly count: { inc(): void };
  readonly seconds: { observe(value: number): void };
}

/** The server's metrics (see the module comment). */
export class ServerMetrics {
  private readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'priority' | 'outcome'>;
  private readonly requestSeconds: Histogram<'priority' | 'outcome'>;
  /** This interval's events, for CloudWatch. */
  readonly interval = new IntervalStats();
  /** Rows per batch run. */
  readonly batchSize: { observe(rows: number): void };
  /** Seconds a request waited in the queue before its batch was dispatched. */
  readonly queueSeconds: Histogram;
  /** Seconds spent computing a batch (by a worker, or inline on the main thread). */
  readonly computeSeconds: Histogram;
  private readonly loadSeconds: Gauge;
  private readonly startupSeconds: Gauge;
  private readonly provider: Gauge<'provider' | 'requested'>;
  private readonly answeredSeries = new Map<string, AnsweredSeries>();

  constructor(private readonly model: string, sources: MetricSources) {
    const r = this.registry;
    const registers = [r];
    this.requests = new Counter({ name: 'inference_requests_total', help: 'Inference requests answered, by outcome.', labelNames: ['model', 'priority', 'outcome'], registers });
    scrapedGauge(r, {
      name: InferenceServerPrometheusMetrics.QUEUE_DEPTH, help: 'Requests waiting in the queue, by priority level (1 = highest).', labelNames: ['priority'],
      collect: () => sources.queueDepths().map(([level, depth]) => [{ priority: String(level) }, depth]),
    });
    const batchSize = new Histogram({ name: 'inference_batch_size', help: 'Rows per batch run (by a worker, or inline on the main thread).', buckets: BATCH_BUCKETS, registers });
    this.batchSize = {
      observe: (rows) => {
        batchSize.observe(rows);
        this.interval.batch(rows);
      },
    };
    this.queueSeconds = new Histogram({ name: 'inference_queue_seconds', help: 'Time requests waited in the queue.', buckets: LATENCY_BUCKETS_S, registers });
    this.computeSeconds = new Histogram({ name: 'inference_compute_seconds', help: 'Time spent running one batch (by a worker, or inline on the main thread).', buckets: LATENCY_BUCKETS_S, registers });
    this.requestSeconds = new Histogram({
      name: 'inference_request_duration_seconds', help: 'Server time from request received to answer, by priority and outcome.',
      labelNames: ['priority', 'outcome'], buckets: LATENCY_BUCKETS_S, registers,
    });
    this.loadSeconds = new Gauge({ name: 'inference_model_load_seconds', help: 'Longest time a worker took to create its session.', registers });
    this.startupSeconds = new Gauge({ name: 'inference_startup_seconds', help: 'Time from start (including the model download) until ready.', registers });
    this.provider = new Gauge({ name: 'inference_execution_provider', help: 'Execution provider in use (1), with the one requested.', labelNames: ['provider', 'requested'], registers });
    scrapedGauge(r, { name: 'inference_ready', help: '1 when the server accepts inference requests.', collect: () => [[{}, sources.ready() ? 1 : 0]] });
    scrapedGauge(r, { name: 'inference_workers_ready', help: 'Workers with a loaded, warmed-up session.', collect: () => [[{}, sources.workersReady()]] });
    scrapedGauge(r, { name: 'inference_batches_in_flight', help: 'Batches being computed.', collect: () => [[{}, sources.batchesInFlight()]] });
    scrapedCounter(r, { name: 'inference_worker_restarts_total', help: 'Workers replaced after dying.', collect: () => [[{}, sources.workerRestarts()]] });
    scrapedCounter(r, {
      name: 'inference_warmup_failures_total', help: 'Worker warm-ups whose synthesized inputs the model rejected (the workers serve regardless).',
      collect: () => [[{}, sources.warmupFailures()]],
    });
    scrapedCounter(r, { name: 'inference_inline_runs_total', help: 'Batches (lone requests of a tiny model) run on the main thread rather than a worker.', collect: () => [[{}, sources.inlineRuns()]] });
    scrapedCounter(r, {
      name: 'inference_prediction_log_records_total', help: 'Prediction log records by result: delivered, dropped (buffer full), failed.', labelNames: ['result'],
      collect: () => Object.entries(sources.predictionLog()).map(([result, n]) => [{ result }, n]),
    });
  }

  /** Counts an answered inference request and its server time. */
  answered(priority: number, outcome: Outcome, seconds: number): void {
    const key = `${priority}:${outcome}`;
    let series = this.answeredSeries.get(key);
    if (!series) {
      series = {
        count: this.requests.labels({ model: this.model, priority: String(priority), outcome }),
        seconds: this.requestSeconds.labels({ priority: String(priority), outcome }),
      };
      this.answeredSeries.set(key, series);
    }
    series.count.inc();
    series.seconds.observe(seconds);
    this.interval.answered(priority, outcome, seconds);
  }

  /** The queue depth (all priorities) an arriving request saw, for the interval's largest and mean. */
  queueDepthSeen(depth: number): void {
    this.interval.queueDepth(depth);
  }

  /** Records how the model was loaded. */
  loaded(loadSeconds: number, startupSeconds: number, provider: string, requested: string): void {
    this.loadSeconds.set(loadSeconds);
    this.startupSeconds.set(startupSeconds);
    this.provider.set({ provider, requested }, 1);
  }

  /** The text exposition (`PROMETHEUS_CONTENT_TYPE`). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
