/**
 * Streaming materialization of one batch of stream records into the feature store, over injected ports (the AWS
 * adapters in production, the same adapters on loopback servers in tests):
 *
 *   prepare (parse, validate, derive keys, convert to the offline record) → online (conditional, newest event wins)
 *   → dead letters → offline Parquet → accounting
 *
 * One bad record never fails a batch: every per-record step (decoding, parsing, validation, key encoding, event-time
 * and date conversion, the row's Parquet conversion, error messages) runs inside a per-record guard, and whatever a
 * record makes throw dead-letters that record with the reason, the rest of the batch going on. A row is checked for
 * offline encodability before any write, so a row that could not be stored offline is never written online
 * (training/serving skew). Should a whole file still fail to encode (no row alone makes it), its rows are
 * dead-lettered with that reason — they may then be online without their offline history, which the reason says.
 * Only the stores' own failures (an unreachable table or bucket) stop a batch short, to be retried.
 *
 * Batch contract (Kinesis with ReportBatchItemFailures): the records before `retryFromSequenceNumber` are
 * committed: each is either stored (offered online AND written offline) or dead-lettered. The records from it on
 * are retried by Kinesis, so none of them is written offline in this attempt — except when an offline write itself
 * fails: the retry point is then the first row offered offline, and since an offline file is named after its first
 * row's sequence number, the retry rewrites the files already written under the same keys instead of adding
 * duplicates. What else is written for retried records is idempotent: their online writes come back stale on retry
 * (equal event time) and dead-letter keys are deterministic.
 *
 * Offline duplicates: a retry or replay rewrites the files of its range under the names the failed attempt used as
 * long as it starts at or before each partition's first row of that attempt — which every retry the contract above
 * produces does. One sequence can still leave a row in two files: an attempt that wrote files and then failed as a
 * whole (timeout, crash) is bisected by Lambda; when the first half is given up on (its retries exhausted) and the
 * second half commits, the second half's rows are in the failed attempt's files (named after a first-half row) and in
 * the second half's own. The copies are the same record: same entity, event time, `ingest_seq` and values, only
 * `ingested_at` differs. Point-in-time reads rank rows by event time, then `ingested_at`, then `ingest_seq`, and serve
 * one row, so a copy never changes what they serve; replaying the given-up first half (`npm run replay`) rewrites the
 * failed attempt's files without the copies. Scans that count raw rows should count distinct `ingest_seq`.
 */
import {
  assertValidFeatureView, DEAD_LETTER_PREFIX, describeValue, DEFAULT_EARLIEST_EVENT_DATE, earliestEventDateProblem, FeatureRow, FeatureViewSpec,
  formatEpochDate, formatEpochMs, maxFutureSkewProblem, offlinePartitionPrefix, onlineKey, validateRecord,
} from '../../lib/features/spec';
import { decodeFeatureRecord, FEATURE_RECORD_HINT } from '../contracts/feature-record';
import { MaterializerMetrics, MetricDatum, MetricDimensions, toEmf, UNKNOWN_FEATURE_VIEW } from './metrics';
import { assertParquetEncodable, encodeParquet, OfflineRow } from './offline-parquet';


/** Content type of the offline files. */
export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

/** One stream record, decoded from the transport. */
export interface StreamRecord {
  /** Shard the record came from, e.g. `shardId-000000000000`. */
  readonly shardId: string;
  /** Sequence number within the shard. */
  readonly sequenceNumber: string;
  /** When the stream accepted the record, epoch milliseconds. */
  readonly arrivalTimeMs: number;
  /** Raw payload: a UTF-8 JSON `FeatureRecordEnvelope` (runtime/contracts/feature-record.ts). */
  readonly data: Uint8Array;
}

/** What an online write did: became the online value, lost to a newer or equal event time, or can never be stored. */
export type OnlineWriteOutcome = 'applied' | 'stale' | 'refused';

/** Result of one online write. */
export interface OnlineWriteResult {
  readonly outcome: OnlineWriteOutcome;
  /** Why the row was refused (for the dead letter). */
  readonly reason?: string;
}

/** The materializer's view of the outside world. Both methods throw on transient failures. */
export interface MaterializerPorts {
  /** Conditionally writes a row online (newer event time wins). */
  writeOnline(view: FeatureViewSpec, row: FeatureRow, ingestedAtMs: number): Promise<OnlineWriteResult>;
  /** Stores an object in the offline bucket (overwriting an object with the same key). */
  putObject(key: string, body: Buffer, contentType: string): Promise<void>;
}

