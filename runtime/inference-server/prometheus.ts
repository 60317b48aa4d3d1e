/**
 * A small Prometheus registry: counters, gauges (set, or read at scrape time) and histograms, rendered in the text
 * exposition format (version 0.0.4) that Prometheus, the CloudWatch agent and Managed Prometheus scrape.
 */

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

interface Metric {
  render(): string;
}

/** A value per label set, rendered as one family. */
abstract class Family<V> implements Metric {
  protected readonly series = new Map<string, { labels: Labels; value: V }>();

  constructor(readonly name: string, private readonly help: string, private readonly type: string) {}

  /** Exports the series of `labels` (at zero) before its first update. */
  touch(labels: Labels = {}): this {
    this.entry(labels, () => this.zero());
    return this;
  }

  protected abstract zero(): V;

  protected entry(labels: Labels, create: () => V): { labels: Labels; value: V } {
    const key = labelText(labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels, value: create() };
      this.series.set(key, entry);
    }
    return entry;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.series.values()) lines.push(...this.lines(labels, value));
    return lines.join('\n');
  }

  protected abstract lines(labels: Labels, value: V): string[];
}

/** Reads series values at scrape time. */
export type Collector = () => readonly (readonly [Labels, number])[];

/** One number per label set: a counter or a gauge. */
abstract class Scalar extends Family<{ v: number }> {
  constructor(name: string, help: string, type: string, private readonly collect?: Collector) {
    super(name, help, type);
  }

  /** Current value of a series (0 when never set). */
  get(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.value.v ?? 0;
  }

  protected zero(): { v: number } {
    return { v: 0 };
  }

  protected assign(labels: Labels, value: number): void {
    this.entry(labels, () => this.zero()).value.v = value;
  }

  render(): string {
    if (this.collect) for (const [labels, value] of this.collect()) this.assign(labels, value);
    return super.render();
  }

  protected lines(labels: Labels, value: { v: number }): string[] {
    return [`${this.name}${labelText(labels)} ${formatValue(value.v)}`];
  }
}

/** A monotonically increasing count; `inc` it, or give a `collect` function reading a running total. */
export class Counter extends Scalar {
  constructor(name: string, help: string, collect?: Collector) {
    super(name, help, 'counter', collect);
  }

  /** Adds `n` (default 1) to the series of `labels`. */
  inc(labels: Labels = {}, n = 1): void {
    this.assign(labels, this.get(labels) + n);
  }

  /** The series of `labels`, bound once (no label formatting per update on hot paths). */
  labels(labels: Labels): { inc(n?: number): void } {
    const series = this.entry(labels, () => this.zero()).value;
    return { inc: (n = 1) => { series.v += n; } };
  }
}

/** A value that goes up and down; `set` it, or give a `collect` function read at every scrape. */
export class Gauge extends Scalar {
  constructor(name: string, help: string, collect?: Collector) {
    super(name, help, 'gauge', collect);
  }

  /** Sets the series of `labels`. */
  set(labels: Labels, value: number): void {
    this.assign(labels, value);
  }
}

interface HistogramValue {
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets (upper bounds, ascending; `+Inf` is added). */
export class Histogram extends Family<HistogramValue> {
  constructor(name: string, help: string, private readonly buckets: readonly number[]) {
    super(name, help, 'histogram');
  }

  protected zero(): HistogramValue {
    return { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }

  /** Records one observation. */
  observe(value: number, labels: Labels = {}): void {
    this.record(this.entry(labels, () => this.zero()).value, value);
  }

  /** The series of `labels`, bound once (no label formatting per observation on hot paths). */
  labels(labels: Labels): { observe(value: number): void } {
    const series = this.entry(labels, () => this.zero()).value;
    return { observe: (value) => this.record(series, value) };
  }

  private record(h: HistogramValue, value: number): void {
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) h.counts[i]++;
    h.sum += value;
    h.count++;
  }

  protected lines(labels: Labels, h: HistogramValue): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += h.counts[i];
      lines.push(`${this.name}_bucket${labelText(labels, ['le', formatValue(bound)])} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket${labelText(labels, ['le', '+Inf'])} ${h.count}`);
    lines.push(`${this.name}_sum${labelText(labels)} ${formatValue(h.sum)}`);
    lines.push(`${this.name}_count${labelText(labels)} ${h.count}`);
    return lines;
  }
}

/** A set of metrics rendered together. */
export class Registry {
  private readonly metrics: Metric[] = [];

  /** Adds a metric and returns it. */
  register<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  /** The text exposition of every metric. */
  render(): string {
    return this.metrics.map((m) => m.render()).join('\n') + '\n';
  }
}

/** Content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Reads a text exposition back into `name{labels}` → value (for tests, benchmarks and local tooling). */
export function parseExposition(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}
