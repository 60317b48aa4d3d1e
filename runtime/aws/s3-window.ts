/**
 * Streams the lines of a time window of a JSON-lines dataset in S3, for readers that must not hold the window in
 * memory (drift detection, the label join): lists the objects under the prefixes the window touches, keeps those whose
 * key says they may hold the window (an hour partition), reads each with a deadline, gunzips `.gz` objects, and splits
 * lines with bounded memory — a line longer than `maxLineBytes` is skipped and yielded as `line: undefined` so the
 * caller counts it, never buffered whole. An object that does not decompress (corrupt or truncated gzip) ends there,
 * counted (`WindowReadStats.unreadableObjects`, `ReadWindowOptions.onUnreadableObject`), and the read goes on with the
 * next object: retrying cannot fix its bytes, and monitoring must not go blind while it sits in the window.
 *
 * Layouts: `predictionLogWindow` (runtime/core/datasets.ts, `…/dt=<date>/hour=<hh>/…`) and `dataCaptureWindow`
 * (SageMaker data capture, `<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/…`); any other layout is a `WindowSource` of
 * its own (e.g. the label dataset: its day prefixes, no hour filter).
 */
import { Readable } from 'stream';
import { createGunzip } from 'zlib';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { datesInWindow, predictionLogDayPrefix } from '../core/datasets';
import { parseDataCaptureKey } from '../core/logged-predictions';
import { timerDelayMs } from '../core/routing';
import { chunksWithDeadline, getObjectWithDeadline } from './s3-read';

/** A time window, epoch milliseconds: `fromMs` included, `toMs` excluded. */
export interface TimeWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

/** What to read: the objects of `bucket` under `prefixes` (each listed in full) that `keep` accepts. */
export interface WindowSource {
  readonly bucket: string;
  /** Key prefixes to list, e.g. one per day of the window. */
  readonly prefixes: readonly string[];
  /**
   * Whether an object may hold rows of the window, from its key (e.g. its hour partition).
   * @default - every object listed
   */
  readonly keep?: (key: string) => boolean;
}

/** One line of an object; `line` is undefined for a line longer than the cap (skipped unread: count it). */
export interface WindowLine {
  readonly key: string;
  readonly line: string | undefined;
}

/** Options of `readWindowLines`. */
export interface ReadWindowOptions {
  /**
   * Deadline of one S3 call, milliseconds: a list page, a GetObject, and each wait for the next chunk of a body.
   * @default DEFAULT_OBJECT_TIMEOUT_MS
   */
  readonly callTimeoutMs?: number;
  /**
   * Longest line kept, bytes (after decompression); longer lines are skipped, yielded as `line: undefined`.
   * @default DEFAULT_MAX_LINE_BYTES
   */
  readonly maxLineBytes?: number;
  /**
   * Aborts the whole read (e.g. the function's remaining time): the generator throws.
   * @default - no overall deadline
   */
  readonly signal?: AbortSignal;
  /** Counters updated as the read goes (objects and bytes read, objects that did not decompress). */
  readonly stats?: WindowReadStats;
  /**
   * Called for each object that does not decompress (corrupt or truncated gzip), with its key and the decoder's
   * error, e.g. to log the key; the lines it yielded before the fault stand, the read goes on with the next object.
   * @default - only counted in `stats`
   */
  readonly onUnreadableObject?: (key: string, error: Error) => void;
}

/** What a read went through. */
export interface WindowReadStats {
  /** Objects read (kept by the source's filter). */
  objects: number;
  /** Bytes read from S3 (compressed size for `.gz`). */
  bytes: number;
  /**
   * Objects that did not decompress (corrupt or truncated gzip): their lines after the fault are not read. Set once
   * the first one is met.
   * @default - absent until one is met
   */
  unreadableObjects?: number;
}

/** Default deadline of one S3 call, milliseconds (an object of Firehose's 128 MB buffer reads in seconds). */
export const DEFAULT_OBJECT_TIMEOUT_MS = 60_000;
/** Default longest line, bytes: 1 MiB (a prediction with hundreds of features is a few KB). */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

const HOUR_MS = 3_600_000;

/** Whether the hour starting at `hourMs` overlaps the window. */
function hourOverlaps(hourMs: number, window: TimeWindow): boolean {
  return hourMs + HOUR_MS > window.fromMs && hourMs < window.toMs;
}

/** The hour (UTC, epoch ms) of a prediction-log key's `dt=<yyyy-mm-dd>/hour=<hh>/` partitions; undefined without them. */
export function predictionLogKeyHour(key: string): number | undefined {
  const match = /\/dt=(\d{4})-(\d{2})-(\d{2})\/hour=(\d{2})\//.exec(key);
  return match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4])) : undefined;
}

/**
 * Prediction logs of `model` in `bucket` that may hold rows of `window`: its day partitions, filtered by hour — one
 * hour past the window's end included, because the inference server's S3 sink names a batch's partition by the time
 * it writes it, so a prediction of 10:59 can sit in `hour=11` (Firehose partitions by the record's own `ts`). The
 * caller keeps rows by their `ts`.
 */
export function predictionLogWindow(bucket: string, model: string, window: TimeWindow): WindowSource {
  const partitions = { fromMs: window.fromMs, toMs: window.toMs + HOUR_MS };
  return {
    bucket,
    prefixes: datesInWindow(partitions.fromMs, partitions.toMs - 1).map((date) => predictionLogDayPrefix(model, date)),
    keep: (key) => {
      const hour = predictionLogKeyHour(key);
      return hour === undefined || hourOverlaps(hour, partitions);
    },
  };
}

