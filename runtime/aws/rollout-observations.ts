/**
 * What one rollout evaluation observes, read from CloudWatch (the rollout controller's `observe` port,
 * runtime/core/rollout/controller.ts):
 * - the state of each of the plan's guardrail alarms (`DescribeAlarms`, metric and composite alarms);
 * - in the canary phase, the challenger's and the champion's gateway metrics over the last evaluation interval
 *   (`GetMetricData`, namespace `METRICS_NAMESPACE`, dimensions Model + Variant): requests answered (`Predictions` +
 *   `FallbackAnswers`), failed model calls (`ModelCallFailures`), fallbacks and the p99 of `ModelLatencyMs`;
 * - in the shadow phase, the challenger's shadow calls since the phase started (`ShadowMetrics`): requests compared
 *   (`SampleCount` of `ShadowDivergence`), mean divergence and the p99 of `ShadowLatencyMs`;
 * - the prediction drift the drift detector reports (`PredictionDriftScore`, its largest over a lookback), when
 *   configured.
 * Missing data stays absent, never zero: a variant without any answered request in the window has no observation, a
 * latency without datapoints no p99, an alarm CloudWatch does not return no state. (The gateway emits failures and
 * fallbacks only when they happen, so with answered requests present, absent failures or fallbacks are 0.)
 */
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand, MetricDataQuery, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { DriftMetrics, GatewayMetrics, MetricDimensions, METRICS_NAMESPACE, ShadowMetrics } from '../core/metrics';
import { timerDelayMs } from '../core/routing';
import type { AlarmStateValue, Observation, RolloutPlan, RolloutState, ShadowObservation, VariantObservation } from '../core/rollout/types';

/** Default deadline of one CloudWatch call (SDK retries included), milliseconds. */
export const DEFAULT_OBSERVATION_TIMEOUT_MS = 10_000;

/** Default evaluation window of the canary metrics when the plan gives no interval, milliseconds. */
const DEFAULT_WINDOW_MS = 60_000;

/** Options of `cloudWatchObserver`. */
export interface CloudWatchObserverProps {
  /** The CloudWatch client. */
  readonly client: CloudWatchClient;
  /**
   * Deadline of each call (SDK retries included), milliseconds.
   * @default DEFAULT_OBSERVATION_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
  /**
   * Where the challenger's prediction drift is read: the `Model` dimension the drift detector reports it under, and
   * how far back its last run may be.
   * @default - not read (the observation carries no prediction drift)
   */
  readonly predictionDrift?: { readonly model: string; readonly lookbackMs: number };
}

/** The controller's `observe` port. */
export type Observe = (plan: RolloutPlan, state: RolloutState, nowMs: number) => Promise<Observation>;

/** A CloudWatch period covering `ms`: whole minutes, at least one. */
function periodSeconds(ms: number): number {
  return Math.max(60, Math.ceil(ms / 60_000) * 60);
}

