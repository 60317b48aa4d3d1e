/**
 * The baseline builder (runtime/offline/baseline.ts) and store (runtime/aws/baseline-store.ts): profiles of generated
 * Parquet / CSV / JSON-lines training sets checked against values computed here; quality from a label + score column;
 * an offline-store window and the gateway's own prediction logs profiled under the same column names; the store on
 * s3rver.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer as createHttpServer } from 'http';
import { createServer, Socket } from 'net';
import type { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { gzipSync } from 'zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../../examples/fraud-features';
import { FeatureViewSpec, offlinePartitionPrefix, validateRecord } from '../../lib/features/spec';
import { EmbeddedModelInvoker } from '../../runtime/backends/embedded-model-invoker';
import { OnlineFeatureClient, putOnlineRow } from '../../runtime/aws/online-store';
import { parseBaseline, readBaseline, writeBaseline } from '../../runtime/aws/baseline-store';
import { baselineKey, partitionDate, partitionHour, predictionLogDayPrefix } from '../../runtime/core/datasets';
import { ColumnProfile, DatasetProfile, PROFILE_SCHEMA } from '../../runtime/core/drift/profile';
import { kllRankError, QuantileSketch } from '../../runtime/core/drift/quantile-sketch';
import { GatewayCore } from '../../runtime/core/gateway-core';
import { encodeParquet, OfflineRow } from '../../runtime/core/offline-parquet';
import { PredictionLogRecord, toJsonLine } from '../../runtime/core/prediction-log';
import { seededRandom } from '../../runtime/core/random';
import { buildBaseline, TrainingSetSource } from '../../runtime/offline/baseline';
import { MODELS_DIR } from '../inference-server/server-process';
import { createOnlineTable, localClientConfig, S3StandIn, startDynalite, startS3StandIn } from '../support/local-aws';

const N = 20_000;
const DEVICES = ['ios', 'android', 'web'];

/** One generated training row (what the files hold). */
interface TrainingRow {
  customer_id: string;
  event_timestamp: string;
  amount: number | null;
  txn_count: number;
  device: string | null;
  is_new: boolean;
  customer_txn_stats__txn_amount_avg_24h: number;
  score: number;
  is_fraud: boolean;
}

function generate(): TrainingRow[] {
  const random = seededRandom(20261201);
  return Array.from({ length: N }, (_, i) => {
    const fraud = random() < 0.1;
    const u = random();
    return {
      customer_id: `c${i % 500}`,
      event_timestamp: new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString(),
      amount: random() < 0.05 ? null : Math.round(Math.exp(3 + 1.5 * (random() - 0.5)) * 100) / 100,
      txn_count: Math.floor(random() * 21),
      device: random() < 0.02 ? null : u < 0.5 ? DEVICES[0] : u < 0.8 ? DEVICES[1] : DEVICES[2],
      is_new: random() < 0.3,
      customer_txn_stats__txn_amount_avg_24h: Math.round(random() * 500_00) / 100,
      // A useful but imperfect score, 3 decimals (ties on purpose).
      score: Math.round(Math.min(1, Math.max(0, (fraud ? 0.65 : 0.3) + (random() - 0.5) * 0.7)) * 1000) / 1000,
      is_fraud: fraud,
    };
  });
}

