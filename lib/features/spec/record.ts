import { DEFAULT_MAX_FUTURE_SKEW_MS, eventTimeProblem, parseEventTime } from './event-time';
import { FeatureViewSpec } from './types';
import { describeValue, textProblem, valueProblem } from './values';

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
   * How far in the future an event time may lie (producer clock skew) before the record is refused; at most
   * `MAX_FUTURE_SKEW_LIMIT_MS`.
   * @default DEFAULT_MAX_FUTURE_SKEW_MS (5 minutes)
   */
  readonly maxFutureSkewMs?: number;
  /**
   * First accepted event date: the offline tables' projection start, `yyyy-mm-dd` or `NOW-<n>DAYS` (see
   * `eventTimeProblem`; a value `earliestEventDateProblem` refuses makes validation throw).
   * @default DEFAULT_EARLIEST_EVENT_DATE ('2020-01-01')
   */
  readonly earliestEventDate?: string;
}

/** Most unknown fields named one by one in the errors of one record (the rest are counted). */
const MAX_UNKNOWN_FIELDS_LISTED = 20;

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
 * A join key value normalized to the string the stores key on: a non-empty, well-formed string as is, a safe integer
 * in decimal; undefined for anything else (the one rule every reader and writer applies).
 */
export function joinKeyValue(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0 && textProblem(value) === undefined) return value;
  if (Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/**
 * Validates one ingestion record against the view: join keys present and well-formed, event time parseable and
 * within the accepted window (`eventTimeProblem`), every feature of the right type, no unknown fields. Missing
 * features become null. Never throws, whatever the record holds (any depth, size or text); throws only on an invalid
 * `options.earliestEventDate`.
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
    else if (typeof value === 'string' && textProblem(value)) errors.push(`${key}: join key ${textProblem(value)}`);
    else errors.push(`${key}: join key must be a non-empty string or an integer, got ${describeValue(value)}`);
  }
  const rawEventTime = fields[spec.eventTimeField];
  const eventTimeMs = parseEventTime(rawEventTime);
  const eventTimeError = eventTimeProblem(spec.eventTimeField, rawEventTime, eventTimeMs, options.nowMs ?? Date.now(), options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS, options.earliestEventDate);
  if (eventTimeError) errors.push(eventTimeError);
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
  const unknown = Object.keys(fields).filter((field) => !known.has(field));
  for (const field of unknown.slice(0, MAX_UNKNOWN_FIELDS_LISTED)) {
    errors.push(`${fieldName(field)}: unknown field; view '${spec.name}' v${spec.version} has no such feature (add it to the view first)`);
  }
  if (unknown.length > MAX_UNKNOWN_FIELDS_LISTED) errors.push(`…: ${unknown.length - MAX_UNKNOWN_FIELDS_LISTED} more unknown fields`);
  if (errors.length > 0) return { errors };
  return {
    errors,
    row: { view: spec.name, version: spec.version, entityKey: entityKeyOf(spec, joinKeys), joinKeys, eventTimeMs, values },
  };
}

/** A field name for an error message: as is when short, else cut (a producer's field names are not bounded). */
function fieldName(name: string): string {
  return name.length <= 64 ? name : `${name.slice(0, 64)}…`;
}
