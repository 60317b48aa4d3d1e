/**
 * RolloutController over in-memory ports (a routing table and a state store kept in arrays, a scripted clock and
 * observations; the ports ARE the seam, so these are the components, not mocks of them): routing is applied before
 * the state is saved (a crash in between repeats the routing change on the next run, or, when the next run holds,
 * re-applies the state's routing read through `currentRouting`), notifications on the start, promotions, completion
 * and rollbacks, the one-command rollback from any phase, and a finished rollout left alone.
 */
import {
  Decision,
  Observation,
  ROLLOUT_CONTROLLER,
  RolloutController,
  RolloutPlan,
  RolloutPorts,
  RolloutState,
  RoutingDecision,
} from '../../runtime/core/rollout';

const plan: RolloutPlan = {
  model: 'churn',
  champion: 'blue',
  challenger: 'green',
  shadow: { percent: 25, exitCriteria: { minComparedRequests: 10, maxDivergence: 0.1, maxDurationMs: 10_000 } },
  steps: [{ percent: 10, bakeMs: 100 }, { percent: 100, bakeMs: 100 }],
  evaluation: { intervalMs: 100, healthyEvaluations: 1 },
  guardrails: { alarms: ['churn-guardrail'], maxLatencyP99Ms: 200, minRequests: 10 },
};

const healthy = (atMs: number): Observation => ({
  atMs,
  alarms: { 'churn-guardrail': 'OK' },
  challenger: { requests: 100, errors: 0, fallbacks: 0, latencyP99Ms: 50 },
  shadow: { compared: 50, divergence: 0.01, latencyP99Ms: 50 },
});
const missing = (atMs: number): Observation => ({ atMs, alarms: {} });

/** In-memory ports recording every call in order. */
class MemoryPorts implements RolloutPorts {
  clock = 0;
  readonly calls: string[] = [];
  readonly routings: { routing: RoutingDecision; by: string; reason: string }[] = [];
  readonly saved: RolloutState[] = [];
  readonly notified: Decision[] = [];
  readonly observed: number[] = [];
  next: (atMs: number) => Observation = healthy;
  failSave = false;
  failNotify = false;

  async observe(_plan: RolloutPlan, _state: RolloutState, nowMs: number): Promise<Observation> {
    this.calls.push('observe');
    this.observed.push(nowMs);
    return this.next(nowMs);
  }
  async applyRouting(_plan: RolloutPlan, routing: RoutingDecision, author: { by: string; reason: string }): Promise<void> {
    this.calls.push('routing');
    this.routings.push({ routing, ...author });
  }
  async saveState(state: RolloutState): Promise<void> {
    this.calls.push('save');
    if (this.failSave) throw new Error('store unavailable');
    this.saved.push(state);
  }
  async notify(_state: RolloutState, decision: Decision): Promise<void> {
    this.calls.push(`notify ${decision.action}`);
    if (this.failNotify) throw new Error('topic unavailable');
    this.notified.push(decision);
  }
  now(): number {
    return this.clock;
  }
}

function setUp() {
  const ports = new MemoryPorts();
  return { ports, controller: new RolloutController(ports) };
}

/** Evaluates every 100 ms until the rollout is finished (or `limit` evaluations). */
async function drive(controller: RolloutController, ports: MemoryPorts, from: RolloutState, limit = 20) {
  let state = from;
  for (let i = 0; i < limit && !['promoted', 'rolled-back', 'aborted'].includes(state.phase); i += 1) {
    ports.clock += 100;
    ({ state } = await controller.evaluate(plan, state));
  }
  return state;
}

test('start applies the routing, saves the state, then notifies the start', async () => {
  const { ports, controller } = setUp();
  ports.clock = 1000;
  const state = await controller.start(plan, 'ana', 'r1');
  expect(ports.calls).toEqual(['routing', 'save', 'notify start-shadow']);
  expect(ports.notified).toEqual([expect.objectContaining({ action: 'start-shadow', state, reason: expect.stringMatching(/^shadow green on 25 %/) })]);
  expect(ports.routings).toEqual([{
    routing: { weights: { blue: 100, green: 0 }, shadow: { variant: 'green', percent: 25 } },
    by: 'ana',
    reason: expect.stringMatching(/^rollout r1: shadow green on 25 %/),
  }]);
  expect(ports.saved).toEqual([state]);
  expect(state).toMatchObject({ id: 'r1', phase: 'shadow', phaseStartedMs: 1000, startedBy: 'ana' });
});

