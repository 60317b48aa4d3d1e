/**
 * Required sample size per arm of a two-arm A/B test (equal allocation), for a conversion rate (two proportions) and
 * for a mean. Both use the normal approximation, a two-sided test at significance α and power 1 − β.
 */
import { requireFinite, requireProbability, requirePositive } from './checks';
import { inverseNormalCdf } from './normal';

/**
 * The smallest effect the test should detect, stated explicitly as an absolute difference (treatment − control, in the
 * metric's own unit: 0.02 = two percentage points of a rate) or relative to the baseline (0.2 = +20 % of the baseline).
 * The sign gives the direction; the sample size depends on its magnitude (and, for rates, on the side of the baseline).
 */
export type MinimumDetectableEffect =
  | { readonly absolute: number; readonly relative?: never }
  | { readonly relative: number; readonly absolute?: never };

/** Power and significance of a planned test. */
export interface TestPlan {
  /**
   * Probability of detecting the minimum effect when it is real (1 − β).
   * @default 0.8
   */
  readonly power?: number;
  /**
   * Significance level α of the two-sided test (false-positive rate under no effect).
   * @default 0.05
   */
  readonly alpha?: number;
}

/** Inputs of `sampleSizeForProportions`. */
export interface ProportionSampleSizeInput extends TestPlan {
  /** The control arm's rate p₁, strictly between 0 and 1. */
  readonly baselineRate: number;
  /** The effect to detect: p₂ = p₁ + absolute, or p₂ = p₁·(1 + relative); p₂ must stay strictly between 0 and 1. */
  readonly minimumDetectableEffect: MinimumDetectableEffect;
}

/** Inputs of `sampleSizeForMeans`. */
export interface MeanSampleSizeInput extends TestPlan {
  /** Standard deviation σ of the metric per unit (user), assumed equal in both arms. */
  readonly standardDeviation: number;
  /** The effect to detect: δ = absolute, or δ = baselineMean·relative. */
  readonly minimumDetectableEffect: MinimumDetectableEffect;
  /**
   * The control arm's mean; needed only for a relative effect.
   * @default - none; a relative effect without it throws
   */
  readonly baselineMean?: number;
}

/** The two normal quantiles of a plan: z_{1−α/2} and z_{1−β}. */
function quantiles(where: string, plan: TestPlan): { zAlpha: number; zBeta: number } {
  const power = plan.power ?? 0.8;
  const alpha = plan.alpha ?? 0.05;
  requireProbability(where, 'power', power);
  requireProbability(where, 'alpha', alpha);
  return { zAlpha: inverseNormalCdf(1 - alpha / 2), zBeta: inverseNormalCdf(power) };
}

/** The absolute effect of an MDE given the baseline (which a relative MDE needs). */
function absoluteEffect(where: string, mde: MinimumDetectableEffect, baseline: number | undefined): number {
  if (mde.absolute !== undefined) {
    requireFinite(where, 'minimumDetectableEffect.absolute', mde.absolute);
    return mde.absolute;
  }
  requireFinite(where, 'minimumDetectableEffect.relative', mde.relative);
  if (baseline === undefined) throw new RangeError(`${where}: a relative minimumDetectableEffect needs baselineMean; pass it or give the effect as { absolute }`);
  return baseline * mde.relative;
}

/**
 * Users per arm for a two-sided two-proportion z-test (Fleiss, Levin & Paik, "Statistical Methods for Rates and
 * Proportions", 3rd ed., eq. 4.14, without continuity correction; Chow, Shao & Wang, "Sample Size Calculations in
 * Clinical Research", §4.2):
 *
 *   n = (z_{1−α/2}·√(2p̄(1−p̄)) + z_{1−β}·√(p₁(1−p₁) + p₂(1−p₂)))² / (p₂ − p₁)²,  p̄ = (p₁ + p₂)/2,
 *
 * rounded up. p = 0.10, +0.02 absolute, α = 0.05, power 0.8 → 3,841 per arm.
 */
export function sampleSizeForProportions(input: ProportionSampleSizeInput): number {
  const where = 'sampleSizeForProportions';
  const p1 = input.baselineRate;
  requireProbability(where, 'baselineRate', p1);
  const delta = absoluteEffect(where, input.minimumDetectableEffect, p1);
  const p2 = p1 + delta;
  if (delta === 0) throw new RangeError(`${where}: minimumDetectableEffect must not be 0 (no sample size detects no effect)`);
  requireProbability(where, 'the treatment rate baselineRate + effect', p2);
  const { zAlpha, zBeta } = quantiles(where, input);
  const pBar = (p1 + p2) / 2;
  const root = zAlpha * Math.sqrt(2 * pBar * (1 - pBar)) + zBeta * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil((root * root) / (delta * delta));
}

/**
 * Users per arm for a two-sided two-sample z-test of means with a common standard deviation σ (Chow, Shao & Wang,
 * §3.2.1): n = 2σ²(z_{1−α/2} + z_{1−β})² / δ², rounded up.
 */
export function sampleSizeForMeans(input: MeanSampleSizeInput): number {
  const where = 'sampleSizeForMeans';
  requirePositive(where, 'standardDeviation', input.standardDeviation);
  if (input.baselineMean !== undefined) requireFinite(where, 'baselineMean', input.baselineMean);
  const delta = absoluteEffect(where, input.minimumDetectableEffect, input.baselineMean);
  if (delta === 0) throw new RangeError(`${where}: minimumDetectableEffect must not be 0 (no sample size detects no effect)`);
  const { zAlpha, zBeta } = quantiles(where, input);
  const sigma = input.standardDeviation;
  return Math.ceil((2 * sigma * sigma * (zAlpha + zBeta) ** 2) / (delta * delta));
}
