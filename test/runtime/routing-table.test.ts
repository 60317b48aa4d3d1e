/**
 * The routing table on dynalite (one instance for the file, port 0): seeding never overwrites, optimistic concurrency
 * lets exactly one of two writers win, the audit trail records every change and stays bounded, and the gateway's
 * cached source honours its TTL, keeps serving the last weights when the table fails, bounds each read by a deadline
 * and keeps one read in flight per model. The CLI (`npm run route`) runs end to end in a child process.
 */
import { execFile } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import { promisify } from 'util';
import { AttributeValue, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CachedRoutingSource, DEFAULT_ROUTING_READ_DEADLINE_MS, FAILED_READ_RETRY_MS, RoutingTableClient } from '../../runtime/aws/routing-table';
import {
  encodeTrail, encodeVariants, RoutingAttributes, RoutingChange, RoutingLimits, routingKey, RoutingNotFoundError, RoutingValidationError,
  RoutingVariables, RoutingVersionConflictError,
} from '../../runtime/core/routing';
import { assignVariant } from '../../runtime/core/variant-assignment';
import { createRoutingTable, LocalService, localClientConfig, startDynalite } from '../support/local-aws';

const TABLE = 'routing';
let dynalite: LocalService;
let dynamo: DynamoDBClient;
let table: RoutingTableClient;
let clock = Date.parse('2026-12-01T00:00:00Z');

beforeAll(async () => {
  dynalite = await startDynalite();
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await createRoutingTable(dynamo, TABLE);
  table = new RoutingTableClient({ client: dynamo, tableName: TABLE, now: () => clock });
});

afterAll(async () => {
  dynamo.destroy();
  await dynalite.stop();
});

let modelCount = 0;
/** A model seeded with champion=90 challenger=10, under a name of its own. */
async function seededModel(endpointName?: string): Promise<string> {
  const model = `model-${++modelCount}`;
  await table.seed({ model, weights: { champion: 90, challenger: 10 }, endpointName, by: 'deploy', reason: 'seeded by the test' });
  return model;
}

