import { FeatureDtype, type FeatureViewSpec } from '../../lib/features/spec';
import { ProfileBuilder } from '../../runtime/core/drift/profile';
import {
  buildLineage, checkModel, checkTrainingData, costPer1000Predictions, type DataGateSpec, expectedColumnsOf, GateSpecError, type LineageInput,
  MarginKind, MetricDirection, type ModelGateSpec, toModelPackageMetadata,
} from '../../runtime/core/training';

const check = (result: { checks: readonly { name: string; column?: string }[] }, name: string, column?: string) =>
  result.checks.find((c) => c.name === name && (column === undefined || c.column === column)) as any;

const AUC: ModelGateSpec = { metric: { name: 'auc', direction: MetricDirection.HIGHER_IS_BETTER, minMargin: 0.01 } };

describe('model gate: challenger vs champion', () => {
  test('champion AUC 0.91, challenger 0.915, margin 0.01: fails by 0.005', () => {
    const result = checkModel({ challenger: { metrics: { auc: 0.915 } }, champion: { metrics: { auc: 0.91 } } }, AUC);
    expect(result.passed).toBe(false);
    expect(check(result, 'metric').observed).toBeCloseTo(0.005, 12);
    expect(check(result, 'metric').reason).toBe(
      'challenger auc 0.915 vs champion 0.91 (higher-is-better): improvement 0.005 is short of the margin 0.01 by 0.005');
  });

  test('challenger 0.925 beats 0.91 by 0.015 ≥ 0.01; 0.3 vs 0.2 meets a margin of 0.1 despite 0.3 − 0.2 = 0.0999…98', () => {
    expect(checkModel({ challenger: { metrics: { auc: 0.925 } }, champion: { metrics: { auc: 0.91 } } }, AUC).passed).toBe(true);
    const spec: ModelGateSpec = { metric: { name: 'auc', direction: 'higher-is-better', minMargin: 0.1 } };
    expect(checkModel({ challenger: { metrics: { auc: 0.3 } }, champion: { metrics: { auc: 0.2 } } }, spec).passed).toBe(true);
  });

  test('lower is better, relative margin: log loss 0.40 → 0.38 is a 5 % gain, enough for 2 %, not for 10 %', () => {
    const spec = (minMargin: number): ModelGateSpec => ({ metric: { name: 'logloss', direction: MetricDirection.LOWER_IS_BETTER, minMargin, marginKind: MarginKind.RELATIVE } });
    const input = { challenger: { metrics: { logloss: 0.38 } }, champion: { metrics: { logloss: 0.4 } } };
    expect(check(checkModel(input, spec(0.02)), 'metric')).toMatchObject({ passed: true });
    expect(check(checkModel(input, spec(0.02)), 'metric').observed).toBeCloseTo(0.05, 12);
    expect(check(checkModel(input, spec(0.1)), 'metric')).toMatchObject({ passed: false, threshold: 0.1 });
    expect(check(checkModel({ ...input, champion: { metrics: { logloss: 0 } } }, spec(0.02)), 'metric').reason).toMatch(/is 0, so a relative margin is undefined; use an absolute margin/);
  });

  test('no champion: the first model passes on its constraints alone', () => {
    const result = checkModel({ challenger: { metrics: { auc: 0.7 } } }, AUC);
    expect(result.passed).toBe(true);
    expect(check(result, 'metric').reason).toBe('no champion: the first model (auc 0.7) is judged on the serving constraints alone');
  });

  test('a champion without the metric fails with the reason; hostile challenger metrics fail, never pass', () => {
    const noMetric = checkModel({ challenger: { metrics: { auc: 0.95 } }, champion: { metrics: { accuracy: 0.9 } } }, AUC);
    expect(check(noMetric, 'metric')).toMatchObject({ passed: false, observed: null });
    expect(check(noMetric, 'metric').reason).toBe("the champion's metric auc is missing; evaluate the champion on the same data before comparing");
    for (const auc of [NaN, Infinity, -Infinity, '0.99' as unknown as number, undefined as unknown as number]) {
      const r = checkModel({ challenger: { metrics: { auc } }, champion: { metrics: { auc: 0.5 } } }, AUC);
      expect(r.passed).toBe(false);
      expect(check(r, 'metric').reason).toMatch(/^the challenger's metric auc is .+; the evaluation must report a finite auc$/);
    }
    expect(checkModel({ challenger: { metrics: { auc: 0.95 } }, champion: { metrics: { auc: NaN } } }, AUC).passed).toBe(false);
  });
});

describe('model gate: serving constraints', () => {
  const serving: ModelGateSpec = { ...AUC, serving: { maxLatencyP99Ms: 50, maxModelBytes: 500_000_000, maxCostPer1000: 0.002 } };
  const champion = { metrics: { auc: 0.9 } };

  test('latency budget 50 ms, measured p99 62 ms: fails naming both numbers', () => {
    const result = checkModel({ challenger: { metrics: { auc: 0.95 }, serving: { latencyP99Ms: 62, modelBytes: 1e6, pricePerHour: 1.408, throughputPerSecond: 200 } }, champion }, serving);
    expect(result.passed).toBe(false);
    expect(check(result, 'latency-p99')).toEqual({ name: 'latency-p99', passed: false, observed: 62, threshold: 50, reason: 'p99 latency 62 ms exceeds the budget of 50 ms' });
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['latency-p99']);
  });

  test('cost per 1,000: $1.408/h at 200/s = 1.408 / 720,000 × 1000 = $0.00195556 ≤ $0.002; at 150/s $0.00260741 > $0.002', () => {
    expect(costPer1000Predictions(1.408, 200)).toBeCloseTo(0.0019555556, 9);
    expect(costPer1000Predictions(1.408, 150)).toBeCloseTo(0.0026074074, 9);
    expect(costPer1000Predictions(1.408, 0)).toBe(Infinity);
    const measured = (throughputPerSecond: number) => ({ latencyP99Ms: 20, modelBytes: 1e6, pricePerHour: 1.408, throughputPerSecond });
    expect(checkModel({ challenger: { metrics: { auc: 0.95 }, serving: measured(200) }, champion }, serving).passed).toBe(true);
    const slow = check(checkModel({ challenger: { metrics: { auc: 0.95 }, serving: measured(150) }, champion }, serving), 'cost-per-1000');
    expect(slow).toMatchObject({ passed: false, threshold: 0.002 });
    expect(slow.reason).toBe('cost per 1,000 predictions 0.00260741 (1.408 per hour / (150/s × 3600) × 1000) exceeds the maximum of 0.002');
    expect(check(checkModel({ challenger: { metrics: { auc: 0.95 }, serving: measured(0) }, champion }, serving), 'cost-per-1000').passed).toBe(false);
  });

  test('a constraint set but not measured (or NaN) fails; model size over the maximum fails', () => {
    const result = checkModel({ challenger: { metrics: { auc: 0.95 }, serving: { latencyP99Ms: NaN, modelBytes: 600_000_000 } }, champion }, serving);
    expect(check(result, 'latency-p99')).toMatchObject({ passed: false, observed: null });
    expect(check(result, 'model-size').reason).toBe('model size 600000000 bytes exceeds the maximum of 500000000 bytes');
    expect(check(result, 'cost-per-1000').reason).toMatch(/needs the instance price per hour \(got undefined\) and the measured throughput per second \(got undefined\)/);
  });

  test('report values nested 100,000 deep or 1 MB long fail their checks with a short reason, never a stack overflow', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const long = 'x'.repeat(1024 * 1024);
    for (const hostile of [deep, long]) {
      const h = hostile as number;
      const result = checkModel({ challenger: { metrics: { auc: h }, serving: { latencyP99Ms: h, modelBytes: h, pricePerHour: h, throughputPerSecond: h } }, champion: { metrics: { auc: h } } }, serving);
      expect(result.passed).toBe(false);
      expect(result.checks.map((c) => [c.name, c.passed])).toEqual([['metric', false], ['latency-p99', false], ['model-size', false], ['cost-per-1000', false]]);
      for (const c of result.checks) expect(c.reason.length).toBeLessThan(300);
    }
    expect(check(checkModel({ challenger: { metrics: { auc: deep as number } }, champion }, AUC), 'metric').reason).toBe("the challenger's metric auc is an array of 1; the evaluation must report a finite auc");
  });

  test('unset constraints are not checked', () => {
    expect(checkModel({ challenger: { metrics: { auc: 0.95 } }, champion }, AUC).checks.map((c) => c.name)).toEqual(['metric']);
  });

  test('invalid specs: every problem named with the field', () => {
    const bad = { metric: { name: '', direction: 'up', minMargin: NaN, marginKind: 'percent' }, serving: { maxLatencyP99Ms: Infinity, maxModelBytes: -1, maxCostPer1000: 0 } } as any;
    expect(() => checkModel({ challenger: { metrics: {} } }, bad)).toThrow(GateSpecError);
    try {
      checkModel({ challenger: { metrics: {} } }, bad);
    } catch (e) {
      const problems = (e as GateSpecError).problems.join('\n');
      for (const field of ['metric.name', 'metric.direction is up', 'metric.marginKind is percent', 'metric.minMargin is NaN', 'serving.maxLatencyP99Ms is Infinity', 'serving.maxModelBytes is -1', 'serving.maxCostPer1000 is 0']) {
        expect(problems).toContain(field);
      }
    }
    expect(() => checkModel({ challenger: { metrics: {} } }, null as any)).toThrow(/metric is required/);
  });
});

