/**
 * Calls a model behind a SageMaker endpoint (or our inference server through the same API) with an Open Inference
 * Protocol body, a hard deadline, the caller's priority and the target variant, and classifies every failure so the
 * gateway can decide between shedding and a fallback (the body and status rules are shared with the HTTP backend:
 * runtime/backends/oip-call.ts).
 */
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { decodeOipOutputs, failureOfStatus, isAbort, oipRequest, wholeMs } from '../backends/oip-call';
import { ModelAnswer, ModelCall, ModelCallError, ModelFailureKind, ModelInvoker } from '../core/model-call';

/** Error names of the SageMaker Runtime API that mean "saturated, back off". */
const OVERLOAD_ERRORS = new Set(['ServiceUnavailable', 'ThrottlingException', 'ModelNotReadyException']);

/** Invokes a SageMaker endpoint with an OIP v2 JSON body. */
export class SageMakerModelInvoker implements ModelInvoker {
  constructor(private readonly client: SageMakerRuntimeClient, private readonly endpointName: string) {}

  public async invoke(call: ModelCall): Promise<ModelAnswer> {
    const deadlineMs = wholeMs(call.deadlineMs);
    let answer;
    try {
      answer = await this.client.send(new InvokeEndpointCommand({
        EndpointName: this.endpointName,
        Body: Buffer.from(JSON.stringify(oipRequest(call))),
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
      return {
        outputs: decodeOipOutputs(Buffer.from(answer.Body ?? new Uint8Array()).toString('utf8')),
        variant: answer.InvokedProductionVariant ?? call.targetVariant,
      };
    } catch (error) {
      throw new ModelCallError(ModelFailureKind.ERROR, `endpoint ${this.endpointName} answered something that is not an inference response: ${(error as Error).message}`);
    }
  }
}

function classify(error: Error & { OriginalStatusCode?: number }, deadlineMs: number): ModelCallError {
  // A container's 504 (in a ModelError's OriginalStatusCode) is the server expiring the request at our deadline.
  const kind = isAbort(error) ? ModelFailureKind.TIMEOUT
    : OVERLOAD_ERRORS.has(error.name) ? ModelFailureKind.OVERLOADED
      : failureOfStatus(error.OriginalStatusCode) ?? ModelFailureKind.ERROR;
  switch (kind) {
    case ModelFailureKind.TIMEOUT:
      return new ModelCallError(kind, `no answer within the ${deadlineMs} ms deadline`);
    case ModelFailureKind.OVERLOADED:
      return new ModelCallError(kind, `model overloaded: ${error.name}: ${error.message}`);
    default:
      return new ModelCallError(kind, `${error.name}: ${error.message}`);
  }
}
