/**
 * How the checkpoint store tells a checkpoint that is bad from a read that failed, and retries the latter. Only a
 * verification failure (the object is missing, its size or SHA-256 does not match the record, the record is invalid)
 * proves a generation bad and lets resume fall back to an older one. Any other failure says nothing about the
 * checkpoint: throttling, 5xx, a dropped connection or a stalled read are retried with backoff, and an access or KMS
 * denial (or a transient failure that outlasts the retries) is thrown, so the job fails loudly instead of starting
 * fresh and pruning good generations.
 */

/** A checkpoint object that is missing or does not match its record: proof that the generation is bad. */
export class CheckpointVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointVerificationError';
  }
}

/** HTTP statuses of S3 answers worth another try besides 5xx: request timeout, too many requests. */
const RETRIED_4XX = new Set([408, 429]);

/**
 * Whether a failed S3 call may succeed when repeated: no HTTP answer at all (connection refused or dropped, a
 * deadline), a 5xx (`SlowDown` is a 503), 408 or 429. Other 4xx answers (AccessDenied, a KMS denial, NoSuchBucket)
 * and local file-system errors (they carry a `path`) will not change by retrying.
 */
export function isTransientReadError(error: unknown): boolean {
  if (error instanceof CheckpointVerificationError) return false;
  if (typeof (error as { path?: unknown } | undefined)?.path === 'string') return false; // local file system (ENOSPC, EACCES)
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === undefined || status >= 500 || RETRIED_4XX.has(status);
}

/** How reads are retried. */
export interface ReadRetryOptions {
  /** Attempts in all (the first included). */
  readonly attempts: number;
  /** Wait before the second attempt, milliseconds; doubled for each further one (with jitter). */
  readonly baseMs: number;
  /** Aborts the waits (and stops retrying). */
  readonly signal?: AbortSignal;
  /** Told of each failed attempt that is retried. */
  readonly onRetry?: (attempt: number, error: Error) => void;
}

/**
 * Runs `read`, retrying transient failures; a verification failure or a permanent one is thrown at once, a
 * transient one after the last attempt, as an error naming `what`, the attempts and the last error (its `cause`).
 */
export async function withReadRetries<T>(what: string, read: () => Promise<T>, options: ReadRetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      options.signal?.throwIfAborted();
      if (!isTransientReadError(error)) throw error;
      if (attempt >= options.attempts) {
        throw new Error(`${what}: read failed ${attempt} times, last with ${(error as Error).name}: ${(error as Error).message}`, { cause: error });
      }
      options.onRetry?.(attempt, error as Error);
      const delay = Math.ceil(options.baseMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      await new Promise<void>((resolve) => setTimeout(resolve, delay));
    }
  }
}
