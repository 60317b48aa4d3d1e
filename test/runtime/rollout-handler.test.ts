/**
 * The rollout handler end to end: the rollout store and the routing table on dynalite, the rollout topic on fauxqs
 * (SNS fanning out to an SQS queue the test reads), the controller deciding from what CloudWatch reports.
 * CloudWatch has no local stand-in (no loopback server answers DescribeAlarms or GetMetricData), so its client is
 * mocked with aws-sdk-client-mock, and only it: the test scripts the alarm states and metric values it reports and
 * checks the queries the adapter sends.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand, GetMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { RolloutMetrics, RolloutSettings, RolloutVariables } from '../../runtime/contracts/rollout';
import { cloudWatchObserver } from '../../runtime/aws/rollout-observations';
import { acquire, load, lockOf } from '../../runtime/aws/rollout-store';
import { RoutingTableClient } from '../../runtime/aws/routing-table';
import { ROLLOUT_CONTROLLER, type RolloutPlan, type RolloutState } from '../../runtime/core/rollout';
import { createRolloutHandler } from '../../runtime/handlers/rollout-handler';
import { createRolloutTable, createRoutingTable, LocalService, localClientConfig, startDynalite, startSqsStandIn } from '../support/local-aws';

const T0 = Date.parse('2026-12-01T00:00:00Z');
let clock = T0;
let dynalite: LocalService;
let fauxqs: LocalService;
let dynamo: DynamoDBClient;
let sns: SNSClient;
let sqs: SQSClient;
let queueUrl: string;
let topicArn: string;
const cloudwatch = new CloudWatchClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const cw = mockClient(cloudwatch);
let routing: RoutingTableClient;

beforeAll(async () => {
  [dynalite, fauxqs] = await Promise.all([startDynalite(), startSqsStandIn()]);
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  sns = new SNSClient(localClientConfig(fauxqs.endpoint));
  sqs = new SQSClient(localClientConfig(fauxqs.endpoint));
  await Promise.all([createRolloutTable(dynamo, 'rollouts'), createRoutingTable(dynamo, 'routing')]);
  routing = new RoutingTableClient({ client: dynamo, tableName: 'routing', now: () => clock });
  topicArn = (await sns.send(new CreateTopicCommand({ Name: 'rollouts' }))).TopicArn!;
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'rollout-notifications' }))).QueueUrl!;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn, Attributes: { RawMessageDelivery: 'true' } }));
});

afterAll(async () => {
  for (const client of [dynamo, sns, sqs]) client.destroy();
  await Promise.all([dynalite.stop(), fauxqs.stop()]);
});

let models = 0;
/** A model seeded in the routing table with all traffic on the champion, and a handler deploying a plan for it. */
async function setUp(planOverrides: Partial<RolloutPlan> = {}) {
  const model = `fraud-${++models}`;
  await routing.seed({ model, weights: { champion: 100, challenger: 0 }, by: 'deploy', reason: 'seeded by the test' });
  const plan: RolloutPlan = {
    model, champion: 'champion', challenger: 'challenger',
    steps: [{ percent: 50, bakeMs: 60_000 }, { percent: 100, bakeMs: 60_000 }],
    evaluation: { intervalMs: 60_000, healthyEvaluations: 1, unhealthyEvaluations: 2, maxMissingEvaluations: 3 },
    guardrails: { alarms: [`${model}-guardrail`], maxLatencyP99Ms: 200, minRequests: 100 },
    ...planOverrides,
  };
  const settings: RolloutSettings = { tableName: 'rollouts', routingTableName: 'routing', plan, topicArn };
  const lines: string[] = [];
  const handler = createRolloutHandler({ settings, clients: { dynamodb: dynamo, cloudwatch, sns }, now: () => clock, log: (line) => lines.push(line) });
  return { model, plan, handler, lines, guardrail: `${model}-guardrail` };
}

type Series = Record<string, number[]>;
/** CloudWatch reports `alarms` and, for each GetMetricData query id, `series` (ids without an entry: no datapoint). */
function cloudWatchReports(alarms: Record<string, string>, series: Series) {
  cw.reset();
  cw.on(DescribeAlarmsCommand).callsFake((input) => ({
    CompositeAlarms: (input.AlarmNames ?? []).filter((name: string) => name in alarms).map((name: string) => ({ AlarmName: name, StateValue: alarms[name] })),
  }));
  cw.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => ({
    MetricDataResults: input.MetricDataQueries!.map((q) => ({ Id: q.Id, Values: series[q.Id!] ?? [], Timestamps: [], StatusCode: 'Complete' })),
  }));
}

