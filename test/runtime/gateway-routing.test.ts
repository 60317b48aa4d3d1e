/**
 * The gateway's seams end to end on loopback: live variant weights from the routing table (dynalite) assigning users
 * to two real inference servers, one per variant; and the gateway Lambda handler built from its environment contract
 * with the model embedded in the function (no store, no endpoint: request-time features only).
 */
import * as path from 'path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { fraudPrescreenInputs, transaction } from '../../examples/fraud-features';
import { CachedRoutingSource, RoutingTableClient } from '../../runtime/aws/routing-table';
import { SageMakerModelInvoker } from '../../runtime/aws/sagemaker-model-invoker';
import { gatewayEnvironment } from '../../runtime/contracts/gateway';
import { GatewayConfig, GatewayCore } from '../../runtime/core/gateway-core';
import { PredictionLogRecord } from '../../runtime/core/prediction-log';
import { assignVariant } from '../../runtime/core/variant-assignment';
import { gatewayFromEnvironment } from '../../runtime/handlers/gateway-handler';
import { VariantRouter } from '../../runtime/local/variant-router';
import { ServerProcess, startVariantServers } from '../inference-server/server-process';
import { createRoutingTable, LocalService, localClientConfig, startDynalite } from '../support/local-aws';

const MODEL_FILE = path.join(__dirname, '..', '..', 'examples', 'models', 'fraud-prescreen.onnx');
const ROUTING_TABLE = 'routing';
const USERS = Array.from({ length: 200 }, (_, i) => `user-${i}`);

const config: GatewayConfig = {
  model: 'prescreen', modelVersion: '1', views: [], requestSource: transaction.toSpec(), featureRefs: fraudPrescreenInputs,
  // A generous deadline: this file tests assignment, not deadlines (a loaded CI machine must not turn answers into fallbacks).
  inputName: 'features', deadlineMs: 20_000, fallbackOutputs: { probability: [0.5] }, defaultTier: 'critical',
  // The weights fixed at deploy: everyone on the champion.
  variants: [{ name: 'champion', weight: 1 }, { name: 'challenger', weight: 0 }],
};
const request = { amount: 42, card_present: true, hour_of_day: 9 };

let dynalite: LocalService;
let dynamo: DynamoDBClient;
let table: RoutingTableClient;
let servers: Record<string, ServerProcess> = {};

beforeAll(async () => {
  [dynalite, servers] = await Promise.all([startDynalite(), startVariantServers('prescreen', { champion: MODEL_FILE, challenger: MODEL_FILE })]);
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await createRoutingTable(dynamo, ROUTING_TABLE);
  table = new RoutingTableClient({ client: dynamo, tableName: ROUTING_TABLE });
  await table.seed({ model: 'prescreen', weights: { champion: 90, challenger: 10 }, by: 'deploy', reason: 'seeded by the test' });
});

afterAll(async () => {
  dynamo?.destroy();
  await Promise.all([dynalite?.stop(), ...Object.values(servers).map((s) => s.stop())]);
});

/** `fn` over `items`, 20 at a time (one worker per server: no point queueing 200 requests at once). */
async function inChunks<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += 20) results.push(...await Promise.all(items.slice(i, i + 20).map(fn)));
  return results;
}

/** A gateway over the two servers (SageMaker's TargetVariant routing played by VariantRouter) reading `routing`. */
function gatewayReading(routing: CachedRoutingSource | undefined) {
  const logged: PredictionLogRecord[] = [];
  const metrics: string[][] = [];
  const invoker = (server: ServerProcess) => new SageMakerModelInvoker(new SageMakerRuntimeClient({ ...localClientConfig(server.url), maxAttempts: 1 }), 'prescreen');
  const core = new GatewayCore(config, {
    model: new VariantRouter({ champion: invoker(servers.champion), challenger: invoker(servers.challenger) }),
    routing,
    predictionLog: { write: (record) => { logged.push(record); return true; }, close: async () => undefined },
    metrics: (_dimensions, data) => metrics.push(data.map((d) => d.name)),
  });
  const predict = async (userId: string) => {
    const response = await core.handle({ model: 'prescreen', body: JSON.stringify({ request, userId }), requestId: `r-${userId}-${Math.random()}` });
    expect(response.statusCode).toBe(200);
    return JSON.parse(response.body) as { variant: string; fallback: boolean };
  };
  return { predict, logged, metrics };
}