const view: FeatureViewSpec = {
  specFormat: 1, name: 'txn', version: 1, entities: [{ name: 'customer', joinKeys: ['customer_id'] }], eventTimeField: 'event_time',
  features: [{ name: 'amount', dtype: FeatureDtype.FLOAT64 }, { name: 'count_1h', dtype: FeatureDtype.INT64 }, { name: 'device', dtype: FeatureDtype.STRING }],
  ttlSeconds: 86_400, freshnessSeconds: 300,
};

/** n rows: amount 1..n/10 cycling, count 0..9, device a/b, label 1 in every 4th row (25 %). */
function rows(n: number, change: (row: Record<string, unknown>, i: number) => void = () => {}): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => {
    const row: Record<string, unknown> = { txn__amount: (i % 100) + 0.5, txn__count_1h: i % 10, txn__device: i % 2 ? 'a' : 'b', label: i % 4 === 0 ? 1 : 0 };
    change(row, i);
    return row;
  });
}

const DATA: DataGateSpec = {
  columns: expectedColumnsOf([view]),
  label: { name: 'label', dtype: FeatureDtype.INT64, task: 'classification', minClassShare: 0.1 },
  minRows: 1000,
};

describe('data gate', () => {
  test('expected columns come from the feature view: view__feature typed from the spec, profiled as view:feature', () => {
    expect(expectedColumnsOf([view])).toEqual([
      { name: 'txn__amount', dtype: 'float64', profileName: 'txn:amount' },
      { name: 'txn__count_1h', dtype: 'int64', profileName: 'txn:count_1h' },
      { name: 'txn__device', dtype: 'string', profileName: 'txn:device' },
    ]);
  });

  test('a clean set of 1,000 rows passes every check: rows, schema and null rate per column, label classes and share', () => {
    const result = checkTrainingData({ rows: rows(1000) }, DATA);
    expect(result.checks.filter((c) => !c.passed)).toEqual([]);
    expect(result.passed).toBe(true);
    expect(check(result, 'label-class-share')).toMatchObject({ observed: 0.25, threshold: 0.1, reason: 'label label: rarest class 1 is 250 of 1000 (25 %), at or above the minimum of 10 %' });
    expect(result.checks.map((c) => c.name)).toEqual(['row-count', ...Array(4).fill(['schema', 'null-rate']).flat(), 'label-classes', 'label-class-share']);
  });

  test('null rate: 60 of 1,000 amounts null (6 %) fails the default 5 %; a per-column override of 10 % passes it', () => {
    const data = rows(1000, (r, i) => { if (i < 60) r.txn__amount = i % 2 ? null : NaN; });
    const failed = check(checkTrainingData({ rows: data }, DATA), 'null-rate', 'txn__amount');
    expect(failed).toMatchObject({ passed: false, observed: 0.06, threshold: 0.05, reason: 'column txn__amount: 60 of 1000 null (6 %), above the maximum of 5 %' });
    const columns = DATA.columns.map((c) => (c.name === 'txn__amount' ? { ...c, maxNullRate: 0.1 } : c));
    expect(checkTrainingData({ rows: data }, { ...DATA, columns }).passed).toBe(true);
  });

  test('schema: a missing column, wrong types (a string amount, 1.5 in an int64, Infinity) fail naming column and type', () => {
    const data = rows(1000, (r, i) => {
      delete r.txn__device;
      if (i === 0) r.txn__amount = '12.5';
      if (i === 1) r.txn__amount = Infinity;
      if (i === 2) r.txn__count_1h = 1.5;
    });
    const result = checkTrainingData({ rows: data }, DATA);
    expect(check(result, 'schema', 'txn__device')).toMatchObject({ passed: false, observed: null, reason: 'column txn__device (string) is missing from the training set' });
    expect(check(result, 'schema', 'txn__amount')).toMatchObject({ passed: false, observed: 0.002 });
    expect(check(result, 'schema', 'txn__amount').reason).toBe('column txn__amount: 2 of 1000 values are not float64 (0.2 %), above 0 %; fix the producer or the declared type');
    expect(check(result, 'schema', 'txn__count_1h')).toMatchObject({ passed: false, observed: 0.001 });
  });

  test('empty data fails (0 rows, no null rate to measure, no classes) and never throws', () => {
    const result = checkTrainingData({ rows: [] }, DATA);
    expect(result.passed).toBe(false);
    expect(check(result, 'row-count')).toMatchObject({ passed: false, observed: 0, threshold: 1000, reason: '0 rows is fewer than the minimum of 1000' });
    expect(check(result, 'null-rate', 'txn__amount')).toMatchObject({ passed: false, observed: null });
    expect(check(result, 'label-classes')).toMatchObject({ passed: false, observed: 0 });
  });

  test('a column all null fails its null rate at 100 %; hostile rows (null, a number, an array) are counted, never thrown', () => {
    const data: any[] = rows(1000, (r) => { r.txn__count_1h = null; });
    data.push(null, 42, [1, 2]);
    const result = checkTrainingData({ rows: data }, DATA);
    expect(check(result, 'row-count').observed).toBe(1003);
    expect(check(result, 'null-rate', 'txn__count_1h')).toMatchObject({ passed: false, observed: 1 });
  });

  test('label: one class only fails; a rare class of 5 % fails a 10 % minimum; a regression label outside its bounds fails', () => {
    expect(check(checkTrainingData({ rows: rows(1000, (r) => { r.label = 0; }) }, DATA), 'label-classes').reason).toBe('label label has 1 class (0); a classifier needs at least 2');
    const rare = check(checkTrainingData({ rows: rows(1000, (r, i) => { r.label = i % 20 === 0 ? 1 : 0; }) }, DATA), 'label-class-share');
    expect(rare).toMatchObject({ passed: false, observed: 0.05 });
    const regression: DataGateSpec = { ...DATA, label: { name: 'label', dtype: FeatureDtype.FLOAT64, task: 'regression', min: 0, max: 1 } };
    const result = checkTrainingData({ rows: rows(1000, (r, i) => { r.label = i === 7 ? 1.5 : 0.5; }) }, regression);
    expect(check(result, 'label-max')).toMatchObject({ passed: false, observed: 1.5, threshold: 1, reason: 'label label maximum 1.5 is above the bound 1' });
    expect(check(result, 'label-min').passed).toBe(true);
  });

  test('a profile instead of rows: the same null and label verdicts from its counts (a numeric label\'s classes approximate)', () => {
    const builder = new ProfileBuilder();
    for (const r of rows(1000, (row, i) => { if (i < 80) row.txn__device = null; })) {
      builder.addRow({ 'txn:amount': r.txn__amount, 'txn:count_1h': r.txn__count_1h, 'txn:device': r.txn__device, label: r.label }, {});
    }
    const result = checkTrainingData({ profile: builder.build({ model: 'm', modelVersion: '1', source: 'test' }) }, DATA);
    expect(check(result, 'null-rate', 'txn__device')).toMatchObject({ passed: false, observed: 0.08 });
    // The label was profiled as numbers here: its class counts come from the KLL sketch's weights, approximate.
    expect(check(result, 'label-class-share').passed).toBe(true);
    expect(check(result, 'label-class-share').observed).toBeCloseTo(0.25, 1);
    expect(result.checks.filter((c) => !c.passed).map((c) => `${c.name}:${c.column}`)).toEqual(['null-rate:txn__device']);
  });

  describe('drift against a baseline (runtime/core/drift detectDrift)', () => {
    const baseline = (() => {
      const builder = new ProfileBuilder();
      for (const r of rows(2000)) builder.addRow({ 'txn:amount': r.txn__amount, 'txn:count_1h': r.txn__count_1h, 'txn:device': r.txn__device }, { score: 0.5 });
      return builder.build({ model: 'm', modelVersion: '1', source: 'baseline' });
    })();

    test('data from the baseline\'s distribution does not drift', () => {
      const result = checkTrainingData({ rows: rows(1000) }, { ...DATA, drift: { baseline } });
      expect(check(result, 'drift')).toMatchObject({ passed: true, observed: 0, threshold: 0.5 });
      expect(result.passed).toBe(true);
    });

    test('amount shifted by +50 and devices all "a": 2 of 3 features drift, ≥ 50 % fails naming them', () => {
      const shifted = rows(1000, (r) => { r.txn__amount = (r.txn__amount as number) + 50; r.txn__device = 'a'; });
      const drift = check(checkTrainingData({ rows: shifted }, { ...DATA, drift: { baseline } }), 'drift');
      expect(drift.passed).toBe(false);
      expect(drift.observed).toBeCloseTo(2 / 3, 12);
      expect(drift.reason).toMatch(/^2 of 3 features drifted against the baseline \(66\.6667 %; dataset drift at 50 %\): txn:amount \(wasserstein [\d.]+\), txn:device \(jensenshannon [\d.]+\)$/);
    });
  });

  test('invalid specs: every problem named with the field', () => {
    const bad = {
      columns: [{ name: 'a', dtype: 'float' }, { name: 'v', dtype: FeatureDtype.FLOAT32_VECTOR }, { name: 'a', dtype: 'int64', maxNullRate: 1.5 }],
      label: { name: 'y', dtype: 'int64', task: 'ranking', min: 2, max: 1 },
      minRows: 0, maxNullRate: -0.1, maxTypeErrorRate: NaN, drift: { baseline: {} },
    } as any;
    try {
      checkTrainingData({ rows: [] }, bad);
      throw new Error('expected a GateSpecError');
    } catch (e) {
      expect(e).toBeInstanceOf(GateSpecError);
      const problems = (e as GateSpecError).problems.join('\n');
      for (const text of ['columns[0].dtype is float', 'columns[1].dimension must be a positive integer', 'columns[2].maxNullRate is number 1.5', 'columns: a is listed twice',
        'label.task is ranking', 'label.min (2) is above label.max (1)', 'minRows is 0', 'maxNullRate is number -0.1', 'maxTypeErrorRate is number NaN', 'drift.baseline must be a DatasetProfile']) {
        expect(problems).toContain(text);
      }
    }
  });
});

