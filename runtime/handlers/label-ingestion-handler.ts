/**
 * Lambda entry point of the label ingestion: ground-truth labels arriving late from another system, either as Kinesis
 * records (event source mapping with ReportBatchItemFailures) or as JSON-lines files dropped in S3 (an ObjectCreated
 * notification, invoked asynchronously). One function serves both.
 *
 * - Each record or line is validated (`parseLabelText`, runtime/core/labels.ts) inside a per-record guard: whatever
 *   is wrong with it, or throws on it, sends it to the SQS dead-letter queue with its reason (`LabelDeadLetter`,
 *   runtime/contracts/label-ingestion.ts) and never fails the batch. Refused labels are not retried.
 * - Valid labels are stamped with their arrival (`receivedAt`: the Kinesis record's approximate arrival, or the
 *   dropped file's event time — the same on every retry) and written as JSON lines to the dataset bucket, one object
 *   per model and arrival date per invocation: `labels/model=<m>/dt=<date>/<source>.jsonl` (runtime/core/datasets.ts),
 *   so a label delivered long after its `labelTime` lands where the next label join reads. Object names are
 *   deterministic — `kinesis-<shard>-<first sequence number>` or `s3-<hash of the dropped object>` (then
 *   `s3-<hash>-1`, … for each further `PART_BYTES` of a large file) — so a retried batch overwrites what an earlier
 *   attempt wrote instead of storing it twice.
 * - A dropped file (at most `MAX_DROP_BYTES`) is read line by line, never whole: memory stays bounded (labels are
 *   written in parts), and of its refused lines the first `MAX_DEAD_LETTERS_PER_DROP` are dead-lettered one by one
 *   and the rest summed up in one `LabelDropSummary`. Measured (2 shared cores, loopback s3rver and fauxqs): a 64 MB
 *   file of 883,011 bad lines in 2.6 s, 114 MB peak RSS, 101 SendMessageBatch calls; of 746,888 valid labels in 8 s,
 *   226 MB peak RSS with the heap capped at 200 MB. The LabelIngestion construct gives the function 3 minutes.
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
import { Readable } from 'stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, S3Event, S3EventRecord } from 'aws-lambda';
import {
  DEAD_LETTER_DATA_BYTES, LabelDeadLetter, LabelDropSummary, LabelSource, MAX_DEAD_LETTERS_PER_DROP, parseLabelIngestionEnvironment,
} from '../contracts/label-ingestion';
import { chunksWithDeadline, getObjectWithDeadline } from '../aws/s3-read';
import { labelDayPrefix, LabelRecord, partitionDate } from '../core/datasets';
import { labelTooLargeProblem, MAX_LABEL_BYTES, parseLabelText } from '../core/labels';
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
/** Characters of labels held before they are written as a part object (memory stays bounded whatever the file's size). */
const PART_BYTES = 16 * 1024 * 1024;
/** Most distinct reasons a drop's summary counts one by one; the others are counted together. */
const MAX_SUMMARY_REASONS = 20;
/** The summary's count of the reasons beyond `MAX_SUMMARY_REASONS`. */
const OTHER_REASONS = 'other reasons';
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
  /** Why it is refused before it is read (a dropped file too large, a line too long). */
  readonly problem?: string;
  /** When it reached the platform (Kinesis arrival, S3 event time), epoch milliseconds. @default - the invocation's time */
  readonly receivedMs?: number;
}

/** A dropped file, whose refused lines beyond `MAX_DEAD_LETTERS_PER_DROP` are summed up in one letter. */
interface Drop {
  readonly bucket: string;
  readonly key: string;
}

/** What became of the items of one invocation. */
interface Outcome {
  /** Items neither stored nor dead-lettered (to retry), by their position in the order added (-1: a drop's summary), each with why. */
  readonly failed: { index: number; error: string }[];
}

/**
 * One invocation's labels: `add` each as it is read (validated at once; only what is to be stored or sent is kept),
 * `flush` whenever `bufferedBytes` reaches `PART_BYTES` (it writes what is held as a part object), then `finish`.
 */
interface Batch {
  add(item: Item): void;
  readonly bufferedBytes: number;
  flush(): Promise<void>;
  finish(): Promise<Outcome>;
}

