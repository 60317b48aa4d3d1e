/**
 * Lambda entry point of the canary rollout (CanaryRollout's state machine, and `npm run rollout` for a rollback): runs
 * the rollout controller (runtime/core/rollout/controller.ts) over the rollout store (runtime/aws/rollout-store.ts),
 * CloudWatch (runtime/aws/rollout-observations.ts), the routing table (`RoutingTableClient`: weights and shadow,
 * audited with who and why) and the rollout topic (SNS).
 *
 * Request (`RolloutRequest`, runtime/contracts/rollout.ts): `{ action: 'start' | 'evaluate' | 'rollback', plan?,
 * rolloutId?, by?, reason? }`, or the state machine's `{ action, rolloutId, input: <execution input> }`.
 * - `start` takes the model's lock (a second rollout of the same model is refused, naming the running one), applies
 *   the first routing (shadow or first step) and stores the state; a retried start with the same id answers the
 *   stored rollout. The plan's variants must exist in the routing entry; the resolved plan (known fields only) is stored.
 *   A start that fails before its state is stored routes all traffic back to the champion and releases the lock (or
 *   keeps it when that routing change fails too, so that a rollback can finish the job).
 * - `evaluate` observes, decides and applies one evaluation; a finished rollout releases the lock. A decision whose
 *   rollout moved on meanwhile (an operator's rollback) changes nothing: `RolloutVersionConflictError`.
 * - `rollback` sends all traffic to the champion now (the running rollout when no id is given) and releases the lock.
 * A `rolloutId` outside the id alphabet (an execution name such as 'é') is mapped to a derived valid id (`toRolloutId`).
 * Answer (`RolloutResponse`): `{ rolloutId, state, done, rolledBack, waitSeconds }`: the state machine waits
 * `waitSeconds` and evaluates again until `done`, and fails when `rolledBack`.
 * Errors are thrown with stable names (`RolloutRequestError`, `RolloutRunningError`, `RolloutNotFoundError`,
 * `RolloutPlanError`, `RolloutVersionConflictError`, ...): Step Functions retries or fails on them by name.
 *
 * Environment: the contract in runtime/contracts/rollout.ts. Region, credentials and endpoints come from the AWS SDK's
 * environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...).
 */
import { randomUUID } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DEFAULT_ROLLOUT_BY, parseRolloutEnvironment, RolloutErrorNames, RolloutMetrics, RolloutRequest, RolloutResponse, RolloutSettings } from '../contracts/rollout';
import { MetricDimensions, toEmf } from '../core/metrics';
import {
  isFinished, resolvePlan, RolloutController, RolloutDefaults, RolloutPlanError, routingOf, startRollout, validatePlan, type Decision, type RolloutPlan, type RolloutState, type RoutingDecision,
} from '../core/rollout';
import { clip } from '../core/rollout/decide';
import { RoutingLimits, RoutingNotFoundError, timerDelayMs } from '../core/routing';
import { cloudWatchObserver } from '../aws/rollout-observations';
import * as store from '../aws/rollout-store';
import { RoutingTableClient } from '../aws/routing-table';

/** A request the handler cannot act on (unknown action, missing id, a plan for another model); `problems` lists every problem. */
export class RolloutRequestError extends Error {
  constructor(public readonly problems: readonly string[]) {
    super(`invalid rollout request: ${problems.join('; ')}`);
    this.name = RolloutErrorNames.REQUEST;
  }
}

/** An evaluation or rollback of a rollout the store does not hold. */
export class RolloutNotFoundError extends Error {
  constructor(public readonly model: string, public readonly rolloutId?: string) {
    super(rolloutId === undefined ? `no rollout of model '${model}' is running` : `no rollout '${rolloutId}' of model '${model}'`);
    this.name = RolloutErrorNames.NOT_FOUND;
  }
}

/** The clients the handler calls. */
export interface RolloutClients {
  readonly dynamodb: DynamoDBClient;
  readonly cloudwatch: CloudWatchClient;
  /** @default - none: nothing is published (also when the settings name no topic) */
  readonly sns?: SNSClient;
}

/** Properties of `createRolloutHandler`. */
export interface RolloutHandlerProps {
  /** Tables, topic and the deployed plan. */
  readonly settings: RolloutSettings;
  readonly clients: RolloutClients;
  /** The clock, epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Where log lines (JSON) and EMF lines go. @default - stdout */
  readonly log?: (line: string) => void;
  /** Deadline of each AWS call, milliseconds. @default - each adapter's default */
  readonly timeoutMs?: number;
}

