/**
 * A circuit breaker for calls to a model: after `failureThreshold` consecutive failures it opens and fails fast for
 * `openMs`; then it lets `halfOpenProbes` calls through (half-open). A probe's success closes it, a failure reopens
 * it. Pure: time comes from an injected clock so behaviour is testable without sleeping.
 */
export enum BreakerState {
  CLOSED = 'closed',
  OPEN = 'open',
  HALF_OPEN = 'half_open',
}

/** Options of a `CircuitBreaker`. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. @default 5 */
  readonly failureThreshold?: number;
  /** How long the breaker stays open before probing, ms. @default 5000 */
  readonly openMs?: number;
  /** Calls allowed through at once while half-open. @default 1 */
  readonly halfOpenProbes?: number;
  /** Clock, epoch ms. @default Date.now */
  readonly now?: () => number;
}

export class CircuitBreaker {
  private state = BreakerState.CLOSED;
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probesInFlight = 0;
  private readonly failureThreshold: number;
  private readonly openMs: number;
  private readonly halfOpenProbes: number;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.openMs = options.openMs ?? 5000;
    this.halfOpenProbes = options.halfOpenProbes ?? 1;
    this.now = options.now ?? Date.now;
  }

  /** Current state (moves OPEN → HALF_OPEN when the open period has passed). */
  public get current(): BreakerState {
    if (this.state === BreakerState.OPEN && this.now() - this.openedAt >= this.openMs) {
      this.state = BreakerState.HALF_OPEN;
      this.probesInFlight = 0;
    }
    return this.state;
  }

  /**
   * Asks to make a call. Returns false when the call must not be made (open, or half-open with its probes taken);
   * after true, report the outcome with `onSuccess` or `onFailure`.
   */
  public tryAcquire(): boolean {
    switch (this.current) {
      case BreakerState.CLOSED:
        return true;
      case BreakerState.HALF_OPEN:
        if (this.probesInFlight >= this.halfOpenProbes) return false;
        this.probesInFlight++;
        return true;
      default:
        return false;
    }
  }

  /** Reports a successful call. */
  public onSuccess(): void {
    this.consecutiveFailures = 0;
    if (this.state === BreakerState.HALF_OPEN) {
      this.state = BreakerState.CLOSED;
      this.probesInFlight = 0;
    }
  }

  /** Ends an acquired call whose outcome says nothing about the model's health (frees a half-open probe slot). */
  public onNeutral(): void {
    if (this.state === BreakerState.HALF_OPEN) this.probesInFlight = Math.max(0, this.probesInFlight - 1);
  }

  /** Reports a failed call (error or deadline exceeded). */
  public onFailure(): void {
    this.consecutiveFailures++;
    if (this.state === BreakerState.HALF_OPEN || this.consecutiveFailures >= this.failureThreshold) {
      this.state = BreakerState.OPEN;
      this.openedAt = this.now();
      this.probesInFlight = 0;
    }
  }
}
