/**
 * Validation of ground-truth labels as they arrive from another system (a Kinesis record, or one line of a JSON-lines
 * file dropped in S3), into the `LabelRecord` the label dataset stores (runtime/core/datasets.ts). Validated like
 * feature records (lib/features/spec: the same join-key rule, the same time parsing and window, the same safe value
 * descriptions): every problem names the field and the fix, every message is bounded whatever the input holds (any
 * depth, any size, lone surrogates), and nothing here throws on any input. Pure: no AWS SDK, no CDK.
 *
 * A label, as producers send it (JSON):
 * ```
 * { "model": "fraud", "requestId": "r-123", "label": 1, "labelTime": "2026-03-01T12:00:00Z" }
 * { "model": "fraud", "entity": { "customer_id": "c-9" }, "eventTime": 1767225600000, "label": true, "labelTime": 1767312000000 }
 * ```
 */
import {
  DEFAULT_MAX_FUTURE_SKEW_MS, describeValue, EARLIEST_EVENT_TIME_MS, DEFAULT_EARLIEST_EVENT_DATE, epochUnitProblem, formatEpochMs,
  joinKeyValue, parseEventTime, textProblem,
} from '../../lib/features/spec';
import { isPartitionValue, LABEL_SCHEMA, LabelRecord } from './datasets';

/** Most bytes of one label (a Kinesis record or a line of a dropped file): a label is small; larger input is refused unread. */
export const MAX_LABEL_BYTES = 64 * 1024;
/**
 * Most bytes of a stored label (a line of the label dataset): a producer's label of at most `MAX_LABEL_BYTES`,
 * normalized (times as ISO-8601, numbers as JavaScript writes them, the schema set) and stamped with `receivedAt` —
 * a few hundred bytes more at most.
 */
export const MAX_STORED_LABEL_BYTES = MAX_LABEL_BYTES + 1024;
/** Most characters of a `requestId`. */
export const MAX_REQUEST_ID_LENGTH = 256;
/** Most join keys in an `entity`. */
export const MAX_ENTITY_KEYS = 16;
/** Most characters of a join key's name, and of a string join key value. */
export const MAX_JOIN_KEY_LENGTH = 1024;
/** Most characters of a string label (a class name). */
export const MAX_LABEL_TEXT_LENGTH = 1024;
/** Largest magnitude of a numeric label: its square (squared errors, Brier score) stays a finite float64. */
export const MAX_LABEL_MAGNITUDE = 1e150;
/** Longest time text accepted (an ISO-8601 time with a zone and nanoseconds is 35 characters). */
const MAX_TIME_TEXT_LENGTH = 64;
/** Most model names listed in a problem. */
const MAX_MODELS_LISTED = 10;
/** Most unknown fields named one by one (the rest are counted). */
const MAX_UNKNOWN_FIELDS_LISTED = 10;
/** Most characters of the problem text of one label. */
export const MAX_PROBLEM_LENGTH = 2000;

/** The fields a label may have. */
const LABEL_FIELDS = ['schema', 'model', 'requestId', 'entity', 'eventTime', 'label', 'labelTime'] as const;
/** The fields a stored label may have: the label's, and the arrival the ingestion stamps. */
const STORED_LABEL_FIELDS = [...LABEL_FIELDS, 'receivedAt'] as const;

/** Options of `parseLabel`. */
export interface LabelParseOptions {
  /**
   * The models labels are accepted for; a label of any other model is refused.
   * @default - any valid model name
   */
  readonly models?: readonly string[];
  /**
   * Current time, epoch milliseconds (for the future-skew check).
   * @default Date.now()
   */
  readonly nowMs?: number;
  /**
   * How far in the future `labelTime` and `eventTime` may lie (producer clock skew), milliseconds.
   * @default DEFAULT_MAX_FUTURE_SKEW_MS (5 minutes)
   */
  readonly maxFutureSkewMs?: number;
  /**
   * Whether the label is one the dataset stores (as the label join reads it): then its `receivedAt` is accepted and
   * kept; a producer's label carrying one is refused (the ingestion stamps it).
   * @default false
   */
  readonly stored?: boolean;
}

