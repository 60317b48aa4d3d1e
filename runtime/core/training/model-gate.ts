/**
 * The model gate: a challenger is registered only when it beats the champion on a declared metric by a margin AND
 * meets the serving constraints (p99 latency on the inference server, model size, cost per 1,000 predictions).
 * Without a champion (the first model) the constraints alone decide. Pure TypeScript.
 */
import { formatNumber, GateCheck, gateResult, GateResult, GateSpecError, problemsOf, shownValue } from './checks';

/** Which way a metric improves. */
export const MetricDirection = {
  /** AUC, accuracy, F1: larger is better. */
  HIGHER_IS_BETTER: 'higher-is-better',
  /** Log loss, RMSE: smaller is better. */
  LOWER_IS_BETTER: 'lower-is-better',
} as const;
export type MetricDirection = (typeof MetricDirection)[keyof typeof MetricDirection];

/** How the margin is measured. */
export const MarginKind = {
  /** In the metric's units: challenger − champion ≥ margin (higher is better). */
  ABSOLUTE: 'absolute',
  /** As a share of the champion's value: (challenger − champion) / |champion| ≥ margin. */
  RELATIVE: 'relative',
} as const;
export type MarginKind = (typeof MarginKind)[keyof typeof MarginKind];

/** The metric the challenger must win on. */
export interface MetricRule {
  /** Metric name, as the evaluation reports it (`auc`). */
  readonly name: string;
  readonly direction: MetricDirection;
  /**
   * Smallest improvement over the champion that counts (≥ 0; 0: at least as good).
   * @default 0
   */
  readonly minMargin?: number;
  /** @default MarginKind.ABSOLUTE */
  readonly marginKind?: MarginKind;
}

/** Serving constraints; each is checked only when set. */
export interface ServingConstraints {
  /**
   * Largest p99 latency on the inference server, milliseconds.
   * @default - not checked
   */
  readonly maxLatencyP99Ms?: number;
  /**
   * Largest model artifact, bytes.
   * @default - not checked
   */
  readonly maxModelBytes?: number;
  /**
   * Largest cost of 1,000 predictions, in the currency of the instance price (`costPer1000Predictions`).
   * @default - not checked
   */
  readonly maxCostPer1000?: number;
}

/** What the model gate enforces. */
export interface ModelGateSpec {
  readonly metric: MetricRule;
  /** @default - no serving constraints */
  readonly serving?: ServingConstraints;
}

/** What was measured of the challenger on the inference server. */
export interface ServingMeasurement {
  /** @default - not measured */
  readonly latencyP99Ms?: number;
  /** @default - not measured */
  readonly modelBytes?: number;
  /** Sustained predictions per second on one instance. @default - not measured */
  readonly throughputPerSecond?: number;
  /** Price of that instance per hour. @default - not known */
  readonly pricePerHour?: number;
}

/** The models compared. */
export interface ModelGateInput {
  /** The new model's evaluation metrics and serving measurements. */
  readonly challenger: { readonly metrics: Readonly<Record<string, number>>; readonly serving?: ServingMeasurement };
  /**
   * The model in production, evaluated on the same data.
   * @default - none: the first model, judged on the serving constraints alone
   */
  readonly champion?: { readonly metrics: Readonly<Record<string, number>> };
}

/**
 * Cost of 1,000 predictions on an instance: pricePerHour / (throughputPerSecond × 3600) × 1000.
 * E.g. $1.408 an hour at 200 predictions/s: 1.408 / 720,000 × 1000 = $0.00195556. Infinity when nothing is served.
 */
export function costPer1000Predictions(pricePerHour: number, throughputPerSecond: number): number {
  return throughputPerSecond > 0 ? (pricePerHour / (throughputPerSecond * 3600)) * 1000 : Infinity;
}

/** Every problem of a model gate spec (possibly untyped JSON), each naming the field and the fix. */
export function modelGateSpecProblems(spec: ModelGateSpec): string[] {
  if (spec === null || typeof spec !== 'object' || spec.metric === null || typeof spec.metric !== 'object') {
    return ['metric is required: { name, direction, minMargin?, marginKind? }'];
  }
  const m = spec.metric;
  const problems: string[] = [];
  if (typeof m.name !== 'string' || m.name.trim() === '' || m.name.length > 128) problems.push('metric.name must be the metric\'s name as the evaluation reports it (1–128 characters)');
  if (!Object.values(MetricDirection).includes(m.direction)) problems.push(`metric.direction is ${shownValue(m.direction)}; use '${MetricDirection.HIGHER_IS_BETTER}' or '${MetricDirection.LOWER_IS_BETTER}'`);
  if (m.marginKind !== undefined && !Object.values(MarginKind).includes(m.marginKind)) problems.push(`metric.marginKind is ${shownValue(m.marginKind)}; use '${MarginKind.ABSOLUTE}' or '${MarginKind.RELATIVE}'`);
  if (m.minMargin !== undefined && (typeof m.minMargin !== 'number' || !Number.isFinite(m.minMargin) || m.minMargin < 0)) {
    problems.push(`metric.minMargin is ${shownValue(m.minMargin)}; expected a finite number ≥ 0 (${m.marginKind === MarginKind.RELATIVE ? 'a share: 0.02 is 2 %' : 'in the metric\'s units'})`);
  }
  const s = spec.serving;
  if (s !== undefined && (s === null || typeof s !== 'object')) problems.push('serving must be an object of constraints');
  else if (s) {
    problems.push(...problemsOf(
      positiveProblem('serving.maxLatencyP99Ms', s.maxLatencyP99Ms, 'milliseconds'),
      positiveProblem('serving.maxModelBytes', s.maxModelBytes, 'bytes'),
      positiveProblem('serving.maxCostPer1000', s.maxCostPer1000, 'in the currency of the instance price'),
    ));
  }
  return problems;
}

