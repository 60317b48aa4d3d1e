/**
 * The cost guard's degrade action, as data: what a budget breach changes (`DegradeActionSpec`: scale a SageMaker
 * variant to its minimum, or set a model's routing weights to a cheaper backend), which budget notifications trigger
 * it (`DegradeTrigger`), how an AWS Budgets notification is read (`parseBudgetNotification`), and the ledger record
 * that makes every degrade audited and revertible (`DegradeRecord`: each action's state BEFORE and AFTER).
 *
 * Shared by the construct that configures it (lib/monitoring/cost-degrade.ts), the Lambda handler that applies it
 * (runtime/handlers/degrade-handler.ts), the ledger adapter (runtime/aws/degrade-ledger.ts), the code that applies and
 * reverts each action (runtime/aws/degrade-actions.ts) and `npm run degrade`. Pure TypeScript: no AWS SDK, no CDK.
 */
import { modelNameProblems, VariantWeights, weightChangeProblems } from './routing';

/** Who routing changes made by a degrade are recorded as (the routing trail's `by`). */
export const DEGRADE_AUTHOR = 'cost-guard';

/** The scalable dimension of a SageMaker variant's instance count in Application Auto Scaling. */
export const VARIANT_SCALABLE_DIMENSION = 'sagemaker:variant:DesiredInstanceCount';

/** Application Auto Scaling's resource id of a SageMaker variant. */
export function variantResourceId(endpointName: string, variantName: string): string {
  return `endpoint/${endpointName}/variant/${variantName}`;
}

/**
 * Sets a SageMaker production variant's instance count to its minimum. When the variant is registered with
 * Application Auto Scaling, its scalable target's MaxCapacity is lowered to its MinCapacity (RegisterScalableTarget),
 * so autoscaling itself scales in and cannot scale back out; otherwise its DesiredInstanceCount is set to
 * `minInstanceCount` (UpdateEndpointWeightsAndCapacities).
 */
export interface ScaleToMinimumSpec {
  readonly kind: 'scale-to-minimum';
  /** The endpoint. */
  readonly endpointName: string;
  /** The production variant. */
  readonly variantName: string;
  /** Instances a variant without autoscaling keeps (an autoscaled one keeps its scalable target's MinCapacity). */
  readonly minInstanceCount: number;
}

/** Sets a model's routing weights (ModelRouting's table) so the gateway sends the traffic to a cheaper variant. */
export interface RouteToSpec {
  readonly kind: 'route';
  /** The routing table. */
  readonly routingTableName: string;
  /** The model (its item in the table). */
  readonly model: string;
  /** The weights while degraded: every variant of the model, none other. */
  readonly weights: VariantWeights;
}

/** One action of a degrade. */
export type DegradeActionSpec = ScaleToMinimumSpec | RouteToSpec;

/** The two kinds of AWS Budgets notification. */
export type BudgetNotificationType = 'ACTUAL' | 'FORECASTED';

/** Which budget notifications degrade. */
export interface DegradeTrigger {
  /** Notification types that degrade. */
  readonly notificationTypes: readonly BudgetNotificationType[];
  /** Least threshold, percent of the budgeted amount, of a notification that degrades. */
  readonly minThresholdPercent: number;
  /**
   * The budget whose notifications degrade.
   * @default - any budget notifying the topic
   */
  readonly budgetName?: string;
}

/**
 * The default trigger: ACTUAL spend at or above 100 % of the budget. The lower thresholds (50 / 80 / 95 %) are
 * warnings for people, who can still act; a forecast is an estimate that swings early in the period. Degrading the
 * service is the last resort, taken only when the money is actually spent.
 */
export const DEFAULT_DEGRADE_TRIGGER: DegradeTrigger = { notificationTypes: ['ACTUAL'], minThresholdPercent: 100 };

