/**
 * A rollout plan's checks and defaults: `validatePlan` lists every problem (field, what is wrong, the fix);
 * `resolvePlan` fills in the defaults. Pure TypeScript.
 */
import { MAX_TIMER_MS } from '../../contracts/inference-server';
import { modelNameProblems, RoutingLimits } from '../routing';
import { RolloutDefaults, RolloutLimits, type ResolvedRolloutPlan, type RolloutPlan, type RolloutStep } from './types';

/** A plan `validatePlan` found problems in; `problems` lists them all. */
export class RolloutPlanError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid rollout plan: ${problems.join('; ')}`);
    this.name = 'RolloutPlanError';
  }
}

/** Every problem of a plan (possibly from untyped JSON), each naming the field and the fix; empty when it is valid. */
export function validatePlan(plan: RolloutPlan): string[] {
  if (!isObject(plan)) return ['the plan must be an object with model, champion, challenger and guardrails'];
  const problems: string[] = [];
  problems.push(...modelNameProblems(plan.model).map((p) => `model: ${p}`));
  variantProblems('champion', plan.champion, problems);
  variantProblems('challenger', plan.challenger, problems);
  if (typeof plan.champion === 'string' && plan.champion === plan.challenger) {
    problems.push(`challenger is "${plan.challenger}", the same as champion: name the variant being rolled out`);
  }
  const intervalMs = evaluationProblems(plan, problems);
  stepProblems(plan, intervalMs, problems);
  stepLimitProblems(plan, intervalMs, problems);
  guardrailProblems(plan, problems);
  shadowProblems(plan, intervalMs, problems);
  return problems;
}

/** The plan with every default filled in; throws `RolloutPlanError` listing every problem when it is invalid. */
export function resolvePlan(plan: RolloutPlan): ResolvedRolloutPlan {
  const problems = validatePlan(plan);
  if (problems.length > 0) throw new RolloutPlanError(problems);
  const evaluation = {
    intervalMs: plan.evaluation?.intervalMs ?? RolloutDefaults.INTERVAL_MS,
    healthyEvaluations: plan.evaluation?.healthyEvaluations ?? RolloutDefaults.HEALTHY_EVALUATIONS,
    maxMissingEvaluations: plan.evaluation?.maxMissingEvaluations ?? RolloutDefaults.MAX_MISSING_EVALUATIONS,
    unhealthyEvaluations: plan.evaluation?.unhealthyEvaluations ?? RolloutDefaults.UNHEALTHY_EVALUATIONS,
    ...(plan.evaluation?.maxStepMs === undefined ? {} : { maxStepMs: plan.evaluation.maxStepMs }),
  };
  const g = plan.guardrails;
  const guardrails = {
    alarms: [...(g.alarms ?? [])],
    maxErrorPercent: g.maxErrorPercent ?? RolloutDefaults.MAX_ERROR_PERCENT,
    maxFallbackPercent: g.maxFallbackPercent ?? RolloutDefaults.MAX_FALLBACK_PERCENT,
    maxLatencyP99Ms: g.maxLatencyP99Ms,
    minRequests: g.minRequests ?? RolloutDefaults.MIN_REQUESTS,
    ...(g.maxPredictionDrift === undefined ? {} : { maxPredictionDrift: g.maxPredictionDrift }),
  };
  const shadow = plan.shadow && {
    percent: plan.shadow.percent ?? RolloutDefaults.SHADOW_PERCENT,
    exitCriteria: {
      minComparedRequests: plan.shadow.exitCriteria.minComparedRequests ?? RolloutDefaults.SHADOW_MIN_COMPARED_REQUESTS,
      maxDivergence: plan.shadow.exitCriteria.maxDivergence,
      maxLatencyP99Ms: plan.shadow.exitCriteria.maxLatencyP99Ms ?? g.maxLatencyP99Ms,
      maxFailurePercent: plan.shadow.exitCriteria.maxFailurePercent ?? RolloutDefaults.SHADOW_MAX_FAILURE_PERCENT,
      maxDurationMs: plan.shadow.exitCriteria.maxDurationMs ?? RolloutDefaults.SHADOW_MAX_DURATION_MS,
    },
  };
  return {
    model: plan.model,
    champion: plan.champion,
    challenger: plan.challenger,
    ...(shadow ? { shadow } : {}),
    steps: (plan.steps ?? RolloutDefaults.STEPS).map((s) => ({ percent: s.percent, bakeMs: s.bakeMs })),
    evaluation,
    guardrails,
  };
}

/**
 * How long a canary step may last without being promoted before the rollout rolls back, milliseconds:
 * `evaluation.maxStepMs`, or by default the larger of `RolloutDefaults.MAX_STEP_BAKES` × the bake and the bake plus
 * (`healthyEvaluations` + `maxMissingEvaluations`) intervals (room for one full streak of missing data after the bake).
 */
export function stepLimitMs(plan: ResolvedRolloutPlan, step: RolloutStep): number {
  const e = plan.evaluation;
  if (e.maxStepMs !== undefined) return e.maxStepMs;
  return Math.max(RolloutDefaults.MAX_STEP_BAKES * step.bakeMs, step.bakeMs + (e.healthyEvaluations + e.maxMissingEvaluations) * e.intervalMs);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function variantProblems(field: string, name: unknown, problems: string[]): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > RoutingLimits.VARIANT_NAME_CHARS) {
    problems.push(`${field} must be a variant name of 1 to ${RoutingLimits.VARIANT_NAME_CHARS} characters`);
  }
}

/** Checks `value` (when present) is an integer in [min, max]; false when it is not. */
function integerProblem(field: string, value: unknown, min: number, max: number, problems: string[]): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    problems.push(`${field} is ${describe(value)}: set it to an integer from ${min} to ${max}`);
    return false;
  }
  return true;
}

/** Checks `value` (when present, or always when `required`) is a finite number in [min, max]. */
function numberProblem(field: string, value: unknown, min: number, max: number, problems: string[], required = false): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Number.MAX_VALUE ? `a finite number of at least ${min}` : `a number from ${min} to ${max}`;
    problems.push(`${field} is ${describe(value)}: set it to ${range}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === undefined) return 'missing';
  return `a ${value === null ? 'null' : typeof value}`;
}

