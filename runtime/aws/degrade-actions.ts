/**
 * Applying and reverting the cost guard's degrade actions (runtime/core/degrade.ts) against AWS:
 * - scale to minimum: a variant registered with Application Auto Scaling gets MaxCapacity = MinCapacity
 *   (RegisterScalableTarget: autoscaling scales it in and cannot scale it out); any other variant gets
 *   DesiredInstanceCount = its configured minimum (SageMaker UpdateEndpointWeightsAndCapacities);
 * - route: the model's weights in the routing table (`RoutingTableClient.setWeights`, optimistic concurrency, by
 *   `cost-guard`, the notification as the reason).
 * Each action's state BEFORE and AFTER goes to the ledger (runtime/aws/degrade-ledger.ts); `revertDegrade` restores
 * the BEFORE states, and refuses when something was changed since the degrade. `revertDegrade` is what
 * `npm run degrade -- revert` runs, exported for other tools.
 */
import {
  ApplicationAutoScalingClient, DescribeScalableTargetsCommand, RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeEndpointCommand, SageMakerClient, UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import {
  ActionRecord, DEGRADE_AUTHOR, DegradeRecord, DegradeRevertRefusedError, describeState, revertSteps, RouteState, RouteToSpec, sameScale,
  ScaleState, ScaleToMinimumSpec, VARIANT_SCALABLE_DIMENSION, variantResourceId, DegradeActionSpec,
} from '../core/degrade';
import { RoutingVersionConflictError, timerDelayMs, weightsOf, RoutingNotFoundError } from '../core/routing';
import { beginRevert, getDegrade, LedgerTable, listDegrades, markReverted, recordAction } from './degrade-ledger';
import { RoutingTableClient } from './routing-table';

/** Default deadline of one SageMaker or Application Auto Scaling call (SDK retries included), milliseconds. */
export const DEFAULT_CONTROL_PLANE_TIMEOUT_MS = 10_000;

/** The clients the actions call. */
export interface DegradeClients {
  /** Routing tables. */
  readonly dynamodb: DynamoDBClient;
  /** Endpoints without autoscaling. */
  readonly sagemaker: SageMakerClient;
  /** Autoscaled variants. */
  readonly autoscaling: ApplicationAutoScalingClient;
  /**
   * Deadline of each SageMaker or Application Auto Scaling call, milliseconds.
   * @default DEFAULT_CONTROL_PLANE_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
  /**
   * Clock, epoch milliseconds.
   * @default Date.now
   */
  readonly now?: () => number;
}

/** How often a routing change is retried when someone else changed the weights between its read and its write. */
const ROUTE_ATTEMPTS = 3;

const callOptions = (clients: DegradeClients) => ({ abortSignal: AbortSignal.timeout(timerDelayMs(clients.timeoutMs ?? DEFAULT_CONTROL_PLANE_TIMEOUT_MS)) });
const nowIso = (clients: DegradeClients) => new Date((clients.now ?? Date.now)()).toISOString();
const routingTable = (clients: DegradeClients, spec: RouteToSpec) => new RoutingTableClient({ client: clients.dynamodb, tableName: spec.routingTableName, now: clients.now });
const sameWeights = (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, w]) => b[k] === w);

/** A variant's scaling now: its scalable target's capacities when it has one, else its desired instance count. */
export async function readScale(clients: DegradeClients, spec: ScaleToMinimumSpec): Promise<ScaleState> {
  const { ScalableTargets } = await clients.autoscaling.send(new DescribeScalableTargetsCommand({
    ServiceNamespace: 'sagemaker', ResourceIds: [variantResourceId(spec.endpointName, spec.variantName)], ScalableDimension: VARIANT_SCALABLE_DIMENSION,
  }), callOptions(clients));
  const target = ScalableTargets?.[0];
  if (target) return { mechanism: 'autoscaling', minCapacity: target.MinCapacity!, maxCapacity: target.MaxCapacity! };
  const endpoint = await clients.sagemaker.send(new DescribeEndpointCommand({ EndpointName: spec.endpointName }), callOptions(clients));
  const variant = endpoint.ProductionVariants?.find((v) => v.VariantName === spec.variantName);
  const count = variant?.DesiredInstanceCount ?? variant?.CurrentInstanceCount;
  if (count === undefined) throw new Error(`endpoint ${spec.endpointName} has no production variant '${spec.variantName}' with an instance count`);
  return { mechanism: 'instance-count', desiredInstanceCount: count };
}

/** Sets a variant's scaling to `state`, through the mechanism `state` names. */
async function writeScale(clients: DegradeClients, spec: ScaleToMinimumSpec, state: ScaleState): Promise<void> {
  if (state.mechanism === 'autoscaling') {
    await clients.autoscaling.send(new RegisterScalableTargetCommand({
      ServiceNamespace: 'sagemaker', ResourceId: variantResourceId(spec.endpointName, spec.variantName), ScalableDimension: VARIANT_SCALABLE_DIMENSION,
      MinCapacity: state.minCapacity, MaxCapacity: state.maxCapacity,
    }), callOptions(clients));
    return;
  }
  await clients.sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({
    EndpointName: spec.endpointName, DesiredWeightsAndCapacities: [{ VariantName: spec.variantName, DesiredInstanceCount: state.desiredInstanceCount }],
  }), callOptions(clients));
}

