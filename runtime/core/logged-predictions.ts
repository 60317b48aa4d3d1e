/**
 * Logged predictions as one row shape, whatever wrote them: our prediction-log lines (runtime/core/prediction-log.ts,
 * written by the gateway and the inference server) and SageMaker data-capture lines. Drift detection and the label join
 * read rows of this shape only. Parsers never throw on a bad line: they return a stable reason code the caller counts
 * (a window of a million lines must not fail on one). Pure TypeScript: no AWS SDK, no CDK.
 *
 * Values a row carries are flat: a scalar (number, string, boolean, null) or a vector of scalars. Anything deeper, a
 * string longer than `MAX_VALUE_CHARS`, an out-of-range time or a batch whose tensors disagree makes the line
 * unreadable, never a stack overflow or an exception.
 */
import { PREDICTION_LOG_SCHEMA } from './prediction-log';

/** A scalar value of a logged feature or output. */
export type LoggedScalar = number | string | boolean | null;
/** A logged value: a scalar or a vector of scalars (a tensor row flattened). */
export type LoggedValue = LoggedScalar | readonly LoggedScalar[];

/** One prediction, as drift detection and the label join read it. */
export interface LoggedPrediction {
  /** When the prediction was answered, epoch milliseconds. */
  readonly ts: number;
  /** Request id; `<eventId>:<row>` for the rows of a batched data-capture event. */
  readonly requestId: string;
  /** Model name. */
  readonly model: string;
  /** Model version. */
  readonly modelVersion: string;
  /** Variant that answered, when known. */
  readonly variant?: string;
  /** Entity join keys of the request (gateway lines), for labels that name an entity rather than a request. */
  readonly entity?: Readonly<Record<string, string | number>>;
  /**
   * Named feature values: the gateway's `view:feature` names, or the server's inputs by column (see
   * `TensorColumnOptions`).
   */
  readonly features: Readonly<Record<string, LoggedValue>>;
  /** Model outputs by output name: a scalar for a one-element output, else the row's vector. */
  readonly outputs: Readonly<Record<string, LoggedValue>>;
  /** True when the answer was the configured fallback rather than the model's. */
  readonly fallback: boolean;
}

/** Why a line could not be read as predictions (stable codes: counted and logged, never thrown). */
export type UnreadableReason =
  /** Not JSON, or JSON the parser refused (e.g. nested too deep for it). */
  | 'not-json'
  /** JSON, but not an object of the expected format (a required field missing or of the wrong type). */
  | 'not-a-record'
  /** A prediction-log line of another `schema` version. */
  | 'unknown-schema'
  /** A time that is not an ISO-8601 instant between `MIN_TS_MS` and `MAX_TS_MS`. */
  | 'invalid-time'
  /** A feature, output or entity value that is not flat (scalar or vector of scalars), or a string over the cap. */
  | 'invalid-value'
  /** Tensors whose shapes do not agree with their data, or with each other's batch size, or rows of no elements. */
  | 'invalid-tensor'
  /** A batch of more than `MAX_ROWS_PER_LINE` rows in one line. */
  | 'too-many-rows'
  /** A data-capture payload in an encoding or content type this reader does not know. */
  | 'unsupported-payload';

/** The result of parsing one line: the predictions it holds (a batch holds several), or why it holds none. */
export type ParsedLine =
  | { readonly ok: true; readonly rows: readonly LoggedPrediction[] }
  | { readonly ok: false; readonly reason: UnreadableReason };

/** Longest string value (feature, output, id, name) kept, characters: category values are labels, not documents. */
export const MAX_VALUE_CHARS = 1024;
/** Most elements of one tensor row or vector value: a wider row is an image or an embedding, not tabular features. */
export const MAX_ROW_ELEMENTS = 4096;
/**
 * Most rows (predictions) one line may hold: a batch's rows are built as objects, so a declared shape such as
 * `[1e6, 0]` (a million empty rows, no data) must be refused before it is split, not after.
 */
