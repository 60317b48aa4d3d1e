/** Retry timing shared by every adapter that retries (DynamoDB unprocessed keys, Kinesis failed entries). */

/**
 * Full-jitter exponential backoff: a random delay in [0, min(capMs, baseMs · 2^attempt)). `attempt` counts from 1
 * for the first retry.
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs = 2000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}
