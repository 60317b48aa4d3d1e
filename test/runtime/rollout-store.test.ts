/**
 * The rollout store on dynalite (one instance for the file, port 0): one running rollout per model (a conditional lock
 * naming the running one), versioned saves where exactly one of two writers wins, a model's history newest first, and
 * a deadline on every call.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  acquire, create, current, history, isRolloutId, load, lockOf, release, RolloutIdError, rolloutIdOf, RolloutRunningError, RolloutTooLargeError,
  RolloutVersionConflictError, save, toRolloutId,
} from '../../runtime/aws/rollout-store';
import type { RolloutPlan, RolloutState } from '../../runtime/core/rollout/types';
import { createRolloutTable, LocalService, localClientConfig, startDynalite } from '../support/local-aws';

const TABLE = 'rollouts';
let dynalite: LocalService;
let dynamo: DynamoDBClient;
let table: { client: DynamoDBClient; tableName: string };
const T0 = Date.parse('2026-12-01T00:00:00Z');

beforeAll(async () => {
  dynalite = await startDynalite();
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await createRolloutTable(dynamo, TABLE);
  table = { client: dynamo, tableName: TABLE };
});

afterAll(async () => {
  dynamo.destroy();
  await dynalite.stop();
});

const plan = (model: string): RolloutPlan => ({ model, champion: 'champion', challenger: 'challenger', guardrails: { maxLatencyP99Ms: 250 } });

function stateOf(model: string, id: string, by = 'alice'): RolloutState {
  return {
    id, model, phase: 'canary', stepIndex: 0, phaseStartedMs: T0, healthyStreak: 0, unhealthyStreak: 0, missingStreak: 0, startedBy: by,
    history: [{ atMs: T0, action: 'start-canary', reason: 'new model approved', weights: { champion: 95, challenger: 5 }, by }],
  };
}

let models = 0;
const newModel = () => `model-${++models}`;

describe('lock', () => {
  test('a second rollout of the same model is refused while one runs, naming the running one; after release it starts', async () => {
    const model = newModel();
    const first = rolloutIdOf(T0, 'first');
    await acquire(table, { model, rolloutId: first, by: 'alice', atMs: T0 });
    // A retried start of the same rollout takes the lock it holds.
    await acquire(table, { model, rolloutId: first, by: 'alice', atMs: T0 + 1 });
    const refused = acquire(table, { model, rolloutId: rolloutIdOf(T0 + 5, 'second'), by: 'bob', atMs: T0 + 5 });
    await expect(refused).rejects.toThrow(RolloutRunningError);
    await expect(refused).rejects.toThrow(`a rollout of model '${model}' is running: ${first}, started by alice at 2026-12-01T00:00:00.000Z`);
    // Another model is not concerned.
    await acquire(table, { model: newModel(), rolloutId: rolloutIdOf(T0, 'other'), by: 'bob', atMs: T0 });

    expect(await release(table, model, rolloutIdOf(T0 + 5, 'second'))).toBe(false);
    expect(await lockOf(table, model)).toEqual({ model, rolloutId: first, by: 'alice', since: '2026-12-01T00:00:00.000Z' });
    expect(await release(table, model, first)).toBe(true);
    expect(await release(table, model, first)).toBe(false);
    expect(await lockOf(table, model)).toBeUndefined();
    await acquire(table, { model, rolloutId: rolloutIdOf(T0 + 5, 'second'), by: 'bob', atMs: T0 + 5 });
    expect((await lockOf(table, model))!.by).toBe('bob');
  });

  test('of concurrent starts exactly one wins', async () => {
    const model = newModel();
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => acquire(table, { model, rolloutId: rolloutIdOf(T0, `r${i}`), by: `user${i}`, atMs: T0 })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name)).toEqual(Array(4).fill('RolloutRunningError'));
  });

  test('ids: sort by start time; anything outside the alphabet is refused before any call', async () => {
    expect(rolloutIdOf(T0, 'exec name/1')).toBe('2026-12-01T00:00:00.000Z-exec_name_1');
    expect(rolloutIdOf(T0 + 1000, 'a') > rolloutIdOf(T0, 'z')).toBe(true);
    expect(rolloutIdOf(T0, 'x'.repeat(300))).toHaveLength(128);
    for (const id of ['', '#lock', '-x', 'a b', 'x'.repeat(129), 'é']) {
      await expect(acquire(table, { model: 'm', rolloutId: id, by: 'a', atMs: T0 })).rejects.toThrow(RolloutIdError);
    }
    expect(await load(table, 'm', '#lock')).toBeUndefined();
  });

  test('toRolloutId: a valid id unchanged; any other text a valid id, the same each time, distinct for distinct texts', () => {
    expect(toRolloutId('2026-12-01T00:00:00.000Z-exec-1')).toBe('2026-12-01T00:00:00.000Z-exec-1');
    const texts = ['é', 'è', '#lock', '-x', 'a b', 'a_b', 'x'.repeat(300), `${'x'.repeat(300)}é`, '\ud800'];
    const ids = texts.map(toRolloutId);
    expect(ids.every(isRolloutId)).toBe(true);
    expect(new Set(ids).size).toBe(texts.length);
    expect(texts.map(toRolloutId)).toEqual(ids);
    expect(toRolloutId('a b')).toMatch(/^a_b-[0-9a-f]{16}$/);
  });
});

describe('rollouts', () => {
  test('create, load, save versioned: of two saves from the same version exactly one wins', async () => {
    const model = newModel();
    const id = rolloutIdOf(T0, 'a');
    const created = await create(table, plan(model), stateOf(model, id), T0);
    await expect(create(table, plan(model), stateOf(model, id), T0)).rejects.toThrow(RolloutVersionConflictError);
    expect(await load(table, model, id)).toEqual({ ...created, since: '2026-12-01T00:00:00.000Z', updatedAt: '2026-12-01T00:00:00.000Z', by: 'alice' });

    const promoted = { ...created.state, stepIndex: 1, history: [...created.state.history, { atMs: T0 + 60_000, action: 'promote' as const, reason: 'healthy', by: 'rollout-controller' }] };
    const results = await Promise.allSettled([save(table, created, promoted, T0 + 60_000), save(table, created, { ...promoted, stepIndex: 2 }, T0 + 60_000)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(RolloutVersionConflictError);
    const saved = (await load(table, model, id))!;
    expect(saved).toMatchObject({ version: 2, updatedAt: '2026-12-01T00:01:00.000Z', since: '2026-12-01T00:00:00.000Z', plan: plan(model) });
    expect(saved.state.history.map((e) => [e.action, e.by])).toEqual([['start-canary', 'alice'], ['promote', 'rollout-controller']]);
    await expect(save(table, created, promoted, T0 + 60_000)).rejects.toThrow(`is no longer at version 1`);
  });

  test('current: the lock holder and its rollout; a lock without a stored rollout (a start that died) is still shown', async () => {
    const model = newModel();
    expect(await current(table, model)).toBeUndefined();
    const id = rolloutIdOf(T0, 'a');
    await acquire(table, { model, rolloutId: id, by: 'alice', atMs: T0 });
    expect(await current(table, model)).toEqual({ lock: { model, rolloutId: id, by: 'alice', since: '2026-12-01T00:00:00.000Z' } });
    await create(table, plan(model), stateOf(model, id), T0);
    expect((await current(table, model))!.rollout!.state.id).toBe(id);
  });

  test('history: newest first, limited, without the lock, only the model\'s own', async () => {
    const model = newModel();
    for (const [i, minute] of [3, 1, 2, 0].entries()) {
      const id = rolloutIdOf(T0 + minute * 60_000, `r${i}`);
      await create(table, plan(model), stateOf(model, id, `user${minute}`), T0 + minute * 60_000);
    }
    await acquire(table, { model, rolloutId: rolloutIdOf(T0 + 3 * 60_000, 'r0'), by: 'user3', atMs: T0 });
    await create(table, plan(newModel()), stateOf(`model-${models}`, rolloutIdOf(T0 + 9 * 60_000, 'x')), T0);
    expect((await history(table, model, 10)).map((r) => r.by)).toEqual(['user3', 'user2', 'user1', 'user0']);
    expect((await history(table, model, 2)).map((r) => r.by)).toEqual(['user3', 'user2']);
  });

  test('a state too large for one item is refused with its size', async () => {
    const model = newModel();
    const state = { ...stateOf(model, rolloutIdOf(T0, 'big')), history: Array(100).fill({ atMs: T0, action: 'promote', reason: 'x'.repeat(4000), by: 'a' }) };
    await expect(create(table, plan(model), state, T0)).rejects.toThrow(RolloutTooLargeError);
  });
});

test('every call has a deadline: a table that never answers fails within it', async () => {
  const silent = http.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({ ...localClientConfig(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`), maxAttempts: 1 });
  try {
    const slow = { client, tableName: TABLE, timeoutMs: 200 };
    await expect(lockOf(slow, 'm')).rejects.toThrow(/abort/i);
    await expect(acquire(slow, { model: 'm', rolloutId: 'r1', by: 'a', atMs: T0 })).rejects.toThrow(/abort/i);
  } finally {
    client.destroy();
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  }
});
