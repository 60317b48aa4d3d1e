/**
 * The drift statistics, as pure functions over quantile sketches, category counts and binned shares. Each follows the
 * definition Evidently uses (evidently `src/evidently/legacy/calculations/stattests/*.py`, which call scipy), cited
 * per function; the p-value special functions are implemented here (Numerical Recipes, 3rd ed., §6.2 and §6.14).
 * On sketches the results are those of the sketches' retained (weighted) items: exact below about k values, within
 * the sketches' rank error beyond. Pure TypeScript.
 */
import { QuantileSketch, WeightedItems } from './quantile-sketch';

/** Result of a hypothesis test. */
export interface TestResult {
  /** The test statistic. */
  readonly statistic: number;
  /** Two-sided p-value. */
  readonly pValue: number;
}

/**
 * Evidently's smoothing of empty bins before PSI (`utils.get_binned_data`, `feel_zeroes=True`): in each distribution
 * separately, zero shares become 0.0001, or the smallest non-zero share / 10^6 when that share is ≤ 0.0001.
 */
export function fillEmptyBins(shares: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(shares);
  let smallest = Infinity;
  for (const s of out) if (s > 0 && s < smallest) smallest = s;
  const fill = smallest <= 0.0001 ? smallest / 1e6 : 0.0001;
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = fill;
  return out;
}

/**
 * Population Stability Index of two binned distributions (shares of the same bins):
 * PSI = Σ (r_i − c_i) · ln(r_i / c_i), after `fillEmptyBins` on each (Evidently `stattests/psi.py`, default threshold
 * 0.1: drift when PSI ≥ 0.1).
 */
export function psi(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const r = fillEmptyBins(reference);
  const c = fillEmptyBins(current);
  let sum = 0;
  for (let i = 0; i < r.length; i++) sum += (r[i] - c[i]) * Math.log(r[i] / c[i]);
  return sum;
}

/**
 * Jensen–Shannon DISTANCE (the square root of the divergence), natural logarithm, as `scipy.spatial.distance.jensenshannon`
 * with `base=None`, which Evidently calls (`stattests/jensenshannon.py`, no smoothing, default threshold 0.1: drift
 * when the distance ≥ 0.1). Each distribution is normalized to sum 1 first, as scipy does; 0 · ln 0 = 0.
 * Bounded by √ln 2 ≈ 0.833.
 */
export function jensenShannonDistance(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const p = normalize(reference);
  const q = normalize(current);
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) divergence += p[i] * Math.log(p[i] / m);
    if (q[i] > 0) divergence += q[i] * Math.log(q[i] / m);
  }
  return Math.sqrt(Math.max(0, divergence / 2));
}

/**
 * Pearson's chi-square test of homogeneity of the two samples' counts (the 2 × k contingency table of reference and
 * current over the union of values, as `scipy.stats.chi2_contingency` without continuity correction): with column
 * totals tᵢ = rᵢ + cᵢ, N = n_ref + n_cur, expected counts E_ref,i = n_ref·tᵢ/N and E_cur,i = n_cur·tᵢ/N,
 * χ² = Σ (o − E)²/E over both rows, k − 1 degrees of freedom (k the values seen in either sample), p = Q(df/2, χ²/2)
 * (regularized upper incomplete gamma). Evidently's `stattests/chisquare_stattest.py` runs a goodness-of-fit test
 * instead (the reference's shares taken as exact): that ignores the reference's own sampling noise, so with a small
 * reference (the only case the default uses it, ≤ 1,000 rows) and a large window it flags identical distributions
 * (25 % of the time at 1,000 vs 1,000 rows, every time at 1,000 vs 100,000 — measured); this test is calibrated for
 * both sizes. Default threshold 0.05 (drift when p < 0.05).
 */
export function chiSquareTest(reference: ArrayLike<number>, current: ArrayLike<number>): TestResult & { df: number } {
  const nRef = sum(reference);
  const nCur = sum(current);
  const n = nRef + nCur;
  let values = 0;
  let statistic = 0;
  for (let i = 0; i < reference.length; i++) {
    const total = reference[i] + current[i];
    if (total === 0) continue;
    values++;
    const expectedRef = (nRef * total) / n;
    const expectedCur = (nCur * total) / n;
    statistic += (reference[i] - expectedRef) ** 2 / expectedRef + (current[i] - expectedCur) ** 2 / expectedCur;
  }
  const df = values - 1;
  if (nRef === 0 || nCur === 0 || df < 1) return { statistic: 0, pValue: 1, df: Math.max(df, 0) };
  return { statistic, pValue: chiSquareSurvival(statistic, df), df };
}

/**
 * Two-proportion Z-test of a binary column, as Evidently's `stattests/z_stattest.py`: with the two values sorted, the
 * share p of the second value in each sample, pooled P = (p₁n₁ + p₂n₂)/(n₁ + n₂), z = (p₁ − p₂) / √(P(1 − P)(1/n₁ + 1/n₂)),
 * two-sided p = 2(1 − Φ(|z|)) = erfc(|z|/√2). Takes the counts of the first and second value in each sample. When both
 * samples hold one value only (P(1 − P) = 0) p is 1. Default threshold 0.05 (drift when p < 0.05).
 */
