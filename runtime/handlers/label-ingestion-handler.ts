/**
 * Lambda entry point of the label ingestion: ground-truth labels arriving late from another system, either as Kinesis
 * records (event source mapping with ReportBatchItemFailures) or as JSON-lines files dropped in S3 (an ObjectCreated
 * notification, invoked asynchronously). One function serves both.
 *
 * - Each record or line is validated (`parseLabelText`, runtime/core/labels.ts) inside a per-record guard: whatever
 *   is wrong with it, or throws on it, sends it to the SQS dead-letter queue with its reason (`LabelDeadLetter`,
 *   runtime/contracts/label-ingestion.ts) and never fails the batch. Refused labels are not retried.
 * - Valid labels are written as JSON lines to the dataset bucket, one object per model and `labelTime` date per
 *   invocation: `labels/model=<m>/dt=<date>/<source>.jsonl` (runtime/core/datasets.ts). Object names are
 *   deterministic — `kinesis-<shard>-<first sequence number>` or `s3-<hash of the dropped object>` — so a retried
 *   batch overwrites what an earlier attempt wrote instead of storing it twice.
 * - Kinesis: records whose object could not be written (S3 failed or timed out), or whose dead letter could not be
 *   sent, are the batch item failures: the mapping retries from the first of them. S3 drops: the invocation fails,
 *   so Lambda retries it and then sends the event to the function's on-failure destination.
 * - EMF per model (`LabelMetrics`): received, stored, dead-lettered; labels naming no accepted model count under
 *   `_unknown`. Every S3 and SQS call has a deadline.
 *
 * Environment: set by the LabelIngestion construct, defined in runtime/contracts/label-ingestion.ts. Endpoints,
 * region and credentials come from the SDK's own environment (`AWS_REGION`, `AWS_ENDPOINT_URL_S3`, ...).
 */
import { createHash } from 'crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, S3Event, S3EventRecord } from 'aws-lambda';
import {
  DEAD_LETTER_DATA_BYTES, LabelDeadLetter, LabelSource, parseLabelIngestionEnvironment,
} from '../contracts/label-ingestion';
import { labelDayPrefix, LabelRecord, partitionDate } from '../core/datasets';
import { parseLabelText } from '../core/labels';
import { LabelMetrics, MetricDimensions, METRICS_NAMESPACE, toEmf } from '../core/metrics';

/** Default deadline of one S3 or SQS call (SDK retries included), milliseconds. */
export const DEFAULT_LABEL_CALL_TIMEOUT_MS = 10_000;
/** Largest dropped file read, bytes; a larger one is dead-lettered whole (split it). */
export const MAX_DROP_BYTES = 64 * 1024 * 1024;
/** `Model` dimension of labels naming no model the ingestion accepts. */
export const UNKNOWN_LABEL_MODEL = '_unknown';
/** SQS's most entries per SendMessageBatch. */
const SQS_BATCH_ENTRIES = 10;
/**
 * Most bytes of the message bodies of one SendMessageBatch: SQS refuses a batch over 256 KiB in all (a letter is at
 * most about 30 KB: `DEAD_LETTER_DATA_BYTES` of data, a reason of at most 2,000 characters, a key of 1,024 bytes).
 */
const SQS_BATCH_BYTES = 250_000;
/** Most S3 writes in flight at once. */
const WRITE_CONCURRENCY = 8;

