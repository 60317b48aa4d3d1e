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
} as const;

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
}

const V = DegradeVariables;

/** The degrade handler's Lambda environment for `settings` (the trigger always written, its default when unset). */
export function degradeEnvironment(settings: DegradeSettings): Record<string, string> {
  return {
    [V.ACTIONS]: JSON.stringify(settings.actions),
    [V.TRIGGER]: JSON.stringify(settings.trigger ?? DEFAULT_DEGRADE_TRIGGER),
    [V.LEDGER_TABLE_NAME]: settings.ledgerTableName,
  };
}

/** Reads the degrade handler's settings from its environment; throws one error listing every problem. */
export function parseDegradeEnvironment(env: Environment): Required<DegradeSettings> {
  const read = new EnvironmentReader(env, DEGRADE_HANDLER, 'the BudgetDegrade construct');
  const actions = read.json<DegradeActionSpec[]>(V.ACTIONS, 'a JSON array of degrade actions');
  const trigger = read.json<DegradeTrigger>(V.TRIGGER, 'a JSON degrade trigger', { optional: true }) ?? DEFAULT_DEGRADE_TRIGGER;
  const ledgerTableName = read.required(V.LEDGER_TABLE_NAME);
  if (actions !== undefined) for (const problem of degradeConfigProblems(actions, trigger)) read.problem(`${V.ACTIONS}/${V.TRIGGER}: ${problem}`);
  read.throwIfProblems();
  return { actions: actions ?? [], trigger, ledgerTableName };
}
