/**
 * The canary rollout's contract, defined once: the rollout table's key and attribute names (the CanaryRollout
 * construct creates the table, runtime/aws/rollout-store.ts reads and writes it), the Lambda environment the construct
 * writes (`rolloutEnvironment`) and the rollout handler reads (`parseRolloutEnvironment`), the request the state
 * machine sends the handler and the answer it reads back, and the handler's metrics. Pure: imports only other pure
 * modules.
 */
import type { RolloutPlan, RolloutState } from '../core/rollout/types';
import { RoutingVariables } from './routing';
import { Environment, EnvironmentReader } from './environment';

/** Bundle name of the rollout Lambda handler (runtime/handlers/rollout-handler.ts). */
export const ROLLOUT_HANDLER = 'rollout-handler';

/** Names of the rollout handler's environment variables. */
export const RolloutVariables = {
  /** DynamoDB table of the rollouts: state, plan and history of each rollout, and one lock item per model. */
  TABLE_NAME: 'ROLLOUT_TABLE_NAME',
  /** The routing table the rollout changes (the same variable `npm run route` reads). */
  ROUTING_TABLE_NAME: RoutingVariables.TABLE_NAME,
  /** SNS topic every rollout decision that changes routing (and every finish) is published to (optional). */
  TOPIC_ARN: 'ROLLOUT_TOPIC_ARN',
  /** JSON RolloutPlan: the deployed plan, what a start without a plan rolls out; a start may only name its model. */
  PLAN: 'ROLLOUT_PLAN',
  /** JSON `{ model, lookbackMs }`: where the challenger's prediction drift is read (optional: not read). */
  PREDICTION_DRIFT: 'ROLLOUT_PREDICTION_DRIFT',
} as const;

/** Attribute names of the rollout table. Key: `MODEL` (partition, string) and `ROLLOUT_ID` (sort, string). */
export const RolloutAttributes = {
  /** Partition key: the model's name. */
  MODEL: 'model',
  /** Sort key: the rollout's id (`LOCK_ID` for the model's lock item). Ids sort by start time (`rolloutIdOf`). */
  ROLLOUT_ID: 'rolloutId',
  /** Version of a rollout item, incremented by every save (optimistic concurrency). */
  VERSION: 'version',
  /** The rollout's phase (`RolloutState.phase`), for queries without decoding the state. */
  PHASE: 'phase',
  /** The rollout's plan, JSON. */
  PLAN: 'plan',
  /** The rollout's state, JSON (its history: who did what, when, why). */
  STATE: 'state',
  /** Who started the rollout (a rollout item), or holds the lock (the lock item). */
  BY: 'by',
  /** When the rollout started (a rollout item) or the lock was taken (the lock item), ISO-8601. */
  SINCE: 'since',
  /** When a rollout item was last saved, ISO-8601. */
  UPDATED_AT: 'updatedAt',
  /** The lock item's holder: the id of the model's running rollout. */
  HOLDER: 'holder',
} as const;

/**
 * Sort key of a model's lock item: present while a rollout of the model runs, naming it. Starts with `#`, which no
 * rollout id does, and sorts before every rollout id (which start with a digit).
 */
export const LOCK_ID = '#lock';

/** The actions a `RolloutRequest` asks for. */
export const RolloutActions = {
  /** Take the model's lock, apply the first routing and store the state. */
  START: 'start',
  /** Observe, decide and apply one evaluation. */
  EVALUATE: 'evaluate',
  /** All traffic to the champion now, and release the lock. */
  ROLLBACK: 'rollback',
} as const;

/** One of `RolloutActions`. */
export type RolloutAction = typeof RolloutActions[keyof typeof RolloutActions];

/** What the state machine (and the CLI) sends the handler. */
export interface RolloutRequest {
  /** `start` a rollout, `evaluate` it once, or `rollback` to the champion now (`RolloutActions`). */
  readonly action: RolloutAction;
  /**
   * The rollout: required for `evaluate`; for `start`, the id to start it under (a retried start with the same id is
   * the same rollout); for `rollback`, the running rollout when absent.
   * @default - start: a new id (`rolloutIdOf`); rollback: the model's running rollout
   */
  readonly rolloutId?: string;
  /** For `start`: what to roll out. @default - the deployed plan (`RolloutVariables.PLAN`) */
  readonly plan?: RolloutPlan;
  /** Who asks (recorded in the history and the routing table's audit trail). @default 'canary-rollout' */
  readonly by?: string;
  /** Why (recorded likewise). @default - the action in words */
  readonly reason?: string;
  /**
   * The execution's input, as the state machine passes it whole (`{ plan?, by?, reason? }`): its fields count as if
   * given at the top level (those given at the top level win).
   */
  readonly input?: Partial<Pick<RolloutRequest, 'plan' | 'by' | 'reason'>>;
}

/** What the handler answers: the state machine loops on `done` and waits `waitSeconds`. */
export interface RolloutResponse {
  /** The rollout's id. */
  readonly rolloutId: string;
  /** The rollout's state after the action. */
  readonly state: RolloutState;
  /** The rollout is finished (promoted, rolled back or aborted): stop evaluating. */
  readonly done: boolean;
  /** The rollout ended on the champion (rolled back or aborted): the execution fails. */
  readonly rolledBack: boolean;
  /** Seconds until the next evaluation (the plan's interval); 0 when done. */
  readonly waitSeconds: number;
}

/** Field names of `RolloutRequest`, as the state machine writes them into its task payloads. */
export const RolloutRequestFields = {
  ACTION: 'action',
  ROLLOUT_ID: 'rolloutId',
  PLAN: 'plan',
  BY: 'by',
  REASON: 'reason',
  INPUT: 'input',
} as const satisfies Record<string, keyof RolloutRequest>;

