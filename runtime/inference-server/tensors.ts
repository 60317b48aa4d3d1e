/**
 * Tensors as the server handles them: dtypes (onnxruntime's names and the Open Inference Protocol's), the model's
 * input/output specs, and checked conversion of JSON data into typed arrays and back.
 */
import { InferenceError, invalid, preview } from './errors';
import { NonFinitePolicy, ServerVariables } from '../contracts/inference-server';

/** onnxruntime tensor types the server accepts and returns. */
export type TensorType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

/** Typed arrays backing tensors (bool is Uint8Array). */
export type TensorData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

interface TypedArrayConstructor {
  new (length: number): TensorData;
}

interface DtypeInfo {
  /** Open Inference Protocol datatype name. */
  readonly oip: string;
  readonly array: TypedArrayConstructor;
  readonly kind: 'float' | 'int' | 'bigint' | 'bool';
  readonly min?: number | bigint;
  readonly max?: number | bigint;
}

/** Largest finite float32 (error messages name it; a larger number that rounds to it, such as 3.4028235e38, fits). */
const FLOAT32_MAX = 3.4028234663852886e38;

const DTYPES: Record<TensorType, DtypeInfo> = {
  float32: { oip: 'FP32', array: Float32Array, kind: 'float', min: -FLOAT32_MAX, max: FLOAT32_MAX },
  float64: { oip: 'FP64', array: Float64Array, kind: 'float', min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
  int8: { oip: 'INT8', array: Int8Array, kind: 'int', min: -128, max: 127 },
  uint8: { oip: 'UINT8', array: Uint8Array, kind: 'int', min: 0, max: 255 },
  int16: { oip: 'INT16', array: Int16Array, kind: 'int', min: -32768, max: 32767 },
  uint16: { oip: 'UINT16', array: Uint16Array, kind: 'int', min: 0, max: 65535 },
  int32: { oip: 'INT32', array: Int32Array, kind: 'int', min: -2147483648, max: 2147483647 },
  uint32: { oip: 'UINT32', array: Uint32Array, kind: 'int', min: 0, max: 4294967295 },
  int64: { oip: 'INT64', array: BigInt64Array, kind: 'bigint', min: -(2n ** 63n), max: 2n ** 63n - 1n },
  uint64: { oip: 'UINT64', array: BigUint64Array, kind: 'bigint', min: 0n, max: 2n ** 64n - 1n },
  bool: { oip: 'BOOL', array: Uint8Array, kind: 'bool' },
};

/** Whether onnxruntime's type name is one the server handles. */
export function isSupportedType(type: string): type is TensorType {
  return Object.prototype.hasOwnProperty.call(DTYPES, type);
}

/** The Open Inference Protocol datatype (`FP32`, `INT64`, ...) of a tensor type. */
export function oipDatatype(type: TensorType): string {
  return DTYPES[type].oip;
}

/** A model input or output: name, type and shape (`null` = dynamic dimension). */
export interface TensorSpec {
  readonly name: string;
  readonly type: TensorType;
  readonly shape: readonly (number | null)[];
}

/** A tensor: type, dimensions and row-major data. */
export interface Tensor {
  readonly type: TensorType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export { NonFinitePolicy };

/** JSON spellings of non-finite numbers (as clients such as Python's json module write them). */
const NON_FINITE_TOKENS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
const NON_FINITE_SPELLINGS = Object.keys(NON_FINITE_TOKENS);
/** What is wrong with a non-finite float under `NonFinitePolicy.REJECT`. */
const NON_FINITE_REFUSED = `is not finite; NaN and Infinity are refused (set ${ServerVariables.NON_FINITE}=${NonFinitePolicy.ALLOW} to pass them to the model)`;

/** Most nesting levels of a tensor's JSON data (and of SageMaker `instances` rows). */
export const MAX_DATA_DEPTH = 32;
/** Most nesting levels of a JSON body: a tensor's data `MAX_DATA_DEPTH` deep inside the request's own objects. */
const MAX_JSON_DEPTH = MAX_DATA_DEPTH + 8;

/**
 * Parses a JSON body. A body nested more than `MAX_JSON_DEPTH` levels is refused before parsing (`JSON.parse` spends
 * about a microsecond per level: 3 million levels fit in 6 MB). When `JSON.parse` refuses the text, the bare `NaN`,
 * `Infinity` and `-Infinity` tokens some clients write are turned into strings (which `decodeTensorData` reads as
 * numbers) and the text is parsed again; a body that still does not parse is an INVALID error naming the position.
 */
export function parseJson(text: string): unknown {
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
    throw invalid(`request body is nested more than ${MAX_JSON_DEPTH} levels deep (a tensor's data may nest ${MAX_DATA_DEPTH} levels at most); send the data flat, or nested as its shape`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const quoted = text.includes('NaN') || text.includes('Infinity') ? quoteNonFiniteTokens(text) : undefined;
    if (quoted !== undefined) {
      try {
        return JSON.parse(quoted);
      } catch {
        // fall through to the original error
      }
    }
    throw invalid(`request body is not valid JSON: ${(error as Error).message}`);
  }
}

// Scanning JSON text without a regular expression: linear in its length whatever it holds, and fast, since it jumps
// from one character of interest to the next with indexOf (a native search) rather than looking at every character.
const BACKSLASH = 0x5c;
/** What may follow a value: whitespace, `,`, `]`, `}`. */
const VALUE_ENDS = new Set([' ', '\t', '\n', '\r', ',', ']', '}']);

/** Index of the quote that closes the string opened at `open`, or -1 when the string is not closed. */
function closingQuote(text: string, open: number): number {
  for (let quote = text.indexOf('"', open + 1); quote >= 0; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
  return -1;
}

/** Positions of the characters `marks` in JSON text outside strings, in order; -1 (and the end) at an unterminated string. */
function* outsideStrings(text: string, marks: readonly string[]): Generator<number> {
  const all = ['"', ...marks];
  const next = all.map((mark) => text.indexOf(mark));
  for (;;) {
    let k = -1;
    for (let j = 0; j < all.length; j++) if (next[j] >= 0 && (k < 0 || next[j] < next[k])) k = j;
    if (k < 0) return;
    let from = next[k] + 1;
    if (k === 0) {
      const end = closingQuote(text, next[k]);
      if (end < 0) {
        yield -1;
        return;
      }
      from = end + 1;
    } else {
      yield next[k];
    }
    for (let j = 0; j < all.length; j++) if (next[j] >= 0 && next[j] < from) next[j] = text.indexOf(all[j], from);
  }
}

/** Whether JSON text nests arrays and objects more than `cap` levels deep. */
function nestedDeeperThan(text: string, cap: number): boolean {
  let depth = 0;
  for (const at of outsideStrings(text, ['[', '{', ']', '}'])) {
    if (at < 0) return false;
    depth += text[at] === '[' || text[at] === '{' ? 1 : -1;
    if (depth > cap) return true;
  }
  return false;
}

/**
 * Quotes the `NaN`, `Infinity` and `-Infinity` tokens found outside JSON strings; undefined when the text cannot be
 * JSON however quoted (an unterminated string, a stray capital letter, a token run into another).
 */
function quoteNonFiniteTokens(text: string): string | undefined {
  let out = '';
  let copied = 0;
  for (const at of outsideStrings(text, ['N', 'I'])) {
    if (at < 0) return undefined;
    if (at < copied) continue; // the second N of NaN
    const start = text[at] === 'I' && text[at - 1] === '-' ? at - 1 : at;
    const token = NON_FINITE_SPELLINGS.find((t) => text.startsWith(t, start));
    const end = start + (token?.length ?? 0);
    if (token === undefined || (end < text.length && !VALUE_ENDS.has(text[end]))) return undefined;
    out += `${text.slice(copied, start)}"${token}"`;
    copied = end;
  }
  return out + text.slice(copied);
}

/** Number of elements of a shape. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/** The INVALID error for data nested deeper than `MAX_DATA_DEPTH`. */
export function tooDeep(where: string): InferenceError {
  return invalid(`${where} is nested more than ${MAX_DATA_DEPTH} levels deep (the most the server reads); send the data flat, or nested as its shape`);
}

/** Longest decimal string read as a 64-bit integer (20 digits, a sign, leading zeros); longer ones are out of range. */
const MAX_INTEGER_CHARS = 40;

/** `v` as a bigint: a safe integer, or a decimal string; `null` for a decimal string too long for any 64-bit integer. */
function toBigInt(v: unknown): bigint | null | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) return undefined; // anchored, disjoint character sets: linear
  return v.length <= MAX_INTEGER_CHARS ? BigInt(v) : null;
}

function outOfRange(info: DtypeInfo): string {
  return `is outside the ${info.oip} range ${info.min}..${info.max}`;
}

/** Stores one JSON element into `out[i]`; returns what is wrong with it, or undefined. */
function storeElement(info: DtypeInfo, out: TensorData, i: number, v: unknown, nonFinite: NonFinitePolicy): string | undefined {
  switch (info.kind) {
    case 'float': {
      const n = typeof v === 'string' && v in NON_FINITE_TOKENS ? NON_FINITE_TOKENS[v] : v;
      if (typeof n !== 'number') return `is not a number (datatype ${info.oip})`;
      if (typeof v === 'number' && !Number.isFinite(v)) return outOfRange(info); // a number that overflowed when parsed
      out[i] = n;
      if (!Number.isFinite(n)) return nonFinite === NonFinitePolicy.REJECT ? NON_FINITE_REFUSED : undefined;
      // A finite number the typed array stored as ±Infinity is beyond the type's range once rounded to it (FP32:
      // past FLOAT32_MAX by half a step or more; 3.4028235e38, as numpy prints the maximum, rounds to it and fits).
      return Number.isFinite(out[i]) ? undefined : outOfRange(info);
    }
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return `is not an integer (datatype ${info.oip})`;
      if (v < (info.min as number) || v > (info.max as number)) return outOfRange(info);
      out[i] = v;
      return undefined;
    case 'bigint': {
      const b = toBigInt(v);
      if (b === undefined) return `is not an integer (datatype ${info.oip}; beyond 2^53 send it as a decimal string)`;
      if (b === null || b < (info.min as bigint) || b > (info.max as bigint)) return outOfRange(info);
      (out as BigInt64Array)[i] = b;
      return undefined;
    }
    case 'bool':
      if (typeof v !== 'boolean') return 'is not a boolean (datatype BOOL)';
      out[i] = v ? 1 : 0;
      return undefined;
  }
}

/**
 * Flattens nested arrays (row-major) into a list, iteratively (no recursion on caller data); throws INVALID past
 * `MAX_DATA_DEPTH` levels.
 */
function flatten(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) return [value];
  const out: unknown[] = [];
  const stack: { array: unknown[]; next: number }[] = [{ array: value, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next === top.array.length) {
      stack.pop();
      continue;
    }
    const item = top.array[top.next++];
    if (!Array.isArray(item)) {
      out.push(item);
    } else {
      if (stack.length === MAX_DATA_DEPTH) throw tooDeep(`${where}: data`);
      stack.push({ array: item, next: 0 });
    }
  }
  return out;
}