describe('seed', () => {
  test('creates version 1 with the seed as the first change; a second seed never overwrites the weights', async () => {
    const model = `model-${++modelCount}`;
    expect(await table.seed({ model, weights: { champion: 90, challenger: 10 }, by: 'deploy', reason: 'first deploy' })).toBe('created');
    await table.setWeights(model, { champion: 50, challenger: 50 }, { expectedVersion: 1, by: 'alice', reason: 'halfway' });
    expect(await table.seed({ model, weights: { challenger: 0, champion: 100 }, by: 'deploy', reason: 'redeploy' })).toBe('kept');
    const entry = await table.get(model, { consistentRead: true });
    expect(entry).toMatchObject({ version: 2, variants: [{ name: 'champion', weight: 50 }, { name: 'challenger', weight: 50 }] });
    expect(entry!.trail.map((c) => [c.version, c.by, c.reason])).toEqual([[1, 'deploy', 'first deploy'], [2, 'alice', 'halfway']]);
    expect(entry!.trail[0]).toMatchObject({ from: {}, to: { champion: 90, challenger: 10 }, at: '2026-12-01T00:00:00.000Z' });
  });

  test('keeps the order given (the assignment order) and follows a replaced endpoint without touching the weights', async () => {
    const model = await seededModel('fraud-endpoint-a');
    await table.seed({ model, weights: { challenger: 1, champion: 1 }, endpointName: 'fraud-endpoint-b', by: 'deploy', reason: 'redeploy' });
    const entry = await table.get(model);
    expect(entry).toMatchObject({ version: 1, endpointName: 'fraud-endpoint-b', variants: [{ name: 'champion', weight: 90 }, { name: 'challenger', weight: 10 }] });
    await table.seed({ model, weights: { champion: 1 }, by: 'deploy', reason: 'endpoint removed' });
    expect((await table.get(model))!.endpointName).toBeUndefined();
  });

  test('a deploy whose variants changed replaces them as a new version, audited; the next deploy keeps live weights', async () => {
    const model = await seededModel('fraud-endpoint-a');
    await table.setWeights(model, { champion: 70, challenger: 30 }, { expectedVersion: 1, by: 'alice', reason: 'canary' });
    clock += 60_000;
    // The endpoint now has champion and challenger2 (and a new name): the table follows, in one write.
    expect(await table.seed({ model, weights: { champion: 90, challenger2: 10 }, endpointName: 'fraud-endpoint-b', by: 'deploy', reason: 'redeploy' }))
      .toBe('variants-replaced');
    const entry = (await table.get(model, { consistentRead: true }))!;
    expect(entry).toMatchObject({ version: 3, endpointName: 'fraud-endpoint-b', variants: [{ name: 'champion', weight: 90 }, { name: 'challenger2', weight: 10 }] });
    expect(entry.trail.at(-1)).toEqual({
      version: 3, at: new Date(clock).toISOString(), by: 'deploy', reason: 'variants changed by deploy: now champion, challenger2; redeploy',
      from: { champion: 70, challenger: 30 }, to: { champion: 90, challenger2: 10 },
    });
    // Now the new variants can be set; the next deploy (same set) never overwrites them.
    await table.setWeights(model, { champion: 50, challenger2: 50 }, { expectedVersion: 3, by: 'alice', reason: 'even' });
    expect(await table.seed({ model, weights: { champion: 90, challenger2: 10 }, endpointName: 'fraud-endpoint-b', by: 'deploy', reason: 'redeploy' }))
      .toBe('kept');
    const after = (await table.get(model, { consistentRead: true }))!;
    expect(after).toMatchObject({ version: 4, variants: [{ name: 'champion', weight: 50 }, { name: 'challenger2', weight: 50 }] });
    expect(after.trail.map((c) => [c.version, c.by])).toEqual([[1, 'deploy'], [2, 'alice'], [3, 'deploy'], [4, 'alice']]);
    expect(after.trail[3].from).toEqual({ champion: 90, challenger2: 10 });
  });

  test('a first seed is one change: version 1, one trail entry', async () => {
    const model = `model-${++modelCount}`;
    expect(await table.seed({ model, weights: { champion: 1 }, by: 'deploy', reason: 'first' })).toBe('created');
    const entry = (await table.get(model, { consistentRead: true }))!;
    expect(entry.version).toBe(1);
    expect(entry.trail).toHaveLength(1);
  });

  test('refuses invalid seeds with every problem', async () => {
    await expect(table.seed({ model: '', weights: { a: -1, b: NaN }, by: ' ', reason: '' })).rejects.toThrow(RoutingValidationError);
    const error = await table.seed({ model: '', weights: { a: -1, b: NaN }, by: ' ', reason: '' }).catch((e) => e);
    expect(error.problems).toEqual([
      'the model name is empty', "weight of 'a' is negative (-1); weights are 0 or more", "weight of 'b' is not a finite number ('NaN')",
      'who made the change (by) is empty', 'the reason is empty: say why the weights change',
    ]);
  });
});

