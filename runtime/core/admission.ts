import { PRIORITY_TIERS, PriorityTierName } from './tiers';

/**
 * Tier-aware admission control in front of a model, for one gateway instance (one Lambda container): sheds the
 * lowest tiers first, before they spend a feature read or a model call, when the model is saturated.
 *
 * The signal is what the model answers this instance's own calls, per tier: answered, or refused (queue full, or
 * expired at the deadline it was given). The model server is the one place that sees the load of every instance,
 * and each answer is a sample of it, so no shared state and no extra round trip are needed on the request path.
 *
 * The rule is adaptive throttling (Google SRE book, "Handling Overload"), per tier: with decayed counts of the
 * tier's requests R (admitted or shed) and of its calls the model answered A, the tier's pressure is
 * `max(0, (R − K·A) / (R + 1))`, the probability with which its requests are shed. A tier is thus let through at about
 * K times the rate the model answers it: a tier the model keeps refusing is shed almost entirely (a few probes go on,
 * and bring it back as soon as they are answered), a tier it serves is never shed.
 *
 * Evidence first: a tier is under pressure only once at least `MIN_UNANSWERED` of its recent requests went unanswered.
 * A container sees a few requests of a tier per second, so without this floor one refused call with no answer in
 * memory put the tier at 0.5 — and every request shed on that count raised it further. Traced in the gateway bench
 * at nominal load: standard shed 17 % (and batch shed entirely, as the tier below) after single timeouts, while the
 * model answered every standard request with admission off.
 *
 * Lowest first: while a tier above is missing answers (at least `MIN_UNANSWERED` of its recent requests, and at least
 * `ABOVE_MISS_SHARE` of them, went unanswered), a tier is shed entirely — the model serves higher priorities first,
 * so its calls could only wait and expire. Not the tier above's pressure: K lets a tier lose a third of its calls
 * with no pressure at all, and calls below it would then still be sent to time out (traced in the gateway bench at
 * 3×: standard lost 23 % of its calls at pressure 0, while 12 % of batch still spent a feature read and a model call). Those sheds say nothing of the tier's own
 * standing and are not counted: its history fades meanwhile, and it probes afresh once the tiers above are served
 * again. Protected tiers (the top one by default) are never shed: they get the model or the fallback, and their
 * pressure sheds every tier below. Pure: the clock and the random source are injected.
 */

/**
 * Least number of a tier's recent requests (decayed counts) gone unanswered — refused by the model, or shed on that
 * count — before the tier is under any pressure. Two: one refusal is noise at a few requests a second per container
 * (a lower tier's call can expire behind a burst of higher ones at a load the model serves); two at once, or
 * three within about a half-life, are not.
 */
export const MIN_UNANSWERED = 2;

/**
 * Share of a tier's recent requests gone unanswered (refused, expired, or shed) from which every tier below it is
 * shed entirely: the model does not keep up with that tier, so calls of lower priority would wait behind it.
 */
export const ABOVE_MISS_SHARE = 0.1;

/** Options of `AdmissionController`. */
export interface AdmissionOptions {
  /** Tiers never shed by admission control. @default - the top tier ('critical') */
  readonly protectedTiers?: readonly PriorityTierName[];
  /**
   * K: model calls let through per call the model answers, per tier, before shedding starts. Above 1 so that a tier
   * the model just starts refusing is not shed at once, and so that a shed tier comes back quickly.
   * @default 1.5
   */
  readonly callsPerAnswer?: number;
  /** Half-life of the per-tier counts, milliseconds: how fast the controller forgets. @default 1000 */
  readonly halfLifeMs?: number;
  /** Retry-After advised to shed callers, seconds. @default 1 */
  readonly retryAfterSeconds?: number;
  /** Clock, epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Uniform random numbers in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** What the model made of one admitted call. */
export enum CallOutcome {
  /** The model answered. */
  ANSWERED = 'answered',
  /** The model refused the call (overloaded) or let it expire at its deadline. */
  REFUSED = 'refused',
}

/** An admission decision. */
export interface Admission {
  readonly admitted: boolean;
}

interface TierCounts {
  requests: number;
  answered: number;
}

export class AdmissionController {
  private readonly counts = new Map<PriorityTierName, TierCounts>(PRIORITY_TIERS.map((t) => [t, { requests: 0, answered: 0 }]));
  private readonly protectedTiers: ReadonlySet<PriorityTierName>;
  private readonly callsPerAnswer: number;
  private readonly halfLifeMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private updatedAt: number;
  /** Retry-After advised to callers the gateway turns away (shed, or refused by the model), seconds. */
  public readonly retryAfterSeconds: number;

