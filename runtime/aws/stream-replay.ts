/**
 * Replay of the Kinesis batches the materializer's event source mapping gave up on (retries exhausted, or records
 * older than its maximum record age). Lambda sends each such batch's position to the on-failure queue — never the
 * records themselves:
 *
 *   {"requestContext": {"condition": "RetryAttemptsExhausted", ...}, "version": "1.0", "timestamp": "...",
 *    "KinesisBatchInfo": {"shardId": "shardId-000000000001", "startSequenceNumber": "4960...", "endSequenceNumber": "4960...",
 *      "approximateArrivalOfFirstRecord": "...", "approximateArrivalOfLastRecord": "...", "batchSize": 500,
 *      "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream"}}
 *
 * With a partial batch response the range starts at the record the handler reported, so it covers exactly what was
 * not committed. Replay reads that range back from the stream (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords up
 * to the end sequence number) while the stream still holds it, shapes it as Lambda delivers it and runs the
 * materializer's own batch handler on it. Replaying is idempotent: online writes are conditional (an equal event
 * time never overwrites), dead-letter keys are the records' positions, and offline files are named after the first
 * row of the range in each partition — the names the failed attempt used — so a replay overwrites any file that
 * attempt wrote instead of adding a copy (runtime/core/materialize.ts says when a copy can remain, and why point-in-time
 * reads are unaffected).
 *
 * Each message is read from its own stream's region (one Kinesis client per region). Empty reads are paced
 * (`emptyReadPauseMs`, Kinesis allows 5 GetRecords calls per second per shard), and a range holding another number of
 * records than the message's `batchSize` is replayed with a warning saying so.
 */
import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ShardIteratorType, _Record } from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** Where a failed batch lies in the stream: the `KinesisBatchInfo` of an on-failure invocation record. */
export interface FailedBatch {
  /** Shard of the batch, e.g. `shardId-000000000001`. */
  readonly shardId: string;
  /** Sequence number of the first record not committed. */
  readonly startSequenceNumber: string;
  /** Sequence number of the batch's last record. */
  readonly endSequenceNumber: string;
  /** Records in the range. */
  readonly batchSize: number;
  /** The stream, `arn:<partition>:kinesis:<region>:<account>:stream/<name>`. */
  readonly streamArn: string;
}

/** One on-failure message. */
export interface OnFailureMessage {
  readonly batch: FailedBatch;
  /** Why Lambda gave up (`RetryAttemptsExhausted`, `RecordAgeExceeded`, ...), when the message says. */
  readonly condition?: string;
  /** The SQS receipt handle, when the input was `aws sqs receive-message` output: delete the message with it once replayed. */
  readonly receiptHandle?: string;
}

/** A Kinesis batch handler (the materializer's: `createMaterializer` or `materializerFromEnvironment`). */
export type BatchHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

/** What the replay of one message did. */
export interface ReplayOutcome {
  readonly message: OnFailureMessage;
  /** `replayed`: every record committed; `stopped-short`: the handler reported a failure again; `failed`: the range could not be read or run. */
  readonly status: 'replayed' | 'stopped-short' | 'failed';
  /** Records read back from the stream. */
  readonly records: number;
  /** Why it did not complete. */
  readonly error?: string;
  /** Something to check although it completed (the range held another number of records than `batchSize`). */
  readonly warning?: string;
}

const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:([a-z0-9-]+):\d{12}:stream\/([A-Za-z0-9_.-]{1,128})$/;
const SEQUENCE_NUMBER = /^(0|[1-9]\d{0,128})$/;

/**
 * Parses on-failure messages as `aws sqs receive-message` prints them (`{"Messages": [{"Body": ..., "ReceiptHandle": ...}]}`),
 * as single invocation records, as JSON arrays of either, or one per line. Throws one error listing every problem,
 * naming the message and the field.
 */