/** Bounds of the configuration. */
export const DegradeLimits = {
  /** Most actions of one degrade. */
  ACTIONS: 20,
  /** Longest endpoint, variant or budget name, characters. */
  NAME_CHARS: 256,
  /** Most instances `minInstanceCount` may keep. */
  MAX_INSTANCES: 1000,
  /** Longest budget notification read, characters (SNS caps messages at 256 KiB; a Budgets one is under 2 KiB). */
  MESSAGE_CHARS: 16 * 1024,
} as const;

/** Problems of a name that must be a non-empty string of at most `DegradeLimits.NAME_CHARS` characters. */
function nameProblems(what: string, value: unknown): string[] {
  return typeof value === 'string' && value.length > 0 && value.length <= DegradeLimits.NAME_CHARS
    ? [] : [`${what} must be a name of 1 to ${DegradeLimits.NAME_CHARS} characters`];
}

/** Every problem of one action (`at` prefixes each, e.g. `actions[0]`). */
export function degradeActionProblems(action: DegradeActionSpec, at: string): string[] {
  const a = action as unknown as Record<string, unknown>;
  if (a?.kind === 'scale-to-minimum') {
    const min = a.minInstanceCount;
    return [
      ...nameProblems(`${at}.endpointName`, a.endpointName),
      ...nameProblems(`${at}.variantName`, a.variantName),
      ...(typeof min === 'number' && Number.isInteger(min) && min >= 1 && min <= DegradeLimits.MAX_INSTANCES ? []
        : [`${at}.minInstanceCount must be an integer from 1 to ${DegradeLimits.MAX_INSTANCES} (SageMaker keeps at least one instance per variant)`]),
    ];
  }
  if (a?.kind === 'route') {
    const weights = a.weights;
    return [
      ...nameProblems(`${at}.routingTableName`, a.routingTableName),
      ...modelNameProblems(a.model).map((p) => `${at}.model: ${p}`),
      ...(weights !== null && typeof weights === 'object' && !Array.isArray(weights)
        ? weightChangeProblems(weights as VariantWeights).map((p) => `${at}.weights: ${p}`) : [`${at}.weights must be an object of weights by variant`]),
    ];
  }
  return [`${at}.kind must be 'scale-to-minimum' or 'route'`];
}

/** Every problem of a degrade's actions and trigger. */
export function degradeConfigProblems(actions: readonly DegradeActionSpec[], trigger: DegradeTrigger): string[] {
  const problems: string[] = [];
  if (!Array.isArray(actions) || actions.length === 0) problems.push('no actions: add scaleToMinimum or routeTo');
  else if (actions.length > DegradeLimits.ACTIONS) problems.push(`${actions.length} actions; at most ${DegradeLimits.ACTIONS}`);
  else actions.forEach((action, i) => problems.push(...degradeActionProblems(action, `actions[${i}]`)));
  const targets = (Array.isArray(actions) ? actions : []).map(actionTarget);
  const twice = targets.filter((t, i) => targets.indexOf(t) !== i);
  if (twice.length > 0) problems.push(`actions change the same thing twice: ${[...new Set(twice)].join(', ')}`);
  return [...problems, ...degradeTriggerProblems(trigger)];
}

/** Every problem of a trigger. */
export function degradeTriggerProblems(trigger: DegradeTrigger): string[] {
  const problems: string[] = [];
  const types = trigger?.notificationTypes;
  if (!Array.isArray(types) || types.length === 0 || types.some((t) => t !== 'ACTUAL' && t !== 'FORECASTED')) {
    problems.push("trigger.notificationTypes must list 'ACTUAL' and/or 'FORECASTED'");
  }
  const min = trigger?.minThresholdPercent;
  if (typeof min !== 'number' || !Number.isFinite(min) || min <= 0 || min > 1_000_000) {
    problems.push('trigger.minThresholdPercent must be a number above 0 and at most 1000000 (percent of the budgeted amount)');
  }
  if (trigger?.budgetName !== undefined) problems.push(...nameProblems('trigger.budgetName', trigger.budgetName));
  return problems;
}

