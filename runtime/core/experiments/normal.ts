/**
 * The standard normal distribution: its CDF Φ (through the complementary error function of the drift statistics) and
 * its inverse Φ⁻¹, which the sample-size formulas need for z_{1−α/2} and z_{1−β}. Pure TypeScript.
 */
import { erfc } from '../drift/statistics';

/** Φ(x) = P(Z ≤ x) for a standard normal Z, as erfc(−x/√2)/2 (Abramowitz & Stegun 7.1.2, 26.2.29). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

// Acklam's rational approximations (P. J. Acklam, "An algorithm for computing the inverse normal cumulative
// distribution function", 2003; relative error below 1.15e-9 before refinement).
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const P_LOW = 0.02425;

/**
 * Φ⁻¹(p), the standard normal quantile: Acklam's algorithm (central rational approximation for
 * 0.02425 ≤ p ≤ 0.97575, tail approximation in q = √(−2 ln p) outside) followed by one Halley step on
 * Φ(x) − p, which brings it to about full double precision (Acklam's own refinement). Φ⁻¹(0.975) = 1.959964,
 * Φ⁻¹(0.8) = 0.841621, Φ⁻¹(0.995) = 2.575829. Below about p = 1e-308 (subnormal p) e^{x²/2} overflows, so the
 * refinement is skipped there and Acklam's value (relative error below 1.15e-9) is returned. Throws a RangeError
 * outside 0 < p < 1.
 */
export function inverseNormalCdf(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`inverseNormalCdf: p must be strictly between 0 and 1 (got ${p})`);
  let x: number;
  if (p < P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  } else if (p <= 1 - P_LOW) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
      (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  // Halley refinement: e = Φ(x) − p, u = e·√(2π)·e^{x²/2} (= e/φ(x)), x ← x − u/(1 + x·u/2).
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  if (!Number.isFinite(u)) return x;
  return x - u / (1 + (x * u) / 2);
}
