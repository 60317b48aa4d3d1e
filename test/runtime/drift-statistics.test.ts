/**
 * Drift statistics against values worked out by hand (the working is in the comments), on samples small enough that
 * the sketches hold every value exactly. Each case would fail on an off-by-one, a wrong logarithm base or a wrong
 * normalization.
 */
import { QuantileSketch } from '../../runtime/core/drift/quantile-sketch';
import {
  binNumeric, chiSquareSurvival, chiSquareTest, erfc, fillEmptyBins, jensenShannonDistance, kolmogorovSurvival, ksTest,
  normalizedWasserstein, psi, regularizedGammaQ, twoProportionZTest, wasserstein,
} from '../../runtime/core/drift/statistics';
import { seededRandom } from '../../runtime/core/random';

const sketchOf = (values: number[]) => {
  const s = new QuantileSketch();
  s.updateMany(values);
  return s;
};

describe('Kolmogorov–Smirnov', () => {
  test('statistic and asymptotic p-value of two 5-element samples', () => {
    // a = 1..5, b = 3..7. F_a − F_b at x = 1,2,3,4,5,6,7: .2−0, .4−0, .6−.2, .8−.4, 1−.6, 1−.8, 1−1 → D = 0.4.
    // n_e = 5·5/10 = 2.5, λ = √2.5 · 0.4 = 0.632456.
    // Q(λ) = 2 Σ (−1)^{j−1} e^{−2j²λ²}, 2λ² = 0.8: 2(e^−0.8 − e^−3.2 + e^−7.2 − e^−12.8)
    //      = 2(0.449329 − 0.040762 + 0.000747 − 0.000003) = 0.818622.
    const result = ksTest(sketchOf([1, 2, 3, 4, 5]), sketchOf([3, 4, 5, 6, 7]));
    expect(result.statistic).toBeCloseTo(0.4, 12);
    expect(result.pValue).toBeCloseTo(0.818622, 5);
  });

  test('unequal sizes use n·m/(n+m), and ties count once per value', () => {
    // a = {0,0,1,1} (n 4), b = {1,1,1,2,2,2} (m 6). At 0: F_a .5, F_b 0 → .5; at 1: 1 vs .5 → .5; at 2: 1 vs 1.
    // D = 0.5, n_e = 24/10 = 2.4, λ = √2.4·0.5 = 0.774597, 2λ² = 1.2:
    // 2(e^−1.2 − e^−4.8 + e^−10.8) = 2(0.301194 − 0.008230 + 0.000020) = 0.585968.
    const result = ksTest(sketchOf([0, 0, 1, 1]), sketchOf([1, 1, 1, 2, 2, 2]));
    expect(result.statistic).toBeCloseTo(0.5, 12);
    expect(result.pValue).toBeCloseTo(0.585968, 5);
  });

  test('the Kolmogorov survival function is continuous where its two series meet (λ = 1.18) and matches Q(1) = 0.27', () => {
    // Q(1) = 2(e^−2 − e^−8 + e^−18) = 2(0.135335 − 0.000335 + 0.0000000152) = 0.270000.
    expect(kolmogorovSurvival(1)).toBeCloseTo(0.27, 5);
    expect(kolmogorovSurvival(1.18 - 1e-9)).toBeCloseTo(kolmogorovSurvival(1.18 + 1e-9), 8);
    expect(kolmogorovSurvival(0)).toBe(1);
  });
});

describe('Population Stability Index', () => {
  test('three bins', () => {
    // Σ (r − c) ln(r/c): (0.2−0.3) ln(0.2/0.3) = (−0.1)(−0.405465) = 0.0405465; (0.3−0.3)·0 = 0;
    // (0.5−0.4) ln(0.5/0.4) = 0.1 · 0.223144 = 0.0223144. PSI = 0.0628609.
    expect(psi([0.2, 0.3, 0.5], [0.3, 0.3, 0.4])).toBeCloseTo(0.0628609, 6);
  });

  test('empty bins are smoothed as Evidently does (0.0001, or min/10^6 when the smallest share is ≤ 0.0001)', () => {
    expect(Array.from(fillEmptyBins([0.5, 0.5, 0]))).toEqual([0.5, 0.5, 0.0001]);
    expect(Array.from(fillEmptyBins([0.99995, 0.00005, 0]))).toEqual([0.99995, 0.00005, 0.00005 / 1e6]);
    // r = [0.5, 0.5, 0.0001], c = [0.4, 0.4, 0.2]:
    // 2 · (0.1 · ln(1.25)) = 2 · 0.0223144 = 0.0446287; (0.0001 − 0.2) · ln(0.0001/0.2) = (−0.1999)(−7.600902) = 1.519420.
    // PSI = 1.564049.
    expect(psi([0.5, 0.5, 0], [0.4, 0.4, 0.2])).toBeCloseTo(1.564049, 5);
  });
});

