/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line), prints their tables and writes
 * each bench's tables to bench/results/<bench>.md (date, Node version, cores, command) to be committed. Exits
 * non-zero when a table's target is missed. Each table's ratios compare against a baseline measured in the same run.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Benchmark, formatTable } from './table';

const RESULTS_DIR = path.join(__dirname, 'results');

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.bench.ts')).sort()
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const missed: string[] = [];
  for (const file of files) {
    const bench = file.replace(/\.bench\.ts$/, '');
    const header = [
      `# ${bench} benchmark`,
      '',
      `- date: ${new Date().toISOString()}`,
      `- node: ${process.version}`,
      `- machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
      `- command: npm run bench -- ${bench}`,
    ].join('\n');
    console.log(`\n${header}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { run } = require(path.join(__dirname, file)) as { run: Benchmark };
    const started = Date.now();
    const tables = await run();
    const body = tables.map(formatTable).join('\n');
    const footer = `\n(${file}: ${((Date.now() - started) / 1000).toFixed(1)} s)`;
    console.log(body + footer);
    fs.writeFileSync(path.join(RESULTS_DIR, `${bench}.md`), `${header}\n\n\`\`\`text${body}${footer}\n\`\`\`\n`);
    for (const table of tables) {
      for (const t of table.targets ?? []) if (!t.met) missed.push(`${bench} / ${table.title}: ${t.name} (${t.measured})`);
    }
  }
  if (missed.length > 0) {
    console.error(`\nTargets missed:\n${missed.map((m) => `- ${m}`).join('\n')}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