/** Field names of `RolloutResponse` (and `PHASE`, of its `state`), as the state machine reads them back. */
export const RolloutResponseFields = {
  ROLLOUT_ID: 'rolloutId',
  STATE: 'state',
  DONE: 'done',
  ROLLED_BACK: 'rolledBack',
  WAIT_SECONDS: 'waitSeconds',
  /** The phase, a field of `STATE`. */
  PHASE: 'phase',
} as const satisfies Record<string, keyof RolloutResponse | keyof RolloutState>;

/**
 * Names of the errors the handler throws (its own, the store's, the plan's and the routing table's), which Step
 * Functions retries or not by name.
 */
export const RolloutErrorNames = {
  REQUEST: 'RolloutRequestError',
  PLAN: 'RolloutPlanError',
  NOT_FOUND: 'RolloutNotFoundError',
  RUNNING: 'RolloutRunningError',
  ID: 'RolloutIdError',
  VERSION_CONFLICT: 'RolloutVersionConflictError',
  TOO_LARGE: 'RolloutTooLargeError',
  ROUTING_NOT_FOUND: 'RoutingNotFoundError',
  ROUTING_VALIDATION: 'RoutingValidationError',
} as const;

/**
 * The errors no retry cures: the state machine fails (or rolls back) at once on them. A version conflict is not one
 * (a retry re-reads), nor is a throttled or unreachable service.
 */
export const PERMANENT_ROLLOUT_ERRORS: readonly string[] = [
  RolloutErrorNames.REQUEST, RolloutErrorNames.PLAN, RolloutErrorNames.NOT_FOUND, RolloutErrorNames.RUNNING, RolloutErrorNames.ID,
  RolloutErrorNames.ROUTING_NOT_FOUND, RolloutErrorNames.ROUTING_VALIDATION,
];

/**
 * What joins a rollout id's start time (ISO-8601) and its name (e.g. a Step Functions execution name): ids sort by
 * start time. The store's `rolloutIdOf` (runtime/aws/rollout-store.ts) and the state machine's
 * `States.Format('{}-{}', StartTime, Name)` build the same id.
 */
export const ROLLOUT_ID_SEPARATOR = '-';

/** The `by` of a request that names nobody. */
export const DEFAULT_ROLLOUT_BY = 'canary-rollout';

/** Metrics of the rollout handler, emitted as EMF in `METRICS_NAMESPACE` (runtime/core/metrics.ts) with the dimension `Model`. */
export const RolloutMetrics = {
  /** Rollouts that ended on the champion: rolled back (a guardrail breached, missing data, an operator) or aborted. */
  ROLLED_BACK: 'RolloutsRolledBack',
  /** Rollouts that promoted the challenger to all traffic. */
  PROMOTED: 'RolloutsPromoted',
} as const;

/** The rollout handler's settings, as the construct writes them and the handler reads them. */
export interface RolloutSettings {
  /** The rollout table's name (a CloudFormation token on the construct side). */
  readonly tableName: string;
  /** The routing table's name. */
  readonly routingTableName: string;
  /** The deployed plan. */
  readonly plan: RolloutPlan;
  /** The topic decisions are published to. @default - none: nothing is published */
  readonly topicArn?: string;
  /**
   * Where the challenger's prediction drift is read: the `Model` dimension the drift detector reports it under, and
   * how far back its last run may be, milliseconds.
   * @default - not read: the guardrail `maxPredictionDrift` is then never checked
   */
  readonly predictionDrift?: { readonly model: string; readonly lookbackMs: number };
}

const V = RolloutVariables;

/** The rollout handler's Lambda environment for `settings`. */
export function rolloutEnvironment(settings: RolloutSettings): Record<string, string> {
  return {
    [V.TABLE_NAME]: settings.tableName,
    [V.ROUTING_TABLE_NAME]: settings.routingTableName,
    [V.PLAN]: JSON.stringify(settings.plan),
    ...(settings.topicArn === undefined ? {} : { [V.TOPIC_ARN]: settings.topicArn }),
    ...(settings.predictionDrift === undefined ? {} : { [V.PREDICTION_DRIFT]: JSON.stringify(settings.predictionDrift) }),
  };
}

/** Reads the rollout handler's settings from its environment; throws one error listing every problem. */
export function parseRolloutEnvironment(env: Environment): RolloutSettings {
  const read = new EnvironmentReader(env, ROLLOUT_HANDLER, 'the CanaryRollout construct');
  const tableName = read.required(V.TABLE_NAME);
  const routingTableName = read.required(V.ROUTING_TABLE_NAME);
  const plan = read.json<RolloutPlan>(V.PLAN, 'a JSON rollout plan');
  const topicArn = read.optional(V.TOPIC_ARN);
  const predictionDrift = read.json<RolloutSettings['predictionDrift']>(V.PREDICTION_DRIFT, 'JSON { model, lookbackMs }', { optional: true });
  if (predictionDrift !== undefined && (typeof predictionDrift?.model !== 'string' || !(Number.isSafeInteger(predictionDrift.lookbackMs) && predictionDrift.lookbackMs >= 60_000))) {
    read.problem(`${V.PREDICTION_DRIFT} must be { model: the drift detector's model name, lookbackMs: an integer of at least 60000 }`);
  }
  read.throwIfProblems();
  return {
    tableName, routingTableName, plan: plan!,
    ...(topicArn === undefined ? {} : { topicArn }),
    ...(predictionDrift === undefined ? {} : { predictionDrift }),
  };
}
