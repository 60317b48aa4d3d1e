import { BatchableRequest, Clock, DynamicBatcher } from '../../runtime/core/batcher';
import { PriorityFifo } from '../../runtime/core/priority-queue';

/** A clock the test advances by hand; timers fire in due order. */
class ManualClock implements Clock {
  private time = 0;
  private timers: { at: number; seq: number; callback: () => void }[] = [];
  private seq = 0;

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, seq: this.seq++, callback };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.callback();
    }
    this.time = until;
  }
}

interface Req extends BatchableRequest {
  readonly name: string;
}

function req(name: string, options: Partial<Req> = {}): Req {
  return { name, key: 'k', rows: 1, priority: 2, ...options };
}

function setup(options: { maxBatchSize?: number; maxQueueDelayMs?: number; maxQueueSize?: number; slots?: number } = {}) {
  const clock = new ManualClock();
  const state = { slots: options.slots ?? 1 };
  const batches: string[][] = [];
  const expired: string[] = [];
  const shed: string[] = [];
  const batcher = new DynamicBatcher<Req>({
    maxBatchSize: options.maxBatchSize ?? 4,
    maxQueueDelayMs: options.maxQueueDelayMs ?? 10,
    maxQueueSize: options.maxQueueSize ?? 100,
    levels: 3,
    freeSlots: () => state.slots,
    dispatch: (batch) => {
      state.slots--;
      batches.push(batch.map((r) => r.name));
    },
    expire: (r) => expired.push(r.name),
    shed: (r) => shed.push(r.name),
    clock,
  });
  /** A worker finishes its batch. */
  const free = () => {
    state.slots++;
    batcher.pump();
  };
  return { clock, batcher, batches, expired, shed, free, state };
}

