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