/** The `yyyy/mm/dd` of a UTC date `yyyy-mm-dd`. */
const slashed = (date: string) => date.replace(/-/g, '/');

/**
 * SageMaker data capture of `endpoint`'s `variants` under `prefix` (no trailing slash) that may hold rows of `window`:
 * one prefix per variant and day (`<prefix>/<endpoint>/<variant>/yyyy/mm/dd/`), filtered by the key's hour.
 */
export function dataCaptureWindow(bucket: string, prefix: string, endpoint: string, variants: readonly string[], window: TimeWindow): WindowSource {
  const base = prefix === '' ? '' : `${prefix.replace(/\/+$/, '')}/`;
  const dates = datesInWindow(window.fromMs, window.toMs - 1);
  return {
    bucket,
    prefixes: variants.flatMap((variant) => dates.map((date) => `${base}${endpoint}/${variant}/${slashed(date)}/`)),
    keep: (key) => {
      const parsed = parseDataCaptureKey(key, prefix);
      return parsed !== undefined && hourOverlaps(parsed.hourMs, window);
    },
  };
}

/** A signal for one call: its own deadline, and the overall one when given. */
function callSignal(timeoutMs: number, overall?: AbortSignal): AbortSignal {
  const own = AbortSignal.timeout(timerDelayMs(timeoutMs));
  return overall ? AbortSignal.any([own, overall]) : own;
}

/** Every key under `prefix` that `keep` accepts, in key order (all pages, each with a deadline). */
async function listKeys(s3: S3Client, bucket: string, prefix: string, keep: (key: string) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), {
      abortSignal: callSignal(timeoutMs, signal),
    });
    for (const object of page.Contents ?? []) if (object.Key && keep(object.Key)) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/**
 * Splits a byte stream into lines (`\n`, a trailing `\r` removed) holding at most `maxLineBytes` of one line: the rest
 * of a longer line is discarded as it arrives and the line is yielded as undefined.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<string | undefined> {
  let parts: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  const finish = (): string | undefined => {
    const line = tooLong ? undefined : Buffer.concat(parts, length).toString('utf8').replace(/\r$/, '');
    parts = [];
    length = 0;
    tooLong = false;
    return line;
  };
  for await (const chunk of chunks) {
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(0x0a, start);
      const stop = end === -1 ? chunk.length : end;
      if (!tooLong) {
        if (length + stop - start > maxLineBytes) {
          tooLong = true;
          parts = [];
        } else if (stop > start) {
          parts.push(chunk.subarray(start, stop));
        }
        length += stop - start;
      }
      if (end === -1) break;
      const line = finish();
      if (line === undefined || line.length > 0) yield line;
      start = end + 1;
    }
  }
  if (length > 0 || tooLong) {
    const line = finish();
    if (line === undefined || line.length > 0) yield line;
  }
}

/**
 * Whether an error is the decompressor refusing an object's bytes (zlib's `Z_*` codes: "invalid code lengths set",
 * "unexpected end of file" of a truncated object), not S3 or the network failing (those keep their own codes when
 * they reach the decompressor) nor a deadline.
 */
function isDecodeError(error: unknown): error is Error {
  // Duck-typed, not `instanceof Error`: zlib's errors may come from another realm (e.g. a test runner's vm context).
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_') && typeof (error as Error).message === 'string';
}

/**
 * The lines of every object of `source`, object by object in key order per prefix, non-empty lines only. Each S3
 * call has a deadline (`callTimeoutMs`: a list page, a GetObject, and each wait for the next chunk of a body); a
 * failed call or a passed deadline throws, so the caller's run fails and is retried or alarmed on (a partial window
 * would read as drift). An object that does not decompress is counted and skipped from the fault on (retries cannot
 * fix it): see `ReadWindowOptions.onUnreadableObject`.
 */
export async function* readWindowLines(s3: S3Client, source: WindowSource, options: ReadWindowOptions = {}): AsyncGenerator<WindowLine> {
  const timeoutMs = options.callTimeoutMs ?? DEFAULT_OBJECT_TIMEOUT_MS;
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const keep = source.keep ?? (() => true);
  for (const prefix of source.prefixes) {
    for (const key of await listKeys(s3, source.bucket, prefix, keep, timeoutMs, options.signal)) {
      const object = await getObjectWithDeadline(s3, source.bucket, key, timeoutMs, options.signal);
      const body = object.Body as Readable;
      const stats = options.stats;
      if (stats) {
        stats.objects++;
        body.on('data', (chunk: Buffer) => { stats.bytes += chunk.length; });
      }
      const gzipped = key.endsWith('.gz') || object.ContentEncoding === 'gzip';
      let stream: Readable = body;
      if (gzipped) {
        stream = body.pipe(createGunzip());
        body.on('error', (error) => stream.destroy(error));
      }
      try {
        for await (const line of splitLines(chunksWithDeadline(stream, key, timeoutMs, options.signal), maxLineBytes)) yield { key, line };
      } catch (error) {
        if (!isDecodeError(error)) throw error;
        if (stats) stats.unreadableObjects = (stats.unreadableObjects ?? 0) + 1;
        options.onUnreadableObject?.(key, error);
      } finally {
        body.destroy();
      }
    }
  }
}