  constructor(options: AdmissionOptions = {}) {
    this.protectedTiers = new Set(options.protectedTiers ?? [PRIORITY_TIERS[0]]);
    this.callsPerAnswer = options.callsPerAnswer ?? 1.5;
    this.halfLifeMs = options.halfLifeMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
    if (!(this.callsPerAnswer >= 1)) throw new Error(`AdmissionOptions.callsPerAnswer must be at least 1, got ${options.callsPerAnswer}`);
    if (!(this.halfLifeMs > 0)) throw new Error(`AdmissionOptions.halfLifeMs must be positive, got ${options.halfLifeMs}`);
    this.updatedAt = this.now();
  }

  /** Whether `tier` is protected: never shed here, and answered with the fallback when the model refuses it. */
  public isProtected(tier: PriorityTierName): boolean {
    return this.protectedTiers.has(tier);
  }

  /**
   * Decides whether a request of `tier` may go on to its feature read and model call. When it does, report what the
   * model made of the call with `release`.
   */
  public admit(tier: PriorityTierName): Admission {
    if (this.protectedTiers.has(tier)) return { admitted: true };
    this.decay();
    const pressed = this.abovePressed(tier);
    if (!pressed && this.random() >= this.pressure(tier)) return { admitted: true };
    if (!pressed) this.counts.get(tier)!.requests += 1;
    return { admitted: false };
  }

  /**
   * Ends an admitted request. `outcome`: what the model made of its call; leave it undefined when the model was not
   * called (cache hit, missing features, open breaker) or failed for reasons of its own (an error is the breaker's
   * business), so that the counts only hear the model's answers to load.
   */
  public release(tier: PriorityTierName, outcome?: CallOutcome): void {
    if (outcome === undefined) return;
    this.decay();
    const counts = this.counts.get(tier)!;
    counts.requests += 1;
    if (outcome === CallOutcome.ANSWERED) counts.answered += 1;
  }

  /** Whether a tier above `tier` is missing answers (see the module comment). */
  private abovePressed(tier: PriorityTierName): boolean {
    return PRIORITY_TIERS.slice(0, PRIORITY_TIERS.indexOf(tier)).some((t) => {
      const { requests, answered } = this.counts.get(t)!;
      const unanswered = requests - answered;
      return unanswered >= MIN_UNANSWERED && unanswered >= ABOVE_MISS_SHARE * requests;
    });
  }

  /**
   * How far the model is from answering what `tier` sends: the adaptive-throttling rejection probability, 0 until
   * `MIN_UNANSWERED` of its recent requests went unanswered.
   */
  private pressure(tier: PriorityTierName): number {
    const { requests, answered } = this.counts.get(tier)!;
    if (requests - answered < MIN_UNANSWERED) return 0;
    return Math.max(0, (requests - this.callsPerAnswer * answered) / (requests + 1));
  }

  private decay(): void {
    const now = this.now();
    const factor = Math.pow(0.5, Math.max(0, now - this.updatedAt) / this.halfLifeMs);
    this.updatedAt = now;
    if (factor === 1) return;
    for (const counts of this.counts.values()) {
      counts.requests *= factor;
      counts.answered *= factor;
    }
  }
}