/** The scaling a degrade leaves: autoscaling capped at its minimum, or the configured minimum count (never more than before). */
function degradedScale(before: ScaleState, spec: ScaleToMinimumSpec): ScaleState {
  return before.mechanism === 'autoscaling'
    ? { mechanism: 'autoscaling', minCapacity: before.minCapacity, maxCapacity: before.minCapacity }
    : { mechanism: 'instance-count', desiredInstanceCount: Math.min(before.desiredInstanceCount, spec.minInstanceCount) };
}

/** What `applyDegradeAction` knows of an action from the ledger, and how it records a BEFORE before each change. */
export interface ApplyContext {
  /** The routing trail's reason for a routing change. */
  readonly reason: string;
  /** The action's ledger record from an earlier attempt, if any: its `before` is kept (the change may have been made). */
  readonly stored?: ActionRecord;
  /** Records `{ outcome: 'applying', before }` in the ledger; called before every change, so a crash cannot lose it. */
  readonly recordBefore: (before: ScaleState | RouteState) => Promise<void>;
}

/**
 * The outcome when the target is at the degraded state already: `applied` when an earlier attempt recorded a BEFORE
 * (its change went through, and a revert must restore that BEFORE), `unchanged` otherwise.
 */
const alreadyDegraded = (stored: ActionRecord | undefined) => (stored?.before ? 'applied' : 'unchanged');

async function applyScale(clients: DegradeClients, spec: ScaleToMinimumSpec, context: ApplyContext): Promise<ActionRecord> {
  const current = await readScale(clients, spec);
  const before = (context.stored?.before as ScaleState | undefined) ?? current;
  const after = degradedScale(before, spec);
  if (sameScale(current, after)) return { outcome: alreadyDegraded(context.stored), at: nowIso(clients), before, after };
  if (!context.stored?.before) await context.recordBefore(before);
  await writeScale(clients, spec, after);
  return { outcome: 'applied', at: nowIso(clients), before, after };
}

async function applyRoute(clients: DegradeClients, spec: RouteToSpec, context: ApplyContext): Promise<ActionRecord> {
  const table = routingTable(clients, spec);
  const stored = context.stored?.before as RouteState | undefined;
  for (let attempt = 1; ; attempt++) {
    const entry = await table.get(spec.model, { consistentRead: true });
    if (!entry) throw new RoutingNotFoundError(spec.model);
    const current: RouteState = { version: entry.version, weights: weightsOf(entry.variants) };
    const before = stored ?? current;
    if (sameWeights(current.weights, spec.weights)) return { outcome: alreadyDegraded(context.stored), at: nowIso(clients), before, after: current };
    if (!stored) await context.recordBefore(before);
    try {
      const next = await table.setWeights(spec.model, spec.weights, { expectedVersion: entry.version, by: DEGRADE_AUTHOR, reason: context.reason });
      return { outcome: 'applied', at: nowIso(clients), before, after: { version: next.version, weights: weightsOf(next.variants) } };
    } catch (error) {
      // Someone changed the weights between the read and the write: the degrade still applies, over their change.
      if (!(error instanceof RoutingVersionConflictError) || attempt >= ROUTE_ATTEMPTS) throw error;
    }
  }
}

/**
 * Applies one action, recording its BEFORE (`context.recordBefore`) before it changes anything, and keeping the BEFORE
 * an earlier attempt recorded (`context.stored`). A failure of the action is returned as a `failed` record (with the
 * error and any stored BEFORE), never thrown; a failure to record the BEFORE is thrown (the ledger is unreachable).
 */
export async function applyDegradeAction(clients: DegradeClients, spec: DegradeActionSpec, context: ApplyContext): Promise<ActionRecord> {
  let recording = false;
  let recorded = context.stored?.before;
  const guarded: ApplyContext = {
    ...context,
    recordBefore: async (before) => {
      recording = true;
      await context.recordBefore(before);
      recording = false;
      recorded = before;
    },
  };
  try {
    return spec.kind === 'route' ? await applyRoute(clients, spec, guarded) : await applyScale(clients, spec, guarded);
  } catch (caught) {
    if (recording) throw caught;
    const error = caught instanceof Error ? caught : new Error(String(caught));
    return {
      outcome: 'failed', at: nowIso(clients), error: `${error.name}: ${error.message}`.slice(0, 1000),
      // A change that failed after its BEFORE was recorded may still have been made: keep that BEFORE for the retry.
      ...(recorded ? { before: recorded } : {}),
    };
  }
}