export function twoProportionZTest(reference: readonly [number, number], current: readonly [number, number]): TestResult {
  const n1 = reference[0] + reference[1];
  const n2 = current[0] + current[1];
  if (n1 === 0 || n2 === 0) return { statistic: 0, pValue: 1 };
  const p1 = reference[1] / n1;
  const p2 = current[1] / n2;
  const pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
  const variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2);
  if (variance === 0) return { statistic: 0, pValue: 1 };
  const z = (p1 - p2) / Math.sqrt(variance);
  return { statistic: z, pValue: erfc(Math.abs(z) / Math.SQRT2) };
}

/**
 * Two-sample Kolmogorov–Smirnov test: D = sup_x |F_ref(x) − F_cur(x)| over the two empirical CDFs (of the sketches),
 * and the asymptotic p-value Q_KS(√n_e · D), n_e = n·m/(n + m), Q_KS the Kolmogorov distribution's survival function
 * (Numerical Recipes §6.14 `KSdist.qks`; Smirnov 1948). Evidently (`stattests/ks_stattest.py`) calls
 * `scipy.stats.ks_2samp`, which uses the exact distribution below 10,000 values: for small samples our asymptotic p is
 * somewhat larger (more conservative). Default threshold 0.05 (Evidently: drift when p ≤ 0.05).
 */
export function ksTest(reference: QuantileSketch, current: QuantileSketch): TestResult {
  const n = reference.count;
  const m = current.count;
  if (n === 0 || m === 0) return { statistic: 0, pValue: 1 };
  const statistic = ksStatistic(reference.sorted(), n, current.sorted(), m);
  return { statistic, pValue: kolmogorovSurvival(Math.sqrt((n * m) / (n + m)) * statistic) };
}

/**
 * First Wasserstein (earth mover's) distance between the two sketches' distributions, W₁ = ∫ |F_ref(x) − F_cur(x)| dx,
 * which equals ∫₀¹ |Q_ref(u) − Q_cur(u)| du (the L1 distance of the two quantile functions), as
 * `scipy.stats.wasserstein_distance` computes it.
 */
export function wasserstein(reference: QuantileSketch, current: QuantileSketch): number {
  const n = reference.count;
  const m = current.count;
  if (n === 0 || m === 0) return 0;
  const a = reference.sorted();
  const b = current.sorted();
  let i = 0;
  let j = 0;
  let fa = 0;
  let fb = 0;
  let previous = Math.min(a.values[0], b.values[0]);
  let area = 0;
  while (i < a.values.length || j < b.values.length) {
    const x = j >= b.values.length || (i < a.values.length && a.values[i] <= b.values[j]) ? a.values[i] : b.values[j];
    area += Math.abs(fa - fb) * (x - previous);
    while (i < a.values.length && a.values[i] === x) fa = a.cumulative[i++] / n;
    while (j < b.values.length && b.values[j] === x) fb = b.cumulative[j++] / m;
    previous = x;
  }
  return area;
}

/**
 * Normalized Wasserstein distance, Evidently's default for numeric columns with a reference above 1,000 rows
 * (`stattests/wasserstein_distance_norm.py`): W₁ / max(std_ref, 0.001), std the reference's population standard
 * deviation (numpy's `std`). Default threshold 0.1 (drift when ≥ 0.1): a tenth of a standard deviation.
 */
export function normalizedWasserstein(reference: QuantileSketch, current: QuantileSketch, referenceStd: number): number {
  return wasserstein(reference, current) / Math.max(referenceStd, 0.001);
}

/** Shares of a reference and a current sample over the same bins (what PSI and Jensen–Shannon compare). */
export interface BinnedShares {
  readonly reference: Float64Array;
  readonly current: Float64Array;
}

/**
 * Bins two numeric samples as Evidently does (`stattests/utils.py` `get_binned_data`): when the reference has more
 * than 20 distinct values, `np.histogram_bin_edges(reference ∪ current, bins='sturges')` — ⌈log₂(n + m)⌉ + 1
 * equal-width bins over the combined [min, max], each [left, right) but the last closed — else one bin per distinct
 * value of either sample. Shares are counts / the sample's count.
 */
export function binNumeric(reference: QuantileSketch, current: QuantileSketch): BinnedShares {
  const a = reference.sorted();
  const b = current.sorted();
  if (a.values.length <= 20) {
    const keys = [...new Set([...a.values, ...b.values])].sort((x, y) => x - y);
    const index = new Map(keys.map((k, i) => [k, i]));
    return { reference: valueShares(a, reference.count, keys.length, index), current: valueShares(b, current.count, keys.length, index) };
  }
  const low = Math.min(reference.min, current.min);
  const high = Math.max(reference.max, current.max);
  const bins = Math.ceil(Math.log2(reference.count + current.count)) + 1;
  const width = (high - low) / bins;
  const binOf = (x: number) => (width > 0 ? Math.min(bins - 1, Math.floor((x - low) / width)) : 0);
  return { reference: histogram(a, reference.count, bins, binOf), current: histogram(b, current.count, bins, binOf) };
}

