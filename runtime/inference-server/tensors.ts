/**
 * Tensors as the server handles them: dtypes (onnxruntime's names and the Open Inference Protocol's), the model's
 * input/output specs, and checked conversion of JSON data into typed arrays and back.
 */
import { invalid } from './errors';

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

const DTYPES: Record<TensorType, DtypeInfo> = {
  float32: { oip: 'FP32', array: Float32Array, kind: 'float' },
  float64: { oip: 'FP64', array: Float64Array, kind: 'float' },
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

/** What to do with NaN and ±Infinity in float inputs. */
export enum NonFinitePolicy {
  /** Refuse the request, naming the element (the default). */
  REJECT = 'reject',
  /** Pass them to the model. */
  ALLOW = 'allow',
}

/** JSON spellings of non-finite numbers (as clients such as Python's json module write them). */
const NON_FINITE_TOKENS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/**
 * Parses a JSON body. When `JSON.parse` refuses it, the bare `NaN`, `Infinity` and `-Infinity` tokens some clients
 * write are turned into strings (which `decodeTensorData` reads as numbers) and the text is parsed again; a body that
 * still does not parse is an INVALID error naming the position.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (/NaN|Infinity/.test(text)) {
      const quoted = text.replace(/"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)/g, (match, token?: string) => (token ? `"${token}"` : match));
      try {
        return JSON.parse(quoted);
      } catch {
        // fall through to the original error
      }
    }
    throw invalid(`request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Number of elements of a shape. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/** Stores one JSON element into `out[i]`; returns what is wrong with it, or undefined. */
function storeElement(info: DtypeInfo, out: TensorData, i: number, v: unknown, nonFinite: NonFinitePolicy): string | undefined {
  switch (info.kind) {
    case 'float': {
      const n = typeof v === 'string' && v in NON_FINITE_TOKENS ? NON_FINITE_TOKENS[v] : v;
      if (typeof n !== 'number') return `is not a number (datatype ${info.oip})`;
      if (nonFinite === NonFinitePolicy.REJECT && !Number.isFinite(n)) {
        return 'is not finite; NaN and Infinity are refused (set INFERENCE_NON_FINITE=allow to pass them to the model)';
      }
      out[i] = n;
      return undefined;
    }
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return `is not an integer (datatype ${info.oip})`;
      if (v < (info.min as number) || v > (info.max as number)) return `is outside the ${info.oip} range ${info.min}..${info.max}`;
      out[i] = v;
      return undefined;
    case 'bigint': {
      let b: bigint;
      if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
      else if (typeof v === 'string' && /^-?\d+$/.test(v)) b = BigInt(v);
      else return `is not an integer (datatype ${info.oip}; beyond 2^53 send it as a decimal string)`;
      if (b < (info.min as bigint) || b > (info.max as bigint)) return `is outside the ${info.oip} range`;
      (out as BigInt64Array)[i] = b;
      return undefined;
    }
    case 'bool':
      if (typeof v !== 'boolean') return 'is not a boolean (datatype BOOL)';
      out[i] = v ? 1 : 0;
      return undefined;
  }
}

/** Flattens nested arrays (row-major) into `out`. */
function flatten(value: unknown, out: unknown[]): void {
  if (Array.isArray(value)) for (const v of value) flatten(v, out);
  else out.push(value);
}

/**
 * Converts JSON data (flat or nested, row-major) into a typed array of `type`, checking every element: floats must be
 * numbers (non-finite ones per `nonFinite`), integers must be integral and in range (64-bit ones may be decimal
 * strings), bools must be booleans. `where` prefixes error messages (e.g. `inputs[0] 'features'`).
 */
export function decodeTensorData(type: TensorType, data: unknown, expectedCount: number, nonFinite: NonFinitePolicy, where: string): TensorData {
  const values: unknown[] = [];
  flatten(data, values);
  if (values.length !== expectedCount) {
    throw invalid(`${where}: data has ${values.length} elements but its shape needs ${expectedCount}`);
  }
  const info = DTYPES[type];
  const out = new info.array(values.length);
  for (let i = 0; i < values.length; i++) {
    const problem = storeElement(info, out, i, values[i], nonFinite);
    if (problem) throw invalid(`${where}: data[${i}] = ${JSON.stringify(values[i])} ${problem}`);
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
