/**
 * Prometheus plumbing around prom-client: metrics whose series are read at scrape time, the content type of the text
 * exposition format (version 0.0.4, what Prometheus, the CloudWatch agent and Managed Prometheus scrape), and a reader
 * of that format for tests, benchmarks and local tooling.
 */
import { Counter, Gauge, LabelValues, Registry } from 'prom-client';

/** Content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Reads a metric's series at scrape time: `[labels, value]` pairs. */
export type Collector<L extends string> = () => readonly (readonly [LabelValues<L>, number])[];

/** What a metric read at scrape time is declared with. */
export interface ScrapedMetric<L extends string> {
  readonly name: string;
  readonly help: string;
  /** Label names of its series. @default - none */
  readonly labelNames?: readonly L[];
  /** Called at every scrape; the series it returns replace the previous ones. */
  readonly collect: Collector<L>;
}

/** A gauge whose series are read at every scrape (e.g. queue depths). */
export function scrapedGauge<L extends string>(registry: Registry, metric: ScrapedMetric<L>): Gauge<L> {
  const { collect, ...rest } = metric;
  return new Gauge<L>({
    ...rest,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of collect()) this.set(labels, value);
    },
  });
}

/** A counter that reports running totals kept elsewhere (e.g. worker restarts), read at every scrape. */
export function scrapedCounter<L extends string>(registry: Registry, metric: ScrapedMetric<L>): Counter<L> {
  const { collect, ...rest } = metric;
  return new Counter<L>({
    ...rest,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, total] of collect()) this.inc(labels, total);
    },
  });
}

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
