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

/** Most characters of a caller's value that an error message quotes. */
const PREVIEW_CHARS = 64;
/** Most elements, keys and nesting levels of a caller's array or object that an error message shows. */
const PREVIEW_ITEMS = 8;
const PREVIEW_DEPTH = 3;

/**
 * A caller's value as an error message quotes it: JSON, cut after 64 characters (`…`), arrays and objects shown to 3
 * levels and 8 items. Safe on any input — a 5 MB string, an array nested a million levels deep — where
 * `JSON.stringify` would echo megabytes or overflow the stack.
 */
export function preview(value: unknown): string {
  const text = render(value, PREVIEW_DEPTH);
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

function render(value: unknown, depth: number): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, PREVIEW_CHARS + 1));
  if (typeof value === 'number') return String(value); // JSON.stringify would write Infinity (a parsed 1e400) as null
  if (typeof value !== 'object' || value === null) return String(JSON.stringify(value));
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  if (depth === 0) return `${open}…${close}`;
  const items: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value.slice(0, PREVIEW_ITEMS)) items.push(render(item, depth - 1));
    if (value.length > PREVIEW_ITEMS) items.push('…');
  } else {
    for (const key in value) {
      if (items.length === PREVIEW_ITEMS) {
        items.push('…');
        break;
      }
      items.push(`${render(key, 0)}:${render((value as Record<string, unknown>)[key], depth - 1)}`);
    }
  }
  return `${open}${items.join(',')}${close}`;
}

/** Shorthand for an `INVALID` error. */
export function invalid(message: string): InferenceError {
  return new InferenceError(ErrorKind.INVALID, message);
}

/**
 * What a caller is told of a failure inside the server (a model run that failed, a worker that died, a defect): a
 * stable message naming the request id, under which the server logs the detail. The detail itself is never answered:
 * it can hold file paths, stack traces and onnxruntime internals.
 */
export function internalError(requestId: string): InferenceError {
  return new InferenceError(ErrorKind.INTERNAL, `internal error (request id ${requestId}); retry the request, and if it keeps failing, look for the request id in the server log`);
}