/**
 * Converts JSON data (flat or nested up to `MAX_DATA_DEPTH` levels, row-major) into a typed array of `type`, checking
 * every element: floats must be numbers within the type's range (non-finite ones per `nonFinite`), integers must be
 * integral and in range (64-bit ones may be decimal strings), bools must be booleans. `where` prefixes error messages
 * (e.g. `inputs[0] 'features'`).
 */
export function decodeTensorData(type: TensorType, data: unknown, expectedCount: number, nonFinite: NonFinitePolicy, where: string): TensorData {
  const values = flatten(data, where);
  if (values.length !== expectedCount) {
    throw invalid(`${where}: data has ${values.length} elements but its shape needs ${expectedCount}`);
  }
  const info = DTYPES[type];
  const out = new info.array(values.length);
  for (let i = 0; i < values.length; i++) {
    const problem = storeElement(info, out, i, values[i], nonFinite);
    if (problem) throw invalid(`${where}: data[${i}] = ${preview(values[i])} ${problem}`);
  }
  return out;
}

/**
 * Converts tensor data to JSON values: numbers, booleans for bool, int64 beyond 2^53 as decimal strings, and
 * non-finite floats as the strings `NaN`, `Infinity`, `-Infinity` (JSON has no spelling for them; requests accept
 * the same strings).
 */
