/**
 * The dynamic batcher and admission control of the inference server, free of any inference engine (pure TypeScript).
 *
 * - Requests queue per priority level (1 = highest); a batch is formed from the highest level first, oldest first.
 * - A batch only holds requests of one compatibility `key` (the server's key is the non-batch shape and dtype of every
 *   input), up to `maxBatchSize` rows.
 * - Work-conserving: a batch is dispatched as soon as a slot (an idle worker) is free, unless waiting pays. While every
 *   slot is busy, requests accumulate, and they leave together when one frees: the natural batching of a busy pool.
 *   A partial batch is held back with a slot free only while the recent arrival rate says another request is due: an
 *   exponentially weighted moving average of the gaps between arrivals that found the batcher busy (requests queued
 *   or no slot free) says when the next one is expected (twice the mean gap after the last arrival), and the batch
 *   waits until then at most, and never longer than `maxQueueDelayMs` after its oldest request arrived. A full batch
 *   leaves at once. Arrivals to an idle batcher are not sampled: in a closed loop the next request only comes once
 *   this one is answered, so those gaps say nothing about what waiting would gather. A hold during which nothing
 *   arrived forgets the estimate, so a lone request after a burst waits at most once.
 * - A request's queue deadline is enforced by its own timer: when it passes while the request is queued, the request
 *   leaves the queue and `expire` answers it right then; it is never dispatched.
 * - The queue is bounded (`maxQueueSize` requests). When full, a request of higher priority than the lowest queued
 *   level evicts that level's newest request (`shed`); otherwise it is refused synchronously by `submit`.
 */
import { PriorityFifo, QueueEntry } from './priority-queue';

/** What the batcher needs to know about a request. */
export interface BatchableRequest {
  /** Compatibility key: requests with different keys never share a batch. */
  readonly key: string;
  /** Rows (batch-dimension size) this request contributes. */
  readonly rows: number;
  /** Priority level, 1 (highest) … `levels`. */
  readonly priority: number;
  /** Longest time the request may wait in the queue, milliseconds. @default - no deadline */
  readonly queueTimeoutMs?: number;
}

/** Timer functions (injectable so tests can drive time). */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock: `performance.now()` and the global timers. */
export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Dynamic batcher settings and callbacks. */
export interface DynamicBatcherOptions<T extends BatchableRequest> {
  /** Most rows in one batch. */
  readonly maxBatchSize: number;
  /**
   * Longest a request waits for its batch to fill while a slot is free, milliseconds; the batcher only waits when the
   * arrival rate says another request is due (see the module comment). 0: dispatch what is there.
   */
  readonly maxQueueDelayMs: number;
  /** Most requests queued, all levels together. */
  readonly maxQueueSize: number;
  /** Number of priority levels. */
  readonly levels: number;
  /** Number of batches that can be dispatched right now (idle workers). */
  readonly freeSlots: () => number;
  /** Runs a batch; must take a slot synchronously (so that `freeSlots` drops). */
  readonly dispatch: (batch: T[]) => void;
  /** Answers a request whose queue deadline passed; it was never dispatched. */
  readonly expire: (request: T) => void;
  /** Answers a request evicted to make room for a higher-priority one. */
  readonly shed: (request: T) => void;
  /** @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

interface Queued<T> {
  readonly request: T;
  deadlineTimer?: unknown;
}

/** Weight of the newest gap in the moving average of inter-arrival gaps. */
const GAP_SMOOTHING = 0.2;
/** A held batch waits for the next arrival until this many mean gaps have passed since the last one. */
const HOLD_GAPS = 2;

/**
 * When the next request is expected: a moving average of the gaps between arrivals that found the batcher busy
 * (see the module comment for why only those).
 */
class ArrivalEstimate {
  private lastArrival?: number;
  private meanGap?: number;

  /** Records an arrival; `busy`: it found requests queued or no slot free. */
  arrived(now: number, busy: boolean): void {
    if (busy && this.lastArrival !== undefined) {
      const gap = now - this.lastArrival;
      this.meanGap = this.meanGap === undefined ? gap : this.meanGap + GAP_SMOOTHING * (gap - this.meanGap);
    }
    this.lastArrival = now;
  }

  /** Until when another arrival is expected (-Infinity: none is, without an estimate). */
  expectedUntil(): number {
    if (this.meanGap === undefined || this.lastArrival === undefined) return -Infinity;
    return this.lastArrival + HOLD_GAPS * this.meanGap;
  }

  /** Drops the estimate (a hold gathered nothing): until busy arrivals are seen again, nothing is expected. */
  forget(): void {
    this.meanGap = undefined;
  }
}

interface Candidate<T> {
  readonly entries: QueueEntry<Queued<T>>[];
  rows: number;
  oldest: number;
  full: boolean;
}

/** Forms batches from prioritized, bounded queues (see the module comment). */
export class DynamicBatcher<T extends BatchableRequest> {
  private readonly queue: PriorityFifo<Queued<T>>;
  private readonly clock: Clock;
  private readonly arrivals = new ArrivalEstimate();
  /** Requests admitted so far. */
  private admitted = 0;
  /** `admitted` when the current hold (a partial batch kept back with a slot free) began; undefined when none. */
  private holdFrom?: number;
  private wakeTimer?: unknown;
  private wakeAt = Infinity;