/** Properties of `createLabelIngestion`. */
export interface LabelIngestionProps {
  /** Client of the dataset bucket's (and the drop bucket's) S3. */
  readonly s3: S3Client;
  /** Client of the dead-letter queue's SQS. */
  readonly sqs: SQSClient;
  /** The dataset bucket labels are written to. */
  readonly bucketName: string;
  /** URL of the dead-letter queue. */
  readonly deadLetterQueueUrl: string;
  /** The models labels are accepted for. */
  readonly models: readonly string[];
  /**
   * Clock, epoch milliseconds.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Where log lines (EMF metrics, warnings) go.
   * @default - stdout, one raw line each (not `console.log`, whose Lambda prefix would hide the EMF JSON)
   */
  readonly log?: (line: string) => void;
  /**
   * CloudWatch namespace of the metrics.
   * @default METRICS_NAMESPACE
   */
  readonly metricsNamespace?: string;
  /**
   * Deadline of each S3 and SQS call, milliseconds.
   * @default DEFAULT_LABEL_CALL_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
}

/** The handler: a Kinesis batch answered with a partial batch response, or an S3 notification (throws to be retried). */
export type LabelIngestionHandler = {
  (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse>;
  (event: S3Event): Promise<void>;
};

/** One label as received: its text and where it came from. */
interface Item {
  readonly source: LabelSource;
  readonly text: string;
  /** Why it is refused before it is read (a dropped file too large). */
  readonly problem?: string;
}

/** What became of the items of one invocation. */
interface Outcome {
  /** Items neither stored nor dead-lettered (to retry), each with why. */
  readonly failed: { item: Item; error: string }[];
}

/** Builds the label ingestion's handler over the given clients. */
export function createLabelIngestion(props: LabelIngestionProps): LabelIngestionHandler {
  const log = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = props.now ?? Date.now;
  const timeoutMs = props.timeoutMs ?? DEFAULT_LABEL_CALL_TIMEOUT_MS;
  const signal = () => AbortSignal.timeout(Math.ceil(timeoutMs));

  /** Validates, stores and dead-letters `items`; `objectName` names the objects (deterministic per source). */
  async function ingest(items: readonly Item[], objectName: (first: Item) => string): Promise<Outcome> {
    const nowMs = now();
    const counts = new Map<string, { received: number; stored: number; deadLettered: number }>();
    const count = (model: string) => counts.get(model) ?? counts.set(model, { received: 0, stored: 0, deadLettered: 0 }).get(model)!;
    const groups = new Map<string, { items: Item[]; labels: LabelRecord[] }>();
    const refused: { item: Item; model: string; reason: string }[] = [];
    for (const item of items) {
      try {
        const parsed = item.problem !== undefined ? { problem: item.problem } : parseLabelText(item.text, { models: props.models, nowMs });
        if ('problem' in parsed) {
          refused.push({ item, model: modelOf(item.text, props.models), reason: parsed.problem });
          continue;
        }
        const key = labelDayPrefix(parsed.label.model, partitionDate(Date.parse(parsed.label.labelTime)));
        const group = groups.get(key) ?? groups.set(key, { items: [], labels: [] }).get(key)!;
        group.items.push(item);
        group.labels.push(parsed.label);
      } catch (error) {
        // A defect must not fail the batch: the record is dead-lettered with what threw.
        refused.push({ item, model: UNKNOWN_LABEL_MODEL, reason: `unexpected: ${describe(error)}` });
      }
    }
    for (const r of refused) count(r.model).received += 1;
    for (const group of groups.values()) count(group.labels[0].model).received += group.labels.length;

    const failed: Outcome['failed'] = [];
    await forEachConcurrently([...groups], WRITE_CONCURRENCY, async ([prefix, group]) => {
      try {
        const key = `${prefix}${objectName(group.items[0])}.jsonl`;
        const body = group.labels.map((label) => JSON.stringify(label)).join('\n') + '\n';
        await props.s3.send(new PutObjectCommand({ Bucket: props.bucketName, Key: key, Body: body, ContentType: 'application/x-ndjson' }), { abortSignal: signal() });
        count(group.labels[0].model).stored += group.labels.length;
      } catch (error) {
        for (const item of group.items) failed.push({ item, error: `label dataset write: ${describe(error)}` });
      }
    });
    const letters = refused.map((r) => ({ ...r, body: deadLetterBody(r.item, r.reason, nowMs) }));
    await forEachConcurrently(sqsBatches(letters), WRITE_CONCURRENCY, async (chunk) => {
      try {
        const answer = await props.sqs.send(new SendMessageBatchCommand({
          QueueUrl: props.deadLetterQueueUrl,
          Entries: chunk.map((r, j) => ({ Id: String(j), MessageBody: r.body })),
        }), { abortSignal: signal() });
        const notSent = new Map((answer.Failed ?? []).map((f) => [f.Id, `${f.Code ?? 'failed'}`]));
        chunk.forEach((r, j) => {
          const why = notSent.get(String(j));
          if (why === undefined) count(r.model).deadLettered += 1;
          else failed.push({ item: r.item, error: `dead letter refused: ${why.slice(0, 100)}` });
        });
      } catch (error) {
        for (const r of chunk) failed.push({ item: r.item, error: `dead letter: ${describe(error)}` });
      }
    });

    for (const [model, c] of counts) {
      log(toEmf({ [MetricDimensions.MODEL]: model }, [
        { name: LabelMetrics.RECEIVED, value: c.received, unit: 'Count' },
        { name: LabelMetrics.STORED, value: c.stored, unit: 'Count' },
        { name: LabelMetrics.DEAD_LETTERED, value: c.deadLettered, unit: 'Count' },
      ], { namespace: props.metricsNamespace ?? METRICS_NAMESPACE, timestampMs: nowMs }));
    }
    return { failed };
  }

  async function onKinesis(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
    const items: Item[] = event.Records.map((record) => ({
      source: { kind: 'kinesis', shardId: record.eventID.slice(0, record.eventID.indexOf(':')), sequenceNumber: record.kinesis.sequenceNumber },
      text: Buffer.from(record.kinesis.data, 'base64').toString('utf8'),
    }));
    const { failed } = await ingest(items, (first) => {
      const source = first.source as Extract<LabelSource, { kind: 'kinesis' }>;
      return `kinesis-${safeName(source.shardId)}-${safeName(source.sequenceNumber)}`;
    });
    if (failed.length > 0) {
      log(JSON.stringify({
        level: 'WARN',
        message: `${failed.length} of ${items.length} labels neither stored nor dead-lettered; the stream retries from the first of them`,
        failures: failed.slice(0, 10).map((f) => ({ source: f.item.source, error: f.error })),
      }));
    }
    // In record order: the mapping retries from the first of them.
    const retry = new Set(failed.map((f) => f.item));
    return { batchItemFailures: items.filter((item) => retry.has(item)).map((item) => ({ itemIdentifier: (item.source as Extract<LabelSource, { kind: 'kinesis' }>).sequenceNumber })) };
  }

  async function onS3Object(record: S3EventRecord): Promise<Outcome> {
    const bucket = record.s3.bucket.name;
    // Keys arrive URL-encoded, spaces as '+'.
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    const name = `s3-${createHash('sha256').update(`${bucket}/${key}/${record.s3.object.versionId ?? ''}/${record.s3.object.sequencer ?? ''}`).digest('hex').slice(0, 32)}`;
    const object = await props.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal() });
    if ((object.ContentLength ?? 0) > MAX_DROP_BYTES) {
      object.Body?.transformToWebStream().cancel().catch(() => undefined);
      const problem = `file: ${object.ContentLength} bytes; a dropped file takes at most ${MAX_DROP_BYTES} bytes (split it into smaller JSON-lines files)`;
      return ingest([{ source: { kind: 's3', bucket, key, line: 0 }, text: '', problem }], () => name);
    }
    const text = await object.Body!.transformToString('utf-8');
    const items: Item[] = [];
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (trimmed.trim() !== '') items.push({ source: { kind: 's3', bucket, key, line: i + 1 }, text: trimmed });
    });
    return ingest(items, () => name);
  }

  async function onS3(event: S3Event): Promise<void> {
    const failures: string[] = [];
    for (const record of event.Records) {
      if (!record.eventName?.startsWith('ObjectCreated:')) continue;
      try {
        const { failed } = await onS3Object(record);
        if (failed.length > 0) failures.push(`${failed.length} labels of ${record.s3.object.key.slice(0, 256)} not stored: ${failed[0].error}`);
      } catch (error) {
        failures.push(`${record.s3.object.key.slice(0, 256)}: ${describe(error)}`);
      }
    }
    if (failures.length > 0) {
      log(JSON.stringify({ level: 'ERROR', message: 'dropped label files not fully ingested; Lambda retries the event', failures: failures.slice(0, 10) }));
      throw new Error(`label ingestion: ${failures.length} dropped files not fully ingested (see the log); retrying`);
    }
  }

  return (async (event: KinesisStreamEvent | S3Event) => {
    const records = event.Records as readonly { eventSource?: string }[];
    if (records.length > 0 && records.every((r) => r.eventSource === 'aws:s3')) return onS3(event as S3Event);
    return onKinesis(event as KinesisStreamEvent);
  }) as LabelIngestionHandler;
}