/**
 * A valid label, or why the input is not one (with the `model` it named, when it named one as a string: what a
 * refused label's metrics are counted under).
 */
export type LabelParse = { readonly label: LabelRecord } | { readonly problem: string; readonly model?: string };

/**
 * Validates one label (a parsed JSON value) and normalizes it: times as ISO-8601 UTC, join keys as sent (strings or
 * safe integers), `schema` set to `LABEL_SCHEMA`. Exactly one of `requestId` or `entity` + `eventTime` names the
 * prediction labelled. Never throws; the problem lists every finding, each naming its field and the fix.
 */
export function parseLabel(raw: unknown, options: LabelParseOptions = {}): LabelParse {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { problem: `label: expected a JSON object { model, requestId | entity + eventTime, label, labelTime }, got ${describeValue(raw)}` };
  }
  const fields = raw as Record<string, unknown>;
  const problems: string[] = [];
  const nowMs = options.nowMs ?? Date.now();
  const maxFutureSkewMs = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;

  if (fields.schema !== undefined && fields.schema !== LABEL_SCHEMA) {
    problems.push(`schema: ${describeValue(fields.schema)} is not a label format this ingestion reads; send ${LABEL_SCHEMA} or leave it out`);
  }
  const model = modelProblem(fields.model, options.models);
  if (model) problems.push(model);

  const hasRequestId = fields.requestId !== undefined;
  const hasEntity = fields.entity !== undefined || fields.eventTime !== undefined;
  if (hasRequestId && hasEntity) {
    problems.push('requestId/entity: send either requestId, or entity + eventTime, not both (one way to name the prediction labelled)');
  } else if (!hasRequestId && !hasEntity) {
    problems.push('requestId/entity: missing; name the prediction labelled by its requestId, or by entity (its join keys) + eventTime');
  }
  let entity: Record<string, string | number> | undefined;
  let eventTime: string | undefined;
  if (hasRequestId) {
    const problem = requestIdProblem(fields.requestId);
    if (problem) problems.push(problem);
  } else if (hasEntity) {
    const parsed = parseEntity(fields.entity);
    if ('problem' in parsed) problems.push(parsed.problem);
    else entity = parsed.entity;
    const time = parseTime('eventTime', fields.eventTime, nowMs, maxFutureSkewMs);
    if ('problem' in time) problems.push(time.problem);
    else eventTime = time.iso;
  }

  const label = labelProblem(fields.label);
  if (label) problems.push(label);
  const labelTime = parseTime('labelTime', fields.labelTime, nowMs, maxFutureSkewMs);
  if ('problem' in labelTime) problems.push(labelTime.problem);
  let receivedAt: string | undefined;
  if (options.stored && fields.receivedAt !== undefined) {
    const time = parseTime('receivedAt', fields.receivedAt, nowMs, maxFutureSkewMs);
    if ('problem' in time) problems.push(time.problem);
    else receivedAt = time.iso;
  }

  const known: readonly string[] = options.stored ? STORED_LABEL_FIELDS : LABEL_FIELDS;
  const unknown = Object.keys(fields).filter((field) => !known.includes(field));
  for (const field of unknown.slice(0, MAX_UNKNOWN_FIELDS_LISTED)) {
    problems.push(`${fieldName(field)}: unknown field; a label has only ${LABEL_FIELDS.join(', ')} (remove it)`);
  }
  if (unknown.length > MAX_UNKNOWN_FIELDS_LISTED) problems.push(`…: ${unknown.length - MAX_UNKNOWN_FIELDS_LISTED} more unknown fields`);

  if (problems.length > 0 || 'problem' in labelTime) {
    return { problem: cut(problems.join('; '), MAX_PROBLEM_LENGTH), ...(typeof fields.model === 'string' ? { model: fields.model } : {}) };
  }
  return {
    label: {
      schema: LABEL_SCHEMA,
      model: fields.model as string,
      ...(hasRequestId ? { requestId: fields.requestId as string } : { entity, eventTime }),
      label: fields.label as number | boolean | string,
      labelTime: labelTime.iso,
      ...(receivedAt !== undefined ? { receivedAt } : {}),
    },
  };
}