export function parseOnFailureMessages(text: string): OnFailureMessage[] {
  const documents = parseDocuments(text);
  const messages: OnFailureMessage[] = [];
  const problems: string[] = [];
  const add = (document: unknown, where: string, receiptHandle?: string) => {
    const record = document as { KinesisBatchInfo?: Record<string, unknown>; requestContext?: { condition?: unknown } } | null;
    const info = record?.KinesisBatchInfo;
    if (typeof info !== 'object' || info === null) {
      problems.push(`${where}: no KinesisBatchInfo; pass the on-failure messages of the materializer's event source mapping`);
      return;
    }
    const before = problems.length;
    for (const field of ['shardId', 'streamArn'] as const) {
      if (typeof info[field] !== 'string') problems.push(`${where}: KinesisBatchInfo.${field} must be a string`);
    }
    for (const field of ['startSequenceNumber', 'endSequenceNumber'] as const) {
      if (typeof info[field] !== 'string' || !SEQUENCE_NUMBER.test(info[field] as string)) problems.push(`${where}: KinesisBatchInfo.${field} must be a decimal sequence number`);
    }
    if (!(Number.isSafeInteger(info.batchSize) && (info.batchSize as number) > 0)) problems.push(`${where}: KinesisBatchInfo.batchSize must be a positive integer`);
    if (typeof info.streamArn === 'string' && !STREAM_ARN.test(info.streamArn)) problems.push(`${where}: KinesisBatchInfo.streamArn '${info.streamArn}' is not a Kinesis stream ARN`);
    if (problems.length > before) return;
    if (BigInt(info.startSequenceNumber as string) > BigInt(info.endSequenceNumber as string)) {
      problems.push(`${where}: KinesisBatchInfo.startSequenceNumber is after endSequenceNumber`);
      return;
    }
    const condition = record?.requestContext?.condition;
    messages.push({
      batch: {
        shardId: info.shardId as string, startSequenceNumber: info.startSequenceNumber as string, endSequenceNumber: info.endSequenceNumber as string,
        batchSize: info.batchSize as number, streamArn: info.streamArn as string,
      },
      ...(typeof condition === 'string' ? { condition } : {}),
      ...(receiptHandle !== undefined ? { receiptHandle } : {}),
    });
  };
  documents.forEach((document, d) => {
    for (const [i, item] of (Array.isArray(document) ? document : [document]).entries()) {
      const where = documents.length > 1 || Array.isArray(document) ? `message ${d + 1}.${i + 1}` : 'message';
      const sqs = (item as { Messages?: unknown })?.Messages;
      if (!Array.isArray(sqs)) {
        add(item, where);
        continue;
      }
      sqs.forEach((m: { Body?: unknown; ReceiptHandle?: unknown }, j) => {
        let body: unknown;
        try {
          body = typeof m?.Body === 'string' ? JSON.parse(m.Body) : undefined;
        } catch {
          body = undefined;
        }
        add(body, `${where} Messages[${j}].Body`, typeof m?.ReceiptHandle === 'string' ? m.ReceiptHandle : undefined);
      });
    }
  });
  if (problems.length > 0) throw new Error(`Invalid on-failure messages:\n  - ${problems.join('\n  - ')}`);
  if (messages.length === 0) throw new Error('no on-failure messages in the input; pipe `aws sqs receive-message --queue-url <on-failure queue>` output, or a message file');
  return messages;
}

/** The region of a stream ARN (`arn:<partition>:kinesis:<region>:...`); throws when it is not a stream ARN. */
export function streamRegion(streamArn: string): string {
  const [, region] = STREAM_ARN.exec(streamArn) ?? [];
  if (!region) throw new Error(`streamArn '${streamArn}' is not a Kinesis stream ARN`);
  return region;
}

/** One JSON document, or one per non-empty line. */
function parseDocuments(text: string): unknown[] {
  try {
    return [JSON.parse(text)];
  } catch {
    return text.split('\n').filter((line) => line.trim()).map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (error) {
        throw new Error(`line ${i + 1}: not JSON (${(error as Error).message}); pass on-failure messages as JSON`);
      }
    });
  }
}

/** Options of `readFailedBatch`. */
export interface ReadFailedBatchOptions {
  /**
   * Most GetRecords calls that may return nothing before the range is declared unreachable.
   * @default 20
   */
  readonly maxEmptyReads?: number;
  /**
   * Pause after a GetRecords call that returned nothing before the next one, milliseconds (Kinesis allows 5 reads
   * per second per shard, shared with the event source mapping polling it).
   * @default 200
   */
  readonly emptyReadPauseMs?: number;
}

