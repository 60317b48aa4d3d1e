/**
 * The rollout's decisions, pure: a plan, a state and one observation give the next state, the routing to apply (when
 * it changes) and the reason. Missing data is never a pass (hold, then roll back at `maxMissingEvaluations`); a breach
 * rolls back only when it persists `unhealthyEvaluations` evaluations in a row — a guardrail alarm in ALARM is a
 * breach like any other, so a flapping alarm needs that many readings of ALARM in a row; the shadow phase ends only
 * on its exit criteria (or is aborted at `maxDurationMs`); a step is promoted after its bake and `healthyEvaluations`
 * healthy evaluations in a row, and rolls back when it is not promoted within its limit (`evaluation.maxStepMs`,
 * `stepLimitMs`), so alternating signals cannot hold it forever; an observation clocked before the phase started is
 * missing data; the last step healthy completes; a rollback sends all traffic to the champion and turns the shadow off. */
import { RoutingLimits } from '../routing';
import { canaryVerdict, shadowVerdict, type Verdict } from './health';
import { resolvePlan, stepLimitMs } from './plan';
import {
  ROLLOUT_CONTROLLER,
  RolloutLimits,
  type Decision,
  type Observation,
  type ResolvedRolloutPlan,
  type RolloutAction,
  type RolloutPhase,
  type RolloutPlan,
  type RolloutState,
  type RoutingDecision,
} from './types';

/** Whether the rollout is over (promoted, rolled back or aborted): `decide` never changes a finished state. */
export function isFinished(state: RolloutState): boolean {
  return state.phase === 'promoted' || state.phase === 'rolled-back' || state.phase === 'aborted';
}

/** The routing a state stands for: what the routing table holds once the state's decisions are applied. */
export function routingOf(plan: RolloutPlan, state: RolloutState): RoutingDecision {
  return routingOfResolved(resolvePlan(plan), state);
}

function routingOfResolved(p: ResolvedRolloutPlan, state: RolloutState): RoutingDecision {
  switch (state.phase) {
    case 'shadow':
      return { weights: weights(p, 0), shadow: { variant: p.challenger, percent: p.shadow!.percent } };
    case 'canary':
      return { weights: weights(p, p.steps[state.stepIndex].percent), shadow: null };
    case 'promoted':
      return { weights: weights(p, 100), shadow: null };
    case 'rolled-back':
    case 'aborted':
      return { weights: weights(p, 0), shadow: null };
  }
}

/**
 * Starts a rollout: the shadow phase when the plan has one, else the first canary step.
 * @throws RolloutPlanError listing every problem of an invalid plan; RangeError for an invalid `by` or `id`
 */
export function startRollout(plan: RolloutPlan, by: string, nowMs: number, id: string): Decision {
  const p = resolvePlan(plan);
  throwIfProblems([...textProblems('by', by, RoutingLimits.BY_CHARS), ...textProblems('id', id, RolloutLimits.ID_CHARS), ...clockProblems('nowMs', nowMs)]);
  const phase = p.shadow ? 'shadow' : 'canary';
  const reason = p.shadow
    ? `shadow ${p.challenger} on ${p.shadow.percent} % of ${p.model}'s traffic until its exit criteria are met`
    : `canary ${p.challenger} at ${p.steps[0].percent} % of ${p.model}'s traffic`;
  const initial: RolloutState = {
    id,
    model: p.model,
    phase,
    stepIndex: 0,
    phaseStartedMs: nowMs,
    healthyStreak: 0,
    unhealthyStreak: 0,
    missingStreak: 0,
    startedBy: by,
    history: [],
  };
  const action = phase === 'shadow' ? 'start-shadow' : 'start-canary';
  return transition(p, initial, action, {}, reason, nowMs, by, null);
}

/**
 * The decision on one evaluation. Pure: the same plan, state and observation always give the same decision; a
 * finished state is returned unchanged with `hold`.
 * @throws RolloutPlanError for an invalid plan; RangeError for a state of another model or an observation without a clock
 */
