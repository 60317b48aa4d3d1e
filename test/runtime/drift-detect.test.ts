/**
 * detectDrift end to end on profiles built row by row: no drift between two samples of one distribution at a million
 * rows (the effect-size methods at large samples), a 0.5σ mean shift and a category-mix shift found at 10k rows, each
 * data-quality issue, a collapsing recommender's diversity, hostile values that never throw, and the EMF lines.
 */
import { detectDrift, driftEmfLines } from '../../runtime/core/drift/detect';
import { DatasetProfile, flattenOutputs, ProfileBuilder } from '../../runtime/core/drift/profile';
import { DriftMetrics } from '../../runtime/core/metrics';
import { seededRandom } from '../../runtime/core/random';

const META = { model: 'fraud', modelVersion: '3', source: 'test' };
const NUMERIC = Array.from({ length: 16 }, (_, i) => `n${i}`);
const CATEGORICAL = ['c0', 'c1', 'c2', 'c3'];
const CATEGORIES = ['ios', 'android', 'web', 'kiosk', 'partner'];

interface Shape {
  /** Mean shift of n0, in standard deviations. */
  readonly shift?: number;
  /** Category weights of c0. */
  readonly mix?: readonly number[];
}

/** Profiles n rows of 16 numeric (uniform, width 1 + i) and 4 categorical features and a score output. */
function profile(n: number, seed: number, shape: Shape = {}, reference?: DatasetProfile): DatasetProfile {
  const random = seededRandom(seed);
  const builder = new ProfileBuilder({ reference });
  const features: Record<string, unknown> = {};
  const outputs = { score: [0] };
  const weights = [0.4, 0.3, 0.15, 0.1, 0.05];
  // Uniform values (one draw each, to keep a million rows fast): the standard deviation of U(0, 1) is 1/√12.
  const shift = (shape.shift ?? 0) / Math.sqrt(12);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < NUMERIC.length; i++) features[NUMERIC[i]] = 10 * i + (1 + i) * (random() + (i === 0 ? shift : 0));
    for (let i = 0; i < CATEGORICAL.length; i++) features[CATEGORICAL[i]] = pick(random(), i === 0 ? shape.mix ?? weights : weights);
    outputs.score[0] = random();
    builder.addRow(features, outputs);
  }
  return builder.build(META);
}

function pick(u: number, weights: readonly number[]): string {
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i];
    if (u < acc) return CATEGORIES[i];
  }
  return CATEGORIES[weights.length - 1];
}

const column = (report: ReturnType<typeof detectDrift>, name: string) => report.columns.find((c) => c.name === name)!;

