import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { gzipSync } from 'zlib';
import { s3LogKey } from '../../runtime/aws/prediction-log-sinks';
import { LABEL_SCHEMA, LabelRecord, labelDayPrefix, partitionDate, partitionHour, predictionLogDayPrefix, predictionLogModelPrefix } from '../../runtime/core/datasets';
import { PREDICTION_LOG_SCHEMA, PredictionLogRecord, toJsonLine } from '../../runtime/core/prediction-log';
import {
  ATHENA_DIALECT, buildServedTrainingSetSql, DUCKDB_DIALECT, getServedTrainingSet, ServedRow,
} from '../../runtime/offline/served-training-set';

const MODEL = 'fraud';
const at = (iso: string) => new Date(iso).toISOString();

function prediction(requestId: string, ts: string, customer: string | number, extra: Partial<PredictionLogRecord> = {}): PredictionLogRecord {
  return {
    schema: PREDICTION_LOG_SCHEMA, ts: at(ts), requestId, model: MODEL, modelVersion: '3', variant: 'champion', entity: { customer_id: customer },
    features: { 'customer_txn_stats:txn_count_1h': 3, 'customer_txn_stats:device_type': 'ios', 'request:amount': 12.5 },
    outputs: { probability: [0.2] }, latencyMs: 4.2, fallback: false, tier: 'standard', ...extra,
  };
}

function label(fields: Partial<LabelRecord> & Pick<LabelRecord, 'label' | 'labelTime'>): LabelRecord {
  return { schema: LABEL_SCHEMA, model: MODEL, ...fields, labelTime: at(fields.labelTime), ...(fields.eventTime ? { eventTime: at(fields.eventTime) } : {}) };
}

const p0 = prediction('r0', '2026-05-31T09:59:59.999Z', 'c-1'); // before the window
const p1 = prediction('r1', '2026-05-31T10:00:00.000Z', 'c-1'); // the window's first instant
const p2 = prediction('r2', '2026-05-31T10:30:00.000Z', 7, { // a numeric join key and weird feature values
  variant: 'challenger', modelVersion: '4',
  features: {
    'customer_txn_stats:txn_count_1h': { nested: [1, 'x\u0000'] }, 'customer_txn_stats:device_type': 'line\nbreak "quoted" ✓ \ud83d\ude00',
    'request:amount': 1e308, 'merchant_risk:score': null,
  },
  outputs: { probability: [[0.9]], embedding: [0.1, 0.2] },
});
const p3 = prediction('r3', '2026-05-31T10:45:00.000Z', 'c-1', { fallback: true, outputs: { probability: [0.01] } }); // the fallback answer
const p4 = prediction('r4', '2026-05-31T11:15:00.000Z', 'c-1', { outputs: { probability: [0.6] } });
const p5 = prediction('r5', '2026-05-31T12:00:00.000Z', 'c-2'); // the window's end: excluded
const window = { from: '2026-05-31T10:00:00Z', to: '2026-05-31T12:00:00Z' };

const labels: LabelRecord[] = [
  label({ requestId: 'r1', label: 1, labelTime: '2026-06-01T08:00:00Z' }),
  // A later correction wins; delivered a week late, it is stored under its arrival's date (receivedAt).
  { ...label({ requestId: 'r1', label: 0, labelTime: '2026-06-02T08:00:00Z' }), receivedAt: '2026-06-09T08:00:00.000Z' },
  label({ entity: { customer_id: 'c-1' }, eventTime: '2026-05-31T11:20:00Z', label: true, labelTime: '2026-06-01T09:00:00Z' }), // → r4
  label({ entity: { customer_id: 'c-1' }, eventTime: '2026-05-31T10:50:00Z', label: 'fraud', labelTime: '2026-06-01T09:30:00Z' }), // → r3 (fallback)
  label({ requestId: 'unknown-request', label: 1, labelTime: '2026-06-01T10:00:00Z' }), // names no prediction
  label({ entity: { customer_id: '7' }, eventTime: '2026-05-31T10:29:59.999Z', label: 1, labelTime: '2026-06-01T11:00:00Z' }), // before r2: none
  label({ entity: { customer_id: 7 }, eventTime: '2026-05-31T10:30:00Z', label: 0.5, labelTime: '2026-06-01T12:00:00Z' }), // at r2's ts: r2
];

let root: string;

/** Writes a file of the dataset under root. */
function put(key: string, body: string | Buffer): void {
  const path = join(root, key);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
}

