/** What one benchmark reports: a table whose rows were all measured in the same run. */
export interface BenchTable {
  readonly title: string;
  readonly columns: string[];
  readonly rows: (string | number)[][];
  /** Lines printed under the table: the baseline and what the rows mean. */
  readonly notes?: string[];
  /** Goals this table checks; `npm run bench` exits non-zero when one is missed. */
  readonly targets?: BenchTarget[];
}

/** A goal a bench checks: printed under its table with the measured value, and failing the run when missed. */
export interface BenchTarget {
  /** What is promised, e.g. "batched >= 3x unbatched at concurrency 64". */
  readonly name: string;
  /** The measured value, formatted for the reader, e.g. "8.1x". */
  readonly measured: string;
  readonly met: boolean;
}

/** A benchmark module: bench/<name>.bench.ts exports `run`. */
export type Benchmark = () => Promise<BenchTable[]>;

/** Formats a table with aligned columns. */
export function formatTable(table: BenchTable): string {
  const cells = [table.columns, ...table.rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  return [
    `\n## ${table.title}`,
    line(cells[0]),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
    ...(table.notes ?? []).map((n) => `  ${n}`),
    ...(table.targets ?? []).map((t) => `  target ${t.name}: ${t.measured} — ${t.met ? 'met' : 'MISSED'}`),
  ].join('\n');
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3);
}

/** Percentile (0–100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
