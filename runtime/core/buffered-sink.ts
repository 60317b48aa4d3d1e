/**
 * A bounded, asynchronous prediction-log sink: `write` only appends the JSON line to a buffer and returns; batches are
 * delivered in the background by a transport function (file append, Kinesis PutRecords, S3 PutObject, ...). When the
 * buffer is full the record is dropped and counted — the request path never waits on the log. Pure TypeScript.
 */
import { PredictionLogRecord, PredictionLogSink, toJsonLine } from './prediction-log';

/**
 * Delivers one batch of JSON lines (each ending in a newline). Resolves with the number of lines that could not be
 * stored (nothing or 0: all stored); rejects when none was.
 */
export type DeliverLines = (lines: string[]) => Promise<number | void>;

/** Buffering settings. */
export interface BufferedSinkOptions {
  /** Most records held, waiting or being delivered; more are dropped. @default 10000 */
  readonly maxBufferedRecords?: number;
  /** Most records per delivery. @default 500 */
  readonly maxBatchRecords?: number;
  /** Longest a record waits for its batch to fill before delivery, milliseconds. @default 1000 */
  readonly flushIntervalMs?: number;
  /** Told about each failed delivery (its records are counted as `failed`). @default - failures are only counted */
  readonly onError?: (error: Error, records: number) => void;
}

/** What became of the records written to a sink. */
export interface SinkStats {
  /** Records delivered. */
  readonly delivered: number;
  /** Records dropped because the buffer was full. */
  readonly dropped: number;
  /** Records lost in failed deliveries. */
  readonly failed: number;
}

/** A `PredictionLogSink` that buffers and delivers in batches (see the module comment). */
export class BufferedPredictionLogSink implements PredictionLogSink {
  private readonly maxBuffered: number;
  private readonly maxBatch: number;
  private readonly flushIntervalMs: number;
  private buffer: string[] = [];
  private inDelivery = 0;
  private delivering?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private counts = { delivered: 0, dropped: 0, failed: 0 };

  constructor(private readonly deliver: DeliverLines, private readonly options: BufferedSinkOptions = {}) {
    this.maxBuffered = options.maxBufferedRecords ?? 10000;
    this.maxBatch = options.maxBatchRecords ?? 500;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
  }

  /** Counts so far. */
  get stats(): SinkStats {
    return { ...this.counts };
  }

  /** Buffers one record; returns false (and counts it) when the buffer is full. Never waits. */
  write(record: PredictionLogRecord): boolean {
    if (this.buffer.length + this.inDelivery >= this.maxBuffered) {
      this.counts.dropped++;
      return false;
    }
    this.buffer.push(toJsonLine(record));
    if (this.buffer.length >= this.maxBatch) this.schedule(0);
    else this.schedule(this.flushIntervalMs);
    return true;
  }

  /** Delivers everything buffered so far. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0 || this.delivering) {
      await (this.delivering ?? this.deliverNext());
    }
  }

  /** Flushes and stops the timer. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private schedule(ms: number): void {
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.delivering) void this.deliverNext();
    }, ms);
    this.timer.unref();
  }

  private deliverNext(): Promise<void> {
    const batch = this.buffer.splice(0, this.maxBatch);
    if (batch.length === 0) return Promise.resolve();
    this.inDelivery = batch.length;
    this.delivering = this.deliver(batch).then(
      (notStored) => {
        this.counts.delivered += batch.length - (notStored || 0);
        this.counts.failed += notStored || 0;
      },
      (error: Error) => {
        this.counts.failed += batch.length;
        this.options.onError?.(error, batch.length);
      },
    ).finally(() => {
      this.inDelivery = 0;
      this.delivering = undefined;
      if (this.buffer.length >= this.maxBatch) this.schedule(0);
      else if (this.buffer.length > 0) this.schedule(this.flushIntervalMs);
    });
    return this.delivering;
  }
}