let dir: string;
let rows: TrainingRow[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'baseline-'));
  rows = generate();
  writeFileSync(join(dir, 'train.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const typed = `SELECT customer_id, CAST(event_timestamp AS TIMESTAMP) AS event_timestamp, CAST(amount AS DOUBLE) AS amount,
    CAST(txn_count AS BIGINT) AS txn_count, device, is_new, CAST(customer_txn_stats__txn_amount_avg_24h AS DOUBLE) AS customer_txn_stats__txn_amount_avg_24h,
    CAST(score AS DOUBLE) AS score, is_fraud FROM read_json('${join(dir, 'train.jsonl')}', format = 'newline_delimited')`;
  await connection.run(`CREATE TABLE train AS ${typed}`);
  await connection.run(`COPY train TO '${join(dir, 'train.parquet')}' (FORMAT parquet)`);
  await connection.run(`COPY train TO '${join(dir, 'train.csv')}' (FORMAT csv, HEADER true)`);
  mkdirSync(join(dir, 'parts'));
  await connection.run(`COPY (SELECT * FROM train WHERE txn_count < 10) TO '${join(dir, 'parts', 'part-0.parquet')}' (FORMAT parquet)`);
  await connection.run(`COPY (SELECT * FROM train WHERE txn_count >= 10) TO '${join(dir, 'parts', 'part-1.parquet')}' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const column = (profile: DatasetProfile, name: string): ColumnProfile => {
  const found = profile.columns.find((c) => c.name === name);
  if (!found) throw new Error(`no column ${name} in ${profile.columns.map((c) => c.name).join(', ')}`);
  return found;
};

/** The fraud model's training set, as a request. */
const trainingSet = (path: string, extra: Partial<TrainingSetSource> = {}): TrainingSetSource => ({
  kind: 'training-set', path, exclude: ['customer_id'], featureRefs: ['customer_txn_stats:txn_amount_avg_24h'],
  score: 'score', label: 'is_fraud', problem: 'classification', threshold: 0.5, ...extra,
});

/** The exact statistics of a numeric column, computed here. */
function numericTruth(values: Array<number | null>) {
  const present = values.filter((v): v is number => v !== null);
  const mean = present.reduce((a, b) => a + b, 0) / present.length;
  const std = Math.sqrt(present.reduce((a, b) => a + (b - mean) ** 2, 0) / present.length);
  return { nulls: values.length - present.length, count: present.length, mean, std, min: Math.min(...present), max: Math.max(...present), sorted: present.sort((a, b) => a - b) };
}

/** Expects a numeric column's count, nulls, range, mean, std exact and quantiles within the sketch's rank error. */
function expectNumeric(profiled: ColumnProfile, values: Array<number | null>): void {
  const truth = numericTruth(values);
  expect(profiled.kind).toBe('numeric');
  expect(profiled.nulls).toBe(truth.nulls);
  expect(profiled.numeric).toMatchObject({ count: truth.count, min: truth.min, max: truth.max });
  expect(profiled.numeric!.mean).toBeCloseTo(truth.mean, 9);
  expect(profiled.numeric!.std).toBeCloseTo(truth.std, 9);
  const sketch = QuantileSketch.fromJSON(profiled.numeric!.sketch);
  // Rank error: the share of values at or below the sketch's q-quantile is within ε (+ one value's share of ties' slack).
  const epsilon = kllRankError(profiled.numeric!.sketch.k);
  for (const q of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) {
    const x = sketch.quantile(q);
    const below = truth.sorted.filter((v) => v < x).length / truth.count;
    const atOrBelow = truth.sorted.filter((v) => v <= x).length / truth.count;
    // q lies within [share below x, share at or below x] up to ε.
    expect(q).toBeGreaterThanOrEqual(below - epsilon);
    expect(q).toBeLessThanOrEqual(atOrBelow + epsilon);
  }
}

/** Exact category counts, computed here. */
function categoryTruth(values: Array<string | boolean | null>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) if (v !== null) counts[String(v)] = (counts[String(v)] ?? 0) + 1;
  return counts;
}

/** Classification quality at 0.5, computed here (AUC by Mann–Whitney with ties counted half). */
function qualityTruth() {
  let tp = 0; let fp = 0; let tn = 0; let fn = 0; let brier = 0;
  for (const r of rows) {
    const predicted = r.score >= 0.5;
    if (predicted && r.is_fraud) tp++; else if (predicted) fp++; else if (r.is_fraud) fn++; else tn++;
    brier += (r.score - (r.is_fraud ? 1 : 0)) ** 2;
  }
  const positives = rows.filter((r) => r.is_fraud).map((r) => r.score);
  const negatives = rows.filter((r) => !r.is_fraud).map((r) => r.score).sort((a, b) => a - b);
  let wins = 0;
  for (const p of positives) {
    let lo = 0; let hi = negatives.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (negatives[mid] < p) lo = mid + 1; else hi = mid; }
    let eq = lo;
    while (eq < negatives.length && negatives[eq] === p) eq++;
    wins += lo + (eq - lo) / 2;
  }
  return {
    count: rows.length, accuracy: (tp + tn) / rows.length, precision: tp / (tp + fp), recall: tp / (tp + fn),
    brier: brier / rows.length, auc: wins / (positives.length * negatives.length),
  };
}

