import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { entityKeyOf, FeatureDtype, FeatureViewSpec, offlineColumns } from '../../lib/features/spec';
import { assertParquetEncodable, decodeParquet, encodeParquet, OfflineRow } from '../../runtime/core/offline-parquet';


const spec: FeatureViewSpec = {
  specFormat: 1,
  name: 'customer_merchant_stats',
  version: 3,
  entities: [{ name: 'customer', joinKeys: ['customer_id'] }, { name: 'merchant', joinKeys: ['merchant_id'] }],
  eventTimeField: 'event_time',
  ttlSeconds: 86400,
  freshnessSeconds: 60,
  features: [
    { name: 'txn_count', dtype: FeatureDtype.INT64, fallback: 0 },
    { name: 'avg_amount', dtype: FeatureDtype.FLOAT64 },
    { name: 'device', dtype: FeatureDtype.STRING },
    { name: 'is_new', dtype: FeatureDtype.BOOL },
    { name: 'embedding', dtype: FeatureDtype.FLOAT32_VECTOR, dimension: 3 },
  ],
};

function row(customer: string, merchant: string, eventTimeMs: number, ingestSeq: string, values: Record<string, unknown>): OfflineRow {
  const joinKeys = { customer_id: customer, merchant_id: merchant };
  return { view: spec.name, version: spec.version, entityKey: entityKeyOf(spec, joinKeys), joinKeys, eventTimeMs, ingestedAtMs: eventTimeMs + 1500, ingestSeq, values };
}

const T = Date.UTC(2026, 0, 15, 10, 30, 0, 123);
const rows: OfflineRow[] = [
  row('c1', 'm1', T, '0001', { txn_count: 2 ** 53 - 1, avg_amount: 12.345678901234, device: 'ios', is_new: true, embedding: [Math.fround(0.1), -1.5, Math.fround(3.4e38)] }),
  row('c2', 'm|2', T + 1, '0002', { txn_count: -(2 ** 53 - 1), avg_amount: -0, device: 'Gerät ☕ 🚀 日本', is_new: false, embedding: [0, 0, 0] }),
  row('c 3/é', 'm3', T + 2, '0003', { txn_count: null, avg_amount: null, device: null, is_new: null, embedding: null }),
  row('c4', 'm4', 0, '0004', { txn_count: 0, avg_amount: 5e-324, device: '', is_new: null, embedding: [Math.fround(-2.2), Math.fround(1e-7), 7] }),
];

