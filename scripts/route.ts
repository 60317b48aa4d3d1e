/**
 * `npm run route`: shows and sets a model's routing weights in the routing table (ModelRouting), with optimistic
 * concurrency and an audit trail (runtime/core/routing.ts).
 *
 *   npm run route -- show <model> [--table T]
 *   npm run route -- set <model> champion=90 challenger=10 --reason "canary step 1" [--expected-version N] [--by who] [--table T]
 *   npm run route -- set <model> champion=90 challenger2=10 --replace-variants --reason "endpoint variants changed" [...]
 *   npm run route -- history <model> [--table T]
 *   npm run route -- shadow <model> --variant challenger --percent 10 --reason "shadow before canary" [--expected-version N] [--by who] [--table T]
 *   npm run route -- shadow <model> --off --reason "exit criteria met" [...]
 *
 * The table is `--table` or the ROUTING_TABLE_NAME variable (`RoutingVariables.TABLE_NAME`). Region, credentials and
 * endpoint come from the AWS SDK's environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB` for a local stand-in).
 * `set` gives every variant a weight (any non-negative scale), records who (`--by`, default the OS user) and why, and
 * changes the weights only if they are still at the version it read (or `--expected-version`); it prints the new
 * version. `--replace-variants` makes the weights the model's new variants (a deliberate repair when the endpoint's
 * variants changed and the table does not know it yet; a deploy of ModelRouting does it by itself), with the same
 * optimistic check and audit. `shadow` copies `--percent` % of the gateway's requests to `--variant` (one of the
 * model's variants with weight 0; its answers are logged, never returned) or, with `--off`, stops; versioned and
 * audited like a weight change (the routing sync pushes nothing to SageMaker for it). Exits 2 on a malformed command line, 1 when the table refuses or fails (conflict, invalid weights, no entry).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RoutingTableClient } from '../runtime/aws/routing-table';
import { RoutingChange, RoutingEntry, RoutingNotFoundError, RoutingVariables, ShadowRouting, VariantWeights } from '../runtime/core/routing';
import { osUser, runCli, UsageError } from './cli';

const USAGE = `usage:
  npm run route -- show <model> [--table T]
  npm run route -- set <model> <variant>=<weight>... --reason "<why>" [--replace-variants] [--expected-version N] [--by <who>] [--table T]
  npm run route -- history <model> [--table T]
  npm run route -- shadow <model> (--variant <name> --percent <0-100> | --off) --reason "<why>" [--expected-version N] [--by <who>] [--table T]
The table is --table or ${RoutingVariables.TABLE_NAME}; AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB as for any AWS SDK client.`;


/** A parsed command line. */
interface Command {
  readonly action: 'show' | 'set' | 'history' | 'shadow';
  readonly model: string;
  readonly table: string;
  readonly weights: VariantWeights;
  readonly reason?: string;
  readonly by: string;
  readonly expectedVersion?: number;
  readonly replaceVariants: boolean;
  /** `shadow`: the new shadow, or null (`--off`). */
  readonly shadow?: ShadowRouting | null;
}

/** Parses the command line, listing every problem at once. */
function parseArgs(argv: readonly string[]): Command {
  const problems: string[] = [];
  const [action, model, ...rest] = argv;
  if (action !== 'show' && action !== 'set' && action !== 'history' && action !== 'shadow') {
    throw new UsageError(action === undefined ? 'no command given' : `unknown command '${action}': show, set, history or shadow`);
  }
  if (!model || model.startsWith('--')) throw new UsageError(`${action} needs a model name`);
  const options: Record<string, string> = {};
  const weights: Record<string, number> = {};
  let replaceVariants = false;
  let off = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--replace-variants') {
      if (action !== 'set') problems.push('--replace-variants applies to set only');
      replaceVariants = true;
      continue;
    }
    if (arg === '--off') {
      if (action !== 'shadow') problems.push('--off applies to shadow only');
      off = true;
      continue;
    }
    if (arg.startsWith('--')) {
      const name = arg.slice(2);
      if (!['table', 'reason', 'by', 'expected-version', 'variant', 'percent'].includes(name)) problems.push(`unknown option ${arg}`);
      else if ((name === 'variant' || name === 'percent') && action !== 'shadow') problems.push(`${arg} applies to shadow only`);
      else if (i + 1 >= rest.length) problems.push(`${arg} needs a value`);
      else options[name] = rest[++i];
      continue;
    }
    const eq = arg.indexOf('=');
    if (action !== 'set' || eq <= 0) {
      problems.push(action === 'set' ? `'${arg}' is not <variant>=<weight> (e.g. champion=90)` : `unexpected argument '${arg}'`);
      continue;
    }
    const name = arg.slice(0, eq);
    const text = arg.slice(eq + 1).trim();
    if (name in weights) problems.push(`variant '${name}' is given twice`);
    // Number('') is 0: an empty weight is a mistake, not 0. Rules on the value (finite, ≥ 0) are the table's.
    weights[name] = text === '' ? NaN : Number(text);
  }
  const table = options.table ?? process.env[RoutingVariables.TABLE_NAME] ?? '';
  if (!table) problems.push(`no routing table: give --table or set ${RoutingVariables.TABLE_NAME}`);
  let expectedVersion: number | undefined;
  if (options['expected-version'] !== undefined) {
    expectedVersion = Number(options['expected-version']);
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 1) problems.push(`--expected-version must be a version number (1 or more), not '${options['expected-version']}'`);
  }
  let shadow: ShadowRouting | null | undefined;
  if (action === 'set' || action === 'shadow') {
    if (action === 'set' && Object.keys(weights).length === 0) problems.push('set needs a weight for every variant, e.g. champion=90 challenger=10');
    if (options.reason === undefined) problems.push(`--reason is required: say why the ${action === 'set' ? 'weights change' : 'shadow changes'} (it is kept in the audit trail)`);
  } else {
    for (const name of ['reason', 'by', 'expected-version']) if (options[name] !== undefined) problems.push(`--${name} applies to set only`);
  }
  if (action === 'shadow') {
    if (off && (options.variant !== undefined || options.percent !== undefined)) problems.push('--off takes no --variant or --percent');
    else if (!off && (options.variant === undefined || options.percent === undefined)) problems.push('shadow needs --variant <name> --percent <0-100>, or --off');
    // Number('') is 0: an empty percent is a mistake. Rules on the value (a number in (0, 100]) are the table's.
    else shadow = off ? null : { variant: options.variant!, percent: options.percent!.trim() === '' ? NaN : Number(options.percent) };
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { action, model, table, weights, reason: options.reason, by: options.by ?? osUser(), expectedVersion, replaceVariants, shadow };
}

