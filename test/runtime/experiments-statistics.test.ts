/**
 * The experiment statistics against worked examples computed by hand (the working is in the comments) and tabulated
 * values: the normal quantile, the sample sizes, Benjamini–Hochberg and the mSPRT likelihood ratio.
 */
import {
  benjaminiHochberg, checkGuardrail, differenceOfMeans, differenceOfProportions, guardrailStart, inverseNormalCdf,
  msprtLikelihoodRatio, normalCdf, sampleSizeForMeans, sampleSizeForProportions, SEQUENTIAL_START, updateSequentialTest,
} from '../../runtime/core/experiments';

describe('inverse normal CDF', () => {
  test.each([
    // Tabulated standard normal quantiles (e.g. NIST/SEMATECH e-Handbook §1.3.6.7.1).
    [0.975, 1.959964],
    [0.8, 0.841621],
    [0.995, 2.575829],
    [0.5, 0],
    [0.025, -1.959964],
    [0.9, 1.281552],
    [0.999, 3.090232],
    [1e-10, -6.361341],
  ])('Φ⁻¹(%p) = %p', (p, z) => {
    expect(inverseNormalCdf(p)).toBeCloseTo(z, 6);
  });

  test('round-trips through Φ across both tails and the centre', () => {
    for (const p of [1e-300, 1e-12, 0.001, 0.02, 0.02425, 0.3, 0.5, 0.7, 0.97575, 0.99, 1 - 1e-12]) {
      const x = inverseNormalCdf(p);
      expect(Math.abs(normalCdf(x) - p) / Math.min(p, 1 - p)).toBeLessThan(1e-9);
    }
  });

  test.each([5e-324, 1e-320, 1e-310])('stays finite for subnormal p = %p (the refinement would overflow)', (p) => {
    const x = inverseNormalCdf(p);
    expect(Number.isFinite(x)).toBe(true);
    // Checked independently in log space with the Mills-ratio expansion Φ(x) ≈ φ(x)/|x|·(1 − 1/x²) for x → −∞,
    // since Φ(x) itself underflows here: ln Φ(x) = −x²/2 − ln √(2π) − ln|x| + ln(1 − 1/x²).
    const lnPhi = -(x * x) / 2 - Math.log(Math.sqrt(2 * Math.PI)) - Math.log(-x) + Math.log(1 - 1 / (x * x));
    expect(Math.abs(lnPhi - Math.log(p)) / -Math.log(p)).toBeLessThan(1e-6);
    expect(x).toBeLessThan(inverseNormalCdf(1e-300));
  });

  test.each([0, 1, -0.1, 1.5, NaN])('refuses p = %p with a message naming the range', (p) => {
    expect(() => inverseNormalCdf(p)).toThrow(/strictly between 0 and 1/);
  });
});

describe('sample size per arm', () => {
  test('two proportions: p = 0.10, MDE +0.02 absolute, α = 0.05 two-sided, power 0.8 → 3,841', () => {
    // p₁ = 0.10, p₂ = 0.12, p̄ = 0.11; z_{0.975} = 1.959964, z_{0.8} = 0.841621.
    // √(2·0.11·0.89) = √0.1958 = 0.442493;          × 1.959964 = 0.867270
    // √(0.10·0.90 + 0.12·0.88) = √0.1956 = 0.442267; × 0.841621 = 0.372222
    // (0.867270 + 0.372222)² = 1.239492² = 1.536340;  / 0.02² = 1.536340 / 0.0004 = 3840.85 → 3,841.
    expect(sampleSizeForProportions({ baselineRate: 0.1, minimumDetectableEffect: { absolute: 0.02 } })).toBe(3841);
    // The same effect stated relative to the baseline: 0.10 · (1 + 0.2) = 0.12.
    expect(sampleSizeForProportions({ baselineRate: 0.1, minimumDetectableEffect: { relative: 0.2 } })).toBe(3841);
    // Same magnitude downward: p₂ = 0.08, p̄ = 0.09: (1.959964·√0.1638 + 0.841621·√(0.09 + 0.0736))² / 0.0004
    // = (0.793235 + 0.340407)² / 0.0004 = 1.285144 / 0.0004 = 3212.86 → 3,213 (rates near 0 vary less).
    expect(sampleSizeForProportions({ baselineRate: 0.1, minimumDetectableEffect: { absolute: -0.02 } })).toBe(3213);
  });

  test('stricter plans need more users: α = 0.01 and power 0.9', () => {
    // z_{0.995} = 2.575829, z_{0.9} = 1.281552: (2.575829·0.442493 + 1.281552·0.442267)² / 0.0004
    // = (1.139782 + 0.566788)² / 0.0004 = 1.706570² / 0.0004 = 2.912381 / 0.0004 = 7280.95 → 7,281.
    expect(sampleSizeForProportions({ baselineRate: 0.1, minimumDetectableEffect: { absolute: 0.02 }, alpha: 0.01, power: 0.9 })).toBe(7281);
  });

  test('means: σ = 1, δ = 0.1 → 2·(1.959964 + 0.841621)²/0.01 = 2·7.848879/0.01 = 1569.78 → 1,570', () => {
    expect(sampleSizeForMeans({ standardDeviation: 1, minimumDetectableEffect: { absolute: 0.1 } })).toBe(1570);
    // Relative: 0.2 % of a baseline mean of 50 is δ = 0.1.
    expect(sampleSizeForMeans({ standardDeviation: 1, baselineMean: 50, minimumDetectableEffect: { relative: 0.002 } })).toBe(1570);
    // Twice the σ, four times the users: 2·4·7.848879/0.01 = 6279.10 → 6,280.
    expect(sampleSizeForMeans({ standardDeviation: 2, minimumDetectableEffect: { absolute: 0.1 } })).toBe(6280);
  });

  test('bad plans are refused with the argument and the fix named', () => {
    expect(() => sampleSizeForProportions({ baselineRate: 0, minimumDetectableEffect: { absolute: 0.02 } })).toThrow(/baselineRate must be strictly between 0 and 1/);
    expect(() => sampleSizeForProportions({ baselineRate: 0.95, minimumDetectableEffect: { absolute: 0.1 } })).toThrow(/treatment rate/);
    expect(() => sampleSizeForProportions({ baselineRate: 0.1, minimumDetectableEffect: { absolute: 0 } })).toThrow(/must not be 0/);
    expect(() => sampleSizeForProportions({ baselineRate: 0.1, minimumDetectableEffect: { absolute: 0.02 }, power: 1 })).toThrow(/power/);
    expect(() => sampleSizeForMeans({ standardDeviation: 1, minimumDetectableEffect: { relative: 0.1 } })).toThrow(/needs baselineMean/);
    expect(() => sampleSizeForMeans({ standardDeviation: -1, minimumDetectableEffect: { absolute: 0.1 } })).toThrow(/standardDeviation/);
    expect(() => sampleSizeForMeans({ standardDeviation: 1, minimumDetectableEffect: { absolute: Infinity } })).toThrow(/finite/);
  });
});