describe('DynamicBatcher', () => {
  test('a lone request with an idle worker is dispatched at once, whatever the queue delay', () => {
    const { batcher, batches, clock, free } = setup({ maxBatchSize: 8, maxQueueDelayMs: 1000 });
    batcher.submit(req('a'));
    expect(batches).toEqual([['a']]);
    clock.advance(1);
    free();
    clock.advance(50);
    batcher.submit(req('b'));
    expect(batches).toEqual([['a'], ['b']]);
  });

  test('while every worker is busy, arrivals accumulate and leave as one batch when a worker frees', () => {
    const { batcher, batches, clock, free } = setup({ maxBatchSize: 8, maxQueueDelayMs: 1000, slots: 1 });
    batcher.submit(req('a'));
    for (const name of ['b', 'c', 'd']) {
      clock.advance(1);
      batcher.submit(req(name));
    }
    expect(batches).toEqual([['a']]);
    clock.advance(10); // arrivals have stopped: nothing more is expected
    free();
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
  });

  test('under a steady arrival rate a free worker waits for the batch to fill (within the queue delay)', () => {
    const { batcher, batches, clock, free } = setup({ maxBatchSize: 4, maxQueueDelayMs: 10, slots: 1 });
    // One request per millisecond; the worker takes 3.5 ms per batch.
    batcher.submit(req('a'));
    let next = 1;
    const arrive = (count: number) => {
      for (let i = 0; i < count; i++) {
        clock.advance(1);
        batcher.submit(req(`r${next++}`));
      }
    };
    arrive(3);
    clock.advance(0.5);
    free();
    expect(batches).toEqual([['a']]); // r1-r3 are held: r4 is due within the queue delay
    arrive(1);
    expect(batches).toEqual([['a'], ['r1', 'r2', 'r3', 'r4']]);
    arrive(3);
    clock.advance(0.5);
    free();
    arrive(1);
    expect(batches).toEqual([['a'], ['r1', 'r2', 'r3', 'r4'], ['r5', 'r6', 'r7', 'r8']]);
  });

  test('once arrivals stop, a held batch leaves without waiting out the delay, and a lone request after it goes at once', () => {
    const { batcher, batches, clock, free } = setup({ maxBatchSize: 8, maxQueueDelayMs: 100, slots: 0 });
    for (const name of ['a', 'b', 'c']) {
      batcher.submit(req(name));
      clock.advance(1);
    }
    free();
    expect(batches).toEqual([]); // held: the next arrival is due within two mean gaps of the last one (t = 4)
    clock.advance(2);
    expect(batches).toEqual([['a', 'b', 'c']]);
    clock.advance(1);
    free();
    batcher.submit(req('lone'));
    expect(batches).toEqual([['a', 'b', 'c'], ['lone']]);
  });

  test('a request that completes a full batch dispatches it at once, without waiting for the queue delay', () => {
    const { batcher, batches, clock, free } = setup({ maxBatchSize: 3, maxQueueDelayMs: 1000, slots: 0 });
    batcher.submit(req('a'));
    clock.advance(1);
    batcher.submit(req('b'));
    free();
    expect(batches).toEqual([]);
    clock.advance(1);
    batcher.submit(req('c'));
    expect(batches).toEqual([['a', 'b', 'c']]);
  });

  test('a held partial batch is dispatched when its oldest request has waited the max queue delay', () => {
    const { batcher, batches, clock, free } = setup({ maxBatchSize: 8, maxQueueDelayMs: 10, slots: 0 });
    batcher.submit(req('a'));
    clock.advance(4);
    batcher.submit(req('b'));
    free(); // one arrival per 4 ms: the next is due by t = 12, past a's delay
    clock.advance(5);
    expect(batches).toEqual([]);
    clock.advance(1);
    expect(batches).toEqual([['a', 'b']]);
  });

  test('with no queue delay, what is queued is dispatched as soon as a slot is free', () => {
    const { batcher, batches, free } = setup({ maxBatchSize: 8, maxQueueDelayMs: 0, slots: 1 });
    batcher.submit(req('a'));
    batcher.submit(req('b'));
    batcher.submit(req('c'));
    expect(batches).toEqual([['a']]);
    free();
    expect(batches).toEqual([['a'], ['b', 'c']]);
  });

  test('requests with different keys (non-batch shapes) never share a batch', () => {
    const { batcher, batches, clock, free } = setup({ maxBatchSize: 4, slots: 0 });
    batcher.submit(req('a1', { key: 'A' }));
    batcher.submit(req('b1', { key: 'B' }));
    batcher.submit(req('a2', { key: 'A' }));
    batcher.submit(req('b2', { key: 'B' }));
    clock.advance(10);
    free();
    free();
    expect(batches).toEqual([['a1', 'a2'], ['b1', 'b2']]);
  });

  test('batches count rows, and a request that does not fit closes the batch', () => {
    const { batcher, batches, clock, free } = setup({ maxBatchSize: 4, maxQueueDelayMs: 1000, slots: 0 });
    batcher.submit(req('three', { rows: 3 }));
    expect(batches).toEqual([]);
    clock.advance(1);
    batcher.submit(req('two', { rows: 2 }));
    free(); // 'three' would be held for the next arrival, but 'two' does not fit with it: it is full
    expect(batches).toEqual([['three']]);
    batcher.submit(req('one', { rows: 1 }));
    batcher.submit(req('another', { rows: 1 }));
    free();
    expect(batches).toEqual([['three'], ['two', 'one', 'another']]);
  });

  test('a request larger than the max batch size runs alone', () => {
    const { batcher, batches } = setup({ maxBatchSize: 4, maxQueueDelayMs: 1000 });
    batcher.submit(req('big', { rows: 9 }));
    expect(batches).toEqual([['big']]);
  });

  test('higher priority levels are served first, oldest first within a level', () => {
    const { batcher, batches, free, state } = setup({ maxBatchSize: 1, maxQueueDelayMs: 0, slots: 0 });
    batcher.submit(req('low-1', { priority: 3 }));
    batcher.submit(req('mid', { priority: 2 }));
    batcher.submit(req('low-2', { priority: 3 }));
    batcher.submit(req('high', { priority: 1 }));
    expect(batches).toEqual([]);
    for (let i = 0; i < 4; i++) free();
    expect(batches).toEqual([['high'], ['mid'], ['low-1'], ['low-2']]);
    expect(state.slots).toBe(0);
  });

  test('a batch fills from the highest priority first', () => {
    const { batcher, batches, free } = setup({ maxBatchSize: 2, maxQueueDelayMs: 0, slots: 0 });
    batcher.submit(req('low', { priority: 3 }));
    batcher.submit(req('mid', { priority: 2 }));
    batcher.submit(req('high', { priority: 1 }));
    free();
    expect(batches).toEqual([['high', 'mid']]);
  });

  test('a deadline that passes while queued answers the request right then, and it is never dispatched', () => {
    const { batcher, batches, expired, clock, free } = setup({ maxBatchSize: 1, maxQueueDelayMs: 0, slots: 0 });
    batcher.submit(req('patient', { queueTimeoutMs: 1000 }));
    batcher.submit(req('hasty', { queueTimeoutMs: 50 }));
    clock.advance(49);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['hasty']);
    expect(batcher.size).toBe(1);
    free();
    free();
    expect(batches).toEqual([['patient']]);
  });

  test('a dispatched request does not expire later', () => {
    const { batcher, expired, clock } = setup({ maxBatchSize: 1, maxQueueDelayMs: 0, slots: 1 });
    batcher.submit(req('a', { queueTimeoutMs: 5 }));
    clock.advance(100);
    expect(expired).toEqual([]);
  });

  test('a full queue refuses requests of the lowest queued priority or below, synchronously', () => {
    const { batcher, shed } = setup({ maxQueueSize: 2, slots: 0 });
    expect(batcher.submit(req('a', { priority: 2 }))).toBe(true);
    expect(batcher.submit(req('b', { priority: 2 }))).toBe(true);
    expect(batcher.canAdmit(2)).toBe(false);
    expect(batcher.canAdmit(3)).toBe(false);
    expect(batcher.submit(req('c', { priority: 2 }))).toBe(false);
    expect(batcher.submit(req('d', { priority: 3 }))).toBe(false);
    expect(batcher.size).toBe(2);
    expect(shed).toEqual([]);
  });

  test('under pressure the lowest level is shed first (its newest request), to admit a higher priority', () => {
    const { batcher, shed, free, batches } = setup({ maxQueueSize: 3, maxBatchSize: 1, maxQueueDelayMs: 0, slots: 0 });
    batcher.submit(req('mid', { priority: 2 }));
    batcher.submit(req('low-old', { priority: 3 }));
    batcher.submit(req('low-new', { priority: 3 }));
    expect(batcher.canAdmit(1)).toBe(true);
    expect(batcher.submit(req('high-1', { priority: 1 }))).toBe(true);
    expect(shed).toEqual(['low-new']);
    expect(batcher.submit(req('high-2', { priority: 1 }))).toBe(true);
    expect(shed).toEqual(['low-new', 'low-old']);
    expect(batcher.submit(req('mid-2', { priority: 2 }))).toBe(false);
    expect(batcher.submit(req('high-3', { priority: 1 }))).toBe(true);
    expect(shed).toEqual(['low-new', 'low-old', 'mid']);
    expect(batcher.submit(req('high-4', { priority: 1 }))).toBe(false);
    for (let i = 0; i < 3; i++) free();
    expect(batches).toEqual([['high-1'], ['high-2'], ['high-3']]);
  });

  test('queue depth per level', () => {
    const { batcher } = setup({ slots: 0 });
    batcher.submit(req('a', { priority: 1 }));
    batcher.submit(req('b', { priority: 3 }));
    batcher.submit(req('c', { priority: 3 }));
    expect([batcher.depth(1), batcher.depth(2), batcher.depth(3)]).toEqual([1, 0, 2]);
    expect(batcher.size).toBe(3);
  });

  test('invalid settings are refused, all at once', () => {
    expect(() => new DynamicBatcher({
      maxBatchSize: 0, maxQueueDelayMs: -1, maxQueueSize: 1.5, levels: 3,
      freeSlots: () => 1, dispatch: () => undefined, expire: () => undefined, shed: () => undefined,
    })).toThrow(/maxBatchSize must be an integer >= 1, got 0; maxQueueDelayMs must be >= 0, got -1; maxQueueSize must be an integer >= 1, got 1.5/);
  });
});

describe('PriorityFifo', () => {
  test('serves level 1 first, FIFO within a level, and removes entries in O(1)', () => {
    const q = new PriorityFifo<string>(3);
    const b = q.push('b', 2, 0);
    q.push('c', 3, 0);
    q.push('a', 1, 0);
    q.push('d', 2, 0);
    expect([...q.entries()].map((e) => e.item)).toEqual(['a', 'b', 'd', 'c']);
    expect(q.remove(b)).toBe(true);
    expect(q.remove(b)).toBe(false);
    expect([...q.entries()].map((e) => e.item)).toEqual(['a', 'd', 'c']);
    expect(q.lowestNonEmptyLevel()).toBe(3);
    expect(q.newest(2)?.item).toBe('d');
    expect(q.size).toBe(3);
  });

  test('refuses levels outside its range', () => {
    expect(() => new PriorityFifo(0)).toThrow(/positive integer/);
    expect(() => new PriorityFifo<string>(3).push('x', 4, 0)).toThrow(/priority level 4 is outside 1..3/);
  });
});