const HEALTHY: Series = {
  challenger_predictions: [1000], challenger_failures: [1], challenger_fallbacks: [2], challenger_p99: [120],
  champion_predictions: [1000], champion_p99: [110],
};

async function notifications(): Promise<Array<Record<string, unknown>>> {
  const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return (Messages ?? []).map((m) => JSON.parse(m.Body!));
}

const weights = async (model: string) => Object.fromEntries((await routing.get(model, { consistentRead: true }))!.variants.map((v) => [v.name, v.weight]));
const emf = (lines: string[], name: string) => lines.filter((l) => l.includes('"_aws"') && JSON.parse(l)[name] === 1);

describe('rollout handler', () => {
  beforeEach(() => {
    clock += 3_600_000;
  });

  test('start → healthy evaluations promote step by step → complete; a second start is refused while it runs', async () => {
    const { model, handler, lines, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, HEALTHY);
    await notifications();
    const started = await handler({ action: 'start', rolloutId: '2026-12-01T00:00:00.000Z-exec-1', input: { by: 'alice', reason: 'model package 7 approved' } });
    expect(started).toMatchObject({ rolloutId: '2026-12-01T00:00:00.000Z-exec-1', done: false, rolledBack: false, waitSeconds: 60 });
    expect(started.state).toMatchObject({ phase: 'canary', stepIndex: 0, startedBy: 'alice' });
    expect(await weights(model)).toEqual({ champion: 50, challenger: 50 });

    // A retried start (same id) answers the same rollout; another start is refused, naming the running one.
    expect((await handler({ action: 'start', rolloutId: started.rolloutId, by: 'alice' })).state).toEqual(started.state);
    await expect(handler({ action: 'start', by: 'bob' })).rejects.toMatchObject({
      name: 'RolloutRunningError', message: expect.stringContaining(`a rollout of model '${model}' is running: ${started.rolloutId}, started by alice`),
    });

    let answer = started;
    const seen: string[] = [];
    for (let i = 0; i < 5 && !answer.done; i++) {
      clock += answer.waitSeconds * 1000;
      answer = await handler({ action: 'evaluate', rolloutId: started.rolloutId });
      seen.push(answer.state.phase);
    }
    expect(answer).toMatchObject({ done: true, rolledBack: false, waitSeconds: 0 });
    expect(answer.state.history.map((e) => [e.action, e.by])).toEqual([['start-canary', 'alice'], ['promote', ROLLOUT_CONTROLLER], ['complete', ROLLOUT_CONTROLLER]]);
    expect(await weights(model)).toEqual({ champion: 0, challenger: 100 });
    // Finished: the lock is released, the outcome counted, people told.
    expect(await lockOf({ client: dynamo, tableName: 'rollouts' }, model)).toBeUndefined();
    expect(emf(lines, RolloutMetrics.PROMOTED)).toHaveLength(1);
    expect((await notifications()).map((n) => [n.model, n.action])).toEqual(expect.arrayContaining([[model, 'promote'], [model, 'complete']]));

    // The queries: the challenger's and champion's gateway metrics (Model + Variant) over the last interval.
    const query = (cw.commandCalls(GetMetricDataCommand).at(-1)!.args[0].input as GetMetricDataCommandInput);
    expect(query.EndTime!.getTime() - query.StartTime!.getTime()).toBe(60_000);
    expect(query.MetricDataQueries!.find((q) => q.Id === 'challenger_p99')!.MetricStat).toEqual({
      Metric: { Namespace: 'MlPlatform', MetricName: 'ModelLatencyMs', Dimensions: [{ Name: 'Model', Value: model }, { Name: 'Variant', Value: 'challenger' }] },
      Period: 60, Stat: 'p99',
    });
  });

  test('a guardrail alarm in ALARM on unhealthyEvaluations evaluations in a row rolls back to the champion, audited in the routing table', async () => {
    const { model, handler, lines, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, HEALTHY);
    const started = await handler({ action: 'start', by: 'alice' });
    expect(await weights(model)).toEqual({ champion: 50, challenger: 50 });
    await notifications();

    cloudWatchReports({ [guardrail]: 'ALARM' }, HEALTHY);
    clock += 60_000;
    // One reading holds (a flapping alarm does not roll back); the second in a row rolls back.
    expect(await handler({ action: 'evaluate', rolloutId: started.rolloutId })).toMatchObject({ done: false, state: { phase: 'canary' } });
    clock += 60_000;
    const answer = await handler({ action: 'evaluate', rolloutId: started.rolloutId });
    expect(answer).toMatchObject({ done: true, rolledBack: true, waitSeconds: 0, state: { phase: 'rolled-back' } });
    expect(await weights(model)).toEqual({ champion: 100, challenger: 0 });
    const last = (await routing.get(model, { consistentRead: true }))!.trail.at(-1)!;
    expect(last).toMatchObject({ by: ROLLOUT_CONTROLLER, from: { champion: 50, challenger: 50 }, to: { champion: 100, challenger: 0 }, at: new Date(clock).toISOString() });
    expect(last.reason).toMatch(new RegExp(`^rollout ${started.rolloutId}: .*guardrail alarm in ALARM: ${guardrail}`));
    expect(emf(lines, RolloutMetrics.ROLLED_BACK)).toHaveLength(1);
    expect(await notifications()).toEqual([expect.objectContaining({ model, action: 'rollback', phase: 'rolled-back', weights: { champion: 100, challenger: 0 } })]);
    // The lock is released: the next rollout may start.
    await handler({ action: 'start', by: 'bob' });
  });

  test('no metrics during a bake holds, then rolls back after maxMissingEvaluations', async () => {
    const { model, handler, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, {});
    const started = await handler({ action: 'start', by: 'alice' });
    const phases: string[] = [];
    let answer = started;
    while (!answer.done && phases.length < 5) {
      clock += 60_000;
      answer = await handler({ action: 'evaluate', rolloutId: started.rolloutId });
      phases.push(answer.state.phase);
    }
    expect(phases).toEqual(['canary', 'canary', 'rolled-back']);
    expect(await weights(model)).toEqual({ champion: 100, challenger: 0 });
  });

  test('one command rolls back the running rollout, recording who and why', async () => {
    const { model, handler, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, HEALTHY);
    const started = await handler({ action: 'start', by: 'alice' });
    const answer = await handler({ action: 'rollback', by: 'carol', reason: 'complaints from the fraud team' });
    expect(answer).toMatchObject({ rolloutId: started.rolloutId, done: true, rolledBack: true });
    expect(answer.state.history.at(-1)).toMatchObject({ action: 'rollback', by: 'carol', reason: expect.stringContaining('complaints from the fraud team') });
    expect((await routing.get(model, { consistentRead: true }))!.trail.at(-1)).toMatchObject({ by: 'carol', to: { champion: 100, challenger: 0 } });
    await expect(handler({ action: 'rollback', by: 'carol' })).rejects.toMatchObject({ name: 'RolloutNotFoundError' });
  });

  test('shadow: the challenger is shadowed with weight 0 until its exit criteria are met, then the shadow ends and the canary starts', async () => {
    const { model, handler, guardrail } = await setUp({ shadow: { percent: 25, exitCriteria: { minComparedRequests: 500, maxDivergence: 0.05, maxLatencyP99Ms: 300 } } });
    cloudWatchReports({ [guardrail]: 'OK' }, { shadow_requests: [800], shadow_compared: [600], shadow_divergence: [0.01], shadow_p99: [150] });
    const started = await handler({ action: 'start', by: 'alice' });
    expect(started.state.phase).toBe('shadow');
    const shadowed = (await routing.get(model, { consistentRead: true }))!;
    expect(shadowed).toMatchObject({ shadow: { variant: 'challenger', percent: 25 } });
    expect(await weights(model)).toEqual({ champion: 100, challenger: 0 });

    clock += 120_000;
    const answer = await handler({ action: 'evaluate', rolloutId: started.rolloutId });
    expect(answer.state).toMatchObject({ phase: 'canary', stepIndex: 0 });
    const entry = (await routing.get(model, { consistentRead: true }))!;
    expect(entry.shadow).toBeUndefined();
    expect(await weights(model)).toEqual({ champion: 50, challenger: 50 });
    // The shadow's window is its whole phase so far, up to the last complete minute.
    const query = (cw.commandCalls(GetMetricDataCommand).at(-1)!.args[0].input as GetMetricDataCommandInput);
    expect([query.StartTime!.getTime(), query.EndTime!.getTime()]).toEqual([started.state.phaseStartedMs, clock - 60_000]);
    expect(query.MetricDataQueries!.map((q) => [q.Id, q.MetricStat!.Metric!.MetricName, q.MetricStat!.Stat])).toEqual([
      ['shadow_requests', 'ShadowRequests', 'Sum'], ['shadow_failures', 'ShadowFailures', 'Sum'], ['shadow_compared', 'ShadowDivergence', 'SampleCount'],
      ['shadow_divergence', 'ShadowDivergence', 'Average'], ['shadow_p99', 'ShadowLatencyMs', 'p99'],
    ]);
  });

  test('bad requests are refused with every problem, naming the fix', async () => {
    const { model, handler } = await setUp();
    await expect(handler({ action: 'explode' } as never)).rejects.toMatchObject({ name: 'RolloutRequestError', message: expect.stringContaining("action 'explode' is not one of start, evaluate, rollback") });
    await expect(handler({ action: 'evaluate' })).rejects.toThrow('evaluate needs the rolloutId the start answered');
    await expect(handler({ action: 'evaluate', rolloutId: '' })).rejects.toMatchObject({ name: 'RolloutRequestError' });
    await expect(handler({ action: 'evaluate', rolloutId: 'unknown' })).rejects.toMatchObject({ name: 'RolloutNotFoundError' });
    await expect(handler({ action: 'rollback', by: 'x'.repeat(129), reason: '' })).rejects.toThrow(/by must be a text of 1 to 128 characters; reason must be a text of 1 to 512/);
    const other = { model: 'ranker', champion: 'a', challenger: 'a', guardrails: { maxLatencyP99Ms: -1 } };
    const refused = handler({ action: 'start', plan: other as RolloutPlan });
    await expect(refused).rejects.toMatchObject({ name: 'RolloutPlanError' });
    await expect(refused).rejects.toThrow(/same as champion.*maxLatencyP99Ms.*plan.model is 'ranker': this rollout deploys model/);
    // Nothing was locked or changed.
    expect(await lockOf({ client: dynamo, tableName: 'rollouts' }, model)).toBeUndefined();
  });

  test('a start whose routing fails releases the lock (no rollout left half started)', async () => {
    const { handler } = await setUp({ model: 'never-seeded' });
    await expect(handler({ action: 'start', by: 'alice' })).rejects.toMatchObject({ name: 'RoutingNotFoundError' });
    expect(await lockOf({ client: dynamo, tableName: 'rollouts' }, 'never-seeded')).toBeUndefined();
  });

  test('an operator rollback during an evaluation is not undone: the stale decision changes no routing', async () => {
    const { model, handler, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, HEALTHY);
    const started = await handler({ action: 'start', by: 'alice' });
    // The evaluation has loaded the rollout; while it reads CloudWatch, an operator rolls back (champion 100, saved).
    let rolledBack: Promise<unknown> | undefined;
    cw.on(GetMetricDataCommand).callsFake(async (input: GetMetricDataCommandInput) => {
      rolledBack ??= handler({ action: 'rollback', by: 'carol', reason: 'complaints' });
      await rolledBack;
      return { MetricDataResults: input.MetricDataQueries!.map((q) => ({ Id: q.Id, Values: HEALTHY[q.Id!] ?? [], StatusCode: 'Complete' })) };
    });
    clock += 60_000;
    await expect(handler({ action: 'evaluate', rolloutId: started.rolloutId })).rejects.toMatchObject({ name: 'RolloutVersionConflictError' });
    expect(await weights(model)).toEqual({ champion: 100, challenger: 0 });
    expect((await routing.get(model, { consistentRead: true }))!.trail.at(-1)).toMatchObject({ by: 'carol' });
  });

  test('a start whose state cannot be stored routes back to the champion and releases the lock', async () => {
    const { model, plan } = await setUp();
    // A throttled rollout write: dynalite cannot be made to throttle one item, so a middleware on this client (a real
    // DynamoDB client on dynalite for everything else) throws for the rollout item's PutItem.
    const flaky = new DynamoDBClient(localClientConfig(dynalite.endpoint));
    flaky.middlewareStack.add((next) => async (args) => {
      const input = args.input as { TableName?: string; Item?: Record<string, unknown> };
      if (input.TableName === 'rollouts' && input.Item?.plan) throw Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' });
      return next(args);
    }, { step: 'initialize' });
    try {
      const handler = createRolloutHandler({ settings: { tableName: 'rollouts', routingTableName: 'routing', plan }, clients: { dynamodb: flaky, cloudwatch }, now: () => clock, log: () => undefined });
      await expect(handler({ action: 'start', by: 'alice' })).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
      expect(await weights(model)).toEqual({ champion: 100, challenger: 0 });
      expect((await routing.get(model, { consistentRead: true }))!.trail.at(-1)!.reason).toContain('its start failed');
      expect(await lockOf({ client: dynamo, tableName: 'rollouts' }, model)).toBeUndefined();
    } finally {
      flaky.destroy();
    }
  });

  test('the stored plan is the resolved one: unknown fields (a 10,000-deep one) are dropped, not stored', async () => {
    const { model, plan, handler, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, HEALTHY);
    let deep: unknown = [];
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const started = await handler({ action: 'start', by: 'alice', plan: { ...plan, hostile: deep } as RolloutPlan });
    const stored = (await load({ client: dynamo, tableName: 'rollouts' }, model, started.rolloutId))!;
    expect(stored.plan).not.toHaveProperty('hostile');
    expect(stored.plan).toMatchObject({ model, champion: 'champion', challenger: 'challenger', evaluation: { intervalMs: 60_000 } });
  });

  test('a plan naming a variant the routing entry lacks is refused at start, naming it; nothing locked or routed', async () => {
    const { model, handler } = await setUp({ challenger: 'ghost' });
    await expect(handler({ action: 'start', by: 'alice' })).rejects.toMatchObject({
      name: 'RolloutPlanError', message: expect.stringContaining(`the routing entry of model '${model}' has no variant 'ghost'`),
    });
    expect(await lockOf({ client: dynamo, tableName: 'rollouts' }, model)).toBeUndefined();
    expect(await weights(model)).toEqual({ champion: 100, challenger: 0 });
  });

  test('a rollback after the challenger was undeployed still sends all traffic to the champion', async () => {
    const { model, handler, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, HEALTHY);
    await handler({ action: 'start', by: 'alice' });
    await routing.seed({ model, weights: { champion: 100 }, by: 'deploy', reason: 'challenger removed' });
    expect(await handler({ action: 'rollback', by: 'carol' })).toMatchObject({ done: true, rolledBack: true });
    expect(await weights(model)).toEqual({ champion: 100 });
  });

  test('an execution name outside the id alphabet starts a rollout under a derived id, the same on every call', async () => {
    const { handler, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, HEALTHY);
    const raw = '2026-12-01T00:00:00.000Z-déploiement #7';
    const started = await handler({ action: 'start', rolloutId: raw, input: { by: 'alice' } });
    expect(started.rolloutId).toMatch(/^2026-12-01T00:00:00.000Z-d_ploiement__7-[0-9a-f]{16}$/);
    expect((await handler({ action: 'evaluate', rolloutId: raw })).rolloutId).toBe(started.rolloutId);
  });
});

