/**
 * A canary rollout end to end on loopback: two real inference servers (champion and challenger), the gateway routing
 * by the routing table (dynalite) with the table's shadow, and the rollout controller stepping the weights from the
 * metrics the gateway emits as EMF (read back as CloudWatch would aggregate them: runtime/local/emf-observations.ts).
 * The controller's clock advances one evaluation interval per evaluation, so bake times pass without waiting; the
 * traffic, the model calls, the routing reads and writes and the fault (a challenger frozen with SIGSTOP) are real.
 * SageMaker's variant weights follow the table through the routing sync handler, fed the stream records of each change;
 * its UpdateEndpointWeightsAndCapacities calls go to aws-sdk-client-mock: there is no local SageMaker control plane.
 */
import * as path from 'path';
import { AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SageMakerClient, UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { fraudPrescreenInputs, transaction } from '../../examples/fraud-features';
import { CachedRoutingSource, RoutingTableClient } from '../../runtime/aws/routing-table';
import { SageMakerModelInvoker } from '../../runtime/aws/sagemaker-model-invoker';
import { GatewayConfig, GatewayCore } from '../../runtime/core/gateway-core';
import { toEmf } from '../../runtime/core/metrics';
import { PredictionLogRecord } from '../../runtime/core/prediction-log';
import { seededRandom } from '../../runtime/core/random';
import { RolloutController, RolloutPlan, RolloutState, RoutingDecision } from '../../runtime/core/rollout';
import { routingKey } from '../../runtime/core/routing';
import { routingTableApplier } from '../../runtime/handlers/rollout-handler';
import { createRoutingSync } from '../../runtime/handlers/routing-sync-handler';
import { EmfObservations } from '../../runtime/local/emf-observations';
import { VariantRouter } from '../../runtime/local/variant-router';
import { ServerProcess, startVariantServers } from '../inference-server/server-process';
import { createRoutingTable, LocalService, localClientConfig, startDynalite } from '../support/local-aws';

const MODEL_FILE = path.join(__dirname, '..', '..', 'examples', 'models', 'fraud-prescreen.onnx');
const MODEL = 'prescreen';
const INTERVAL_MS = 60_000;

const config: GatewayConfig = {
  model: MODEL, modelVersion: '1', views: [], requestSource: transaction.toSpec(), featureRefs: fraudPrescreenInputs,
  inputName: 'features', deadlineMs: 1500, fallbackOutputs: { probability: [0.5] }, defaultTier: 'critical',
  variants: [{ name: 'champion', weight: 1 }, { name: 'challenger', weight: 0 }],
  // One gateway for both variants: a frozen challenger must not open the breaker for the champion's calls too.
  breaker: { failureThreshold: 1_000_000, openMs: 1000 },
};

/** Guardrails a healthy challenger meets on a loaded CI machine; bakes of one interval, decisions on one evaluation. */
const basePlan: RolloutPlan = {
  model: MODEL, champion: 'champion', challenger: 'challenger',
  steps: [{ percent: 5, bakeMs: INTERVAL_MS }, { percent: 20, bakeMs: INTERVAL_MS }, { percent: 50, bakeMs: INTERVAL_MS }, { percent: 100, bakeMs: INTERVAL_MS }],
  evaluation: { intervalMs: INTERVAL_MS, healthyEvaluations: 1, unhealthyEvaluations: 1, maxMissingEvaluations: 2 },
  guardrails: { maxErrorPercent: 1, maxFallbackPercent: 5, maxLatencyP99Ms: 1000, minRequests: 5 },
};

let dynalite: LocalService;
let dynamo: DynamoDBClient;
let table: RoutingTableClient;
let servers: Record<string, ServerProcess> = {};

beforeAll(async () => {
  [dynalite, servers] = await Promise.all([startDynalite(), startVariantServers(MODEL, { champion: MODEL_FILE, challenger: MODEL_FILE })]);
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await createRoutingTable(dynamo, 'routing');
  table = new RoutingTableClient({ client: dynamo, tableName: 'routing' });
});

afterAll(async () => {
  servers.challenger?.child.kill('SIGCONT');
  dynamo?.destroy();
  await Promise.all([dynalite?.stop(), ...Object.values(servers).map((s) => s.stop())]);
});

/** The gateway (reading the table on every request), the EMF it emits, the controller over the table and that EMF. */
function platform() {
  const emf = new EmfObservations();
  const logged: PredictionLogRecord[] = [];
  const invoker = (server: ServerProcess) => new SageMakerModelInvoker(new SageMakerRuntimeClient({ ...localClientConfig(server.url), maxAttempts: 1 }), MODEL);
  const gateway = new GatewayCore(config, {
    model: new VariantRouter({ champion: invoker(servers.champion), challenger: invoker(servers.challenger) }),
    routing: new CachedRoutingSource({ table, ttlMs: 0, deadlineMs: 1000 }),
    predictionLog: { write: (record) => { logged.push(record); return true; }, close: async () => undefined },
    metrics: (dimensions, data) => emf.add(toEmf(dimensions, data)),
  });
  let clock = Date.now();
  const states: RolloutState[] = [];
  const routings: RoutingDecision[] = [];
  const applyRouting = routingTableApplier(table);
  // SageMaker's weights follow the table: each change's stream record (old and new image) goes to the routing sync.
  const sagemaker = mockClient(SageMakerClient);
  sagemaker.on(UpdateEndpointWeightsAndCapacitiesCommand).resolves({ EndpointArn: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/prescreen' });
  const sync = createRoutingSync({ sagemaker: new SageMakerClient({ region: 'us-east-1' }), log: () => undefined, retryBaseMs: 5, retryForMs: 100 });
  const rawItem = async () => (await dynamo.send(new GetItemCommand({ TableName: 'routing', Key: routingKey(MODEL) as Record<string, AttributeValue>, ConsistentRead: true }))).Item;
  let sequence = 0;
  const controller = new RolloutController({
    observe: emf.observe,
    applyRouting: async (plan, routing, author) => {
      routings.push(routing);
      const before = await rawItem();
      await applyRouting(plan, routing, author);
      const after = await rawItem();
      const record = { eventName: 'MODIFY' as const, dynamodb: { Keys: routingKey(MODEL) as any, OldImage: before as any, NewImage: after as any, SequenceNumber: String(++sequence).padStart(21, '0'), StreamViewType: 'NEW_AND_OLD_IMAGES' as const } };
      expect((await sync({ Records: [record] })).batchItemFailures).toEqual([]);
    },
    saveState: async (state) => { states.push(state); },
    now: () => clock,
  });
  const random = seededRandom(7);
  /** `n` requests from distinct users, 20 at a time; every one answered 200 (by a model, or a marked fallback). */
  const traffic = async (n: number) => {
    const answers: Array<{ variant?: string; fallback: boolean; fallbackReason?: string; outputs: unknown }> = [];
    for (let i = 0; i < n; i += 20) {
      answers.push(...await Promise.all(Array.from({ length: Math.min(20, n - i) }, async () => {
        const userId = `user-${Math.floor(random() * 1e9)}`;
        const body = { userId, request: { amount: Math.round(random() * 500), card_present: random() < 0.5, hour_of_day: Math.floor(random() * 24) } };
        const response = await gateway.handle({ model: MODEL, body: JSON.stringify(body), requestId: `r-${userId}` });
        expect(response.statusCode).toBe(200);
        return JSON.parse(response.body);
      })));
    }
    return answers;
  };
  const evaluate = async (plan: RolloutPlan, state: RolloutState) => {
    clock += INTERVAL_MS;
    return controller.evaluate(plan, state);
  };
  /** The weights pushed to SageMaker, in order (UpdateEndpointWeightsAndCapacities through the mock). */
  const sageMakerWeights = () => sagemaker.commandCalls(UpdateEndpointWeightsAndCapacitiesCommand)
    .map((call) => Object.fromEntries((call.args[0].input.DesiredWeightsAndCapacities ?? []).map((d) => [d.VariantName, d.DesiredWeight])));
  return { controller, traffic, evaluate, logged, states, routings, sageMakerWeights, restore: () => sagemaker.restore() };
}

const weightsOf = async () => Object.fromEntries((await table.get(MODEL))!.variants.map((v) => [v.name, v.weight]));

test('shadow until its exit criteria are met, then 5 → 20 → 50 → 100 % on the metrics the gateway emits', async () => {
  await table.seed({ model: MODEL, weights: { champion: 100, challenger: 0 }, endpointName: MODEL, by: 'deploy', reason: 'the test starts on the champion' });
  const { controller, traffic, evaluate, logged, restore } = platform();
  const plan: RolloutPlan = { ...basePlan, shadow: { percent: 100, exitCriteria: { minComparedRequests: 40, maxDivergence: 0.01, maxLatencyP99Ms: 1000, maxDurationMs: 10 * INTERVAL_MS } } };
  let state = await controller.start(plan, 'test');
  expect(state.phase).toBe('shadow');
  expect((await table.get(MODEL))!.shadow).toEqual({ variant: 'challenger', percent: 100 });

  // Shadow: callers only ever get the champion's answer; the challenger's answers are logged beside them.
  const shadowed = await traffic(60);
  expect(shadowed.every((a) => a.variant === 'champion' && !a.fallback)).toBe(true);
  expect(logged.filter((r) => r.shadow && r.variant === 'challenger').length).toBeGreaterThanOrEqual(40);
  ({ state } = await evaluate(plan, state)); // same model on both: divergence 0, 60 compared → the first canary step
  expect(state).toMatchObject({ phase: 'canary', stepIndex: 0 });
  expect(await weightsOf()).toEqual({ champion: 95, challenger: 5 });
  expect((await table.get(MODEL))!.shadow ?? null).toBeNull();

  for (const [stepIndex, challengerPercent] of [[1, 20], [2, 50], [3, 100]] as const) {
    const answers = await traffic(200);
    expect(answers.every((a) => !a.fallback)).toBe(true);
    ({ state } = await evaluate(plan, state));
    expect(state).toMatchObject({ phase: 'canary', stepIndex });
    expect(await weightsOf()).toEqual({ champion: 100 - challengerPercent, challenger: challengerPercent });
  }
  const last = await traffic(100);
  expect(last.every((a) => a.variant === 'challenger')).toBe(true);
  ({ state } = await evaluate(plan, state));
  expect(state.phase).toBe('promoted');
  restore();
});

test('a challenger that fails mid-rollout is rolled back within one evaluation; every request is answered', async () => {
  await table.seed({ model: MODEL, weights: { champion: 100, challenger: 0 }, endpointName: MODEL, by: 'deploy', reason: 'the test starts on the champion' });
  const { controller, traffic, evaluate, sageMakerWeights, restore } = platform();
  let state = await controller.start(basePlan, 'test');
  await traffic(200);
  ({ state } = await evaluate(basePlan, state));
  expect(await weightsOf()).toEqual({ champion: 80, challenger: 20 });

  servers.challenger.child.kill('SIGSTOP'); // frozen: its calls time out at the deadline
  try {
    const during = await traffic(100);
    // Nothing lost: the challenger's share answered with the marked fallback, the champion's by the model.
    const fellBack = during.filter((a) => a.fallback);
    expect(fellBack.length).toBeGreaterThan(0);
    expect(fellBack.every((a) => a.fallbackReason === 'MODEL_TIMEOUT')).toBe(true);
    expect(during.filter((a) => !a.fallback).every((a) => a.variant === 'champion')).toBe(true);

    const { decision } = await evaluate(basePlan, state);
    ({ state } = { state: decision.state });
    expect(decision.action).toBe('rollback');
    expect(state.phase).toBe('rolled-back');
    expect(await weightsOf()).toEqual({ champion: 100, challenger: 0 });
    // Callers that bypass the gateway follow too: SageMaker got every step and the rollback.
    expect(sageMakerWeights()).toEqual([{ champion: 95, challenger: 5 }, { champion: 80, challenger: 20 }, { champion: 100, challenger: 0 }]);
    const audit = (await table.get(MODEL))!.trail.at(-1)!;
    expect(audit.by).toBe('rollout-controller');
    expect(audit.reason).toMatch(/rollout .*: /);

    // The next requests are the champion's, answered by the model, the challenger still frozen.
    const after = await traffic(60);
    expect(after.every((a) => a.variant === 'champion' && !a.fallback)).toBe(true);
  } finally {
    servers.challenger.child.kill('SIGCONT');
    restore();
  }
});
