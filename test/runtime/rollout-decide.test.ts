/**
 * The rollout's pure decisions (runtime/core/rollout): table-driven over phases and observations — the healthy path
 * through every step to completion, missing data (hold, then roll back at the bound; below minRequests counts as
 * missing), flapping (one unhealthy datapoint or one alarm reading of ALARM holds, consecutive ones roll back), a
 * breach in the last step rolling back instead of completing, the shadow's exit criteria and timeout, the one-command rollback, plan validation; and a property check over seeded random
 * observation sequences (weights sum to 100, the challenger's weight is a step percent or 0, the routing applied
 * always matches the state, a finished state never changes).
 */
import {
  decide,
  isFinished,
  Observation,
  resolvePlan,
  ROLLOUT_CONTROLLER,
  rollbackNow,
  RolloutDefaults,
  RolloutLimits,
  RolloutPlan,
  RolloutPlanError,
  RolloutState,
  routingOf,
  RoutingDecision,
  startRollout,
  stepLimitMs,
  validatePlan,
} from '../../runtime/core/rollout';
import { seededRandom } from '../../runtime/core/random';

const GUARDRAIL = 'churn-guardrail';
const BUSINESS = 'checkout-conversion';
const BAKE = 1000;

const plan: RolloutPlan = {
  model: 'churn',
  champion: 'blue',
  challenger: 'green',
  steps: [5, 20, 50, 100].map((percent) => ({ percent, bakeMs: BAKE })),
  evaluation: { intervalMs: 100 },
  guardrails: { alarms: [GUARDRAIL, BUSINESS], maxLatencyP99Ms: 200, maxPredictionDrift: 0.2 },
};
const shadowPlan: RolloutPlan = {
  ...plan,
  shadow: { percent: 50, exitCriteria: { minComparedRequests: 500, maxDivergence: 0.05, maxDurationMs: 5000 } },
};

const OK = { [GUARDRAIL]: 'OK', [BUSINESS]: 'OK' } as const;
const champion = { requests: 9000, errors: 9, fallbacks: 18, latencyP99Ms: 70 };

/** Observations by kind, at a time. */
const observations = {
  healthy: (atMs: number): Observation => ({ atMs, alarms: OK, champion, challenger: { requests: 1000, errors: 2, fallbacks: 5, latencyP99Ms: 80 } }),
  errors: (atMs: number): Observation => ({ atMs, alarms: OK, champion, challenger: { requests: 1000, errors: 50, fallbacks: 5, latencyP99Ms: 80 } }),
  fallbacks: (atMs: number): Observation => ({ atMs, alarms: OK, challenger: { requests: 1000, errors: 0, fallbacks: 80, latencyP99Ms: 80 } }),
  slow: (atMs: number): Observation => ({ atMs, alarms: OK, champion, challenger: { requests: 1000, errors: 0, fallbacks: 0, latencyP99Ms: 450 } }),
  drifted: (atMs: number): Observation => ({ ...observations.healthy(atMs), predictionDrift: 0.5 }),
  missing: (atMs: number): Observation => ({ atMs, alarms: OK }),
  fewRequests: (atMs: number): Observation => ({ atMs, alarms: OK, challenger: { requests: 99, errors: 0, fallbacks: 0, latencyP99Ms: 80 } }),
  noLatency: (atMs: number): Observation => ({ atMs, alarms: OK, challenger: { requests: 1000, errors: 0, fallbacks: 0 } }),
  inconsistent: (atMs: number): Observation => ({ atMs, alarms: OK, challenger: { requests: 10, errors: 500, fallbacks: Number.NaN, latencyP99Ms: 80 } }),
  alarmUnknown: (atMs: number): Observation => ({ ...observations.healthy(atMs), alarms: { [GUARDRAIL]: 'OK', [BUSINESS]: 'INSUFFICIENT_DATA' } }),
  alarmNotObserved: (atMs: number): Observation => ({ ...observations.healthy(atMs), alarms: { [GUARDRAIL]: 'OK' } }),
  guardrailAlarm: (atMs: number): Observation => ({ ...observations.healthy(atMs), alarms: { ...OK, [GUARDRAIL]: 'ALARM' } }),
  businessAlarm: (atMs: number): Observation => ({ atMs, alarms: { ...OK, [BUSINESS]: 'ALARM' } }),
  shadowMet: (atMs: number): Observation => ({ atMs, alarms: OK, shadow: { compared: 600, divergence: 0.01, latencyP99Ms: 90 } }),
  shadowFew: (atMs: number): Observation => ({ atMs, alarms: OK, shadow: { compared: 100, divergence: 0.01, latencyP99Ms: 90 } }),
  shadowDivergent: (atMs: number): Observation => ({ atMs, alarms: OK, shadow: { compared: 600, divergence: 0.3, latencyP99Ms: 90 } }),
  shadowSlow: (atMs: number): Observation => ({ atMs, alarms: OK, shadow: { compared: 600, divergence: 0.01, latencyP99Ms: 250 } }),
  shadowFailing: (atMs: number): Observation => ({ atMs, alarms: OK, shadow: { compared: 600, divergence: 0.01, latencyP99Ms: 90, requests: 700, failures: 100 } }),
  shadowFewFailures: (atMs: number): Observation => ({ atMs, alarms: OK, shadow: { compared: 600, divergence: 0.01, latencyP99Ms: 90, requests: 1000, failures: 10 } }),
  shadowNone: (atMs: number): Observation => ({ atMs, alarms: OK, shadow: { compared: 0 } }),
} satisfies Record<string, (atMs: number) => Observation>;
type Kind = keyof typeof observations;
const KINDS = Object.keys(observations) as Kind[];