export function decide(plan: RolloutPlan, state: RolloutState, observation: Observation): Decision {
  const p = resolvePlan(plan);
  throwIfProblems([...stateProblems(p, state), ...clockProblems('observation.atMs', observation.atMs)]);
  if (isFinished(state)) return { action: 'hold', state, reason: `the rollout is ${state.phase}: nothing to decide` };
  if (observation.atMs < state.phaseStartedMs) {
    const reason = `observation at ${observation.atMs} ms is before the ${state.phase} phase started (${state.phaseStartedMs} ms): the evaluation's clock must be epoch milliseconds (not seconds) on the clock that started the phase`;
    return count(p, state, { kind: 'missing', reason }, state.phaseStartedMs, '');
  }
  return state.phase === 'shadow' ? decideShadow(p, state, observation) : decideCanary(p, state, observation);
}

/**
 * The one-command rollback: all traffic to the champion, the shadow off, from any phase (a promoted rollout too).
 * A rollout already rolled back or aborted is returned unchanged with `hold`.
 * @throws RolloutPlanError for an invalid plan; RangeError for an invalid `by` or `reason`, or a state of another model
 */
export function rollbackNow(plan: RolloutPlan, state: RolloutState, by: string, reason: string, nowMs: number): Decision {
  const p = resolvePlan(plan);
  throwIfProblems([
    ...stateProblems(p, state),
    ...textProblems('by', by, RoutingLimits.BY_CHARS),
    ...textProblems('reason', reason, RoutingLimits.REASON_CHARS),
    ...clockProblems('nowMs', nowMs),
  ]);
  if (state.phase === 'rolled-back' || state.phase === 'aborted') {
    return { action: 'hold', state, reason: `the rollout is already ${state.phase}` };
  }
  return rollBack(p, state, reason, nowMs, by);
}

function decideShadow(p: ResolvedRolloutPlan, state: RolloutState, observation: Observation): Decision {
  const verdict = shadowVerdict(p, observation);
  const now = observation.atMs;
  if (verdict.kind === 'healthy') {
    return transition(p, state, 'start-canary', { phase: 'canary', stepIndex: 0 }, `${verdict.reason}; canary at ${p.steps[0].percent} %`, now);
  }
  const elapsed = now - state.phaseStartedMs;
  if (elapsed >= p.shadow!.exitCriteria.maxDurationMs) {
    return rollBack(p, state, `shadow ran ${elapsed} ms without meeting its exit criteria (${verdict.reason})`, now, ROLLOUT_CONTROLLER);
  }
  return count(p, state, verdict, now, '');
}

function decideCanary(p: ResolvedRolloutPlan, state: RolloutState, observation: Observation): Decision {
  const verdict = canaryVerdict(p, observation);
  const now = observation.atMs;
  const step = p.steps[state.stepIndex];
  const at = `step ${state.stepIndex + 1} of ${p.steps.length} (${step.percent} %)`;
  const baked = now - state.phaseStartedMs;
  let held: Decision;
  if (verdict.kind === 'healthy') {
    const healthyStreak = state.healthyStreak + 1;
    const needed = p.evaluation.healthyEvaluations;
    if (baked >= step.bakeMs && healthyStreak >= needed) {
      if (state.stepIndex === p.steps.length - 1) {
        return transition(p, state, 'complete', { phase: 'promoted' }, `${at} baked healthy: ${p.challenger} promoted`, now);
      }
      const stepIndex = state.stepIndex + 1;
      return transition(p, state, 'promote', { stepIndex }, `${at} baked healthy: canary at ${p.steps[stepIndex].percent} %`, now);
    }
    const next = { ...state, healthyStreak, unhealthyStreak: 0, missingStreak: 0 };
    held = { action: 'hold', state: next, reason: `${at}: ${verdict.reason}; healthy ${healthyStreak} of ${needed}, baked ${baked} of ${step.bakeMs} ms` };
  } else {
    held = count(p, state, verdict, now, `${at}: `);
  }
  const limit = stepLimitMs(p, step);
  if (held.action !== 'hold' || baked < limit) return held;
  return rollBack(p, state, `${at}: not promoted within ${limit} ms (evaluation.maxStepMs), last: ${held.reason.slice(at.length + 2)}`, now, ROLLOUT_CONTROLLER);
}

