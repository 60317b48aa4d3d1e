/**
 * The served model as the main thread knows it (name, version, input/output specs read from the session, execution
 * provider), and the checks that turn a request's raw inputs into tensors the model accepts.
 */
import { invalid, preview } from './errors';
import { decodeTensorData, elementCount, NonFinitePolicy, oipDatatype, Tensor, TensorSpec } from './tensors';

/** The loaded model. */
export interface ModelInfo {
  readonly name: string;
  readonly version: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** True when every input and output has a dynamic first (batch) dimension: requests can share a batch. */
  readonly batchable: boolean;
  /** Execution provider the sessions run on (`cuda` or `cpu`). */
  readonly executionProvider: string;
  /** Why the requested provider was not used, when it was not. */
  readonly providerFallbackReason?: string;
}

/** Whether requests to a model with these inputs and outputs can be batched along dimension 0. */
export function isBatchable(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): boolean {
  return [...inputs, ...outputs].every((spec) => spec.shape.length >= 1 && spec.shape[0] === null);
}

/** A shape as the Open Inference Protocol writes it (dynamic dimensions as -1). */
export function oipShape(spec: TensorSpec): number[] {
  return spec.shape.map((d) => d ?? -1);
}

function describe(spec: TensorSpec): string {
  return `${spec.name} (${oipDatatype(spec.type)} [${oipShape(spec).join(',')}])`;
}

/** One input as a request carries it, before checking. */
export interface RawInput {
  readonly name?: unknown;
  readonly datatype?: unknown;
  readonly shape?: unknown;
  readonly data?: unknown;
}

/** A request's inputs, checked against the model. */
export interface ModelInputs {
  /** One tensor per model input, in the model's input order. */
  readonly tensors: Tensor[];
  /** Batch rows (dimension 0) when the model is batchable, else 1. */
  readonly rows: number;
  /** Requests with equal keys can share a batch: the non-batch dimensions of every input. */
  readonly key: string;
}

/**
 * Checks raw inputs against the model — names, datatypes, shapes, element count and every element's value — and
 * builds the tensors. Throws an INVALID error naming the input, the problem and what the model expects.
 */
export function checkInputs(model: Pick<ModelInfo, 'inputs' | 'batchable'>, raw: unknown, nonFinite: NonFinitePolicy): ModelInputs {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw invalid(`'inputs' must be a non-empty array of {name, datatype, shape, data}; the model's inputs are ${model.inputs.map(describe).join(', ')}`);
  }
  const byName = new Map<string, Tensor>();
  raw.forEach((input: RawInput, i) => {
    const where = `inputs[${i}]`;
    if (typeof input !== 'object' || input === null) throw invalid(`${where} must be an object {name, datatype, shape, data}`);
    const spec = model.inputs.find((s) => s.name === input.name);
    if (!spec) {
      throw invalid(`${where}: unknown input ${preview(input.name)}; the model's inputs are ${model.inputs.map(describe).join(', ')}`);
    }
    const named = `${where} '${spec.name}'`;
    if (byName.has(spec.name)) throw invalid(`${named}: input given twice`);
    if (input.datatype !== oipDatatype(spec.type)) {
      throw invalid(`${named}: datatype ${preview(input.datatype)} does not match the model's ${oipDatatype(spec.type)}`);
    }
    const dims = checkShape(spec, input.shape, named);
    byName.set(spec.name, { type: spec.type, dims, data: decodeTensorData(spec.type, input.data, elementCount(dims), nonFinite, named) });
  });
  const missing = model.inputs.filter((s) => !byName.has(s.name));
  if (missing.length > 0) throw invalid(`missing input(s): ${missing.map(describe).join(', ')}`);
  const tensors = model.inputs.map((s) => byName.get(s.name)!);
  if (!model.batchable) return { tensors, rows: 1, key: '' };
  const rows = tensors[0].dims[0];
  const disagreeing = tensors.find((t) => t.dims[0] !== rows);
  if (disagreeing) {
    throw invalid(`inputs disagree on the batch dimension: ${tensors.map((t, i) => `${model.inputs[i].name} has ${t.dims[0]}`).join(', ')}`);
  }
  if (rows === 0) throw invalid('the batch dimension (dimension 0) is 0: send at least one row');
  return { tensors, rows, key: tensors.map((t) => t.dims.slice(1).join('x')).join('|') };
}

function checkShape(spec: TensorSpec, shape: unknown, where: string): number[] {
  const expected = `[${oipShape(spec).join(',')}]`;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw invalid(`${where}: shape must be an array of non-negative integers, got ${preview(shape)}; the model expects ${expected}`);
  }
  if (shape.length !== spec.shape.length) {
    throw invalid(`${where}: shape ${preview(shape)} has ${shape.length} dimensions; the model expects ${spec.shape.length}: ${expected}`);
  }
  spec.shape.forEach((d, i) => {
    if (d !== null && shape[i] !== d) throw invalid(`${where}: shape ${preview(shape)} does not match the model's ${expected} (dimension ${i} must be ${d})`);
  });
  return shape as number[];
}