/** Builds the label ingestion's handler over the given clients. */
export function createLabelIngestion(props: LabelIngestionProps): LabelIngestionHandler {
  const log = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = props.now ?? Date.now;
  const timeoutMs = props.timeoutMs ?? DEFAULT_LABEL_CALL_TIMEOUT_MS;
  const signal = () => AbortSignal.timeout(Math.ceil(timeoutMs));

  /**
   * A batch whose objects `objectName` names (deterministic per source). Of a `drop`, at most
   * `MAX_DEAD_LETTERS_PER_DROP` refused lines are dead-lettered one by one, and the rest summed up in one letter.
   */
  function startBatch(objectName: (first: LabelSource) => string, drop?: Drop): Batch {
    const nowMs = now();
    const counts = new Map<string, { received: number; stored: number; deadLettered: number }>();
    const count = (model: string) => counts.get(model) ?? counts.set(model, { received: 0, stored: 0, deadLettered: 0 }).get(model)!;
    const groups = new Map<string, { model: string; first: LabelSource; indexes: number[]; lines: string[]; parts: number }>();
    const failed: Outcome['failed'] = [];
    let bufferedBytes = 0;
    const letters: { index: number; model: string; body: string }[] = [];
    /** Refused lines of a drop beyond the letters sent one by one: by model, and by reason. */
    const summed = { byModel: new Map<string, number>(), total: 0 };
    const reasons = new Map<string, number>();
    let next = 0;

    function refuse(index: number, item: Item, model: string, reason: string): void {
      count(model).received += 1;
      if (drop) {
        const code = reasonCode(reason);
        const known = reasons.has(code) || reasons.size < MAX_SUMMARY_REASONS ? code : OTHER_REASONS;
        reasons.set(known, (reasons.get(known) ?? 0) + 1);
      }
      if (!drop || letters.length < MAX_DEAD_LETTERS_PER_DROP) {
        letters.push({ index, model, body: deadLetterBody(item, reason, nowMs) });
      } else {
        summed.total += 1;
        summed.byModel.set(model, (summed.byModel.get(model) ?? 0) + 1);
      }
    }

    function add(item: Item): void {
      const index = next++;
      try {
        const parsed = item.problem !== undefined ? { problem: item.problem } : parseLabelText(item.text, { models: props.models, nowMs });
        if ('problem' in parsed) return refuse(index, item, modelOf(parsed.model, props.models), parsed.problem);
        const receivedMs = arrivalMs(item.receivedMs, nowMs);
        const key = labelDayPrefix(parsed.label.model, partitionDate(receivedMs));
        const group = groups.get(key) ?? groups.set(key, { model: parsed.label.model, first: item.source, indexes: [], lines: [], parts: 0 }).get(key)!;
        const stored: LabelRecord = { ...parsed.label, receivedAt: new Date(receivedMs).toISOString() };
        const line = JSON.stringify(stored);
        group.lines.push(line);
        bufferedBytes += line.length + 1;
        group.indexes.push(index);
        count(parsed.label.model).received += 1;
      } catch (error) {
        // A defect must not fail the batch: the record is dead-lettered with what threw.
        refuse(index, item, UNKNOWN_LABEL_MODEL, `unexpected: ${describe(error)}`);
      }
    }

    /**
     * Writes the labels held, one object per group: `<name>.jsonl`, then `<name>-1.jsonl`, … for the later parts of a
     * file (deterministic: a retry overwrites them).
     */
    async function flush(): Promise<void> {
      const held = [...groups].filter(([, group]) => group.lines.length > 0);
      bufferedBytes = 0;
      await forEachConcurrently(held, WRITE_CONCURRENCY, async ([prefix, group]) => {
        const { lines, indexes } = group;
        group.lines = [];
        group.indexes = [];
        try {
          const key = `${prefix}${objectName(group.first)}${group.parts === 0 ? '' : `-${group.parts}`}.jsonl`;
          group.parts += 1;
          await props.s3.send(new PutObjectCommand({ Bucket: props.bucketName, Key: key, Body: lines.join('\n') + '\n', ContentType: 'application/x-ndjson' }), { abortSignal: signal() });
          count(group.model).stored += lines.length;
        } catch (error) {
          for (const index of indexes) failed.push({ index, error: `label dataset write: ${describe(error)}` });
        }
      });
    }

    async function finish(): Promise<Outcome> {
      await flush();
      const summary = drop && summed.total > 0 ? dropSummaryBody(drop, letters.length + summed.total, letters.length, reasons, nowMs) : undefined;
      const entries = summary ? [...letters, { index: -1, model: '', body: summary }] : letters;
      await forEachConcurrently(sqsBatches(entries), WRITE_CONCURRENCY, async (chunk) => {
        try {
          const answer = await props.sqs.send(new SendMessageBatchCommand({
            QueueUrl: props.deadLetterQueueUrl,
            Entries: chunk.map((r, j) => ({ Id: String(j), MessageBody: r.body })),
          }), { abortSignal: signal() });
          const notSent = new Map((answer.Failed ?? []).map((f) => [f.Id, `${f.Code ?? 'failed'}`]));
          chunk.forEach((r, j) => {
            const why = notSent.get(String(j));
            if (why !== undefined) failed.push({ index: r.index, error: `dead letter refused: ${why.slice(0, 100)}` });
            else if (r.index === -1) for (const [model, n] of summed.byModel) count(model).deadLettered += n;
            else count(r.model).deadLettered += 1;
          });
        } catch (error) {
          for (const r of chunk) failed.push({ index: r.index, error: `dead letter: ${describe(error)}` });
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

    return { add, flush, finish, get bufferedBytes() { return bufferedBytes; } };
  }

  async function onKinesis(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
    const items: Item[] = event.Records.map((record) => ({
      source: { kind: 'kinesis', shardId: record.eventID.slice(0, record.eventID.indexOf(':')), sequenceNumber: record.kinesis.sequenceNumber },
      text: Buffer.from(record.kinesis.data, 'base64').toString('utf8'),
      receivedMs: record.kinesis.approximateArrivalTimestamp * 1000,
    }));
    const batch = startBatch((first) => {
      const source = first as Extract<LabelSource, { kind: 'kinesis' }>;
      return `kinesis-${safeName(source.shardId)}-${safeName(source.sequenceNumber)}`;
    });
    for (const item of items) batch.add(item);
    const { failed } = await batch.finish();
    if (failed.length > 0) {
      log(JSON.stringify({
        level: 'WARN',
        message: `${failed.length} of ${items.length} labels neither stored nor dead-lettered; the stream retries from the first of them`,
        failures: failed.slice(0, 10).map((f) => ({ source: items[f.index].source, error: f.error })),
      }));
    }
    // In record order: the mapping retries from the first of them.
    const retry = new Set(failed.map((f) => f.index));
    return { batchItemFailures: items.filter((_, i) => retry.has(i)).map((item) => ({ itemIdentifier: (item.source as Extract<LabelSource, { kind: 'kinesis' }>).sequenceNumber })) };
  }

  /**
   * Reads a dropped file line by line (never whole: a line is validated as it arrives, only what is stored or sent is
   * kept). GetObject's deadline covers the call until the body starts; the body's reading has its own, per chunk.
   */
  async function onS3Object(record: S3EventRecord): Promise<Outcome> {
    const bucket = record.s3.bucket.name;
    // Keys arrive URL-encoded, spaces as '+'.
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    const name = `s3-${createHash('sha256').update(`${bucket}/${key}/${record.s3.object.versionId ?? ''}/${record.s3.object.sequencer ?? ''}`).digest('hex').slice(0, 32)}`;
    const batch = startBatch(() => name, { bucket, key });
    const receivedMs = Date.parse(record.eventTime);
    const object = await getObjectWithDeadline(props.s3, bucket, key, timeoutMs);
    const body = object.Body as Readable;
    if ((object.ContentLength ?? 0) > MAX_DROP_BYTES) {
      body.destroy();
      const problem = `file: ${object.ContentLength} bytes; a dropped file takes at most ${MAX_DROP_BYTES} bytes (split it into smaller JSON-lines files)`;
      batch.add({ source: { kind: 's3', bucket, key, line: 0 }, text: '', problem });
      return batch.finish();
    }
    for await (const { line, text, bytes } of fileLines(body, key, timeoutMs)) {
      if (text.trim() === '') continue;
      batch.add({ source: { kind: 's3', bucket, key, line }, text, receivedMs, ...(bytes > MAX_LABEL_BYTES ? { problem: labelTooLargeProblem(bytes) } : {}) });
      if (batch.bufferedBytes >= PART_BYTES) await batch.flush();
    }
    return batch.finish();
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

/** Longest a label stays in a stream before it is read (Kinesis keeps records at most 365 days). */
const MAX_ARRIVAL_AGE_MS = 366 * 86_400_000;

/** The arrival time to stamp: `receivedMs` when it is a plausible time (from a year ago to a day ahead), else `nowMs`. */
function arrivalMs(receivedMs: number | undefined, nowMs: number): number {
  return receivedMs !== undefined && receivedMs >= nowMs - MAX_ARRIVAL_AGE_MS && receivedMs <= nowMs + 86_400_000 ? Math.floor(receivedMs) : nowMs;
}

/**
 * The model a refused label's metrics count under: the `model` it named when that is one the ingestion accepts, else
 * `UNKNOWN_LABEL_MODEL` (a hostile name never becomes a dimension).
 */
function modelOf(model: string | undefined, models: readonly string[]): string {
  return model !== undefined && models.includes(model) ? model : UNKNOWN_LABEL_MODEL;
}

/**
 * The lines of a dropped file, numbered from 1 (`\n`, a trailing `\r` removed), empty ones included: `bytes` is the
 * line's length, and a line over `MAX_LABEL_BYTES` keeps only that many bytes in `text` (the rest is discarded as it
 * arrives, never buffered).
 */
async function* fileLines(body: Readable, key: string, timeoutMs: number): AsyncGenerator<{ line: number; text: string; bytes: number }> {
  let parts: Buffer[] = [];
  let kept = 0;
  let bytes = 0;
  let line = 0;
  const finish = () => {
    const text = Buffer.concat(parts, kept).toString('utf8');
    const done = { line: ++line, text: text.endsWith('\r') ? text.slice(0, -1) : text, bytes };
    parts = [];
    kept = 0;
    bytes = 0;
    return done;
  };
  for await (const chunk of chunksWithDeadline(body, key, timeoutMs)) {
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(0x0a, start);
      const stop = end === -1 ? chunk.length : end;
      const take = Math.min(stop - start, MAX_LABEL_BYTES - kept);
      if (take > 0) parts.push(chunk.subarray(start, start + take));
      kept += Math.max(0, take);
      bytes += stop - start;
      if (end === -1) break;
      yield finish();
      start = end + 1;
    }
  }
  if (bytes > 0) yield finish();
}

/** A stable, bounded code of a refusal for a drop's summary: its first problem's field and leading words (`label: not JSON`). */
function reasonCode(reason: string): string {
  return /^[^:;]{1,64}:[A-Za-z ]{0,40}/.exec(reason)?.[0].trimEnd() ?? OTHER_REASONS;
}

/** The summary letter of a drop (`LabelDropSummary` as JSON, escaped as a dead letter is). */
function dropSummaryBody(drop: Drop, refused: number, deadLettered: number, reasons: ReadonlyMap<string, number>, nowMs: number): string {
  const summary: LabelDropSummary = {
    reason: `${refused} lines of this file were refused; the first ${deadLettered} are dead-lettered one by one (each with its line and reason), `
      + `the other ${refused - deadLettered} only counted here by reason: fix the file and drop it again`,
    source: { kind: 's3', bucket: drop.bucket, key: drop.key, line: 0 },
    refusedLines: refused,
    deadLetteredLines: deadLettered,
    reasons: Object.fromEntries([...reasons].sort(([, a], [, b]) => b - a)),
    refusedAt: new Date(nowMs).toISOString(),
  };
  return sqsBody(summary);
}

/**
 * JSON of a message body. JSON escapes lone surrogates and control characters; U+FFFE and U+FFFF, which SQS refuses
 * in a message, are escaped too, and so are characters beyond U+FFFF (as their surrogate pair: SQS allows them, but
 * stand-ins such as fauxqs refuse them, and an escaped body reads the same).
 */
function sqsBody(value: unknown): string {
  return JSON.stringify(value).replace(/[\uFFFE\uFFFF\uD800-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** A dead letter's SQS message body (`LabelDeadLetter`, `sqsBody`), its `data` cut to `DEAD_LETTER_DATA_BYTES` as escaped there. */
function deadLetterBody(item: Item, reason: string, nowMs: number): string {
  const data = cutEscaped(item.text.slice(0, DEAD_LETTER_DATA_BYTES + 1), DEAD_LETTER_DATA_BYTES);
  const letter: LabelDeadLetter = { reason, source: item.source, data, truncated: data.length < item.text.length, refusedAt: new Date(nowMs).toISOString() };
  return sqsBody(letter);
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