/**
 * The model a refused label's metrics count under: its `model` when that is one the ingestion accepts, else
 * `UNKNOWN_LABEL_MODEL` (a hostile name never becomes a dimension).
 */
function modelOf(text: string, models: readonly string[]): string {
  try {
    const model = (JSON.parse(text) as { model?: unknown })?.model;
    return typeof model === 'string' && models.includes(model) ? model : UNKNOWN_LABEL_MODEL;
  } catch {
    return UNKNOWN_LABEL_MODEL;
  }
}

/**
 * A dead letter's SQS message body (`LabelDeadLetter` as JSON), its `data` cut to `DEAD_LETTER_DATA_BYTES` as escaped
 * there. JSON escapes lone surrogates and control characters; U+FFFE and U+FFFF, which SQS refuses in a message, are
 * escaped too, and so are characters beyond U+FFFF (as their surrogate pair: SQS allows them, but stand-ins such as
 * fauxqs refuse them, and an escaped body reads the same).
 */
function deadLetterBody(item: Item, reason: string, nowMs: number): string {
  const data = cutEscaped(item.text.slice(0, DEAD_LETTER_DATA_BYTES + 1), DEAD_LETTER_DATA_BYTES);
  const letter: LabelDeadLetter = { reason, source: item.source, data, truncated: data.length < item.text.length, refusedAt: new Date(nowMs).toISOString() };
  return JSON.stringify(letter).replace(/[\uFFFE\uFFFF\uD800-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** Control characters JSON writes as a two-character escape (`\b`, `\t`, `\n`, `\f`, `\r`); the others take six. */
const SHORT_ESCAPES = new Set([0x08, 0x09, 0x0a, 0x0c, 0x0d]);

/**
 * The longest start of `text` whose escaped form in a message body (`deadLetterBody`: JSON's escaping plus U+FFFE and
 * U+FFFF) takes at most `maxBytes` UTF-8 bytes; a surrogate pair is never split.
 */
function cutEscaped(text: string, maxBytes: number): string {
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    let width = 1;
    let size: number;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      width = 2;
      size = 12; // a pair, both halves escaped
    } else if (c < 0x20) size = SHORT_ESCAPES.has(c) ? 2 : 6;
    else if ((c & 0xf800) === 0xd800 || c >= 0xfffe) size = 6; // a lone surrogate, U+FFFE, U+FFFF
    else if (c === 0x22 || c === 0x5c) size = 2;
    else size = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    if (bytes + size > maxBytes) return text.slice(0, i);
    bytes += size;
    i += width;
  }
  return text;
}

/** `letters` in SendMessageBatch chunks, in order: at most `SQS_BATCH_ENTRIES` entries and `SQS_BATCH_BYTES` of bodies each. */
function sqsBatches<T extends { readonly body: string }>(letters: readonly T[]): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const letter of letters) {
    const size = Buffer.byteLength(letter.body);
    if (batch.length === SQS_BATCH_ENTRIES || (batch.length > 0 && bytes + size > SQS_BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(letter);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** A name part for an object key: letters, digits, '-' and '_' only. */
function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128);
}

/** Runs `work` on every item, at most `limit` at once. */
async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** An error for logs and dead letters: `<name>: <message>`, cut at 500 characters (no stack, no request detail). */
function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length <= 500 ? text : `${text.slice(0, 499)}…`;
}

/**
 * Builds the handler from the Lambda environment (runtime/contracts/label-ingestion.ts); throws one error listing
 * every problem of it.
 */
export function labelIngestionFromEnvironment(env: NodeJS.ProcessEnv = process.env): LabelIngestionHandler {
  const settings = parseLabelIngestionEnvironment(env);
  return createLabelIngestion({
    s3: new S3Client({}),
    sqs: new SQSClient({}),
    bucketName: settings.datasetBucketName,
    deadLetterQueueUrl: settings.deadLetterQueueUrl,
    models: settings.models,
    metricsNamespace: settings.metricsNamespace,
  });
}

let fromEnvironment: LabelIngestionHandler | undefined;

/** The Lambda handler: the environment is read once per container. */
export const handler = (async (event: KinesisStreamEvent | S3Event) => {
  fromEnvironment ??= labelIngestionFromEnvironment();
  return fromEnvironment(event as KinesisStreamEvent);
});