describe('setWeights', () => {
  test('records who, when, why, from and to, one version later, and keeps the variants in their order', async () => {
    const model = await seededModel();
    clock += 60_000;
    const next = await table.setWeights(model, { challenger: 25, champion: 75 }, { expectedVersion: 1, by: 'alice', reason: 'canary step 2' });
    expect(next.version).toBe(2);
    const entry = await table.get(model, { consistentRead: true });
    expect(entry).toEqual(next);
    expect(entry!.variants).toEqual([{ name: 'champion', weight: 75 }, { name: 'challenger', weight: 25 }]);
    expect(entry!.trail.at(-1)).toEqual({
      version: 2, at: new Date(clock).toISOString(), by: 'alice', reason: 'canary step 2',
      from: { champion: 90, challenger: 10 }, to: { champion: 75, challenger: 25 },
    });
  });

  test('of two writers holding the same version exactly one wins; the other is told the current version', async () => {
    const model = await seededModel();
    const writers = await Promise.allSettled([
      table.setWeights(model, { champion: 80, challenger: 20 }, { expectedVersion: 1, by: 'controller-a', reason: 'step' }),
      table.setWeights(model, { champion: 70, challenger: 30 }, { expectedVersion: 1, by: 'controller-b', reason: 'step' }),
    ]);
    expect(writers.filter((w) => w.status === 'fulfilled')).toHaveLength(1);
    const [lost] = writers.filter((w): w is PromiseRejectedResult => w.status === 'rejected');
    expect(lost.reason).toBeInstanceOf(RoutingVersionConflictError);
    expect(lost.reason).toMatchObject({ expectedVersion: 1, currentVersion: 2 });
    expect(lost.reason.message).toMatch(/is at version 2, not 1.*retry with expected version 2/);
    const entry = await table.get(model, { consistentRead: true });
    expect(entry!.version).toBe(2);
    expect(entry!.trail).toHaveLength(2);
  });

  test('the conditional write itself refuses a stale version (a change between the read and the write)', async () => {
    const model = await seededModel();
    // Another writer moves the version on after this client's read: the check before the write cannot see it.
    const other = new DynamoDBClient(localClientConfig(dynalite.endpoint));
    dynamo.middlewareStack.add((next, context) => async (args) => {
      if (context.commandName === 'UpdateItemCommand' && (args.input as any).ConditionExpression) {
        await other.send(new UpdateItemCommand({
          TableName: TABLE, Key: { model: { S: model } }, UpdateExpression: 'SET #ver = :v', ExpressionAttributeNames: { '#ver': 'version' },
          ExpressionAttributeValues: { ':v': { N: '7' } },
        }));
      }
      return next(args);
    }, { step: 'initialize', name: 'concurrentWriter' });
    try {
      await expect(table.setWeights(model, { champion: 1, challenger: 1 }, { expectedVersion: 1, by: 'bob', reason: 'even' }))
        .rejects.toMatchObject({ name: 'RoutingVersionConflictError', currentVersion: 7 });
    } finally {
      dynamo.middlewareStack.remove('concurrentWriter');
      other.destroy();
    }
  });

  test('replaceVariants: a deliberate repair to new variants, optimistic and audited', async () => {
    const model = await seededModel();
    const next = await table.setWeights(model, { champion: 95, challenger2: 5 }, { expectedVersion: 1, by: 'bob', reason: 'repair', replaceVariants: true });
    expect(next).toMatchObject({ version: 2, variants: [{ name: 'champion', weight: 95 }, { name: 'challenger2', weight: 5 }] });
    expect(next.trail.at(-1)).toMatchObject({ by: 'bob', from: { champion: 90, challenger: 10 }, to: { champion: 95, challenger2: 5 } });
    // The stored set follows: a deploy with the repaired set keeps the weights.
    expect(await table.seed({ model, weights: { challenger2: 1, champion: 1 }, by: 'deploy', reason: 'redeploy' })).toBe('kept');
    await expect(table.setWeights(model, { blue: 1 }, { expectedVersion: 1, by: 'bob', reason: 'x', replaceVariants: true }))
      .rejects.toThrow(RoutingVersionConflictError);
  });

  test('any timeoutMs works for writes: fractional milliseconds, and more than Node\'s timers take (not a 1 ms abort)', async () => {
    for (const timeoutMs of [1500.5, 2 ** 31, 2 ** 40]) {
      const client = new RoutingTableClient({ client: dynamo, tableName: TABLE, timeoutMs });
      await expect(client.seed({ model: `model-${++modelCount}`, weights: { a: 1 }, by: 'deploy', reason: 'seed' })).resolves.toBe('created');
    }
    const fractional = new RoutingTableClient({ client: dynamo, tableName: TABLE, timeoutMs: 1500.5 });
    const model = await seededModel();
    await expect(fractional.setWeights(model, { champion: 1, challenger: 1 }, { expectedVersion: 1, by: 'bob', reason: 'x' })).resolves.toMatchObject({ version: 2 });
  });

  test('refuses a stale expected version before writing', async () => {
    const model = await seededModel();
    await expect(table.setWeights(model, { champion: 1, challenger: 1 }, { expectedVersion: 3, by: 'bob', reason: 'even' }))
      .rejects.toThrow("routing of '" + model + "' is at version 1, not 3");
  });

  test('refuses invalid weights with every problem, and an unknown model', async () => {
    const model = await seededModel();
    const error = await table.setWeights(model, { champion: -5, shadow: Infinity }, { expectedVersion: 1, by: 'bob', reason: 'x' }).catch((e) => e);
    expect(error).toBeInstanceOf(RoutingValidationError);
    expect(error.problems).toEqual([
      "weight of 'champion' is negative (-5); weights are 0 or more",
      "unknown variant 'shadow': the model's variants are champion, challenger",
      "weight of 'shadow' is not a finite number ('Infinity')",
      "missing variant 'challenger': give every variant a weight (0 sends it no traffic)",
    ]);
    const zeros = await table.setWeights(model, { champion: 0, challenger: 0 }, { expectedVersion: 1, by: 'bob', reason: 'x' }).catch((e) => e);
    expect(zeros.problems).toEqual(['every weight is 0: at least one variant needs a positive weight']);
    expect((await table.get(model, { consistentRead: true }))!.version).toBe(1);
    await expect(table.setWeights('no-such-model', { a: 1 }, { expectedVersion: 1, by: 'bob', reason: 'x' })).rejects.toThrow(RoutingNotFoundError);
  });

  /** Stores `model` at `version` with a trail of `version` changes, each with `reason` (written directly: fast). */
  async function storeWithTrail(model: string, version: number, reason: string, by = 'loop'): Promise<void> {
    const trail: RoutingChange[] = Array.from({ length: version }, (_, i) => ({
      version: i + 1, at: new Date(clock).toISOString(), by, reason, from: { champion: i, challenger: 1 }, to: { champion: i + 1, challenger: 1 },
    }));
    await dynamo.send(new PutItemCommand({
      TableName: TABLE,
      Item: {
        ...routingKey(model), [RoutingAttributes.VERSION]: { N: String(version) }, [RoutingAttributes.TRAIL]: encodeTrail(trail),
        [RoutingAttributes.VARIANTS]: encodeVariants([{ name: 'champion', weight: version }, { name: 'challenger', weight: 1 }]),
      } as Record<string, AttributeValue>,
    }));
  }

  test(`the trail keeps the last ${RoutingLimits.TRAIL_ENTRIES} changes`, async () => {
    const model = `model-${++modelCount}`;
    await storeWithTrail(model, RoutingLimits.TRAIL_ENTRIES, 'step');
    await table.setWeights(model, { champion: 1, challenger: 1 }, { expectedVersion: RoutingLimits.TRAIL_ENTRIES, by: 'alice', reason: 'even' });
    const entry = (await table.get(model, { consistentRead: true }))!;
    expect(entry.version).toBe(RoutingLimits.TRAIL_ENTRIES + 1);
    expect(entry.trail).toHaveLength(RoutingLimits.TRAIL_ENTRIES);
    expect(entry.trail[0].version).toBe(2);
    expect(entry.trail.at(-1)).toMatchObject({ version: RoutingLimits.TRAIL_ENTRIES + 1, by: 'alice' });
  });

  test('longest by and reason: the trail stays within its byte bound, so the item stays far below 400 KB', async () => {
    const model = `model-${++modelCount}`;
    const reason = 'r'.repeat(RoutingLimits.REASON_CHARS);
    const by = 'b'.repeat(RoutingLimits.BY_CHARS);
    await storeWithTrail(model, RoutingLimits.TRAIL_ENTRIES, reason, by);
    await table.setWeights(model, { champion: 1, challenger: 1 }, { expectedVersion: RoutingLimits.TRAIL_ENTRIES, by, reason });
    const { Item } = await dynamo.send(new GetItemCommand({ TableName: TABLE, Key: routingKey(model) as Record<string, AttributeValue> }));
    expect(JSON.stringify(Item).length).toBeLessThan(RoutingLimits.TRAIL_BYTES * 1.5);
    const entry = (await table.get(model))!;
    expect(entry.trail.length).toBeLessThan(RoutingLimits.TRAIL_ENTRIES);
    expect(entry.trail.at(-1)!.version).toBe(RoutingLimits.TRAIL_ENTRIES + 1);
  });

  test('too long a reason or by is refused, naming the limit', async () => {
    const model = await seededModel();
    const error = await table.setWeights(model, { champion: 1, challenger: 1 }, {
      expectedVersion: 1, by: 'b'.repeat(RoutingLimits.BY_CHARS + 1), reason: 'r'.repeat(RoutingLimits.REASON_CHARS + 1),
    }).catch((e) => e);
    expect(error.problems).toEqual([
      `by has ${RoutingLimits.BY_CHARS + 1} characters; at most ${RoutingLimits.BY_CHARS}`,
      `the reason has ${RoutingLimits.REASON_CHARS + 1} characters; at most ${RoutingLimits.REASON_CHARS}`,
    ]);
  });
});

