/**
 * What one rollout evaluation observes, read from CloudWatch (the rollout controller's `observe` port,
 * runtime/core/rollout/controller.ts):
 * - the state of each of the plan's guardrail alarms (`DescribeAlarms`, metric and composite alarms);
 * - in the canary phase, the challenger's and the champion's gateway metrics over the last evaluation interval
 *   (`GetMetricData`, namespace `METRICS_NAMESPACE`, dimensions Model + Variant): requests answered (`Predictions` +
 *   `FallbackAnswers`), failed model calls (`ModelCallFailures`), fallbacks and the p99 of `ModelLatencyMs`;
 * - in the shadow phase, the challenger's shadow calls since the phase started (`ShadowMetrics`): calls made
 *   (`ShadowRequests`) and failed (`ShadowFailures`), requests compared (`SampleCount` of `ShadowDivergence`), mean
 *   divergence and the p99 of `ShadowLatencyMs`;
 * Windows end on the last complete minute (`INGESTION_LAG_MS` before the evaluation, on a whole minute: CloudWatch's
 * latest minute is still filling), and the canary's starts on the first whole minute of its step, so the previous
 * step's traffic is not counted (`metricWindow`).
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

/**
 * How long CloudWatch may take to make a minute's datapoints complete, milliseconds: every window ends this long
 * before the evaluation, on a whole minute, so that its last minute is not an undercount (which would read as missing
 * data, or too few requests, and roll back for nothing).
 */
export const INGESTION_LAG_MS = 60_000;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** A GetMetricData window: whole minutes; one period covers it all, so each query returns one datapoint. */
export interface MetricWindow {
  /** Epoch milliseconds, on a whole minute (and a whole period back from `endMs`). */
  readonly startMs: number;
  /** Epoch milliseconds, on a whole minute, `INGESTION_LAG_MS` or more before the evaluation. */
  readonly endMs: number;
  /** The query period, seconds: `endMs − startMs`. */
  readonly periodSeconds: number;
}

/**
 * CloudWatch's period for a window starting `startMs`, seen at `nowMs`: whole minutes; a multiple of 300 s when the
 * start is more than 15 days back, of 3600 s when more than 63 days back (otherwise GetMetricData returns no data).
 */
function periodFor(spanMs: number, startMs: number, nowMs: number): number {
  const age = nowMs - startMs;
  const unit = age > 63 * DAY_MS ? 3600 : age > 15 * DAY_MS ? 300 : 60;
  return Math.max(unit, Math.ceil(spanMs / 1000 / unit) * unit);
}

/**
 * The window ending on the last complete minute (now − `INGESTION_LAG_MS`, rounded down to a minute) and starting at
 * `fromMs` rounded to a minute (`'up'`: the minute the phase started in belongs partly to the previous step and is left
 * out; `'down'`: it is kept), going back at most `maxMs`, and covering at least one minute (a phase younger than its
 * first complete minute is judged on the last complete minute). The period is rounded up as CloudWatch requires for old
 * starts (`periodFor`), which moves the start back.
 */
export function metricWindow(nowMs: number, fromMs: number, round: 'up' | 'down', maxMs: number = Infinity): MetricWindow {
  const endMs = Math.floor((nowMs - INGESTION_LAG_MS) / MINUTE_MS) * MINUTE_MS;
  const from = (round === 'up' ? Math.ceil : Math.floor)(fromMs / MINUTE_MS) * MINUTE_MS;
  const earliest = endMs - Math.ceil(maxMs / MINUTE_MS) * MINUTE_MS;
  const startMs = Math.min(Math.max(from, earliest), endMs - MINUTE_MS);
  const periodSeconds = periodFor(endMs - startMs, startMs, nowMs);
  return { startMs: endMs - periodSeconds * 1000, endMs, periodSeconds };
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
    // The canary window is the last evaluation interval within the step; the shadow's is its whole phase (its criteria
    // are cumulative). Both end on the last complete minute.
    const window = state.phase === 'shadow'
      ? metricWindow(nowMs, state.phaseStartedMs, 'down')
      : metricWindow(nowMs, state.phaseStartedMs, 'up', plan.evaluation?.intervalMs ?? DEFAULT_WINDOW_MS);
    const period = window.periodSeconds;
    if (state.phase === 'shadow') {
      const dims = variant(plan.challenger);
      query('shadow_requests', ShadowMetrics.SHADOW_REQUESTS, 'Sum', dims, period);
      query('shadow_failures', ShadowMetrics.SHADOW_FAILURES, 'Sum', dims, period);
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
    const driftWindow = drift && metricWindow(nowMs, 0, 'down', drift.lookbackMs);
    const driftQuery = drift && driftWindow && {
      Id: 'drift', ReturnData: true,
      MetricStat: {
        Metric: { Namespace: METRICS_NAMESPACE, MetricName: DriftMetrics.PREDICTION_DRIFT_SCORE, Dimensions: [{ Name: MetricDimensions.MODEL, Value: drift.model }] },
        Period: driftWindow.periodSeconds, Stat: 'Maximum',
      },
    };
    // One call per window: a query's datapoints are summed over the call's whole window.
    const [alarms, values, driftValues] = await Promise.all([
      alarmStates(plan.guardrails?.alarms ?? []),
      metricData(queries, window.startMs, window.endMs),
      driftQuery && driftWindow ? metricData([driftQuery], driftWindow.startMs, driftWindow.endMs) : new Map<string, number[]>(),
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
    requests: Math.round(requests ?? 0),
    failures: Math.round(sum(values.get('shadow_failures')) ?? 0),
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