/** Where a record lands: Firehose's partitions are its event time (ts). */
function firehoseKey(record: PredictionLogRecord, name: string): string {
  const ms = Date.parse(record.ts);
  return `${predictionLogDayPrefix(record.model, partitionDate(ms))}hour=${partitionHour(ms)}/${name}.jsonl.gz`;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'served-'));
  // The inference server's S3 sink: plain JSON lines, keyed by its write time under the model prefix (plus a torn line).
  put(s3LogKey(predictionLogModelPrefix(MODEL), new Date('2026-05-31T10:00:30Z')), [p0, p1].map(toJsonLine).join('') + '{"schema":1,"ts":"2026-05-31T10:0');
  put(s3LogKey(predictionLogModelPrefix(MODEL), new Date('2026-05-31T10:46:00Z')), [p2, p3].map(toJsonLine).join(''));
  // Firehose: the gateway's records (each a JSON line) concatenated and gzipped, one object per partition, r1 delivered twice.
  put(firehoseKey(p4, 'fraud-delivery-1-2026-05-31-11-16-00-abc'), gzipSync([p4, p1].map(toJsonLine).join('')));
  put(firehoseKey(p5, 'fraud-delivery-1-2026-05-31-12-01-00-def'), gzipSync(toJsonLine(p5)));
  // Another model's logs in the same bucket.
  put(s3LogKey(predictionLogModelPrefix('other'), new Date('2026-05-31T10:30:00Z')), toJsonLine({ ...p1, model: 'other', requestId: 'o1' }));
  const byDay = new Map<string, LabelRecord[]>();
  // Labels are partitioned by arrival: receivedAt, or labelTime for labels stored without one.
  const arrival = (l: LabelRecord) => partitionDate(Date.parse(l.receivedAt ?? l.labelTime));
  for (const l of labels) byDay.set(arrival(l), [...(byDay.get(arrival(l)) ?? []), l]);
  for (const [day, dayLabels] of byDay) put(`${labelDayPrefix(MODEL, day)}labels-${day}.jsonl`, dayLabels.map((l) => JSON.stringify(l) + '\n').join(''));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * The expected rows, computed from the generated records with the documented rules: in [from, to), one per request
 * id, no fallbacks unless asked; a label by request id, or by entity to the latest prediction at or before its
 * eventTime (fallbacks included); the latest labelTime wins.
 */
function expected(includeFallbacks: boolean): ServedRow[] {
  const all = [p0, p1, p2, p3, p4, p5];
  const labelOf = new Map<string, LabelRecord>();
  for (const l of labels) {
    const target = l.requestId ?? all
      .filter((p) => String((p.entity as any).customer_id) === String(l.entity!.customer_id) && p.ts <= l.eventTime!)
      .sort((a, b) => b.ts.localeCompare(a.ts))[0]?.requestId;
    if (target && (!labelOf.has(target) || labelOf.get(target)!.labelTime < l.labelTime)) labelOf.set(target, l);
  }
  const refs = ['customer_txn_stats:device_type', 'customer_txn_stats:txn_count_1h', 'merchant_risk:score', 'request:amount'];
  return all
    .filter((p) => p.ts >= at(window.from) && p.ts < at(window.to) && (includeFallbacks || !p.fallback))
    .map((p) => {
      const row: ServedRow = {
        event_timestamp: new Date(p.ts), request_id: p.requestId, model_version: p.modelVersion, variant: p.variant ?? null,
        customer_id: String((p.entity as any).customer_id),
      };
      for (const ref of refs) row[ref.replace(':', '__')] = p.features![ref] ?? null;
      const scalar = (v: unknown): unknown => (Array.isArray(v) && v.length === 1 ? scalar(v[0]) : v);
      row.output__embedding = p.outputs.embedding ?? null;
      row.output__probability = scalar(p.outputs.probability);
      row.label = labelOf.get(p.requestId)?.label ?? null;
      row.label_time = labelOf.get(p.requestId)?.labelTime ?? null;
      return row;
    });
}

