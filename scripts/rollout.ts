/**
 * `npm run rollout`: starts a canary rollout (CanaryRollout's state machine), shows the running one and a model's
 * history (who did what, when, why), and rolls one back in one command.
 *
 *   npm run rollout -- start --model fraud --state-machine <arn> [--plan plan.json] [--by who] [--reason why]
 *   npm run rollout -- status --model fraud [--table T]
 *   npm run rollout -- history --model fraud [--table T] [--limit N]
 *   npm run rollout -- rollback --model fraud [--rollout-id ID] [--table T] [--routing-table R] [--topic <arn>] [--by who] [--reason why]
 *                                             [--champion C --challenger X | --force-release]
 *
 * The rollout table is `--table` or ROLLOUT_TABLE_NAME (`RolloutVariables.TABLE_NAME`), the routing table
 * `--routing-table` or ROUTING_TABLE_NAME. `rollback` runs the rollout handler's rollback here, with your credentials
 * (no Lambda call): all traffic to the champion at once in the routing table (audited as `--by`, default the OS user,
 * with `--reason`), the rollout's state and history saved, the model's lock released; with `--topic` it also publishes
 * the decision. Without `--rollout-id` it rolls back the model's running rollout. A start that died before storing its
 * state leaves a lock without a plan: the rollback then takes the plan from `--champion` and `--challenger`, or else
 * from ROLLOUT_PLAN (`RolloutVariables.PLAN`, the deployed plan as in the handler's environment), and routes all traffic
 * to that champion; `--force-release` only releases the lock (the routing is left as it is: check it with
 * `npm run route -- show`). Region, credentials and endpoints come
 * from the AWS SDK's environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...). Exits 2 on a malformed command
 * line, 1 when a service refuses or fails (no running rollout, a conflict).
 */
import * as fs from 'fs';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { RolloutVariables } from '../runtime/contracts/rollout';
import { current, history, load, release, StoredRollout } from '../runtime/aws/rollout-store';
import type { RolloutEvent, RolloutPlan } from '../runtime/core/rollout';
import { createRolloutHandler, RolloutNotFoundError } from '../runtime/handlers/rollout-handler';
import { osUser, runCli, UsageError } from './cli';

const USAGE = `usage:
  npm run rollout -- start --model <model> --state-machine <arn> [--plan <plan.json>] [--by <who>] [--reason "<why>"]
  npm run rollout -- status --model <model> [--table T]
  npm run rollout -- history --model <model> [--table T] [--limit N]
  npm run rollout -- rollback --model <model> [--rollout-id ID] [--table T] [--routing-table R] [--topic <arn>] [--by <who>] [--reason "<why>"]
                             [--champion <variant> --challenger <variant> | --force-release]   (a lock without a stored plan)
The rollout table is --table or ${RolloutVariables.TABLE_NAME}; the routing table --routing-table or ${RolloutVariables.ROUTING_TABLE_NAME}.`;

type Action = 'start' | 'status' | 'history' | 'rollback';
/** The options each command accepts. */
const OPTIONS: Record<Action, readonly string[]> = {
  start: ['model', 'state-machine', 'plan', 'by', 'reason'],
  status: ['model', 'table'],
  history: ['model', 'table', 'limit'],
  rollback: ['model', 'rollout-id', 'table', 'routing-table', 'topic', 'by', 'reason', 'champion', 'challenger', 'force-release'],
};
/** Options that take no value. */
const FLAGS: readonly string[] = ['force-release'];

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
    else if (FLAGS.includes(name)) options[name] = 'true';
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
  if ((options.champion === undefined) !== (options.challenger === undefined)) problems.push('--champion and --challenger go together');
  if (options['force-release'] && options.champion !== undefined) problems.push('--force-release does not route: give it or --champion/--challenger, not both');
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

/**
 * The plan to roll back a lock without stored state from: `--champion`/`--challenger` (a plan for the rollback only:
 * its guardrails are never evaluated), else the deployed plan in ROLLOUT_PLAN when it is for this model.
 */
function planWithoutState(model: string, options: Readonly<Record<string, string>>): RolloutPlan | undefined {
  if (options.champion !== undefined) return { model, champion: options.champion, challenger: options.challenger, guardrails: { maxLatencyP99Ms: ROLLBACK_ONLY_LATENCY_MS } };
  const deployed = process.env[RolloutVariables.PLAN];
  if (!deployed) return undefined;
  let plan: RolloutPlan;
  try {
    plan = JSON.parse(deployed) as RolloutPlan;
  } catch (error) {
    throw new UsageError(`${RolloutVariables.PLAN} is not JSON (${(error as Error).message})`);
  }
  if (plan?.model !== model) throw new UsageError(`${RolloutVariables.PLAN} is a plan for model '${String(plan?.model).slice(0, 64)}', not '${model}'`);
  return plan;
}

/** The latency bound of a plan built for a rollback only (required by a plan, never evaluated by a rollback). */
const ROLLBACK_ONLY_LATENCY_MS = 1000;

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
    const plan = stored?.plan ?? planWithoutState(model, options);
    if (!plan && options['force-release'] && running) {
      const released = await release(table, model, rolloutId);
      console.log(`${model}: rollout ${rolloutId}: ${released ? 'lock released' : 'the lock was released already'}; the routing was not changed (check it: npm run route -- show ${model})`);
      return;
    }
    if (!plan) {
      throw new Error(`rollout ${rolloutId} of model '${model}' holds the lock but stored no plan (its start failed): give --champion <variant> --challenger <variant> `
        + `(all traffic to the champion), set ${RolloutVariables.PLAN} to the deployed plan, or --force-release (release the lock, routing unchanged)`);
    }
    const sns = options.topic ? new SNSClient({}) : undefined;
    const cloudwatch = new CloudWatchClient({});
    try {
      const handler = createRolloutHandler({
        settings: { tableName: options.table, routingTableName: options['routing-table'], plan, ...(options.topic ? { topicArn: options.topic } : {}) },
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