describe('detectDrift', () => {
  test('a million rows from the baseline\'s distribution: no column drifts (normalized Wasserstein, Jensen–Shannon)', () => {
    const baseline = profile(1_000_000, 1);
    const current = profile(1_000_000, 2, {}, baseline);
    const report = detectDrift(baseline, current);
    expect(report.columns).toHaveLength(21);
    expect(report.columns.filter((c) => c.drifted).map((c) => c.name)).toEqual([]);
    expect(new Set(report.columns.filter((c) => c.kind === 'numeric').map((c) => c.method))).toEqual(new Set(['wasserstein']));
    expect(new Set(report.columns.filter((c) => c.kind === 'categorical').map((c) => c.method))).toEqual(new Set(['jensenshannon']));
    expect(report.datasetDrift).toBe(false);
    expect(report.predictionDrifted).toBe(false);
    expect(report.qualityIssues).toEqual([]);
    // The KS p-value is reported too, and at this size the sketches' rank error alone would make it flag: this is why
    // large samples decide on an effect size.
    expect(column(report, 'n3').statistics.ksPValue).toBeDefined();
  });

  test('10k rows: a 0.5σ mean shift and a category-mix shift are found; the other columns are not', () => {
    const baseline = profile(10_000, 1);
    const current = profile(10_000, 2, { shift: 0.5, mix: [0.1, 0.2, 0.3, 0.2, 0.2] }, baseline);
    const report = detectDrift(baseline, current);
    expect(report.columns.filter((c) => c.drifted).map((c) => c.name).sort()).toEqual(['c0', 'n0']);
    expect(column(report, 'n0').score).toBeGreaterThan(0.4);
    expect(column(report, 'n0').statistics.ksPValue).toBeLessThan(1e-6);
    expect(column(report, 'c0').statistics.chiSquarePValue).toBeLessThan(1e-6);
    expect(report.driftedFeatureShare).toBeCloseTo(2 / 20, 10);
    expect(report.datasetDrift).toBe(false);
    expect(detectDrift(baseline, current, { driftShare: 0.1 }).datasetDrift).toBe(true);
  });

  test('small reference (≤ 1000 rows): p-value tests (KS, chi-square), per-column overrides', () => {
    const baseline = profile(800, 1);
    const current = profile(800, 2, { shift: 0.5 }, baseline);
    const report = detectDrift(baseline, current, { columns: { n1: { method: 'psi', threshold: 0.5 } } });
    expect(column(report, 'n0')).toMatchObject({ method: 'ks', threshold: 0.05, drifted: true });
    expect(column(report, 'c1')).toMatchObject({ method: 'chisquare', threshold: 0.05 });
    expect(column(report, 'n1')).toMatchObject({ method: 'psi', threshold: 0.5, drifted: false });
  });

  test('data quality: null-rate jump, out of range, unseen categories, type change, constant', () => {
    const rows = (n: number, row: (i: number) => Record<string, unknown>, reference?: DatasetProfile) => {
      const builder = new ProfileBuilder({ reference });
      for (let i = 0; i < n; i++) builder.addRow(row(i), { label: i % 3 === 0 ? 'yes' : 'no' });
      return builder.build(META);
    };
    const baseline = rows(2000, (i) => ({ nully: i % 10, range: i % 100, cat: ['a', 'b', 'c'][i % 3], typed: i, flat: i % 4 }));
    const current = rows(2000, (i) => ({
      nully: i % 2 === 0 ? null : i % 10,
      range: i % 100 + (i % 5 === 0 ? 1000 : 0),
      cat: ['a', 'b', 'z'][i % 3],
      typed: i % 10 < 7 ? `#${i}` : i,
      flat: 2,
    }), baseline);
    const codes = (name: string) => column(detectDrift(baseline, current), name).issues.map((i) => i.code);
    expect(codes('nully')).toEqual(['NULL_RATE_JUMP']);
    expect(codes('range')).toEqual(['OUT_OF_RANGE']);
    expect(codes('cat')).toEqual(['UNSEEN_CATEGORIES']);
    expect(codes('typed')).toEqual(['TYPE_CHANGE']);
    expect(codes('flat')).toEqual(['CONSTANT']);
    const report = detectDrift(baseline, current);
    expect(report.qualityIssues.find((i) => i.code === 'OUT_OF_RANGE')).toMatchObject({ column: 'range', value: 0.2 });
    expect(report.qualityIssues.find((i) => i.code === 'NULL_RATE_JUMP')?.message).toBe('null rate 50.0 % (baseline 0.0 %)');
    // Thresholds are configurable.
    expect(detectDrift(baseline, current, { quality: { nullRateJump: 0.6 } }).qualityIssues.map((i) => i.code)).not.toContain('NULL_RATE_JUMP');
    // A column the window never had is all null.
    const missing = rows(100, () => ({ range: 1 }), baseline);
    expect(column(detectDrift(baseline, missing), 'cat').issues.map((i) => i.code)).toEqual(['NULL_RATE_JUMP']);
  });

  test('prediction diversity: a recommender collapsing onto one item is visible, and its output drifts', () => {
    const recommender = (n: number, seed: number, collapsed: boolean, reference?: DatasetProfile) => {
      const random = seededRandom(seed);
      const builder = new ProfileBuilder({ reference });
      for (let i = 0; i < n; i++) {
        const scores = Array.from({ length: 100 }, () => random());
        if (collapsed) scores[7] = 2;
        builder.addRow({ user_age: 20 + random() * 50 }, { item_scores: [scores] });
      }
      return builder.build(META);
    };
    // 20k rows: two healthy samples over 100 items then sit at a Jensen–Shannon distance of about √(99/(4·20000)) ≈ 0.035.
    const baseline = recommender(20_000, 1, false);
    const healthy = detectDrift(baseline, recommender(20_000, 2, false, baseline));
    const collapsed = detectDrift(baseline, recommender(20_000, 3, true, baseline));
    expect(baseline.topPrediction).toMatchObject({ output: 'item_scores', basis: 'argmax', distinct: 100 });
    expect(healthy.diversity).toMatchObject({ distinct: 100 });
    expect(healthy.predictionDrifted).toBe(false);
    expect(collapsed.diversity).toMatchObject({ distinct: 1, topShare: 1, share: 1 / 20_000 });
    expect(collapsed.baselineDiversity?.share).toBeCloseTo(100 / 20_000, 10);
    expect(column(collapsed, 'output:item_scores:argmax')).toMatchObject({ kind: 'categorical', drifted: true });
    expect(collapsed.predictionDrifted).toBe(true);
    // What alarms read: the most common top prediction's share (100 % = collapse), not the window-size-bound diversity.
    const [healthyLine, collapsedLine] = [healthy, collapsed].map((r) => JSON.parse(driftEmfLines(r)[0]));
    expect(collapsedLine[DriftMetrics.TOP_PREDICTION_SHARE]).toBe(100);
    expect(healthyLine[DriftMetrics.TOP_PREDICTION_SHARE]).toBeLessThan(5); // 100 items, about 1 % each
    expect(collapsedLine[DriftMetrics.PREDICTION_DIVERSITY]).toBeCloseTo(100 / 20_000, 10);
  });

  test('a scalar score: diversity counts the baseline\'s deciles', () => {
    const baseline = profile(5000, 1);
    expect(baseline.topPrediction).toMatchObject({ output: 'score', basis: 'decile', distinct: 10 });
    expect(baseline.topPrediction?.deciles).toHaveLength(9);
    const builder = new ProfileBuilder({ reference: baseline });
    for (let i = 0; i < 100; i++) builder.addRow({}, { score: [[0.95 + i / 10_000]] });
    expect(builder.build(META).topPrediction).toMatchObject({ basis: 'decile', distinct: 1, rows: 100, topShare: 1 });
  });

  test('EMF: one model line and one line per column, names from DriftMetrics', () => {
    const baseline = profile(2000, 1);
    const report = detectDrift(baseline, profile(2000, 2, { shift: 1 }, baseline));
    const lines = driftEmfLines(report, { timestampMs: 1_000, unreadableRecords: 3 }).map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1 + 21);
    expect(lines[0]).toMatchObject({
      Model: 'fraud',
      [DriftMetrics.DRIFTED_FEATURE_SHARE]: 5,
      [DriftMetrics.WINDOW_ROWS]: 2000,
      [DriftMetrics.UNREADABLE_RECORDS]: 3,
      [DriftMetrics.PREDICTION_DRIFTED]: 0,
    });
    expect(lines[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Model']]);
    const n0 = lines.find((l) => l.Feature === 'n0');
    expect(n0).toMatchObject({ [DriftMetrics.DRIFTED]: 1, method: 'wasserstein' });
    expect(n0[DriftMetrics.DRIFT_SCORE]).toBeGreaterThan(0.8);
    expect(n0._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Model', 'Feature'], ['Model']]);
  });
});

describe('ProfileBuilder and flattenOutputs', () => {
  test('outputs: scalars and one-element arrays, small vectors per element, large vectors by argmax', () => {
    expect(flattenOutputs({ p: [[0.93]], label: ['cat'], ok: true, probs: [0.1, 0.7, 0.2], big: Array.from({ length: 40 }, (_, i) => (i === 33 ? 1 : 0)) }))
      .toEqual({ 'output:p': 0.93, 'output:label': 'cat', 'output:ok': 'true', 'output:probs[0]': 0.1, 'output:probs[1]': 0.7, 'output:probs[2]': 0.2, 'output:big:argmax': '33' });
  });

  test('kinds inferred from the first non-null value; builders merge into the same profile as one pass', () => {
    const rows = Array.from({ length: 3000 }, (_, i) => [{ a: i % 50 === 0 ? null : i, b: i % 2 === 0, c: `k${i % 4}` }, { y: [i / 3000] }] as const);
    const one = new ProfileBuilder();
    rows.forEach(([f, o]) => one.addRow(f, o));
    const left = new ProfileBuilder();
    const right = new ProfileBuilder();
    rows.forEach(([f, o], i) => (i < 1000 ? left : right).addRow(f, o));
    const merged = left.merge(right).build({ ...META, createdAt: 'x' });
    const single = one.build({ ...META, createdAt: 'x' });
    expect(merged.columns.map((c) => [c.name, c.kind, c.rows, c.nulls])).toEqual([
      ['a', 'numeric', 3000, 60], ['b', 'categorical', 3000, 0], ['c', 'categorical', 3000, 0], ['output:y', 'numeric', 3000, 0],
    ]);
    const a = (p: DatasetProfile) => p.columns[0].numeric!;
    expect(a(merged).mean).toBeCloseTo(a(single).mean!, 9);
    expect(a(merged).std).toBeCloseTo(a(single).std!, 9);
    expect(merged.columns[1].categorical).toEqual(single.columns[1].categorical);
  });

  test('hostile values never throw: deep nesting, 1 MB strings, odd types, non-objects', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const builder = new ProfileBuilder({ columns: [{ name: 'x', role: 'feature', kind: 'numeric' }, { name: 's', role: 'feature', kind: 'categorical' }, { name: 'output:o', role: 'output' }] });
    const hostile: unknown[] = [deep, 'z'.repeat(1_000_000), { toString: null }, Infinity, -Infinity, NaN, 10n, Symbol('s'), () => 1, [1, 2], Object.create(null)];
    for (const v of hostile) builder.addRow({ x: v, s: v } as Record<string, unknown>, { o: v } as Record<string, unknown>);
    builder.addRow(null as unknown as Record<string, unknown>, 'nope' as unknown as Record<string, unknown>);
    const profile = builder.build(META);
    const [x, s] = profile.columns;
    expect(x).toMatchObject({ rows: 12, nulls: 2, wrongType: 10 });
    expect(s.categorical!.counts.find(([k]) => k.startsWith('zzz'))![0]).toHaveLength(256);
    expect(() => JSON.stringify(profile)).not.toThrow();
    expect(() => detectDrift(profile, profile)).not.toThrow();
  });
});
