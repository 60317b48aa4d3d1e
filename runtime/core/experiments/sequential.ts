/**
 * A sequential test that may be looked at after every batch without inflating false positives: the mixture sequential
 * probability ratio test (mSPRT) of Johari, Koomen, Pekelis & Walsh, "Always Valid Inference: Continuous Monitoring
 * of A/B Tests", Operations Research 70(3), 2022 (arXiv:1512.04922, 2017), with the normal approximation of §4: the
 * estimate θ̂ of the difference treatment − control is taken as N(θ, V), and the likelihood ratio against θ = θ₀ is
 * mixed over θ ~ N(θ₀, τ²). Pure TypeScript.
 *
 * Choice of τ: the test is valid for every τ > 0; τ only decides which effects are detected fastest (Johari et al.
 * §4.2: the expected time to detect an effect θ is smallest for τ² near θ² in the regime of interest; Optimizely fits
 * τ to the effects seen in past experiments). Use the minimum detectable effect of the experiment's plan (in the
 * metric's absolute unit) as `mixingStandardDeviation` unless past experiments suggest a better scale.
 */
import { requireFinite, requireNonNegative, requirePositive, requireProbability } from './checks';

/** An estimated difference treatment − control and the variance of that estimate. */
export interface DifferenceEstimate {
  /** θ̂ = treatment − control. */
  readonly difference: number;
  /** V = Var(θ̂), e.g. p̂₁(1−p̂₁)/n₁ + p̂₂(1−p̂₂)/n₂ for rates. */
  readonly variance: number;
}

/** Successes out of trials (users who converted out of users exposed). */
export interface ProportionSummary {
  readonly successes: number;
  readonly trials: number;
}

/** Count, mean and sample variance of a per-user metric. */
export interface MeanSummary {
  readonly count: number;
  readonly mean: number;
  /** The (unbiased) sample variance of the metric per user. */
  readonly variance: number;
}

function proportionOf(where: string, arm: string, s: ProportionSummary): number {
  requireNonNegative(where, `${arm}.successes`, s.successes);
  requirePositive(where, `${arm}.trials`, s.trials);
  if (s.successes > s.trials) throw new RangeError(`${where}: ${arm}.successes (${s.successes}) exceeds ${arm}.trials (${s.trials}); pass counts of the same users`);
  return s.successes / s.trials;
}

/** θ̂ = p̂_t − p̂_c and V = p̂_c(1−p̂_c)/n_c + p̂_t(1−p̂_t)/n_t (unpooled Wald variance). */
export function differenceOfProportions(control: ProportionSummary, treatment: ProportionSummary): DifferenceEstimate {
  const where = 'differenceOfProportions';
  const pc = proportionOf(where, 'control', control);
  const pt = proportionOf(where, 'treatment', treatment);
  return { difference: pt - pc, variance: (pc * (1 - pc)) / control.trials + (pt * (1 - pt)) / treatment.trials };
}

/** θ̂ = x̄_t − x̄_c and V = s_c²/n_c + s_t²/n_t (Welch). */
export function differenceOfMeans(control: MeanSummary, treatment: MeanSummary): DifferenceEstimate {
  const where = 'differenceOfMeans';
  for (const [arm, s] of [['control', control], ['treatment', treatment]] as const) {
    requirePositive(where, `${arm}.count`, s.count);
    requireFinite(where, `${arm}.mean`, s.mean);
    requireNonNegative(where, `${arm}.variance`, s.variance);
  }
  return { difference: treatment.mean - control.mean, variance: control.variance / control.count + treatment.variance / treatment.count };
}

/**
 * The mixture likelihood ratio of the normal mSPRT (Johari et al. 2022, §4, eq. 13 with a N(θ₀, τ²) mixture):
 *
 *   Λ = √(V/(V+τ²)) · exp(τ²(θ̂−θ₀)² / (2V(V+τ²))).
 *
 * Returns 1 (no evidence) when V is 0 (no variation observed yet, e.g. no conversions in either arm).
 */
export function msprtLikelihoodRatio(estimate: DifferenceEstimate, mixingVariance: number, nullDifference = 0): number {
  const where = 'msprtLikelihoodRatio';
  requireFinite(where, 'estimate.difference', estimate.difference);
  requireNonNegative(where, 'estimate.variance', estimate.variance);
  requirePositive(where, 'mixingVariance', mixingVariance);
  const v = estimate.variance;
  if (v === 0) return 1;
  const d = estimate.difference - nullDifference;
  return Math.sqrt(v / (v + mixingVariance)) * Math.exp((mixingVariance * d * d) / (2 * v * (v + mixingVariance)));
}

