/**
 * The decision of an A/B experiment at one look, from the always-valid p-values of its metrics, its guardrails, its
 * age and its sample. Pure: the caller carries the sequential states (sequential.ts) from look to look.
 */
import { requireFinite, requireNonNegative, requireProbability } from './checks';
import { benjaminiHochberg } from './multiple-testing';
import { GuardrailState } from './sequential';

/** A full week: the default minimum duration, so that every weekday's users are in the sample. */
export const ONE_WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/** A metric tested for a difference, with its always-valid p-value at this look. */
export interface MetricResult {
  readonly name: string;
  /** Always-valid p-value (`SequentialState.pValue`). */
  readonly pValue: number;
}

/** The primary metric: the one that decides ship or revert. */
export interface PrimaryMetricResult extends MetricResult {
  /** The estimated difference treatment − control; its sign (with `higherIsBetter`) decides ship or revert. */
  readonly difference: number;
  /**
   * Direction of improvement.
   * @default true
   */
  readonly higherIsBetter?: boolean;
}

/** Everything `decideExperiment` looks at. */
export interface ExperimentSnapshot {
  /** Start of the experiment, epoch milliseconds. */
  readonly startedAtMs: number;
  /** Time of this look, epoch milliseconds. */
  readonly nowMs: number;
  /**
   * No decision before this much time has passed (weekly seasonality, novelty effects).
   * @default ONE_WEEK_MS (7 days)
   */
  readonly minimumDurationMs?: number;
  /** Users required per arm (`sampleSizeForProportions` / `sampleSizeForMeans`); no decision before every arm has them. */
  readonly requiredSamplesPerArm: number;
  /** Users observed in each arm so far. */
  readonly samplesPerArm: readonly number[];
  /** The primary metric. */
  readonly primary: PrimaryMetricResult;
  /**
   * Further metrics tested alongside the primary one; they share the Benjamini–Hochberg correction with it.
   * @default []
   */
  readonly secondary?: readonly MetricResult[];
  /**
   * The guardrails' states (`checkGuardrail`).
   * @default []
   */
  readonly guardrails?: readonly GuardrailState[];
  /**
   * False discovery rate q of the Benjamini–Hochberg correction across primary and secondary metrics.
   * @default 0.05
   */
  readonly falseDiscoveryRate?: number;
  /**
   * Stop on a degraded guardrail even before the minimum duration and sample (the guardrail tests are always valid,
   * so an early stop for harm keeps its error rate); when false a guardrail is only acted on once both are reached.
   * @default false
   */
  readonly stopEarlyOnGuardrail?: boolean;
}

/** What to do with the experiment. */
export type ExperimentAction = 'continue' | 'stop-guardrail' | 'ship' | 'revert';

/** A decision and why. */
export interface ExperimentDecision {
  readonly action: ExperimentAction;
  /** A human-readable reason. */
  readonly reason: string;
  /** BH-adjusted p-values of the primary and secondary metrics by name (empty when the decision came before the test). */
  readonly adjustedPValues: Readonly<Record<string, number>>;
  /** Names of the degraded guardrails. */
  readonly degradedGuardrails: readonly string[];
}

/**
 * Decides at one look, in this order: before the minimum duration or before every arm has the required sample →
 * 'continue' (unless `stopEarlyOnGuardrail` and a guardrail degraded); a guardrail degraded → 'stop-guardrail'; the
 * primary metric rejected by Benjamini–Hochberg at q across primary and secondary metrics → 'ship' when it moved in
 * its better direction, 'revert' otherwise; else 'continue'.
 */
export function decideExperiment(snapshot: ExperimentSnapshot): ExperimentDecision {
  const where = 'decideExperiment';
  const minimumDurationMs = snapshot.minimumDurationMs ?? ONE_WEEK_MS;
  requireNonNegative(where, 'minimumDurationMs', minimumDurationMs);
  requireNonNegative(where, 'requiredSamplesPerArm', snapshot.requiredSamplesPerArm);
  const q = snapshot.falseDiscoveryRate ?? 0.05;
  requireProbability(where, 'falseDiscoveryRate', q);
  requireFinite(where, 'startedAtMs', snapshot.startedAtMs);
  requireFinite(where, 'nowMs', snapshot.nowMs);
  if (snapshot.samplesPerArm.length < 2) throw new RangeError(`${where}: samplesPerArm needs a count per arm (at least 2 arms, got ${snapshot.samplesPerArm.length})`);
  snapshot.samplesPerArm.forEach((n, i) => requireNonNegative(where, `samplesPerArm[${i}]`, n));
  requireFinite(where, 'primary.difference', snapshot.primary.difference);
  const metrics = [snapshot.primary, ...(snapshot.secondary ?? [])];
  if (new Set(metrics.map((m) => m.name)).size !== metrics.length) {
    throw new RangeError(`${where}: metric names must be unique across primary and secondary; rename the duplicates`);
  }
  for (const m of metrics) {
    if (!(m.pValue >= 0 && m.pValue <= 1)) throw new RangeError(`${where}: ${m.name}.pValue must be between 0 and 1 (got ${m.pValue})`);
  }

  const degradedGuardrails = (snapshot.guardrails ?? []).filter((g) => g.degraded).map((g) => g.name);
  const decision = (action: ExperimentAction, reason: string, adjustedPValues: Record<string, number> = {}): ExperimentDecision =>
    ({ action, reason, adjustedPValues, degradedGuardrails });
  const stopForGuardrails = () => decision('stop-guardrail', `guardrail degraded beyond its tolerance: ${degradedGuardrails.join(', ')}`);

  const elapsedMs = snapshot.nowMs - snapshot.startedAtMs;
  const smallestArm = Math.min(...snapshot.samplesPerArm);
  const immature = elapsedMs < minimumDurationMs || smallestArm < snapshot.requiredSamplesPerArm;
  if (immature) {
    if (snapshot.stopEarlyOnGuardrail && degradedGuardrails.length > 0) return stopForGuardrails();
    const days = (ms: number) => (ms / 86_400_000).toFixed(1);
    return decision('continue', `not mature: ${days(Math.max(0, elapsedMs))} of ${days(minimumDurationMs)} days, smallest arm ${smallestArm} of ${snapshot.requiredSamplesPerArm} users`);
  }
  if (degradedGuardrails.length > 0) return stopForGuardrails();

  const bh = benjaminiHochberg(metrics.map((m) => m.pValue), q);
  const adjusted = Object.fromEntries(metrics.map((m, i) => [m.name, bh.adjusted[i]]));
  const primary = snapshot.primary;
  if (!bh.rejected[0]) return decision('continue', `${primary.name}: adjusted p ${bh.adjusted[0].toPrecision(3)} above q = ${q}`, adjusted);
  const better = (primary.higherIsBetter ?? true) ? primary.difference > 0 : primary.difference < 0;
  return decision(better ? 'ship' : 'revert',
    `${primary.name} ${better ? 'improved' : 'degraded'} (difference ${primary.difference.toPrecision(3)}, adjusted p ${bh.adjusted[0].toPrecision(3)} ≤ q = ${q})`, adjusted);
}