/** Builds the `observe` port over CloudWatch. */
export function cloudWatchObserver(props: CloudWatchObserverProps): Observe {
  const options = () => ({ abortSignal: AbortSignal.timeout(timerDelayMs(props.timeoutMs ?? DEFAULT_OBSERVATION_TIMEOUT_MS)) });

  async function alarmStates(names: readonly string[]): Promise<Record<string, AlarmStateValue>> {
    const states: Record<string, AlarmStateValue> = {};
    if (names.length === 0) return states;
    let nextToken: string | undefined;
    do {
      const page = await props.client.send(new DescribeAlarmsCommand({
        AlarmNames: [...names], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], MaxRecords: 100, NextToken: nextToken,
      }), options());
      for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
        if (alarm.AlarmName && alarm.StateValue) states[alarm.AlarmName] = alarm.StateValue as AlarmStateValue;
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return states;
  }

  /** Runs the queries over [start, end], every page; the values of each query by id (absent: no datapoint). */
  async function metricData(queries: MetricDataQuery[], startMs: number, endMs: number): Promise<Map<string, number[]>> {
    const values = new Map<string, number[]>();
    let nextToken: string | undefined;
    do {
      const page = await props.client.send(new GetMetricDataCommand({
        MetricDataQueries: queries, StartTime: new Date(startMs), EndTime: new Date(endMs), NextToken: nextToken, ScanBy: 'TimestampDescending',
      }), options());
      for (const result of page.MetricDataResults ?? []) collect(values, result);
      nextToken = page.NextToken;
    } while (nextToken);
    return values;
  }

  return async (plan, state, nowMs) => {
    const queries: MetricDataQuery[] = [];
    const query = (id: string, metricName: string, stat: string, dimensions: Record<string, string>, period: number) => queries.push({
      Id: id, ReturnData: true,
      MetricStat: { Metric: { Namespace: METRICS_NAMESPACE, MetricName: metricName, Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })) }, Period: period, Stat: stat },
    });
    const variant = (name: string) => ({ [MetricDimensions.MODEL]: plan.model, [MetricDimensions.VARIANT]: name });
    // The canary window is the last evaluation interval; the shadow's is its whole phase (its criteria are cumulative).
    const windowMs = state.phase === 'shadow' ? Math.max(1, nowMs - state.phaseStartedMs) : plan.evaluation?.intervalMs ?? DEFAULT_WINDOW_MS;
    const period = periodSeconds(windowMs);
    if (state.phase === 'shadow') {
      const dims = variant(plan.challenger);
      query('shadow_requests', ShadowMetrics.SHADOW_REQUESTS, 'Sum', dims, period);
      query('shadow_compared', ShadowMetrics.SHADOW_DIVERGENCE, 'SampleCount', dims, period);
      query('shadow_divergence', ShadowMetrics.SHADOW_DIVERGENCE, 'Average', dims, period);
      query('shadow_p99', ShadowMetrics.SHADOW_LATENCY_MS, 'p99', dims, period);
    } else {
      for (const [id, name] of [['challenger', plan.challenger], ['champion', plan.champion]] as const) {
        const dims = variant(name);
        query(`${id}_predictions`, GatewayMetrics.PREDICTIONS, 'Sum', dims, period);
        query(`${id}_fallbacks`, GatewayMetrics.FALLBACKS, 'Sum', dims, period);
        query(`${id}_failures`, GatewayMetrics.MODEL_FAILURES, 'Sum', dims, period);
        query(`${id}_p99`, GatewayMetrics.MODEL_LATENCY_MS, 'p99', dims, period);
      }
    }
    const drift = props.predictionDrift;
    const driftQuery = drift && {
      Id: 'drift', ReturnData: true,
      MetricStat: {
        Metric: { Namespace: METRICS_NAMESPACE, MetricName: DriftMetrics.PREDICTION_DRIFT_SCORE, Dimensions: [{ Name: MetricDimensions.MODEL, Value: drift.model }] },
        Period: periodSeconds(drift.lookbackMs), Stat: 'Maximum',
      },
    };
    // One call per window: a query's datapoints are summed over the call's whole window.
    const [alarms, values, driftValues] = await Promise.all([
      alarmStates(plan.guardrails?.alarms ?? []),
      metricData(queries, nowMs - period * 1000, nowMs),
      driftQuery ? metricData([driftQuery], nowMs - driftQuery.MetricStat.Period * 1000, nowMs) : new Map<string, number[]>(),
    ]);
    const driftScore = max(driftValues.get('drift'));
    return {
      atMs: nowMs,
      alarms,
      ...(state.phase === 'shadow'
        ? optional('shadow', shadowOf(values))
        : { ...optional('challenger', variantOf(values, 'challenger')), ...optional('champion', variantOf(values, 'champion')) }),
      ...(driftScore === undefined ? {} : { predictionDrift: driftScore }),
    };
  };
}

/** Adds a result's values to `values` (its pages may come in several). */
function collect(values: Map<string, number[]>, result: MetricDataResult): void {
  if (!result.Id || !result.Values || result.Values.length === 0) return;
  values.set(result.Id, [...(values.get(result.Id) ?? []), ...result.Values.filter(Number.isFinite)]);
}

const sum = (v: number[] | undefined) => (v && v.length > 0 ? v.reduce((a, b) => a + b, 0) : undefined);
/** The largest value: a window spanning two periods gives two p99s, and the worse one is kept. */
const max = (v: number[] | undefined) => (v && v.length > 0 ? Math.max(...v) : undefined);
const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : { [key]: value } as Record<K, V>);

/** A variant's traffic in the window; undefined when it answered nothing (no datapoint at all). */
function variantOf(values: Map<string, number[]>, id: string): VariantObservation | undefined {
  const predictions = sum(values.get(`${id}_predictions`));
  const fallbacks = sum(values.get(`${id}_fallbacks`));
  if (predictions === undefined && fallbacks === undefined) return undefined;
  const latency = max(values.get(`${id}_p99`));
  return {
    requests: Math.round((predictions ?? 0) + (fallbacks ?? 0)),
    errors: Math.round(sum(values.get(`${id}_failures`)) ?? 0),
    fallbacks: Math.round(fallbacks ?? 0),
    ...(latency === undefined ? {} : { latencyP99Ms: latency }),
  };
}

/** The shadow comparison since the phase started; undefined when no request was copied to the shadow (no datapoint). */
function shadowOf(values: Map<string, number[]>): ShadowObservation | undefined {
  const requests = sum(values.get('shadow_requests'));
  const compared = sum(values.get('shadow_compared'));
  if (requests === undefined && compared === undefined) return undefined;
  const divergence = weightedMean(values.get('shadow_divergence'), values.get('shadow_compared'));
  const latency = max(values.get('shadow_p99'));
  return {
    compared: Math.round(compared ?? 0),
    ...(divergence === undefined ? {} : { divergence }),
    ...(latency === undefined ? {} : { latencyP99Ms: latency }),
  };
}

/** The mean of per-period averages weighted by their counts (the same periods, newest first, in both). */
function weightedMean(averages: number[] | undefined, counts: number[] | undefined): number | undefined {
  if (!averages || averages.length === 0) return undefined;
  if (!counts || counts.length !== averages.length) return max(averages);
  const total = counts.reduce((a, b) => a + b, 0);
  return total > 0 ? averages.reduce((acc, a, i) => acc + a * counts[i], 0) / total : undefined;
}