/** Feeds `kinds`, one every `everyMs` after `from`'s phase started, and returns every decision. */
function run(p: RolloutPlan, from: RolloutState, kinds: readonly Kind[], everyMs = 100) {
  let state = from;
  let atMs = from.phaseStartedMs;
  return kinds.map((kind) => {
    atMs += everyMs;
    const decision = decide(p, state, observations[kind](atMs));
    state = decision.state;
    return decision;
  });
}
const last = <T>(items: readonly T[]): T => items[items.length - 1];
const actions = (decisions: readonly { action: string }[]) => decisions.map((d) => d.action);

/** A state at canary step `stepIndex`, its bake started at 0. */
function canaryAt(stepIndex: number, p: RolloutPlan = plan): RolloutState {
  return { ...startRollout({ ...p, shadow: undefined }, 'ana', 0, 'r1').state, stepIndex };
}
const shadowState = () => startRollout(shadowPlan, 'ana', 0, 'r1').state;
const CHAMPION_ONLY: RoutingDecision = { weights: { blue: 100, green: 0 }, shadow: null };

describe('startRollout', () => {
  test('without a shadow: the first canary step', () => {
    const d = startRollout(plan, 'ana', 1000, 'r1');
    expect(d.action).toBe('start-canary');
    expect(d.routing).toEqual({ weights: { blue: 95, green: 5 }, shadow: null });
    expect(d.state).toMatchObject({ id: 'r1', model: 'churn', phase: 'canary', stepIndex: 0, phaseStartedMs: 1000, startedBy: 'ana' });
    expect(d.state.history).toEqual([{ atMs: 1000, action: 'start-canary', reason: d.reason, weights: { blue: 95, green: 5 }, by: 'ana' }]);
  });

  test('with a shadow: the champion answers everything, the challenger gets a copy', () => {
    const d = startRollout(shadowPlan, 'ana', 1000, 'r1');
    expect(d.action).toBe('start-shadow');
    expect(d.state.phase).toBe('shadow');
    expect(d.routing).toEqual({ weights: { blue: 100, green: 0 }, shadow: { variant: 'green', percent: 50 } });
  });

  test('defaults: 5 → 20 → 50 → 100, shadow of 100 %', () => {
    const resolved = resolvePlan({ model: 'm', champion: 'a', challenger: 'b', guardrails: { maxLatencyP99Ms: 100 }, shadow: { exitCriteria: { maxDivergence: 0.1 } } });
    expect(resolved.steps.map((s) => s.percent)).toEqual([5, 20, 50, 100]);
    expect(resolved.evaluation).toEqual({ intervalMs: 60_000, healthyEvaluations: 2, maxMissingEvaluations: 3, unhealthyEvaluations: 2 });
    expect(resolved.shadow).toEqual({ percent: 100, exitCriteria: { minComparedRequests: 1000, maxDivergence: 0.1, maxLatencyP99Ms: 100, maxFailurePercent: 1, maxDurationMs: 86_400_000 } });
    expect(resolved.guardrails).toEqual({ alarms: [], maxErrorPercent: 1, maxFallbackPercent: 5, maxLatencyP99Ms: 100, minRequests: 100 });
  });

  test.each([
    ['a blank author', '  ', 'r1', /by must be a non-blank string/],
    ['an author too long', 'x'.repeat(129), 'r1', /by must be .* at most 128/],
    ['an empty id', 'ana', '', /id must be a non-blank string/],
  ])('refuses %s', (_, by, id, message) => {
    expect(() => startRollout(plan, by, 0, id)).toThrow(message);
  });

  test('refuses an invalid plan, listing every problem', () => {
    expect(() => startRollout({ ...plan, champion: 'green' }, 'ana', 0, 'r1')).toThrow(RolloutPlanError);
  });
});