describe('Benjamini–Hochberg', () => {
  test('adjusted p-values and rejections of a worked list', () => {
    // m = 5. Sorted: 0.005 (rank 1), 0.01 (2), 0.028 (3), 0.039 (4), 0.20 (5).
    // m·p/rank: 0.025, 0.025, 0.046667, 0.04875, 0.20; running minimum from the largest rank down:
    // rank 5: 0.20, rank 4: 0.04875, rank 3: 0.046667, rank 2: 0.025, rank 1: 0.025.
    const pValues = [0.01, 0.039, 0.028, 0.005, 0.2];
    const at05 = benjaminiHochberg(pValues, 0.05);
    const expected = [0.025, 0.04875, 0.14 / 3, 0.025, 0.2];
    at05.adjusted.forEach((p, i) => expect(p).toBeCloseTo(expected[i], 12));
    // Step-up at q = 0.05: thresholds k·0.01 = 0.01, 0.02, 0.03, 0.04, 0.05; the largest k with p₍ₖ₎ ≤ threshold is 4
    // (0.039 ≤ 0.04) → the four smallest are rejected; Bonferroni (0.01) would reject only 0.005 and 0.01.
    expect(at05.rejected).toEqual([true, true, true, true, false]);
    // At q = 0.04: thresholds 0.008·k: 0.039 > 0.032, 0.028 > 0.024, 0.01 ≤ 0.016 → k = 2.
    expect(benjaminiHochberg(pValues, 0.04).rejected).toEqual([true, false, false, true, false]);
  });

  test('adjusted values are capped at 1, keep ties, and an empty list is fine', () => {
    expect(benjaminiHochberg([0.9, 0.9, 1]).adjusted).toEqual([1, 1, 1]);
    expect(benjaminiHochberg([0.02, 0.02]).adjusted).toEqual([0.02, 0.02]);
    expect(benjaminiHochberg([])).toEqual({ adjusted: [], rejected: [] });
    expect(() => benjaminiHochberg([0.1, NaN])).toThrow(/pValues\[1\] must be between 0 and 1/);
  });
});

