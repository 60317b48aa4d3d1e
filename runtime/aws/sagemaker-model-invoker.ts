/**
 * Calls a model behind a SageMaker endpoint (or our inference server through the same API) with an Open Inference
 * Protocol body, a hard deadline, the caller's priority and the target variant, and classifies every failure so the
 * gateway can decide between shedding and a fallback.
 */
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { ModelAnswer, ModelCall, ModelCallError, ModelFailureKind, ModelInvoker } from '../core/model-call';

/** Error names of the SageMaker Runtime API that mean "saturated, back off". */
const OVERLOAD_ERRORS = new Set(['ServiceUnavailable', 'ThrottlingException', 'ModelNotReadyException']);
/** Status codes a container uses for "saturated" (a ModelError carries them as OriginalStatusCode). */
const OVERLOAD_STATUSES = new Set([429, 503]);

/** Invokes a SageMaker endpoint with an OIP v2 JSON body. */
export class SageMakerModelInvoker implements ModelInvoker {
  constructor(private readonly client: SageMakerRuntimeClient, private readonly endpointName: string) {}

  public async invoke(call: ModelCall): Promise<ModelAnswer> {
    const body = {
      id: call.requestId,
      inputs: Object.entries(call.inputs).map(([name, t]) => ({ name, shape: t.shape, datatype: 'FP32', data: t.data })),
    };
    const deadlineMs = Math.max(1, Math.floor(call.deadlineMs)); // AbortSignal.timeout takes whole milliseconds
    let answer;
    try {
      answer = await this.client.send(new InvokeEndpointCommand({
        EndpointName: this.endpointName,
        Body: Buffer.from(JSON.stringify(body)),
        ContentType: 'application/json',
        Accept: 'application/json',
        TargetVariant: call.targetVariant,
        InferenceId: call.requestId,
        // The server reads its queue priority and deadline from here, so it can shed and expire on our terms.
        CustomAttributes: `priority=${call.priority},timeout_ms=${deadlineMs}`,
      }), { abortSignal: AbortSignal.timeout(deadlineMs) });
    } catch (error) {
      throw classify(error as Error & { OriginalStatusCode?: number }, deadlineMs);
    }
    try {
      const decoded = JSON.parse(Buffer.from(answer.Body ?? new Uint8Array()).toString('utf8')) as { outputs?: { name: string; data: number[] }[] };
      if (!Array.isArray(decoded.outputs)) throw new Error('no "outputs" array');
      return {
        outputs: Object.fromEntries(decoded.outputs.map((o) => [o.name, o.data.map(Number)])),
        variant: answer.InvokedProductionVariant ?? call.targetVariant,
      };
    } catch (error) {
      throw new ModelCallError(ModelFailureKind.ERROR, `endpoint ${this.endpointName} answered something that is not an inference response: ${(error as Error).message}`);
    }
  }
}

function classify(error: Error & { OriginalStatusCode?: number }, deadlineMs: number): ModelCallError {
  // A container's 504 is the server expiring the request at the deadline we gave it.
  if (error.name === 'AbortError' || error.name === 'TimeoutError' || error.OriginalStatusCode === 504) {
    return new ModelCallError(ModelFailureKind.TIMEOUT, `no answer within the ${deadlineMs} ms deadline`);
  }
  if (OVERLOAD_ERRORS.has(error.name) || OVERLOAD_STATUSES.has(error.OriginalStatusCode ?? 0)) {
    return new ModelCallError(ModelFailureKind.OVERLOADED, `model overloaded: ${error.name}: ${error.message}`);
  }
  return new ModelCallError(ModelFailureKind.ERROR, `${error.name}: ${error.message}`);
}
