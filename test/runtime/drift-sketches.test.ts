/**
 * The bounded-memory summaries behind drift profiles: the KLL sketch keeps its stated normalized rank error
 * (`kllRankError(k)`, 1.33 % at k = 200) on uniform and heavy-tailed streams, merges like one stream, survives JSON;
 * the category counter is exact below its capacity and keeps the heavy hitters above it.
 */
import { CategoryCounter } from '../../runtime/core/drift/category-counter';
import { kllRankError, lowerBound, QuantileSketch, upperBound } from '../../runtime/core/drift/quantile-sketch';
import { seededRandom } from '../../runtime/core/random';

/** Largest |true rank(quantile(q)) − q| over q = 0.01 … 0.99, against the exact sorted sample. */
function maxRankError(sketch: QuantileSketch, sorted: Float64Array): number {
  let worst = 0;
  for (let i = 1; i < 100; i++) {
    const q = i / 100;
    const v = sketch.quantile(q);
    // True normalized ranks of v: values < v and values ≤ v; the error is the distance from q to that interval.
    const below = lowerBound(sorted, v) / sorted.length;
    const atOrBelow = upperBound(sorted, v) / sorted.length;
    worst = Math.max(worst, q < below ? below - q : q > atOrBelow ? q - atOrBelow : 0);
  }
  return worst;
}


function sample(n: number, seed: number, draw: (u: number) => number): Float64Array {
  const random = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = draw(random());
  return out;
}

const uniform = (u: number) => u;
/** Pareto with shape 1.2 (infinite variance): a heavy right tail. */
const pareto = (u: number) => 1 / Math.pow(1 - u, 1 / 1.2);

describe('QuantileSketch (KLL)', () => {
  const bound = kllRankError(200);

  test('the stated bound is 2.296 / k^0.9723 (1.33 % at k = 200)', () => {
    expect(bound).toBeCloseTo(0.0133, 4);
  });

  test.each([
    ['uniform', 1_000_000, uniform],
    ['Pareto(1.2), heavy-tailed', 200_000, pareto],
  ])('%s, %i values: every percentile within the rank error; min and max exact; memory bounded', (_, n, draw) => {
    const values = sample(n, 11, draw);
    const sketch = new QuantileSketch();
    sketch.updateMany(values);
    const sorted = Float64Array.from(values).sort();
    expect(sketch.count).toBe(n);
    expect(sketch.min).toBe(sorted[0]);
    expect(sketch.max).toBe(sorted[n - 1]);
    expect(maxRankError(sketch, sorted)).toBeLessThanOrEqual(bound);
    const retained = sketch.toJSON().levels.reduce((s, l) => s + l.length, 0);
    expect(retained).toBeLessThan(3 * 200 + 100);
    // cdf is the inverse view: cdf(quantile(0.5)) ≈ 0.5.
    expect(Math.abs(sketch.cdf(sketch.quantile(0.5)) - 0.5)).toBeLessThanOrEqual(bound);
  });

  test('merging sketches of four parts is as accurate as one stream, and the weights add up exactly', () => {
    const values = sample(400_000, 5, pareto);
    const parts = [0, 1, 2, 3].map((p) => {
      const s = new QuantileSketch({ seed: p + 1 });
      s.updateMany(values.subarray(p * 100_000, (p + 1) * 100_000));
      return s;
    });
    const merged = parts.reduce((a, b) => a.merge(b));
    const sorted = Float64Array.from(values).sort();
    expect(merged.count).toBe(400_000);
    expect(merged.min).toBe(sorted[0]);
    expect(merged.max).toBe(sorted[sorted.length - 1]);
    expect(maxRankError(merged, sorted)).toBeLessThanOrEqual(bound);
    const { cumulative } = merged.sorted();
    expect(cumulative[cumulative.length - 1]).toBe(400_000);
  });

  test('small samples are exact; JSON round trip keeps every answer; non-finite values are ignored', () => {
    const sketch = new QuantileSketch();
    sketch.updateMany([5, 1, 4, 2, 3, NaN, Infinity, -Infinity]);
    expect(sketch.count).toBe(5);
    expect([0.2, 0.4, 0.6, 0.8, 1].map((q) => sketch.quantile(q))).toEqual([1, 2, 3, 4, 5]);
    expect(sketch.cdf(2.5)).toBe(0.4);
    const copy = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(sketch)));
    expect(copy.toJSON()).toEqual(sketch.toJSON());
    expect(() => QuantileSketch.fromJSON({ k: 200, n: 3, min: 0, max: 1, levels: [[0, 1]] })).toThrow(/levels weigh 2, n is 3/);
    expect(new QuantileSketch().quantile(0.5)).toBeNaN();
  });
});

describe('CategoryCounter', () => {
  test('exact below capacity: counts, distinct, no other; long values cut to 256 characters', () => {
    const counter = new CategoryCounter({ capacity: 10 });
    for (let i = 0; i < 1000; i++) counter.add(`v${i % 7}`);
    counter.add('x'.repeat(1_000_000));
    expect(counter.exact).toBe(true);
    expect(counter.distinct).toBe(8);
    expect(counter.total).toBe(1001);
    expect(counter.otherCount).toBe(0);
    expect(counter.get('v0')).toBe(143);
    expect(counter.get('x'.repeat(256))).toBe(1);
    expect(counter.top(2)).toEqual([['v0', 143], ['v1', 143]]);
  });

  test('above capacity: every value over total/(capacity+1) is kept, each count within total/(capacity+1) below the truth', () => {
    const random = seededRandom(3);
    const counter = new CategoryCounter({ capacity: 50 });
    const truth = new Map<string, number>();
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      // Three heavy hitters (20 %, 10 %, 5 %) over a long tail of 100,000 values.
      const u = random();
      const value = u < 0.2 ? 'hot' : u < 0.3 ? 'warm' : u < 0.35 ? 'mild' : `tail${Math.floor(random() * 100_000)}`;
      truth.set(value, (truth.get(value) ?? 0) + 1);
      counter.add(value);
    }
    const slack = n / 51;
    expect(counter.exact).toBe(false);
    expect(counter.distinct).toBeGreaterThan(50);
    expect(counter.top(3).map((e) => e[0])).toEqual(['hot', 'warm', 'mild']);
    for (const [value, count] of truth) {
      if (count > slack) expect(counter.get(value)).toBeGreaterThan(0);
      expect(counter.get(value)).toBeLessThanOrEqual(count);
      expect(counter.get(value)).toBeGreaterThanOrEqual(count - slack);
    }
    expect(counter.otherCount).toBe(n - counter.top().reduce((s, e) => s + e[1], 0));
  });

  test('merge: exact while the union fits; heavy hitters kept when it does not; JSON round trip', () => {
    const a = new CategoryCounter({ capacity: 4 });
    const b = new CategoryCounter({ capacity: 4 });
    ['x', 'x', 'y'].forEach((v) => a.add(v));
    ['x', 'z'].forEach((v) => b.add(v));
    a.merge(b);
    expect(a.exact).toBe(true);
    expect(a.top()).toEqual([['x', 3], ['y', 1], ['z', 1]]);
    const c = new CategoryCounter({ capacity: 4 });
    ['p', 'q', 'r', 's', 'x', 'x', 'x', 'x', 'x'].forEach((v) => c.add(v));
    a.merge(c);
    expect(a.exact).toBe(false);
    expect(a.top(1)[0][0]).toBe('x');
    expect(a.total).toBe(14);
    expect(CategoryCounter.fromJSON(JSON.parse(JSON.stringify(a))).toJSON()).toEqual(a.toJSON());
  });
});
