/**
 * Kinesis producer of feature records: wraps each record in the envelope the materializer reads and puts them
 * with PutRecords, partitioned by entity so that all events of one entity stay in order on one shard (both defined
 * in runtime/contracts/feature-record.ts).
 */
import { createHash } from 'crypto';
import { KinesisClient, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { FeatureViewSpec } from '../../lib/features/spec';
import { encodeFeatureRecord, partitionKeyOf as contractPartitionKeyOf } from '../contracts/feature-record';
import { putEntries, PutEntriesOptions } from './kinesis-put';

export type { FeatureRecordEnvelope } from '../contracts/feature-record';

/** Options of `putFeatureRecords`: retries and deadlines of the PutRecords calls. */
export type PutFeatureRecordsOptions = PutEntriesOptions;

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
  return contractPartitionKeyOf(view, record, (entityKey) => createHash('sha256').update(entityKey).digest('hex'));
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
  const entries = records.map((record): PutRecordsRequestEntry => ({ Data: encodeFeatureRecord(view, record), PartitionKey: partitionKeyOf(view, record) }));
  const sent = await putEntries(kinesis, streamName, entries, options);
  if (sent.unstored > 0) {
    throw new Error(`PutRecords to stream '${streamName}': ${sent.unstored} of ${entries.length} records still failing after retries (${sent.errorCodes.join(', ')}); add shards or slow the producer`);
  }
  return { records: entries.length, requests: sent.requests, retriedEntries: sent.retriedEntries };
}
