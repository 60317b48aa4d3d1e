/**
 * `npm run baseline`: profiles what a model version was trained on (or a window of the offline store, or of served
 * predictions) and stores the profile as that version's baseline, where drift detection and the label join read it.
 *
 *   npm run baseline -- --model fraud --version 3 --training-set data/train.parquet \
 *       --label is_fraud --score score --problem classification [--threshold 0.5] --bucket <dataset bucket>
 *   npm run baseline -- --model fraud --version 3 --offline-root ./offline-copy --views views.json \
 *       --from 2026-03-01T00:00:00Z --to 2026-03-08T00:00:00Z --out ./baselines
 *   npm run baseline -- --model fraud --version 3 --logs ./dataset-copy --from … --to … --out ./baselines
 *
 * `--bucket` writes `baselines/model=<m>/version=<v>/baseline.json` to S3 (region, credentials and endpoint from the
 * AWS SDK's environment: `AWS_REGION`, `AWS_ENDPOINT_URL_S3`); `--out <dir>` writes the same key under a folder.
 * Exits 2 on a malformed command line (naming the flag and the fix), 1 when reading or writing fails.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { S3Client } from '@aws-sdk/client-s3';
import type { FeatureViewSpec } from '../lib/features/spec';
import { serializeBaseline, writeBaseline } from '../runtime/aws/baseline-store';
import { baselineKey } from '../runtime/core/datasets';
import { BaselineRequest, BaselineSource, buildBaseline, TrainingSetFormat, validateBaselineRequest } from '../runtime/offline/baseline';
import { runCli, UsageError } from './cli';

const USAGE = `usage:
  npm run baseline -- --model <m> --version <v> <source> (--bucket <dataset bucket> | --out <dir>)
sources (exactly one):
  --training-set <file or glob>   Parquet, CSV or JSON lines [--format parquet|csv|jsonl]
      [--features a,b] [--feature-refs view:feature,...] [--exclude a,b] [--outputs a,b]
      [--score <column> --label <column> --problem classification|regression [--threshold 0.5] [--positive-label <class>]]
  --offline-root <dir> --views <views.json> --from <time> --to <time> [--feature-refs view:feature,...]
  --logs <dir> --from <time> --to <time>       prediction logs (prediction-logs/model=<m>/dt=…)
Times are ISO-8601 with a zone (2026-03-01T00:00:00Z). --feature-refs names training columns view__feature as the
gateway logs them (view:feature). --bucket uses AWS_REGION and AWS_ENDPOINT_URL_S3 as any AWS SDK client.`;

/** Flags that take a value, and the request field each one sets (for messages naming the flag). */
const VALUE_FLAGS = {
  '--model': 'model', '--version': 'modelVersion', '--bucket': '', '--out': '',
  '--training-set': 'source.path', '--format': 'source.format', '--features': 'source.features', '--feature-refs': 'source.featureRefs',
  '--exclude': 'source.exclude', '--outputs': 'source.outputs', '--score': 'source.score', '--label': 'source.label',
  '--problem': 'source.problem', '--threshold': 'source.threshold', '--positive-label': 'source.positiveLabel',
  '--offline-root': 'source.offlineRoot', '--views': 'source.views', '--from': 'source.from', '--to': 'source.to', '--logs': 'source.root',
} as const;
type Flag = keyof typeof VALUE_FLAGS;

/** A parsed command line. */
interface Command {
  readonly request: BaselineRequest;
  readonly bucket?: string;
  readonly out?: string;
}

/** A comma-separated list flag. */
const list = (value: string | undefined) => value?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

/** Rewrites the request's field names in validation messages into the flags that set them. */
function inFlags(message: string): string {
  let text = message;
  for (const [flag, field] of Object.entries(VALUE_FLAGS)) {
    if (field) text = text.replace(new RegExp(`(^|\\n  - )${field.replace('.', '\\.')}(\\.\\w+)?:`, 'g'), `$1${flag}:`);
  }
  return text;
}

/** Reads the views of `--views` (a JSON array of feature view specs, like examples/feature-contracts.lock.json). */
function readViews(path: string, problems: string[]): FeatureViewSpec[] {
  try {
    const views = JSON.parse(readFileSync(path, 'utf8'));
    if (Array.isArray(views)) return views as FeatureViewSpec[];
    problems.push(`--views: ${path} must hold a JSON array of feature view specs (as examples/feature-contracts.lock.json)`);
  } catch (e) {
    problems.push(`--views: cannot read ${path} (${(e as Error).message}); give a JSON file of feature view specs`);
  }
  return [];
}

