import type { WriteStream } from 'fs';
import { Writable } from 'stream';
import { ParquetReader, ParquetSchema, ParquetShredder, ParquetWriter } from '@dsnp/parquetjs';
import { FeatureDtype, FeatureRow, FeatureViewSpec, joinKeysOf, offlineColumns, OfflineColumnType } from '../../lib/features/spec';

/**
 * The offline store's file format: one Parquet file per (view version, event date) batch, columns exactly
 * `offlineColumns(spec)` in that order.
 *
 * Physical encoding (what DuckDB, Athena/Trino and Spark read):
 * - join keys, `entity_key`, `ingest_seq`, string features: BYTE_ARRAY annotated UTF8
 * - `event_time`, `ingested_at`: INT64 annotated TIMESTAMP_MILLIS (UTC)
 * - int64 features: INT64; float64: DOUBLE; bool: BOOLEAN
 * - float32 vectors: the standard three-level LIST (`optional group <name> (LIST) { repeated group list
 *   { required float element } }`), read as `FLOAT[]` by DuckDB and `array<float>` by Athena
 * - layout columns are REQUIRED, feature columns OPTIONAL (null = the record carried no value)
 * - SNAPPY compression, data page v1 (the page format every reader supports)
 */

/** A row as the offline store holds it: the validated FeatureRow plus ingestion bookkeeping. */
export interface OfflineRow extends FeatureRow {
  /** When the materializer wrote the row, epoch milliseconds (`ingested_at`). Earlier wins an event-time tie. */
  readonly ingestedAtMs: number;
  /** Ingestion sequence (e.g. the stream sequence number) breaking ties of `ingestedAtMs` (`ingest_seq`). */
  readonly ingestSeq: string;
}

const COMPRESSION = 'SNAPPY';

type FieldDefinition = ConstructorParameters<typeof ParquetSchema>[0][string];

const SCALAR_TYPES: Record<Exclude<OfflineColumnType, OfflineColumnType.FLOAT_ARRAY>, FieldDefinition['type']> = {
  [OfflineColumnType.STRING]: 'UTF8',
  [OfflineColumnType.BIGINT]: 'INT64',
  [OfflineColumnType.DOUBLE]: 'DOUBLE',
  [OfflineColumnType.BOOLEAN]: 'BOOLEAN',
  [OfflineColumnType.TIMESTAMP]: 'TIMESTAMP_MILLIS',
};

/** Schemas already built, by view spec (a schema is built once per spec object, not per row). */
const schemas = new WeakMap<FeatureViewSpec, ParquetSchema>();

/** The Parquet schema of a view's offline files. */
function parquetSchema(spec: FeatureViewSpec): ParquetSchema {
  const cached = schemas.get(spec);
  if (cached) return cached;
  const fields: Record<string, FieldDefinition> = {};
  for (const column of offlineColumns(spec)) {
    fields[column.name] = column.type === OfflineColumnType.FLOAT_ARRAY
      ? {
        type: 'LIST', optional: column.nullable, compression: COMPRESSION,
        fields: { list: { repeated: true, fields: { element: { type: 'FLOAT', optional: false, compression: COMPRESSION } } } },
      }
      : { type: SCALAR_TYPES[column.type], optional: column.nullable, compression: COMPRESSION };
  }
  const schema = new ParquetSchema(fields);
  schemas.set(spec, schema);
  return schema;
}

/** Converts one feature value to its Parquet record form (undefined = null). */
function toParquetValue(dtype: FeatureDtype, value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (dtype === FeatureDtype.INT64) return BigInt(value as number);
  if (dtype === FeatureDtype.FLOAT32_VECTOR) return { list: (value as number[]).map((element) => ({ element })) };
  return value;
}

/** Converts one Parquet record value back to a feature value (null where absent). */
function fromParquetValue(dtype: FeatureDtype, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (dtype === FeatureDtype.INT64) return Number(value as bigint);
  if (dtype === FeatureDtype.FLOAT32_VECTOR) return ((value as { list?: Array<{ element: number }> }).list ?? []).map((e) => e.element);
  return value;
}

/** One row as the Parquet writer takes it: layout columns, join keys, then features. */
function parquetRecord(spec: FeatureViewSpec, row: OfflineRow): Record<string, unknown> {
  const record: Record<string, unknown> = {
    entity_key: row.entityKey,
    event_time: row.eventTimeMs,
    ingested_at: row.ingestedAtMs,
    ingest_seq: row.ingestSeq,
  };
  for (const key of joinKeysOf(spec)) record[key] = row.joinKeys[key];
  for (const feature of spec.features) record[feature.name] = toParquetValue(feature.dtype, row.values[feature.name]);
  return record;
}

/**
 * Throws, naming the problem, when one row cannot go into a view's offline files: the per-row part of
 * `encodeParquet` (value conversion, then Parquet's shredding, which checks every value against its column's type),
 * run on the row alone. A row that passes it is encoded by `encodeParquet` the same way.
 */
export function assertParquetEncodable(spec: FeatureViewSpec, row: OfflineRow): void {
  ParquetShredder.shredRecord(parquetSchema(spec), parquetRecord(spec, row), {});
}

/**
 * Encodes rows of ONE view version as a Parquet file (columns = `offlineColumns(spec)`, in that order).
 * Vector elements are stored as float32 (rounded like `Math.fround`). Throws, naming the row, when a row belongs to
 * another view or version.
 */
export async function encodeParquet(spec: FeatureViewSpec, rows: readonly OfflineRow[]): Promise<Buffer> {
  const misplaced = rows.findIndex((r) => r.view !== spec.name || r.version !== spec.version);
  if (misplaced >= 0) {
    const row = rows[misplaced];
    throw new Error(`rows[${misplaced}]: belongs to view '${row.view}' v${row.version}, not '${spec.name}' v${spec.version}; encode each view version into its own file`);
  }
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  // parquetjs types its sink as an fs.WriteStream but only calls write(buf, cb) and end(cb), which any Writable has.
  const writer = await ParquetWriter.openStream(parquetSchema(spec), sink as unknown as WriteStream, { useDataPageV2: false, rowGroupSize: Math.max(rows.length, 1) });
  for (const row of rows) await writer.appendRow(parquetRecord(spec, row));
  await writer.close();
  return Buffer.concat(chunks);
}

/** Decodes a Parquet file written by `encodeParquet` back into OfflineRows (for tests and local tools). */
export async function decodeParquet(spec: FeatureViewSpec, file: Buffer): Promise<OfflineRow[]> {
  const reader = await ParquetReader.openBuffer(file);
  try {
    const cursor = reader.getCursor();
    const rows: OfflineRow[] = [];
    const joinKeyNames = joinKeysOf(spec);
    for (let record = await cursor.next() as Record<string, any> | null; record; record = await cursor.next() as Record<string, any> | null) {
      const joinKeys: Record<string, string> = {};
      for (const key of joinKeyNames) joinKeys[key] = record[key];
      const values: Record<string, any> = {};
      for (const feature of spec.features) values[feature.name] = fromParquetValue(feature.dtype, record[feature.name]);
      rows.push({
        view: spec.name,
        version: spec.version,
        entityKey: record.entity_key,
        joinKeys,
        eventTimeMs: (record.event_time as Date).getTime(),
        ingestedAtMs: (record.ingested_at as Date).getTime(),
        ingestSeq: record.ingest_seq,
        values,
      });
    }
    return rows;
  } finally {
    await reader.close();
  }
}