  constructor(private readonly options: DynamicBatcherOptions<T>) {
    const problems: string[] = [];
    if (!(Number.isInteger(options.maxBatchSize) && options.maxBatchSize >= 1)) problems.push(`maxBatchSize must be an integer >= 1, got ${options.maxBatchSize}`);
    if (!(options.maxQueueDelayMs >= 0)) problems.push(`maxQueueDelayMs must be >= 0, got ${options.maxQueueDelayMs}`);
    if (!(Number.isInteger(options.maxQueueSize) && options.maxQueueSize >= 1)) problems.push(`maxQueueSize must be an integer >= 1, got ${options.maxQueueSize}`);
    if (problems.length > 0) throw new Error(`DynamicBatcher: ${problems.join('; ')}`);
    this.queue = new PriorityFifo(options.levels);
    this.clock = options.clock ?? SYSTEM_CLOCK;
  }

  /** Requests queued, all levels. */
  get size(): number {
    return this.queue.size;
  }

  /** Requests queued at one level. */
  depth(level: number): number {
    return this.queue.depth(level);
  }

  /** Whether a request of this priority would be admitted now (a cheap check before reading a request body). */
  canAdmit(priority: number): boolean {
    if (this.queue.size < this.options.maxQueueSize) return true;
    return (this.queue.lowestNonEmptyLevel() ?? 0) > priority;
  }

  /**
   * Queues a request, shedding a lower-priority one if the queue is full. Returns false, synchronously, when the
   * request is refused (queue full of requests of its priority or higher); the caller answers it.
   */
  submit(request: T): boolean {
    if (this.queue.size >= this.options.maxQueueSize) {
      const lowest = this.queue.lowestNonEmptyLevel();
      if (lowest === undefined || lowest <= request.priority) return false;
      const victim = this.queue.newest(lowest)!;
      this.take(victim);
      this.options.shed(victim.item.request);
    }
    const now = this.clock.now();
    this.arrivals.arrived(now, this.queue.size > 0 || this.options.freeSlots() <= 0);
    this.admitted++;
    const queued: Queued<T> = { request };
    const entry = this.queue.push(queued, request.priority, now);
    this.pump();
    if (entry.queued && request.queueTimeoutMs !== undefined) {
      queued.deadlineTimer = this.clock.setTimeout(() => {
        if (this.take(entry)) this.options.expire(request);
      }, Math.max(0, request.queueTimeoutMs));
    }
    return true;
  }

  /** Dispatches every batch that is ready while slots are free; call it whenever a slot frees up. */
  pump(): void {
    while (this.queue.size > 0 && this.options.freeSlots() > 0) {
      const now = this.clock.now();
      const candidates = this.candidates();
      const expectedUntil = this.arrivals.expectedUntil();
      const leaveAt = (c: Candidate<T>) => Math.min(c.oldest + this.options.maxQueueDelayMs, expectedUntil);
      const ready = candidates.find((c) => c.full || now >= leaveAt(c));
      if (!ready) {
        this.holdFrom ??= this.admitted;
        this.wakeUpAt(Math.min(...candidates.map(leaveAt)));
        return;
      }
      if (!ready.full && this.holdFrom === this.admitted) this.arrivals.forget();
      this.holdFrom = undefined;
      for (const entry of ready.entries) this.take(entry);
      this.options.dispatch(ready.entries.map((e) => e.item.request));
    }
  }

  /**
   * One candidate batch per key, in service order of their first request: requests taken in service order while
   * they fit. A candidate is full when it reaches `maxBatchSize` rows or the next request of its key does not fit.
   */
  private candidates(): Candidate<T>[] {
    const byKey = new Map<string, Candidate<T>>();
    let first: Candidate<T> | undefined;
    for (const entry of this.queue.entries()) {
      const { key, rows } = entry.item.request;
      let candidate = byKey.get(key);
      if (!candidate) {
        candidate = { entries: [], rows: 0, oldest: entry.enqueuedAt, full: false };
        byKey.set(key, candidate);
        first ??= candidate;
      }
      if (candidate.full) continue;
      if (candidate.rows > 0 && candidate.rows + rows > this.options.maxBatchSize) {
        candidate.full = true;
      } else {
        candidate.entries.push(entry);
        candidate.rows += rows;
        candidate.oldest = Math.min(candidate.oldest, entry.enqueuedAt);
        candidate.full = candidate.rows >= this.options.maxBatchSize;
      }
      // The first candidate in service order goes first once full: no need to look further.
      if (candidate.full && candidate === first) break;
    }
    return [...byKey.values()];
  }

  private take(entry: QueueEntry<Queued<T>>): boolean {
    if (!this.queue.remove(entry)) return false;
    if (entry.item.deadlineTimer !== undefined) this.clock.clearTimeout(entry.item.deadlineTimer);
    if (this.queue.size === 0) this.holdFrom = undefined; // e.g. the held requests expired: that hold is over
    return true;
  }

  private wakeUpAt(at: number): void {
    if (this.wakeTimer !== undefined && this.wakeAt <= at) return;
    if (this.wakeTimer !== undefined) this.clock.clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = this.clock.setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.pump();
    }, Math.max(0, at - this.clock.now()));
  }
}
