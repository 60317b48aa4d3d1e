/**
 * The cost guard's degrade action end to end: the real handler against a routing table and the ledger on dynalite
 * (one instance for the file, port 0): a budget breach degrades once per budget and month (a repeated or concurrent
 * delivery does not degrade twice), each action's before/after is in the ledger, `revertDegrade` restores them and
 * refuses when someone changed the weights since, a failed action is resumed by the retry, and whatever else arrives
 * on the topic (warnings, other budgets, hostile messages) is logged and ignored, never thrown.
 *
 * SageMaker and Application Auto Scaling are played by aws-sdk-client-mock, as small stateful fakes of the calls the
 * code makes (DescribeScalableTargets/RegisterScalableTarget, DescribeEndpoint/UpdateEndpointWeightsAndCapacities):
 * there is no local SageMaker or Application Auto Scaling control plane to run them against.
 */
import {
  ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeEndpointCommand, SageMakerClient, UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import type { SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { revertDegrade } from '../../runtime/aws/degrade-actions';
import { claimDegrade, getDegrade, listDegrades } from '../../runtime/aws/degrade-ledger';
import { RoutingTableClient } from '../../runtime/aws/routing-table';
import { DEGRADE_FUNCTION_TIMEOUT_S, degradeEnvironment, DegradeVariables, parseDegradeEnvironment } from '../../runtime/contracts/degrade';
import {
  DegradeActionSpec, DegradeRevertRefusedError, LedgerAttributes, parseBudgetNotification,
} from '../../runtime/core/degrade';
import { DegradeMetricDimensions, DegradeMetrics, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { RoutingAttributes } from '../../runtime/core/routing';
import { createDegradeHandler, DegradeBusyError, DegradeIncompleteError } from '../../runtime/handlers/degrade-handler';
import { LocalService, localClientConfig, startDynalite } from '../support/local-aws';

const ROUTING = 'routing';
const LEDGER = 'degrade-ledger';
let dynalite: LocalService;
let dynamo: DynamoDBClient;
let routing: RoutingTableClient;
const sagemaker = new SageMakerClient({ region: 'us-east-1' });
const autoscaling = new ApplicationAutoScalingClient({ region: 'us-east-1' });
const sagemakerMock = mockClient(sagemaker);
const autoscalingMock = mockClient(autoscaling);
const clock = Date.parse('2026-12-03T10:00:00Z');

/** The control planes' state: autoscaled variants' capacities and fixed variants' instance counts, by resource. */
let targets: Map<string, { min: number; max: number }>;
let counts: Map<string, number>;

beforeAll(async () => {
  dynalite = await startDynalite();
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  for (const [name, key] of [[ROUTING, RoutingAttributes.MODEL], [LEDGER, LedgerAttributes.ID]]) {
    await dynamo.send(new CreateTableCommand({
      TableName: name, BillingMode: 'PAY_PER_REQUEST', KeySchema: [{ AttributeName: key, KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
    }));
  }
  routing = new RoutingTableClient({ client: dynamo, tableName: ROUTING });
});

afterAll(async () => {
  dynamo.destroy();
  await dynalite.stop();
});

beforeEach(() => {
  targets = new Map();
  counts = new Map();
  autoscalingMock.reset();
  sagemakerMock.reset();
  autoscalingMock.on(DescribeScalableTargetsCommand).callsFake((input) => {
    const target = targets.get(input.ResourceIds[0]);
    return { ScalableTargets: target ? [{ ResourceId: input.ResourceIds[0], MinCapacity: target.min, MaxCapacity: target.max }] : [] };
  });
  autoscalingMock.on(RegisterScalableTargetCommand).callsFake((input) => {
    targets.set(input.ResourceId, { min: input.MinCapacity, max: input.MaxCapacity });
    return {};
  });
  sagemakerMock.on(DescribeEndpointCommand).callsFake(describeEndpoint);
  sagemakerMock.on(UpdateEndpointWeightsAndCapacitiesCommand).callsFake((input) => {
    for (const v of input.DesiredWeightsAndCapacities) counts.set(`${input.EndpointName}/${v.VariantName}`, v.DesiredInstanceCount);
    return {};
  });
});

/** DescribeEndpoint on the fake: the endpoint's variants and their instance counts. */
const describeEndpoint = (input: { EndpointName: string }) => ({
  EndpointName: input.EndpointName,
  ProductionVariants: [...counts].filter(([k]) => k.startsWith(`${input.EndpointName}/`)).map(([k, n]) => ({ VariantName: k.split('/')[1], DesiredInstanceCount: n })),
});

const clients = (dynamodb = dynamo, now = clock) => ({ dynamodb, sagemaker, autoscaling, now: () => now });

/**
 * A client of the same dynalite whose first UpdateItem matching `fails` throws, before it is sent: a DynamoDB blip
 * (or the invocation dying) at that exact call, which the local server cannot produce on demand. A middleware on a
 * real client, not a mock: every other call reaches dynalite.
 */
function faultyDynamo(fails: (input: Record<string, any>) => boolean): DynamoDBClient {
  const client = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  let failed = false;
  client.middlewareStack.add((next, context) => async (args) => {
    if (!failed && context.commandName === 'UpdateItemCommand' && fails(args.input as Record<string, any>)) {
      failed = true;
      throw Object.assign(new Error('injected: the ledger was unreachable'), { name: 'InternalServerError' });
    }
    return next(args);
  }, { step: 'initialize', name: 'injectFault' });
  return client;
}

/** Whether an UpdateItem records action `index` of the ledger with `outcome`. */
const recordsAction = (index: number, outcome: string) => (input: Record<string, any>) =>
  input.TableName === LEDGER && input.ExpressionAttributeNames?.['#i'] === String(index) && JSON.parse(input.ExpressionAttributeValues?.[':a']?.S ?? '{}').outcome === outcome;

/** The text AWS Budgets publishes to SNS for a notification. */
function budgetMessage(budget: string, type: 'ACTUAL' | 'FORECASTED', percent: number, amount = 1012.34): string {
  return [
    'AWS Budget Notification December 03, 2026', 'AWS Account 123456789012', '', 'Dear AWS Customer,', '',
    `You requested that we alert you when the ${type} Cost associated with your ${budget} budget is greater than $${(10 * percent).toFixed(2)} for the current month.`, '',
    `Budget Name: ${budget}`, 'Budget Type: Cost', 'Budgeted Amount: $1,000.00', `Alert Type: ${type}`,
    `Alert Threshold: > $${(10 * percent).toFixed(2)}`, `${type} Amount: $${amount.toFixed(2)}`,
  ].join('\n');
}

let messages = 0;
const snsEvent = (message: unknown, timestamp = '2026-12-03T09:59:00.000Z'): SNSEvent => ({
  Records: [{ EventSource: 'aws:sns', EventVersion: '1.0', EventSubscriptionArn: 'arn', Sns: { Message: message, MessageId: `m-${++messages}`, Timestamp: timestamp } }],
} as unknown as SNSEvent);

let models = 0;
/** A routing entry gpu=90 cpu=10, an autoscaled variant (2..8) and a fixed one (3 instances), under names of their own. */
async function setting(): Promise<{ model: string; endpoint: string; actions: DegradeActionSpec[] }> {
  const model = `fraud-${++models}`;
  const endpoint = `endpoint-${models}`;
  await routing.seed({ model, weights: { gpu: 90, cpu: 10 }, by: 'deploy', reason: 'seeded by the test' });
  targets.set(`endpoint/${endpoint}/variant/gpu`, { min: 2, max: 8 });
  counts.set(`${endpoint}/cpu`, 3);
  return {
    model, endpoint,
    actions: [
      { kind: 'route', routingTableName: ROUTING, model, weights: { gpu: 0, cpu: 100 } },
      { kind: 'scale-to-minimum', endpointName: endpoint, variantName: 'gpu', minInstanceCount: 1 },
      { kind: 'scale-to-minimum', endpointName: endpoint, variantName: 'cpu', minInstanceCount: 1 },
    ],
  };
}

function handlerFor(actions: DegradeActionSpec[], lines: string[] = [], options: { dynamodb?: DynamoDBClient; now?: number } = {}) {
  return createDegradeHandler({ settings: { actions, ledgerTableName: LEDGER }, clients: clients(options.dynamodb, options.now), log: (line) => lines.push(line) });
}

/** The `reason` of each JSON log line (EMF lines have none). */
const reasons = (lines: string[]) => lines.map((l) => JSON.parse(l).reason).filter((r) => r !== undefined);
/** The EMF lines among the log lines. */
const emfLines = (lines: string[]) => lines.map((l) => JSON.parse(l)).filter((l) => l._aws);

/** The ledger on dynalite (a getter: the client exists once dynalite runs). */
const ledger = { get client() { return dynamo; }, tableName: LEDGER };
const weightsOf = async (model: string) => Object.fromEntries((await routing.get(model, { consistentRead: true }))!.variants.map((v) => [v.name, v.weight]));

test('a breach degrades: routing to the cheaper variant, autoscaling capped at its minimum, a fixed variant at its minimum; revert restores all', async () => {
  const { model, endpoint, actions } = await setting();
  await handlerFor(actions)(snsEvent(budgetMessage('platform-a', 'ACTUAL', 100)));

  expect(await weightsOf(model)).toEqual({ gpu: 0, cpu: 100 });
  const entry = (await routing.get(model, { consistentRead: true }))!;
  expect(entry.trail.at(-1)).toMatchObject({ version: 2, by: 'cost-guard', reason: expect.stringContaining("budget 'platform-a' ACTUAL 1012.34 crossed 100 %") });
  expect(targets.get(`endpoint/${endpoint}/variant/gpu`)).toEqual({ min: 2, max: 2 });
  expect(counts.get(`${endpoint}/cpu`)).toBe(1);
  const record = (await getDegrade(ledger, 'platform-a#2026-12'))!;
  expect(record).toMatchObject({ status: 'applied', attempts: 1, notification: { budgetName: 'platform-a', notificationType: 'ACTUAL', thresholdPercent: 100 } });
  expect(record.actions).toEqual({
    0: { outcome: 'applied', at: expect.any(String), before: { version: 1, weights: { gpu: 90, cpu: 10 } }, after: { version: 2, weights: { gpu: 0, cpu: 100 } } },
    1: { outcome: 'applied', at: expect.any(String), before: { mechanism: 'autoscaling', minCapacity: 2, maxCapacity: 8 }, after: { mechanism: 'autoscaling', minCapacity: 2, maxCapacity: 2 } },
    2: { outcome: 'applied', at: expect.any(String), before: { mechanism: 'instance-count', desiredInstanceCount: 3 }, after: { mechanism: 'instance-count', desiredInstanceCount: 1 } },
  });

  await revertDegrade({ ledger, clients: clients(), degrade: { id: 'platform-a#2026-12' }, by: 'alice' });
  expect(await weightsOf(model)).toEqual({ gpu: 90, cpu: 10 });
  expect((await routing.get(model, { consistentRead: true }))!.trail.at(-1)).toMatchObject({ version: 3, by: 'alice', reason: 'revert of cost guard degrade platform-a#2026-12' });
  expect(targets.get(`endpoint/${endpoint}/variant/gpu`)).toEqual({ min: 2, max: 8 });
  expect(counts.get(`${endpoint}/cpu`)).toBe(3);
  expect(await getDegrade(ledger, 'platform-a#2026-12')).toMatchObject({ status: 'reverted', revertedBy: 'alice', revertedAt: '2026-12-03T10:00:00.000Z' });
  await expect(revertDegrade({ ledger, clients: clients(), degrade: { id: 'platform-a#2026-12' }, by: 'alice' })).rejects.toThrow(/reverted already.*by alice/);
});

test('idempotent: a repeated delivery, a higher threshold and a concurrent delivery in the month degrade once', async () => {
  const { model, actions } = await setting();
  const lines: string[] = [];
  const handler = handlerFor(actions, lines);
  const message = budgetMessage('platform-b', 'ACTUAL', 100);
  // The concurrent delivery finds the degrade being applied: it throws (Lambda retries it) rather than report it done.
  const concurrent = await Promise.allSettled([handler(snsEvent(message)), handler(snsEvent(message))]);
  expect(concurrent.map((c) => c.status).sort()).toEqual(['fulfilled', 'rejected']);
  expect(concurrent.find((c) => c.status === 'rejected')).toMatchObject({ reason: expect.any(DegradeBusyError) });
  await handler(snsEvent(message));
  await handler(snsEvent(budgetMessage('platform-b', 'ACTUAL', 120), '2026-12-20T00:00:00.000Z'));
  expect((await routing.get(model, { consistentRead: true }))!.version).toBe(2);
  expect(sagemakerMock.commandCalls(UpdateEndpointWeightsAndCapacitiesCommand)).toHaveLength(1);
  expect(autoscalingMock.commandCalls(RegisterScalableTargetCommand)).toHaveLength(1);
  expect(reasons(lines).filter((r) => r === 'already-degraded')).toHaveLength(2);
  // Next month is another degrade.
  await handler(snsEvent(message, '2027-01-02T00:00:00.000Z'));
  expect(await getDegrade(ledger, 'platform-b#2027-01')).toMatchObject({ status: 'applied' });
});

test('a revert refuses, naming the change, when someone changed the weights since the degrade; nothing is restored', async () => {
  const { model, endpoint, actions } = await setting();
  await handlerFor(actions)(snsEvent(budgetMessage('platform-c', 'ACTUAL', 100)));
  await routing.setWeights(model, { gpu: 10, cpu: 90 }, { expectedVersion: 2, by: 'bob', reason: 'a little gpu back' });
  const registered = autoscalingMock.commandCalls(RegisterScalableTargetCommand).length;

  const revert = revertDegrade({ ledger, clients: clients(), degrade: 'last', by: 'alice' });
  await expect(revert).rejects.toThrow(DegradeRevertRefusedError);
  await expect(revert).rejects.toThrow(new RegExp(`routing of '${model}' is at version 3, not version 2 .*last changed by bob.*npm run route -- history ${model}`));
  expect(await weightsOf(model)).toEqual({ gpu: 10, cpu: 90 });
  expect(autoscalingMock.commandCalls(RegisterScalableTargetCommand)).toHaveLength(registered);
  expect(targets.get(`endpoint/${endpoint}/variant/gpu`)).toEqual({ min: 2, max: 2 });
  expect(await getDegrade(ledger, 'platform-c#2026-12')).toMatchObject({ status: 'applied' });
});

test('a failed action is recorded and thrown (Lambda retries); the retry resumes only what is pending', async () => {
  const { model, endpoint, actions } = await setting();
  sagemakerMock.on(DescribeEndpointCommand).rejectsOnce(Object.assign(new Error('Endpoint is updating'), { name: 'ValidationException' })).callsFake(describeEndpoint);
  const handler = handlerFor(actions);
  const event = snsEvent(budgetMessage('platform-d', 'ACTUAL', 100));
  await expect(handler(event)).rejects.toThrow(DegradeIncompleteError);
  const failed = (await getDegrade(ledger, 'platform-d#2026-12'))!;
  expect(failed.status).toBe('failed');
  expect(failed.actions[2]).toMatchObject({ outcome: 'failed', error: 'ValidationException: Endpoint is updating' });
  expect(counts.get(`${endpoint}/cpu`)).toBe(3);

  await handler(event);
  expect(await getDegrade(ledger, 'platform-d#2026-12')).toMatchObject({ status: 'applied', attempts: 2, actions: { 2: { outcome: 'applied' } } });
  expect(counts.get(`${endpoint}/cpu`)).toBe(1);
  expect((await routing.get(model, { consistentRead: true }))!.version).toBe(2);
  expect(autoscalingMock.commandCalls(RegisterScalableTargetCommand)).toHaveLength(1);
});

test('warnings, forecasts, other budgets and hostile messages are logged and ignored, never thrown', async () => {
  const { model, actions } = await setting();
  const lines: string[] = [];
  const handler = createDegradeHandler({
    settings: { actions, ledgerTableName: LEDGER, trigger: { notificationTypes: ['ACTUAL'], minThresholdPercent: 100, budgetName: 'platform-e' } },
    clients: clients(), log: (line) => lines.push(line),
  });
  const hostile: unknown[] = [
    budgetMessage('platform-e', 'ACTUAL', 95), budgetMessage('platform-e', 'FORECASTED', 100), budgetMessage('someone-else', 'ACTUAL', 100),
    'not json {{{', JSON.stringify({ budgetName: 'platform-e', alertType: 'ACTUAL' }), 42, null, 'x'.repeat(1 << 20),
    `Budget Name: ${'p'.repeat(1 << 20)}\nAlert Type: ACTUAL`, `Budget Name: platform-e\nAlert Type: ACTUAL\nBudgeted Amount: $0.00\nAlert Threshold: > $1\nACTUAL Amount: $2`,
    `${'\n'.repeat(1 << 20)}Budget Name: platform-e`, budgetMessage('platform-e', 'ACTUAL', 100).replace('$1,000.00', '1e400'),
  ];
  const started = Date.now();
  for (const message of hostile) await expect(handler(snsEvent(message))).resolves.toBeUndefined();
  for (const event of [undefined, {}, { Records: 'x' }, { Records: [null, {}, { Sns: null }] }]) await expect(handler(event as never)).resolves.toBeUndefined();
  expect(Date.now() - started).toBeLessThan(5000);
  expect(reasons(lines)).toEqual(['below-threshold', 'notification-type', 'other-budget', ...Array(9 + 6).fill('unparsed-notification')]);
  expect(emfLines(lines)).toHaveLength(9 + 6);
  expect((await routing.get(model, { consistentRead: true }))!.version).toBe(1);
  expect((await listDegrades(ledger)).filter((r) => r.id.startsWith('platform-e'))).toEqual([]);
});

test('reads the notification Budgets writes, amounts with separators, the threshold as a percentage', () => {
  expect(parseBudgetNotification(budgetMessage('b', 'FORECASTED', 80, 850))).toEqual({
    budgetName: 'b', notificationType: 'FORECASTED', budgetedAmount: 1000, thresholdAmount: 800, thresholdPercent: 80, amount: 850,
  });
});

test('the contract: the construct writes what the handler reads; a bad environment lists every problem', () => {
  const actions: DegradeActionSpec[] = [{ kind: 'scale-to-minimum', endpointName: 'e', variantName: 'v', minInstanceCount: 1 }];
  expect(parseDegradeEnvironment(degradeEnvironment({ actions, ledgerTableName: 'ledger' })))
    .toEqual({ actions, ledgerTableName: 'ledger', trigger: { notificationTypes: ['ACTUAL'], minThresholdPercent: 100 }, staleAfterMs: DEGRADE_FUNCTION_TIMEOUT_S * 1000 + 30_000 });
  expect(() => parseDegradeEnvironment({
    [DegradeVariables.ACTIONS]: JSON.stringify([{ kind: 'scale-to-minimum', endpointName: 'e', variantName: 'v', minInstanceCount: 0 }, { kind: 'route', routingTableName: 't', model: 'm', weights: { a: 0 } }]),
    [DegradeVariables.TRIGGER]: JSON.stringify({ notificationTypes: ['SOMETIMES'], minThresholdPercent: -1 }),
    [DegradeVariables.STALE_AFTER_MS]: '10',
  })).toThrow(/DEGRADE_LEDGER_TABLE_NAME is not set[\s\S]*DEGRADE_STALE_AFTER_MS=10[\s\S]*minInstanceCount must be an integer from 1[\s\S]*actions\[1\]\.weights[\s\S]*notificationTypes[\s\S]*minThresholdPercent/);
});

test('a scale state read for a variant the endpoint lacks fails the action with its name', async () => {
  const lines: string[] = [];
  const handler = handlerFor([{ kind: 'scale-to-minimum', endpointName: 'nowhere', variantName: 'ghost', minInstanceCount: 1 }], lines);
  await expect(handler(snsEvent(budgetMessage('platform-f', 'ACTUAL', 100)))).rejects.toThrow(DegradeIncompleteError);
  expect((await getDegrade(ledger, 'platform-f#2026-12'))!.actions[0]).toMatchObject({ outcome: 'failed', error: expect.stringContaining("no production variant 'ghost'") });
});

test('a ledger blip while recording an action: the degrade is marked failed and thrown; the retry resumes it (not a duplicate)', async () => {
  const { model, endpoint, actions } = await setting();
  const event = snsEvent(budgetMessage('platform-g', 'ACTUAL', 100));
  const faulty = faultyDynamo(recordsAction(0, 'applied'));
  await expect(handlerFor(actions, [], { dynamodb: faulty })(event)).rejects.toThrow(/injected/);
  expect(await getDegrade(ledger, 'platform-g#2026-12')).toMatchObject({ status: 'failed' });

  // Lambda's retry, about a minute later: well inside the stale cut-off, and still it resumes.
  await expect(handlerFor(actions, [], { now: clock + 60_000 })(event)).resolves.toBeUndefined();
  expect(await getDegrade(ledger, 'platform-g#2026-12')).toMatchObject({
    status: 'applied', attempts: 2, actions: { 0: { outcome: 'applied', before: { version: 1, weights: { gpu: 90, cpu: 10 } } }, 2: { outcome: 'applied' } },
  });
  expect(await weightsOf(model)).toEqual({ gpu: 0, cpu: 100 });
  expect(counts.get(`${endpoint}/cpu`)).toBe(1);
  faulty.destroy();
});

test('a crash between a change and its record keeps the BEFORE: the retry records it applied and the revert restores it', async () => {
  const { endpoint, actions } = await setting();
  const event = snsEvent(budgetMessage('platform-h', 'ACTUAL', 100));
  // The autoscaled variant is capped, then the record of that change is lost.
  const faulty = faultyDynamo(recordsAction(1, 'applied'));
  await expect(handlerFor(actions, [], { dynamodb: faulty })(event)).rejects.toThrow(/injected/);
  expect(targets.get(`endpoint/${endpoint}/variant/gpu`)).toEqual({ min: 2, max: 2 });
  expect((await getDegrade(ledger, 'platform-h#2026-12'))!.actions[1]).toMatchObject({ outcome: 'applying', before: { mechanism: 'autoscaling', minCapacity: 2, maxCapacity: 8 } });

  await handlerFor(actions, [], { now: clock + 60_000 })(event);
  expect((await getDegrade(ledger, 'platform-h#2026-12'))!.actions[1]).toMatchObject({
    outcome: 'applied', before: { mechanism: 'autoscaling', minCapacity: 2, maxCapacity: 8 }, after: { mechanism: 'autoscaling', minCapacity: 2, maxCapacity: 2 },
  });
  await revertDegrade({ ledger, clients: clients(), degrade: { id: 'platform-h#2026-12' }, by: 'alice' });
  expect(targets.get(`endpoint/${endpoint}/variant/gpu`)).toEqual({ min: 2, max: 8 });
  faulty.destroy();
});

test('a degrade left applying is not reported done: retries throw until the stale cut-off (timeout + margin), then resume it', async () => {
  const { model, actions } = await setting();
  const message = budgetMessage('platform-i', 'ACTUAL', 100);
  const notification = parseBudgetNotification(message)!;
  // An invocation claimed it and died (a timeout, a crash): the item stays `applying`.
  await claimDegrade(ledger, { id: 'platform-i#2026-12', notification, messageId: 'm-dead', plan: actions, at: new Date(clock).toISOString(), staleBefore: new Date(clock).toISOString() });
  const { staleAfterMs } = parseDegradeEnvironment(degradeEnvironment({ actions, ledgerTableName: LEDGER }));
  expect(staleAfterMs).toBeGreaterThan(DEGRADE_FUNCTION_TIMEOUT_S * 1000);

  const lines: string[] = [];
  for (const after of [60_000, staleAfterMs - 1]) {
    const retry = createDegradeHandler({ settings: { actions, ledgerTableName: LEDGER, staleAfterMs }, clients: clients(dynamo, clock + after), log: (l) => lines.push(l) });
    await expect(retry(snsEvent(message))).rejects.toThrow(DegradeBusyError);
  }
  expect(reasons(lines)).toEqual(['degrade-busy', 'degrade-busy']);
  expect(await weightsOf(model)).toEqual({ gpu: 90, cpu: 10 });

  // Lambda's second retry, about 3 minutes after the first attempt, is past the cut-off: it resumes and applies.
  const late = createDegradeHandler({ settings: { actions, ledgerTableName: LEDGER, staleAfterMs }, clients: clients(dynamo, clock + 3 * 60_000), log: () => undefined });
  await late(snsEvent(message));
  expect(await getDegrade(ledger, 'platform-i#2026-12')).toMatchObject({ status: 'applied', attempts: 2 });
  expect(await weightsOf(model)).toEqual({ gpu: 0, cpu: 100 });
});

test('a revert racing a retry that resumes the degrade refuses, restoring nothing; run again, it restores every action', async () => {
  const { model, endpoint, actions } = await setting();
  sagemakerMock.on(DescribeEndpointCommand).rejectsOnce(Object.assign(new Error('Endpoint is updating'), { name: 'ValidationException' })).callsFake(describeEndpoint);
  const handler = handlerFor(actions);
  const event = snsEvent(budgetMessage('platform-j', 'ACTUAL', 100));
  await expect(handler(event)).rejects.toThrow(DegradeIncompleteError);
  expect(await getDegrade(ledger, 'platform-j#2026-12')).toMatchObject({ status: 'failed' });

  // While the revert checks the targets, Lambda's retry resumes the degrade and applies the failed action.
  let race = true;
  autoscalingMock.on(DescribeScalableTargetsCommand).callsFake(async (input) => {
    if (race) {
      race = false;
      await handler(event);
    }
    const target = targets.get(input.ResourceIds[0]);
    return { ScalableTargets: target ? [{ ResourceId: input.ResourceIds[0], MinCapacity: target.min, MaxCapacity: target.max }] : [] };
  });
  await expect(revertDegrade({ ledger, clients: clients(), degrade: { id: 'platform-j#2026-12' }, by: 'alice' })).rejects.toThrow(/changed while it was reverted/);
  expect(await weightsOf(model)).toEqual({ gpu: 0, cpu: 100 });
  expect(counts.get(`${endpoint}/cpu`)).toBe(1);
  expect(await getDegrade(ledger, 'platform-j#2026-12')).toMatchObject({ status: 'applied', attempts: 2 });

  await revertDegrade({ ledger, clients: clients(), degrade: { id: 'platform-j#2026-12' }, by: 'alice' });
  expect(await weightsOf(model)).toEqual({ gpu: 90, cpu: 10 });
  expect(targets.get(`endpoint/${endpoint}/variant/gpu`)).toEqual({ min: 2, max: 8 });
  expect(counts.get(`${endpoint}/cpu`)).toBe(3);
  expect(await getDegrade(ledger, 'platform-j#2026-12')).toMatchObject({ status: 'reverted' });
  // A retry of a reverted degrade is a duplicate: nothing degraded again.
  await handler(event);
  expect(await weightsOf(model)).toEqual({ gpu: 90, cpu: 10 });
});

test('CloudWatch alarms on the shared topic are ignored quietly; an unreadable Budgets message is a WARN and an EMF count', async () => {
  const { model, actions } = await setting();
  const lines: string[] = [];
  const handler = handlerFor(actions, lines);
  const alarm = JSON.stringify({ AlarmName: 'gateway-5xx', NewStateValue: 'ALARM', OldStateValue: 'OK', NewStateReason: 'Threshold Crossed', Trigger: {} });
  const changedFormat = budgetMessage('platform-k', 'ACTUAL', 100).replace('Budget Name:', 'Budget:');
  await handler(snsEvent(alarm));
  expect(reasons(lines)).toEqual(['cloudwatch-alarm']);
  expect(emfLines(lines)).toEqual([]);

  await handler(snsEvent(changedFormat));
  const warn = lines.map((l) => JSON.parse(l)).find((l) => l.reason === 'unparsed-notification');
  expect(warn).toMatchObject({ level: 'WARN', messageChars: changedFormat.length });
  const [emf] = emfLines(lines);
  expect(emf._aws.CloudWatchMetrics).toEqual([{
    Namespace: METRICS_NAMESPACE, Dimensions: [[DegradeMetricDimensions.LEDGER]], Metrics: [{ Name: DegradeMetrics.UNPARSED_NOTIFICATIONS, Unit: 'Count' }],
  }]);
  expect(emf).toMatchObject({ [DegradeMetricDimensions.LEDGER]: LEDGER, [DegradeMetrics.UNPARSED_NOTIFICATIONS]: 1 });
  expect(await weightsOf(model)).toEqual({ gpu: 90, cpu: 10 });
});