/** What an action changes, as text: two actions on the same thing would undo each other's BEFORE. */
export function actionTarget(action: DegradeActionSpec): string {
  return action?.kind === 'route'
    ? `routing of '${action.model}' in table ${action.routingTableName}`
    : `variant '${action?.variantName}' of endpoint ${action?.endpointName}`;
}

// ---- Budget notifications -------------------------------------------------------------------------------------

/** What an AWS Budgets notification says (its text's `Label: value` lines). */
export interface BudgetNotification {
  /** The budget's name. */
  readonly budgetName: string;
  /** ACTUAL (spent) or FORECASTED. */
  readonly notificationType: BudgetNotificationType;
  /** The budgeted amount. */
  readonly budgetedAmount: number;
  /** The notification's threshold, as an amount. */
  readonly thresholdAmount: number;
  /** The threshold as a percentage of the budgeted amount. */
  readonly thresholdPercent: number;
  /** The spend (or forecast) that crossed it. */
  readonly amount: number;
}

/** Why a message is not a budget notification that degrades (stable codes, logged). */
export type IgnoredReason = 'not-a-budget-notification' | 'other-budget' | 'notification-type' | 'below-threshold';

/**
 * What a message that is not a budget notification is: `cloudwatch-alarm` (a CloudWatch alarm's state change, JSON
 * with `AlarmName` and `NewStateValue`: the budget topic may be shared with alarms, so these are expected) or
 * `unparsed` (anything else: perhaps a Budgets message in a format this code no longer reads, which must not go
 * unnoticed). Reads at most `DegradeLimits.MESSAGE_CHARS` characters; never throws.
 */
export function unrecognisedKind(message: unknown): 'cloudwatch-alarm' | 'unparsed' {
  if (typeof message !== 'string' || message.length > DegradeLimits.MESSAGE_CHARS || !message.trimStart().startsWith('{')) return 'unparsed';
  try {
    const parsed: unknown = JSON.parse(message);
    const fields = parsed !== null && typeof parsed === 'object' ? parsed as Record<string, unknown> : {};
    return typeof fields.AlarmName === 'string' && typeof fields.NewStateValue === 'string' ? 'cloudwatch-alarm' : 'unparsed';
  } catch {
    return 'unparsed';
  }
}

/**
 * A money amount as Budgets writes it (`$1,234.50`, `> $100.00`, `100.00 USD`): the first word that starts with a
 * digit, without its thousands separators, read by `Number()`; NaN when it is not a finite number. No regular
 * expression on the message.
 */
export function parseAmount(text: string): number {
  const head = text.slice(0, 64);
  let start = 0;
  while (start < head.length && !(head[start] >= '0' && head[start] <= '9')) start++;
  let end = start;
  while (end < head.length && head[end] !== ' ') end++;
  const word = head.slice(start, end).split(',').join('');
  const amount = word === '' ? NaN : Number(word);
  return Number.isFinite(amount) ? amount : NaN;
}

/**
 * Reads an AWS Budgets notification as Budgets publishes it to SNS: plain text with `Label: value` lines
 * (`Budget Name: platform-monthly`, `Budgeted Amount: $1,000.00`, `Alert Type: ACTUAL`, `Alert Threshold: > $1,000.00`,
 * `ACTUAL Amount: $1,012.34`). Only the first `DegradeLimits.MESSAGE_CHARS` characters are read. Returns undefined
 * for anything else (not text, no budget name, amounts that are not numbers): never throws.
 */
export function parseBudgetNotification(message: unknown): BudgetNotification | undefined {
  if (typeof message !== 'string') return undefined;
  const fields = new Map<string, string>();
  for (const line of message.slice(0, DegradeLimits.MESSAGE_CHARS).split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0 || colon > 40) continue;
    const label = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(label)) fields.set(label, line.slice(colon + 1).trim());
  }
  const budgetName = fields.get('budget name');
  const type = fields.get('alert type')?.toUpperCase();
  if (!budgetName || budgetName.length > DegradeLimits.NAME_CHARS || (type !== 'ACTUAL' && type !== 'FORECASTED')) return undefined;
  const budgetedAmount = parseAmount(fields.get('budgeted amount') ?? '');
  const thresholdAmount = parseAmount(fields.get('alert threshold') ?? '');
  const amount = parseAmount(fields.get(`${type.toLowerCase()} amount`) ?? '');
  if (![budgetedAmount, thresholdAmount, amount].every(Number.isFinite) || budgetedAmount <= 0) return undefined;
  return {
    budgetName, notificationType: type, budgetedAmount, thresholdAmount, amount,
    thresholdPercent: Math.round((10_000 * thresholdAmount) / budgetedAmount) / 100,
  };
}

