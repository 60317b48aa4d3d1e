/**
 * A loopback stand-in for what CloudWatch makes of our EMF lines, for the rollout controller's `observe` port: the
 * lines a process prints (the gateway's metrics) are collected, and each observation aggregates the lines since the
 * previous one (the shadow's: since the shadow phase started), with the CloudWatch observer's definitions
 * (runtime/aws/rollout-observations.ts): per variant,
 * requests = `Predictions` + `FallbackAnswers`, errors = `ModelCallFailures`, fallbacks = `FallbackAnswers`, the p99 of
 * `ModelLatencyMs`; for the shadow, compared = the count of `ShadowDivergence` values, their mean, the p99 of
 * `ShadowLatencyMs`, requests and failures = the sums of `ShadowRequests` and `ShadowFailures`. Missing data stays absent. No alarms exist here: a plan's alarm names are reported missing.
 */
import { GatewayMetrics, MetricDimensions, ShadowMetrics } from '../core/metrics';
import type { Observation, RolloutPlan, RolloutState, ShadowObservation, VariantObservation } from '../core/rollout/types';

/** The values of one EMF line that matter here. */
interface EmfRecord {
  readonly model?: string;
  readonly variant?: string;
  readonly values: Readonly<Record<string, number>>;
}

/** p99 of values (nearest rank); undefined when there are none. */
function p99(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
}

/** Collects EMF lines and answers observations over the lines since the previous observation. */
export class EmfObservations {
  private pending: EmfRecord[] = [];
  /** The challenger's lines since the current shadow phase started, and which phase that is. */
  private shadowLines: EmfRecord[] = [];
  private shadowPhase: string | undefined;

  /** Takes one printed line; lines that are not EMF are ignored. */
  add(line: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const definitions = (parsed._aws as { CloudWatchMetrics?: Array<{ Metrics: Array<{ Name: string }> }> } | undefined)?.CloudWatchMetrics;
    if (!definitions) return;
    const values: Record<string, number> = {};
    for (const { Name } of definitions.flatMap((d) => d.Metrics)) {
      if (typeof parsed[Name] === 'number') values[Name] = parsed[Name] as number;
    }
    const dimension = (name: string) => (typeof parsed[name] === 'string' ? parsed[name] as string : undefined);
    this.pending.push({ model: dimension(MetricDimensions.MODEL), variant: dimension(MetricDimensions.VARIANT), values });
  }

  /** The controller's `observe` port: the lines since the previous call, for the plan's model. */
  readonly observe = async (plan: RolloutPlan, state: RolloutState, nowMs: number): Promise<Observation> => {
    const records = this.pending.filter((r) => r.model === plan.model);
    this.pending = [];
    const phase = state.phase === 'shadow' ? `${state.id}@${state.phaseStartedMs}` : undefined;
    if (phase !== this.shadowPhase) [this.shadowPhase, this.shadowLines] = [phase, []];
    if (phase) this.shadowLines.push(...records.filter((r) => r.variant === plan.challenger));
    const challenger = variantObservation(records.filter((r) => r.variant === plan.challenger));
    const champion = variantObservation(records.filter((r) => r.variant === plan.champion));
    const shadow = phase ? shadowObservation(this.shadowLines) : undefined;
    return { atMs: nowMs, alarms: {}, ...(challenger ? { challenger } : {}), ...(champion ? { champion } : {}), ...(shadow ? { shadow } : {}) };
  };
}

function variantObservation(records: readonly EmfRecord[]): VariantObservation | undefined {
  const sum = (name: string) => records.reduce((total, r) => total + (r.values[name] ?? 0), 0);
  const answered = records.filter((r) => GatewayMetrics.PREDICTIONS in r.values || GatewayMetrics.FALLBACKS in r.values);
  if (answered.length === 0) return undefined;
  const latency = p99(records.flatMap((r) => (GatewayMetrics.MODEL_LATENCY_MS in r.values ? [r.values[GatewayMetrics.MODEL_LATENCY_MS]] : [])));
  return {
    requests: sum(GatewayMetrics.PREDICTIONS) + sum(GatewayMetrics.FALLBACKS),
    errors: sum(GatewayMetrics.MODEL_FAILURES),
    fallbacks: sum(GatewayMetrics.FALLBACKS),
    ...(latency !== undefined ? { latencyP99Ms: latency } : {}),
  };
}

function shadowObservation(records: readonly EmfRecord[]): ShadowObservation | undefined {
  const divergences = records.flatMap((r) => (ShadowMetrics.SHADOW_DIVERGENCE in r.values ? [r.values[ShadowMetrics.SHADOW_DIVERGENCE]] : []));
  const requests = records.filter((r) => ShadowMetrics.SHADOW_REQUESTS in r.values);
  if (divergences.length === 0 && requests.length === 0) return undefined;
  const latency = p99(records.flatMap((r) => (ShadowMetrics.SHADOW_LATENCY_MS in r.values ? [r.values[ShadowMetrics.SHADOW_LATENCY_MS]] : [])));
  const sum = (name: string) => records.reduce((total, r) => total + (r.values[name] ?? 0), 0);
  return {
    compared: divergences.length,
    requests: sum(ShadowMetrics.SHADOW_REQUESTS),
    failures: sum(ShadowMetrics.SHADOW_FAILURES),
    ...(divergences.length > 0 ? { divergence: divergences.reduce((a, b) => a + b, 0) / divergences.length } : {}),
    ...(latency !== undefined ? { latencyP99Ms: latency } : {}),
  };
}