describe('CloudWatch observations', () => {
  const plan: RolloutPlan = { model: 'fraud', champion: 'champion', challenger: 'challenger', guardrails: { alarms: ['a', 'b', 'c'], maxLatencyP99Ms: 100 } };
  const canary = { id: 'r1', model: 'fraud', phase: 'canary', stepIndex: 0, phaseStartedMs: T0, healthyStreak: 0, unhealthyStreak: 0, missingStreak: 0, startedBy: 'a', history: [] } as RolloutState;

  test('missing datapoints stay absent, never zero; alarms CloudWatch does not return have no state', async () => {
    cloudWatchReports({ a: 'OK', b: 'INSUFFICIENT_DATA' }, { champion_predictions: [300], champion_failures: [2] });
    const observation = await cloudWatchObserver({ client: cloudwatch })(plan, canary, T0 + 60_000);
    expect(observation).toEqual({ atMs: T0 + 60_000, alarms: { a: 'OK', b: 'INSUFFICIENT_DATA' }, champion: { requests: 300, errors: 2, fallbacks: 0 } });
  });

  test('a window spanning two periods sums the counts and keeps the worse p99; prediction drift when configured', async () => {
    cloudWatchReports({}, { challenger_predictions: [400, 100], challenger_fallbacks: [5], challenger_p99: [90, 140], drift: [0.1, 0.3] });
    const observation = await cloudWatchObserver({ client: cloudwatch, predictionDrift: { model: 'fraud-challenger', lookbackMs: 3_600_000 } })(plan, canary, T0);
    expect(observation.challenger).toEqual({ requests: 505, errors: 0, fallbacks: 5, latencyP99Ms: 140 });
    expect(observation.predictionDrift).toBe(0.3);
    const driftCall = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input as GetMetricDataCommandInput).find((i) => i.MetricDataQueries![0].Id === 'drift')!;
    expect(driftCall.MetricDataQueries![0].MetricStat).toMatchObject({ Period: 3600, Stat: 'Maximum', Metric: { MetricName: 'PredictionDriftScore', Dimensions: [{ Name: 'Model', Value: 'fraud-challenger' }] } });
    expect(driftCall.EndTime!.getTime() - driftCall.StartTime!.getTime()).toBe(3_600_000);
    expect(cw.commandCalls(DescribeAlarmsCommand)[0].args[0].input).toMatchObject({ AlarmNames: ['a', 'b', 'c'], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] });
  });

  const window = (call = -1) => {
    const input = cw.commandCalls(GetMetricDataCommand).at(call)!.args[0].input as GetMetricDataCommandInput;
    return { start: input.StartTime!.getTime() - T0, end: input.EndTime!.getTime() - T0, period: input.MetricDataQueries![0].MetricStat!.Period! };
  };

  test('the canary window ends on the last complete minute and starts on the step\'s first whole minute', async () => {
    cloudWatchReports({}, {});
    const observe = cloudWatchObserver({ client: cloudwatch });
    const fiveMinutes = { ...plan, evaluation: { intervalMs: 300_000 } };
    // Step started at 0:10; seen at 5:05: the minute 4:00-5:05 is still filling, 0:00-1:00 is partly the previous step.
    await observe(fiveMinutes, { ...canary, phaseStartedMs: T0 + 10_000 }, T0 + 305_000);
    expect(window()).toEqual({ start: 60_000, end: 240_000, period: 180 });
    // Long into the step: the last interval, whole minutes.
    await observe(fiveMinutes, { ...canary, phaseStartedMs: T0 }, T0 + 3_600_000 + 59_999);
    expect(window()).toEqual({ start: 3_240_000, end: 3_540_000, period: 300 });
    // A step younger than its first complete minute: the last complete minute.
    await observe(plan, { ...canary, phaseStartedMs: T0 + 30_000 }, T0 + 90_000);
    expect(window()).toEqual({ start: -60_000, end: 0, period: 60 });
  });

  test('a shadow window older than 15 days has a period in multiples of 300 s (63 days: 3600 s); shadow calls and failures observed', async () => {
    cloudWatchReports({}, { shadow_requests: [900.2], shadow_failures: [3], shadow_compared: [800] });
    const observe = cloudWatchObserver({ client: cloudwatch });
    const day = 86_400_000;
    const shadow = { ...canary, phase: 'shadow' as const };
    const observation = await observe(plan, { ...shadow, phaseStartedMs: T0 - 20 * day + 7_000 }, T0 + 61_000);
    expect(observation.shadow).toEqual({ compared: 800, requests: 900, failures: 3 });
    const twenty = window();
    expect(twenty.period % 300).toBe(0);
    expect([twenty.end, twenty.end - twenty.period * 1000]).toEqual([0, twenty.start]);
    expect(twenty.start).toBeLessThanOrEqual(-20 * day);
    expect(twenty.start).toBeGreaterThan(-20 * day - 300_000);
    await observe(plan, { ...shadow, phaseStartedMs: T0 - 70 * day }, T0 + 61_000);
    expect(window().period % 3600).toBe(0);
    // Under 15 days: whole minutes.
    await observe(plan, { ...shadow, phaseStartedMs: T0 - 14 * day + 1 }, T0 + 61_000);
    expect(window()).toEqual({ start: -14 * day, end: 0, period: 14 * 1440 * 60 });
  });
});