/**
 * Reads a failed batch's records back from the stream, shaped exactly as Lambda delivers them. Throws when the
 * stream no longer holds the range (trimmed after its retention) or the range is not all there.
 */
export async function readFailedBatch(kinesis: KinesisClient, batch: FailedBatch, options: ReadFailedBatchOptions = {}): Promise<KinesisStreamEvent> {
  const [, region, streamName] = STREAM_ARN.exec(batch.streamArn) ?? [];
  if (!streamName) throw new Error(`streamArn '${batch.streamArn}' is not a Kinesis stream ARN`);
  const end = BigInt(batch.endSequenceNumber);
  const records: _Record[] = [];
  const range = `${batch.shardId} ${batch.startSequenceNumber}..${batch.endSequenceNumber}`;
  let iterator: string | undefined;
  try {
    ({ ShardIterator: iterator } = await kinesis.send(new GetShardIteratorCommand({
      StreamName: streamName, ShardId: batch.shardId, ShardIteratorType: ShardIteratorType.AT_SEQUENCE_NUMBER, StartingSequenceNumber: batch.startSequenceNumber,
    })));
  } catch (error) {
    throw new Error(`${range}: cannot read it from stream '${streamName}' (${(error as Error).name}: ${(error as Error).message}); check the stream, credentials and region — a batch older than the stream's retention is lost`);
  }
  let emptyReads = 0;
  while (iterator && !(records.length > 0 && BigInt(records[records.length - 1].SequenceNumber!) >= end)) {
    const answer = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    const page = answer.Records ?? [];
    records.push(...page.filter((r) => BigInt(r.SequenceNumber!) <= end));
    if (page.length > 0 && BigInt(page[page.length - 1].SequenceNumber!) >= end) break;
    if (page.length === 0 && (answer.MillisBehindLatest === 0 || ++emptyReads >= (options.maxEmptyReads ?? 20))) break;
    if (page.length === 0) await new Promise((resolve) => setTimeout(resolve, options.emptyReadPauseMs ?? 200));
    iterator = answer.NextShardIterator;
  }
  if (records.length === 0 || records[0].SequenceNumber !== batch.startSequenceNumber) {
    throw new Error(`${range}: the stream no longer holds the batch's first record (it keeps records for its retention period only); these records are lost`);
  }
  if (records[records.length - 1].SequenceNumber !== batch.endSequenceNumber) {
    throw new Error(`${range}: read ${records.length} records but not the last one; retry the replay`);
  }
  return {
    Records: records.map((r): KinesisStreamRecord => ({
      kinesis: {
        kinesisSchemaVersion: '1.0', partitionKey: r.PartitionKey!, sequenceNumber: r.SequenceNumber!,
        data: Buffer.from(r.Data ?? []).toString('base64'), approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
      },
      eventSource: 'aws:kinesis', eventVersion: '1.0', eventID: `${batch.shardId}:${r.SequenceNumber}`, eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'replay', awsRegion: region, eventSourceARN: batch.streamArn,
    })),
  };
}

/**
 * Replays each message's batch through `handler`, one after the other, reading it with the client `kinesisFor` gives
 * for its stream's region; a message that fails is reported and the next one still runs.
 */
export async function replayFailedBatches(
  messages: readonly OnFailureMessage[], kinesisFor: (region: string) => KinesisClient, handler: BatchHandler, options: ReadFailedBatchOptions = {},
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const message of messages) {
    let records = 0;
    try {
      const event = await readFailedBatch(kinesisFor(streamRegion(message.batch.streamArn)), message.batch, options);
      records = event.Records.length;
      const warning = records === message.batch.batchSize ? undefined
        : `the range holds ${records} records but the message says batchSize ${message.batch.batchSize}; check that no other message covers these records`;
      const { batchItemFailures } = await handler(event);
      outcomes.push(batchItemFailures.length === 0 ? { message, status: 'replayed', records, ...(warning ? { warning } : {}) } : {
        message, status: 'stopped-short', records, ...(warning ? { warning } : {}),
        error: `the materializer stopped at ${batchItemFailures[0].itemIdentifier} again (see its WARN log line); fix the cause and replay again`,
      });
    } catch (error) {
      outcomes.push({ message, status: 'failed', records, error: (error as Error).message });
    }
  }
  return outcomes;
}
