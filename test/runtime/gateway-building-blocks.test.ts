import { AdmissionController, CallOutcome } from '../../runtime/core/admission';
import { PriorityTierName } from '../../runtime/core/tiers';
import { TtlCache } from '../../runtime/core/ttl-cache';
import { BreakerState, CircuitBreaker } from '../../runtime/core/circuit-breaker';
import { assignVariant, bucketOf } from '../../runtime/core/variant-assignment';

describe('CircuitBreaker', () => {
  test('opens after the threshold of consecutive failures, fails fast, then probes half-open', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, now: () => now });
    breaker.onFailure();
    breaker.onFailure();
    breaker.onSuccess(); // a success resets the count
    breaker.onFailure();
    breaker.onFailure();
    expect(breaker.current).toBe(BreakerState.CLOSED);
    breaker.onFailure();
    expect(breaker.current).toBe(BreakerState.OPEN);
    expect(breaker.tryAcquire()).toBe(false);
    now = 999;
    expect(breaker.tryAcquire()).toBe(false);
    now = 1000;
    expect(breaker.current).toBe(BreakerState.HALF_OPEN);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false); // one probe at a time
    breaker.onFailure(); // the probe failed: open again for a full period
    expect(breaker.current).toBe(BreakerState.OPEN);
    now = 2000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess();
    expect(breaker.current).toBe(BreakerState.CLOSED);
    expect(breaker.tryAcquire()).toBe(true);
  });

  test('a neutral outcome frees the half-open probe without changing the state', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 10, now: () => now });
    breaker.onFailure();
    now = 10;
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    breaker.onNeutral();
    expect(breaker.current).toBe(BreakerState.HALF_OPEN);
    expect(breaker.tryAcquire()).toBe(true);
  });
});