/** Problems of `evaluation`; returns the interval the bakes are compared with. */
function evaluationProblems(plan: RolloutPlan, problems: string[]): number {
  const e: unknown = plan.evaluation;
  if (e === undefined) return RolloutDefaults.INTERVAL_MS;
  if (!isObject(e)) {
    problems.push('evaluation must be an object (intervalMs, healthyEvaluations, maxMissingEvaluations, unhealthyEvaluations, maxStepMs)');
    return RolloutDefaults.INTERVAL_MS;
  }
  const intervalOk = integerProblem('evaluation.intervalMs', e.intervalMs, 1, MAX_TIMER_MS, problems);
  integerProblem('evaluation.healthyEvaluations', e.healthyEvaluations, 1, RolloutLimits.STREAK, problems);
  integerProblem('evaluation.maxMissingEvaluations', e.maxMissingEvaluations, 1, RolloutLimits.STREAK, problems);
  integerProblem('evaluation.unhealthyEvaluations', e.unhealthyEvaluations, 1, RolloutLimits.STREAK, problems);
  return intervalOk && typeof e.intervalMs === 'number' ? e.intervalMs : RolloutDefaults.INTERVAL_MS;
}

function stepProblems(plan: RolloutPlan, intervalMs: number, problems: string[]): void {
  const steps: unknown = plan.steps;
  if (steps === undefined) {
    if (RolloutDefaults.STEPS.some((s) => s.bakeMs < intervalMs)) {
      problems.push(`steps (the default, baking ${RolloutDefaults.STEPS[0].bakeMs} ms) bake less than evaluation.intervalMs (${intervalMs}): give steps with longer bakes`);
    }
    return;
  }
  if (!Array.isArray(steps) || steps.length === 0 || steps.length > RolloutLimits.STEPS) {
    problems.push(`steps must be a list of 1 to ${RolloutLimits.STEPS} { percent, bakeMs }, the last at 100 percent (or leave it out for 5 → 20 → 50 → 100)`);
    return;
  }
  let previous = 0;
  steps.forEach((step: unknown, i) => {
    const field = `steps[${i}]`;
    if (!isObject(step)) {
      problems.push(`${field} must be an object { percent, bakeMs }`);
      return;
    }
    const { percent, bakeMs } = step;
    if (typeof percent !== 'number' || !Number.isFinite(percent) || percent <= 0 || percent > 100) {
      problems.push(`${field}.percent is ${describe(percent)}: set it to a number greater than 0 and at most 100`);
    } else if (percent <= previous) {
      problems.push(`${field}.percent is ${percent}, not above the step before (${previous}): list percents in increasing order`);
    } else {
      previous = percent;
    }
    if (typeof bakeMs !== 'number' || !Number.isSafeInteger(bakeMs) || bakeMs < intervalMs) {
      problems.push(`${field}.bakeMs is ${describe(bakeMs)}: set it to an integer of at least evaluation.intervalMs (${intervalMs}), so a bake spans an evaluation`);
    }
  });
  const last: unknown = steps[steps.length - 1];
  if (isObject(last) && last.percent !== 100) {
    problems.push(`steps[${steps.length - 1}].percent is ${describe(last.percent)}: the last step must be 100 (the challenger answers all traffic before completion)`);
  }
}

