/**
 * A bounded LRU cache whose entries expire after a TTL: the gateway's prediction cache for repeated inputs.
 * Map iteration order is insertion order, so re-inserting on read keeps the least recently used entry first.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(maxEntries >= 1) || !(ttlMs > 0)) throw new Error('TtlCache: maxEntries must be ≥ 1 and ttlMs > 0');
  }

  /** The live value of `key`, or undefined when absent or expired. */
  public get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value`, evicting the least recently used entry when full. */
  public set(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }

  /** Number of entries held (expired ones included until touched or evicted). */
  public get size(): number {
    return this.entries.size;
  }
}
