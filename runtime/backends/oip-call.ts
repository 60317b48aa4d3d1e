/**
 * What every model backend shares about a call: the Open Inference Protocol v2 request a `ModelCall` becomes (the
 * body the SageMaker and HTTP backends send, the inputs the embedded backend checks as the server does), the
 * decoding of an OIP answer, and the classification of a model server's status codes. Pure: no I/O.
 */
import { ModelCall, ModelFailureKind } from '../core/model-call';

/** One input of an OIP request. */
export interface OipInput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly datatype: string;
  readonly data: readonly number[];
}

/** The OIP request body of a call: every input as FP32 (the gateway's feature rows), the request id as `id`. */
export function oipRequest(call: ModelCall): { id: string; inputs: OipInput[] } {
  return {
    id: call.requestId,
    inputs: Object.entries(call.inputs).map(([name, t]) => ({ name, shape: t.shape, datatype: 'FP32', data: t.data })),
  };
}

/** A deadline as whole milliseconds, at least 1 (`AbortSignal.timeout` and the server's header take whole ones). */
export function wholeMs(deadlineMs: number): number {
  return Math.max(1, Math.floor(deadlineMs));
}

/** The outputs of an OIP answer body by name; throws naming what is wrong when it is not an inference response. */
export function decodeOipOutputs(text: string): Record<string, number[]> {
  const decoded = JSON.parse(text) as { outputs?: unknown };
  if (!Array.isArray(decoded?.outputs)) throw new Error('no "outputs" array');
  const outputs: Record<string, number[]> = {};
  for (const output of decoded.outputs as { name?: unknown; data?: unknown }[]) {
    if (typeof output?.name !== 'string' || !Array.isArray(output.data)) throw new Error('an output without a name or a data array');
    outputs[output.name] = output.data.map(Number);
  }
  return outputs;
}

/**
 * What a model server's status code says: 429 and 503 are "saturated, back off" (queue full, shed, not ready), 504
 * is the server expiring the call at the deadline we gave it; anything else is undefined (the caller's ERROR).
 */
export function failureOfStatus(status: number | undefined): ModelFailureKind | undefined {
  if (status === 429 || status === 503) return ModelFailureKind.OVERLOADED;
  if (status === 504) return ModelFailureKind.TIMEOUT;
  return undefined;
}

/** Whether an error is an aborted or timed-out call (fetch and the AWS SDK name them so). */
export function isAbort(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}