/** Parses the command line, listing every problem at once. */
function parseArgs(argv: readonly string[]): Command {
  const problems: string[] = [];
  const options: Partial<Record<Flag, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!Object.hasOwn(VALUE_FLAGS, arg)) problems.push(`unexpected argument '${arg}' (see the usage below)`);
    else if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) problems.push(`${arg} needs a value`);
    else options[arg as Flag] = argv[++i];
  }
  const sources = (['--training-set', '--offline-root', '--logs'] as const).filter((f) => options[f] !== undefined);
  if (sources.length !== 1) problems.push(`give exactly one source: --training-set, --offline-root or --logs${sources.length > 1 ? ` (got ${sources.join(', ')})` : ''}`);
  if ((options['--bucket'] === undefined) === (options['--out'] === undefined)) problems.push('give exactly one destination: --bucket <dataset bucket> or --out <dir>');
  const threshold = options['--threshold'] === undefined || !Number.isFinite(Number(options['--threshold'])) ? undefined : Number(options['--threshold']);
  if (options['--threshold'] !== undefined && threshold === undefined) problems.push(`--threshold: '${options['--threshold']}' is not a number; give a probability such as 0.5`);
  const onlyFor = (source: Flag, flags: readonly Flag[]) => {
    for (const flag of flags) if (options[flag] !== undefined && options[source] === undefined) problems.push(`${flag} applies to ${source} only`);
  };
  onlyFor('--training-set', ['--format', '--features', '--exclude', '--outputs', '--score', '--label', '--problem', '--threshold', '--positive-label']);
  onlyFor('--offline-root', ['--views']);
  if (options['--training-set'] !== undefined && (options['--from'] !== undefined || options['--to'] !== undefined)) problems.push('--from and --to apply to --offline-root and --logs only');
  let source: BaselineSource | undefined;
  if (options['--training-set'] !== undefined) {
    source = {
      kind: 'training-set', path: options['--training-set'], format: options['--format'] as TrainingSetFormat | undefined,
      features: list(options['--features']), featureRefs: list(options['--feature-refs']), exclude: list(options['--exclude']),
      outputs: list(options['--outputs']), score: options['--score'], label: options['--label'],
      problem: options['--problem'] as 'classification' | 'regression' | undefined, threshold, positiveLabel: options['--positive-label'],
    };
  } else if (options['--offline-root'] !== undefined) {
    if (options['--views'] === undefined) problems.push('--views: --offline-root needs the views to read: a JSON file of feature view specs');
    const views = options['--views'] === undefined ? [] : readViews(options['--views'], problems);
    source = { kind: 'offline-store', offlineRoot: options['--offline-root'], views, featureRefs: list(options['--feature-refs']), from: options['--from'] ?? '', to: options['--to'] ?? '' };
  } else if (options['--logs'] !== undefined) {
    source = { kind: 'prediction-logs', root: options['--logs'], from: options['--from'] ?? '', to: options['--to'] ?? '' };
  }
  const request = { model: options['--model'] ?? '', modelVersion: options['--version'] ?? '', source: source! };
  if (source !== undefined) {
    try {
      validateBaselineRequest(request);
    } catch (e) {
      problems.push(...inFlags((e as Error).message).split('\n  - ').slice(1));
    }
  } else if (!options['--model'] || !options['--version']) problems.push('--model and --version: name the model version the baseline belongs to');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { request, bucket: options['--bucket'], out: options['--out'] };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const command = parseArgs(argv);
  let built;
  try {
    built = await buildBaseline(command.request);
  } catch (e) {
    // Columns and files are checked when read: those problems are the command line's too.
    const message = (e as Error).message;
    throw message.startsWith('Invalid baseline request') ? new UsageError(inFlags(message).split('\n  - ').slice(1).join('\n')) : e;
  }
  const { profile, rows, skipped, ignoredColumns } = built;
  let where: string;
  if (command.bucket !== undefined) {
    const s3 = new S3Client({});
    try {
      const written = await writeBaseline(s3, command.bucket, profile);
      where = `s3://${command.bucket}/${written.key}${written.versionId ? ` (version ${written.versionId})` : ''}`;
    } finally {
      s3.destroy();
    }
  } else {
    where = join(command.out!, baselineKey(profile.model, profile.modelVersion));
    mkdirSync(dirname(where), { recursive: true });
    writeFileSync(where, serializeBaseline(profile));
  }
  console.log(`baseline of ${profile.model} version ${profile.modelVersion}: ${rows} rows → ${where}`);
  for (const [column, type] of Object.entries(ignoredColumns)) console.log(`  not profiled: ${column} (${type})`);
  for (const [reason, count] of Object.entries(skipped)) console.log(`  skipped ${count}: ${reason}`);
  if (profile.quality) console.log(`  quality: ${JSON.stringify(profile.quality)}`);
}

if (require.main === module) runCli('baseline', USAGE, main);