/** Options of a `Materializer`. */
export interface MaterializerOptions {
  /** The views served (several versions of one view may be served side by side). */
  readonly views: readonly FeatureViewSpec[];
  /** Where rows and dead letters go. */
  readonly ports: MaterializerPorts;
  /**
   * Clock, epoch milliseconds: ingestion time of the batch and the future-skew reference.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * How far in the future an event time may lie before the record is dead-lettered (at most
   * `MAX_FUTURE_SKEW_LIMIT_MS`, where the offline partition projection ends).
   * @default DEFAULT_MAX_FUTURE_SKEW_MS (5 minutes)
   */
  readonly maxFutureSkewMs?: number;
  /**
   * First accepted event date: the offline tables' partition projection start (`FeatureStore.earliestEventDate`),
   * `yyyy-mm-dd` or `NOW-<n>DAYS` (events dated before today − n days are refused). Earlier events are dead-lettered:
   * they would be stored offline but never read.
   * @default DEFAULT_EARLIEST_EVENT_DATE ('2020-01-01')
   */
  readonly earliestEventDate?: string;
  /**
   * Most external calls in flight at once (online writes, dead letters, offline files).
   * @default 32
   */
  readonly concurrency?: number;
}

/** Counts of one view in one batch (committed records only). */
export interface ViewBatchCounts {
  /** Records taken from the stream: `stored + deadLettered`. */
  readonly received: number;
  /** Valid rows offered online and written offline: `onlineApplied + onlineStale`. */
  readonly stored: number;
  /** Rows that became the online value. */
  readonly onlineApplied: number;
  /** Rows the online store already held a newer or equal event time for (out of order, replayed, or superseded in the batch). */
  readonly onlineStale: number;
  /** Records written to the dead-letter location. */
  readonly deadLettered: number;
  /** Largest (ingestion time − event time) among the rows applied online, milliseconds; absent when none was applied. */
  readonly freshnessLagMs?: number;
  /**
   * Ingestion time − the newest event time among the rows stored (applied or stale), milliseconds, at least 0 (an
   * event dated ahead within the allowed skew is 0 old); absent when none was stored.
   */
  readonly newestEventAgeMs?: number;
}

/** Outcome of one batch. */
export interface BatchResult {
  /** First record NOT committed, to be retried by the stream; undefined when the whole batch is committed. */
  readonly retryFromSequenceNumber?: string;
  /** Records committed: a prefix of the batch. */
  readonly committed: number;
  /** Counts by view name (`UNKNOWN_FEATURE_VIEW` for records naming no served view). */
  readonly counts: Readonly<Record<string, ViewBatchCounts>>;
  /** Transient failures that stopped the batch short, for the logs. */
  readonly failures: string[];
}

/** A record after parsing and validation. */
interface Parsed {
  readonly index: number;
  readonly record: StreamRecord;
  /** View name when the envelope names a served view, else `UNKNOWN_FEATURE_VIEW`. */
  readonly label: string;
  /** Envelope fields as received (for the dead letter). */
  readonly envelopeView?: unknown;
  readonly envelopeVersion?: unknown;
  readonly view?: FeatureViewSpec;
  readonly row?: FeatureRow;
  /** Online partition key of a valid row. */
  readonly onlineKey?: string;
  /** Offline partition prefix (view, version, event date) of a valid row. */
  readonly partition?: string;
  /** The valid row as the offline files hold it (checked to encode). */
  readonly offline?: OfflineRow;
  /** Why the record is invalid; empty for a valid row. */
  readonly reasons: string[];
}

interface Failure {
  readonly index: number;
  readonly message: string;
}

type StoredRow = Parsed & {
  readonly view: FeatureViewSpec; readonly row: FeatureRow; readonly onlineKey: string; readonly partition: string; readonly offline: OfflineRow;
};

const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Most bytes of a record's data kept in its dead letter (Kinesis' classic record size limit); longer data is cut and marked `truncated`. */
export const MAX_DEAD_LETTER_DATA_BYTES = 1024 * 1024;
/** Most reasons kept in one dead letter, and most characters of each. */
const MAX_DEAD_LETTER_REASONS = 50;
const MAX_REASON_CHARS = 2000;