describe('buildBaseline: training sets', () => {
  let parquet: DatasetProfile;

  test('Parquet: every column checked against values computed here; quality from label + score', async () => {
    const built = await buildBaseline({ model: 'fraud', modelVersion: '3', source: trainingSet(join(dir, 'train.parquet')) });
    parquet = built.profile;
    expect(built.rows).toBe(N);
    expect(built.ignoredColumns).toEqual({ event_timestamp: 'TIMESTAMP' });
    expect(parquet).toMatchObject({ schema: PROFILE_SCHEMA, model: 'fraud', modelVersion: '3', rows: N });
    // Feature refs under their served name, the score as the output the server logs; label and excluded columns absent.
    expect(parquet.columns.map((c) => [c.name, c.role])).toEqual([
      ['amount', 'feature'], ['txn_count', 'feature'], ['device', 'feature'], ['is_new', 'feature'],
      ['customer_txn_stats:txn_amount_avg_24h', 'feature'], ['output:score', 'output'],
    ]);
    expectNumeric(column(parquet, 'amount'), rows.map((r) => r.amount));
    expectNumeric(column(parquet, 'txn_count'), rows.map((r) => r.txn_count));
    expectNumeric(column(parquet, 'customer_txn_stats:txn_amount_avg_24h'), rows.map((r) => r.customer_txn_stats__txn_amount_avg_24h));
    expectNumeric(column(parquet, 'output:score'), rows.map((r) => r.score));
    for (const name of ['device', 'is_new'] as const) {
      const profiled = column(parquet, name);
      const values = rows.map((r) => r[name]);
      expect(profiled.kind).toBe('categorical');
      expect(profiled.nulls).toBe(values.filter((v) => v === null).length);
      expect(profiled.categorical!.exact).toBe(true);
      expect(Object.fromEntries(profiled.categorical!.counts)).toEqual(categoryTruth(values));
    }
    const truth = qualityTruth();
    expect(parquet.quality).toMatchObject({ problem: 'classification', threshold: 0.5, count: truth.count });
    for (const metric of ['accuracy', 'precision', 'recall', 'brier', 'auc'] as const) expect(parquet.quality![metric]).toBeCloseTo(truth[metric], 9);
  });

  test('CSV, JSON lines and a glob of Parquet parts give the same numbers', async () => {
    const exact = (p: DatasetProfile) => p.columns.map((c) => ({
      name: c.name, nulls: c.nulls, wrongType: c.wrongType, counts: c.categorical?.counts.slice().sort(),
      count: c.numeric?.count, min: c.numeric?.min, max: c.numeric?.max, mean: c.numeric?.mean?.toFixed(9),
    }));
    const others = await Promise.all([
      buildBaseline({ model: 'fraud', modelVersion: '3', source: trainingSet(join(dir, 'train.csv'), { exclude: ['customer_id', 'event_timestamp'] }) }),
      buildBaseline({ model: 'fraud', modelVersion: '3', source: trainingSet(join(dir, 'train.jsonl'), { exclude: ['customer_id', 'event_timestamp'] }) }),
      buildBaseline({ model: 'fraud', modelVersion: '3', source: trainingSet(join(dir, 'parts', 'part-*.parquet')) }),
    ]);
    for (const other of others) {
      expect(other.rows).toBe(N);
      expect(exact(other.profile)).toEqual(exact(parquet));
      expect(other.profile.quality!.accuracy).toBeCloseTo(parquet.quality!.accuracy!, 12);
    }
  });

  test('a regression model: MAE and RMSE against the label column', async () => {
    const built = await buildBaseline({
      model: 'fraud', modelVersion: '3',
      source: { kind: 'training-set', path: join(dir, 'train.parquet'), features: ['amount'], score: 'score', label: 'txn_count', problem: 'regression' },
    });
    const errors = rows.map((r) => r.score - r.txn_count);
    expect(built.profile.columns.map((c) => c.name)).toEqual(['amount', 'output:score']);
    expect(built.profile.quality!.mae).toBeCloseTo(errors.reduce((a, e) => a + Math.abs(e), 0) / N, 9);
    expect(built.profile.quality!.rmse).toBeCloseTo(Math.sqrt(errors.reduce((a, e) => a + e * e, 0) / N), 9);
  });

  test('an invalid request lists every problem at once, naming the field and the fix', async () => {
    const source = {
      kind: 'training-set', path: 'train.xlsx', label: 'is_fraud', threshold: 2, featureRefs: ['no_separator'], exclude: ['is_fraud'],
    } as TrainingSetSource;
    await expect(buildBaseline({ model: 'fraud/x', modelVersion: '', source })).rejects.toThrow(new RegExp([
      "model: give 1–128 letters.*got \"fraud/x\"", 'modelVersion: give',
      'source.format: cannot tell the format of .train.xlsx. from its extension; give one of parquet, csv, jsonl',
      "source.featureRefs: 'no_separator' is not 'view_name:feature_name'",
      'source.score: quality needs the column', "source.problem: give 'classification' or 'regression'",
      'source.threshold: must be a number from 0 to 1', "source.exclude: column 'is_fraud' is already label",
    ].join('[\\s\\S]*')));
    // Columns are checked against the file's (every problem at once, listing what the file has).
    await expect(buildBaseline({
      model: 'fraud', modelVersion: '3',
      source: { kind: 'training-set', path: join(dir, 'train.parquet'), features: ['amount', 'nope', 'event_timestamp'], score: 'scr', label: 'is_fraud', problem: 'classification' },
    })).rejects.toThrow(/source\.features: the training set has no column 'nope' \(it has: customer_id, event_timestamp, amount[\s\S]*source\.features: column 'event_timestamp' is TIMESTAMP; a profiled column holds numbers[\s\S]*source\.score: the training set has no column 'scr'/);
    await expect(buildBaseline({ model: 'fraud', modelVersion: '3', source: { kind: 'training-set', path: join(dir, 'missing-*.parquet') } }))
      .rejects.toThrow(/source\.path: no file matches '.*missing-\*\.parquet'/);
    await expect(buildBaseline({ model: 'fraud', modelVersion: '3', source: { kind: 'prediction-logs', root: dir, from: '2026-03-02T00:00:00Z', to: 'yesterday' } }))
      .rejects.toThrow(/source\.to: must be a Date, epoch milliseconds or ISO-8601 with a zone/);
  });
});

describe('buildBaseline: the offline store and prediction logs name columns as the gateway logs them', () => {
  const [customerView, merchantView] = fraudFeatureViews.map((v) => v.toSpec()) as FeatureViewSpec[];
  const now = Date.now();
  const random = seededRandom(7);
  const customers = Array.from({ length: 12 }, (_, i) => ({
    customer_id: `c${i}`, event_time: new Date(now - (i + 1) * 60_000).toISOString(),
    txn_count_1h: i % 5, txn_amount_avg_24h: Math.round(random() * 10_000) / 100, last_device_type: DEVICES[i % 3],
    is_new_device: i % 4 === 0, spend_embedding: Array.from({ length: 12 }, () => Math.fround(random() - 0.5)),
  }));
  const merchants = Array.from({ length: 12 }, (_, i) => ({ merchant_id: `m${i}`, event_time: new Date(now - (i + 1) * 60_000).toISOString(), chargeback_rate_30d: i / 100 }));

  test('offline-store and prediction-log baselines have the same feature columns and, for the same values, the same numbers', async () => {
    const root = join(dir, 'skew');
    // The same records into the offline layout and the online table (as the materializer writes both).
    const offline = async (view: FeatureViewSpec, records: Array<Record<string, unknown>>) => {
      const parsed = records.map((r, i): OfflineRow => ({ ...validateRecord(view, r).row!, ingestedAtMs: now, ingestSeq: `shardId-000000000000:${i + 1}` }));
      const prefix = join(root, offlinePartitionPrefix(view, parsed[0].eventTimeMs));
      mkdirSync(prefix, { recursive: true });
      writeFileSync(join(prefix, 'part-0.parquet'), await encodeParquet(view, parsed));
      return parsed;
    };
    await offline(customerView, customers);
    await offline(merchantView, merchants);
    const dynalite = await startDynalite();
    const dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
    const model = new EmbeddedModelInvoker({ modelPath: join(MODELS_DIR, 'fraud-mlp.onnx') });
    try {
      await createOnlineTable(dynamo, 'features_online');
      for (const [view, records] of [[customerView, customers], [merchantView, merchants]] as const) {
        for (const record of records) await putOnlineRow(dynamo, 'features_online', view, validateRecord(view, record).row!, { ingestedAtMs: now, timeoutMs: 10_000 });
      }
      // The gateway serving one request per entity pair, its prediction log kept as the dataset holds it.
      const logged: PredictionLogRecord[] = [];
      const gateway = new GatewayCore({
        model: 'fraud', modelVersion: '3', views: [customerView, merchantView], featureRefs: fraudModelFeatureRefs, inputName: 'features',
        deadlineMs: 5000, fallbackOutputs: { probability: [0.01] }, defaultTier: 'critical',
      }, {
        features: new OnlineFeatureClient({ client: dynamo, tableName: 'features_online', timeoutMs: 10_000 }), model,
        predictionLog: { write: (record) => logged.push(record) > 0, close: async () => undefined },
      });
      for (let i = 0; i < customers.length; i++) {
        const answer = await gateway.handle({ model: 'fraud', body: JSON.stringify({ entity: { customer_id: `c${i}`, merchant_id: `m${i}` } }), requestId: `r${i}` });
        expect(answer.statusCode).toBe(200);
      }
      expect(logged).toHaveLength(customers.length);
      const ts = Date.parse(logged[0].ts);
      const logDir = join(root, predictionLogDayPrefix('fraud', partitionDate(ts)), `hour=${partitionHour(ts)}`);
      mkdirSync(logDir, { recursive: true });
      // A bad line, another model's line and one outside the window are counted and skipped, never fatal.
      const outside = { ...logged[0], ts: new Date(now - 3 * 86_400_000).toISOString() };
      writeFileSync(join(logDir, 'part-0.jsonl'), [...logged.map(toJsonLine), '{"schema": 1, "ts": \n', toJsonLine({ ...logged[0], model: 'other' }), toJsonLine(outside)].join(''));
      // A corrupt compressed object: counted, the other files still read.
      writeFileSync(join(logDir, 'part-1.jsonl.gz'), Buffer.concat([gzipSync(toJsonLine(outside)).subarray(0, 12), Buffer.from('not gzip')]));

      const window = { from: new Date(now - 86_400_000), to: new Date(now + 60_000) };
      const [fromStore, fromLogs] = await Promise.all([
        buildBaseline({ model: 'fraud', modelVersion: '3', source: { kind: 'offline-store', offlineRoot: root, views: [customerView, merchantView], featureRefs: fraudModelFeatureRefs, ...window } }),
        buildBaseline({ model: 'fraud', modelVersion: '3', source: { kind: 'prediction-logs', root, ...window } }),
      ]);
      const features = (p: DatasetProfile) => p.columns.filter((c) => c.role === 'feature').map((c) => c.name).sort();
      expect(features(fromStore.profile)).toEqual([...fraudModelFeatureRefs].sort());
      expect(features(fromLogs.profile)).toEqual(features(fromStore.profile));
      expect(fromLogs.skipped).toEqual({ 'not-json': 1, 'other-model': 1, 'outside-window': 1, 'unreadable-file': 1 });
      expect(fromLogs.profile.columns.filter((c) => c.role === 'output').map((c) => c.name)).toEqual(['output:probability']);
      // Each entity served once: the served values are the stored ones, so the numbers agree too.
      for (const name of ['customer_txn_stats:txn_count_1h', 'customer_txn_stats:txn_amount_avg_24h', 'merchant_risk:chargeback_rate_30d']) {
        const [a, b] = [column(fromStore.profile, name), column(fromLogs.profile, name)];
        expect(a.numeric).toMatchObject({ count: customers.length, min: b.numeric!.min, max: b.numeric!.max });
        expect(a.numeric!.mean).toBeCloseTo(b.numeric!.mean!, 9);
      }
      expect(column(fromStore.profile, 'customer_txn_stats:is_new_device').categorical!.counts)
        .toEqual(column(fromLogs.profile, 'customer_txn_stats:is_new_device').categorical!.counts);
      // Rows outside the window are not read.
      const early = await buildBaseline({ model: 'fraud', modelVersion: '3', source: { kind: 'offline-store', offlineRoot: root, views: [customerView], from: new Date(now - 3 * 60_000 - 1), to: new Date(now) } });
      expect(early.rows).toBe(3);
      expect(column(early.profile, 'customer_txn_stats:last_device_type').categorical!.counts.sort()).toEqual([['android', 1], ['ios', 1], ['web', 1]]);
    } finally {
      dynamo.destroy();
      await dynalite.stop();
    }
  }, 60_000);

  test('a stored null is profiled as serving serves it: the fallback where the feature has one', async () => {
    const root = join(dir, 'fallback');
    const eventTimeMs = now - 60_000;
    const stored: OfflineRow[] = [0, 1, 2].map((i) => ({
      view: customerView.name, version: customerView.version, entityKey: `c${i}`, joinKeys: { customer_id: `c${i}` }, eventTimeMs, ingestedAtMs: now, ingestSeq: `s:${i}`,
      values: { txn_count_1h: i === 0 ? null : 7, txn_amount_avg_24h: null, last_device_type: null, is_new_device: true, spend_embedding: null },
    }));
    const prefix = join(root, offlinePartitionPrefix(customerView, eventTimeMs));
    mkdirSync(prefix, { recursive: true });
    writeFileSync(join(prefix, 'part-0.parquet'), await encodeParquet(customerView, stored));
    const { profile } = await buildBaseline({ model: 'fraud', modelVersion: '3', source: { kind: 'offline-store', offlineRoot: root, views: [customerView], from: now - 3_600_000, to: now } });
    expect(column(profile, 'customer_txn_stats:txn_count_1h')).toMatchObject({ nulls: 0, numeric: { count: 3, min: 0, max: 7 } });
    expect(column(profile, 'customer_txn_stats:last_device_type').categorical!.counts).toEqual([['unknown', 3]]);
    // No fallback declared: a null stays a null.
    expect(column(profile, 'customer_txn_stats:spend_embedding').nulls).toBe(3);
  });
});

describe('baseline store (s3rver)', () => {
  const BUCKET = 'datasets';
  let s3rver: S3StandIn;
  let s3: S3Client;
  let profile: DatasetProfile;
  beforeAll(async () => {
    s3rver = await startS3StandIn(BUCKET);
    s3 = s3rver.s3;
    profile = (await buildBaseline({ model: 'fraud', modelVersion: '3', source: trainingSet(join(dir, 'train.parquet'), { features: ['amount', 'device'], featureRefs: [] }) })).profile;
  });
  afterAll(() => s3rver.stop());

  test('write then read: the same profile at baselines/model=<m>/version=<v>/baseline.json; none written → undefined', async () => {
    const written = await writeBaseline(s3, BUCKET, profile);
    expect(written.key).toBe('baselines/model=fraud/version=3/baseline.json');
    expect(written.key).toBe(baselineKey('fraud', '3'));
    expect(await readBaseline(s3, BUCKET, 'fraud', '3')).toEqual(profile);
    expect(await readBaseline(s3, BUCKET, 'fraud', '4')).toBeUndefined();
    // Rewriting replaces the current object (the dataset bucket keeps the old one as a noncurrent version).
    const rebuilt = { ...profile, createdAt: '2026-12-02T00:00:00.000Z' };
    await writeBaseline(s3, BUCKET, rebuilt);
    expect((await readBaseline(s3, BUCKET, 'fraud', '3'))!.createdAt).toBe('2026-12-02T00:00:00.000Z');
  });

  test('an unknown profile schema, another version\'s profile or text that is not JSON is refused with the fix', async () => {
    const put = (version: string, body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: baselineKey('fraud', version), Body: body }));
    await put('5', JSON.stringify({ ...profile, modelVersion: '5', schema: PROFILE_SCHEMA + 1 }));
    await put('6', JSON.stringify(profile));
    await put('7', '{"schema": 1, "columns": [');
    await expect(readBaseline(s3, BUCKET, 'fraud', '5')).rejects.toThrow(
      `baseline s3://${BUCKET}/baselines/model=fraud/version=5/baseline.json has profile schema ${PROFILE_SCHEMA + 1}; this reader knows schema ${PROFILE_SCHEMA}: rebuild the baseline`);
    await expect(readBaseline(s3, BUCKET, 'fraud', '6')).rejects.toThrow(/is for model 'fraud' version '3', not 'fraud' version '6'/);
    await expect(readBaseline(s3, BUCKET, 'fraud', '7')).rejects.toThrow(/version=7\/baseline.json is not JSON; rebuild it with npm run baseline/);
    expect(() => parseBaseline('[]', { model: 'fraud', modelVersion: '3', location: 'x' })).toThrow(/x is not a profile object/);
  });

  test('a reader with prefix-scoped list rights gets 403 for a missing key: a listing of the key tells missing from forbidden', async () => {
    // s3rver enforces no IAM, so a loopback server answers as S3 does for such a reader: GetObject 403 AccessDenied,
    // ListObjectsV2 under the reader's prefix allowed (version 3 exists but is unreadable; version 4 does not exist).
    const existing = baselineKey('fraud', '3');
    const forbidding = createHttpServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (url.searchParams.get('list-type') === '2') {
        const prefix = url.searchParams.get('prefix') ?? '';
        const contents = existing.startsWith(prefix) ? `<Contents><Key>${existing}</Key><Size>10</Size></Contents>` : '';
        response.writeHead(200, { 'content-type': 'application/xml' });
        response.end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${BUCKET}</Name><Prefix>${prefix}</Prefix><KeyCount>${contents ? 1 : 0}</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`);
        return;
      }
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    });
    await new Promise<void>((resolve) => forbidding.listen(0, '127.0.0.1', resolve));
    const client = new S3Client({ ...localClientConfig(`http://127.0.0.1:${(forbidding.address() as AddressInfo).port}`), maxAttempts: 1 });
    try {
      expect(await readBaseline(client, BUCKET, 'fraud', '4')).toBeUndefined();
      await expect(readBaseline(client, BUCKET, 'fraud', '3')).rejects.toThrow(/Access Denied/);
    } finally {
      client.destroy();
      await new Promise((resolve) => forbidding.close(resolve));
    }
  });

  test('every call has a deadline: an endpoint that never answers fails at timeoutMs', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    // No request timeout of the client's own: only the deadline can end these calls (else the test times out).
    const client = new S3Client({
      ...localClientConfig(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`), maxAttempts: 1, requestHandler: new NodeHttpHandler({ requestTimeout: 0 }),
    });
    try {
      await expect(readBaseline(client, BUCKET, 'fraud', '3', { timeoutMs: 300 })).rejects.toThrow(/abort/i);
      await expect(writeBaseline(client, BUCKET, profile, { timeoutMs: 300 })).rejects.toThrow(/abort/i);
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
