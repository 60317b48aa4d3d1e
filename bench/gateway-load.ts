/**
 * Open-loop load generator for bench/gateway.bench.ts, run as its own process (so that it shares no event loop with
 * the gateway or the server): `node --import tsx bench/gateway-load.ts '<GatewayLoadSpec JSON>'` prints one JSON array
 * of `SentRecord`.
 *
 * Requests are sent at a fixed `rate` whatever the answers, tiers cycling through `tiers`, entities through
 * `entities`; each carries its tier's API key id and a request id. Latency counts from the scheduled send time, so a
 * generator falling behind shows up as latency (no coordinated omission; the schedule is bench/open-loop.ts). Only
 * requests scheduled inside the window `[warmupMs, warmupMs + durationMs]` are reported.
 */
import { Pool } from 'undici';
import { openLoop } from './open-loop';

/** What load to send. */
export interface GatewayLoadSpec {
  readonly url: string;
  /** Requests per second. */
  readonly rate: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Tier of each request, in a repeating pattern. */
  readonly tiers: readonly string[];
  /** Entities cycled through (`customer_id` c0…, one merchant). */
  readonly entities: number;
}

/** What the generator saw of one request. */
export interface SentRecord {
  readonly id: string;
  readonly tier: string;
  /** From the scheduled send time to the end of the answer, milliseconds. */
  readonly latencyMs: number;
  readonly status: number;
  /** The gateway's reason code: the error's `code`, or the fallback's `fallbackReason`. */
  readonly code?: string;
  /** A 200 carrying the fallback rather than the model's answer. */
  readonly fallback: boolean;
  /** Refused by the pool's concurrency limit (Lambda throttling), before any gateway code ran. */
  readonly throttled: boolean;
}

async function run(spec: GatewayLoadSpec): Promise<SentRecord[]> {
  const pool = new Pool(spec.url, { connections: 256, pipelining: 1 });
  const records: SentRecord[] = [];
  const started = performance.now();
  const measureFrom = started + spec.warmupMs;

  const send = async (i: number, scheduledAt: number): Promise<void> => {
    const tier = spec.tiers[i % spec.tiers.length];
    const id = `r${i}`;
    let status = 0;
    let text = '';
    let throttled = false;
    try {
      const response = await pool.request({
        path: '/predict/fraud', method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key-id': `key-${tier}`, 'x-request-id': id },
        body: JSON.stringify({ entity: { customer_id: `c${i % spec.entities}`, merchant_id: 'm1' } }),
      });
      status = response.statusCode;
      throttled = response.headers['x-throttled'] !== undefined;
      text = await response.body.text();
    } catch {
      status = 0;
    }
    if (scheduledAt < measureFrom) return;
    let body: { code?: string; fallbackReason?: string; fallback?: boolean } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: counted by its status
    }
    records.push({ id, tier, latencyMs: performance.now() - scheduledAt, status, code: body.code ?? body.fallbackReason, fallback: body.fallback === true, throttled });
  };

  await openLoop({ rate: spec.rate, durationMs: spec.warmupMs + spec.durationMs, startedAt: started }, send);
  await pool.close();
  return records;
}

if (require.main === module) {
  run(JSON.parse(process.argv[2]) as GatewayLoadSpec).then((records) => {
    process.stdout.write(JSON.stringify(records));
  }, (error) => {
    console.error(error);
    process.exit(1);
  });
}
