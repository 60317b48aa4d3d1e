/** Multiple testing across the metrics of one experiment. Pure TypeScript. */
import { requireProbability } from './checks';

/** Result of `benjaminiHochberg`, in the order of the input p-values. */
export interface BenjaminiHochbergResult {
  /** BH-adjusted p-values (q-values): reject hypothesis i at level q exactly when adjusted[i] ≤ q. */
  readonly adjusted: readonly number[];
  /** Whether each hypothesis is rejected at the false discovery rate q. */
  readonly rejected: readonly boolean[];
}

/**
 * The Benjamini–Hochberg step-up procedure (Benjamini & Hochberg, "Controlling the False Discovery Rate", JRSS B 57,
 * 1995): with the m p-values sorted p₍₁₎ ≤ … ≤ p₍ₘ₎, reject H₍₁₎ … H₍ₖ₎ for the largest k with p₍ₖ₎ ≤ k·q/m. Adjusted
 * p-values (as R's `p.adjust(method = "BH")`): p̃₍ᵢ₎ = min_{j ≥ i} min(1, m·p₍ⱼ₎/j). Controls the false discovery
 * rate at q for independent or positively dependent tests; with always-valid p-values it holds at any stopping
 * time (Johari et al. 2022, §6).
 */
export function benjaminiHochberg(pValues: readonly number[], q = 0.05): BenjaminiHochbergResult {
  requireProbability('benjaminiHochberg', 'q', q);
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`benjaminiHochberg: pValues[${i}] must be between 0 and 1 (got ${p})`);
  });
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a] - pValues[b]);
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const i = order[rank - 1];
    running = Math.min(running, (m * pValues[i]) / rank);
    adjusted[i] = running;
  }
  return { adjusted, rejected: adjusted.map((p) => p <= q) };
}