/** Options of `revertDegrade`. */
export interface RevertOptions {
  /** The ledger. */
  readonly ledger: LedgerTable;
  /** The clients the actions call. */
  readonly clients: DegradeClients;
  /** The degrade to revert: its id, or `last` for the newest one not reverted. */
  readonly degrade: { readonly id: string } | 'last';
  /** Who reverts (recorded in the ledger and in the routing trail). */
  readonly by: string;
}

/** The degrade `options.degrade` names; throws when there is none to revert. */
async function degradeToRevert(options: RevertOptions): Promise<DegradeRecord> {
  const record = options.degrade === 'last'
    ? (await listDegrades(options.ledger)).find((r) => r.status !== 'reverted')
    : await getDegrade(options.ledger, options.degrade.id);
  const named = options.degrade === 'last' ? 'no degrade to revert: every degrade in the ledger is reverted' : `no degrade '${options.degrade.id}' in the ledger (npm run degrade -- show lists them)`;
  if (!record) throw new Error(named);
  if (record.status === 'reverted') throw new Error(`degrade ${record.id} was reverted already, at ${record.revertedAt} by ${record.revertedBy}`);
  if (record.status === 'applying') {
    throw new Error(`degrade ${record.id} is being applied right now (or its invocation died and a retry will resume it); revert it once it is applied or failed`);
  }
  return record;
}

/** Why the current state of a step's target is not what the degrade left (undefined when it is). */
async function changedSince(clients: DegradeClients, spec: DegradeActionSpec, after: ScaleState | RouteState): Promise<string | undefined> {
  if (spec.kind === 'route') {
    const entry = await routingTable(clients, spec).get(spec.model, { consistentRead: true });
    const left = after as RouteState;
    if (entry?.version === left.version) return undefined;
    const last = entry?.trail.at(-1);
    return `routing of '${spec.model}' is at ${entry ? `version ${entry.version}` : 'no entry'}, not version ${left.version} as the degrade left it`
      + `${last ? ` (last changed by ${last.by} at ${last.at ?? 'deploy'}: ${JSON.stringify(last.reason)})` : ''}: someone changed the weights since;`
      + ` review them (npm run route -- history ${spec.model}) and set them yourself (npm run route -- set ${spec.model} ...)`;
  }
  const now = await readScale(clients, spec);
  if (sameScale(now, after as ScaleState)) return undefined;
  return `variant '${spec.variantName}' of endpoint ${spec.endpointName} is now ${describeState(now)}, not ${describeState(after)} as the degrade left it:`
    + ' someone changed it since; restore it yourself if needed';
}

/**
 * Reverts a degrade: checks first that every applied action's target is still as the degrade left it (the routing
 * version, the variant's capacities) and refuses the whole revert otherwise (`DegradeRevertRefusedError`, naming each
 * change and what to do), then restores each BEFORE state, last action first, recording each in the ledger (a revert
 * that stops half way is resumed by running it again), and marks the degrade reverted by `by`. Before restoring
 * anything it takes the degrade (`reverting`, conditional on the status and attempts it read), so a retry still
 * applying it cannot resume it meanwhile, and a retry that resumed it since refuses the revert. Returns the record as
 * it was before the revert.
 */
export async function revertDegrade(options: RevertOptions): Promise<DegradeRecord> {
  const { clients, ledger, by } = options;
  const record = await degradeToRevert(options);
  const steps = revertSteps(record);
  const problems = (await Promise.all(steps.map((step) => changedSince(clients, step.spec, step.after)))).filter((p): p is string => p !== undefined);
  if (problems.length > 0) throw new DegradeRevertRefusedError(record.id, problems);
  if (!(await beginRevert(ledger, record))) throw changedMeanwhile(record.id);
  for (const step of steps) {
    if (step.spec.kind === 'route') {
      try {
        await routingTable(clients, step.spec).setWeights(step.spec.model, (step.before as RouteState).weights, {
          expectedVersion: (step.after as RouteState).version, by, reason: `revert of cost guard degrade ${record.id}`.slice(0, 512),
        });
      } catch (error) {
        if (!(error instanceof RoutingVersionConflictError)) throw error;
        throw new DegradeRevertRefusedError(record.id, [`${error.message}: someone changed the weights of '${step.spec.model}' during the revert; review them and run the revert again`]);
      }
    } else {
      await writeScale(clients, step.spec, step.before as ScaleState);
    }
    await recordAction(ledger, record.id, step.index, { ...record.actions[String(step.index)], revertedAt: nowIso(clients), revertedBy: by });
  }
  if (!(await markReverted(ledger, record.id, by, nowIso(clients)))) throw changedMeanwhile(record.id);
  return record;
}

/** A degrade that changed while it was reverted (a retry resumed it, or another revert finished it). */
function changedMeanwhile(id: string): Error {
  return new Error(`degrade ${id} changed while it was reverted (a retry applying it, or another revert): nothing more restored; check it with npm run degrade -- show and run the revert again`);
}
