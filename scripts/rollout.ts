/**
 * `npm run rollout`: starts a canary rollout (CanaryRollout's state machine), shows the running one and a model's
 * history (who did what, when, why), and rolls one back in one command.
 *
 *   npm run rollout -- start --model fraud --state-machine <arn> [--plan plan.json] [--by who] [--reason why]
 *   npm run rollout -- status --model fraud [--table T]
 *   npm run rollout -- history --model fraud [--table T] [--limit N]
 *   npm run rollout -- rollback --model fraud [--rollout-id ID] [--table T] [--routing-table R] [--topic <arn>] [--by who] [--reason why]
 *
 * The rollout table is `--table` or ROLLOUT_TABLE_NAME (`RolloutVariables.TABLE_NAME`), the routing table
 * `--routing-table` or ROUTING_TABLE_NAME. `rollback` runs the rollout handler's rollback here, with your credentials
 * (no Lambda call): all traffic to the champion at once in the routing table (audited as `--by`, default the OS user,
 * with `--reason`), the rollout's state and history saved, the model's lock released; with `--topic` it also publishes
 * the decision. Without `--rollout-id` it rolls back the model's running rollout. Region, credentials and endpoints come
 * from the AWS SDK's environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...). Exits 2 on a malformed command
 * line, 1 when a service refuses or fails (no running rollout, a conflict).
 */
import * as fs from 'fs';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { RolloutVariables } from '../runtime/contracts/rollout';
import { current, history, load, StoredRollout } from '../runtime/aws/rollout-store';
import type { RolloutEvent, RolloutPlan } from '../runtime/core/rollout';
import { createRolloutHandler, RolloutNotFoundError } from '../runtime/handlers/rollout-handler';
import { osUser, runCli, UsageError } from './cli';

const USAGE = `usage:
  npm run rollout -- start --model <model> --state-machine <arn> [--plan <plan.json>] [--by <who>] [--reason "<why>"]
  npm run rollout -- status --model <model> [--table T]
  npm run rollout -- history --model <model> [--table T] [--limit N]
  npm run rollout -- rollback --model <model> [--rollout-id ID] [--table T] [--routing-table R] [--topic <arn>] [--by <who>] [--reason "<why>"]
The rollout table is --table or ${RolloutVariables.TABLE_NAME}; the routing table --routing-table or ${RolloutVariables.ROUTING_TABLE_NAME}.`;

type Action = 'start' | 'status' | 'history' | 'rollback';
/** The options each command accepts. */
const OPTIONS: Record<Action, readonly string[]> = {
  start: ['model', 'state-machine', 'plan', 'by', 'reason'],
  status: ['model', 'table'],
  history: ['model', 'table', 'limit'],
  rollback: ['model', 'rollout-id', 'table', 'routing-table', 'topic', 'by', 'reason'],
};

/** A parsed command line. */
interface Command {
  readonly action: Action;
  readonly options: Readonly<Record<string, string>>;
  readonly limit: number;
}

/** Parses the command line, listing every problem at once. */
function parseArgs(argv: readonly string[]): Command {
  const [action, ...rest] = argv;
  if (!(action in OPTIONS)) throw new UsageError(action === undefined ? 'no command given' : `unknown command '${action}': start, status, history or rollback`);
  const accepted = OPTIONS[action as Action];
  const problems: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name === undefined) problems.push(`unexpected argument '${arg}'`);
    else if (!accepted.includes(name)) problems.push(`${arg} does not apply to ${action} (it takes ${accepted.map((o) => `--${o}`).join(', ')})`);
    else if (i + 1 >= rest.length || rest[i + 1].startsWith('--')) problems.push(`${arg} needs a value`);
    else if (name in options) problems.push(`${arg} is given twice`);
    else options[name] = rest[++i];
  }
  if (!options.model) problems.push('--model is required');
  const fromEnv = (option: string, variable: string) => {
    if (!accepted.includes(option)) return;
    options[option] ??= process.env[variable] ?? '';
    if (!options[option]) problems.push(`no ${option.replace('-', ' ')}: give --${option} or set ${variable}`);
  };
  fromEnv('table', RolloutVariables.TABLE_NAME);
  fromEnv('routing-table', RolloutVariables.ROUTING_TABLE_NAME);
  if (action === 'start' && !options['state-machine']) problems.push('--state-machine is required: the CanaryRollout\'s state machine ARN (stateMachine.stateMachineArn)');
  const limit = options.limit === undefined ? 20 : Number(options.limit);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) problems.push(`--limit must be an integer from 1 to 1000, not '${options.limit}'`);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { action: action as Action, options, limit };
}