export const MAX_ROWS_PER_LINE = 4096;
/** Deepest tensor nesting followed (rank), e.g. `[batch, h, w, c]` is 4. */
export const MAX_TENSOR_RANK = 8;
/** Earliest prediction time accepted: 2000-01-01T00:00:00Z (a time in seconds lands in 1970 and is refused). */
export const MIN_TS_MS = Date.UTC(2000, 0, 1);
/** Latest prediction time accepted: 2100-01-01T00:00:00Z. */
export const MAX_TS_MS = Date.UTC(2100, 0, 1);

/** How tensor inputs (server lines, data capture) become named feature columns. */
export interface TensorColumnOptions {
  /**
   * Column names of a row's inputs, by position in the row's flattened inputs (inputs in their logged order), e.g. the
   * gateway's `featureRefs`. A position without a name is `<input>[<i>]`.
   * @default - every column is `<input>[<i>]` (`<input>` alone for an input with one element per row)
   */
  readonly inputColumns?: readonly string[];
}

const unreadable = (reason: UnreadableReason): ParsedLine => ({ ok: false, reason });

/** JSON.parse that answers undefined instead of throwing (malformed text, or nesting the parser refuses). */
function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** Sets an own property, even one named `__proto__` (a plain assignment of that name would replace the prototype). */
function put<T>(target: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string of at most MAX_VALUE_CHARS characters, else undefined. */
function shortString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_VALUE_CHARS ? value : undefined;
}

/** Epoch milliseconds of an ISO-8601 instant within MIN_TS_MS..MAX_TS_MS, else undefined (never throws). */
export function parseInstant(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms >= MIN_TS_MS && ms < MAX_TS_MS ? ms : undefined;
}

function isScalar(value: unknown): value is LoggedScalar {
  return value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
    || (typeof value === 'string' && value.length <= MAX_VALUE_CHARS);
}

/** A flat value (a scalar, or a vector of at most MAX_ROW_ELEMENTS scalars), else undefined. One level, no recursion. */
function flatValue(value: unknown): LoggedValue | undefined {
  if (isScalar(value)) return value;
  if (!Array.isArray(value) || value.length > MAX_ROW_ELEMENTS || !value.every(isScalar)) return undefined;
  return value.length === 1 ? value[0] : value;
}

/**
 * The values of a parsed JSON object made flat, in place (a one-element vector becomes its scalar; JSON.parse made
 * every key an own data property, `__proto__` included, so assignments stay plain); undefined when one is not flat.
 */
function flatRecord(value: unknown): Record<string, LoggedValue> | undefined {
  if (!isObject(value)) return undefined;
  for (const name of Object.keys(value)) {
    const flat = flatValue(value[name]);
    if (flat === undefined || name.length > MAX_VALUE_CHARS) return undefined;
    if (flat !== value[name]) value[name] = flat;
  }
  return value as Record<string, LoggedValue>;
}

/** Entity join keys: strings and numbers only. */
function entityOf(value: unknown): Record<string, string | number> | undefined {
  if (!isObject(value)) return undefined;
  const out: Record<string, string | number> = {};
  for (const [name, v] of Object.entries(value)) {
    if ((typeof v === 'number' && Number.isFinite(v)) || shortString(v) !== undefined) put(out, name, v as string | number);
    else return undefined;
  }
  return out;
}

/** A tensor as a shape and its elements in row-major order. */
interface Tensor {
  readonly shape: readonly number[];
  readonly data: readonly LoggedScalar[];
}

/**
 * A tensor given as nested arrays (our server's log): its shape (from the first element at each level) and flat data,
 * iteratively, at most MAX_TENSOR_RANK deep; undefined when ragged, too deep or holding non-scalars.
 */
function tensorOfNested(value: unknown): Tensor | undefined {
  const shape: number[] = [];
  for (let probe = value; Array.isArray(probe); probe = probe[0]) {
    if (shape.length === MAX_TENSOR_RANK) return undefined;
    shape.push(probe.length);
    if (probe.length === 0) break;
  }
  let level: unknown[] = [value];
  for (const size of shape) {
    const next: unknown[] = [];
    for (const item of level) {
      if (!Array.isArray(item) || item.length !== size) return undefined;
      for (const element of item) next.push(element);
    }
    level = next;
  }
  return level.every(isScalar) ? { shape, data: level as LoggedScalar[] } : undefined;
}