describe('live weights from the routing table', () => {
  test('users are assigned by consistent hash against the table\'s weights, and follow a change once the cache expires', async () => {
    let clock = 1_000_000;
    // A generous read deadline: this test is about assignment. With the default one, a read slowed by a loaded machine
    // fails, the frozen clock never makes it due again, and every user gets the deploy-time weights (all champion).
    const routing = new CachedRoutingSource({ table, ttlMs: 5000, deadlineMs: 10_000, now: () => clock });
    const { predict, logged } = gatewayReading(routing);
    // Warm, as a container is after its first request (cold reads: below).
    expect(await routing.variantsOf('prescreen')).toEqual([{ name: 'champion', weight: 90 }, { name: 'challenger', weight: 10 }]);

    const before = await inChunks(USERS, async (user) => [user, (await predict(user)).variant] as const);
    // The table's 90/10, not the deploy-time 100/0: the answering server says which variant it is.
    const expected = (weights: Record<string, number>, user: string) => assignVariant(user, Object.entries(weights).map(([name, weight]) => ({ name, weight })), 'prescreen');
    for (const [user, variant] of before) expect(variant).toBe(expected({ champion: 90, challenger: 10 }, user));
    const onChallenger = before.filter(([, v]) => v === 'challenger').map(([u]) => u);
    expect(onChallenger.length).toBeGreaterThan(5);
    expect(onChallenger.length).toBeLessThan(40);
    expect(logged.filter((r) => r.variant === 'challenger')).toHaveLength(onChallenger.length);

    const { version } = (await table.get('prescreen'))!;
    await table.setWeights('prescreen', { champion: 70, challenger: 30 }, { expectedVersion: version, by: 'test', reason: 'canary step' });
    // Within the TTL the cached weights still hold.
    expect((await predict(onChallenger[0])).variant).toBe('challenger');
    clock += 5001;
    // The first request after the TTL reads again (awaited here, so that a slow read cannot leave early users on the cached weights).
    expect(await routing.variantsOf('prescreen')).toEqual([{ name: 'champion', weight: 70 }, { name: 'challenger', weight: 30 }]);
    const after = await inChunks(USERS, async (user) => [user, (await predict(user)).variant] as const);
    for (const [user, variant] of after) expect(variant).toBe(expected({ champion: 70, challenger: 30 }, user));
    // Shifting weight moves only users in the shifted slice: nobody leaves the challenger.
    const afterByUser = new Map(after);
    for (const user of onChallenger) expect(afterByUser.get(user)).toBe('challenger');
    expect(after.filter(([, v]) => v === 'challenger').length).toBeGreaterThan(onChallenger.length);
  });

  test('a read slower than a caller\'s share of the deadline still fills the cache for the next callers', async () => {
    const slow = new DynamoDBClient(localClientConfig(dynalite.endpoint));
    slow.middlewareStack.add((next) => async (args) => { await new Promise((r) => setTimeout(r, 150)); return next(args); }, { step: 'initialize' });
    const routing = new CachedRoutingSource({ table: new RoutingTableClient({ client: slow, tableName: ROUTING_TABLE }), deadlineMs: 2000 });
    expect(await routing.variantsOf('prescreen', { deadlineMs: 10 })).toBeUndefined(); // this caller moves on with the static weights
    await new Promise((r) => setTimeout(r, 400));
    expect(await routing.variantsOf('prescreen', { deadlineMs: 10 })).toEqual((await table.get('prescreen'))!.variants);
    slow.destroy();
  });

  test('weights for variants the gateway does not serve are ignored (and counted), never followed into errors', async () => {
    await table.seed({ model: 'renamed', weights: { champion: 1, challenger2: 99 }, by: 'deploy', reason: 'a variant the gateway does not know' });
    const routing = new CachedRoutingSource({ table, deadlineMs: 2000 });
    const gateway = gatewayReading(routing);
    const core = new GatewayCore({ ...config, model: 'renamed' }, {
      model: new VariantRouter({ champion: new SageMakerModelInvoker(new SageMakerRuntimeClient({ ...localClientConfig(servers.champion.url), maxAttempts: 1 }), 'prescreen') }),
      routing, metrics: (_d, data) => gateway.metrics.push(data.map((d) => d.name)),
    });
    for (const user of USERS.slice(0, 10)) {
      const response = await core.handle({ model: 'renamed', body: JSON.stringify({ request, userId: user }), requestId: `r-${user}` });
      expect(JSON.parse(response.body)).toMatchObject({ variant: 'champion', fallback: false });
    }
    expect(gateway.metrics.filter((names) => names.includes('RoutingWeightsIgnored'))).toHaveLength(10);
  });

  test('an unreadable table leaves the deploy-time weights in charge, and answers go on', async () => {
    const failures: string[] = [];
    const routing = new CachedRoutingSource({
      table: new RoutingTableClient({ client: dynamo, tableName: 'no-such-table' }), onError: (model, error) => failures.push(`${model}: ${error.name}`),
    });
    const { predict } = gatewayReading(routing);
    for (const user of USERS.slice(0, 20)) expect(await predict(user)).toMatchObject({ variant: 'champion', fallback: false });
    expect(failures[0]).toMatch(/^prescreen: ResourceNotFoundException/);
  });
});

describe('the gateway handler from its environment, with the model embedded', () => {
  function event(body: unknown): APIGatewayProxyEvent {
    return {
      body: JSON.stringify(body), isBase64Encoded: false, pathParameters: { model: 'prescreen' },
      requestContext: { requestId: `req-${Math.random()}`, identity: { apiKeyId: null } },
    } as unknown as APIGatewayProxyEvent;
  }

  test('scores request-time features in the function itself: no table, no endpoint, no network', async () => {
    const env = gatewayEnvironment({ config: { ...config, variants: undefined }, backend: { kind: 'embedded', modelPath: MODEL_FILE } });
    const handler = gatewayFromEnvironment({ ...env, AWS_REGION: 'us-east-1' });
    const answer = await handler(event({ request }));
    expect(answer.statusCode).toBe(200);
    const body = JSON.parse(answer.body);
    expect(body).toMatchObject({ model: 'prescreen', variant: 'embedded', fallback: false });
    expect(body.outputs.probability[0]).toBeGreaterThan(0);
    expect(body.outputs.probability[0]).toBeLessThan(1);
    const bad = await handler(event({ request: { ...request, amount: 'lots' } }));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/request\.amount: expected a finite float64/);
  });
});