describe('variant assignment', () => {
  const variants = [{ name: 'champion', weight: 90 }, { name: 'challenger', weight: 10 }];

  test('the same stable id always gets the same variant', () => {
    for (let i = 0; i < 1000; i++) {
      expect(assignVariant(`user-${i}`, variants)).toBe(assignVariant(`user-${i}`, [...variants]));
    }
  });

  test('the split matches the weights within ±1% over 100k ids', () => {
    const counts: Record<string, number> = { champion: 0, challenger: 0, third: 0 };
    const three = [{ name: 'champion', weight: 0.5 }, { name: 'challenger', weight: 0.3 }, { name: 'third', weight: 0.2 }];
    for (let i = 0; i < 100_000; i++) counts[assignVariant(`user-${i}`, three)]++;
    expect(Math.abs(counts.champion / 100_000 - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(counts.challenger / 100_000 - 0.3)).toBeLessThan(0.01);
    expect(Math.abs(counts.third / 100_000 - 0.2)).toBeLessThan(0.01);
  });

  test('shifting weight only moves ids inside the shifted slice', () => {
    const before = [{ name: 'champion', weight: 95 }, { name: 'canary', weight: 5 }];
    const after = [{ name: 'champion', weight: 80 }, { name: 'canary', weight: 20 }];
    for (let i = 0; i < 20_000; i++) {
      if (assignVariant(`u${i}`, before) === 'canary') expect(assignVariant(`u${i}`, after)).toBe('canary');
    }
  });

  test('salts decorrelate experiments and zero weights are never chosen', () => {
    expect(bucketOf('user-1', 'exp-a')).not.toBe(bucketOf('user-1', 'exp-b'));
    for (let i = 0; i < 1000; i++) expect(assignVariant(`u${i}`, [{ name: 'off', weight: 0 }, { name: 'on', weight: 1 }])).toBe('on');
    expect(() => assignVariant('u', [{ name: 'off', weight: 0 }])).toThrow(/positive weight/);
  });
});

describe('AdmissionController', () => {
  /** A controller on a fake clock, with a random source the test sets. */
  function controller(options: { halfLifeMs?: number } = {}) {
    const clock = { now: 0, random: 0.5 };
    const admission = new AdmissionController({ ...options, now: () => clock.now, random: () => clock.random });
    /** Whether a request of `tier` is shed when the random draw is `draw` (shed with probability p: draws below p). */
    const shedAt = (tier: PriorityTierName, draw: number) => {
      clock.random = draw;
      return !admission.admit(tier).admitted;
    };
    return { admission, clock, shedAt };
  }

  test('a tier the model keeps refusing is shed almost entirely, a tier it answers never, the top tier never', () => {
    const { admission, shedAt } = controller();
    for (let i = 0; i < 20; i++) {
      admission.release('batch', CallOutcome.REFUSED);
      admission.release('standard', CallOutcome.ANSWERED);
    }
    expect(shedAt('standard', 0)).toBe(false);
    // (R − 1.5·A) / (R + 1) with R = 20 calls, A = 0 answered: 20/21 = 0.952.
    expect(shedAt('batch', 0.95)).toBe(true);
    expect(shedAt('batch', 0.99)).toBe(false); // a probe: the few that go on are how the tier comes back
    // Critical is refused too, yet never shed (it gets the fallback); every tier below it is shed entirely.
    for (let i = 0; i < 20; i++) admission.release('critical', CallOutcome.REFUSED);
    expect(admission.isProtected('critical')).toBe(true);
    expect(shedAt('critical', 0)).toBe(false);
    expect(shedAt('standard', 0.999)).toBe(true);
    expect(admission.retryAfterSeconds).toBe(1);
  });

  test('lowest first: while a tier above is under pressure a tier is shed entirely, without counting against it', () => {
    const { admission, clock, shedAt } = controller();
    // The model answers a third of standard's calls: (39 − 1.5·13) / 40 = 0.49 of standard is shed.
    for (let i = 0; i < 39; i++) admission.release('standard', i % 3 === 0 ? CallOutcome.ANSWERED : CallOutcome.REFUSED);
    // Batch, below it, is shed whatever the random draw: its calls could only wait behind standard's.
    for (let i = 0; i < 50; i++) expect(shedAt('batch', 0.999)).toBe(true);
    // Once standard is answered again (and its misses have faded), batch starts afresh: those 50 sheds were not held
    // against it.
    clock.now = 5000;
    for (let i = 0; i < 40; i++) admission.release('standard', CallOutcome.ANSWERED);
    expect(shedAt('standard', 0)).toBe(false);
    expect(shedAt('batch', 0)).toBe(false);
    expect(shedAt('standard', 0.48)).toBe(false);
  });

  test('shed tiers come back: answered probes and time bring the probability down', () => {
    const { admission, clock, shedAt } = controller({ halfLifeMs: 1000 });
    for (let i = 0; i < 20; i++) admission.release('batch', CallOutcome.REFUSED);
    for (let i = 0; i < 5; i++) admission.release('batch', CallOutcome.ANSWERED);
    // (25 − 1.5·5) / 26 = 0.67: shed at a draw of 0.6, let through at 0.7.
    expect(shedAt('batch', 0.7)).toBe(false);
    expect(shedAt('batch', 0.6)).toBe(true);
    // Ten half-lives later the history is all but forgotten.
    clock.now = 10_000;
    expect(shedAt('batch', 0)).toBe(false);
    // Calls that say nothing about load (no model call, a model error) leave the counts alone.
    admission.release('batch');
    expect(shedAt('batch', 0)).toBe(false);
  });

  test('one refusal is not evidence: a tier that sees a few requests a second is not shed on it, nor are the tiers below', () => {
    // A container sees a few standard requests a second; one of them expires behind a burst of critical calls.
    const { admission, clock, shedAt } = controller({ halfLifeMs: 1000 });
    admission.release('standard', CallOutcome.ANSWERED);
    clock.now = 2000;
    admission.release('standard', CallOutcome.REFUSED);
    for (let i = 0; i < 5; i++) {
      expect(shedAt('standard', 0)).toBe(false);
      expect(shedAt('batch', 0)).toBe(false);
    }
    // Two refusals at once are evidence: the tier and the tiers below are shed.
    const fresh = controller({ halfLifeMs: 1000 });
    fresh.admission.release('standard', CallOutcome.REFUSED);
    fresh.admission.release('standard', CallOutcome.REFUSED);
    expect(fresh.shedAt('standard', 0.6)).toBe(true); // 2 / 3
    expect(fresh.shedAt('batch', 0.999)).toBe(true);
  });

  test('one refusal above does not silence the tiers below', () => {
    const { admission, clock, shedAt } = controller({ halfLifeMs: 1000 });
    admission.release('critical', CallOutcome.REFUSED);
    expect(shedAt('standard', 0.999)).toBe(false);
    admission.release('critical', CallOutcome.REFUSED); // two at once: critical's pressure is 2/3
    expect(shedAt('standard', 0.999)).toBe(true);
    expect(shedAt('batch', 0.999)).toBe(true);
    clock.now = 1000; // one half-life: one unanswered call left in memory
    expect(shedAt('batch', 0.999)).toBe(false);
    admission.release('critical', CallOutcome.REFUSED); // R = 2, A = 0: pressed again
    expect(shedAt('batch', 0.999)).toBe(true);
    admission.release('critical', CallOutcome.ANSWERED);
    admission.release('critical', CallOutcome.ANSWERED); // still 2 of its 4 recent calls unanswered
    expect(shedAt('batch', 0.999)).toBe(true);
    clock.now = 2000; // one more half-life: one unanswered call left in memory
    expect(shedAt('batch', 0.999)).toBe(false);
  });

  test('a tier above that loses a share of its calls sheds the tiers below entirely, even at no pressure of its own', () => {
    const { admission, clock, shedAt } = controller({ halfLifeMs: 1000 });
    // Standard loses 1 call in 4 (they expire in the model's queue): at K = 1.5 its own pressure is 0.
    for (let i = 0; i < 40; i++) admission.release('standard', i % 4 === 0 ? CallOutcome.REFUSED : CallOutcome.ANSWERED);
    expect(shedAt('standard', 0)).toBe(false);
    // Batch would only wait behind standard and expire: it spends no feature read or model call meanwhile.
    for (let i = 0; i < 50; i++) expect(shedAt('batch', 0.999)).toBe(true);
    // A tier above that the model answers all but once in 20 (under ABOVE_MISS_SHARE) leaves the tiers below alone.
    clock.now = 20_000;
    for (let i = 0; i < 40; i++) admission.release('standard', i % 20 === 0 ? CallOutcome.REFUSED : CallOutcome.ANSWERED);
    expect(shedAt('batch', 0)).toBe(false);
  });

  test('settings are checked', () => {
    expect(() => new AdmissionController({ callsPerAnswer: 0.5 })).toThrow(/callsPerAnswer must be at least 1/);
    expect(() => new AdmissionController({ halfLifeMs: 0 })).toThrow(/halfLifeMs must be positive/);
    expect(new AdmissionController({ retryAfterSeconds: 5 }).retryAfterSeconds).toBe(5);
  });
});

describe('TtlCache', () => {
  test('serves within the TTL, expires after it, and evicts the least recently used', () => {
    let now = 0;
    const cache = new TtlCache<number>(2, 100, () => now);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // 'a' is now the most recently used
    cache.set('c', 3); // evicts 'b'
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    now = 99;
    expect(cache.get('c')).toBe(3);
    now = 100;
    expect(cache.get('c')).toBeUndefined();
    expect(() => new TtlCache(0, 1)).toThrow(/maxEntries/);
  });
});