describe('offline Parquet encoding', () => {
  let dir: string;
  let instance: DuckDBInstance;
  let duck: DuckDBConnection;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'offline-parquet-'));
    instance = await DuckDBInstance.create(':memory:');
    duck = await instance.connect();
  });

  afterAll(() => {
    duck.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  async function writeFile(name: string, fileRows: readonly OfflineRow[]): Promise<string> {
    const path = join(dir, name);
    writeFileSync(path, await encodeParquet(spec, fileRows));
    return path;
  }

  test('round-trips every dtype, nulls, unicode, int64 at ±(2^53 − 1) and float32 vectors', async () => {
    const file = await encodeParquet(spec, rows);
    expect(file.subarray(0, 4).toString()).toBe('PAR1');
    const decoded = await decodeParquet(spec, file);
    expect(decoded).toEqual(rows);
    expect(Object.is(decoded[1].values.avg_amount, -0)).toBe(true);
  });

  test('rounds vector elements to float32', async () => {
    const [decoded] = await decodeParquet(spec, await encodeParquet(spec, [row('c1', 'm1', T, '1', { embedding: [0.1, 1 / 3, 2] })]));
    expect(decoded.values.embedding).toEqual([Math.fround(0.1), Math.fround(1 / 3), 2]);
  });

  test('DuckDB reads the columns of offlineColumns(spec), in order, with the declared types', async () => {
    const path = await writeFile('types.parquet', rows);
    const described = (await duck.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`)).getRowObjectsJS();
    const duckTypes: Record<string, string> = {
      string: 'VARCHAR', bigint: 'BIGINT', double: 'DOUBLE', boolean: 'BOOLEAN', timestamp: 'TIMESTAMP', 'array<float>': 'FLOAT[]',
    };
    expect(described.map((c) => [c.column_name, c.column_type])).toEqual(offlineColumns(spec).map((c) => [c.name, duckTypes[c.type]]));
  });

  test('DuckDB reads the same values', async () => {
    const path = await writeFile('values.parquet', rows);
    const read = (await duck.runAndReadAll(`SELECT * FROM read_parquet('${path}')`)).getRowObjectsJS();
    expect(read).toEqual(rows.map((r) => ({
      customer_id: r.joinKeys.customer_id,
      merchant_id: r.joinKeys.merchant_id,
      entity_key: r.entityKey,
      event_time: new Date(r.eventTimeMs),
      ingested_at: new Date(r.ingestedAtMs),
      ingest_seq: r.ingestSeq,
      txn_count: r.values.txn_count === null ? null : BigInt(r.values.txn_count),
      avg_amount: r.values.avg_amount,
      device: r.values.device,
      is_new: r.values.is_new,
      embedding: r.values.embedding,
    })));
  });

  test('vectors use the standard three-level LIST with float elements (array<float> in Athena), layout columns are required', async () => {
    const path = await writeFile('schema.parquet', rows);
    const schema = (await duck.runAndReadAll(`SELECT name, type, repetition_type, converted_type FROM parquet_schema('${path}')`)).getRowObjectsJS();
    const byName = new Map(schema.map((s) => [s.name, s]));
    expect(byName.get('embedding')).toMatchObject({ repetition_type: 'OPTIONAL', converted_type: 'LIST' });
    expect(byName.get('list')).toMatchObject({ repetition_type: 'REPEATED' });
    expect(byName.get('element')).toMatchObject({ type: 'FLOAT' });
    expect(byName.get('event_time')).toMatchObject({ type: 'INT64', repetition_type: 'REQUIRED', converted_type: 'TIMESTAMP_MILLIS' });
    expect(byName.get('customer_id')).toMatchObject({ repetition_type: 'REQUIRED', converted_type: 'UTF8' });
    expect(byName.get('txn_count')).toMatchObject({ type: 'INT64', repetition_type: 'OPTIONAL' });
    const codecs = (await duck.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${path}')`)).getRowObjectsJS();
    expect(codecs).toEqual([{ compression: 'SNAPPY' }]);
  });

  test('an empty batch is a valid file with the schema and no rows', async () => {
    const path = await writeFile('empty.parquet', []);
    expect(await decodeParquet(spec, await encodeParquet(spec, []))).toEqual([]);
    const counted = (await duck.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${path}')`)).getRowObjectsJS();
    expect(counted).toEqual([{ n: 0n }]);
  });

  test('the per-row check refuses exactly the rows that make the file fail to encode', async () => {
    for (const good of rows) expect(() => assertParquetEncodable(spec, good)).not.toThrow();
    // Rows that validation no longer lets through, but that once reached the encoder (an event before 1970) or
    // could reach it through a wrong type: the check and the whole-file encoding refuse them alike.
    const bad = [
      row('c5', 'm5', -1, '0005', {}),
      { ...row('c6', 'm6', T, '0006', {}), values: { txn_count: 1.5 } },
      { ...row('c7', 'm7', T, '0007', {}), ingestedAtMs: Number.MAX_SAFE_INTEGER },
    ];
    for (const poison of bad) {
      expect(() => assertParquetEncodable(spec, poison)).toThrow();
      await expect(encodeParquet(spec, [rows[0], poison])).rejects.toThrow();
    }
  });

  test('refuses rows of another view or version, naming the row', async () => {
    const other = { ...rows[0], version: 2 };
    await expect(encodeParquet(spec, [rows[0], other])).rejects.toThrow(/rows\[1\]: belongs to view 'customer_merchant_stats' v2, not 'customer_merchant_stats' v3/);
  });
});