/** The handler: one request, one answer. */
export type RolloutHandler = (event: RolloutRequest) => Promise<RolloutResponse>;

const ACTIONS: readonly string[] = ['start', 'evaluate', 'rollback'];
/** Longest text of a request field kept in a message. */
const quote = (value: unknown) => `'${String(value).slice(0, 64)}'`;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The request with the execution's input folded in (top-level fields win), checked: every problem at once. */
function parseRequest(event: unknown): RolloutRequest {
  if (!isObject(event)) throw new RolloutRequestError(['the request must be an object { action, rolloutId?, plan?, by?, reason? }']);
  const request = { ...(isObject(event.input) ? event.input : {}), ...event } as Record<string, unknown>;
  const problems: string[] = [];
  if (!ACTIONS.includes(request.action as string)) problems.push(`action ${quote(request.action)} is not one of start, evaluate, rollback`);
  if (request.rolloutId !== undefined) {
    // An execution name outside the id alphabet (the state machine's ids are `<start time>-<execution name>`) is mapped
    // to a valid id, the same one each time: not a failure.
    if (typeof request.rolloutId === 'string' && request.rolloutId.length > 0) request.rolloutId = store.toRolloutId(request.rolloutId);
    else problems.push(new store.RolloutIdError(String(request.rolloutId)).message);
  }
  if (request.action === 'evaluate' && request.rolloutId === undefined) problems.push('evaluate needs the rolloutId the start answered');
  for (const [field, max] of [['by', RoutingLimits.BY_CHARS], ['reason', RoutingLimits.REASON_CHARS]] as const) {
    const value = request[field];
    if (value !== undefined && (typeof value !== 'string' || value.trim().length === 0 || value.length > max)) problems.push(`${field} must be a text of 1 to ${max} characters`);
  }
  if (problems.length > 0) throw new RolloutRequestError(problems);
  return request as unknown as RolloutRequest;
}

/** A plan's variants that the model's routing entry does not have; throws `RoutingNotFoundError` when there is no entry. */
export async function missingVariants(routing: RoutingTableClient, plan: RolloutPlan): Promise<string[]> {
  const entry = await routing.get(plan.model, { consistentRead: true });
  if (!entry) throw new RoutingNotFoundError(plan.model);
  return [plan.champion, plan.challenger].filter((name) => !entry.variants.some((v) => v.name === name));
}

/**
 * Applies a routing decision to the routing table, idempotently (a retried decision changes nothing twice): with the
 * shadow turned off, the shadow goes first (a weight change may not give the shadow variant traffic); with a shadow,
 * the weights go first (the shadow variant must serve no one). Variants of the model that the plan does not name get 0;
 * a decision giving traffic (or the shadow) to a variant the entry does not have is refused (`RolloutPlanError`), never
 * dropped.
 */
export function routingTableApplier(routing: RoutingTableClient) {
  return async (plan: RolloutPlan, decision: RoutingDecision, author: { by: string; reason: string }): Promise<void> => {
    const entry = await routing.get(plan.model, { consistentRead: true });
    if (!entry) throw new RoutingNotFoundError(plan.model);
    // A variant the entry lacks may only be given no traffic (a rollback after the challenger was undeployed).
    const wanted = [...Object.keys(decision.weights).filter((name) => decision.weights[name] > 0), ...(decision.shadow ? [decision.shadow.variant] : [])];
    const unknown = wanted.filter((name) => !entry.variants.some((v) => v.name === name));
    if (unknown.length > 0) throw new RolloutPlanError([`the routing entry of model '${plan.model}' has no variant ${unknown.map(quote).join(', ')}: deploy it first (or fix the plan)`]);
    const weights = Object.fromEntries(entry.variants.map((v) => [v.name, decision.weights[v.name] ?? 0]));
    const sameWeights = entry.variants.every((v) => v.weight === weights[v.name]);
    const sameShadow = (entry.shadow?.variant ?? null) === (decision.shadow?.variant ?? null) && (entry.shadow?.percent ?? null) === (decision.shadow?.percent ?? null);
    let version = entry.version;
    const setWeights = async () => {
      if (!sameWeights) version = (await routing.setWeights(plan.model, weights, { expectedVersion: version, ...author })).version;
    };
    const setShadow = async () => {
      if (!sameShadow) version = (await routing.setShadow(plan.model, decision.shadow, { expectedVersion: version, ...author })).version;
    };
    if (decision.shadow) {
      await setWeights();
      await setShadow();
    } else {
      await setShadow();
      await setWeights();
    }
  };
}