/**
 * Parses one label from its JSON text (a Kinesis record's data, a line of a dropped file): refuses text over
 * `MAX_LABEL_BYTES` and text that does not start with `{` unparsed, then `parseLabel`. Never throws. Cheap on bad
 * input too (a file of a million bad lines is read in one invocation): the parse error is built without a stack.
 */
export function parseLabelText(text: string, options: LabelParseOptions = {}): LabelParse {
  const bytes = Buffer.byteLength(text);
  if (bytes > (options.stored ? MAX_STORED_LABEL_BYTES : MAX_LABEL_BYTES)) return { problem: labelTooLargeProblem(bytes) };
  const start = text.trimStart();
  if (!start.startsWith('{')) {
    return { problem: `label: not a JSON object (the text starts with ${describeValue(start.slice(0, 16))}); send one JSON object per record or line` };
  }
  let raw: unknown;
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { problem: `label: not JSON (${cut(String((error as Error)?.message ?? error), 200)}); send one JSON object per record or line` };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  return parseLabel(raw, options);
}

/** The problem of a label of `bytes` bytes, over `MAX_LABEL_BYTES`. */
export function labelTooLargeProblem(bytes: number): string {
  return `label: ${bytes} bytes; a label takes at most ${MAX_LABEL_BYTES} bytes of JSON (send one small object per record or line)`;
}

/** Why `value` is not a model name labels are accepted for, or undefined. */
function modelProblem(value: unknown, models: readonly string[] | undefined): string | undefined {
  if (typeof value !== 'string') return `model: expected the name of the model labelled (a string), got ${describeValue(value)}`;
  if (models !== undefined && !models.includes(value)) {
    const listed = models.slice(0, MAX_MODELS_LISTED).join(', ') + (models.length > MAX_MODELS_LISTED ? `, … (${models.length} in all)` : '');
    return `model: ${describeValue(value)} is not a model this ingestion accepts labels for (${listed}); send labels of those, or add the model to the LabelIngestion's models`;
  }
  if (!isPartitionValue(value)) {
    return `model: ${describeValue(value)} is not a model name (1–128 letters, digits, '.', '_' or '-'); send the name the model is served under`;
  }
  return undefined;
}

/** Why `value` is not a request id, or undefined. */
function requestIdProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return `requestId: expected the request id of the prediction labelled (a non-empty string), got ${describeValue(value)}`;
  if (value.length > MAX_REQUEST_ID_LENGTH) return `requestId: ${value.length} characters; a request id has at most ${MAX_REQUEST_ID_LENGTH} (send the id the gateway returned)`;
  const text = textProblem(value);
  return text ? `requestId: ${text}` : undefined;
}

