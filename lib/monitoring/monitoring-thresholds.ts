import { Duration } from 'aws-cdk-lib';

/**
 * Thresholds of one severity of `ModelMonitoring`'s alarms. Each alarm fires when its value is above the threshold;
 * every prop left out takes that severity's default (`defaultThresholds`).
 */
export interface MonitoringThresholds {
  /**
   * p99 model latency of a variant (the endpoint's `ModelLatency`, over 1 minute; 3 of 5 minutes).
   * @default - warning: half the gateway's deadline (50 ms without a gateway): the model eats half the budget of
   *   features + model; critical: the gateway's deadline (100 ms without one): past it the gateway serves fallbacks
   */
  readonly modelLatencyP99?: Duration;
  /**
   * Share of a variant's invocations answered 5xx, percent (3 of 5 minutes).
   * @default - warning 1, critical 5: the model is failing requests, not the callers
   */
  readonly serverErrorPercent?: number;
  /**
   * Share of a variant's invocations answered 4xx, percent (3 of 5 minutes).
   * @default - warning 5, critical 20: a caller or the gateway sends what the model refuses (a contract drift)
   */
  readonly clientErrorPercent?: number;
  /**
   * Share of the gateway's requests answered with the fallback, percent (3 of 5 minutes).
   * @default - warning 1, critical 5: callers get a conservative default instead of a prediction
   */
  readonly fallbackPercent?: number;
  /**
   * Share of the gateway's requests shed by admission control (429), percent (3 of 5 minutes).
   * @default - warning 1, critical 5: the model is saturated and callers are turned away
   */
  readonly shedPercent?: number;
  /**
   * Most requests queued at once in a variant's inference server (3 of 5 minutes).
   * @default - warning 128, critical 384: a quarter and three quarters of the server's default queue (512), past
   *   which it sheds the lowest priority; queue depth rises before latency does
   */
  readonly queueDepth?: number;
  /**
   * Share of a variant's server requests whose deadline expired (504), percent (3 of 5 minutes).
   * @default - warning 1, critical 5: requests wait longer than their callers allow
   */
  readonly deadlineExpiredPercent?: number;
  /**
   * Freshness lag of a view (`FreshnessLagMs`, maximum per minute), as a multiple of the view's freshness objective
   * (3 of 5 minutes).
   * @default - warning 1 (the objective is missed), critical 2 (the model reads features twice as old as promised)
   */
  readonly freshnessObjectiveMultiple?: number;
  /**
   * GPU utilisation of a variant, percent of one GPU (average over 5 minutes, 3 in a row).
   * @default - warning 85, critical 95: saturated GPUs queue requests; autoscaling should have added instances
   */
  readonly gpuUtilizationPercent?: number;
  /**
   * GPU memory utilisation of a variant, percent of one GPU's memory (average over 5 minutes, 3 in a row).
   * @default - warning 85, critical 95: close to an out-of-memory error that fails whole batches
   */
  readonly gpuMemoryPercent?: number;
  /**
   * Host memory utilisation of a variant's instances, percent (average over 5 minutes, 3 in a row).
   * @default - warning 80, critical 90: the kernel's OOM killer ends the server near 100 %
   */
  readonly memoryPercent?: number;
  /**
   * Share of the model's features that drifted in one drift check, percent (`DriftDetector`, one value per check).
   * @default - warning 30, critical 50: Evidently's dataset drift is half the columns drifted
   */
  readonly driftedFeatureSharePercent?: number;
  /**
   * How much worse the model's primary quality metric is than its baseline's, percent of the baseline's value
   * (`ModelQualityMonitor`: AUC for classification, RMSE for regression; the worst variant, one value per join).
   * @default - warning 5, critical 10
   */
  readonly qualityDropPercent?: number;
}

/** `MonitoringThresholds` with every value present. */
export type ResolvedThresholds = { readonly [K in keyof MonitoringThresholds]-?: NonNullable<MonitoringThresholds[K]> };

/** Thresholds by severity: warning alarms open a ticket, critical alarms page (and trip the guardrail). */
export interface SeverityThresholds {
  /** @default - `defaultThresholds(deadline).warning` */
  readonly warning?: MonitoringThresholds;
  /** @default - `defaultThresholds(deadline).critical` */
  readonly critical?: MonitoringThresholds;
}

/** The defaults of each severity; `deadline` is the gateway's (its absence: the gateway's default, 100 ms). */
export function defaultThresholds(deadline: Duration = Duration.millis(100)): { warning: ResolvedThresholds; critical: ResolvedThresholds } {
  const ms = deadline.toMilliseconds();
  return {
    warning: {
      modelLatencyP99: Duration.millis(Math.max(1, Math.floor(ms / 2))), serverErrorPercent: 1, clientErrorPercent: 5, fallbackPercent: 1,
      shedPercent: 1, queueDepth: 128, deadlineExpiredPercent: 1, freshnessObjectiveMultiple: 1, gpuUtilizationPercent: 85,
      gpuMemoryPercent: 85, memoryPercent: 80, driftedFeatureSharePercent: 30, qualityDropPercent: 5,
    },
    critical: {
      modelLatencyP99: deadline, serverErrorPercent: 5, clientErrorPercent: 20, fallbackPercent: 5, shedPercent: 5, queueDepth: 384,
      deadlineExpiredPercent: 5, freshnessObjectiveMultiple: 2, gpuUtilizationPercent: 95, gpuMemoryPercent: 95, memoryPercent: 90,
      driftedFeatureSharePercent: 50, qualityDropPercent: 10,
    },
  };
}

/** Each severity's thresholds: the given ones over the defaults. */
export function resolveThresholds(given: SeverityThresholds | undefined, deadline?: Duration): { warning: ResolvedThresholds; critical: ResolvedThresholds } {
  const defaults = defaultThresholds(deadline);
  return {
    warning: { ...defaults.warning, ...definedOnly(given?.warning) },
    critical: { ...defaults.critical, ...definedOnly(given?.critical) },
  };
}

/** A threshold as a plain number (a Duration in milliseconds), to compare severities. */
export function thresholdValue(value: number | Duration): number {
  return typeof value === 'number' ? value : value.toMilliseconds({ integral: false });
}

function definedOnly(thresholds: MonitoringThresholds | undefined): MonitoringThresholds {
  return Object.fromEntries(Object.entries(thresholds ?? {}).filter(([, v]) => v !== undefined));
}
