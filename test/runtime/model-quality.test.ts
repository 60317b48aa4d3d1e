/**
 * The quality accumulator (runtime/core/model-quality.ts) against values worked out by hand in this file.
 */
import { AUC_EXACT_SCORES, ModelQualitySummary, QualityAccumulator } from '../../runtime/core/model-quality';
import { seededRandom } from '../../runtime/core/random';

/** Four positives and four negatives; one positive ties one negative at 0.35. */
const POSITIVES = [0.9, 0.8, 0.6, 0.35];
const NEGATIVES = [0.7, 0.4, 0.35, 0.1];

/** Expects the same metrics up to floating-point summation order. */
function expectSameMetrics(actual: ModelQualitySummary, expected: ModelQualitySummary): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [key, value] of Object.entries(expected)) {
    if (typeof value === 'number') expect((actual as any)[key]).toBeCloseTo(value, 12);
    else expect((actual as any)[key]).toBe(value);
  }
}

function accumulate(threshold: number, label: (positive: boolean) => number | boolean | string, positiveLabel?: string): QualityAccumulator {
  const q = new QualityAccumulator({ problem: 'classification', threshold, positiveLabel });
  for (const s of POSITIVES) q.add(s, label(true));
  for (const s of NEGATIVES) q.add(s, label(false));
  return q;
}

