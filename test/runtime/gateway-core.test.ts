import { AdmissionController, CallOutcome } from '../../runtime/core/admission';
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
    return { admission, clock };
  }

  test('a tier the model keeps refusing is shed almost entirely, a tier it answers never, the top tier never', () => {
    const { admission, clock } = controller();
    for (let i = 0; i < 20; i++) {
      admission.release('batch', CallOutcome.REFUSED);
      admission.release('standard', CallOutcome.ANSWERED);
    }
    expect(admission.shedProbability('standard')).toBe(0);
    // (R − 1.5·A) / (R + 1) with R = 20 calls, A = 0 answered: 20/21.
    expect(admission.shedProbability('batch')).toBeCloseTo(20 / 21, 5);
    clock.random = 0.9;
    expect(admission.admit('batch')).toEqual({ admitted: false, retryAfterSeconds: 1 });
    clock.random = 0.99; // a probe: the few that go on are how the tier comes back
    expect(admission.admit('batch')).toEqual({ admitted: true });
    // Critical is refused too, yet never shed (it gets the fallback); every tier below it is shed entirely.
    for (let i = 0; i < 20; i++) admission.release('critical', CallOutcome.REFUSED);
    expect(admission.isProtected('critical')).toBe(true);
    clock.random = 0;
    expect(admission.admit('critical').admitted).toBe(true);
    expect(admission.shedProbability('standard')).toBe(1);
  });

  test('lowest first: while a tier above is under pressure a tier is shed entirely, without counting against it', () => {
    const { admission, clock } = controller();
    // The model answers a third of standard's calls: standard is let through at about 1.5 × what it answers.
    for (let i = 0; i < 39; i++) admission.release('standard', i % 3 === 0 ? CallOutcome.ANSWERED : CallOutcome.REFUSED);
    expect(admission.shedProbability('standard')).toBeCloseTo((39 - 1.5 * 13) / 40, 5);
    expect(admission.shedProbability('critical')).toBe(0);
    // Batch, below it, is shed whatever the random draw: its calls could only wait behind standard's.
    expect(admission.shedProbability('batch')).toBe(1);
    clock.random = 0.999;
    for (let i = 0; i < 50; i++) expect(admission.admit('batch').admitted).toBe(false);
    // Once standard is answered again, batch starts afresh: those 50 sheds were not held against it.
    for (let i = 0; i < 40; i++) admission.release('standard', CallOutcome.ANSWERED);
    expect(admission.shedProbability('standard')).toBe(0);
    expect(admission.shedProbability('batch')).toBe(0);
    expect(admission.admit('batch').admitted).toBe(true);
  });

  test('shed tiers come back: answered probes and time bring the probability down', () => {
    const { admission, clock } = controller({ halfLifeMs: 1000 });
    for (let i = 0; i < 20; i++) admission.release('batch', CallOutcome.REFUSED);
    expect(admission.shedProbability('batch')).toBeCloseTo(20 / 21, 5);
    for (let i = 0; i < 5; i++) admission.release('batch', CallOutcome.ANSWERED);
    expect(admission.shedProbability('batch')).toBeCloseTo((25 - 1.5 * 5) / 26, 5);
    // Ten half-lives later the history is all but forgotten.
    clock.now = 10_000;
    expect(admission.shedProbability('batch')).toBeLessThan(0.05);
    // Calls that say nothing about load (no model call, a model error) leave the counts alone.
    admission.release('batch');
    expect(admission.shedProbability('batch')).toBeLessThan(0.05);
  });

  test('one refusal above does not silence the tiers below for long', () => {
    const { admission, clock } = controller({ halfLifeMs: 1000 });
    admission.release('critical', CallOutcome.REFUSED); // pressure 1/2
    expect(admission.shedProbability('standard')).toBe(1);
    clock.now = 1500; // R = 2^-1.5: pressure 0.26
    expect(admission.shedProbability('standard')).toBe(1);
    clock.now = 1700; // pressure 0.23
    expect(admission.shedProbability('standard')).toBe(0);
    admission.release('critical', CallOutcome.REFUSED);
    expect(admission.shedProbability('batch')).toBe(1);
    admission.release('critical', CallOutcome.ANSWERED); // (R − 1.5 A) / (R + 1) < 0.25 with one answer
    expect(admission.shedProbability('batch')).toBe(0);
  });

  test('settings are checked', () => {
    expect(() => new AdmissionController({ callsPerAnswer: 0.5 })).toThrow(/callsPerAnswer must be at least 1/);
    expect(() => new AdmissionController({ halfLifeMs: 0 })).toThrow(/halfLifeMs must be positive/);
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
