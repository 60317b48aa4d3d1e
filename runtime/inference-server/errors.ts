/**
 * The inference server's error kinds. Every failure a caller can see is an `InferenceError` with a kind; each protocol
 * maps kinds to its own status codes and error types, and metrics count them by `outcome`.
 */

/** What went wrong, protocol-neutral. */
export enum ErrorKind {
  /** The request is malformed or does not match the model (400). */
  INVALID = 'invalid',
  /** No such model, version or route (404). */
  NOT_FOUND = 'not_found',
  /** The method is not allowed on the route (405). */
  METHOD_NOT_ALLOWED = 'method_not_allowed',
  /** The payload is over the size limit (413). */
  TOO_LARGE = 'too_large',
  /** The content type is not one the route accepts (415). */
  UNSUPPORTED_MEDIA_TYPE = 'unsupported_media_type',
  /** Overloaded: refused on arrival, the queue being full (429, 503 for SageMaker). */
  OVERLOADED = 'overloaded',
  /** Queued, then evicted to make room for a higher-priority request (429, 503 for SageMaker). */
  SHED = 'shed',
  /** Not ready: loading, or draining for shutdown (503). */
  UNAVAILABLE = 'unavailable',
  /** The request's deadline passed while it was queued; it was not computed (504). */
  TIMEOUT = 'timeout',
  /** The model or a worker failed (500). */
  INTERNAL = 'internal',
}

/** Request outcomes as counted by `inference_requests_total{outcome}`. */
export type Outcome = 'success' | 'rejected' | 'shed' | 'timed_out' | 'invalid' | 'error';

/** The metrics outcome of an error kind. */
export function outcomeOf(kind: ErrorKind): Outcome {
  switch (kind) {
    case ErrorKind.OVERLOADED:
    case ErrorKind.UNAVAILABLE:
      return 'rejected';
    case ErrorKind.SHED:
      return 'shed';
    case ErrorKind.TIMEOUT:
      return 'timed_out';
    case ErrorKind.INTERNAL:
      return 'error';
    default:
      return 'invalid';
  }
}

/**
 * An error answered to the caller: `message` names the problem and, where there is one, the fix. It carries no stack
 * trace: it is an answer, not a bug, and capturing a stack costs more than refusing an overloaded request should.
 */
export class InferenceError extends Error {
  constructor(readonly kind: ErrorKind, message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'InferenceError';
  }
}

/** Shorthand for an `INVALID` error. */
export function invalid(message: string): InferenceError {
  return new InferenceError(ErrorKind.INVALID, message);
}
