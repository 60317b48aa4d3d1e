/** What one benchmark reports: a table whose rows were all measured in the same run. */
export interface BenchTable {
  readonly title: string;
  readonly columns: string[];
  readonly rows: (string | number)[][];
  /** Lines printed under the table: the baseline, targets and whether they were met. */
  readonly notes?: string[];
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