/** Whether `notification` degrades under `trigger`; the reason when it does not. */
export function ignoredReason(notification: BudgetNotification | undefined, trigger: DegradeTrigger): IgnoredReason | undefined {
  if (!notification) return 'not-a-budget-notification';
  if (trigger.budgetName !== undefined && notification.budgetName !== trigger.budgetName) return 'other-budget';
  if (!trigger.notificationTypes.includes(notification.notificationType)) return 'notification-type';
  if (notification.thresholdPercent < trigger.minThresholdPercent) return 'below-threshold';
  return undefined;
}

/**
 * The id of the degrade a notification triggers: the budget and the month of the notification (`<budget>#yyyy-mm`,
 * UTC; CostGuard's budgets are monthly). One budget degrades at most once a month: a repeated delivery, a later
 * threshold or a retry of the same month finds the ledger item and does not degrade twice.
 */
export function degradeId(budgetName: string, notifiedAt: Date): string {
  const time = Number.isFinite(notifiedAt.getTime()) ? notifiedAt : new Date(0);
  return `${budgetName}#${time.toISOString().slice(0, 7)}`;
}

// ---- The ledger -----------------------------------------------------------------------------------------------

/** Attribute names of a ledger item (runtime/aws/degrade-ledger.ts). The table's partition key is `ID` (a string). */
export const LedgerAttributes = {
  /** Partition key: `degradeId` (`<budget>#yyyy-mm`). */
  ID: 'id',
  /** DegradeStatus. */
  STATUS: 'status',
  /** When first claimed, ISO-8601. */
  CLAIMED_AT: 'claimedAt',
  /** When an invocation last took it (claim or resume), ISO-8601: an `applying` item untouched for long is stale. */
  UPDATED_AT: 'updatedAt',
  /** Invocations that worked on it. */
  ATTEMPTS: 'attempts',
  /** The notification, JSON. */
  NOTIFICATION: 'notification',
  /** The SNS message id. */
  MESSAGE_ID: 'messageId',
  /** The actions as configured when claimed, JSON. */
  PLAN: 'plan',
  /** A map: action index → its ActionRecord as JSON. */
  ACTIONS: 'actions',
  /** When reverted, ISO-8601. */
  REVERTED_AT: 'revertedAt',
  /** Who reverted it. */
  REVERTED_BY: 'revertedBy',
} as const;

/** The scaling of a variant, as the degrade found and left it. */
export type ScaleState =
  | { readonly mechanism: 'autoscaling'; readonly minCapacity: number; readonly maxCapacity: number }
  | { readonly mechanism: 'instance-count'; readonly desiredInstanceCount: number };

/** The routing of a model, as the degrade found and left it. */
export interface RouteState {
  /** The routing entry's version. */
  readonly version: number;
  /** Its weights. */
  readonly weights: VariantWeights;
}

/** What became of one action of a degrade. */
export interface ActionRecord {
  /**
   * `applying`: its BEFORE is recorded and the change is being made (an invocation that dies here leaves it; the
   * retry keeps this BEFORE); `applied`: changed (BEFORE and AFTER recorded); `unchanged`: already at the degraded
   * state; `failed`: see `error` (and `before`, when it was read).
   */
  readonly outcome: 'applying' | 'applied' | 'unchanged' | 'failed';
  /** When, ISO-8601. */
  readonly at: string;
  /** The state before the degrade. */
  readonly before?: ScaleState | RouteState;
  /** The state the degrade left. */
  readonly after?: ScaleState | RouteState;
  /** Why it failed (an error name and message, cut at 1000 characters). */
  readonly error?: string;
  /** When it was reverted, ISO-8601. */
  readonly revertedAt?: string;
  /** Who reverted it. */
  readonly revertedBy?: string;
}