/** `evaluation.maxStepMs` must leave room for the longest bake and then `healthyEvaluations` evaluations. */
function stepLimitProblems(plan: RolloutPlan, intervalMs: number, problems: string[]): void {
  const e: unknown = plan.evaluation;
  if (!isObject(e) || e.maxStepMs === undefined) return;
  const steps: unknown = plan.steps ?? RolloutDefaults.STEPS;
  const bakes = Array.isArray(steps) ? steps.map((s: unknown) => (isObject(s) && Number.isSafeInteger(s.bakeMs) ? Number(s.bakeMs) : 0)) : [];
  const healthy = Number.isInteger(e.healthyEvaluations) && Number(e.healthyEvaluations) >= 1 ? Number(e.healthyEvaluations) : RolloutDefaults.HEALTHY_EVALUATIONS;
  const least = Math.max(0, ...bakes) + healthy * intervalMs;
  const value = e.maxStepMs;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) {
    problems.push(`evaluation.maxStepMs is ${describe(value)}: set it to an integer of at least ${least} (the longest bake plus healthyEvaluations × intervalMs), or leave it out for ${RolloutDefaults.MAX_STEP_BAKES} bakes per step`);
  }
}

function guardrailProblems(plan: RolloutPlan, problems: string[]): void {
  const g: unknown = plan.guardrails;
  if (!isObject(g)) {
    problems.push('guardrails must be an object with at least maxLatencyP99Ms (the challenger\'s latency budget)');
    return;
  }
  const alarms = g.alarms;
  if (alarms !== undefined) {
    if (!Array.isArray(alarms) || alarms.length > RolloutLimits.ALARMS) {
      problems.push(`guardrails.alarms must be a list of at most ${RolloutLimits.ALARMS} alarm names`);
    } else {
      alarms.forEach((name: unknown, i) => {
        if (typeof name !== 'string' || name.length === 0 || name.length > RolloutLimits.ALARM_NAME_CHARS) {
          problems.push(`guardrails.alarms[${i}] must be an alarm name of 1 to ${RolloutLimits.ALARM_NAME_CHARS} characters`);
        } else if (alarms.indexOf(name) !== i) {
          problems.push(`guardrails.alarms[${i}] repeats "${name}": list each alarm once`);
        }
      });
    }
  }
  numberProblem('guardrails.maxErrorPercent', g.maxErrorPercent, 0, 100, problems);
  numberProblem('guardrails.maxFallbackPercent', g.maxFallbackPercent, 0, 100, problems);
  numberProblem('guardrails.maxLatencyP99Ms', g.maxLatencyP99Ms, Number.MIN_VALUE, Number.MAX_VALUE, problems, true);
  numberProblem('guardrails.maxPredictionDrift', g.maxPredictionDrift, 0, Number.MAX_VALUE, problems);
  integerProblem('guardrails.minRequests', g.minRequests, 1, Number.MAX_SAFE_INTEGER, problems);
}

function shadowProblems(plan: RolloutPlan, intervalMs: number, problems: string[]): void {
  const s: unknown = plan.shadow;
  if (s === undefined) return;
  if (!isObject(s) || !isObject(s.exitCriteria)) {
    problems.push('shadow must be an object { percent?, exitCriteria: { maxDivergence, … } } (or leave it out for no shadow phase)');
    return;
  }
  if (s.percent !== undefined && (typeof s.percent !== 'number' || !Number.isFinite(s.percent) || s.percent <= 0 || s.percent > 100)) {
    problems.push(`shadow.percent is ${describe(s.percent)}: set it to a number greater than 0 and at most 100`);
  }
  const c = s.exitCriteria;
  integerProblem('shadow.exitCriteria.minComparedRequests', c.minComparedRequests, 1, Number.MAX_SAFE_INTEGER, problems);
  numberProblem('shadow.exitCriteria.maxDivergence', c.maxDivergence, 0, Number.MAX_VALUE, problems, true);
  numberProblem('shadow.exitCriteria.maxLatencyP99Ms', c.maxLatencyP99Ms, Number.MIN_VALUE, Number.MAX_VALUE, problems);
  numberProblem('shadow.exitCriteria.maxFailurePercent', c.maxFailurePercent, 0, 100, problems);
  integerProblem('shadow.exitCriteria.maxDurationMs', c.maxDurationMs, intervalMs, Number.MAX_SAFE_INTEGER, problems);
}