export function encodeTensorData(type: TensorType, data: TensorData): (number | boolean | string)[] {
  const out = new Array<number | boolean | string>(data.length);
  const kind = DTYPES[type].kind;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (kind === 'bigint') {
      const n = Number(v);
      out[i] = Number.isSafeInteger(n) ? n : String(v);
    } else if (kind === 'bool') {
      out[i] = v !== 0;
    } else {
      out[i] = Number.isFinite(v) ? (v as number) : String(v);
    }
  }
  return out;
}

/** A zero-filled tensor of a type and shape (warm-up batches). */
export function zeros(type: TensorType, dims: readonly number[]): Tensor {
  return { type, dims, data: new DTYPES[type].array(elementCount(dims)) };
}

/** Concatenates tensors of one type along dimension 0 (all have the same trailing dimensions). */
export function concatRows(parts: readonly Tensor[]): Tensor {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const rows = parts.reduce((n, p) => n + p.dims[0], 0);
  const data = new DTYPES[first.type].array(parts.reduce((n, p) => n + p.data.length, 0));
  let offset = 0;
  for (const part of parts) {
    (data as Float32Array).set(part.data as Float32Array, offset);
    offset += part.data.length;
  }
  return { type: first.type, dims: [rows, ...first.dims.slice(1)], data };
}

/** Rows `[start, start + count)` of a tensor (a view, no copy). */
export function sliceRows(tensor: Tensor, start: number, count: number): Tensor {
  const rowSize = tensor.dims[0] === 0 ? 0 : tensor.data.length / tensor.dims[0];
  return {
    type: tensor.type,
    dims: [count, ...tensor.dims.slice(1)],
    data: tensor.data.subarray(start * rowSize, (start + count) * rowSize) as TensorData,
  };
}
