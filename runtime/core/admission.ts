import { PriorityTierName } from './tiers';

/**
 * Tier-aware admission control in front of a model: sheds the lowest tiers first when the model is saturated.
 *
 * Saturation is estimated from what the model tells us: the share of recent calls that came back overloaded
 * (throttled, queue full, deadline exceeded), decayed over time so the estimate recovers when load drops even if
 * the shed tiers send nothing. Each tier has a saturation level above which it is shed (critical by default never),
 * and an optional cap on concurrent calls per process applies the same order to in-flight work.
 * Pure: the clock is injected.
 */

/** Options of `AdmissionController`. */
export interface AdmissionOptions {
  /**
   * Saturation (0–1) at or above which each tier is shed. A tier missing here is never shed by saturation.
   * @default { batch: 0.05, standard: 0.3 }
   */
  readonly shedAt?: Partial<Record<PriorityTierName, number>>;
  /** Half-life of the saturation estimate, ms. @default 2000 */
  readonly halfLifeMs?: number;
  /**
   * Maximum concurrent model calls of this process; lower tiers may use a smaller share of it
   * (`concurrencyShare`). @default - unlimited (a Lambda container runs one request at a time)
   */
  readonly maxConcurrency?: number;
  /** Share (0–1] of `maxConcurrency` each tier may fill. @default { critical: 1, standard: 0.8, batch: 0.5 } */
  readonly concurrencyShare?: Partial<Record<PriorityTierName, number>>;
  /** Retry-After advised to shed callers, seconds. @default 1 */
  readonly retryAfterSeconds?: number;
  /** Clock, epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** An admission decision. */
export interface Admission {
  readonly admitted: boolean;
  /** Why the call was shed. */
  readonly reason?: string;
  /** Seconds the caller should wait before retrying, when shed. */
  readonly retryAfterSeconds?: number;
}

export class AdmissionController {
  private overloadWeight = 0;
  private totalWeight = 0;
  private updatedAt: number;
  private readonly inFlight = new Map<PriorityTierName, number>();
  private readonly shedAt: Partial<Record<PriorityTierName, number>>;
  private readonly concurrencyShare: Record<PriorityTierName, number>;
  private readonly halfLifeMs: number;
  private readonly now: () => number;

  constructor(private readonly options: AdmissionOptions = {}) {
    this.shedAt = options.shedAt ?? { batch: 0.05, standard: 0.3 };
    this.concurrencyShare = { critical: 1, standard: 0.8, batch: 0.5, ...options.concurrencyShare };
    this.halfLifeMs = options.halfLifeMs ?? 2000;
    this.now = options.now ?? Date.now;
    this.updatedAt = this.now();
  }

  /** Current saturation estimate: the decayed share of recent model calls that came back overloaded (0–1). */
  public get saturation(): number {
    this.decay();
    return this.totalWeight < 1e-9 ? 0 : this.overloadWeight / this.totalWeight;
  }

  /** Decides whether a call of `tier` may go to the model now; after an admission, call `release` when it ends. */
  public admit(tier: PriorityTierName): Admission {
    const retryAfterSeconds = this.options.retryAfterSeconds ?? 1;
    const threshold = this.shedAt[tier];
    const saturation = this.saturation;
    if (threshold !== undefined && saturation >= threshold) {
      return { admitted: false, retryAfterSeconds, reason: `model saturated (${(saturation * 100).toFixed(0)}% of recent calls overloaded); tier '${tier}' is shed first` };
    }
    const max = this.options.maxConcurrency;
    if (max !== undefined) {
      const busy = [...this.inFlight.values()].reduce((a, b) => a + b, 0);
      if (busy >= Math.max(1, Math.floor(max * this.concurrencyShare[tier]))) {
        return { admitted: false, retryAfterSeconds, reason: `${busy} calls in flight; tier '${tier}' may use ${Math.round(this.concurrencyShare[tier] * 100)}% of ${max}` };
      }
    }
    this.inFlight.set(tier, (this.inFlight.get(tier) ?? 0) + 1);
    return { admitted: true };
  }

  /**
   * Ends an admitted call. `overloaded` is what the model said (true: saturated or too slow); leave it undefined
   * when the model was not called (cache hit, missing features, open breaker), so the estimate only hears the model.
   */
  public release(tier: PriorityTierName, overloaded?: boolean): void {
    this.inFlight.set(tier, Math.max(0, (this.inFlight.get(tier) ?? 0) - 1));
    if (overloaded !== undefined) this.record(overloaded);
  }

  /** Records one model outcome without an admission (e.g. a probe). */
  public record(overloaded: boolean): void {
    this.decay();
    this.totalWeight += 1;
    if (overloaded) this.overloadWeight += 1;
  }

  private decay(): void {
    const now = this.now();
    const factor = Math.pow(0.5, Math.max(0, now - this.updatedAt) / this.halfLifeMs);
    this.overloadWeight *= factor;
    this.totalWeight *= factor;
    this.updatedAt = now;
  }
}
