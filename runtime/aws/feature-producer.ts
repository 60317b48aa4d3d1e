/**
 * Kinesis producer of feature records: wraps each record in the envelope the materializer reads and puts them
 * with PutRecords, partitioned by entity so that all events of one entity stay in order on one shard.
 */
import { createHash } from 'crypto';
import { setTimeout as sleep } from 'timers/promises';
import { KinesisClient, PutRecordsCommand, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { entityKeyOf, FeatureViewSpec } from '../../lib/features/spec';
import { backoffDelayMs } from '../core/retry';

/** Most entries one PutRecords call may carry (a Kinesis limit). */
export const PUT_RECORDS_MAX_ENTRIES = 500;
/** Most bytes (data + partition keys) one PutRecords call may carry (a Kinesis limit). */
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;
/** Longest partition key Kinesis accepts, in characters. */
const MAX_PARTITION_KEY_LENGTH = 256;

/** The envelope of one stream record, as the materializer parses it. */
export interface FeatureRecordEnvelope {
  /** View name. */
  readonly view: string;
  /** View version the record was produced for. */
  readonly version: number;
  /** The record's fields: join keys, event time and features. */
  readonly record: Readonly<Record<string, unknown>>;
}

/** Options of `putFeatureRecords`. */
export interface PutFeatureRecordsOptions {
  /**
   * PutRecords attempts per chunk before failed entries (throttled shards) are reported as an error.
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

/** What `putFeatureRecords` did. */
export interface PutFeatureRecordsResult {
  /** Records accepted by the stream. */
  readonly records: number;
  /** PutRecords calls made, retries included. */
  readonly requests: number;
  /** Entries that failed once and were sent again. */
  readonly retriedEntries: number;
}

/**
 * Partition key of a record: its entity key, or the SHA-256 of it when longer than Kinesis allows (Kinesis hashes
 * the key anyway, so the entity still maps to one shard).
 */
export function partitionKeyOf(view: FeatureViewSpec, record: Readonly<Record<string, unknown>>): string {
  const entityKey = entityKeyOf(view, record);
  return entityKey.length <= MAX_PARTITION_KEY_LENGTH ? entityKey : createHash('sha256').update(entityKey).digest('hex');
}

/**
 * Puts feature records of one view on a stream, in chunks within the PutRecords limits (500 entries, 5 MiB), retrying
 * failed entries with backoff. Records are not validated here: the materializer validates and dead-letters, whoever
 * produced. A retried entry may land after later records of its entity; the online store's event-time condition
 * makes that harmless. Throws after `maxAttempts`, naming the error codes of the entries still failing.
 */
export async function putFeatureRecords(
  kinesis: KinesisClient, streamName: string, view: FeatureViewSpec, records: readonly Readonly<Record<string, unknown>>[],
  options: PutFeatureRecordsOptions = {},
): Promise<PutFeatureRecordsResult> {
  const entries = records.map((record): PutRecordsRequestEntry => {
    const envelope: FeatureRecordEnvelope = { view: view.name, version: view.version, record };
    return { Data: Buffer.from(JSON.stringify(envelope)), PartitionKey: partitionKeyOf(view, record) };
  });
  let requests = 0;
  let retriedEntries = 0;
  for (const chunk of chunksWithinLimits(entries)) {
    const sent = await putWithRetries(kinesis, streamName, chunk, options);
    requests += sent.requests;
    retriedEntries += sent.retriedEntries;
  }
  return { records: entries.length, requests, retriedEntries };
}

function entryBytes(entry: PutRecordsRequestEntry): number {
  return entry.Data!.length + Buffer.byteLength(entry.PartitionKey!);
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

async function putWithRetries(
  kinesis: KinesisClient, streamName: string, chunk: PutRecordsRequestEntry[], options: PutFeatureRecordsOptions,
): Promise<{ requests: number; retriedEntries: number }> {
  const maxAttempts = options.maxAttempts ?? 5;
  let pending = chunk;
  let requests = 0;
  let retriedEntries = 0;
  for (;;) {
    if (requests > 0) await sleep(backoffDelayMs(requests, options.backoffBaseMs ?? 50));
    requests += 1;
    const answer = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: pending }), {
      abortSignal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    const results = answer.Records ?? [];
    const failed = pending.filter((_, i) => results[i]?.ErrorCode !== undefined);
    if (failed.length === 0) return { requests, retriedEntries };
    if (requests >= maxAttempts) {
      const codes = [...new Set(results.map((r) => r.ErrorCode).filter(Boolean))].join(', ');
      throw new Error(`PutRecords to stream '${streamName}': ${failed.length} of ${chunk.length} records still failing after ${requests} attempts (${codes}); add shards or slow the producer`);
    }
    retriedEntries += failed.length;
    pending = failed;
  }
}