/**
 * `applying`: being applied now; `applied`: every action done; `failed`: some failed (retried); `reverting`: a revert
 * took it (no retry resumes it); `reverted`.
 */
export type DegradeStatus = 'applying' | 'applied' | 'failed' | 'reverting' | 'reverted';

/** One degrade, as the ledger records it (one DynamoDB item, key `id`). */
export interface DegradeRecord {
  /** `degradeId`: budget and month. */
  readonly id: string;
  /** When it was first claimed, ISO-8601. */
  readonly claimedAt: string;
  /** Its status. */
  readonly status: DegradeStatus;
  /** How many invocations worked on it (a retry of a failed degrade is a second). */
  readonly attempts: number;
  /** The notification that triggered it. */
  readonly notification: BudgetNotification;
  /** The SNS message id of that notification. */
  readonly messageId: string;
  /** The actions, as configured when it was claimed (a retry follows these, not a newer configuration). */
  readonly plan: readonly DegradeActionSpec[];
  /** What became of each action, by its index in `plan`. */
  readonly actions: Readonly<Record<string, ActionRecord>>;
  /** When it was reverted (every applied action restored), ISO-8601. */
  readonly revertedAt?: string;
  /** Who reverted it. */
  readonly revertedBy?: string;
}

/** The reason text a degrade's routing change carries in the routing trail. */
export function degradeReason(record: Pick<DegradeRecord, 'id' | 'notification'>): string {
  const n = record.notification;
  return `cost guard degrade ${record.id}: budget '${n.budgetName}' ${n.notificationType} ${n.amount} crossed ${n.thresholdPercent} % (${n.thresholdAmount} of ${n.budgetedAmount})`.slice(0, 512);
}

/** The plan's actions still to apply: those without an `applied` or `unchanged` outcome. */
export function pendingActions(record: Pick<DegradeRecord, 'plan' | 'actions'>): number[] {
  return record.plan.map((_, i) => i).filter((i) => !['applied', 'unchanged'].includes(record.actions[String(i)]?.outcome ?? ''));
}

/** One step of a revert: an applied action not reverted yet, with the state it must find (AFTER) and restore (BEFORE). */
export interface RevertStep {
  readonly index: number;
  readonly spec: DegradeActionSpec;
  readonly before: ScaleState | RouteState;
  readonly after: ScaleState | RouteState;
}

/** The steps that revert `record`, last action first (undone in reverse order). */
export function revertSteps(record: Pick<DegradeRecord, 'plan' | 'actions'>): RevertStep[] {
  return record.plan.flatMap((spec, index) => {
    const done = record.actions[String(index)];
    return done?.outcome === 'applied' && !done.revertedAt && done.before && done.after ? [{ index, spec, before: done.before, after: done.after }] : [];
  }).reverse();
}

/** Whether two scale states are the same. */
export function sameScale(a: ScaleState, b: ScaleState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A scale state as text, for logs and the CLI. */
export function describeState(state: ScaleState | RouteState | undefined): string {
  if (!state) return '-';
  if ('version' in state) return `v${state.version} ${Object.entries(state.weights).map(([k, w]) => `${k}=${w}`).join(' ')}`;
  return state.mechanism === 'autoscaling' ? `autoscaling min=${state.minCapacity} max=${state.maxCapacity}` : `instances=${state.desiredInstanceCount}`;
}

/** A revert that would overwrite a change made since the degrade: `problems` names each, with what to do. */
export class DegradeRevertRefusedError extends Error {
  constructor(public readonly id: string, public readonly problems: readonly string[]) {
    super(`degrade ${id} not reverted:\n  - ${problems.join('\n  - ')}`);
    this.name = 'DegradeRevertRefusedError';
  }
}
