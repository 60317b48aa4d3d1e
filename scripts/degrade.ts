/**
 * `npm run degrade`: the cost guard's degrade ledger (BudgetDegrade): lists degrades and reverts one.
 *
 *   npm run degrade -- show --table <ledger>
 *   npm run degrade -- revert (--id <id> | --last) --table <ledger> [--by <who>]
 *
 * The table is `--table` or the DEGRADE_LEDGER_TABLE_NAME variable (`DegradeVariables.LEDGER_TABLE_NAME`). `revert`
 * restores every action's state from before the degrade (routing weights with optimistic concurrency, a variant's
 * capacities) and records who (`--by`, default the OS user) and when; it refuses, naming each change, when someone
 * changed a target since the degrade. Region, credentials and endpoints come from the AWS SDK's environment
 * (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...). Exits 2 on a malformed command line, 1 when the revert is refused
 * or fails.
 */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { DegradeVariables } from '../runtime/contracts/degrade';
import { actionTarget, DegradeRecord, describeState } from '../runtime/core/degrade';
import { revertDegrade } from '../runtime/aws/degrade-actions';
import { listDegrades } from '../runtime/aws/degrade-ledger';
import { osUser, runCli, UsageError } from './cli';

const USAGE = `usage:
  npm run degrade -- show [--table T]
  npm run degrade -- revert (--id <id> | --last) [--by <who>] [--table T]
The table is --table or ${DegradeVariables.LEDGER_TABLE_NAME}; AWS_REGION and AWS_ENDPOINT_URL_* as for any AWS SDK client.`;


/** A parsed command line. */
interface Command {
  readonly action: 'show' | 'revert';
  readonly table: string;
  readonly id?: string;
  readonly last: boolean;
  readonly by: string;
}

/** Parses the command line, listing every problem at once. */
function parseArgs(argv: readonly string[]): Command {
  const [action, ...rest] = argv;
  if (action !== 'show' && action !== 'revert') throw new UsageError(action === undefined ? 'no command given' : `unknown command '${action}': show or revert`);
  const problems: string[] = [];
  const options: Record<string, string> = {};
  let last = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--last') last = true;
    else if (['--table', '--id', '--by'].includes(arg) && i + 1 < rest.length) options[arg.slice(2)] = rest[++i];
    else problems.push(['--table', '--id', '--by'].includes(arg) ? `${arg} needs a value` : `unexpected argument '${arg}'`);
  }
  const table = options.table ?? process.env[DegradeVariables.LEDGER_TABLE_NAME] ?? '';
  if (!table) problems.push(`no ledger table: give --table or set ${DegradeVariables.LEDGER_TABLE_NAME}`);
  if (action === 'revert' && (options.id === undefined) === !last) problems.push('revert needs one of --id <id> (npm run degrade -- show lists them) or --last');
  if (action === 'show' && (last || options.id !== undefined || options.by !== undefined)) problems.push('--id, --last and --by apply to revert only');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { action, table, id: options.id, last, by: options.by ?? osUser() };
}

/** A degrade as lines of text: id, status, notification, each action with its state before and after. */
function describeDegrade(record: DegradeRecord): string {
  const n = record.notification;
  return [
    `${record.id}  ${record.status}  claimed ${record.claimedAt}${record.revertedAt ? `  reverted ${record.revertedAt} by ${record.revertedBy}` : ''}`,
    `  budget '${n.budgetName}' ${n.notificationType} ${n.amount} of ${n.budgetedAmount} (threshold ${n.thresholdPercent} %)`,
    ...record.plan.map((spec, i) => {
      const done = record.actions[String(i)];
      return `  [${i}] ${actionTarget(spec)}: ${done?.outcome ?? 'pending'}  ${describeState(done?.before)} → ${describeState(done?.after)}`
        + `${done?.error ? `  (${done.error})` : ''}${done?.revertedAt ? `  reverted ${done.revertedAt}` : ''}`;
    }),
  ].join('\n');
}

async function main(): Promise<void> {
  const command = parseArgs(process.argv.slice(2));
  const clients = { dynamodb: new DynamoDBClient({}), sagemaker: new SageMakerClient({}), autoscaling: new ApplicationAutoScalingClient({}) };
  const ledger = { client: clients.dynamodb, tableName: command.table };
  try {
    if (command.action === 'show') {
      const records = await listDegrades(ledger);
      console.log(records.length === 0 ? 'no degrades' : records.map(describeDegrade).join('\n'));
      return;
    }
    const record = await revertDegrade({ ledger, clients, degrade: command.last ? 'last' : { id: command.id! }, by: command.by });
    console.log(`reverted ${record.id} (by ${command.by})`);
  } finally {
    Object.values(clients).forEach((c) => c.destroy());
  }
}

runCli('degrade', USAGE, main);