test('start gives each rollout its own id by default', async () => {
  const { controller } = setUp();
  const [a, b] = [await controller.start(plan, 'ana'), await controller.start(plan, 'ana')];
  expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(a.id).not.toBe(b.id);
});

test('a full rollout: routing before state at every change, a notification for each promotion and the completion', async () => {
  const { ports, controller } = setUp();
  const done = await drive(controller, ports, await controller.start(plan, 'ana', 'r1'));
  expect(done.phase).toBe('promoted');
  expect(ports.calls).toEqual([
    'routing', 'save', 'notify start-shadow', // start: shadow
    'observe', 'routing', 'save', 'notify start-canary', // shadow criteria met: 10 %
    'observe', 'routing', 'save', 'notify promote', // 100 %
    'observe', 'save', 'notify complete', // promoted (the routing already sends everything to the challenger)
  ]);
  expect(ports.routings.map((r) => [r.routing.weights.green, r.routing.shadow, r.by])).toEqual([
    [0, { variant: 'green', percent: 25 }, 'ana'], [10, null, ROLLOUT_CONTROLLER], [100, null, ROLLOUT_CONTROLLER],
  ]);
  expect(ports.notified.map((d) => d.state)).toEqual(ports.saved);
  expect(ports.saved.at(-1)).toBe(done);
  expect(ports.observed).toEqual([100, 200, 300]);
});

test('a hold saves the counted streak, with no routing change and no notification', async () => {
  const { ports, controller } = setUp();
  ports.next = missing;
  const started = await controller.start(plan, 'ana', 'r1');
  ports.calls.length = 0;
  const { state, decision } = await controller.evaluate(plan, started);
  expect(decision.action).toBe('hold');
  expect(ports.calls).toEqual(['observe', 'save']);
  expect(state.missingStreak).toBe(1);
});

test('missing data rolls back at the bound, and the rollback is applied and notified', async () => {
  const { ports, controller } = setUp();
  ports.next = missing;
  const done = await drive(controller, ports, await controller.start(plan, 'ana', 'r1'));
  expect(done.phase).toBe('aborted');
  expect(ports.routings.at(-1)!.routing).toEqual({ weights: { blue: 100, green: 0 }, shadow: null });
  expect(ports.calls.slice(-4)).toEqual(['observe', 'routing', 'save', 'notify rollback']);
});

test('a finished rollout is neither observed nor saved', async () => {
  const { ports, controller } = setUp();
  const done = await drive(controller, ports, await controller.start(plan, 'ana', 'r1'));
  ports.calls.length = 0;
  const { state, decision } = await controller.evaluate(plan, done);
  expect(state).toBe(done);
  expect(decision.action).toBe('hold');
  expect(ports.calls).toEqual([]);
});

test('a crash between the routing change and the save repeats the routing change on the next run', async () => {
  const { ports, controller } = setUp();
  const started = await controller.start(plan, 'ana', 'r1');
  ports.clock = 100;
  ports.failSave = true;
  await expect(controller.evaluate(plan, started)).rejects.toThrow('store unavailable');
  expect(ports.routings.at(-1)!.routing.weights.green).toBe(10); // applied, not saved
  ports.failSave = false;
  const { state } = await controller.evaluate(plan, started); // the next run starts from the saved (old) state
  expect(state.phase).toBe('canary');
  const [applied, repeated] = ports.routings.slice(-2);
  expect(repeated.routing).toEqual(applied.routing);
  expect(ports.saved.at(-1)).toBe(state);
});

/** Memory ports that also read the routing in place: the last routing applied. */
class ReadableRoutingPorts extends MemoryPorts {
  async currentRouting(): Promise<RoutingDecision | undefined> {
    this.calls.push('read routing');
    return this.routings.at(-1)?.routing;
  }
}