/** Counts of two categorical samples over the union of their values (plus one "other" bin when either has one). */
export function alignCounts(
  reference: { readonly counts: readonly [string, number][]; readonly total: number },
  current: { readonly counts: readonly [string, number][]; readonly total: number },
): { keys: string[]; reference: Float64Array; current: Float64Array } {
  const keys = [...new Set([...reference.counts.map((e) => e[0]), ...current.counts.map((e) => e[0])])].sort();
  const index = new Map(keys.map((k, i) => [k, i]));
  const refOther = reference.total - sum(reference.counts.map((e) => e[1]));
  const curOther = current.total - sum(current.counts.map((e) => e[1]));
  const withOther = refOther > 0 || curOther > 0;
  const size = keys.length + (withOther ? 1 : 0);
  const fill = (side: typeof reference, other: number) => {
    const out = new Float64Array(size);
    for (const [k, c] of side.counts) out[index.get(k)!] = c;
    if (withOther) out[size - 1] = other;
    return out;
  };
  return { keys, reference: fill(reference, refOther), current: fill(current, curOther) };
}

/**
 * Survival function of the chi-square distribution with `df` degrees of freedom: P(X ≥ x) = Q(df/2, x/2).
 */
export function chiSquareSurvival(x: number, df: number): number {
  if (!(x > 0)) return 1;
  if (x === Infinity) return 0;
  return regularizedGammaQ(df / 2, x / 2);
}

/**
 * Survival function of the Kolmogorov distribution, Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}; below λ = 1.18 the
 * equivalent fast-converging form 1 − (√(2π)/λ) Σ_{j≥1} e^{−(2j−1)²π²/(8λ²)} (Numerical Recipes §6.14).
 */
export function kolmogorovSurvival(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    const y = Math.exp(-(Math.PI ** 2) / (8 * lambda * lambda));
    const y8 = y ** 8;
    const cdf = (Math.sqrt(2 * Math.PI) / lambda) * y * (1 + y8 + y8 ** 3 + y8 ** 6);
    return Math.min(1, Math.max(0, 1 - cdf));
  }
  let total = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    total += (j % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * total));
}

/** The complementary error function, erfc(x) = Q(1/2, x²) for x ≥ 0 and 2 − erfc(−x) below. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  return x === 0 ? 1 : regularizedGammaQ(0.5, x * x);
}

/**
 * Regularized upper incomplete gamma function Q(a, x) = Γ(a, x)/Γ(a): by its series below x < a + 1, by Lentz's
 * continued fraction above (Numerical Recipes §6.2, `gser` and `gcf`), to about 1e-15 relative.
 */
export function regularizedGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const logPrefactor = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let series = term;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      series += term;
      if (Math.abs(term) < Math.abs(series) * 1e-16) break;
    }
    return Math.max(0, 1 - series * Math.exp(logPrefactor));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(logPrefactor) * h;
}

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const z = x - 1;
  let s = c[0];
  for (let i = 1; i < g + 2; i++) s += c[i] / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** D = sup |F_a − F_b| over the union of the two samples' values. */
function ksStatistic(a: WeightedItems, n: number, b: WeightedItems, m: number): number {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.values.length || j < b.values.length) {
    const x = j >= b.values.length || (i < a.values.length && a.values[i] <= b.values[j]) ? a.values[i] : b.values[j];
    while (i < a.values.length && a.values[i] <= x) i++;
    while (j < b.values.length && b.values[j] <= x) j++;
    const fa = i === 0 ? 0 : a.cumulative[i - 1] / n;
    const fb = j === 0 ? 0 : b.cumulative[j - 1] / m;
    d = Math.max(d, Math.abs(fa - fb));
  }
  return d;
}

function valueShares(items: WeightedItems, n: number, size: number, index: Map<number, number>): Float64Array {
  const out = new Float64Array(size);
  for (let i = 0; i < items.values.length; i++) out[index.get(items.values[i])!] += (items.cumulative[i] - (i > 0 ? items.cumulative[i - 1] : 0)) / n;
  return out;
}

function histogram(items: WeightedItems, n: number, bins: number, binOf: (x: number) => number): Float64Array {
  const out = new Float64Array(bins);
  for (let i = 0; i < items.values.length; i++) out[binOf(items.values[i])] += (items.cumulative[i] - (i > 0 ? items.cumulative[i - 1] : 0)) / n;
  return out;
}

function normalize(values: ArrayLike<number>): Float64Array {
  const total = sum(values);
  return Float64Array.from(values, (v) => (total > 0 ? v / total : 0));
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}