/** A verdict short of a transition: extends a streak, and rolls back when it reaches its bound. */
function count(p: ResolvedRolloutPlan, state: RolloutState, verdict: Verdict, now: number, at: string): Decision {
  if (verdict.kind === 'unhealthy') {
    const unhealthyStreak = state.unhealthyStreak + 1;
    const bound = p.evaluation.unhealthyEvaluations;
    const reason = `${at}unhealthy ${unhealthyStreak} of ${bound} in a row: ${verdict.reason}`;
    if (unhealthyStreak >= bound) return rollBack(p, state, reason, now, ROLLOUT_CONTROLLER);
    return { action: 'hold', state: { ...state, healthyStreak: 0, unhealthyStreak, missingStreak: 0 }, reason };
  }
  if (verdict.kind === 'missing') {
    const missingStreak = state.missingStreak + 1;
    const bound = p.evaluation.maxMissingEvaluations;
    const reason = `${at}no data ${missingStreak} of ${bound} in a row: ${verdict.reason}`;
    if (missingStreak >= bound) return rollBack(p, state, reason, now, ROLLOUT_CONTROLLER);
    return { action: 'hold', state: { ...state, healthyStreak: 0, missingStreak }, reason };
  }
  return { action: 'hold', state: { ...state, missingStreak: 0 }, reason: `${at}${verdict.reason}` };
}

function rollBack(p: ResolvedRolloutPlan, state: RolloutState, reason: string, now: number, by: string): Decision {
  const phase: RolloutPhase = state.phase === 'shadow' ? 'aborted' : 'rolled-back';
  const to = `all traffic to ${p.champion}${state.phase === 'shadow' ? ', shadow off' : ''}`;
  return transition(p, state, 'rollback', { phase }, `${reason}; ${to}`, now, by);
}

/**
 * A non-hold decision: the new phase or step (streaks reset, the clock restarted), recorded in the history, with the
 * routing when it differs from `before` (the routing in place; null when none is yet).
 */
function transition(
  p: ResolvedRolloutPlan,
  state: RolloutState,
  action: RolloutAction,
  change: { phase?: RolloutPhase; stepIndex?: number },
  reason: string,
  now: number,
  by = ROLLOUT_CONTROLLER,
  before: RoutingDecision | null = routingOfResolved(p, state),
): Decision {
  const moved: RolloutState = { ...state, ...change, phaseStartedMs: now, healthyStreak: 0, unhealthyStreak: 0, missingStreak: 0 };
  const clipped = clip(reason, RoutingLimits.REASON_CHARS);
  const after = routingOfResolved(p, moved);
  const routing = before && sameRouting(before, after) ? undefined : after;
  const event = { atMs: now, action, reason: clipped, ...(routing ? { weights: routing.weights } : {}), by };
  const next = { ...moved, history: [...state.history, event].slice(-RolloutLimits.HISTORY_ENTRIES) };
  return { action, state: next, ...(routing ? { routing } : {}), reason: clipped };
}

function weights(p: ResolvedRolloutPlan, challengerPercent: number): Record<string, number> {
  return { [p.champion]: 100 - challengerPercent, [p.challenger]: challengerPercent };
}

/** Whether `b` routes the variants of `a` (its weights' keys) and the shadow as `a` does. */
export function sameRouting(a: RoutingDecision, b: RoutingDecision): boolean {
  const sameWeights = Object.keys(a.weights).every((k) => a.weights[k] === b.weights[k]);
  const sameShadow = a.shadow === b.shadow || (a.shadow !== null && b.shadow !== null && a.shadow.variant === b.shadow.variant && a.shadow.percent === b.shadow.percent);
  return sameWeights && sameShadow;
}

/** `text` cut to `max` characters (with an ellipsis), never between the two halves of a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

function textProblems(field: string, value: unknown, max: number): string[] {
  if (typeof value === 'string' && value.trim().length > 0 && value.length <= max) return [];
  return [`${field} must be a non-blank string of at most ${max} characters`];
}

function clockProblems(field: string, value: unknown): string[] {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? [] : [`${field} must be epoch milliseconds (a non-negative integer)`];
}

function stateProblems(p: ResolvedRolloutPlan, state: RolloutState): string[] {
  if (state.model !== p.model) return [`the state is of model ${state.model}, the plan of ${p.model}: pass the plan the rollout was started with`];
  if (!Number.isInteger(state.stepIndex) || state.stepIndex < 0 || state.stepIndex >= p.steps.length) {
    return [`state.stepIndex ${state.stepIndex} is outside the plan's ${p.steps.length} steps: pass the plan the rollout was started with`];
  }
  if (state.phase === 'shadow' && !p.shadow) return ['the state is in the shadow phase but the plan has no shadow: pass the plan the rollout was started with'];
  return [];
}

function throwIfProblems(problems: readonly string[]): void {
  if (problems.length > 0) throw new RangeError(problems.join('; '));
}
