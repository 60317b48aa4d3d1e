import { AdmissionController } from '../../runtime/core/admission';
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
  test('sheds batch first, then standard, never critical, as the model reports overload', () => {
    let now = 0;
    const admission = new AdmissionController({ now: () => now });
    for (const tier of ['critical', 'standard', 'batch'] as const) expect(admission.admit(tier).admitted).toBe(true);
    // 1 overloaded answer in 10: batch (5%) is shed, standard (30%) is not.
    for (let i = 0; i < 9; i++) admission.record(false);
    admission.record(true);
    expect(admission.saturation).toBeCloseTo(0.1, 5);
    const shed = admission.admit('batch');
    expect(shed).toMatchObject({ admitted: false, retryAfterSeconds: 1 });
    expect(shed.reason).toMatch(/tier 'batch' is shed first/);
    expect(admission.admit('standard').admitted).toBe(true);
    // Most answers overloaded: standard is shed too, critical still admitted.
    for (let i = 0; i < 20; i++) admission.record(true);
    expect(admission.admit('standard').admitted).toBe(false);
    expect(admission.admit('critical').admitted).toBe(true);
  });

  test('the estimate decays with time, so shed tiers come back when load drops', () => {
    let now = 0;
    const admission = new AdmissionController({ halfLifeMs: 1000, now: () => now });
    for (let i = 0; i < 10; i++) admission.record(true);
    expect(admission.admit('batch').admitted).toBe(false);
    now = 1000;
    admission.record(false);
    // Overload weight halves per half-life while the fresh healthy answer counts in full.
    expect(admission.saturation).toBeCloseTo(5 / 6, 5);
    now = 10_000;
    for (let i = 0; i < 20; i++) admission.record(false);
    expect(admission.saturation).toBeLessThan(0.05);
    expect(admission.admit('batch').admitted).toBe(true);
  });

  test('a concurrency cap gives lower tiers a smaller share of in-flight calls', () => {
    const admission = new AdmissionController({ maxConcurrency: 4 });
    expect(admission.admit('batch').admitted).toBe(true);
    expect(admission.admit('batch').admitted).toBe(true);
    expect(admission.admit('batch')).toMatchObject({ admitted: false, reason: expect.stringMatching(/2 calls in flight; tier 'batch' may use 50% of 4/) });
    expect(admission.admit('standard').admitted).toBe(true);
    expect(admission.admit('standard').admitted).toBe(false);
    expect(admission.admit('critical').admitted).toBe(true);
    expect(admission.admit('critical').admitted).toBe(false);
    admission.release('batch');
    expect(admission.admit('critical').admitted).toBe(true);
    expect(admission.saturation).toBe(0); // a release without a model outcome records nothing
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