describe('decide: canary', () => {
  test('the healthy path goes through every step to completion', () => {
    const start = startRollout(plan, 'ana', 0, 'r1');
    const decisions = run(plan, start.state, Array(20).fill('healthy'), 500);
    // Each step: a hold (1 healthy, half baked), then a promotion (2 healthy, baked).
    expect(actions(decisions).slice(0, 8)).toEqual(['hold', 'promote', 'hold', 'promote', 'hold', 'promote', 'hold', 'complete']);
    expect(decisions.filter((d) => d.routing).map((d) => d.routing!.weights.green)).toEqual([20, 50, 100]);
    const done = decisions[7].state;
    expect(done).toMatchObject({ phase: 'promoted', stepIndex: 3 });
    expect(routingOf(plan, done)).toEqual({ weights: { blue: 0, green: 100 }, shadow: null });
    expect(done.history.map((e) => [e.action, e.by, e.weights?.green])).toEqual([
      ['start-canary', 'ana', 5], ['promote', ROLLOUT_CONTROLLER, 20], ['promote', ROLLOUT_CONTROLLER, 50],
      ['promote', ROLLOUT_CONTROLLER, 100], ['complete', ROLLOUT_CONTROLLER, undefined],
    ]);
    expect(actions(decisions.slice(8)).every((a) => a === 'hold')).toBe(true);
    expect(last(decisions).state).toBe(done);
  });

  test('healthy evaluations before the bake is over wait for the bake', () => {
    const decisions = run(plan, canaryAt(0), Array(10).fill('healthy'), 100);
    expect(actions(decisions)).toEqual([...Array(9).fill('hold'), 'promote']);
    expect(decisions[8].reason).toMatch(/healthy 9 of 2, baked 900 of 1000 ms/);
  });

  test('after the bake, healthyEvaluations healthy evaluations in a row are needed', () => {
    const decisions = run({ ...plan, evaluation: { intervalMs: 100, healthyEvaluations: 3, maxStepMs: 10_000 } }, canaryAt(1), ['healthy', 'missing', 'healthy', 'healthy', 'healthy'], 1000);
    expect(actions(decisions)).toEqual(['hold', 'hold', 'hold', 'hold', 'promote']);
  });

  test.each<[string, Kind[], string[], RegExp]>([
    ['missing data holds, then rolls back at maxMissingEvaluations', ['missing', 'missing', 'missing'], ['hold', 'hold', 'rollback'], /no data 3 of 3 in a row: no challenger metrics/],
    ['below minRequests counts as missing', ['fewRequests', 'fewRequests', 'fewRequests'], ['hold', 'hold', 'rollback'], /99 requests, fewer than guardrails.minRequests \(100\)/],
    ['no p99 latency counts as missing', ['noLatency', 'noLatency', 'noLatency'], ['hold', 'hold', 'rollback'], /no challenger p99 latency/],
    ['inconsistent counts count as missing', ['inconsistent', 'inconsistent', 'inconsistent'], ['hold', 'hold', 'rollback'], /inconsistent challenger counts/],
    ['an alarm with insufficient data counts as missing', ['alarmUnknown', 'alarmUnknown', 'alarmUnknown'], ['hold', 'hold', 'rollback'], /alarm checkout-conversion has insufficient data/],
    ['an alarm not observed counts as missing', ['alarmNotObserved', 'alarmNotObserved', 'alarmNotObserved'], ['hold', 'hold', 'rollback'], /alarm checkout-conversion was not observed/],
    ['kinds of missing data add up', ['missing', 'fewRequests', 'alarmUnknown'], ['hold', 'hold', 'rollback'], /no data 3 of 3/],
    ['a healthy evaluation resets the missing streak', ['missing', 'missing', 'healthy', 'missing', 'missing'], ['hold', 'hold', 'hold', 'hold', 'hold'], /no data 2 of 3/],
    ['an unhealthy evaluation resets the missing streak', ['missing', 'missing', 'errors', 'missing'], ['hold', 'hold', 'hold', 'hold'], /no data 1 of 3/],
    ['one flapping unhealthy datapoint does not roll back', ['errors', 'healthy', 'errors', 'healthy', 'slow', 'healthy'], Array(6).fill('hold'), /healthy 1 of 2/],
    ['two unhealthy in a row roll back (errors)', ['healthy', 'errors', 'errors'], ['hold', 'hold', 'rollback'], /unhealthy 2 of 2 in a row: challenger errors 5 % > 1 % \(champion 0.1\)/],
    ['two unhealthy in a row roll back (fallbacks)', ['fallbacks', 'fallbacks'], ['hold', 'rollback'], /challenger fallbacks 8 % > 5 %/],
    ['two unhealthy in a row roll back (latency)', ['slow', 'slow'], ['hold', 'rollback'], /challenger p99 450 ms > 200 ms \(champion 70\)/],
    ['two unhealthy in a row roll back (prediction drift)', ['drifted', 'drifted'], ['hold', 'rollback'], /prediction drift 0.5 > 0.2/],
    ['different breaches in a row add up', ['errors', 'slow'], ['hold', 'rollback'], /unhealthy 2 of 2/],
    ['missing data between two breaches neither breaks nor extends the streak', ['errors', 'missing', 'errors'], ['hold', 'hold', 'rollback'], /unhealthy 2 of 2/],
    ['a guardrail alarm in ALARM once (flapping) holds', ['healthy', 'guardrailAlarm', 'healthy', 'guardrailAlarm', 'healthy'], Array(5).fill('hold'), /healthy 1 of 2/],
    ['a guardrail alarm in ALARM twice in a row rolls back', ['healthy', 'guardrailAlarm', 'guardrailAlarm'], ['hold', 'hold', 'rollback'], /unhealthy 2 of 2 in a row: guardrail alarm in ALARM: churn-guardrail/],
    ['a business alarm in ALARM twice in a row rolls back, with no other data', ['businessAlarm', 'businessAlarm'], ['hold', 'rollback'], /unhealthy 2 of 2 in a row: guardrail alarm in ALARM: checkout-conversion/],
    ['an alarm in ALARM and a breach in a row add up', ['errors', 'guardrailAlarm'], ['hold', 'rollback'], /unhealthy 2 of 2/],
  ])('%s', (_, kinds, expected, reason) => {
    for (const stepIndex of [0, 1, 2, 3]) {
      const decisions = run(plan, canaryAt(stepIndex), kinds);
      expect(actions(decisions)).toEqual(expected);
      expect(last(decisions).reason).toMatch(reason);
      if (last(expected) === 'rollback') {
        expect(last(decisions).state).toMatchObject({ phase: 'rolled-back', stepIndex });
        expect(last(decisions).routing).toEqual(CHAMPION_ONLY);
      }
    }
  });

  test('a breach seen in the data present wins over data missing elsewhere', () => {
    const observation = { ...observations.errors(100), alarms: { [GUARDRAIL]: 'INSUFFICIENT_DATA' as const } };
    expect(decide(plan, canaryAt(0), observation).state.unhealthyStreak).toBe(1);
  });

  test('prediction drift is checked only when observed and when the plan bounds it', () => {
    expect(decide(plan, canaryAt(0), observations.healthy(100)).state.healthyStreak).toBe(1);
    const unbounded = { ...plan, guardrails: { ...plan.guardrails, maxPredictionDrift: undefined } };
    expect(decide(unbounded, canaryAt(0), observations.drifted(100)).state.healthyStreak).toBe(1);
  });

  test.each<[string, Kind[]]>([
    ['unhealthy and healthy', ['errors', 'healthy']],
    ['missing and healthy', ['missing', 'healthy']],
    ['flapping alarm and healthy', ['guardrailAlarm', 'healthy']],
  ])('alternating %s evaluations roll back at the step limit (3 bakes by default) instead of holding forever', (_, pair) => {
    for (const stepIndex of [0, 3]) {
      const decisions = run(plan, canaryAt(stepIndex), Array.from({ length: 40 }, (__, i) => pair[i % 2]));
      const rollback = actions(decisions).indexOf('rollback');
      expect(rollback).toBe(3 * BAKE / 100 - 1); // the evaluation at 3 × bake
      expect(actions(decisions).slice(0, rollback).every((a) => a === 'hold')).toBe(true);
      expect(decisions[rollback].reason).toMatch(new RegExp(`^step ${stepIndex + 1} of 4 \\(\\d+ %\\): not promoted within 3000 ms \\(evaluation.maxStepMs\\), last: `));
      expect(decisions[rollback].state.phase).toBe('rolled-back');
      expect(decisions[rollback].routing).toEqual(CHAMPION_ONLY);
    }
  });

  test('evaluation.maxStepMs overrides the step limit; the default leaves room for the bake, the healthy streak and a missing streak', () => {
    const limited = { ...plan, evaluation: { intervalMs: 100, maxStepMs: 1500 } };
    const decisions = run(limited, canaryAt(0), Array.from({ length: 20 }, (_, i) => (i % 2 ? 'healthy' : 'errors')));
    expect(actions(decisions).indexOf('rollback')).toBe(14);
    expect(decisions[14].reason).toMatch(/not promoted within 1500 ms/);
    const long = { ...plan, steps: [{ percent: 100, bakeMs: 100 }], evaluation: { intervalMs: 100, healthyEvaluations: 4, maxMissingEvaluations: 5 } };
    expect(stepLimitMs(resolvePlan(long), { percent: 100, bakeMs: 100 })).toBe(100 + 9 * 100);
    expect(stepLimitMs(resolvePlan(plan), { percent: 5, bakeMs: BAKE })).toBe(3 * BAKE);
  });

  test('a healthy step ready to promote past its limit (a late evaluation) is promoted', () => {
    const decisions = run(plan, canaryAt(0), ['healthy', 'healthy'], 2 * BAKE);
    expect(actions(decisions)).toEqual(['hold', 'promote']);
  });

  test('an observation clocked before the phase started (seconds, skew) is missing data, not a frozen bake', () => {
    const started = { ...canaryAt(0), phaseStartedMs: 1_700_000_000_000 };
    const inSeconds = [1, 2, 3].map((i) => observations.healthy(1_700_000_000 + i));
    let state = started;
    const seen = inSeconds.map((o) => {
      const d = decide(plan, state, o);
      state = d.state;
      return d;
    });
    expect(actions(seen)).toEqual(['hold', 'hold', 'rollback']);
    expect(seen[0].reason).toMatch(/^no data 1 of 3 in a row: observation at 1700000001 ms is before the canary phase started \(1700000000000 ms\): the evaluation's clock must be epoch milliseconds/);
    const shadow = { ...shadowState(), phaseStartedMs: 5000 };
    expect(decide(shadowPlan, shadow, observations.shadowMet(4999))).toMatchObject({ action: 'hold', reason: expect.stringMatching(/before the shadow phase started/) });
  });

  test('unhealthyEvaluations 1 rolls back on the first alarm in ALARM', () => {
    const once = { ...plan, evaluation: { intervalMs: 100, unhealthyEvaluations: 1 } };
    const decisions = run(once, canaryAt(0), ['healthy', 'guardrailAlarm']);
    expect(actions(decisions)).toEqual(['hold', 'rollback']);
    expect(last(decisions).reason).toMatch(/unhealthy 1 of 1 in a row: guardrail alarm in ALARM: churn-guardrail/);
  });

  test('a guardrail alarm in ALARM in the LAST step, baked, rolls back instead of completing', () => {
    const decisions = run(plan, canaryAt(3), ['healthy', 'guardrailAlarm', 'guardrailAlarm'], BAKE);
    expect(actions(decisions)).toEqual(['hold', 'hold', 'rollback']);
    expect(last(decisions).state.phase).toBe('rolled-back');
  });

  test('a breach in the LAST step rolls back instead of completing', () => {
    // Baked, one healthy evaluation short of completing: two breaches roll back.
    const decisions = run(plan, canaryAt(3), ['healthy', 'errors', 'errors'], BAKE / 2);
    expect(actions(decisions)).toEqual(['hold', 'hold', 'rollback']);
    expect(last(decisions).state.phase).toBe('rolled-back');
    // One breach between healthy evaluations resets the healthy streak: no completion until two in a row.
    const flapping = run(plan, canaryAt(3), ['healthy', 'errors', 'healthy', 'healthy'], BAKE / 2);
    expect(actions(flapping)).toEqual(['hold', 'hold', 'hold', 'complete']);
    expect(last(flapping).routing).toBeUndefined(); // the last step already sends everything to the challenger
  });
});

describe('decide: shadow', () => {
  test.each<[string, Kind[], string[], string, RegExp]>([
    ['exit criteria met: the first canary step', ['shadowMet'], ['start-canary'], 'canary', /shadow exit criteria met: 600 requests compared, divergence 0.01, p99 90 ms; canary at 5 %/],
    ['too few compared: holds', ['shadowFew', 'shadowFew', 'shadowFew', 'shadowFew'], ['hold', 'hold', 'hold', 'hold'], 'shadow', /100 of 500 requests compared/],
    ['then met: the first canary step', ['shadowFew', 'shadowMet'], ['hold', 'start-canary'], 'canary', /canary at 5 %/],
    ['divergence breached persistently: aborted', ['shadowDivergent', 'shadowDivergent'], ['hold', 'rollback'], 'aborted', /unhealthy 2 of 2 in a row: shadow divergence 0.3 > 0.05; all traffic to blue, shadow off/],
    ['latency (the guardrails\' by default) breached persistently: aborted', ['shadowSlow', 'shadowSlow'], ['hold', 'rollback'], 'aborted', /shadow p99 250 ms > 200 ms/],
    ['shadow failures above maxFailurePercent persistently: aborted', ['shadowFailing', 'shadowFailing'], ['hold', 'rollback'], 'aborted', /unhealthy 2 of 2 in a row: shadow failures 14.29 % > 1 %/],
    ['shadow failures at maxFailurePercent: the first canary step', ['shadowFewFailures'], ['start-canary'], 'canary', /criteria met/],
    ['one divergent evaluation, then met: the first canary step', ['shadowDivergent', 'shadowMet'], ['hold', 'start-canary'], 'canary', /criteria met/],
    ['no comparison: hold, then aborted', ['missing', 'shadowNone', 'missing'], ['hold', 'hold', 'rollback'], 'aborted', /no data 3 of 3 in a row: no shadow comparison/],
    ['a guardrail alarm in ALARM once holds, even with the criteria met', ['shadowFew', 'guardrailAlarm', 'shadowFew'], ['hold', 'hold', 'hold'], 'shadow', /100 of 500 requests compared/],
    ['a guardrail alarm in ALARM twice in a row aborts', ['shadowFew', 'guardrailAlarm', 'guardrailAlarm'], ['hold', 'hold', 'rollback'], 'aborted', /unhealthy 2 of 2 in a row: guardrail alarm in ALARM: churn-guardrail/],
  ])('%s', (_, kinds, expected, phase, reason) => {
    const decisions = run(shadowPlan, shadowState(), kinds);
    expect(actions(decisions)).toEqual(expected);
    expect(last(decisions).state.phase).toBe(phase);
    expect(last(decisions).reason).toMatch(reason);
  });

  test('the first canary step turns the shadow off and sends the challenger its percent', () => {
    const d = decide(shadowPlan, shadowState(), observations.shadowMet(100));
    expect(d.routing).toEqual({ weights: { blue: 95, green: 5 }, shadow: null });
    expect(d.state).toMatchObject({ stepIndex: 0, phaseStartedMs: 100, healthyStreak: 0 });
  });

  test('maxDurationMs without the exit criteria met aborts to champion only, shadow off', () => {
    const decisions = run(shadowPlan, shadowState(), Array(50).fill('shadowFew'), 100);
    expect(actions(decisions)).toEqual([...Array(49).fill('hold'), 'rollback']);
    expect(last(decisions).reason).toMatch(/shadow ran 5000 ms without meeting its exit criteria \(100 of 500 requests compared\)/);
    expect(last(decisions).routing).toEqual(CHAMPION_ONLY);
    expect(last(decisions).state.phase).toBe('aborted');
  });

  test('criteria met with an alarm of insufficient data are not a pass', () => {
    const observation = { ...observations.shadowMet(100), alarms: { ...OK, [BUSINESS]: 'INSUFFICIENT_DATA' as const } };
    const d = decide(shadowPlan, shadowState(), observation);
    expect(d).toMatchObject({ action: 'hold', reason: 'no data 1 of 3 in a row: alarm checkout-conversion has insufficient data' });
  });

  test('criteria met at the timeout still start the canary', () => {
    expect(decide(shadowPlan, shadowState(), observations.shadowMet(5000)).action).toBe('start-canary');
  });
});

describe('rollbackNow', () => {
  const phases: [string, () => RolloutState, string][] = [
    ['shadow', shadowState, 'aborted'],
    ...[0, 1, 2, 3].map((i): [string, () => RolloutState, string] => [`canary step ${i}`, () => canaryAt(i, shadowPlan), 'rolled-back']),
    ['promoted', () => ({ ...canaryAt(3, shadowPlan), phase: 'promoted' }), 'rolled-back'],
  ];
  test.each(phases)('from %s: champion only, shadow off, recorded with who and why', (_, state, phase) => {
    const d = rollbackNow(shadowPlan, state(), 'ana', 'complaints from the checkout team', 7000);
    expect(d.action).toBe('rollback');
    expect(d.routing).toEqual(CHAMPION_ONLY);
    expect(d.state.phase).toBe(phase);
    expect(last(d.state.history)).toEqual({ atMs: 7000, action: 'rollback', by: 'ana', reason: d.reason, weights: CHAMPION_ONLY.weights });
    expect(d.reason).toMatch(/^complaints from the checkout team; all traffic to blue/);
  });

  test('a rollout already rolled back is left as it is', () => {
    const rolledBack = rollbackNow(plan, canaryAt(1), 'ana', 'why', 10).state;
    const again = rollbackNow(plan, rolledBack, 'bob', 'again', 20);
    expect(again).toEqual({ action: 'hold', state: rolledBack, reason: 'the rollout is already rolled-back' });
  });

  test.each([
    ['a blank reason', 'ana', ' ', /reason must be a non-blank string/],
    ['a reason too long', 'ana', 'x'.repeat(513), /reason must be .* at most 512/],
    ['no author', '', 'why', /by must be a non-blank string/],
  ])('refuses %s', (_, by, reason, message) => {
    expect(() => rollbackNow(plan, canaryAt(0), by, reason, 0)).toThrow(message);
  });

  test('a reason at the limit is clipped, with the suffix, to the routing trail\'s limit, never inside a surrogate pair', () => {
    const reason = `${'x'.repeat(510)}😀`;
    const d = rollbackNow(plan, canaryAt(0), 'ana', reason, 0);
    expect(d.reason.length).toBeLessThanOrEqual(512);
    expect(d.reason).toBe(`${'x'.repeat(510)}…`);
  });
});

describe('decide: guards', () => {
  test('a state of another model, a step outside the plan, a shadow state without a shadow plan and an observation without a clock are refused', () => {
    expect(() => decide(plan, { ...canaryAt(0), model: 'other' }, observations.healthy(1))).toThrow(/the state is of model other/);
    expect(() => decide(plan, canaryAt(4), observations.healthy(1))).toThrow(/stepIndex 4 is outside the plan's 4 steps/);
    expect(() => decide(plan, shadowState(), observations.healthy(1))).toThrow(/the plan has no shadow/);
    expect(() => decide(plan, canaryAt(0), observations.healthy(Number.NaN))).toThrow(/observation.atMs must be epoch milliseconds/);
  });

  test('many long alarm names keep the reason within the routing trail\'s limit', () => {
    const alarms = Array.from({ length: 20 }, (_, i) => `alarm-${i}-${'x'.repeat(200)}`);
    const p = { ...plan, guardrails: { ...plan.guardrails, alarms } };
    const d = decide({ ...p, evaluation: { intervalMs: 100, unhealthyEvaluations: 1 } }, canaryAt(0), { atMs: 1, alarms: Object.fromEntries(alarms.map((a) => [a, 'ALARM'])) });
    expect(d.action).toBe('rollback');
    expect(d.reason.length).toBeLessThanOrEqual(512);
  });

  test('pure: the same inputs give the same decision, and the inputs are not changed', () => {
    const state = deepFreeze(canaryAt(2));
    for (const kind of KINDS) {
      const observation = deepFreeze(observations[kind](500));
      expect(decide(deepFreeze(structuredClone(plan)), state, observation)).toEqual(decide(plan, state, observation));
    }
  });
});

describe('validatePlan', () => {
  test('a valid plan, with and without defaults, has no problems', () => {
    expect(validatePlan(plan)).toEqual([]);
    expect(validatePlan(shadowPlan)).toEqual([]);
    expect(validatePlan({ model: 'm', champion: 'a', challenger: 'b', guardrails: { maxLatencyP99Ms: 1 } })).toEqual([]);
  });

  test('every problem is listed, naming the field and the fix', () => {
    const bad = {
      model: '',
      champion: 'same',
      challenger: 'same',
      steps: [{ percent: 20, bakeMs: 1000 }, { percent: 10, bakeMs: 50 }, { percent: 0, bakeMs: 1000 }, { percent: 80, bakeMs: 1.5 }, 'x'],
      evaluation: { intervalMs: 100, healthyEvaluations: 0, maxMissingEvaluations: 1.5, unhealthyEvaluations: -1 },
      guardrails: { alarms: ['a', 'a', ''], maxErrorPercent: 101, maxFallbackPercent: -1, maxLatencyP99Ms: 0, maxPredictionDrift: Number.NaN, minRequests: 0 },
      shadow: { percent: 0, exitCriteria: { minComparedRequests: 0, maxDurationMs: 10, maxFailurePercent: 150 } },
    } as unknown as RolloutPlan;
    expect(validatePlan(bad)).toEqual([
      'model: the model name is empty',
      'challenger is "same", the same as champion: name the variant being rolled out',
      'evaluation.healthyEvaluations is 0: set it to an integer from 1 to 1000',
      'evaluation.maxMissingEvaluations is 1.5: set it to an integer from 1 to 1000',
      'evaluation.unhealthyEvaluations is -1: set it to an integer from 1 to 1000',
      'steps[1].percent is 10, not above the step before (20): list percents in increasing order',
      'steps[1].bakeMs is 50: set it to an integer of at least evaluation.intervalMs (100), so a bake spans an evaluation',
      'steps[2].percent is 0: set it to a number greater than 0 and at most 100',
      'steps[3].bakeMs is 1.5: set it to an integer of at least evaluation.intervalMs (100), so a bake spans an evaluation',
      'steps[4] must be an object { percent, bakeMs }',
      'guardrails.alarms[1] repeats "a": list each alarm once',
      'guardrails.alarms[2] must be an alarm name of 1 to 255 characters',
      'guardrails.maxErrorPercent is 101: set it to a number from 0 to 100',
      'guardrails.maxFallbackPercent is -1: set it to a number from 0 to 100',
      `guardrails.maxLatencyP99Ms is 0: set it to a finite number of at least ${Number.MIN_VALUE}`,
      'guardrails.maxPredictionDrift is NaN: set it to a finite number of at least 0',
      `guardrails.minRequests is 0: set it to an integer from 1 to ${Number.MAX_SAFE_INTEGER}`,
      'shadow.percent is 0: set it to a number greater than 0 and at most 100',
      `shadow.exitCriteria.minComparedRequests is 0: set it to an integer from 1 to ${Number.MAX_SAFE_INTEGER}`,
      'shadow.exitCriteria.maxDivergence is missing: set it to a finite number of at least 0',
      'shadow.exitCriteria.maxFailurePercent is 150: set it to a number from 0 to 100',
      `shadow.exitCriteria.maxDurationMs is 10: set it to an integer from 100 to ${Number.MAX_SAFE_INTEGER}`,
    ]);
  });

  test.each<[string, unknown, RegExp]>([
    ['not an object', null, /the plan must be an object/],
    ['the last step below 100', { ...plan, steps: [{ percent: 5, bakeMs: 100 }, { percent: 50, bakeMs: 100 }] }, /steps\[1\].percent is 50: the last step must be 100/],
    ['no steps', { ...plan, steps: [] }, /steps must be a list of 1 to 20/],
    ['too many steps', { ...plan, steps: Array.from({ length: 21 }, (_, i) => ({ percent: i + 1, bakeMs: 100 })) }, /steps must be a list of 1 to 20/],
    ['an interval beyond a timer', { ...plan, evaluation: { intervalMs: 2 ** 31 } }, /evaluation.intervalMs is 2147483648: set it to an integer from 1 to 2147483647/],
    ['the default bakes shorter than the interval', { ...plan, steps: undefined, evaluation: { intervalMs: 3_600_000 } }, /steps \(the default, baking 600000 ms\) bake less than evaluation.intervalMs/],
    ['no guardrails', { ...plan, guardrails: undefined }, /guardrails must be an object with at least maxLatencyP99Ms/],
    ['no latency budget', { ...plan, guardrails: {} }, /guardrails.maxLatencyP99Ms is missing/],
    ['a step limit shorter than the longest bake plus the healthy evaluations', { ...plan, evaluation: { intervalMs: 100, maxStepMs: 1100 } }, /evaluation.maxStepMs is 1100: set it to an integer of at least 1200 \(the longest bake plus healthyEvaluations × intervalMs\)/],
    ['a step limit that is not a number', { ...plan, evaluation: { intervalMs: 100, maxStepMs: '1h' } }, /evaluation.maxStepMs is a string: set it to an integer of at least 1200/],
    ['too many alarms', { ...plan, guardrails: { ...plan.guardrails, alarms: Array.from({ length: 101 }, (_, i) => `a${i}`) } }, /at most 100 alarm names/],
    ['a variant name too long', { ...plan, challenger: 'x'.repeat(64) }, /challenger must be a variant name of 1 to 63 characters/],
    ['a shadow without exit criteria', { ...plan, shadow: { percent: 10 } }, /shadow must be an object \{ percent\?, exitCriteria/],
    ['an evaluation that is not an object', { ...plan, evaluation: 5 }, /evaluation must be an object/],
  ])('%s', (_, bad, problem) => {
    const problems = validatePlan(bad as RolloutPlan);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
  });
});

describe('property: seeded random observation sequences', () => {
  test('weights sum to 100, the challenger gets a step percent or 0, the routing applied matches the state, a finished state never changes', () => {
    const violations: string[] = [];
    let finished = 0;
    let completed = 0;
    for (let seed = 1; seed <= 300; seed += 1) {
      const random = seededRandom(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
      const percents = [...new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.round(random() * 990) / 10 + 0.1))]
        .sort((a, b) => a - b)
        .concat(100);
      const p: RolloutPlan = {
        ...(random() < 0.5 ? shadowPlan : plan),
        steps: percents.map((percent) => ({ percent, bakeMs: pick([100, 300, 1000]) })),
        evaluation: { intervalMs: 100, healthyEvaluations: pick([1, 2, 3]), maxMissingEvaluations: pick([1, 3]), unhealthyEvaluations: pick([1, 2, 3]) },
      };
      // Mostly healthy observations, so that many sequences reach completion.
      const weighted: Kind[] = [...Array<Kind>(KINDS.length * 6).fill('healthy'), ...Array<Kind>(KINDS.length).fill('shadowMet'), ...KINDS];
      let decision = startRollout(p, 'ana', 0, `r${seed}`);
      let applied = decision.routing!;
      let atMs = 0;
      for (let i = 0; i < 60; i += 1) {
        atMs += pick([50, 100, 400]);
        const before = decision.state;
        decision = random() < 0.02
          ? rollbackNow(p, before, 'ana', 'property', atMs)
          : decide(p, before, observations[pick(weighted)](atMs));
        if (decision.routing) applied = decision.routing;
        const { weights, shadow } = applied;
        const at = `seed ${seed}, evaluation ${i}`;
        // Plain checks collected, asserted once: an expect per evaluation would make this test slow.
        const check = (ok: boolean, what: string) => ok || violations.push(`${at}: ${what}`);
        check(Object.keys(weights).sort().join() === 'blue,green', `weights of ${Object.keys(weights)}`);
        check(Math.abs(weights.blue + weights.green - 100) < 1e-9, `weights sum to ${weights.blue + weights.green}`);
        check([0, ...percents].includes(weights.green), `challenger weight ${weights.green} not in ${percents}`);
        check(JSON.stringify(applied) === JSON.stringify(routingOf(p, decision.state)), `routing applied ${JSON.stringify(applied)} is not the state's`);
        check(!shadow || decision.state.phase === 'shadow', `a shadow in phase ${decision.state.phase}`);
        const operatorRollback = decision.action === 'rollback' && before.phase === 'promoted';
        check(!isFinished(before) || operatorRollback || (decision.action === 'hold' && decision.state === before), `finished state changed by ${decision.action}`);
        check(decision.state.history.length <= RolloutLimits.HISTORY_ENTRIES, 'history too long');
        check(JSON.stringify(JSON.parse(JSON.stringify(decision.state))) === JSON.stringify(decision.state), 'state not JSON');
      }
      if (isFinished(decision.state)) finished += 1;
      if (decision.state.phase === 'promoted') completed += 1;
    }
    expect(violations).toEqual([]);
    // The sequences exercise both endings.
    expect(finished).toBeGreaterThan(100);
    expect(completed).toBeGreaterThan(10);
  });

  test('integer step percents give weights summing to exactly 100', () => {
    for (let percent = 1; percent <= 100; percent += 1) {
      const p = { ...plan, steps: percent === 100 ? [{ percent, bakeMs: 100 }] : [{ percent, bakeMs: 100 }, { percent: 100, bakeMs: 100 }] };
      const { weights } = startRollout(p, 'ana', 0, 'r').routing!;
      expect(weights.blue + weights.green).toBe(100);
    }
  });

  test('the default steps are the background articles\' 5 → 20 → 50 → 100', () => {
    expect(RolloutDefaults.STEPS.map((s) => s.percent)).toEqual([5, 20, 50, 100]);
  });
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
