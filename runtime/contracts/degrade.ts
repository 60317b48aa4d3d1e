/**
 * The degrade action's contract, defined once: the Lambda environment the BudgetDegrade construct writes
 * (`degradeEnvironment`) and the degrade handler reads (`parseDegradeEnvironment`). The actions, trigger and ledger
 * record are defined in ../core/degrade.ts. Pure: imports only other pure modules.
 */
import { DEFAULT_DEGRADE_TRIGGER, DegradeActionSpec, degradeConfigProblems, DegradeTrigger } from '../core/degrade';
import { Environment, EnvironmentReader } from './environment';

/** Bundle name of the degrade Lambda handler (runtime/handlers/degrade-handler.ts). */
export const DEGRADE_HANDLER = 'degrade-handler';

/** Names of the degrade handler's environment variables. */
export const DegradeVariables = {
  /** JSON array of DegradeActionSpec: what a degrade changes, in order. */
  ACTIONS: 'DEGRADE_ACTIONS',
  /** JSON DegradeTrigger: which budget notifications degrade (optional: `DEFAULT_DEGRADE_TRIGGER`). */
  TRIGGER: 'DEGRADE_TRIGGER',
  /** DynamoDB table of the ledger: one item per degrade, with each action's state before and after. */
  LEDGER_TABLE_NAME: 'DEGRADE_LEDGER_TABLE_NAME',
  /**
   * Milliseconds after which an `applying` degrade is taken over by a later delivery (its invocation died): the
   * function's timeout plus `DEGRADE_STALE_MARGIN_MS` (optional: `degradeStaleAfterMs(DEGRADE_FUNCTION_TIMEOUT_S)`).
   */
  STALE_AFTER_MS: 'DEGRADE_STALE_AFTER_MS',
} as const;

/** The degrade function's timeout, seconds (what the BudgetDegrade construct deploys). */
export const DEGRADE_FUNCTION_TIMEOUT_S = 120;

/**
 * Margin past the function's timeout before an `applying` degrade counts as abandoned, milliseconds: an invocation
 * cannot run past its timeout, so once this has passed since the item was last taken, nobody is applying it. Short
 * enough that Lambda's second asynchronous retry (about 3 minutes after the first attempt) finds it stale.
 */
export const DEGRADE_STALE_MARGIN_MS = 30_000;

/** How long an `applying` degrade may go untouched before it is taken over, for a function timing out after `timeoutS`. */
export function degradeStaleAfterMs(timeoutS: number): number {
  return timeoutS * 1000 + DEGRADE_STALE_MARGIN_MS;
}

/** The degrade handler's settings, as the construct writes them and the handler reads them. */
export interface DegradeSettings {
  /** What a degrade changes, in order. */
  readonly actions: readonly DegradeActionSpec[];
  /**
   * Which budget notifications degrade.
   * @default DEFAULT_DEGRADE_TRIGGER (ACTUAL at or above 100 %)
   */
  readonly trigger?: DegradeTrigger;
  /** The ledger table's name (a CloudFormation token on the construct side). */
  readonly ledgerTableName: string;
  /**
   * How long an `applying` degrade may go untouched before a later delivery takes it over, milliseconds: longer than
   * the function's timeout.
   * @default degradeStaleAfterMs(DEGRADE_FUNCTION_TIMEOUT_S)
   */
  readonly staleAfterMs?: number;
}

const V = DegradeVariables;

/** The degrade handler's Lambda environment for `settings` (the trigger always written, its default when unset). */
export function degradeEnvironment(settings: DegradeSettings): Record<string, string> {
  return {
    [V.ACTIONS]: JSON.stringify(settings.actions),
    [V.TRIGGER]: JSON.stringify(settings.trigger ?? DEFAULT_DEGRADE_TRIGGER),
    [V.LEDGER_TABLE_NAME]: settings.ledgerTableName,
    [V.STALE_AFTER_MS]: String(settings.staleAfterMs ?? degradeStaleAfterMs(DEGRADE_FUNCTION_TIMEOUT_S)),
  };
}

/** Reads the degrade handler's settings from its environment; throws one error listing every problem. */
export function parseDegradeEnvironment(env: Environment): Required<DegradeSettings> {
  const read = new EnvironmentReader(env, DEGRADE_HANDLER, 'the BudgetDegrade construct');
  const actions = read.json<DegradeActionSpec[]>(V.ACTIONS, 'a JSON array of degrade actions');
  const trigger = read.json<DegradeTrigger>(V.TRIGGER, 'a JSON degrade trigger', { optional: true }) ?? DEFAULT_DEGRADE_TRIGGER;
  const ledgerTableName = read.required(V.LEDGER_TABLE_NAME);
  const staleAfterMs = read.number(V.STALE_AFTER_MS, degradeStaleAfterMs(DEGRADE_FUNCTION_TIMEOUT_S), { min: 1000, max: 2 ** 31 - 1 });
  if (actions !== undefined) for (const problem of degradeConfigProblems(actions, trigger)) read.problem(`${V.ACTIONS}/${V.TRIGGER}: ${problem}`);
  read.throwIfProblems();
  return { actions: actions ?? [], trigger, ledgerTableName, staleAfterMs };
}