/** Materializes batches of stream records; see the module documentation for the batch contract. */
export class Materializer {
  private readonly views = new Map<string, Map<number, FeatureViewSpec>>();
  private readonly now: () => number;
  private readonly concurrency: number;

  constructor(private readonly options: MaterializerOptions) {
    for (const spec of options.views) {
      assertValidFeatureView(spec);
      const versions = this.views.get(spec.name) ?? new Map<number, FeatureViewSpec>();
      if (versions.has(spec.version)) throw new Error(`views: '${spec.name}' v${spec.version} is given twice; pass each view version once`);
      this.views.set(spec.name, versions.set(spec.version, spec));
    }
    if (this.views.size === 0) throw new Error('views: pass at least one feature view spec to materialize');
    const dateProblem = options.earliestEventDate === undefined ? undefined : earliestEventDateProblem(options.earliestEventDate);
    if (dateProblem) throw new Error(`earliestEventDate: ${dateProblem}`);
    if (options.maxFutureSkewMs !== undefined) {
      const problem = maxFutureSkewProblem(options.maxFutureSkewMs);
      if (problem) throw new Error(`maxFutureSkewMs: ${problem}, got ${options.maxFutureSkewMs}`);
    }
    this.now = options.now ?? Date.now;
    this.concurrency = options.concurrency ?? 32;
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1)) {
      throw new Error(`concurrency: ${options.concurrency} must be an integer >= 1 (external calls in flight at once)`);
    }
  }

  /** Processes one batch (records in stream order) and reports what was committed. */
  public async processBatch(records: readonly StreamRecord[]): Promise<BatchResult> {
    const ingestedAtMs = this.now();
    const parsed = records.map((record, index) => this.prepare(record, index, ingestedAtMs));
    const failures: Failure[] = [];

    const online = await this.writeOnline(parsed, ingestedAtMs, failures);
    /** Rows of offline files that failed to encode as a whole: dead-lettered with this reason. */
    const unencodable = new Map<number, string>();
    const reasonsOf = (p: Parsed): string[] => {
      const refusal = online.refused.get(p.index);
      if (refusal !== undefined) return [`online store refused the row: ${refusal}`];
      const encoding = unencodable.get(p.index);
      return encoding === undefined ? p.reasons : [encoding];
    };

    let cut = firstFailure(failures, records.length);
    await this.writeDeadLetters(parsed.filter((p) => p.index < cut && reasonsOf(p).length > 0), reasonsOf, (index, message) => failures.push({ index, message }));

    cut = firstFailure(failures, records.length);
    const stored = parsed.filter((p): p is StoredRow => p.index < cut && online.outcomes.has(p.index));
    const offlineFailures: string[] = [];
    await this.forEachBounded(offlineFiles(stored), async (file) => {
      let body: Buffer;
      try {
        body = await encodeParquet(file.view, file.rows.map((p) => p.offline));
      } catch (error) {
        const reason = `record: the offline file ${file.key} failed to encode (${describe(error)}) although each of its rows encodes alone; `
          + 'the row may be the online value but is not in the offline history';
        for (const p of file.rows) unencodable.set(p.index, reason);
        return;
      }
      await this.options.ports.putObject(file.key, body, PARQUET_CONTENT_TYPE);
    }, (file, error) => offlineFailures.push(`offline file ${file.key}: ${describe(error)}`));
    await this.writeDeadLetters(stored.filter((p) => unencodable.has(p.index)), reasonsOf, (_, message) => offlineFailures.push(message));
    if (offlineFailures.length > 0) {
      // Files of one batch interleave, so the only safe retry point is the first row offered offline: the retry
      // then rebuilds every file of this attempt under the same keys (see the module documentation).
      failures.push(...offlineFailures.map((message) => ({ index: stored[0].index, message: `${message} (retrying from the first row offered offline)` })));
      cut = firstFailure(failures, records.length);
    }

    return {
      retryFromSequenceNumber: cut < records.length ? records[cut].sequenceNumber : undefined,
      committed: cut,
      counts: countCommitted(parsed.slice(0, cut), online.outcomes, reasonsOf, ingestedAtMs),
      failures: failures.sort((a, b) => a.index - b.index).map((f) => `record ${f.index} (${records[f.index].sequenceNumber}): ${f.message}`),
    };
  }

  /** Writes the dead letters of `invalid`; a letter that cannot be written goes to `onError` with its record's index. */
  private async writeDeadLetters(invalid: readonly Parsed[], reasonsOf: (p: Parsed) => string[], onError: (index: number, message: string) => void): Promise<void> {
    await this.forEachBounded(invalid, async (p) => {
      await this.options.ports.putObject(deadLetterKey(p), deadLetterDocument(p, reasonsOf(p)), 'application/json');
    }, (p, error) => onError(p.index, `dead letter ${deadLetterKey(p)}: ${describe(error)}`));
  }

  /**
   * Parses and validates one record, derives its storage keys and converts it to its offline record, inside the
   * per-record guard: whatever throws makes the record invalid (dead-lettered with the reason), never the batch fail.
   */
  private prepare(record: StreamRecord, index: number, nowMs: number): Parsed {
    let parsed: Parsed;
    try {
      parsed = this.parse(record, index, nowMs);
    } catch (error) {
      return unprocessable({ index, record, label: UNKNOWN_FEATURE_VIEW }, 'parsing and validation', error);
    }
    if (!parsed.view || !parsed.row) return parsed;
    let keyed: Parsed;
    try {
      keyed = { ...parsed, onlineKey: onlineKey(parsed.view, parsed.row.entityKey), partition: offlinePartitionPrefix(parsed.view, parsed.row.eventTimeMs) };
    } catch (error) {
      return unprocessable(parsed, 'deriving the storage keys', error);
    }
    const offline: OfflineRow = { ...parsed.row, ingestedAtMs: nowMs, ingestSeq: ingestSeqOf(record) };
    try {
      assertParquetEncodable(parsed.view, offline);
    } catch (error) {
      return unprocessable(parsed, 'converting the row to its offline Parquet record', error);
    }
    return { ...keyed, offline };
  }

  /** Parses the envelope and validates the record against its view. */
  private parse(record: StreamRecord, index: number, nowMs: number): Parsed {
    const invalid = (reason: string, extra: Partial<Parsed> = {}): Parsed => ({ index, record, label: UNKNOWN_FEATURE_VIEW, reasons: [reason], ...extra });
    const decoded = decodeFeatureRecord(record.data);
    if (!decoded.ok) {
      return invalid(`data: ${decoded.problem}${decoded.cause === undefined ? '' : ` (${describe(decoded.cause)})`}; ${FEATURE_RECORD_HINT}`);
    }
    const { view: envelopeView, version: envelopeVersion, record: fields } = decoded.envelope;
    const versions = typeof envelopeView === 'string' ? this.views.get(envelopeView) : undefined;
    if (!versions) {
      return invalid(`view: ${quoted(envelopeView)} is not a view this materializer serves (${[...this.views.keys()].join(', ')}); ${FEATURE_RECORD_HINT}`, { envelopeView, envelopeVersion });
    }
    const label = envelopeView as string;
    const view = versions.get(envelopeVersion as number);
    if (!view) {
      return invalid(`version: view '${label}' is served at version ${[...versions.keys()].join(', ')}, not ${quoted(envelopeVersion)}; produce records with a deployed version`, { label, envelopeView, envelopeVersion });
    }
    const { row, errors } = validateRecord(view, fields, {
      nowMs, maxFutureSkewMs: this.options.maxFutureSkewMs, earliestEventDate: this.options.earliestEventDate ?? DEFAULT_EARLIEST_EVENT_DATE,
    });
    return { index, record, label, envelopeView, envelopeVersion, view, row, reasons: errors.map((e) => `record.${e}`) };
  }

  /**
   * Offers every valid row online. Rows of one entity form a lane, tried newest event first (the earliest record
   * first among equal event times, as offline): the first row the store accepts or refuses as stale settles the lane
   * and every later row of it is stale without a call. A refused row is skipped; a lane that fails records a
   * failure at its first record.
   */
  private async writeOnline(parsed: readonly Parsed[], ingestedAtMs: number, failures: Failure[]) {
    const outcomes = new Map<number, 'applied' | 'stale'>();
    const refused = new Map<number, string>();
    const lanes = new Map<string, StoredRow[]>();
    for (const p of parsed) {
      if (!p.view || !p.row || p.onlineKey === undefined || p.offline === undefined) continue;
      const lane = lanes.get(p.onlineKey) ?? [];
      lane.push(p as StoredRow);
      lanes.set(p.onlineKey, lane);
    }
    await this.forEachBounded([...lanes.values()], async (lane) => {
      const newestFirst = [...lane].sort((a, b) => b.row.eventTimeMs - a.row.eventTimeMs || a.index - b.index);
      let settled = false;
      for (const p of newestFirst) {
        if (settled) {
          outcomes.set(p.index, 'stale');
          continue;
        }
        const result = await this.options.ports.writeOnline(p.view, p.row, ingestedAtMs);
        if (result.outcome === 'refused') refused.set(p.index, result.reason ?? 'no reason given');
        else {
          outcomes.set(p.index, result.outcome);
          settled = true;
        }
      }
    }, (lane, error) => failures.push({ index: lane[0].index, message: `online write of ${lane[0].onlineKey}: ${describe(error)}` }));
    return { outcomes, refused };
  }

  /** Runs `work` over items with at most `concurrency` in flight; a failure goes to `onError`, never stops the rest. */
  private async forEachBounded<T>(items: readonly T[], work: (item: T) => Promise<void>, onError: (item: T, error: unknown) => void): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const item = items[next++];
        await work(item).catch((error: unknown) => onError(item, error));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
  }
}

