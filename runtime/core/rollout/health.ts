/**
 * What one observation says about a rollout, before any streak is counted: a verdict on the guardrail alarms and the
 * canary's or the shadow's data (healthy, unhealthy with the breaches — a guardrail alarm in ALARM is one — missing
 * with what is missing).
 * A breach seen in the data that is present wins over data missing elsewhere. Pure TypeScript.
 */
import type { Observation, ResolvedRolloutPlan, ShadowObservation, VariantObservation } from './types';

/** A verdict on one evaluation's data. `pending`: the shadow has data but has not compared enough requests yet. */
export type Verdict =
  | { readonly kind: 'healthy'; readonly reason: string }
  | { readonly kind: 'unhealthy'; readonly reason: string }
  | { readonly kind: 'missing'; readonly reason: string }
  | { readonly kind: 'pending'; readonly reason: string };

/** The plan's guardrail alarms in ALARM, in the plan's order, described as breaches. */
function alarmsFiring(plan: ResolvedRolloutPlan, observation: Observation): string[] {
  const firing = plan.guardrails.alarms.filter((name) => observation.alarms[name] === 'ALARM');
  return firing.length > 0 ? [`guardrail alarm in ALARM: ${firing.join(', ')}`] : [];
}

/** The plan's guardrail alarms whose state is unknown (INSUFFICIENT_DATA or not observed), described. */
function alarmsUnknown(plan: ResolvedRolloutPlan, observation: Observation): string[] {
  return plan.guardrails.alarms.flatMap((name) => {
    const value = observation.alarms[name];
    if (value === 'OK' || value === 'ALARM') return [];
    return [value === 'INSUFFICIENT_DATA' ? `alarm ${name} has insufficient data` : `alarm ${name} was not observed`];
  });
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isAmount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
const percent = (part: number, whole: number) => (100 * part) / whole;
const round = (n: number) => Number(n.toPrecision(4));

/** A variant observation whose counts are consistent (non-negative integers, errors and fallbacks within requests). */
function consistent(v: VariantObservation): boolean {
  return isCount(v.requests) && isCount(v.errors) && isCount(v.fallbacks) && v.errors <= v.requests && v.fallbacks <= v.requests;
}

/** The champion's figure for a reason, when the observation carries a consistent one. */
function championNote(champion: VariantObservation | undefined, figure: (v: VariantObservation) => number | undefined): string {
  if (!champion || !consistent(champion) || champion.requests === 0) return '';
  const value = figure(champion);
  return value === undefined || !Number.isFinite(value) ? '' : ` (champion ${round(value)})`;
}

/** The verdict on a canary evaluation: the challenger's errors, fallbacks, latency and prediction drift. */
export function canaryVerdict(plan: ResolvedRolloutPlan, observation: Observation): Verdict {
  const g = plan.guardrails;
  const breaches = alarmsFiring(plan, observation);
  const missing = alarmsUnknown(plan, observation);
  const c = observation.challenger;
  const champion = observation.champion;
  let served = 0;
  if (!c) {
    missing.push('no challenger metrics');
  } else if (!consistent(c)) {
    missing.push('inconsistent challenger counts');
  } else if (c.requests < g.minRequests) {
    missing.push(`challenger served ${c.requests} requests, fewer than guardrails.minRequests (${g.minRequests})`);
  } else {
    served = c.requests;
    const errors = percent(c.errors, c.requests);
    if (errors > g.maxErrorPercent) {
      const note = championNote(champion, (v) => percent(v.errors, v.requests));
      breaches.push(`challenger errors ${round(errors)} % > ${g.maxErrorPercent} %${note}`);
    }
    const fallbacks = percent(c.fallbacks, c.requests);
    if (fallbacks > g.maxFallbackPercent) {
      const note = championNote(champion, (v) => percent(v.fallbacks, v.requests));
      breaches.push(`challenger fallbacks ${round(fallbacks)} % > ${g.maxFallbackPercent} %${note}`);
    }
    if (!isAmount(c.latencyP99Ms)) {
      missing.push('no challenger p99 latency');
    } else if (c.latencyP99Ms > g.maxLatencyP99Ms) {
      const note = championNote(champion, (v) => v.latencyP99Ms);
      breaches.push(`challenger p99 ${round(c.latencyP99Ms)} ms > ${g.maxLatencyP99Ms} ms${note}`);
    }
  }
  const drift = observation.predictionDrift;
  if (g.maxPredictionDrift !== undefined && drift !== undefined) {
    if (!isAmount(drift)) missing.push('prediction drift is not a number');
    else if (drift > g.maxPredictionDrift) breaches.push(`prediction drift ${round(drift)} > ${g.maxPredictionDrift}`);
  }
  if (breaches.length > 0) return { kind: 'unhealthy', reason: breaches.join(', ') };
  if (missing.length > 0) return { kind: 'missing', reason: missing.join(', ') };
  return { kind: 'healthy', reason: `challenger healthy over ${served} requests` };
}

/** The share of shadow calls that failed, percent, when the observation carries consistent counts of both. */
function shadowFailurePercent(s: ShadowObservation): number | undefined {
  if (!isCount(s.requests) || !isCount(s.failures) || s.requests === 0 || s.failures > s.requests) return undefined;
  return percent(s.failures, s.requests);
}

/** The verdict on a shadow evaluation: healthy means the exit criteria are met. */
export function shadowVerdict(plan: ResolvedRolloutPlan, observation: Observation): Verdict {
  const criteria = plan.shadow!.exitCriteria;
  const breaches = alarmsFiring(plan, observation);
  const missing = alarmsUnknown(plan, observation);
  const s = observation.shadow;
  let pending = false;
  if (!s) {
    missing.push('no shadow comparison');
  } else if (!isCount(s.compared) || s.compared === 0) {
    missing.push('no requests compared');
  } else {
    if (!isAmount(s.divergence)) missing.push('no shadow divergence');
    if (!isAmount(s.latencyP99Ms)) missing.push('no shadow p99 latency');
    if (s.compared < criteria.minComparedRequests) {
      pending = true;
    } else {
      if (isAmount(s.divergence) && s.divergence > criteria.maxDivergence) {
        breaches.push(`shadow divergence ${round(s.divergence)} > ${criteria.maxDivergence}`);
      }
      if (isAmount(s.latencyP99Ms) && s.latencyP99Ms > criteria.maxLatencyP99Ms) {
        breaches.push(`shadow p99 ${round(s.latencyP99Ms)} ms > ${criteria.maxLatencyP99Ms} ms`);
      }
      const failures = shadowFailurePercent(s);
      if (failures !== undefined && failures > criteria.maxFailurePercent) {
        breaches.push(`shadow failures ${round(failures)} % > ${criteria.maxFailurePercent} %`);
      }
    }
  }
  if (breaches.length > 0) return { kind: 'unhealthy', reason: breaches.join(', ') };
  if (missing.length > 0) return { kind: 'missing', reason: missing.join(', ') };
  if (pending) {
    return { kind: 'pending', reason: `${s!.compared} of ${criteria.minComparedRequests} requests compared` };
  }
  return {
    kind: 'healthy',
    reason: `shadow exit criteria met: ${s!.compared} requests compared, divergence ${round(s!.divergence!)}, p99 ${round(s!.latencyP99Ms!)} ms`,
  };
}
