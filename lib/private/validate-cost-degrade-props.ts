/**
 * Validation of BudgetDegrade's configuration (lib/monitoring/cost-degrade.ts): the rules are the runtime's
 * (runtime/core/degrade.ts `degradeConfigProblems`, which the handler's contract parser applies too), plus Lambda's
 * limit on the environment they travel in. Internal: not exported from lib/index.ts.
 */
import { Token } from 'aws-cdk-lib';
import { degradeEnvironment } from '../../runtime/contracts/degrade';
import { DegradeActionSpec, degradeConfigProblems, DegradeTrigger } from '../../runtime/core/degrade';
import { LAMBDA_ENVIRONMENT_LIMIT_BYTES } from './validation';

/** Longest a table or endpoint name resolves to (DynamoDB allows 255 characters, SageMaker 63). */
const UNRESOLVED_NAME_BYTES = 255;

/** Every problem of a BudgetDegrade's actions and trigger, and of the environment they make (each token at its longest). */
export function budgetDegradeProblems(actions: readonly DegradeActionSpec[], trigger: DegradeTrigger): string[] {
  const problems = degradeConfigProblems(actions, trigger);
  const environment = degradeEnvironment({ actions, trigger, ledgerTableName: 'x'.repeat(UNRESOLVED_NAME_BYTES) });
  const tokens = actions.filter((a) => Token.isUnresolved(a.kind === 'route' ? a.routingTableName : a.endpointName)).length;
  const bytes = Object.entries(environment).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0) + tokens * UNRESOLVED_NAME_BYTES;
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    problems.push(`the actions take about ${bytes} bytes of the handler's environment; Lambda allows ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}: configure fewer actions`);
  }
  return problems;
}
