/** `npm run baseline` (scripts/baseline.ts) run as a child process: a baseline written to --out, bad command lines. */
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseBaseline } from '../../runtime/aws/baseline-store';
import { baselineKey } from '../../runtime/core/datasets';

const run = promisify(execFile);
const baseline = (args: string[]) => run(
  path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'), [path.join(__dirname, '..', '..', 'scripts', 'baseline.ts'), ...args],
).then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'baseline-cli-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  // 1,000 rows: amount i, device by i mod 4, label on odd rows, score 0.9 on odd rows and on every 10th even row.
  await connection.run(`COPY (SELECT i AS customer_id, CAST(i AS DOUBLE) AS amount, ['ios', 'android', 'web', 'ios'][i % 4 + 1] AS device,
    i % 2 = 1 AS is_fraud, CASE WHEN i % 2 = 1 OR i % 20 = 0 THEN 0.9 ELSE 0.1 END AS score FROM range(1000) t(i)) TO '${path.join(dir, 'train.parquet')}' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a training set to --out: the baseline at baselines/model=<m>/version=<v>/baseline.json, with quality; bad command lines exit 2 naming the flag', async () => {
  const out = path.join(dir, 'baselines');
  const train = path.join(dir, 'train.parquet');
  // Independent runs side by side (each child process pays tsx's start-up).
  const [ok, help, bad, noColumn] = await Promise.all([
    baseline(['--model', 'fraud', '--version', '3', '--training-set', train, '--exclude', 'customer_id', '--label', 'is_fraud', '--score', 'score',
      '--problem', 'classification', '--threshold', '0.5', '--out', out]),
    baseline(['--help']),
    baseline(['--model', 'fraud', '--version', '3', '--training-set', train, '--lable', 'is_fraud', '--score', 'score', '--problem', 'classify', '--threshold', 'high', '--logs', dir]),
    baseline(['--model', 'fraud', '--version', '3', '--training-set', train, '--label', 'fraud', '--score', 'score', '--problem', 'classification', '--out', out]),
  ]);
  expect(ok).toMatchObject({ code: 0 });
  const file = path.join(out, baselineKey('fraud', '3'));
  expect(ok.stdout).toContain(`baseline of fraud version 3: 1000 rows → ${file}`);
  const profile = parseBaseline(readFileSync(file, 'utf8'), { model: 'fraud', modelVersion: '3', location: file });
  expect(profile.columns.map((c) => c.name)).toEqual(['amount', 'device', 'output:score']);
  expect(profile.columns[1].categorical!.counts.sort()).toEqual([['android', 250], ['ios', 500], ['web', 250]]);
  // 500 positives all scored 0.9; of 500 negatives, 50 scored 0.9: accuracy 950/1000, precision 500/550, recall 1.
  expect(profile.quality).toMatchObject({ problem: 'classification', count: 1000, accuracy: 0.95, recall: 1 });
  expect(profile.quality!.precision).toBeCloseTo(500 / 550, 12);

  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/usage:\n {2}npm run baseline -- --model <m> --version <v> <source>/);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/unexpected argument '--lable'/);
  expect(bad.stderr).toMatch(/give exactly one source: --training-set, --offline-root or --logs \(got --training-set, --logs\)/);
  expect(bad.stderr).toMatch(/give exactly one destination: --bucket <dataset bucket> or --out <dir>/);
  expect(bad.stderr).toMatch(/--threshold: 'high' is not a number; give a probability such as 0.5/);
  expect(bad.stderr).toMatch(/--problem: give 'classification' or 'regression'/);
  // A column the file does not have is the command line's mistake too: exit 2, naming the flag and the columns there are.
  expect(noColumn.code).toBe(2);
  expect(noColumn.stderr).toMatch(/--label: the training set has no column 'fraud' \(it has: customer_id, amount, device, is_fraud, score\)/);
}, 60_000);