/** An OIP tensor (`shape` + row-major `data`, flat or nested as the protocol allows); undefined when inconsistent. */
function tensorOfOip(value: unknown): { name: string; tensor: Tensor } | undefined {
  if (!isObject(value)) return undefined;
  const name = shortString(value.name);
  const shape = value.shape;
  if (name === undefined || !Array.isArray(shape) || shape.length > MAX_TENSOR_RANK || !shape.every((d) => Number.isInteger(d) && d >= 0)) return undefined;
  const nested = tensorOfNested(value.data);
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  if (nested === undefined || nested.data.length !== size) return undefined;
  return { name, tensor: { shape: shape as number[], data: nested.data } };
}

/**
 * Rows of a tensor: axis 0 is the batch (a scalar is one row); each row's elements flattened. A reason instead when
 * the batch is over MAX_ROWS_PER_LINE, a row is wider than MAX_ROW_ELEMENTS, or rows would hold no elements (a shape
 * such as `[n, 0]`: rows conjured from a declared shape, not from data).
 */
function rowsOf(tensor: Tensor): LoggedScalar[][] | UnreadableReason {
  const rows = tensor.shape.length === 0 ? 1 : tensor.shape[0];
  if (rows > MAX_ROWS_PER_LINE) return 'too-many-rows';
  if (rows === 0) return [];
  const width = tensor.data.length / rows;
  if (width === 0 || width > MAX_ROW_ELEMENTS) return 'invalid-tensor';
  return Array.from({ length: rows }, (_, r) => tensor.data.slice(r * width, (r + 1) * width) as LoggedScalar[]);
}

type Rows = { features: Record<string, LoggedValue>; outputs: Record<string, LoggedValue> }[];

/** Tensors by name, split into rows: features per `options`, outputs by name. A reason when a tensor's rows are refused or the batch sizes differ. */
function tensorRows(
  inputs: readonly (readonly [string, Tensor])[], outputs: readonly (readonly [string, Tensor])[], options: TensorColumnOptions,
): Rows | UnreadableReason {
  const inputRows: (readonly [string, LoggedScalar[][]])[] = [];
  const outputRows: (readonly [string, LoggedScalar[][]])[] = [];
  for (const [tensors, into] of [[inputs, inputRows], [outputs, outputRows]] as const) {
    for (const [name, tensor] of tensors) {
      const rows = rowsOf(tensor);
      if (typeof rows === 'string') return rows;
      into.push([name, rows]);
    }
  }
  const all = [...inputRows, ...outputRows];
  if (all.length === 0) return 'invalid-tensor';
  const batch = all[0][1].length;
  if (all.some(([, rows]) => rows.length !== batch)) return 'invalid-tensor';
  const columns = options.inputColumns ?? [];
  return Array.from({ length: batch }, (_, r) => {
    const features: Record<string, LoggedValue> = {};
    let position = 0;
    for (const [name, rows] of inputRows) {
      rows[r].forEach((value, i) => {
        put(features, columns[position] ?? `${name}[${i}]`, value);
        position++;
      });
    }
    const out: Record<string, LoggedValue> = {};
    for (const [name, rows] of outputRows) put(out, name, rows[r].length === 1 ? rows[r][0] : rows[r]);
    return { features, outputs: out };
  });
}

/**
 * Reads one of our prediction-log lines (`PredictionLogRecord`, one JSON object): a gateway line (named `features`)
 * is one prediction; a server line (raw `inputs` by input name, nested arrays) holds one prediction per row of its
 * batch (axis 0), its inputs named by `options`.
 */