describe('QualityAccumulator, classification', () => {
  test('AUC by counting pairs: 12.5 of 16 (positive, negative) pairs ordered, the tie counting one half', () => {
    // 0.9 beats all 4 negatives (4); 0.8 beats all 4 (4); 0.6 beats 0.4, 0.35, 0.1 but not 0.7 (3);
    // 0.35 loses to 0.7 and 0.4, ties 0.35 (0.5), beats 0.1 (1) → 1.5. Total 12.5 / (4 × 4) = 0.78125.
    const s = accumulate(0.5, (p) => p).summary();
    expect(s.auc).toBeCloseTo(12.5 / 16, 12);
    expect(s.aucMaxError).toBe(0);
  });

  test('accuracy, precision and recall at the threshold (a score equal to it is positive)', () => {
    // Threshold 0.65: predicted positive are 0.9, 0.8 (positives) and 0.7 (a negative): tp 2, fp 1;
    // 0.6 and 0.35 (positives) are missed: fn 2; 0.4, 0.35, 0.1 (negatives): tn 3.
    const s = accumulate(0.65, (p) => (p ? 1 : 0)).summary();
    expect(s.threshold).toBe(0.65);
    expect(s.accuracy).toBeCloseTo(5 / 8, 12); // (tp + tn) / n
    expect(s.precision).toBeCloseTo(2 / 3, 12); // tp / (tp + fp)
    expect(s.recall).toBeCloseTo(2 / 4, 12); // tp / (tp + fn)
    // Threshold 0.7: the negative at exactly 0.7 is predicted positive (score >= threshold), so precision stays 2/3.
    expect(accumulate(0.7, (p) => p).summary().precision).toBeCloseTo(2 / 3, 12);
  });

  test('Brier score: the mean of (score − label)²', () => {
    // Positives: 0.1² + 0.2² + 0.4² + 0.65² = 0.01 + 0.04 + 0.16 + 0.4225 = 0.6325
    // Negatives: 0.7² + 0.4² + 0.35² + 0.1² = 0.49 + 0.16 + 0.1225 + 0.01 = 0.7825
    // (0.6325 + 0.7825) / 8 = 0.176875
    expect(accumulate(0.5, (p) => p).summary().brier).toBeCloseTo(0.176875, 12);
  });

  test('expected calibration error: 10 equal-width bins, |mean label − mean score| weighted by bin count', () => {
    // bin 9 [0.9,1): 0.9 (pos)  |1 − 0.9|  = 0.1  × 1/8 = 0.0125
    // bin 8: 0.8 (pos)          |1 − 0.8|  = 0.2  × 1/8 = 0.025
    // bin 7: 0.7 (neg)          |0 − 0.7|  = 0.7  × 1/8 = 0.0875
    // bin 6: 0.6 (pos)          |1 − 0.6|  = 0.4  × 1/8 = 0.05
    // bin 4: 0.4 (neg)          |0 − 0.4|  = 0.4  × 1/8 = 0.05
    // bin 3: 0.35 (pos), 0.35 (neg): mean label 0.5, mean score 0.35 → 0.15 × 2/8 = 0.0375
    // bin 1: 0.1 (neg)          |0 − 0.1|  = 0.1  × 1/8 = 0.0125
    // Sum: 0.275. (One bin over everything would give |0.5 − 0.5125| = 0.0125: binning matters.)
    expect(accumulate(0.5, (p) => p).summary().ece).toBeCloseTo(0.275, 12);
  });

  test('ECE of a perfectly calibrated bin is 0, and a score of 1 falls in the last bin', () => {
    // Four predictions at 0.25 with one positive (rate 0.25), and two at 1.0, both positive.
    const q = new QualityAccumulator({ problem: 'classification' });
    for (const y of [1, 0, 0, 0]) q.add(0.25, y);
    q.add(1, true);
    q.add(1, true);
    expect(q.summary().ece).toBeCloseTo(0, 12);
  });

  test('labels as booleans, 0/1 numbers and class names give the same metrics', () => {
    const booleans = accumulate(0.65, (p) => p).summary();
    expect(accumulate(0.65, (p) => (p ? 1 : 0)).summary()).toEqual(booleans);
    expect(accumulate(0.65, (p) => (p ? 'fraud' : 'legit'), 'fraud').summary()).toEqual(booleans);
  });

  test('metrics that need both classes or a predicted positive are absent without them', () => {
    const q = new QualityAccumulator({ problem: 'classification' });
    q.add(0.2, false);
    q.add(0.3, false);
    const s = q.summary();
    expect(s.accuracy).toBe(1);
    expect(s).not.toHaveProperty('auc');
    expect(s).not.toHaveProperty('precision');
    expect(s).not.toHaveProperty('recall');
    expect(new QualityAccumulator({ problem: 'classification' }).summary()).toEqual({ problem: 'classification', count: 0, threshold: 0.5 });
  });

  test('merge gives what adding every pair to one accumulator gives', () => {
    const a = new QualityAccumulator({ problem: 'classification', threshold: 0.65 });
    const b = new QualityAccumulator({ problem: 'classification', threshold: 0.65 });
    POSITIVES.forEach((s, i) => (i % 2 ? a : b).add(s, true));
    NEGATIVES.forEach((s, i) => (i % 2 ? b : a).add(s, false));
    expectSameMetrics(a.merge(b).summary(), accumulate(0.65, (p) => p).summary());
    expect(() => a.merge(new QualityAccumulator({ problem: 'classification' }))).toThrow(/differ/);
  });

  test('past the exact cap the histogram AUC stays within its stated error of the exact AUC', () => {
    // 40,000 distinct scores, positives shifted up; the exact AUC is computed here by ranks (Mann–Whitney U).
    const random = seededRandom(7);
    const pairs: [number, boolean][] = [];
    for (let i = 0; i < 40_000; i++) {
      const positive = random() < 0.3;
      pairs.push([(positive ? 0.2 : 0) + random() * 0.8, positive]);
    }
    const q = new QualityAccumulator({ problem: 'classification' });
    for (const [s, y] of pairs) q.add(s, y);
    const sorted = [...pairs].sort((x, y) => x[0] - y[0]);
    let negativesBelow = 0;
    let wins = 0;
    for (let i = 0; i < sorted.length;) {
      let j = i;
      let pos = 0;
      let neg = 0;
      for (; j < sorted.length && sorted[j][0] === sorted[i][0]; j++) sorted[j][1] ? pos++ : neg++;
      wins += pos * negativesBelow + 0.5 * pos * neg;
      negativesBelow += neg;
      i = j;
    }
    const positives = pairs.filter(([, y]) => y).length;
    const exact = wins / (positives * (pairs.length - positives));
    const s = q.summary();
    expect(pairs.length).toBeGreaterThan(AUC_EXACT_SCORES);
    expect(s.aucMaxError).toBeGreaterThan(0);
    expect(s.aucMaxError).toBeLessThan(1e-3);
    expect(Math.abs(s.auc! - exact)).toBeLessThanOrEqual(s.aucMaxError!);
  });

  test('pairs it cannot use are named with the fix', () => {
    const q = new QualityAccumulator({ problem: 'classification' });
    expect(q.problemOf(1.5, true)).toMatch(/outside 0–1/);
    expect(q.problemOf(Number.NaN, true)).toMatch(/not a finite number/);
    expect(q.problemOf(0.5, 'fraud')).toMatch(/positiveLabel/);
    expect(q.problemOf(0.5, 2)).toMatch(/boolean, 0 or 1/);
    expect(() => q.add(0.5, 2)).toThrow(/boolean, 0 or 1/);
    expect(q.count).toBe(0);
    expect(() => new QualityAccumulator({ problem: 'classification', threshold: 2 })).toThrow(/threshold 2/);
  });
});

describe('QualityAccumulator, regression', () => {
  test('MAE and RMSE', () => {
    // Predictions 3, 5, 2, 8 against labels 2.5, 5, 4, 7: errors 0.5, 0, −2, 1.
    // MAE = (0.5 + 0 + 2 + 1) / 4 = 0.875; RMSE = √((0.25 + 0 + 4 + 1) / 4) = √1.3125.
    const q = new QualityAccumulator({ problem: 'regression' });
    [[3, 2.5], [5, 5], [2, 4], [8, 7]].forEach(([p, y]) => q.add(p, y));
    expect(q.summary()).toEqual({ problem: 'regression', count: 4, mae: 0.875, rmse: Math.sqrt(1.3125) });
    expect(q.problemOf(1, true)).toMatch(/regression label is a finite number/);
  });
});