describe('mSPRT', () => {
  test('Λ for θ̂ = 0.02, V = 0.0001 (SE 0.01), τ = 0.02', () => {
    // τ² = 0.0004, V + τ² = 0.0005: √(V/(V+τ²)) = √0.2 = 0.4472136;
    // τ²θ̂²/(2V(V+τ²)) = 0.0004·0.0004 / (2·0.0001·0.0005) = 1.6e-7 / 1e-7 = 1.6; e^1.6 = 4.9530324.
    // Λ = 0.4472136 · 4.9530324 = 2.2150634 → 1/Λ = 0.4514543 (a z of 2 is far from enough evidence here).
    const estimate = { difference: 0.02, variance: 0.0001 };
    expect(msprtLikelihoodRatio(estimate, 0.0004)).toBeCloseTo(2.2150634, 6);
    // θ̂ = 0.04 (z = 4): exponent 0.0004·0.0016/1e-7 = 6.4, e^6.4 = 601.84504, Λ = 269.15328, 1/Λ = 0.0037154.
    const strong = updateSequentialTest(SEQUENTIAL_START, { difference: 0.04, variance: 0.0001 }, { mixingStandardDeviation: 0.02 });
    expect(strong.likelihoodRatio).toBeCloseTo(269.15328, 4);
    expect(strong.pValue).toBeCloseTo(0.0037154, 7);
    // The p-value never rises: a later weaker look keeps it.
    const later = updateSequentialTest(strong, estimate, { mixingStandardDeviation: 0.02 });
    expect(later.pValue).toBe(strong.pValue);
    expect(later.looks).toBe(2);
    // The sign of θ̂ does not matter (the mixture is symmetric), and a null θ₀ shifts it.
    expect(msprtLikelihoodRatio({ difference: -0.02, variance: 0.0001 }, 0.0004)).toBeCloseTo(2.2150634, 6);
    expect(msprtLikelihoodRatio({ difference: 0.05, variance: 0.0001 }, 0.0004, 0.03)).toBeCloseTo(2.2150634, 6);
  });

  test('no variation yet is no evidence; bad estimates are refused', () => {
    expect(msprtLikelihoodRatio({ difference: 0, variance: 0 }, 0.0004)).toBe(1);
    expect(() => msprtLikelihoodRatio({ difference: NaN, variance: 1 }, 0.0004)).toThrow(/difference must be a finite number/);
    expect(() => msprtLikelihoodRatio({ difference: 0, variance: 1 }, 0)).toThrow(/mixingVariance/);
  });

  test('difference estimates of rates and of means', () => {
    // 100/1000 vs 130/1000: θ̂ = 0.03, V = 0.1·0.9/1000 + 0.13·0.87/1000 = 0.00009 + 0.0001131 = 0.0002031.
    const rates = differenceOfProportions({ successes: 100, trials: 1000 }, { successes: 130, trials: 1000 });
    expect(rates.difference).toBeCloseTo(0.03, 12);
    expect(rates.variance).toBeCloseTo(0.0002031, 12);
    // Welch: V = 4/100 + 9/200 = 0.085.
    const means = differenceOfMeans({ count: 100, mean: 10, variance: 4 }, { count: 200, mean: 9.5, variance: 9 });
    expect(means.difference).toBe(-0.5);
    expect(means.variance).toBeCloseTo(0.085, 12);
    expect(() => differenceOfProportions({ successes: 5, trials: 4 }, { successes: 1, trials: 4 })).toThrow(/control.successes \(5\) exceeds control.trials/);
    expect(() => differenceOfProportions({ successes: 0, trials: 0 }, { successes: 1, trials: 4 })).toThrow(/control.trials must be/);
  });
});

describe('guardrails', () => {
  // Latency in ms, lower is better, 5 ms allowed; τ = 5 ms.
  const latency = { name: 'latency-p50', higherIsBetter: false, tolerance: 5, mixingStandardDeviation: 5 };

  test('a degradation well beyond the tolerance trips; within it, or an improvement, does not', () => {
    // +20 ms with SE 2 ms: d = 20 − 5 = 15, V = 4, τ² = 25: Λ = √(4/29)·exp(25·225/(2·4·29)) = 0.3714·e^24.25 ≫ 20.
    const tripped = checkGuardrail(guardrailStart(latency), { difference: 20, variance: 4 }, latency);
    expect(tripped.degraded).toBe(true);
    expect(tripped.pValue).toBeLessThan(1e-9);
    // +4 ms: within the 5 ms tolerance, however precise.
    expect(checkGuardrail(guardrailStart(latency), { difference: 4, variance: 0.01 }, latency).degraded).toBe(false);
    // −30 ms is an improvement: a two-sided test would reject θ = +5, the one-sided guardrail must not.
    const improved = checkGuardrail(guardrailStart(latency), { difference: -30, variance: 1 }, latency);
    expect(improved).toMatchObject({ degraded: false, pValue: 1 });
    // Conversion (higher is better): −0.03 with SE 0.005 and no tolerance trips.
    const conversion = { name: 'conversion', tolerance: 0, mixingStandardDeviation: 0.01 };
    expect(checkGuardrail(guardrailStart(conversion), { difference: -0.03, variance: 0.000025 }, conversion).degraded).toBe(true);
    expect(checkGuardrail(guardrailStart(conversion), { difference: 0.03, variance: 0.000025 }, conversion).degraded).toBe(false);
  });

  test('a tripped guardrail stays tripped (its p-value is a running minimum)', () => {
    const tripped = checkGuardrail(guardrailStart(latency), { difference: 20, variance: 4 }, latency);
    expect(checkGuardrail(tripped, { difference: 0, variance: 1 }, latency).degraded).toBe(true);
    expect(() => checkGuardrail(tripped, { difference: 0, variance: 1 }, { ...latency, tolerance: -1 })).toThrow(/latency-p50.tolerance/);
  });
});