/** The state of an always-valid test, carried from one look to the next. */
export interface SequentialState {
  /** The always-valid p-value p_n: 1 before the first look, never increasing. */
  readonly pValue: number;
  /** Λ_n at the latest look. */
  readonly likelihoodRatio: number;
  /** Number of looks so far. */
  readonly looks: number;
}

/** Options of the sequential test. */
export interface SequentialTestOptions {
  /** τ, the standard deviation of the N(θ₀, τ²) mixture, in the metric's unit: use the plan's minimum detectable effect. */
  readonly mixingStandardDeviation: number;
  /**
   * θ₀, the difference under the null hypothesis.
   * @default 0
   */
  readonly nullDifference?: number;
}

/** The state before the first look: p = 1. */
export const SEQUENTIAL_START: SequentialState = { pValue: 1, likelihoodRatio: 1, looks: 0 };

/**
 * One look of the mSPRT with the cumulative estimate so far: p_n = min(p_{n−1}, 1/Λ_n) (Johari et al. 2022, eq. 11).
 * P(∃n: p_n ≤ α) ≤ α under the null (Ville's inequality on the mixture martingale), so the test may be checked after
 * every batch and stopped whenever p_n ≤ α.
 */
export function updateSequentialTest(previous: SequentialState, estimate: DifferenceEstimate, options: SequentialTestOptions): SequentialState {
  const tau = options.mixingStandardDeviation;
  requirePositive('updateSequentialTest', 'mixingStandardDeviation', tau);
  const likelihoodRatio = msprtLikelihoodRatio(estimate, tau * tau, options.nullDifference ?? 0);
  return { pValue: Math.min(previous.pValue, 1 / likelihoodRatio), likelihoodRatio, looks: previous.looks + 1 };
}

/** A metric that must not degrade by more than a tolerance. */
export interface GuardrailSpec {
  /** Name of the metric (as reported in decisions). */
  readonly name: string;
  /**
   * Direction of improvement: when true a decrease is a degradation (conversion), when false an increase is
   * (latency, error rate).
   * @default true
   */
  readonly higherIsBetter?: boolean;
  /** The degradation allowed before the guardrail trips, ≥ 0, in the metric's absolute unit (non-inferiority margin). */
  readonly tolerance: number;
  /** τ of the mixture, in the metric's unit: the degradation beyond the tolerance that must be caught fastest. */
  readonly mixingStandardDeviation: number;
  /**
   * Significance of the one-sided check.
   * @default 0.05
   */
  readonly alpha?: number;
}

/** The state of a guardrail check, carried from one look to the next. */
export interface GuardrailState extends SequentialState {
  readonly name: string;
  /** True once the always-valid evidence says the metric degraded by more than the tolerance (stays true). */
  readonly degraded: boolean;
}

/** The state of a guardrail before its first look. */
export function guardrailStart(spec: GuardrailSpec): GuardrailState {
  return { ...SEQUENTIAL_START, name: spec.name, degraded: false };
}

/**
 * One look at a guardrail: a one-sided always-valid test of H₀: degradation ≤ tolerance against degradation >
 * tolerance. The degradation is −θ̂ when higher is better and θ̂ otherwise; the mSPRT of the look above runs with
 * θ₀ = the tolerance on the degradation, and only a look whose degradation exceeds the tolerance may lower p (the
 * rejections are a subset of the two-sided test's, so the error stays ≤ α). Degraded once p ≤ α.
 */
export function checkGuardrail(previous: GuardrailState, estimate: DifferenceEstimate, spec: GuardrailSpec): GuardrailState {
  const where = 'checkGuardrail';
  requireNonNegative(where, `${spec.name}.tolerance`, spec.tolerance);
  const alpha = spec.alpha ?? 0.05;
  requireProbability(where, `${spec.name}.alpha`, alpha);
  const degradation = { difference: (spec.higherIsBetter ?? true) ? -estimate.difference : estimate.difference, variance: estimate.variance };
  const next = updateSequentialTest(previous, degradation, { mixingStandardDeviation: spec.mixingStandardDeviation, nullDifference: spec.tolerance });
  const pValue = degradation.difference > spec.tolerance ? next.pValue : previous.pValue;
  return { ...next, pValue, name: spec.name, degraded: pValue <= alpha };
}