const LINEAGE: LineageInput = {
  data: { datasetUri: 's3://training/sets/run-42/', rowCount: 125_000, timeRange: { start: '2026-01-01T00:00:00.000Z', end: '2026-03-01T00:00:00.000Z' }, manifestSha256: 'a'.repeat(64) },
  gitSha: '69161c6', imageDigest: `sha256:${'b'.repeat(64)}`,
  hyperparameters: { learning_rate: 0.05, layers: 4, optimizer: 'adam', early_stopping: true },
  metrics: { auc: 0.925 },
  createdAt: '2026-03-02T00:00:00.000Z',
};

describe('lineage', () => {
  test('a record with the gate verdicts, JSON round-trips and fits SageMaker metadata without cuts', () => {
    const model = checkModel({ challenger: { metrics: { auc: 0.915 } }, champion: { metrics: { auc: 0.91 } } }, AUC);
    const record = buildLineage({ ...LINEAGE, gates: { model } });
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    expect(record.gates.model).toEqual({ passed: false, checks: 1, failed: [{ name: 'metric', reason: model.checks[0].reason }] });
    const { properties, cut } = toModelPackageMetadata(record);
    expect(cut).toEqual([]);
    expect(properties).toMatchObject({
      'data:uri': 's3://training/sets/run-42/', 'data:rows': '125000', 'data:manifestSha256': 'a'.repeat(64), 'code:gitSha': '69161c6',
      'image:digest': `sha256:${'b'.repeat(64)}`, 'gate:model': 'failed: metric', 'metric:auc': '0.925', 'hp:learning_rate': '0.05', 'hp:early_stopping': 'true',
    });
  });

  test('metadata stays within 50 keys, 128-character keys and 256-character values, with allowed characters, and says what it cut', () => {
    const hyperparameters = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`p${String(i).padStart(2, '0')}`, i]));
    const record = buildLineage({ ...LINEAGE, hyperparameters: { ...hyperparameters, ['k'.repeat(200)]: 1, 'json{x}': '{"a": [1, 2]}' }, data: { ...LINEAGE.data, datasetUri: `s3://b/${'x'.repeat(300)}` } });
    const { properties, cut } = toModelPackageMetadata(record);
    const keys = Object.keys(properties);
    expect(keys).toHaveLength(50);
    for (const [k, v] of Object.entries(properties)) {
      expect(k.length).toBeLessThanOrEqual(128);
      expect(v.length).toBeLessThanOrEqual(256);
      expect(`${k}${v}`).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u);
    }
    expect(properties['data:uri']).toHaveLength(256);
    expect(cut).toContain('data:uri cut to 256 characters');
    expect(cut).toContain('hp:p59 omitted (50 keys)');
    expect(cut.filter((c) => c.endsWith('omitted (50 keys)')).length + 50).toBe(9 + 1 + 60 + 1);
    expect(cut.some((c) => c.includes('(key over 128 characters)'))).toBe(true);
  });

  test('invalid lineage: NaN metrics, Infinity, a tag instead of a digest, a reversed time range — every field named', () => {
    try {
      buildLineage({
        ...LINEAGE, metrics: { auc: NaN, loss: Infinity }, hyperparameters: { lr: NaN }, imageDigest: 'latest', gitSha: 'main',
        data: { ...LINEAGE.data, rowCount: -1, manifestSha256: 'xyz', timeRange: { start: '2026-03-01T00:00:00Z', end: '2026-01-01T00:00:00Z' } },
      });
      throw new Error('expected a GateSpecError');
    } catch (e) {
      const problems = (e as GateSpecError).problems.join('\n');
      for (const text of ['metrics.auc is NaN', 'metrics.loss is Infinity', 'hyperparameters.lr is NaN', 'imageDigest must be sha256:', 'gitSha must be a git commit',
        'data.rowCount is -1', 'data.manifestSha256 must be 64', 'data.timeRange starts (2026-03-01T00:00:00Z) after it ends']) {
        expect(problems).toContain(text);
      }
    }
  });
});
