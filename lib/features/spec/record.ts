import { FeatureViewSpec } from './types';
import { valueProblem } from './values';

/** A validated, normalized feature record: exactly what the online and the offline store receive. */
export interface FeatureRow {
  /** View name. */
  readonly view: string;
  /** View schema version the row was validated against. */
  readonly version: number;
  /** Canonical entity key (see `entityKeyOf`). */
  readonly entityKey: string;
  /** Join key values, normalized to strings. */
  readonly joinKeys: Record<string, string>;
  /** Event time in epoch milliseconds. */
  readonly eventTimeMs: number;
  /** Feature values by name; null where the record carried no value. */
  readonly values: Record<string, any>;
}

/** Outcome of validating one record. */
export interface RecordValidation {
  /** The normalized row; present exactly when `errors` is empty. */
  readonly row?: FeatureRow;
  /** Every problem found, each naming the field. */
  readonly errors: string[];
}

/** Options of `validateRecord`. */
export interface RecordValidationOptions {
  /**
   * Current time in epoch milliseconds, for the future-skew check.
   * @default Date.now()
   */
  readonly nowMs?: number;
  /**
   * How far in the future an event time may lie (producer clock skew) before the record is refused.
   * @default 300000 (5 minutes)
   */
  readonly maxFutureSkewMs?: number;
}

/** All join keys of the view, in declaration order. */
export function joinKeysOf(spec: FeatureViewSpec): string[] {
  return spec.entities.flatMap((e) => e.joinKeys);
}

/**
 * Canonical entity key: `key=value` pairs in join-key order, joined by `|`, values URI-encoded so that any
 * value round-trips. Used as the online sort of identity and as the offline `entity_key` column.
 */
export function entityKeyOf(spec: FeatureViewSpec, joinKeys: Record<string, unknown>): string {
  return joinKeysOf(spec).map((k) => `${k}=${encodeURIComponent(String(joinKeys[k]))}`).join('|');
}

/**
 * A join key value normalized to the string the stores key on: a non-empty string as is, a safe integer in decimal;
 * undefined for anything else (the one rule every reader and writer applies).
 */
export function joinKeyValue(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** Parses an event time given as ISO-8601 with a zone, or as epoch milliseconds. Returns NaN when invalid. */
export function parseEventTime(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : NaN;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/.test(value)) return Date.parse(value);
  return NaN;
}

/**
 * Validates one ingestion record against the view: join keys present, event time parseable and not in the future,
 * every feature of the right type, no unknown fields. Missing features become null.
 */
export function validateRecord(spec: FeatureViewSpec, record: unknown, options: RecordValidationOptions = {}): RecordValidation {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return { errors: [`record: expected a JSON object with the fields of view '${spec.name}'`] };
  }
  const fields = record as Record<string, unknown>;
  const errors: string[] = [];
  const joinKeys: Record<string, string> = {};
  for (const key of joinKeysOf(spec)) {
    const value = fields[key];
    const normalized = joinKeyValue(value);
    if (normalized !== undefined) joinKeys[key] = normalized;
    else errors.push(`${key}: join key must be a non-empty string or an integer, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
  }
  const eventTimeMs = parseEventTime(fields[spec.eventTimeField]);
  const nowMs = options.nowMs ?? Date.now();
  const maxSkewMs = options.maxFutureSkewMs ?? 300_000;
  if (Number.isNaN(eventTimeMs)) {
    errors.push(`${spec.eventTimeField}: event time must be ISO-8601 with a zone (e.g. '2026-01-01T12:00:00Z') or epoch milliseconds, got ${JSON.stringify(fields[spec.eventTimeField]) ?? 'nothing'}`);
  } else if (eventTimeMs > nowMs + maxSkewMs) {
    errors.push(`${spec.eventTimeField}: event time ${new Date(eventTimeMs).toISOString()} is more than ${maxSkewMs} ms in the future; check the producer's clock`);
  }
  const values: Record<string, any> = {};
  for (const feature of spec.features) {
    const value = fields[feature.name];
    if (value === undefined || value === null) {
      values[feature.name] = null;
      continue;
    }
    const problem = valueProblem(feature, value);
    if (problem) errors.push(`${feature.name}: ${problem}`);
    else values[feature.name] = value;
  }
  const known = new Set([...joinKeysOf(spec), spec.eventTimeField, ...spec.features.map((f) => f.name)]);
  for (const field of Object.keys(fields)) {
    if (!known.has(field)) errors.push(`${field}: unknown field; view '${spec.name}' v${spec.version} has no such feature (add it to the view first)`);
  }
  if (errors.length > 0) return { errors };
  return {
    errors,
    row: { view: spec.name, version: spec.version, entityKey: entityKeyOf(spec, joinKeys), joinKeys, eventTimeMs, values },
  };
}