const formatWeights = (weights: Readonly<Record<string, number>> | undefined) => (weights ? Object.entries(weights).map(([n, w]) => `${n}=${w}`).join(' ') : '');

function eventLine(event: RolloutEvent): string {
  return `  ${new Date(event.atMs).toISOString()} ${event.action.padEnd(12)} ${event.by} ${formatWeights(event.weights)} ${JSON.stringify(event.reason)}`;
}

function rolloutLines(rollout: StoredRollout): string[] {
  const { state } = rollout;
  return [`${state.id} ${state.phase} (step ${state.stepIndex + 1}) started by ${rollout.by} at ${rollout.since}, updated ${rollout.updatedAt}`, ...state.history.map(eventLine)];
}

/** Reads a plan file (JSON): a malformed one is a usage error. */
function readPlan(file: string): RolloutPlan {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RolloutPlan;
  } catch (error) {
    throw new UsageError(`--plan ${file}: not a readable JSON rollout plan (${(error as Error).message})`);
  }
}

async function main(): Promise<void> {
  const { action, options, limit } = parseArgs(process.argv.slice(2));
  const model = options.model;
  const by = options.by ?? osUser();
  if (action === 'start') {
    const plan = options.plan === undefined ? undefined : readPlan(options.plan);
    const sfn = new SFNClient({});
    try {
      const { executionArn } = await sfn.send(new StartExecutionCommand({
        stateMachineArn: options['state-machine'], input: JSON.stringify({ ...(plan ? { plan } : {}), by, ...(options.reason ? { reason: options.reason } : {}) }),
      }));
      console.log(`${model}: rollout started: ${executionArn}`);
    } finally {
      sfn.destroy();
    }
    return;
  }
  const dynamodb = new DynamoDBClient({});
  const table = { client: dynamodb, tableName: options.table };
  try {
    if (action === 'status') {
      const running = await current(table, model);
      if (!running) console.log(`${model}: no rollout running`);
      else if (!running.rollout) console.log(`${model}: rollout ${running.lock.rolloutId} holds the lock (started by ${running.lock.by} at ${running.lock.since}) but stored no state: roll it back to release it`);
      else console.log(rolloutLines(running.rollout).join('\n'));
      return;
    }
    if (action === 'history') {
      const rollouts = await history(table, model, limit);
      console.log(rollouts.length === 0 ? `${model}: no rollouts` : rollouts.flatMap(rolloutLines).join('\n'));
      return;
    }
    // rollback: the stored plan names the champion; the handler does the rest as the state machine's would.
    const running = options['rollout-id'] === undefined ? await current(table, model) : undefined;
    const rolloutId = options['rollout-id'] ?? running?.lock.rolloutId;
    if (rolloutId === undefined) throw new RolloutNotFoundError(model);
    const stored = running?.rollout ?? await load(table, model, rolloutId);
    if (!stored) throw new Error(`rollout ${rolloutId} of model '${model}' has no stored plan to roll back from: set the routing with npm run route, then roll back again`);
    const sns = options.topic ? new SNSClient({}) : undefined;
    const cloudwatch = new CloudWatchClient({});
    try {
      const handler = createRolloutHandler({
        settings: { tableName: options.table, routingTableName: options['routing-table'], plan: stored.plan, ...(options.topic ? { topicArn: options.topic } : {}) },
        clients: { dynamodb, cloudwatch, ...(sns ? { sns } : {}) },
        log: () => undefined,
      });
      const answer = await handler({ action: 'rollback', rolloutId, by, reason: options.reason ?? `rolled back by ${by} (npm run rollout)` });
      const last = answer.state.history.at(-1);
      console.log(`${model}: rollout ${rolloutId} ${answer.state.phase}${last?.weights ? `: ${formatWeights(last.weights)}` : ''}`);
    } finally {
      sns?.destroy();
      cloudwatch.destroy();
    }
  } finally {
    dynamodb.destroy();
  }
}

runCli('rollout', USAGE, main);
