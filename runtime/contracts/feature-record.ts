/**
 * The feature ingestion stream's record, defined once: what producers (`putFeatureRecords` in
 * runtime/aws/feature-producer.ts, or anyone writing to `FeatureIngestion.stream`) put on the stream and what the
 * materializer (runtime/core/materialize.ts) reads back.
 *
 * A record's data is a UTF-8 JSON envelope `{"view": <name>, "version": <n>, "record": {...}}`: `version` is the
 * view's version, the schema version of the record (the materializer validates the record against that version of
 * the view and dead-letters versions it does not serve). Its partition key is the record's entity key, so that the
 * events of one entity stay in order on one shard.
 *
 * Transport, not the view definition: lib/features/spec describes views and validates a record's fields; this module
 * wraps and unwraps them. Pure: imports only the spec.
 */
import { entityKeyOf, FeatureViewSpec, joinKeysOf, joinKeyValue } from '../../lib/features/spec';

/** The envelope of one stream record. */
export interface FeatureRecordEnvelope {
  /** View name. */
  readonly view: string;
  /** Version of the view the record was produced for: the record's schema version. */
  readonly version: number;
  /** The record's fields: join keys, event time and features. */
  readonly record: Readonly<Record<string, unknown>>;
}

/** An envelope's fields as received, before the reader checks them (any may be missing or of any type). */
export type ReceivedFeatureRecord = { readonly [K in keyof FeatureRecordEnvelope]?: unknown };

/** What `decodeFeatureRecord` found: the received fields, or why the data holds no envelope. */
export type DecodedFeatureRecord =
  | { readonly ok: true; readonly envelope: ReceivedFeatureRecord }
  | { readonly ok: false; readonly problem: string; readonly cause?: unknown };

/** The fix named when a record's data is not an envelope. */
export const FEATURE_RECORD_HINT = 'records must be UTF-8 JSON envelopes {"view": "<name>", "version": <n>, "record": {...}}';

/** Longest partition key Kinesis accepts, in characters. */
export const MAX_PARTITION_KEY_LENGTH = 256;

const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true });
const UTF8_ENCODER = new TextEncoder();

/** The envelope of `record`, produced for `view`. */
export function featureRecordEnvelope(view: Pick<FeatureViewSpec, 'name' | 'version'>, record: Readonly<Record<string, unknown>>): FeatureRecordEnvelope {
  return { view: view.name, version: view.version, record };
}

/** A record's stream data: its envelope as UTF-8 JSON. */
export function encodeFeatureRecord(view: Pick<FeatureViewSpec, 'name' | 'version'>, record: Readonly<Record<string, unknown>>): Uint8Array {
  return UTF8_ENCODER.encode(JSON.stringify(featureRecordEnvelope(view, record)));
}

/** Reads the envelope of a record's stream data. Never throws: data that is not a JSON object is a problem. */
export function decodeFeatureRecord(data: Uint8Array): DecodedFeatureRecord {
  let value: unknown;
  try {
    value = JSON.parse(UTF8_DECODER.decode(data));
  } catch (cause) {
    return { ok: false, problem: 'not UTF-8 JSON', cause };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, problem: 'expected a JSON object envelope' };
  const { view, version, record } = value as ReceivedFeatureRecord;
  return { ok: true, envelope: { view, version, record } };
}

/**
 * Partition key of a record: its entity key, or `hashLongKey(entityKey)` when that is longer than Kinesis allows
 * (Kinesis hashes the key anyway, so the entity still maps to one shard); a fixed key per view for a record whose join
 * keys cannot be keyed (the materializer dead-letters it). The hash is passed in to keep this module
 * pure; producers pass the SHA-256 hex digest.
 */
export function partitionKeyOf(
  view: FeatureViewSpec, record: Readonly<Record<string, unknown>>, hashLongKey: (entityKey: string) => string,
): string {
  // A record whose join keys cannot be keyed (missing, a lone surrogate that encodeURIComponent throws on) still goes
  // out, so that the materializer dead-letters it with its reason; one such record must not fail its batch here.
  if (joinKeysOf(view).some((key) => joinKeyValue(record[key]) === undefined)) return hashLongKey(`${view.name}:unkeyable`);
  const entityKey = entityKeyOf(view, record);
  return entityKey.length <= MAX_PARTITION_KEY_LENGTH ? entityKey : hashLongKey(entityKey);
}