/** Index of the first failure, or `end` when there is none. */
function firstFailure(failures: readonly Failure[], end: number): number {
  return failures.reduce((min, f) => Math.min(min, f.index), end);
}

/** The `ingest_seq` of a record: `<shardId>:<sequenceNumber>`, like Lambda's eventID. */
function ingestSeqOf(record: StreamRecord): string {
  return `${record.shardId}:${record.sequenceNumber}`;
}

/**
 * Deterministic dead-letter key: `dead-letter/<view or _unknown>/<arrival date>/<shardId>-<sequenceNumber>.json`
 * (`unknown-date` for an arrival time no date holds). Never throws.
 */
function deadLetterKey(p: Parsed): string {
  return `${DEAD_LETTER_PREFIX}${p.label}/${formatEpochDate(p.record.arrivalTimeMs)}/${p.record.shardId}-${p.record.sequenceNumber}.json`;
}

/**
 * The dead letter of a record, as JSON: its reasons, the envelope's view and version when they are plain values, its
 * stream position and its raw data (UTF-8 text, or base64 for bytes that are not UTF-8), cut at
 * `MAX_DEAD_LETTER_DATA_BYTES` (at a character boundary). Built from strings and numbers only, so serializing it
 * cannot throw or recurse.
 */
function deadLetterDocument(p: Parsed, reasons: string[]): Buffer {
  const data = Buffer.from(p.record.data);
  const kept = data.subarray(0, utf8Boundary(data, MAX_DEAD_LETTER_DATA_BYTES));
  let text: string | undefined;
  try {
    text = UTF8.decode(kept);
  } catch {
    text = undefined;
  }
  const body = {
    reasons: reasons.slice(0, MAX_DEAD_LETTER_REASONS).map((r) => cut(r, MAX_REASON_CHARS)),
    ...(typeof p.envelopeView === 'string' ? { view: cut(p.envelopeView, 256) } : {}),
    ...(typeof p.envelopeVersion === 'number' ? { version: p.envelopeVersion } : {}),
    shardId: p.record.shardId,
    sequenceNumber: p.record.sequenceNumber,
    approximateArrivalTimestamp: formatEpochMs(p.record.arrivalTimeMs),
    dataBytes: data.length,
    ...(kept.length < data.length ? { truncated: true } : {}),
    // Bytes that are not UTF-8 are kept exactly, as base64.
    ...(text !== undefined ? { data: text } : { dataBase64: kept.toString('base64') }),
  };
  return Buffer.from(JSON.stringify(body));
}

