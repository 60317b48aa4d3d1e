/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line) and prints their tables.
 * Each table's ratios compare against a baseline measured in the same run, on this machine.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Benchmark, formatTable } from './table';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.bench.ts')).sort()
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
  console.log(`# ml-platform-constructs benchmarks — node ${process.version}, ${require('os').cpus().length} cores, ${new Date().toISOString()}`);
  for (const file of files) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { run } = require(path.join(__dirname, file)) as { run: Benchmark };
    const started = Date.now();
    for (const table of await run()) console.log(formatTable(table));
    console.log(`  (${file}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
