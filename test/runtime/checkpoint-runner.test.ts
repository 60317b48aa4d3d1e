/**
 * runWithCheckpoints at the edges of its times (pure, fake timers): a spot notice whose time no Date past it can hold,
 * or `reclaimWaitMs: Infinity` (wait for SIGTERM however long), still waits to be reclaimed and returns `interrupted`
 * (exit 143, retried by Batch) — it never throws formatting the time it logs.
 */
import { runWithCheckpoints } from '../../runtime/training';
import type { SpotInterruptionNotice } from '../../runtime/training/spot-interruption';

afterEach(() => jest.useRealTimers());

async function earlyNotice(time: Date, reclaimWaitMs?: number) {
  jest.useFakeTimers();
  const notice: SpotInterruptionNotice = { action: 'terminate', time };
  const logs: string[] = [];
  const watcher = { check: async () => notice, start: () => undefined, stop: () => undefined };
  const store = { localDir: '/nonexistent', save: async () => { throw new Error('no save expected'); }, resume: async () => undefined };
  const run = runWithCheckpoints({ store, watcher, reclaimWaitMs, log: (l) => logs.push(l), checkpoint: async () => undefined, train: async () => 'trained' });
  const settled = run.then((outcome) => ({ outcome }), (error: Error) => ({ error: error.message }));
  await jest.advanceTimersByTimeAsync(2 ** 31); // the longest wait a Node timer holds
  return { result: await settled, waiting: logs.map((l) => JSON.parse(l)).find((l) => /waiting for EC2/.test(l.message)) };
}

test.each([
  ['a notice at the last time a Date holds', new Date(8.64e15), undefined],
  ['reclaimWaitMs: Infinity', new Date(), Infinity],
])('%s: waits to be reclaimed and returns interrupted, never throwing on the time it logs', async (_name, time, reclaimWaitMs) => {
  const { result, waiting } = await earlyNotice(time, reclaimWaitMs);
  expect(result).toEqual({ outcome: { status: 'interrupted', reason: 'spot-interruption' } });
  expect(waiting).toMatchObject({ level: 'WARN', time: time.toISOString(), until: expect.any(String) });
});