export function parsePredictionLogLine(line: string, options: TensorColumnOptions = {}): ParsedLine {
  const record = parseJson(line);
  if (record === undefined) return unreadable('not-json');
  if (!isObject(record)) return unreadable('not-a-record');
  if (record.schema !== PREDICTION_LOG_SCHEMA) return unreadable('unknown-schema');
  const requestId = shortString(record.requestId);
  const model = shortString(record.model);
  const modelVersion = shortString(record.modelVersion);
  const variant = record.variant === undefined ? undefined : shortString(record.variant);
  if (requestId === undefined || model === undefined || modelVersion === undefined || (record.variant !== undefined && variant === undefined)) {
    return unreadable('not-a-record');
  }
  const ts = parseInstant(record.ts);
  if (ts === undefined) return unreadable('invalid-time');
  const entity = record.entity === undefined ? undefined : entityOf(record.entity);
  if (record.entity !== undefined && entity === undefined) return unreadable('invalid-value');
  const base = { ts, requestId, model, modelVersion, fallback: record.fallback === true, ...(variant ? { variant } : {}), ...(entity ? { entity } : {}) };

  if (record.features !== undefined) {
    const features = flatRecord(record.features);
    const outputs = flatRecord(record.outputs);
    if (features === undefined || outputs === undefined) return unreadable('invalid-value');
    return { ok: true, rows: [{ ...base, features, outputs }] };
  }
  if (!isObject(record.inputs) || !isObject(record.outputs)) return unreadable('not-a-record');
  const tensors = (o: Record<string, unknown>) => Object.entries(o).map(([name, v]) => [name, tensorOfNested(v)] as const);
  const inputs = tensors(record.inputs);
  const outputs = tensors(record.outputs);
  if ([...inputs, ...outputs].some(([, t]) => t === undefined)) return unreadable('invalid-tensor');
  const rows = tensorRows(inputs as [string, Tensor][], outputs as [string, Tensor][], options);
  if (typeof rows === 'string') return unreadable(rows);
  return { ok: true, rows: rows.map((row, i) => ({ ...base, requestId: rows.length === 1 ? requestId : `${requestId}:${i}`, ...row })) };
}

/** What a data-capture line does not say itself: which model, version and variant it is (from its key and config). */
export interface DataCaptureSource extends TensorColumnOptions {
  /** Model name. */
  readonly model: string;
  /** Model version of the variant. */
  readonly modelVersion: string;
  /** Variant (the key's `<variant>` segment). */
  readonly variant: string;
}

/** The text of a captured payload, or undefined for an encoding this reader does not know. */
function payloadText(payload: Record<string, unknown>): string | undefined {
  const data = payload.data;
  if (typeof data !== 'string') return undefined;
  if (payload.encoding === 'JSON' || payload.encoding === 'CSV') return data;
  if (payload.encoding === 'BASE64') return Buffer.from(data, 'base64').toString('utf8');
  return undefined;
}

/** Tensors of an OIP body's `inputs` or `outputs` array, or undefined when it is not one. */
function oipTensors(body: unknown, field: 'inputs' | 'outputs'): [string, Tensor][] | undefined {
  if (!isObject(body) || !Array.isArray(body[field])) return undefined;
  const tensors: [string, Tensor][] = [];
  for (const item of body[field] as unknown[]) {
    const tensor = tensorOfOip(item);
    if (tensor === undefined) return undefined;
    tensors.push([tensor.name, tensor.tensor]);
  }
  return tensors;
}

/** A CSV payload as one tensor: a line per row, numbers where they parse, else strings. */
function csvTensor(text: string): Tensor | undefined {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const rows = lines.map((l) => l.split(',').map((cell) => {
    const trimmed = cell.trim();
    const n = Number(trimmed);
    return trimmed !== '' && Number.isFinite(n) ? n : trimmed;
  }));
  const width = rows[0]?.length ?? 0;
  if (rows.length === 0 || rows.some((r) => r.length !== width) || !rows.flat().every(isScalar)) return undefined;
  return { shape: [rows.length, width], data: rows.flat() };
}