test('a crash between the routing change and the save, then a hold: the state\'s routing is re-applied once (currentRouting)', async () => {
  const ports = new ReadableRoutingPorts();
  const controller = new RolloutController(ports);
  const started = await controller.start(plan, 'ana', 'r1');
  ports.clock = 100;
  ports.failSave = true;
  await expect(controller.evaluate(plan, started)).rejects.toThrow('store unavailable');
  expect(ports.routings.at(-1)!.routing.weights.green).toBe(10); // the canary's routing applied, the state still shadow
  ports.failSave = false;
  ports.next = (atMs) => ({ ...healthy(atMs), shadow: { compared: 5, divergence: 0.01, latencyP99Ms: 50 } }); // too few compared: hold
  ports.calls.length = 0;
  const { state, decision } = await controller.evaluate(plan, started);
  expect([decision.action, state.phase]).toEqual(['hold', 'shadow']);
  expect(ports.calls).toEqual(['observe', 'read routing', 'routing', 'save']); // routing before the state, as always
  expect(ports.routings.at(-1)).toEqual({
    routing: { weights: { blue: 100, green: 0 }, shadow: { variant: 'green', percent: 25 } },
    by: ROLLOUT_CONTROLLER,
    reason: 'rollout r1: reconcile after an interrupted change (shadow, step 1)',
  });
  ports.calls.length = 0;
  await controller.evaluate(plan, state); // in agreement now: nothing applied again
  expect(ports.calls).toEqual(['observe', 'read routing', 'save']);
});

test('a hold with the routing in place unknown (currentRouting gives undefined) applies nothing', async () => {
  const ports = new ReadableRoutingPorts();
  const controller = new RolloutController(ports);
  ports.next = missing;
  const started = await controller.start(plan, 'ana', 'r1');
  ports.routings.length = 0;
  ports.calls.length = 0;
  await controller.evaluate(plan, started);
  expect(ports.calls).toEqual(['observe', 'read routing', 'save']);
});

test('a notification that fails rejects after the state is saved', async () => {
  const { ports, controller } = setUp();
  const started = await controller.start(plan, 'ana', 'r1');
  ports.clock = 100;
  ports.failNotify = true;
  await expect(controller.evaluate(plan, started)).rejects.toThrow('topic unavailable');
  expect(ports.saved.at(-1)!.phase).toBe('canary');
});

test('notify is optional', async () => {
  const ports = new MemoryPorts();
  const controller = new RolloutController({
    observe: ports.observe.bind(ports), applyRouting: ports.applyRouting.bind(ports), saveState: ports.saveState.bind(ports), now: ports.now.bind(ports),
  });
  const done = await drive(controller, ports, await controller.start(plan, 'ana', 'r1'));
  expect(done.phase).toBe('promoted');
});

describe('rollback, the one command', () => {
  /** Gets a rollout to a phase by evaluations: 0 = shadow, 1 = step 1 (10 %), 2 = step 2 (100 %), 3 = promoted. */
  async function rolloutAfter(evaluations: number) {
    const { ports, controller } = setUp();
    const state = await drive(controller, ports, await controller.start(plan, 'ana', 'r1'), evaluations);
    ports.calls.length = 0;
    return { ports, controller, state };
  }

  test.each([
    [0, 'shadow', 'aborted'],
    [1, 'canary', 'rolled-back'],
    [2, 'canary', 'rolled-back'],
    [3, 'promoted', 'rolled-back'],
  ])('after %i evaluations (%s): champion only, shadow off, saved, notified, recorded', async (evaluations, from, to) => {
    const { ports, controller, state } = await rolloutAfter(evaluations);
    expect(state.phase).toBe(from);
    ports.clock += 50;
    const rolledBack = await controller.rollback(plan, state, 'bob', 'conversion dropped');
    expect(ports.calls).toEqual(['routing', 'save', 'notify rollback']);
    expect(ports.routings.at(-1)).toEqual({
      routing: { weights: { blue: 100, green: 0 }, shadow: null },
      by: 'bob',
      reason: expect.stringMatching(/^rollout r1: conversion dropped; all traffic to blue/),
    });
    expect(rolledBack.phase).toBe(to);
    expect(rolledBack.history.at(-1)).toMatchObject({ action: 'rollback', by: 'bob', atMs: ports.clock });
    expect(ports.saved.at(-1)).toBe(rolledBack);
  });

  test('a rollout already rolled back: nothing applied, saved or notified', async () => {
    const { ports, controller, state } = await rolloutAfter(1);
    const rolledBack = await controller.rollback(plan, state, 'bob', 'first');
    ports.calls.length = 0;
    expect(await controller.rollback(plan, rolledBack, 'bob', 'second')).toBe(rolledBack);
    expect(ports.calls).toEqual([]);
  });

  test('a blank reason is refused before anything is changed', async () => {
    const { ports, controller, state } = await rolloutAfter(1);
    await expect(controller.rollback(plan, state, 'bob', '')).rejects.toThrow(/reason must be a non-blank string/);
    expect(ports.calls).toEqual([]);
  });
});
