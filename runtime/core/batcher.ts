/**
 * The dynamic batcher and admission control of the inference server, free of any inference engine (pure TypeScript).
 *
 * - Requests queue per priority level (1 = highest); a batch is formed from the highest level first, oldest first.
 * - A batch only holds requests of one compatibility `key` (the server's key is the non-batch shape and dtype of every
 *   input), up to `maxBatchSize` rows. It is dispatched when a slot (an idle worker) is free and either it is full —
 *   at once, no waiting — or its oldest request has waited `maxQueueDelayMs`.
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
  /** Longest a request waits for a batch to fill while a slot is free, milliseconds (0: dispatch what is there). */
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
    const queued: Queued<T> = { request };
    const entry = this.queue.push(queued, request.priority, this.clock.now());
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
      const ready = candidates.find((c) => c.full || now - c.oldest >= this.options.maxQueueDelayMs);
      if (!ready) {
        this.wakeUpAt(Math.min(...candidates.map((c) => c.oldest)) + this.options.maxQueueDelayMs);
        return;
      }
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