/** Builds the handler over its settings and clients. */
export function createRolloutHandler(props: RolloutHandlerProps): RolloutHandler {
  const { settings, clients } = props;
  const now = props.now ?? Date.now;
  const write = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = (level: string, message: string, fields: Record<string, unknown>) => write(JSON.stringify({ level, message, ...fields }));
  const table: store.RolloutTable = { client: clients.dynamodb, tableName: settings.tableName, timeoutMs: props.timeoutMs };
  const routing = new RoutingTableClient({ client: clients.dynamodb, tableName: settings.routingTableName, timeoutMs: props.timeoutMs, now });
  const observe = cloudWatchObserver({ client: clients.cloudwatch, timeoutMs: props.timeoutMs, predictionDrift: settings.predictionDrift });
  const applyRouting = routingTableApplier(routing);
  const model = settings.plan.model;

  /** Publishes a decision to the rollout topic (when there is one). */
  async function notify(state: RolloutState, decision: Decision): Promise<void> {
    if (!clients.sns || !settings.topicArn) return;
    const event = state.history.at(-1);
    await clients.sns.send(new PublishCommand({
      TopicArn: settings.topicArn,
      // SNS subjects: ASCII, at most 100 characters.
      Subject: `Rollout of ${state.model}: ${decision.action} (${state.phase})`.replace(/[^\x20-\x7e]/g, '?').slice(0, 100),
      Message: JSON.stringify({ model: state.model, rolloutId: state.id, action: decision.action, phase: state.phase, reason: decision.reason, by: event?.by, weights: event?.weights, at: event ? new Date(event.atMs).toISOString() : undefined }),
    }), { abortSignal: AbortSignal.timeout(timerDelayMs(props.timeoutMs ?? 5000)) });
  }

  /**
   * A controller whose saves create the rollout first, then save it version by version. Before it changes the routing
   * of a stored rollout it loads the rollout again: when its version moved on since the decision was made (an operator
   * rolled it back, another evaluation saved), it changes nothing and throws `RolloutVersionConflictError`, so a
   * decision taken on a stale state never undoes a newer one (a manual rollback in particular).
   */
  function controllerFor(plan: RolloutPlan, stored: store.StoredRollout | undefined) {
    const saved = { current: stored, routed: false };
    const controller = new RolloutController({
      observe, notify, now,
      applyRouting: async (p, decision, author) => {
        if (saved.current) {
          const latest = await store.load(table, model, saved.current.state.id);
          if (latest?.version !== saved.current.version) throw new store.RolloutVersionConflictError(model, saved.current.state.id, saved.current.version);
        }
        saved.routed = true;
        await applyRouting(p, decision, author);
      },
      saveState: async (state) => {
        saved.current = saved.current ? await store.save(table, saved.current, state, now()) : await store.create(table, plan, state, now());
      },
    });
    return { controller, saved };
  }

  /** The answer for a state; a finished one releases the model's lock and counts its outcome. */
  async function answer(plan: RolloutPlan, state: RolloutState): Promise<RolloutResponse> {
    const done = isFinished(state);
    const rolledBack = state.phase === 'rolled-back' || state.phase === 'aborted';
    if (done && await store.release(table, state.model, state.id)) {
      write(toEmf({ [MetricDimensions.MODEL]: state.model }, [{ name: rolledBack ? RolloutMetrics.ROLLED_BACK : RolloutMetrics.PROMOTED, value: 1, unit: 'Count' }], { timestampMs: now() }));
    }
    const intervalS = Math.ceil((plan.evaluation?.intervalMs ?? RolloutDefaults.INTERVAL_MS) / 1000);
    return { rolloutId: state.id, state, done, rolledBack, waitSeconds: done ? 0 : intervalS };
  }

  async function start(request: RolloutRequest): Promise<RolloutResponse> {
    const given = request.plan ?? settings.plan;
    const problems = validatePlan(given).map((p) => `plan: ${p}`);
    if (isObject(given) && given.model !== model) problems.push(`plan.model is ${quote(given.model)}: this rollout deploys model '${model}' (start another CanaryRollout for it)`);
    if (problems.length > 0) throw new RolloutPlanError(problems);
    // The resolved plan is what runs and what is stored: known fields only, every default filled in.
    const plan: RolloutPlan = resolvePlan(given);
    const missing = await missingVariants(routing, plan);
    if (missing.length > 0) {
      throw new RolloutPlanError([`the routing entry of model '${model}' has no variant ${missing.map(quote).join(', ')}: deploy the variants the plan names (champion ${quote(plan.champion)}, challenger ${quote(plan.challenger)}) first`]);
    }
    const by = request.by ?? DEFAULT_ROLLOUT_BY;
    const rolloutId = request.rolloutId ?? store.rolloutIdOf(now(), randomUUID());
    await store.acquire(table, { model, rolloutId, by, atMs: now() });
    const existing = await store.load(table, model, rolloutId);
    if (existing) return answer(existing.plan, existing.state);
    const { controller, saved } = controllerFor(plan, undefined);
    try {
      const state = await controller.start(plan, by, rolloutId);
      log('INFO', 'rollout started', { model, rolloutId, by, reason: request.reason, phase: state.phase, routing: routingOf(plan, state) });
      return await answer(plan, state);
    } catch (error) {
      if (!saved.current) await abandon(plan, rolloutId, by, saved.routed, error);
      throw error;
    }
  }

  /**
   * Undoes a start that failed before its state was stored: routing changed → all traffic back to the champion, shadow
   * off; then the lock is released. When that routing change fails too, the lock stays, so that a rollback (the lock
   * without stored state path) can still restore the champion.
   */
  async function abandon(plan: RolloutPlan, rolloutId: string, by: string, routed: boolean, cause: unknown): Promise<void> {
    if (routed) {
      const reason = clip(`rollout ${rolloutId}: its start failed (${(cause as Error)?.name ?? 'Error'}): all traffic to the champion`, RoutingLimits.REASON_CHARS);
      try {
        await applyRouting(plan, { weights: { [plan.champion]: 100, [plan.challenger]: 0 }, shadow: null }, { by, reason });
      } catch (error) {
        log('ERROR', 'failed start not undone: the lock stays; roll it back', { model, rolloutId, error: (error as Error)?.name });
        return;
      }
    }
    await store.release(table, model, rolloutId);
  }

  async function evaluate(rolloutId: string): Promise<RolloutResponse> {
    const stored = await store.load(table, model, rolloutId);
    if (!stored) throw new RolloutNotFoundError(model, rolloutId);
    const { state, decision } = await controllerFor(stored.plan, stored).controller.evaluate(stored.plan, stored.state);
    log(decision.action === 'rollback' ? 'WARN' : 'INFO', `rollout evaluated: ${decision.action}`, { model, rolloutId, phase: state.phase, reason: decision.reason });
    return answer(stored.plan, state);
  }

  async function rollback(request: RolloutRequest): Promise<RolloutResponse> {
    const by = request.by ?? DEFAULT_ROLLOUT_BY;
    const reason = request.reason ?? 'rolled back by hand';
    const running = await store.current(table, model);
    const rolloutId = request.rolloutId ?? running?.lock.rolloutId;
    if (rolloutId === undefined) throw new RolloutNotFoundError(model);
    const holdsLock = running?.lock.rolloutId === rolloutId;
    const stored = holdsLock ? running.rollout : await store.load(table, model, rolloutId);
    if (!stored && !holdsLock) throw new RolloutNotFoundError(model, rolloutId);
    // A start that died before storing its state left a lock and maybe half its routing: the deployed plan's champion
    // takes all traffic, and the rollback is stored as the rollout's only event.
    const plan = stored?.plan ?? settings.plan;
    const from = stored?.state ?? { ...startRollout(plan, by, now(), rolloutId).state, history: [] };
    const state = await controllerFor(plan, stored).controller.rollback(plan, from, by, reason);
    log('WARN', 'rollout rolled back', { model, rolloutId, by, reason });
    return answer(plan, state);
  }

  return async (event) => {
    const request = parseRequest(event);
    if (request.action === 'start') return start(request);
    if (request.action === 'evaluate') return evaluate(request.rolloutId!);
    return rollback(request);
  };
}

/** The handler as deployed: settings from the environment, clients from the SDK's. Built on the first event. */
let deployed: RolloutHandler | undefined;

/** The Lambda handler. */
export const handler: RolloutHandler = (event) => {
  if (!deployed) {
    const settings = parseRolloutEnvironment(process.env);
    deployed = createRolloutHandler({
      settings,
      clients: { dynamodb: new DynamoDBClient({}), cloudwatch: new CloudWatchClient({}), ...(settings.topicArn ? { sns: new SNSClient({}) } : {}) },
    });
  }
  return deployed(event);
};