/**
 * The largest cut point <= `max` that does not split a UTF-8 character: backs off over at most 3 continuation bytes
 * (10xxxxxx) so the character starting before them is left out whole. For bytes that are not UTF-8 the cut is
 * anywhere, as they are kept as base64.
 */
function utf8Boundary(data: Buffer, max: number): number {
  if (data.length <= max) return data.length;
  let at = max;
  while (at > max - 3 && at > 0 && (data[at] & 0xc0) === 0x80) at -= 1;
  return (data[at] & 0xc0) === 0x80 ? max : at;
}

/** The record, marked invalid because a step threw on it: it goes to the dead-letter path with the reason. */
function unprocessable(p: Pick<Parsed, 'index' | 'record' | 'label' | 'envelopeView' | 'envelopeVersion'>, step: string, error: unknown): Parsed {
  const { index, record, label, envelopeView, envelopeVersion } = p;
  return { index, record, label, envelopeView, envelopeVersion, reasons: [`record: ${step} failed (${describe(error)}); the record is kept here as received`] };
}

/** A value from a record for an error message: a short JSON text for strings and numbers, a description otherwise. */
function quoted(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(cut(value, 64));
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  return describeValue(value);
}

/** The text cut to at most `max` characters (marked with …). */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

interface OfflineFile {
  readonly key: string;
  readonly view: FeatureViewSpec;
  readonly rows: StoredRow[];
}

