/**
 * The rollout controller: runs `decide` against the world through ports (observe metrics and alarms, change the
 * routing, store the state, notify people). It applies a decision's routing BEFORE it saves the state, so a crash
 * between the two repeats the (idempotent) routing change on the next run rather than losing it; when the next run
 * holds instead, and the ports can read the routing in place (`currentRouting`), it re-applies the state's routing.
 */
import { randomUUID } from 'node:crypto';
import { RoutingLimits } from '../routing';
import { clip, decide, isFinished, rollbackNow, routingOf, sameRouting, startRollout } from './decide';
import { ROLLOUT_CONTROLLER, type Decision, type Observation, type RolloutPlan, type RolloutState, type RoutingDecision } from './types';

/** What the controller needs from the world. */
export interface RolloutPorts {
  /** What the guardrails, the challenger (and champion) and the shadow show now; `atMs` should be `nowMs`. */
  observe(plan: RolloutPlan, state: RolloutState, nowMs: number): Promise<Observation>;
  /**
   * Sets the model's routing. Must be idempotent (a crash may make it run twice) and order its two changes so that
   * the shadow variant never has weight: a shadow turned off before the weights change, a new shadow set after.
   */
  applyRouting(plan: RolloutPlan, routing: RoutingDecision, author: { readonly by: string; readonly reason: string }): Promise<void>;
  /**
   * The model's routing in place (the weights of the plan's variants and the shadow), or undefined when unknown. When
   * given, an evaluation that holds re-applies the state's routing (`routingOf`) if the routing in place differs from
   * it: the repair of a change interrupted between `applyRouting` and `saveState`.
   * @default none (no reconciliation)
   */
  currentRouting?(plan: RolloutPlan): Promise<RoutingDecision | undefined>;
  /** Stores the rollout's state (after any routing change of the same decision). */
  saveState(state: RolloutState): Promise<void>;
  /**
   * Tells people about a decision: every start, every promotion, completion and rollback the controller takes, and
   * every rollback an operator asks for. Called after the state is saved; a rejection rejects the call (the decision stands).
   * @default none (nobody is told)
   */
  notify?(state: RolloutState, decision: Decision): Promise<void>;
  /** The clock, epoch milliseconds. */
  now(): number;
}

/** Starts, evaluates and rolls back rollouts through `RolloutPorts`. */
export class RolloutController {
  constructor(private readonly ports: RolloutPorts) {}

  /**
   * Starts a rollout (shadow phase or first step) and returns its state.
   * @param id the rollout's id @default a random UUID
   */
  async start(plan: RolloutPlan, by: string, id: string = randomUUID()): Promise<RolloutState> {
    const decision = startRollout(plan, by, this.ports.now(), id);
    await this.apply(plan, undefined, decision, by, true);
    return decision.state;
  }

  /**
   * One evaluation: observe, decide, apply (a hold first re-applies the state's routing when `currentRouting` shows
   * another). A finished rollout is neither observed nor changed.
   */
  async evaluate(plan: RolloutPlan, state: RolloutState): Promise<{ state: RolloutState; decision: Decision }> {
    if (isFinished(state)) {
      return { state, decision: { action: 'hold', state, reason: `the rollout is ${state.phase}: nothing to decide` } };
    }
    const observation = await this.ports.observe(plan, state, this.ports.now());
    const decision = decide(plan, state, observation);
    if (decision.action === 'hold') await this.reconcile(plan, decision.state);
    await this.apply(plan, state, decision, ROLLOUT_CONTROLLER, decision.action !== 'hold');
    return { state: decision.state, decision };
  }

  /** The one-command rollback (all traffic to the champion, shadow off); returns the new state. */
  async rollback(plan: RolloutPlan, state: RolloutState, by: string, reason: string): Promise<RolloutState> {
    const decision = rollbackNow(plan, state, by, reason, this.ports.now());
    await this.apply(plan, state, decision, by, decision.action === 'rollback');
    return decision.state;
  }

  /** Re-applies the state's routing when the routing in place (as `currentRouting` reads it) differs; idempotent. */
  private async reconcile(plan: RolloutPlan, state: RolloutState): Promise<void> {
    const current = this.ports.currentRouting && (await this.ports.currentRouting(plan));
    const wanted = routingOf(plan, state);
    if (!current || sameRouting(wanted, current)) return;
    const reason = clip(`rollout ${state.id}: reconcile after an interrupted change (${state.phase}, step ${state.stepIndex + 1})`, RoutingLimits.REASON_CHARS);
    await this.ports.applyRouting(plan, wanted, { by: ROLLOUT_CONTROLLER, reason });
  }

  /** Routing first, then the state (when it changed), then the notification. */
  private async apply(plan: RolloutPlan, previous: RolloutState | undefined, decision: Decision, by: string, tell: boolean): Promise<void> {
    if (decision.routing) {
      await this.ports.applyRouting(plan, decision.routing, { by, reason: clip(`rollout ${decision.state.id}: ${decision.reason}`, RoutingLimits.REASON_CHARS) });
    }
    if (decision.state !== previous) await this.ports.saveState(decision.state);
    if (tell && this.ports.notify) await this.ports.notify(decision.state, decision);
  }
}