/** The tensors of one captured payload: OIP JSON (`inputs`/`outputs`), or CSV as one tensor named `csvName`. */
function capturedTensors(payload: unknown, field: 'inputs' | 'outputs', csvName: string): [string, Tensor][] | 'unsupported' | 'invalid' {
  if (!isObject(payload)) return 'invalid';
  const text = payloadText(payload);
  if (text === undefined) return 'unsupported';
  if (payload.encoding === 'CSV') {
    const tensor = csvTensor(text);
    return tensor ? [[csvName, tensor]] : 'invalid';
  }
  const contentType = typeof payload.observedContentType === 'string' ? payload.observedContentType : '';
  if (!/json/i.test(contentType.slice(0, 128))) return 'unsupported';
  return oipTensors(parseJson(text), field) ?? 'invalid';
}

/**
 * Reads one SageMaker data-capture line (`{"captureData":{"endpointInput":{…},"endpointOutput":{…}},
 * "eventMetadata":{"eventId","inferenceId"?,"inferenceTime"},"eventVersion"}`): payloads in `JSON`, `BASE64` (of JSON)
 * or `CSV` encoding; JSON payloads are Open Inference Protocol bodies (`{"inputs":[{name,shape,datatype,data}]}` →
 * `{"outputs":[…]}`), a batch of n rows being n predictions (request id `<inferenceId|eventId>:<row>`); a CSV payload is
 * one input `input` (and one output `output`), a line per row. Model, version and variant come from `source`.
 */
export function parseDataCaptureLine(line: string, source: DataCaptureSource): ParsedLine {
  const event = parseJson(line);
  if (event === undefined) return unreadable('not-json');
  if (!isObject(event) || !isObject(event.captureData) || !isObject(event.eventMetadata)) return unreadable('not-a-record');
  const metadata = event.eventMetadata;
  const eventId = shortString(metadata.inferenceId) ?? shortString(metadata.eventId);
  if (eventId === undefined) return unreadable('not-a-record');
  const ts = parseInstant(metadata.inferenceTime);
  if (ts === undefined) return unreadable('invalid-time');
  const inputs = capturedTensors(event.captureData.endpointInput, 'inputs', 'input');
  const outputs = event.captureData.endpointOutput === undefined ? [] : capturedTensors(event.captureData.endpointOutput, 'outputs', 'output');
  if (inputs === 'unsupported' || outputs === 'unsupported') return unreadable('unsupported-payload');
  if (inputs === 'invalid' || outputs === 'invalid') return unreadable('invalid-tensor');
  const rows = tensorRows(inputs, outputs, source);
  if (typeof rows === 'string') return unreadable(rows);
  const { model, modelVersion, variant } = source;
  return {
    ok: true,
    rows: rows.map((row, i) => ({ ts, requestId: rows.length === 1 ? eventId : `${eventId}:${i}`, model, modelVersion, variant, fallback: false, ...row })),
  };
}

/** Where a data-capture object sits: `<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>`. */
export interface DataCaptureKey {
  readonly endpoint: string;
  readonly variant: string;
  /** Start of the object's hour (UTC), epoch milliseconds. */
  readonly hourMs: number;
}

/** The endpoint, variant and hour of a data-capture object key under `prefix` (no trailing slash); undefined otherwise. */
export function parseDataCaptureKey(key: string, prefix: string): DataCaptureKey | undefined {
  const head = prefix === '' ? '' : `${prefix.replace(/\/+$/, '')}/`;
  if (!key.startsWith(head)) return undefined;
  const parts = key.slice(head.length).split('/');
  if (parts.length !== 7 || !parts[0] || !parts[1]) return undefined;
  const [y, m, d, h] = parts.slice(2, 6);
  if (!/^\d{4}$/.test(y) || ![m, d, h].every((p) => /^\d{2}$/.test(p))) return undefined;
  const hourMs = Date.UTC(Number(y), Number(m) - 1, Number(d), Number(h));
  if (!Number.isFinite(hourMs) || new Date(hourMs).toISOString().slice(0, 13) !== `${y}-${m}-${d}T${h}`) return undefined;
  return { endpoint: parts[0], variant: parts[1], hourMs };
}