/** One file per (view, version, event date), named `<shardId>-<first row's sequence number>.parquet`. */
function offlineFiles(stored: readonly StoredRow[]): OfflineFile[] {
  const files = new Map<string, OfflineFile>();
  for (const p of stored) {
    const file = files.get(p.partition) ?? { key: `${p.partition}${p.record.shardId}-${p.record.sequenceNumber}.parquet`, view: p.view, rows: [] };
    file.rows.push(p);
    files.set(p.partition, file);
  }
  return [...files.values()];
}

/** Counts of the committed records by view; throws if the accounting identities do not hold (a bug). */
function countCommitted(
  committed: readonly Parsed[], outcomes: ReadonlyMap<number, 'applied' | 'stale'>, reasonsOf: (p: Parsed) => string[], ingestedAtMs: number,
): Record<string, ViewBatchCounts> {
  const counts: Record<string, { -readonly [K in keyof ViewBatchCounts]: ViewBatchCounts[K] }> = {};
  for (const p of committed) {
    const c = counts[p.label] ??= { received: 0, stored: 0, onlineApplied: 0, onlineStale: 0, deadLettered: 0 };
    c.received += 1;
    if (reasonsOf(p).length > 0) {
      c.deadLettered += 1;
      continue;
    }
    const outcome = outcomes.get(p.index);
    if (outcome !== undefined) {
      c.stored += 1;
      c.newestEventAgeMs = Math.min(c.newestEventAgeMs ?? Infinity, Math.max(0, ingestedAtMs - p.row!.eventTimeMs));
    }
    if (outcome === 'stale') c.onlineStale += 1;
    if (outcome === 'applied') {
      c.onlineApplied += 1;
      c.freshnessLagMs = Math.max(c.freshnessLagMs ?? 0, ingestedAtMs - p.row!.eventTimeMs);
    }
  }
  for (const [view, c] of Object.entries(counts)) {
    if (c.received !== c.stored + c.deadLettered || c.stored !== c.onlineApplied + c.onlineStale) {
      throw new Error(`materializer accounting broken for view '${view}': ${JSON.stringify(c)}`);
    }
  }
  return counts;
}

/**
 * The batch's metrics as EMF lines, one per view (dimension `FeatureView`), named from `MaterializerMetrics` so the
 * construct's alarms read the same names.
 */
export function batchMetricLines(result: BatchResult, options: { namespace?: string; timestampMs?: number } = {}): string[] {
  return Object.entries(result.counts).map(([view, c]) => {
    const metrics: MetricDatum[] = [
      { name: MaterializerMetrics.RECORDS_RECEIVED, value: c.received, unit: 'Count' },
      { name: MaterializerMetrics.ROWS_STORED, value: c.stored, unit: 'Count' },
      { name: MaterializerMetrics.ONLINE_APPLIED, value: c.onlineApplied, unit: 'Count' },
      { name: MaterializerMetrics.ONLINE_STALE, value: c.onlineStale, unit: 'Count' },
      { name: MaterializerMetrics.DEAD_LETTERED, value: c.deadLettered, unit: 'Count' },
      ...(c.freshnessLagMs !== undefined ? [{ name: MaterializerMetrics.FRESHNESS_LAG_MS, value: c.freshnessLagMs, unit: 'Milliseconds' as const }] : []),
      ...(c.newestEventAgeMs !== undefined ? [{ name: MaterializerMetrics.NEWEST_EVENT_AGE_MS, value: c.newestEventAgeMs, unit: 'Milliseconds' as const }] : []),
    ];
    return toEmf({ [MetricDimensions.FEATURE_VIEW]: view }, metrics, options);
  });
}

/** An error for the logs and dead letters: `<name>: <message>`, cut at 500 characters. */
function describe(error: unknown): string {
  const { name, message } = (error ?? {}) as Partial<Error>;
  return cut(message !== undefined ? `${name ?? 'Error'}: ${message}` : String(error), 500);
}
