/**
 * onnxruntime-node sessions as the server creates and runs them, shared by the session workers and the inline runner
 * (see inline-runner.ts): the same options everywhere, and one way of turning wire tensors into a run and back.
 */
import * as ort from 'onnxruntime-node';
import { isSupportedType, TensorSpec, zeros } from './tensors';
import type { WireTensor } from './worker-protocol';

/** Session options of the server: `intraOpThreads` onnxruntime threads, sequential execution, every graph optimization. */
export function sessionOptions(intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
}

/** Input or output specs of a session; throws on a non-tensor or unsupported type. */
export function specsOf(metadata: readonly ort.InferenceSession.ValueMetadata[], role: string): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor) throw new Error(`${role} '${m.name}' is not a tensor; the server serves tensor inputs and outputs only`);
    if (!isSupportedType(m.type)) throw new Error(`${role} '${m.name}' has type ${m.type}, which the server does not support`);
    return { name: m.name, type: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null)) };
  });
}

/** Runs a session on wire tensors; every output, in the session's order, copied out of onnxruntime's buffers. */
export async function runSession(session: ort.InferenceSession, feeds: readonly WireTensor[]): Promise<WireTensor[]> {
  const inputs: Record<string, ort.Tensor> = {};
  for (const f of feeds) inputs[f.name] = new ort.Tensor(f.type, f.data as never, f.dims);
  const results = await session.run(inputs);
  return session.outputNames.map((name) => {
    const t = results[name] as ort.Tensor;
    // A copy of our own: it can be transferred to another thread, and outlives the session.
    return { name, type: t.type as WireTensor['type'], dims: [...t.dims], data: (t.data as WireTensor['data']).slice() as WireTensor['data'] };
  });
}

/**
 * Synthesized inputs: zeros, `rows` rows on dimension 0 (null: a model without a batch dimension, its own shape),
 * every other dynamic dimension 1.
 */
export function synthesizedFeeds(inputs: readonly TensorSpec[], rows: number | null): WireTensor[] {
  return inputs.map((spec) => ({ name: spec.name, ...zeros(spec.type, spec.shape.map((d, i) => (i === 0 && rows !== null ? rows : d ?? 1))) }));
}