const formatShadow = (shadow: ShadowRouting | undefined) => shadow ? `${shadow.variant} ${shadow.percent} %` : 'off';

const formatWeights = (weights: VariantWeights) => Object.keys(weights).length === 0
  ? '(none)' : Object.entries(weights).map(([name, weight]) => `${name}=${weight}`).join(' ');

function show(entry: RoutingEntry): string {
  const total = entry.variants.reduce((sum, v) => sum + v.weight, 0);
  const width = Math.max(...entry.variants.map((v) => v.name.length));
  const last = entry.trail.at(-1);
  return [
    `${entry.model} version ${entry.version}${entry.endpointName ? ` (endpoint ${entry.endpointName})` : ''}`,
    ...entry.variants.map((v) => `  ${v.name.padEnd(width)}  ${String(v.weight).padStart(6)}  ${(100 * v.weight / total).toFixed(1).padStart(5)} %`),
    ...(entry.shadow ? [`shadow: ${formatShadow(entry.shadow)} of requests copied (answers logged, never returned)`] : []),
    ...(last ? [`last change: ${historyLine(last)}`] : []),
  ].join('\n');
}

function historyLine(change: RoutingChange): string {
  const what = change.shadow
    ? `shadow ${formatShadow(change.shadow.from)} → ${formatShadow(change.shadow.to)}`
    : `${formatWeights(change.from)} → ${formatWeights(change.to)}`;
  return `${change.version} ${change.at ?? '(deploy)'} ${change.by} ${what} ${JSON.stringify(change.reason)}`;
}

async function main(): Promise<void> {
  const command = parseArgs(process.argv.slice(2));
  const client = new DynamoDBClient({});
  try {
    const table = new RoutingTableClient({ client, tableName: command.table });
    if (command.action === 'shadow') {
      const entry = await table.setShadow(command.model, command.shadow!, { expectedVersion: command.expectedVersion, by: command.by, reason: command.reason! });
      const change = entry.trail.at(-1)!.shadow;
      console.log(`${command.model}: version ${entry.version}: shadow ${formatShadow(change?.from)} → ${formatShadow(change?.to)}`);
      return;
    }
    if (command.action === 'set') {
      // Without --expected-version, the version read now: still optimistic, a change in between is refused.
      const expectedVersion = command.expectedVersion ?? (await table.get(command.model, { consistentRead: true }))?.version;
      if (expectedVersion === undefined) throw new RoutingNotFoundError(command.model);
      const entry = await table.setWeights(command.model, command.weights, {
        expectedVersion, by: command.by, reason: command.reason!, replaceVariants: command.replaceVariants,
      });
      console.log(`${command.model}: version ${entry.version}: ${formatWeights(entry.trail.at(-1)!.from)} → ${formatWeights(entry.trail.at(-1)!.to)}`);
      return;
    }
    const entry = await table.get(command.model, { consistentRead: true });
    if (!entry) throw new RoutingNotFoundError(command.model);
    console.log(command.action === 'show' ? show(entry) : entry.trail.map(historyLine).join('\n'));
  } finally {
    client.destroy();
  }
}

runCli('route', USAGE, main);
