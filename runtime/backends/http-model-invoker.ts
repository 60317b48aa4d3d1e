/**
 * Calls servers speaking our inference server's protocol over HTTP — `POST <url>/v2/models/<model>/infer`, Open
 * Inference Protocol v2 — typically an internal load balancer in front of a Kubernetes service: the deadline,
 * priority and target variant go as the server's own headers, so it queues, sheds and expires on the gateway's
 * terms, and a load balancer can route on the variant. Node's global fetch (undici, built in: nothing added to the
 * Lambda bundle) keeps connections alive between calls and aborts at the deadline. Failures are classified as the
 * SageMaker backend classifies them; their messages (which may name the host) are for the gateway's log only.
 */
import { ModelAnswer, ModelCall, ModelCallError, ModelFailureKind, ModelInvoker } from '../core/model-call';
import { PRIORITY_HEADER, TIMEOUT_HEADER, VARIANT_HEADER } from '../inference-server/request-options';
import { decodeOipOutputs, failureOfStatus, isAbort, oipRequest, wholeMs } from './oip-call';

/** Most characters of a server's error answer quoted in a failure message. */
const QUOTED_CHARS = 300;

/** Where and how to call. */
export interface HttpModelInvokerOptions {
  /** Base URL, `http(s)://host[:port][/prefix]`. */
  readonly url: string;
  /** Model name in the route (the server's MODEL_NAME). */
  readonly model: string;
  /** Extra request headers (an ingress's host or token; the server's fault injection in tests). @default - none */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Invokes a model over our server's OIP v2 route. */
export class HttpModelInvoker implements ModelInvoker {
  private readonly inferUrl: string;

  constructor(private readonly options: HttpModelInvokerOptions) {
    const base = options.url.endsWith('/') ? options.url.slice(0, -1) : options.url;
    this.inferUrl = `${base}/v2/models/${encodeURIComponent(options.model)}/infer`;
  }

  public async invoke(call: ModelCall): Promise<ModelAnswer> {
    const deadlineMs = wholeMs(call.deadlineMs);
    let status: number;
    let text: string;
    let answeredVariant: string | null;
    try {
      const response = await fetch(this.inferUrl, {
        method: 'POST',
        headers: {
          ...this.options.headers,
          'content-type': 'application/json',
          [PRIORITY_HEADER]: String(call.priority),
          [TIMEOUT_HEADER]: String(deadlineMs),
          ...(call.targetVariant === undefined ? {} : { [VARIANT_HEADER]: call.targetVariant }),
        },
        body: JSON.stringify(oipRequest(call)),
        signal: AbortSignal.timeout(deadlineMs), // covers the answer's body too
      });
      status = response.status;
      answeredVariant = response.headers.get(VARIANT_HEADER);
      text = await boundedText(response, MAX_ANSWER_BYTES);
    } catch (error) {
      if (error instanceof ModelCallError) throw error;
      if (isAbort(error)) throw new ModelCallError(ModelFailureKind.TIMEOUT, `no answer within the ${deadlineMs} ms deadline`);
      throw new ModelCallError(ModelFailureKind.ERROR, `model server unreachable: ${describe(error)}`);
    }
    if (status !== 200) {
      const kind = failureOfStatus(status) ?? ModelFailureKind.ERROR;
      throw new ModelCallError(kind, `model server answered ${status}: ${errorOf(text).slice(0, QUOTED_CHARS)}`);
    }
    try {
      return { outputs: decodeOipOutputs(text), variant: answeredVariant ?? call.targetVariant };
    } catch (error) {
      throw new ModelCallError(ModelFailureKind.ERROR, `model server answered something that is not an inference response: ${(error as Error).message}`);
    }
  }
}

/** Largest answer read, bytes (SageMaker's response limit): a larger one is an error, not a Lambda out of memory. */
export const MAX_ANSWER_BYTES = 6 * 1024 * 1024;

/** The answer's body as text, at most `maxBytes` (the rest is not read: the connection is dropped). */
async function boundedText(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  const tooLarge = () => new ModelCallError(ModelFailureKind.ERROR, `model server answered more than ${maxBytes} bytes`);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of response.body) {
    bytes += chunk.byteLength;
    if (bytes > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A fetch failure with its cause (fetch says only "fetch failed"; the cause says ECONNREFUSED, ECONNRESET, ...). */
function describe(error: unknown): string {
  const e = error as Error & { cause?: Error & { code?: string } };
  const cause = e.cause ? ` (${e.cause.code ?? e.cause.name}: ${e.cause.message})` : '';
  return `${e.name}: ${e.message}${cause}`;
}

/** The message of an error answer: our server's `{"error": "..."}`, else the text as it is (a load balancer's page). */
function errorOf(text: string): string {
  try {
    const error = (JSON.parse(text) as { error?: unknown })?.error;
    return typeof error === 'string' ? error : text;
  } catch {
    return text;
  }
}