describe('Jensen–Shannon distance', () => {
  test('natural logarithm (scipy base=None), the square root of the divergence', () => {
    // p = [.5, .5], q = [1, 0], m = [.75, .25].
    // KL(p‖m) = .5 ln(.5/.75) + .5 ln(.5/.25) = .5(−0.405465) + .5(0.693147) = 0.143841.
    // KL(q‖m) = 1 · ln(1/.75) = 0.287682. JSD = (0.143841 + 0.287682)/2 = 0.215762; distance = √0.215762 = 0.464502.
    // (Base 2 would give √(0.215762/ln 2) = 0.557923.)
    expect(jensenShannonDistance([0.5, 0.5], [1, 0])).toBeCloseTo(0.464502, 5);
  });

  test('normalizes counts to distributions first; identical distributions are 0; disjoint ones √ln 2', () => {
    expect(jensenShannonDistance([10, 30], [1, 3])).toBeCloseTo(0, 12);
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(Math.sqrt(Math.LN2), 12);
  });
});

describe('chi-square test (homogeneity of the two samples)', () => {
  test('three categories: p = e^{−χ²/2} with two degrees of freedom', () => {
    // ref = [10, 20, 30] (60), cur = [20, 20, 20] (60), N = 120; column totals t = [30, 40, 50];
    // expected, both rows: 60·t/120 = [15, 20, 25].
    // χ² = (10−15)²/15 + (20−15)²/15 + 0 + 0 + (30−25)²/25 + (20−25)²/25 = 3.333333 + 2 = 5.333333; df = 2;
    // p = e^{−5.333333/2} = 0.06948345.
    const result = chiSquareTest([10, 20, 30], [20, 20, 20]);
    expect(result.statistic).toBeCloseTo(5.333333, 5);
    expect(result.df).toBe(2);
    expect(result.pValue).toBeCloseTo(0.06948345, 7);
  });

  test('unequal sample sizes: expected counts from the column totals and each row\'s size', () => {
    // ref = [50, 50] (100), cur = [30, 10] (40), N = 140; t = [80, 60].
    // E_ref = 100·t/140 = [57.142857, 42.857143]; E_cur = 40·t/140 = [22.857143, 17.142857]; every |o − E| = 7.142857.
    // χ² = 51.020408 · (1/57.142857 + 1/42.857143 + 1/22.857143 + 1/17.142857) = 7.291667; df = 1;
    // p = erfc(√(7.291667/2)) = erfc(1.909407) = 0.0069275.
    const result = chiSquareTest([50, 50], [30, 10]);
    expect(result.statistic).toBeCloseTo(7.291667, 5);
    expect(result.df).toBe(1);
    expect(result.pValue).toBeCloseTo(0.0069275, 6);
  });

  test('a value only one sample has counts as a column (finite χ²); values neither has are not columns', () => {
    // ref = [10, 0, 10], cur = [10, 10, 0] plus an empty column: N = 40, t = [20, 10, 10] → E = [10, 5, 5] per row.
    // χ² = 0 + 25/5 + 25/5 + 0 + 25/5 + 25/5 = 20; df = 2; p = e^{−10}.
    const result = chiSquareTest([10, 0, 10, 0], [10, 10, 0, 0]);
    expect(result.statistic).toBeCloseTo(20, 10);
    expect(result.df).toBe(2);
    expect(result.pValue).toBeCloseTo(Math.exp(-10), 12);
  });

  test('calibrated for a small reference and a large window: one distribution flags about 5 % of the time', () => {
    // The goodness-of-fit form (reference shares taken as exact) flagged 40 of 40 such trials at 1,000 vs 100,000.
    const random = seededRandom(11);
    const shares = [0.4, 0.3, 0.2, 0.1];
    const draw = (n: number) => {
      const counts = [0, 0, 0, 0];
      for (let i = 0; i < n; i++) {
        const u = random();
        counts[u < 0.4 ? 0 : u < 0.7 ? 1 : u < 0.9 ? 2 : 3]++;
      }
      return counts;
    };
    expect(shares.reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    let flagged = 0;
    for (let trial = 0; trial < 100; trial++) if (chiSquareTest(draw(1000), draw(100_000)).pValue < 0.05) flagged++;
    expect(flagged).toBeLessThanOrEqual(12); // 5 expected; P(binomial(100, 0.05) > 12) < 0.2 %
    expect(flagged).toBeGreaterThan(0);
  });

  test('special functions: Q(1, x) = e^{−x}, erfc(1) = 0.157299, χ²(df 4) survival at 9.487729 is 0.05', () => {
    expect(regularizedGammaQ(1, 3)).toBeCloseTo(Math.exp(-3), 12);
    expect(erfc(1)).toBeCloseTo(0.1572992, 7);
    expect(erfc(-1)).toBeCloseTo(2 - 0.1572992, 7);
    // 9.487729 is the tabulated 95th percentile of χ² with 4 degrees of freedom.
    expect(chiSquareSurvival(9.487729, 4)).toBeCloseTo(0.05, 6);
  });
});

describe('two-proportion Z-test', () => {
  test('pooled proportion, two-sided p', () => {
    // ref: 30 of 100 are the second value (p1 = .3); cur: 50 of 100 (p2 = .5). Pooled P = 80/200 = .4.
    // z = (.3 − .5)/√(.4 · .6 · (1/100 + 1/100)) = −.2/√0.0048 = −.2/0.0692820 = −2.886751.
    // p = erfc(2.886751/√2) = erfc(2.041241) = 0.00389.
    const result = twoProportionZTest([70, 30], [50, 50]);
    expect(result.statistic).toBeCloseTo(-2.886751, 5);
    expect(result.pValue).toBeCloseTo(0.003892, 5);
  });

  test('one value on both sides: p = 1', () => {
    expect(twoProportionZTest([10, 0], [5, 0]).pValue).toBe(1);
  });
});

describe('Wasserstein', () => {
  test('a sample shifted by 1 is at distance 1; normalized by the reference population std √2', () => {
    // a = {0,1,2,3,4}, b = {1,2,3,4,5}: |F_a − F_b| = 0.2 on each of [0,1) … [4,5): W₁ = 5 · 0.2 = 1.
    // std(a) (ddof 0) = √((4+1+0+1+4)/5) = √2, so W₁/std = 0.707107.
    const a = sketchOf([0, 1, 2, 3, 4]);
    const b = sketchOf([1, 2, 3, 4, 5]);
    expect(wasserstein(a, b)).toBeCloseTo(1, 12);
    expect(normalizedWasserstein(a, b, Math.SQRT2)).toBeCloseTo(0.707107, 6);
  });

  test('uneven masses: {0, 10} against {0, 0, 0, 10}', () => {
    // F_a = .5 on [0, 10), F_b = .75 there: W₁ = 10 · 0.25 = 2.5. A constant reference is normalized by 0.001.
    expect(wasserstein(sketchOf([0, 10]), sketchOf([0, 0, 0, 10]))).toBeCloseTo(2.5, 12);
    expect(normalizedWasserstein(sketchOf([1, 1]), sketchOf([1.001, 1.001]), 0)).toBeCloseTo(1, 6);
  });
});

describe('binning (Evidently get_binned_data)', () => {
  test('more than 20 distinct reference values: Sturges equal-width bins over the combined range', () => {
    // a = 0..29 (30 values), b = 0..9 (10): n = 40, bins = ⌈log₂ 40⌉ + 1 = 6 + 1 = 7 over [0, 29], width 29/7.
    // Bin of x = ⌊x / 4.142857⌋: 0–4 → 0 (5 values), 5–8 → 1 (4), 9–12 → 2, 13–16 → 3, 17–20 → 4, 21–24 → 5, 25–29 → 6.
    const a = sketchOf(Array.from({ length: 30 }, (_, i) => i));
    const b = sketchOf(Array.from({ length: 10 }, (_, i) => i));
    const binned = binNumeric(a, b);
    expect(Array.from(binned.reference).map((x) => x * 30)).toEqual([5, 4, 4, 4, 4, 4, 5].map((x) => expect.closeTo(x, 9)));
    expect(Array.from(binned.current).map((x) => x * 10)).toEqual([5, 4, 1, 0, 0, 0, 0].map((x) => expect.closeTo(x, 9)));
  });

  test('20 or fewer distinct reference values: one bin per value of either sample', () => {
    const binned = binNumeric(sketchOf([1, 1, 2, 3]), sketchOf([2, 4]));
    expect(Array.from(binned.reference)).toEqual([0.5, 0.25, 0.25, 0]);
    expect(Array.from(binned.current)).toEqual([0, 0.5, 0, 0.5]);
  });
});