/**
 * Judges a challenger: the metric check against the champion, then each serving constraint set. Throws
 * `GateSpecError` for an invalid spec; hostile measurements (NaN, Infinity, missing) fail their check with the reason.
 */
export function checkModel(input: ModelGateInput, spec: ModelGateSpec): GateResult {
  const problems = modelGateSpecProblems(spec);
  if (problems.length > 0) throw new GateSpecError('model gate spec', problems);
  const serving = input?.challenger?.serving ?? {};
  const constraints = spec.serving ?? {};
  const checks: GateCheck[] = [metricCheck(input, spec.metric)];
  if (constraints.maxLatencyP99Ms !== undefined) {
    checks.push(atMost('latency-p99', serving.latencyP99Ms, constraints.maxLatencyP99Ms, 'ms', 'p99 latency', 'the budget'));
  }
  if (constraints.maxModelBytes !== undefined) {
    checks.push(atMost('model-size', serving.modelBytes, constraints.maxModelBytes, 'bytes', 'model size', 'the maximum'));
  }
  if (constraints.maxCostPer1000 !== undefined) checks.push(costCheck(serving, constraints.maxCostPer1000));
  return gateResult(checks);
}

/** Relative tolerance of the margin comparison, so 0.3 − 0.2 (0.09999999999999998) meets a margin of 0.1. */
const TOLERANCE = 1e-9;

function metricCheck(input: ModelGateInput, rule: MetricRule): GateCheck {
  const name = rule.name;
  const margin = rule.minMargin ?? 0;
  const relative = rule.marginKind === MarginKind.RELATIVE;
  const fail = (observed: number | null, reason: string): GateCheck => ({ name: 'metric', passed: false, observed, threshold: margin, reason });
  const challenger = metricOf(input?.challenger?.metrics, name);
  if (typeof challenger === 'string') return fail(null, `the challenger's ${challenger}; the evaluation must report a finite ${name}`);
  if (input?.champion === undefined) {
    return { name: 'metric', passed: true, observed: challenger, threshold: null, reason: `no champion: the first model (${name} ${formatNumber(challenger)}) is judged on the serving constraints alone` };
  }
  const champion = metricOf(input.champion.metrics, name);
  if (typeof champion === 'string') return fail(null, `the champion's ${champion}; evaluate the champion on the same data before comparing`);
  const gain = rule.direction === MetricDirection.HIGHER_IS_BETTER ? challenger - champion : champion - challenger;
  if (relative && champion === 0) return fail(null, `the champion's ${name} is 0, so a relative margin is undefined; use an absolute margin`);
  const improvement = relative ? gain / Math.abs(champion) : gain;
  const passed = improvement >= margin - TOLERANCE * Math.max(1, Math.abs(margin));
  const unit = relative ? ` (relative to the champion's ${formatNumber(champion)})` : '';
  const compared = `challenger ${name} ${formatNumber(challenger)} vs champion ${formatNumber(champion)} (${rule.direction}): improvement ${formatNumber(improvement)}${unit}`;
  return {
    name: 'metric',
    passed,
    observed: improvement,
    threshold: margin,
    reason: passed ? `${compared} meets the margin ${formatNumber(margin)}` : `${compared} is short of the margin ${formatNumber(margin)} by ${formatNumber(margin - improvement)}`,
  };
}

/** The metric's value, or why there is none (a string). */
function metricOf(metrics: Readonly<Record<string, number>> | undefined, name: string): number | string {
  const value = metrics !== null && typeof metrics === 'object' && Object.hasOwn(metrics, name) ? metrics[name] : undefined;
  if (value === undefined) return `metric ${name} is missing`;
  if (typeof value !== 'number' || !Number.isFinite(value)) return `metric ${name} is ${shownValue(value)}`;
  return value;
}

function atMost(name: string, measured: number | undefined, limit: number, unit: string, what: string, limitName: string): GateCheck {
  if (typeof measured !== 'number' || Number.isNaN(measured) || measured < 0) {
    return { name, passed: false, observed: null, threshold: limit, reason: `${what} was not measured (got ${shownValue(measured)}); measure it before registering` };
  }
  const passed = measured <= limit;
  const verb = passed ? 'is within' : 'exceeds';
  return { name, passed, observed: measured, threshold: limit, reason: `${what} ${formatNumber(measured)} ${unit} ${verb} ${limitName} of ${formatNumber(limit)} ${unit}` };
}

function costCheck(serving: ServingMeasurement, limit: number): GateCheck {
  const { pricePerHour: price, throughputPerSecond: throughput } = serving;
  const valid = (x: number | undefined): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (!valid(price) || !valid(throughput)) {
    return {
      name: 'cost-per-1000', passed: false, observed: null, threshold: limit,
      reason: `cost per 1,000 predictions needs the instance price per hour (got ${shownValue(price)}) and the measured throughput per second (got ${shownValue(throughput)})`,
    };
  }
  const cost = costPer1000Predictions(price, throughput);
  const passed = cost <= limit;
  return {
    name: 'cost-per-1000', passed, observed: cost, threshold: limit,
    reason: `cost per 1,000 predictions ${formatNumber(cost)} (${formatNumber(price)} per hour / (${formatNumber(throughput)}/s × 3600) × 1000) ${passed ? 'is within' : 'exceeds'} the maximum of ${formatNumber(limit)}`,
  };
}

function positiveProblem(field: string, value: unknown, unit: string): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? undefined : `${field} is ${shownValue(value)}; expected a finite number > 0 (${unit}), or leave it unset`;
}
