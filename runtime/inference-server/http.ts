/** HTTP plumbing: a method-and-path router, bounded body reading, and response helpers. */
import type { IncomingMessage, ServerResponse } from 'http';
import { ErrorKind, InferenceError } from './errors';
import { ServerVariables } from '../contracts/inference-server';

/** Extra response headers. */
export type Headers = Record<string, string | number>;

/** A route handler; `params` are the pattern's capture groups. */
export type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => void | Promise<void>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
}

/** Routes requests by method and path (a full-match regular expression). */
/** A route pattern matching exactly `path` (a literal path: `/v2/health/ready`). */
export function exactPath(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
}

export class Router {
  private readonly routes: Route[] = [];

  /** Adds a route. */
  add(method: string, pattern: RegExp, handler: Handler): this {
    this.routes.push({ method, pattern, handler });
    return this;
  }

  /** Finds the handler: 404 when no path matches, 405 when the path matches with another method. */
  match(method: string, url: string): { handler: Handler; params: string[] } | InferenceError {
    const path = url.split('?')[0];
    let allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.method === method) {
        try {
          return { handler: route.handler, params: m.slice(1).map((p) => (p === undefined ? p : decodeURIComponent(p))) };
        } catch {
          return new InferenceError(ErrorKind.NOT_FOUND, `no route for ${method} ${path}: the path is not valid percent-encoding`);
        }
      }
      allowed = [...allowed, route.method];
    }
    return allowed.length > 0
      ? new InferenceError(ErrorKind.METHOD_NOT_ALLOWED, `${method} is not allowed on ${path}; use ${allowed.join(' or ')}`)
      : new InferenceError(ErrorKind.NOT_FOUND, `no route for ${method} ${path}`);
  }
}

/**
 * Reads a request body of at most `limit` bytes. A larger declared Content-Length fails at once, before reading; a
 * body that grows past the limit fails as soon as it does. Both are TOO_LARGE errors, and the rest of the body is left
 * unread (see `discardBody`). A body cut off (the client went away, or the request timeout passed) is INVALID.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (size: string) => new InferenceError(ErrorKind.TOO_LARGE, `payload of ${size} is over the ${limit} byte limit (${ServerVariables.MAX_PAYLOAD_BYTES}); split the request into smaller batches`);
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(`${declared} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        reject(tooLarge(`more than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    // The client's doing, not a server failure: it went away, or was cut off at the request timeout.
    req.on('error', () => reject(new InferenceError(ErrorKind.INVALID, `the request body was cut off: the client closed the connection or took longer than ${ServerVariables.HTTP_REQUEST_TIMEOUT_MS} to send it`)));
  });
}

/**
 * How long a connection closed after an error stays half-open (answer and FIN sent, nothing more read) before it is
 * destroyed: time for the client to read the answer — destroying a socket with unread input sends a TCP reset, which
 * can reach the client before the answer and turn a clear 413 into a connection error.
 */
const CLOSE_LINGER_MS = 2000;

/**
 * Disposes of the unread rest of a request body before an error is answered. A body of a declared length within
 * `limit` bytes is read and dropped, so the connection can carry the next request; any other (over the limit, or
 * chunked, of unknown length) is not read: the answer goes out with `Connection: close`, then the server stops
 * reading, sends FIN and destroys the socket `CLOSE_LINGER_MS` later. An oversized upload costs it nothing more.
 */
export function discardBody(req: IncomingMessage, res: ServerResponse, limit: number): void {
  if (req.complete) return;
  const length = req.headers['transfer-encoding'] === undefined ? Number(req.headers['content-length'] ?? 0) : NaN;
  if (length <= limit) {
    req.resume();
    return;
  }
  req.pause();
  res.setHeader('connection', 'close');
  const socket = req.socket;
  res.once('finish', () => {
    // For a `Connection: close` answer Node has just called socket.destroySoon(): end, then destroy once the end is
    // written, which with the body unread resets the connection at once. Keep only the end; destroy after the linger.
    socket.removeListener('finish', socket.destroy);
    socket.pause();
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
  });
}

/** Sends a body with its content type and length. */
export function send(res: ServerResponse, status: number, body: string, contentType: string, headers: Headers = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Sends a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  send(res, status, JSON.stringify(body), 'application/json', headers);
}

const STATUS: Record<ErrorKind, number> = {
  [ErrorKind.INVALID]: 400,
  [ErrorKind.NOT_FOUND]: 404,
  [ErrorKind.METHOD_NOT_ALLOWED]: 405,
  [ErrorKind.TOO_LARGE]: 413,
  [ErrorKind.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorKind.OVERLOADED]: 429,
  [ErrorKind.SHED]: 429,
  [ErrorKind.UNAVAILABLE]: 503,
  [ErrorKind.TIMEOUT]: 504,
  [ErrorKind.INTERNAL]: 500,
};

/** HTTP status of an error kind (Open Inference Protocol routes). */
export function statusOf(kind: ErrorKind): number {
  return STATUS[kind];
}

/** Whether an error says "try again later": overloaded, shed or not ready. */
function isRetryable(kind: ErrorKind): boolean {
  return kind === ErrorKind.OVERLOADED || kind === ErrorKind.SHED || kind === ErrorKind.UNAVAILABLE;
}

/** Headers that go with an error: `Retry-After` when it is worth retrying later. */
export function errorHeaders(kind: ErrorKind): Headers {
  return isRetryable(kind) ? { 'retry-after': 1 } : {};
}
