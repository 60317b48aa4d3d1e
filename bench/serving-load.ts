/**
 * Load generator for bench/serving.bench.ts, run as its own process (so that it does not share an event loop with
 * the server or the harness): `node --import tsx bench/serving-load.ts '<LoadSpec JSON>'` prints one LoadResult JSON.
 *
 * - closed loop: `concurrency` clients, each sending its next request when the previous one is answered;
 * - open loop: requests sent at a fixed `rate` whatever the answers, priorities cycling through `mix`; latency counts
 *   from the scheduled send time, so a generator falling behind shows up as latency (no coordinated omission).
 * Closed loop counts the requests answered inside the window `[warmupMs, warmupMs + durationMs]`; open loop counts
 * the requests scheduled inside it.
 */
import { Pool } from 'undici';
import { openLoop } from './open-loop';

/** What load to send. */
export interface LoadSpec {
  readonly mode: 'closed' | 'open';
  readonly url: string;
  /** Request path, e.g. `/v2/models/m/infer`. */
  readonly path: string;
  readonly body: string;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Closed loop: number of clients. */
  readonly concurrency?: number;
  /** Open loop: requests per second. */
  readonly rate?: number;
  /** Open loop: share of requests per priority level (index 0 = level 1). */
  readonly mix?: readonly number[];
}

/** Outcomes at one priority level (level 0: requests sent without a priority). */
export interface LevelResult {
  /** Latencies of successful requests, milliseconds. */
  readonly latenciesMs: number[];
  rejected: number;
  timedOut: number;
  errors: number;
}

/** What the generator measured. */
export interface LoadResult {
  /** Length of the measured window, seconds. */
  readonly windowS: number;
  readonly levels: Record<number, LevelResult>;
}

/** Priority levels in a repeating pattern that follows the mix (e.g. [0.2, 0.3, 0.5] → 2 of level 1 per 10). */
function priorityPattern(mix: readonly number[]): number[] {
  const pattern: number[] = [];
  mix.forEach((share, i) => {
    for (let n = 0; n < Math.round(share * 20); n++) pattern.push(i + 1);
  });
  // Interleave so that each level is spread over the cycle.
  return pattern.map((level, i) => ({ level, key: (i * 7919) % pattern.length })).sort((a, b) => a.key - b.key).map((p) => p.level);
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const pool = new Pool(spec.url, { connections: spec.mode === 'closed' ? spec.concurrency : 512, pipelining: 1 });
  const levels: Record<number, LevelResult> = {};
  const level = (l: number) => (levels[l] ??= { latenciesMs: [], rejected: 0, timedOut: 0, errors: 0 });
  const started = performance.now();
  const measureFrom = started + spec.warmupMs;
  const end = measureFrom + spec.durationMs;

  const body = Buffer.from(spec.body);
  // undici's dispatch API: the cheapest way it offers to send a request (no promise or stream per response).
  const send = (priority: number, scheduledAt: number, counted: () => boolean): Promise<void> => new Promise((resolve) => {
    let status = 0;
    const record = (ok: boolean) => {
      if (counted()) {
        const result = level(priority);
        if (!ok) result.errors++;
        else if (status === 200) result.latenciesMs.push(performance.now() - scheduledAt);
        else if (status === 429 || status === 503) result.rejected++;
        else if (status === 504) result.timedOut++;
        else result.errors++;
      }
      resolve();
    };
    pool.dispatch({
      path: spec.path,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...(priority > 0 ? { 'x-inference-priority': String(priority) } : {}) },
    }, {
      onRequestStart: () => undefined,
      onResponseStart: (_controller, statusCode) => {
        status = statusCode;
      },
      onResponseEnd: () => record(true),
      onResponseError: () => record(false),
    });
  });

  if (spec.mode === 'closed') {
    await Promise.all(Array.from({ length: spec.concurrency! }, async () => {
      while (performance.now() < end) {
        // Counted by completion time inside the window: an unbiased throughput.
        await send(0, performance.now(), () => {
          const now = performance.now();
          return now >= measureFrom && now <= end;
        });
      }
    }));
  } else {
    const pattern = priorityPattern(spec.mix!);
    await openLoop({ rate: spec.rate!, durationMs: spec.warmupMs + spec.durationMs, startedAt: started },
      (i, scheduledAt) => send(pattern[i % pattern.length], scheduledAt, () => scheduledAt >= measureFrom));
  }
  await pool.close();
  return { windowS: spec.durationMs / 1000, levels };
}

if (require.main === module) {
  run(JSON.parse(process.argv[2]) as LoadSpec).then((result) => {
    process.stdout.write(JSON.stringify(result));
  }, (error) => {
    console.error(error);
    process.exit(1);
  });
}