/** The entity's join keys (values as sent: non-empty strings or safe integers), or why they are not valid. */
function parseEntity(value: unknown): { entity: Record<string, string | number> } | { problem: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problem: `entity: expected an object of join keys, e.g. { "customer_id": "c-9" }, got ${describeValue(value)}` };
  }
  const keys = Object.keys(value);
  if (keys.length === 0 || keys.length > MAX_ENTITY_KEYS) {
    return { problem: `entity: ${keys.length} join keys; send from 1 to ${MAX_ENTITY_KEYS}, the join keys of the prediction labelled` };
  }
  const entity: Record<string, string | number> = {};
  for (const key of keys) {
    const keyProblem = key.length === 0 || key.length > MAX_JOIN_KEY_LENGTH ? `a join key name has 1 to ${MAX_JOIN_KEY_LENGTH} characters` : textProblem(key);
    if (keyProblem) return { problem: `entity: key ${describeValue(key)}: ${keyProblem}` };
    const joinKey = (value as Record<string, unknown>)[key];
    const normalized = joinKeyValue(joinKey);
    if (normalized === undefined) {
      const text = typeof joinKey === 'string' ? textProblem(joinKey) : undefined;
      return { problem: `entity.${fieldName(key)}: join key ${text ?? `must be a non-empty string or an integer, got ${describeValue(joinKey)}`}` };
    }
    if (normalized.length > MAX_JOIN_KEY_LENGTH) return { problem: `entity.${fieldName(key)}: ${normalized.length} characters; a join key value has at most ${MAX_JOIN_KEY_LENGTH}` };
    // Defined, not assigned: a key named `__proto__` would otherwise set the prototype and vanish from the entity.
    Object.defineProperty(entity, key, { value: joinKey as string | number, enumerable: true, writable: true, configurable: true });
  }
  return { entity };
}

/** Why `value` is not a label, or undefined. */
function labelProblem(value: unknown): string | undefined {
  if (typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    return Number.isFinite(value) && Math.abs(value) <= MAX_LABEL_MAGNITUDE ? undefined
      : `label: ${value} is outside ±${MAX_LABEL_MAGNITUDE} (squared errors must stay finite); send a finite number, rescaled if need be`;
  }
  if (typeof value === 'string') {
    if (value.length === 0 || value.length > MAX_LABEL_TEXT_LENGTH) return `label: a class name has 1 to ${MAX_LABEL_TEXT_LENGTH} characters, got ${value.length}`;
    const text = textProblem(value);
    return text ? `label: ${text}` : undefined;
  }
  return `label: expected the outcome as a number, a boolean or a class name (string), got ${describeValue(value)}`;
}

/**
 * A time field as ISO-8601 UTC, or why it is not valid: ISO-8601 with a zone or epoch milliseconds, from
 * `DEFAULT_EARLIEST_EVENT_DATE` to `nowMs + maxFutureSkewMs` (epoch seconds and microseconds are named as such).
 */
function parseTime(field: string, raw: unknown, nowMs: number, maxFutureSkewMs: number): { iso: string } | { problem: string } {
  if (typeof raw === 'string' && raw.length > MAX_TIME_TEXT_LENGTH) return { problem: `${field}: ${raw.length} characters is no time; send ISO-8601 with a zone (e.g. '2026-01-01T12:00:00Z') or epoch milliseconds` };
  const ms = parseEventTime(raw);
  const latestMs = nowMs + maxFutureSkewMs;
  const inWindow = (t: number) => t >= EARLIEST_EVENT_TIME_MS && t <= latestMs;
  if (Number.isNaN(ms)) {
    return { problem: `${field}: expected ISO-8601 with a zone (e.g. '2026-01-01T12:00:00Z') or epoch milliseconds, got ${describeValue(raw)}` };
  }
  if (inWindow(ms)) return { iso: new Date(ms).toISOString() };
  const unit = epochUnitProblem(field, raw, ms, inWindow);
  if (unit) return { problem: unit };
  return ms < EARLIEST_EVENT_TIME_MS
    ? { problem: `${field}: ${formatEpochMs(ms)} is before ${DEFAULT_EARLIEST_EVENT_DATE}; send times from then on, in epoch milliseconds or ISO-8601 with a zone` }
    : { problem: `${field}: ${formatEpochMs(ms)} is more than ${maxFutureSkewMs} ms in the future; check the producer's clock` };
}

/** A field name for a message: as is when short, else cut (a producer's field names are not bounded). */
function fieldName(name: string): string {
  return cut(name, 64);
}

/** `text`, cut to `max` characters (marked with `…`). */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