describe('npm run rollout (scripts/rollout.ts in a child process)', () => {
  const run = promisify(execFile);
  const rollout = (args: string[], env: Record<string, string> = {}) => run(
    path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'), [path.join(__dirname, '..', '..', 'scripts', 'rollout.ts'), ...args],
    { env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', USER: 'dave', ...env } },
  ).then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));

  test('status, rollback in one command (audited), history; a bad flag exits 2', async () => {
    const { model, handler, guardrail } = await setUp();
    cloudWatchReports({ [guardrail]: 'OK' }, HEALTHY);
    const started = await handler({ action: 'start', by: 'alice', reason: 'approved' });
    const env = { [RolloutVariables.TABLE_NAME]: 'rollouts' };
    const [status, bad, noModel] = await Promise.all([
      rollout(['status', '--model', model], env),
      rollout(['rollback', '--model', model, '--colour', 'red'], env),
      rollout(['history', '--table', 'rollouts', '--limit', 'lots']),
    ]);
    expect(status).toMatchObject({ code: 0 });
    expect(status.stdout).toContain(`${started.rolloutId} canary (step 1) started by alice`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--colour does not apply to rollback/);
    expect(bad.stderr).toMatch(new RegExp(`no routing table: give --routing-table or set ${RolloutVariables.ROUTING_TABLE_NAME}`));
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/--model is required[\s\S]*--limit must be an integer/);

    const rolledBack = await rollout(['rollback', '--model', model, '--routing-table', 'routing', '--reason', 'false positives up'], env);
    expect(rolledBack).toMatchObject({ code: 0 });
    expect(rolledBack.stdout).toContain(`${model}: rollout ${started.rolloutId} rolled-back: champion=100 challenger=0`);
    expect(await weights(model)).toEqual({ champion: 100, challenger: 0 });
    expect((await routing.get(model, { consistentRead: true }))!.trail.at(-1)).toMatchObject({ by: 'dave', reason: expect.stringContaining('false positives up') });

    const [again, history] = await Promise.all([
      rollout(['rollback', '--model', model, '--routing-table', 'routing'], env),
      rollout(['history', '--model', model, '--table', 'rollouts']),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(`no rollout of model '${model}' is running`);
    expect(history.stdout).toMatch(/start-canary +alice champion=50 challenger=50/);
    expect(history.stdout).toMatch(/rollback +dave champion=100 challenger=0 .*false positives up/);
  }, 30_000);

  test('rollback of a lock without stored state (a start that died): --champion/--challenger, ROLLOUT_PLAN or --force-release', async () => {
    const env = { [RolloutVariables.TABLE_NAME]: 'rollouts', [RolloutVariables.ROUTING_TABLE_NAME]: 'routing' };
    const table = { client: dynamo, tableName: 'rollouts' };
    // Three models whose start took the lock, routed half the traffic and died before storing its state.
    const dead = await Promise.all([1, 2, 3].map(async () => {
      const { model, plan } = await setUp();
      await acquire(table, { model, rolloutId: `dead-${model}`, by: 'alice', atMs: clock });
      const { version } = (await routing.get(model, { consistentRead: true }))!;
      await routing.setWeights(model, { champion: 50, challenger: 50 }, { expectedVersion: version, by: 'alice', reason: 'half a start' });
      return { model, plan };
    }));
    const [flags, deployed, force] = dead;
    const stuck = await rollout(['rollback', '--model', flags.model], env);
    const [viaFlags, viaPlan, released] = await Promise.all([
      rollout(['rollback', '--model', flags.model, '--rollout-id', `dead-${flags.model}`, '--champion', 'champion', '--challenger', 'challenger'], env),
      rollout(['rollback', '--model', deployed.model], { ...env, [RolloutVariables.PLAN]: JSON.stringify(deployed.plan) }),
      rollout(['rollback', '--model', force.model, '--force-release'], env),
    ]);
    expect(stuck.code).toBe(1);
    expect(stuck.stderr).toMatch(/stored no plan.*--champion <variant> --challenger <variant>.*ROLLOUT_PLAN.*--force-release/);
    for (const answer of [viaFlags, viaPlan]) expect(answer).toMatchObject({ code: 0, stdout: expect.stringContaining('rolled-back: champion=100 challenger=0') });
    expect(released).toMatchObject({ code: 0, stdout: expect.stringContaining('lock released; the routing was not changed') });
    expect(await weights(flags.model)).toEqual({ champion: 100, challenger: 0 });
    expect(await weights(deployed.model)).toEqual({ champion: 100, challenger: 0 });
    expect(await weights(force.model)).toEqual({ champion: 50, challenger: 50 });
    for (const { model } of dead) expect(await lockOf(table, model)).toBeUndefined();
  }, 30_000);
});
