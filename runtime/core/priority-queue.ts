/**
 * A FIFO per priority level (1 = highest), with O(1) push, removal of any entry, and access to the newest entry of a
 * level (the one to shed first). Pure TypeScript.
 */

/** A queued item: the handle used to remove it. */
export interface QueueEntry<T> {
  /** The queued item. */
  readonly item: T;
  /** Its priority level (1 = highest). */
  readonly level: number;
  /** When it was queued, on the caller's clock (milliseconds). */
  readonly enqueuedAt: number;
  /** False once removed. */
  queued: boolean;
  /** @internal neighbours in the level's list */
  prev?: QueueEntry<T>;
  /** @internal */
  next?: QueueEntry<T>;
}

interface Level<T> {
  head?: QueueEntry<T>;
  tail?: QueueEntry<T>;
  size: number;
}

/** FIFO queues for priority levels 1 … `levels`. */
export class PriorityFifo<T> {
  private readonly queues: Level<T>[];
  private count = 0;

  /** @param levels number of priority levels (level 1 is served first). */
  constructor(readonly levels: number) {
    if (!Number.isInteger(levels) || levels < 1) throw new Error(`levels must be a positive integer, got ${levels}`);
    this.queues = Array.from({ length: levels }, () => ({ size: 0 }));
  }

  /** Number of queued items, all levels. */
  get size(): number {
    return this.count;
  }

  /** Number of queued items at one level. */
  depth(level: number): number {
    return this.level(level).size;
  }

  /** Appends an item at the tail of its level; returns the entry to remove it by. */
  push(item: T, level: number, enqueuedAt: number): QueueEntry<T> {
    const queue = this.level(level);
    const entry: QueueEntry<T> = { item, level, enqueuedAt, queued: true, prev: queue.tail };
    if (queue.tail) queue.tail.next = entry;
    else queue.head = entry;
    queue.tail = entry;
    queue.size++;
    this.count++;
    return entry;
  }

  /** Removes an entry; returns false when it was no longer queued. */
  remove(entry: QueueEntry<T>): boolean {
    if (!entry.queued) return false;
    const queue = this.level(entry.level);
    if (entry.prev) entry.prev.next = entry.next;
    else queue.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else queue.tail = entry.prev;
    entry.prev = entry.next = undefined;
    entry.queued = false;
    queue.size--;
    this.count--;
    return true;
  }

  /** The lowest-priority (highest-numbered) level holding items, or undefined when empty. */
  lowestNonEmptyLevel(): number | undefined {
    for (let level = this.levels; level >= 1; level--) if (this.queues[level - 1].size > 0) return level;
    return undefined;
  }

  /** The most recently queued entry of a level. */
  newest(level: number): QueueEntry<T> | undefined {
    return this.level(level).tail;
  }

  /** Entries in service order: level 1 first, oldest first within a level. */
  *entries(): IterableIterator<QueueEntry<T>> {
    for (const queue of this.queues) {
      for (let entry = queue.head; entry; entry = entry.next) yield entry;
    }
  }

  private level(level: number): Level<T> {
    const queue = this.queues[level - 1];
    if (!queue) throw new Error(`priority level ${level} is outside 1..${this.levels}`);
    return queue;
  }
}
