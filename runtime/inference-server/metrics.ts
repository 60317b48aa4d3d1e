/**
 * The server's Prometheus metrics (`GET /metrics`). Names, for dashboards and alarms:
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
 * - `inference_prediction_log_records_total{result}` — result: delivered, dropped (buffer full), failed
 */
import type { Outcome } from './errors';
import { Collector, Counter, Gauge, Histogram, Registry } from './prometheus';

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** Live values read at scrape time. */
export interface MetricSources {
  /** [priority level, queued requests] pairs. */
  readonly queueDepths: () => readonly (readonly [number, number])[];
  readonly ready: () => boolean;
  readonly workersReady: () => number;
  readonly workerRestarts: () => number;
  readonly batchesInFlight: () => number;
  /** Prediction log counts by result; empty when prediction logging is off. */
  readonly predictionLog: () => Readonly<Record<string, number>>;
}

/** The server's metrics (see the module comment). */
export class ServerMetrics {
  private readonly registry = new Registry();
  private readonly requests: Counter;
  private readonly requestSeconds: Histogram;
  /** Rows per batch run. */
  readonly batchSize: Histogram;
  /** Seconds a request waited in the queue before its batch was dispatched. */
  readonly queueSeconds: Histogram;
  /** Seconds a worker spent computing a batch. */
  readonly computeSeconds: Histogram;
  private readonly loadSeconds: Gauge;
  private readonly startupSeconds: Gauge;
  private readonly provider: Gauge;
  private readonly answeredSeries = new Map<string, { count: { inc(): void }; seconds: { observe(value: number): void } }>();

  constructor(private readonly model: string, sources: MetricSources) {
    const r = this.registry;
    this.requests = r.register(new Counter('inference_requests_total', 'Inference requests answered, by outcome.'));
    r.register(new Gauge('inference_queue_depth', 'Requests waiting in the queue, by priority level (1 = highest).',
      () => sources.queueDepths().map(([level, depth]) => [{ priority: String(level) }, depth])));
    this.batchSize = r.register(new Histogram('inference_batch_size', 'Rows per batch run by a worker.', BATCH_BUCKETS).touch());
    this.queueSeconds = r.register(new Histogram('inference_queue_seconds', 'Time requests waited in the queue.', LATENCY_BUCKETS_S).touch());
    this.computeSeconds = r.register(new Histogram('inference_compute_seconds', 'Time a worker spent running one batch.', LATENCY_BUCKETS_S).touch());
    this.requestSeconds = r.register(new Histogram('inference_request_duration_seconds', 'Server time from request received to answer, by priority and outcome.', LATENCY_BUCKETS_S));
    this.loadSeconds = r.register(new Gauge('inference_model_load_seconds', 'Longest time a worker took to create its session.'));
    this.startupSeconds = r.register(new Gauge('inference_startup_seconds', 'Time from start (including the model download) until ready.'));
    this.provider = r.register(new Gauge('inference_execution_provider', 'Execution provider in use (1), with the one requested.'));
    r.register(new Gauge('inference_ready', '1 when the server accepts inference requests.', () => [[{}, sources.ready() ? 1 : 0]]));
    r.register(new Gauge('inference_workers_ready', 'Workers with a loaded, warmed-up session.', () => [[{}, sources.workersReady()]]));
    r.register(new Gauge('inference_batches_in_flight', 'Batches being computed.', () => [[{}, sources.batchesInFlight()]]));
    r.register(new Counter('inference_worker_restarts_total', 'Workers replaced after dying.', () => [[{}, sources.workerRestarts()]]));
    const logCollector: Collector = () => Object.entries(sources.predictionLog()).map(([result, n]) => [{ result }, n]);
    r.register(new Counter('inference_prediction_log_records_total', 'Prediction log records by result: delivered, dropped (buffer full), failed.', logCollector));
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
  }

  /** Records how the model was loaded. */
  loaded(loadSeconds: number, startupSeconds: number, provider: string, requested: string): void {
    this.loadSeconds.set({}, loadSeconds);
    this.startupSeconds.set({}, startupSeconds);
    this.provider.set({ provider, requested }, 1);
  }

  /** The text exposition. */
  render(): string {
    return this.registry.render();
  }
}
