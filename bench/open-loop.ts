/**
 * The open-loop schedule of the load generators (bench/gateway-load.ts, bench/serving-load.ts):
 * requests at a fixed rate whatever the answers, each sent as soon as its time comes and stamped with that scheduled
 * time, so that a generator falling behind shows up as latency (no coordinated omission).
 */

/** What to schedule. */
export interface OpenLoopSchedule {
  /** Requests per second. */
  readonly rate: number;
  /** Length of the schedule from `startedAt`, milliseconds: request i is sent when `i / rate` seconds fall inside it. */
  readonly durationMs: number;
  /** Start of the schedule, `performance.now()` time. @default - now */
  readonly startedAt?: number;
}

/**
 * Sends request i at `startedAt + i / rate` seconds, calling `send(i, scheduledAt)` (a `performance.now()` time) for
 * every request whose time has come, on a 1 ms tick: none is sent one interval late, and when the tick itself is
 * late the overdue requests go at once, each still stamped with its own scheduled time. Stops at the end of the
 * schedule and resolves once every `send` has settled (a rejected send is the caller's to record: it is ignored here).
 */
export async function openLoop(schedule: OpenLoopSchedule, send: (i: number, scheduledAt: number) => Promise<void>): Promise<void> {
  const startedAt = schedule.startedAt ?? performance.now();
  const total = Math.ceil((schedule.durationMs / 1000) * schedule.rate);
  const scheduledAt = (i: number) => startedAt + (i / schedule.rate) * 1000;
  const inflight: Promise<void>[] = [];
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      for (; sent < total && scheduledAt(sent) <= now; sent++) inflight.push(send(sent, scheduledAt(sent)).catch(() => undefined));
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  await Promise.all(inflight);
}
