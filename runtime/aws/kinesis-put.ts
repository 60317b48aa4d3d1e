/**
 * Putting entries on a Kinesis stream reliably: chunks within the PutRecords limits (500 entries, 5 MiB), entries the
 * stream refused (throttled shards) retried with backoff, every call under a deadline. Shared by the feature producer
 * and the prediction-log sink.
 */
import { setTimeout as sleep } from 'timers/promises';
import { KinesisClient, PutRecordsCommand, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { backoffDelayMs } from '../core/retry';

/** Most entries one PutRecords call may carry (a Kinesis limit). */
export const PUT_RECORDS_MAX_ENTRIES = 500;
/** Most bytes (data + partition keys) one PutRecords call may carry (a Kinesis limit). */
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

/** Retry and deadline settings. */
export interface PutEntriesOptions {
  /**
   * PutRecords attempts per chunk before the entries still refused are given up.
   * @default 5
   */
  readonly maxAttempts?: number;
  /**
   * Base of the exponential backoff (with full jitter) between attempts, milliseconds.
   * @default 50
   */
  readonly backoffBaseMs?: number;
  /**
   * Deadline of one PutRecords call, milliseconds.
   * @default 5000
   */
  readonly timeoutMs?: number;
}

/** What `putEntries` did. */
export interface PutEntriesResult {
  /** PutRecords calls made, retries included. */
  readonly requests: number;
  /** Entries that were refused once and sent again. */
  readonly retriedEntries: number;
  /** Entries still refused after the last attempt, and the error codes seen. */
  readonly unstored: number;
  readonly errorCodes: string[];
}

/** Puts every entry; a call that fails outright (network, deadline) rejects. */
export async function putEntries(
  kinesis: KinesisClient, streamName: string, entries: readonly PutRecordsRequestEntry[], options: PutEntriesOptions = {},
): Promise<PutEntriesResult> {
  const total = { requests: 0, retriedEntries: 0, unstored: 0, errorCodes: new Set<string>() };
  for (const chunk of chunksWithinLimits(entries)) {
    const maxAttempts = options.maxAttempts ?? 5;
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await sleep(backoffDelayMs(attempt - 1, options.backoffBaseMs ?? 50));
      total.requests += 1;
      const answer = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: pending }), {
        abortSignal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      const results = answer.Records ?? [];
      const refused = pending.filter((_, i) => results[i]?.ErrorCode !== undefined);
      for (const r of results) if (r.ErrorCode) total.errorCodes.add(r.ErrorCode);
      if (refused.length > 0 && attempt >= maxAttempts) {
        total.unstored += refused.length;
        break;
      }
      total.retriedEntries += refused.length;
      pending = refused;
    }
  }
  return { ...total, errorCodes: [...total.errorCodes] };
}

function entryBytes(entry: PutRecordsRequestEntry): number {
  return (entry.Data?.length ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '');
}

function chunksWithinLimits(entries: readonly PutRecordsRequestEntry[]): PutRecordsRequestEntry[][] {
  const chunks: PutRecordsRequestEntry[][] = [];
  let current: PutRecordsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length === PUT_RECORDS_MAX_ENTRIES || (current.length > 0 && bytes + entryBytes(entry) > PUT_RECORDS_MAX_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entryBytes(entry);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
