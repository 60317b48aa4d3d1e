/**
 * The server's metrics for CloudWatch: what happened in each interval, written as ONE Embedded Metric Format line on
 * stdout per interval (`INFERENCE_METRICS_INTERVAL_S`), plus a last one when the server stops. CloudWatch Logs
 * extracts EMF from any log group, SageMaker's container logs included, so this needs no agent and no
 * `cloudwatch:PutMetricData` permission; nothing scrapes Prometheus `/metrics` on SageMaker.
 *
 * Names: `InferenceServerMetrics` (runtime/core/metrics.ts). Counts are deltas (what happened in the interval);
 * the queue depth is the largest and the mean seen by arriving requests (and at the interval's end); latency is the
 * mean and the largest server time of successful requests per priority tier — EMF values are numbers (or arrays of at
 * most 100 raw values), so percentiles over the server's own time are left to the gateway's per-request metrics.
 */
import { InferenceServerMetrics as M, MetricDatum, toEmf } from '../core/metrics';
import { tierOfLevel } from '../core/tiers';
import { PRIORITY_LEVELS } from './config';
import type { Outcome } from './errors';
import type { Logger } from './log';

/** Metric of each outcome's count. */
const OUTCOME_METRICS: Record<Outcome, string> = {
  success: M.SUCCEEDED,
  rejected: M.REJECTED,
  shed: M.SHED,
  timed_out: M.DEADLINE_EXPIRED,
  invalid: M.INVALID,
  error: M.ERRORS,
};

/** Count, sum and largest of the values seen. */
class Summary {
  count = 0;
  sum = 0;
  max = 0;

  add(value: number): void {
    this.count += 1;
    this.sum += value;
    this.max = Math.max(this.max, value);
  }

  /** The mean and the largest as two metrics; none when nothing was seen. */
  data(average: string, maximum: string, unit: MetricDatum['unit']): MetricDatum[] {
    if (this.count === 0) return [];
    return [{ name: average, value: this.sum / this.count, unit }, { name: maximum, value: this.max, unit }];
  }
}

/** What happened during one interval, recorded as it happens (cheap: a few additions per request). */
export class IntervalStats {
  private outcomes = new Map<Outcome, number>();
  private latency = Array.from({ length: PRIORITY_LEVELS }, () => new Summary());
  private batches = new Summary();
  private queue = new Summary();

  /** An answered request: its priority level, outcome and server time. */
  answered(priority: number, outcome: Outcome, seconds: number): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    if (outcome === 'success') this.latency[priority - 1]?.add(seconds * 1000);
  }

  /** A batch run, by its rows. */
  batch(rows: number): void {
    this.batches.add(rows);
  }

  /** The queue depth seen by an arriving request (or at the interval's end). */
  queueDepth(depth: number): void {
    this.queue.add(depth);
  }

  /** This interval's metrics; the stats start over. */
  take(): MetricDatum[] {
    const data: MetricDatum[] = [];
    let requests = 0;
    for (const [outcome, name] of Object.entries(OUTCOME_METRICS) as [Outcome, string][]) {
      const count = this.outcomes.get(outcome) ?? 0;
      requests += count;
      data.push({ name, value: count, unit: 'Count' });
    }
    data.push({ name: M.REQUESTS, value: requests, unit: 'Count' });
    data.push(...this.queue.data(M.QUEUE_DEPTH_AVG, M.QUEUE_DEPTH_MAX, 'Count'));
    data.push({ name: M.BATCHES, value: this.batches.count, unit: 'Count' });
    data.push(...this.batches.data(M.BATCH_SIZE_AVG, M.BATCH_SIZE_MAX, 'Count'));
    this.latency.forEach((summary, i) => {
      const tier = tierOfLevel(i + 1)!;
      data.push(...summary.data(M.LATENCY_AVG_MS[tier], M.LATENCY_MAX_MS[tier], 'Milliseconds'));
    });
    this.outcomes = new Map();
    this.latency = this.latency.map(() => new Summary());
    this.batches = new Summary();
    this.queue = new Summary();
    return data;
  }
}

/** Running totals kept elsewhere, reported as deltas per interval. */
export interface RunningTotals {
  /** Batches run inline on the main thread, since start. */
  readonly inlineRuns: number;
  /** Workers replaced after dying, since start. */
  readonly workerRestarts: number;
}

/** How the reporter writes. */
export interface CloudWatchReporterOptions {
  /** Seconds between two lines; 0: none. */
  readonly intervalS: number;
  /** Dimensions of every metric (Model, Variant). */
  readonly dimensions: Record<string, string>;
  readonly logger: Logger;
  /** Requests queued now, all priorities. */
  readonly queueDepth: () => number;
  /** Running totals now. */
  readonly totals: () => RunningTotals;
}

/** Writes one EMF line per interval from `IntervalStats` (see the module comment). */
export class CloudWatchReporter {
  private timer?: NodeJS.Timeout;
  private previous: RunningTotals = { inlineRuns: 0, workerRestarts: 0 };

  constructor(private readonly stats: IntervalStats, private readonly options: CloudWatchReporterOptions) {}

  /** Starts writing a line every interval (no-op when the interval is 0). */
  start(): void {
    if (this.options.intervalS <= 0 || this.timer) return;
    this.previous = this.options.totals();
    this.timer = setInterval(() => this.flush(), this.options.intervalS * 1000);
    this.timer.unref();
  }

  /** Stops, writing the last interval's line first (no-op when not started). */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }

  /** Writes the line of the interval that ends now. */
  private flush(): void {
    this.stats.queueDepth(this.options.queueDepth());
    const totals = this.options.totals();
    const data = [
      ...this.stats.take(),
      { name: M.INLINE_RUNS, value: totals.inlineRuns - this.previous.inlineRuns, unit: 'Count' as const },
      { name: M.WORKER_RESTARTS, value: totals.workerRestarts - this.previous.workerRestarts, unit: 'Count' as const },
    ];
    this.previous = totals;
    this.options.logger.emf(toEmf(this.options.dimensions, data, { properties: { intervalS: this.options.intervalS } }));
  }
}