describe('CachedRoutingSource', () => {
  test('serves a read for its TTL (injected clock), then reads the change; an absent entry is cached too', async () => {
    const model = await seededModel();
    let now = 0;
    const source = new CachedRoutingSource({ table, now: () => now, deadlineMs: 2000 });
    expect(await source.variantsOf(model)).toEqual([{ name: 'champion', weight: 90 }, { name: 'challenger', weight: 10 }]);
    await table.setWeights(model, { champion: 0, challenger: 100 }, { expectedVersion: 1, by: 'alice', reason: 'promote' });
    now = 4999;
    expect(await source.variantsOf(model)).toEqual([{ name: 'champion', weight: 90 }, { name: 'challenger', weight: 10 }]);
    now = 5000;
    const current = await source.variantsOf(model);
    expect(current).toEqual([{ name: 'champion', weight: 0 }, { name: 'challenger', weight: 100 }]);
    expect(assignVariant('user-1', current!)).toBe('challenger');
    expect(await source.variantsOf('never-seeded')).toBeUndefined();
  });

  test('one read in flight per model, however many callers', async () => {
    const model = await seededModel();
    let reads = 0;
    const counted = new DynamoDBClient(localClientConfig(dynalite.endpoint));
    counted.middlewareStack.add((next) => (args) => { reads++; return next(args); }, { step: 'initialize' });
    const source = new CachedRoutingSource({ table: new RoutingTableClient({ client: counted, tableName: TABLE }), deadlineMs: 2000 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => source.variantsOf(model)));
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toHaveLength(2);
    expect(reads).toBe(1);
    counted.destroy();
  });

  test('keeps serving the last weights when the table fails, reports it, and reads again a second later', async () => {
    const model = await seededModel();
    const own = await startDynalite();
    const client = new DynamoDBClient({ ...localClientConfig(own.endpoint), maxAttempts: 1 });
    await createRoutingTable(client, TABLE);
    const ownTable = new RoutingTableClient({ client, tableName: TABLE });
    await ownTable.seed({ model, weights: { champion: 60, challenger: 40 }, by: 'deploy', reason: 'seed' });
    let now = 0;
    const errors: string[] = [];
    const source = new CachedRoutingSource({ table: ownTable, now: () => now, deadlineMs: 2000, onError: (m, e) => errors.push(`${m}: ${e.name}`) });
    const live = await source.variantsOf(model);
    expect(live).toEqual([{ name: 'champion', weight: 60 }, { name: 'challenger', weight: 40 }]);
    await own.stop();
    now = 6000;
    expect(await source.variantsOf(model)).toEqual(live);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^${model}: `));
    now = 6500;
    expect(await source.variantsOf(model)).toEqual(live);
    expect(errors).toHaveLength(1); // no read until FAILED_READ_RETRY_MS after the failure
    now = 6000 + FAILED_READ_RETRY_MS;
    expect(await source.variantsOf(model)).toEqual(live);
    expect(errors).toHaveLength(2);
    client.destroy();
    // Nothing read yet and the table unreachable: undefined (the caller's static weights), never a throw.
    const cold = new CachedRoutingSource({ table: ownTable, onError: (m, e) => errors.push(`${m}: ${e.name}`) });
    expect(await cold.variantsOf(model, { deadlineMs: 2000 })).toBeUndefined();
    expect(errors).toHaveLength(3);
  });

  test('a table that never answers costs a caller its deadline, not the client\'s timeout', async () => {
    // A TCP server that accepts and never answers: the read is cut by its deadline.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const client = new DynamoDBClient(localClientConfig(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`));
    const errors: Error[] = [];
    const source = new CachedRoutingSource({ table: new RoutingTableClient({ client, tableName: TABLE }), onError: (_m, e) => errors.push(e) });
    try {
      const started = Date.now();
      expect(await source.variantsOf('m', { deadlineMs: 50 })).toBeUndefined();
      const elapsed = Date.now() - started;
      // The client's own request timeout is 10 s (localClientConfig): the deadline cut the read far before it.
      expect(elapsed).toBeLessThan(5000);
      // The read itself goes on for the source's own deadline (for the next callers), then reports its failure.
      await new Promise((resolve) => setTimeout(resolve, DEFAULT_ROUTING_READ_DEADLINE_MS + 50));
      expect(errors.map((e) => e.name)).toEqual([expect.stringMatching(/TimeoutError|AbortError/)]);
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('npm run route (scripts/route.ts in a child process)', () => {
  const run = promisify(execFile);
  const route = (args: string[], env: Record<string, string> = {}) => run(
    path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'), [path.join(__dirname, '..', '..', 'scripts', 'route.ts'), ...args],
    { env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', USER: 'carol', ...env } },
  ).then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));

  test('show, set (reading the version first, then with --expected-version), history', async () => {
    const model = await seededModel('fraud-endpoint');
    const shown = await route(['show', model, '--table', TABLE]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`${model} version 1`);
    expect(shown.stdout).toMatch(/champion\s+90\s+90\.0 %/);
    expect(shown.stdout).toContain('endpoint fraud-endpoint');

    const set = await route(['set', model, 'champion=80', 'challenger=20', '--reason', 'canary step 1'], { [RoutingVariables.TABLE_NAME]: TABLE });
    expect(set).toMatchObject({ code: 0 });
    expect(set.stdout).toMatch(/version 2/);
    const again = await route(['set', model, 'champion=70', 'challenger=30', '--reason', 'step 2', '--expected-version', '2', '--by', 'dave', '--table', TABLE]);
    expect(again.stdout).toMatch(/version 3/);

    const history = await route(['history', model, '--table', TABLE]);
    expect(history.code).toBe(0);
    const lines = history.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^2 .*carol.*champion=90 challenger=10 → champion=80 challenger=20.*canary step 1/);
    expect(lines[2]).toMatch(/^3 .*dave/);

    const replaced = await route(['set', model, 'champion=90', 'challenger2=10', '--replace-variants', '--reason', 'endpoint variants changed', '--table', TABLE]);
    expect(replaced).toMatchObject({ code: 0 });
    expect(replaced.stdout).toMatch(/version 4: champion=70 challenger=30 → champion=90 challenger2=10/);
  }, 30_000);

  test('bad input: a clear error and a non-zero exit', async () => {
    const model = await seededModel();
    // Independent cases, run side by side (each child process pays tsx's start-up).
    const [stale, bad, invalid, noTable, missing, unknown] = await Promise.all([
      route(['set', model, 'champion=1', 'challenger=1', '--reason', 'x', '--expected-version', '9', '--table', TABLE]),
      route(['set', model, 'champion=abc', 'challenger', '--table', TABLE]),
      route(['set', model, 'champion=-1', 'challenger=1', '--reason', 'x', '--table', TABLE]),
      route(['show', model], { [RoutingVariables.TABLE_NAME]: '' }),
      route(['show', 'no-such-model', '--table', TABLE]),
      route(['set', model, 'champion=1', 'challenger2=1', '--reason', 'x', '--table', TABLE]),
    ]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/is at version 1, not 9/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'challenger' is not <variant>=<weight>/);
    expect(bad.stderr).toMatch(/--reason is required/);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/weight of 'champion' is negative/);
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toMatch(new RegExp(`--table or set ${RoutingVariables.TABLE_NAME}`));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no entry for model 'no-such-model'/);
    // Without --replace-variants, a new variant is refused.
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown variant 'challenger2'/);
  }, 30_000);
});
