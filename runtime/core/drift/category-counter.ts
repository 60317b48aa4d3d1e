/**
 * Frequencies of a categorical column in bounded memory: exact counts while the column has at most `capacity` distinct
 * values, then a Misra–Gries heavy-hitter summary (Misra & Gries, "Finding repeated elements", 1982; merged as in
 * Agarwal et al., "Mergeable Summaries", PODS 2012): every value seen more than total/(capacity+1) times is kept, and
 * each kept count is at most total/(capacity+1) below its true count. Mergeable, serializable as plain JSON.
 * Pure TypeScript.
 */
// Globals bound once: hot loops run in Jest's vm realm too, where each global lookup is a slow interceptor call.
const { isFinite: isFiniteNumber } = Number;
const { isArray } = Array;

/** The counter's plain-JSON form (what `toJSON` writes into a profile). */
export interface CategoryCounterState {
  /** Most distinct values counted exactly. */
  readonly capacity: number;
  /** Values added. */
  readonly total: number;
  /** True while every count is exact and every value seen is listed. */
  readonly exact: boolean;
  /** Distinct values seen: exact when `exact`, else a lower bound. */
  readonly distinct: number;
  /** Kept values and their counts, largest first (ties by value). */
  readonly counts: [string, number][];
}

/** Options of a `CategoryCounter`. */
export interface CategoryCounterOptions {
  /**
   * Distinct values counted exactly before the counter becomes a heavy-hitter summary.
   * @default 1000
   */
  readonly capacity?: number;
  /**
   * Values longer than this are cut to this many characters before counting (a hostile 1 MB string costs no memory).
   * @default 256
   */
  readonly maxLength?: number;
}

const DEFAULT_CAPACITY = 1000;
const DEFAULT_MAX_LENGTH = 256;

/** Counts of string values: exact up to `capacity` distinct values, Misra–Gries heavy hitters beyond. */
export class CategoryCounter {
  /** Most distinct values counted exactly. */
  readonly capacity: number;
  private readonly maxLength: number;
  private readonly counts = new Map<string, number>();
  private n = 0;
  private overflowed = false;

  constructor(options: CategoryCounterOptions = {}) {
    this.capacity = options.capacity ?? DEFAULT_CAPACITY;
    this.maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new Error(`CategoryCounter: capacity must be a positive integer, got ${this.capacity}`);
  }

  /** Values added. */
  get total(): number {
    return this.n;
  }

  /** True while the counts are exact and every value seen is listed. */
  get exact(): boolean {
    return !this.overflowed;
  }

  /** Distinct values seen: exact while `exact`, else a lower bound (`capacity + 1`). */
  get distinct(): number {
    return this.overflowed ? Math.max(this.capacity + 1, this.counts.size) : this.counts.size;
  }

  /** Values added that no kept count accounts for (0 while exact). */
  get otherCount(): number {
    let kept = 0;
    for (const c of this.counts.values()) kept += c;
    return this.n - kept;
  }

  /** Counts one value (cut to `maxLength` characters). */
  add(value: string): void {
    this.addCount(value.length > this.maxLength ? value.slice(0, this.maxLength) : value, 1);
  }

  /** The count kept for a value (0 when not kept; a lower bound once the counter is not exact). */
  get(value: string): number {
    return this.counts.get(value.length > this.maxLength ? value.slice(0, this.maxLength) : value) ?? 0;
  }

  /** The k largest kept counts, largest first (ties by value, so the order is stable). */
  top(k: number = this.capacity): [string, number][] {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, k);
  }

  /** Folds another counter into this one (the other is unchanged). */
  merge(other: CategoryCounter): this {
    for (const [value, count] of other.counts) this.counts.set(value, (this.counts.get(value) ?? 0) + count);
    this.n += other.n;
    this.overflowed ||= other.overflowed;
    if (this.counts.size > this.capacity) this.reduceTo(this.capacity);
    return this;
  }

  /** The counter as plain JSON. */
  toJSON(): CategoryCounterState {
    return { capacity: this.capacity, total: this.n, exact: this.exact, distinct: this.distinct, counts: this.top() };
  }

  /** Rebuilds a counter from `toJSON`'s output; throws naming the problem when the state is not one. */
  static fromJSON(state: CategoryCounterState): CategoryCounter {
    const valid = state !== null && typeof state === 'object' && Number.isInteger(state.total) && isArray(state.counts)
      && state.counts.every((e) => isArray(e) && typeof e[0] === 'string' && isFiniteNumber(e[1]) && e[1] > 0);
    if (!valid) throw new Error('CategoryCounter.fromJSON: not a counter state (expected { capacity, total, exact, distinct, counts: [string, number][] })');
    const counter = new CategoryCounter({ capacity: Math.max(state.capacity, state.counts.length) });
    for (const [value, count] of state.counts) counter.counts.set(value, count);
    counter.n = state.total;
    counter.overflowed = !state.exact;
    return counter;
  }

  private addCount(value: string, count: number): void {
    this.n += count;
    const seen = this.counts.get(value);
    if (seen !== undefined) {
      this.counts.set(value, seen + count);
    } else if (this.counts.size < this.capacity) {
      this.counts.set(value, count);
    } else {
      // Misra–Gries: a new value with the table full takes one from every kept count (and from itself).
      this.overflowed = true;
      for (const [v, c] of this.counts) {
        if (c <= 1) this.counts.delete(v);
        else this.counts.set(v, c - 1);
      }
    }
  }

  /** Mergeable-summaries reduction: subtract the (size+1)-th largest count from every count, keep the positive ones. */
  private reduceTo(size: number): void {
    const sorted = [...this.counts.values()].sort((a, b) => b - a);
    const cut = sorted[size];
    for (const [v, c] of this.counts) {
      if (c <= cut) this.counts.delete(v);
      else this.counts.set(v, c - cut);
    }
    this.overflowed = true;
  }
}