describe('getServedTrainingSet', () => {
  test('one row per served prediction of the window, in ts order, features as <view>__<feature>, outputs flattened, latest label joined', async () => {
    const rows = await getServedTrainingSet({ datasetRoot: root, model: MODEL, ...window });
    expect(rows).toEqual(expected(false));
    expect(rows.map((r) => r.request_id)).toEqual(['r1', 'r2', 'r4']);
    // Spelled out, the cases the generated data holds:
    expect(rows[0]).toMatchObject({ label: 0, label_time: '2026-06-02T08:00:00.000Z', customer_txn_stats__txn_count_1h: 3, request__amount: 12.5 });
    expect(rows[1]).toMatchObject({
      customer_id: '7', variant: 'challenger', model_version: '4', label: 0.5,
      customer_txn_stats__txn_count_1h: { nested: [1, 'x\u0000'] }, customer_txn_stats__device_type: 'line\nbreak "quoted" ✓ \ud83d\ude00',
      request__amount: 1e308, merchant_risk__score: null, output__probability: 0.9, output__embedding: [0.1, 0.2],
    });
    expect(rows[2]).toMatchObject({ label: true, output__probability: 0.6, output__embedding: null });
    expect(Object.keys(rows[0])).toEqual([
      'event_timestamp', 'request_id', 'model_version', 'variant', 'customer_id',
      'customer_txn_stats__device_type', 'customer_txn_stats__txn_count_1h', 'merchant_risk__score', 'request__amount',
      'output__embedding', 'output__probability', 'label', 'label_time',
    ]);
  });

  test('with fallbacks: the fallback answer is a row and keeps the label its entity and time point to', async () => {
    const rows = await getServedTrainingSet({ datasetRoot: root, model: MODEL, ...window, includeFallbacks: true });
    expect(rows).toEqual(expected(true));
    expect(rows.find((r) => r.request_id === 'r3')).toMatchObject({ label: 'fraud', output__probability: 0.01 });
  });

  test('chosen features and join keys, no labels', async () => {
    const rows = await getServedTrainingSet({
      datasetRoot: root, model: MODEL, ...window, featureRefs: ['request:amount'], joinKeys: ['customer_id'], includeLabels: false,
    });
    expect(rows.map((r) => Object.keys(r))).toEqual(Array(3).fill([
      'event_timestamp', 'request_id', 'model_version', 'variant', 'customer_id', 'request__amount', 'output__embedding', 'output__probability',
    ]));
  });

  test('a hostile record (features a string, outputs a number, entity an array) is a row of nulls, never a failed read', async () => {
    const hostile = { ...prediction('h1', '2026-06-03T10:00:00.000Z', 'c-9'), features: 'abc', outputs: 5, entity: ['c-9'] } as unknown as PredictionLogRecord;
    put(s3LogKey(predictionLogModelPrefix(MODEL), new Date('2026-06-03T10:00:10Z')), toJsonLine(hostile) + toJsonLine(prediction('h2', '2026-06-03T10:00:01.000Z', 'c-9')));
    const rows = await getServedTrainingSet({ datasetRoot: root, model: MODEL, from: '2026-06-03T00:00:00Z', to: '2026-06-04T00:00:00Z' });
    expect(rows.map((r) => [r.request_id, r.customer_id, r.customer_txn_stats__txn_count_1h, r.output__probability])).toEqual([
      ['h1', null, null, null], ['h2', 'c-9', 3, 0.2],
    ]);
  });

  test('a window with no logs, or a model without any, is empty', async () => {
    expect(await getServedTrainingSet({ datasetRoot: root, model: MODEL, from: '2025-01-01T00:00:00Z', to: '2025-01-02T00:00:00Z' })).toEqual([]);
    expect(await getServedTrainingSet({ datasetRoot: root, model: 'unlogged', ...window })).toEqual([]);
  });

  test('an invalid request lists every problem at once, naming the field and the fix', async () => {
    await expect(getServedTrainingSet({
      datasetRoot: join(root, 'missing'), model: '../escape', from: '2026-05-31', to: 1_000,
      featureRefs: ['no_colon'], joinKeys: ['Customer Id'],
    })).rejects.toThrow(new RegExp([
      'model: model \'../escape\'', 'from: must be a Date, epoch milliseconds or ISO-8601 with a zone', 'datasetRoot: .* is not a folder',
      'joinKeys\\[0\\]: "Customer Id" must be a lower snake case', 'featureRefs\\[0\\]: "no_colon" must be \'view:feature\'',
    ].join('[\\s\\S]*')));
    await expect(getServedTrainingSet({ datasetRoot: root, model: MODEL, from: window.to, to: window.from })).rejects.toThrow(/to: must be after from/);
  });
});

describe('buildServedTrainingSetSql', () => {
  const input = {
    predictionsRelation: '"prediction_logs"', labelsRelation: '"labels"', model: MODEL, fromMs: Date.parse(window.from), toMs: Date.parse(window.to),
    joinKeys: ['customer_id'], includeFallbacks: false,
  };

  test('the Athena text is the DuckDB text with the JSON functions of Trino, over the Glue tables, pruned by partition', () => {
    const duckdb = buildServedTrainingSetSql({ ...input, dialect: DUCKDB_DIALECT });
    const athena = buildServedTrainingSetSql({ ...input, dialect: ATHENA_DIALECT });
    expect(athena).toContain('json_extract_scalar("entity", \'$.customer_id\')');
    expect(athena).not.toMatch(/json_extract_string|CAST\(/);
    const normalized = duckdb.replace(/json_extract_string/g, 'json_extract_scalar').replace(/CAST\(("\w+") AS VARCHAR\)/g, '$1');
    expect(normalized).toBe(athena);
    // Partition pruning: the model, and days from the window's first on (the last one an hour past the window's end).
    expect(athena).toContain('"model" = \'fraud\' AND "dt" >= \'2026-05-31\'');
    expect(athena).not.toMatch(/ASOF|QUALIFY|::/);
  });
});
