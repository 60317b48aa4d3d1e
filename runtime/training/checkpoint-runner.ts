/**
 * Running training code with checkpoints: resume from the newest valid generation, checkpoint every interval, on the
 * spot interruption notice (before the time it names) and on SIGTERM (the ECS agent's stop on AWS Batch), one save at
 * a time, then stop training.
 *
 * After a spot notice the process does not exit: it stays alive, training stopped, until EC2 reclaims the instance,
 * so the attempt ends "Host EC2 ... terminated" (retried by the SpotTrainingFleet's retry strategy) and Batch cannot
 * place the retry on the same doomed instance, whose metadata still shows the notice. For the same reason a run that
 * finds a notice already present when it starts neither resumes nor trains: it waits to be reclaimed.
 */
import { formatEpochMs } from '../../lib/features/spec/event-time';
import { CheckpointDefaults, INTERRUPTED_EXIT_CODE } from '../contracts/checkpoint';
import { timerDelayMs } from '../core/routing';
import type { CheckpointGeneration } from './checkpoint-manifest';
import type { SaveCheckpointOptions } from './checkpoint-store';
import { SpotInterruptionNotice, SpotInterruptionWatcher } from './spot-interruption';

/** What the runner needs of a checkpoint store (`CheckpointStore` is one). */
export interface ICheckpointStore {
  /** The local checkpoint directory. */
  readonly localDir: string;
  /** Uploads the local directory as the next generation and publishes it. */
  save(options?: SaveCheckpointOptions): Promise<CheckpointGeneration>;
  /** Restores the newest valid generation into the local directory; undefined when there is none. */
  resume(localDir?: string, signal?: AbortSignal): Promise<CheckpointGeneration | undefined>;
}

/** What a watcher of interruption notices offers (`SpotInterruptionWatcher` is one). */
export interface IInterruptionWatcher {
  /** One look for a notice: the notice, or undefined when there is none. */
  check(): Promise<SpotInterruptionNotice | undefined>;
  /** Starts watching; `listener` is called once, with the first notice. */
  start(listener: (notice: SpotInterruptionNotice) => void): void;
  /** Stops watching. */
  stop(): void;
}

/** What the training function receives. */
export interface TrainingContext {
  /** Aborted when training must stop (interruption notice or SIGTERM): stop at the next step and return. */
  readonly signal: AbortSignal;
  /** The generation restored into the local directory; undefined when starting fresh. */
  readonly resumed?: CheckpointGeneration;
  /** Asks for a checkpoint now (e.g. at an epoch's end); coalesced with one already waiting. */
  requestCheckpoint(): Promise<CheckpointGeneration | undefined>;
}

/** What a checkpoint function returns: facts recorded with the generation. */
export interface CheckpointFacts {
  /** The training step the checkpoint holds. @default - none recorded */
  readonly step?: number;
  /** Other facts (epoch, loss, ...). @default - none */
  readonly metadata?: Record<string, unknown>;
}

/** Properties of `runWithCheckpoints`. */
export interface RunWithCheckpointsProps<T> {
  /** Where checkpoints go. */
  readonly store: ICheckpointStore;
  /** Writes the training state into `dir` (the store's local directory), consistently, and returns its facts. */
  readonly checkpoint: (dir: string) => Promise<CheckpointFacts | void>;
  /** The training loop. */
  readonly train: (context: TrainingContext) => Promise<T>;
  /** Seconds between periodic checkpoints. @default CheckpointDefaults.INTERVAL_S */
  readonly intervalS?: number;
  /** Watches for the spot interruption notice; `false` for none. @default new SpotInterruptionWatcher() */
  readonly watcher?: IInterruptionWatcher | false;
  /** The checkpoint after a notice must be published this long before the time the notice names, milliseconds. @default 10000 */
  readonly noticeMarginMs?: number;
  /**
   * The checkpoint after SIGTERM must be published within this, milliseconds (the ECS agent's stop timeout,
   * ECS_CONTAINER_STOP_TIMEOUT: 30 s by default). @default 25000
   */
  readonly sigtermDeadlineMs?: number;
  /**
   * After a spot notice, how long past the time it names (or past now, when later) the process waits for the instance
   * to be reclaimed before returning anyway, milliseconds (e.g. an instance stopped or hibernated and started again).
   * @default 600000
   */
  readonly reclaimWaitMs?: number;
  /** Where log lines (JSON) go. @default - stdout */
  readonly log?: (line: string) => void;
}

/** How a run ended. */
export type RunOutcome<T> =
  | { readonly status: 'completed'; readonly result: T }
  | { readonly status: 'interrupted'; readonly reason: 'spot-interruption' | 'sigterm'; readonly checkpoint?: CheckpointGeneration };

/**
 * The process exit code for an outcome: 0 when training completed, INTERRUPTED_EXIT_CODE (143) when it was
 * interrupted, so that Batch retries the job (resuming from the checkpoint) instead of marking it succeeded. After a
 * spot notice the run returns only when SIGTERM comes (the instance is going away) or `reclaimWaitMs` has passed.
 */
export function exitCodeOf(outcome: RunOutcome<unknown>): number {
  return outcome.status === 'completed' ? 0 : INTERRUPTED_EXIT_CODE;
}

/**
 * Resumes, trains with periodic checkpoints, and on an interruption saves a last checkpoint within its deadline and
 * aborts training (a failed last save is logged and the outcome has no `checkpoint`). On SIGTERM it then returns
 * `interrupted` (exit 143). On a spot notice it then waits to be reclaimed (see the module's comment) and returns
 * `interrupted` only when SIGTERM comes or `reclaimWaitMs` has passed; a notice present at the start skips resume and
 * training altogether. Saves never overlap: a request during a save waits for it, and requests waiting together are
 * served by one save. A periodic save in flight when an interruption comes is abandoned, so the last save starts at
 * once with the whole window. A failed periodic save is logged; training goes on and the next interval tries again.
 */
export async function runWithCheckpoints<T>(props: RunWithCheckpointsProps<T>): Promise<RunOutcome<T>> {
  const write = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = (level: string, message: string, fields: Record<string, unknown>) => write(JSON.stringify({ level, message, ...fields }));
  let sigterm!: () => void;
  const terminated = new Promise<void>((resolve) => { sigterm = resolve; });
  let onInterrupt: ((reason: 'sigterm') => void) | undefined;
  const onSigterm = () => {
    sigterm();
    onInterrupt?.('sigterm');
  };
  process.once('SIGTERM', onSigterm);
  const untilReclaimed = async (notice: SpotInterruptionNotice) => {
    const until = Math.max(notice.time.getTime(), Date.now()) + (props.reclaimWaitMs ?? 600_000);
    log('WARN', 'training stopped by the spot interruption notice: waiting for EC2 to reclaim the instance', { time: notice.time.toISOString(), until: formatEpochMs(until) });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([terminated, new Promise<void>((resolve) => { timer = setTimeout(resolve, timerDelayMs(until - Date.now())); })]);
    clearTimeout(timer);
  };
  const watcher = props.watcher === false ? undefined : (props.watcher ?? new SpotInterruptionWatcher({ log: write }));
  try {
    const early = await watcher?.check();
    if (early) {
      log('WARN', 'spot interruption notice before the run started: not resuming or training', { action: early.action, time: early.time.toISOString() });
      await untilReclaimed(early);
      return { status: 'interrupted', reason: 'spot-interruption' };
    }
    return await train(props, log, watcher, untilReclaimed, (handler) => { onInterrupt = handler; });
  } finally {
    watcher?.stop();
    process.removeListener('SIGTERM', onSigterm);
  }
}

type Log = (level: string, message: string, fields: Record<string, unknown>) => void;

/** The run after the start: resume, train, checkpoint. */
async function train<T>(
  props: RunWithCheckpointsProps<T>, log: Log, watcher: IInterruptionWatcher | undefined,
  untilReclaimed: (notice: SpotInterruptionNotice) => Promise<void>, onSigterm: (handler: (reason: 'sigterm') => void) => void,
): Promise<RunOutcome<T>> {
  const intervalMs = timerDelayMs((props.intervalS ?? CheckpointDefaults.INTERVAL_S) * 1000);
  const resumed = await props.store.resume();

  /** Aborts periodic saves (one in flight included) when an interruption comes. */
  const periodicSaves = new AbortController();
  let tail: Promise<unknown> = Promise.resolve();
  let waiting: { promise: Promise<CheckpointGeneration>; signals: AbortSignal[]; periodic: boolean } | undefined;
  const requestSave = (reason: string, signal?: AbortSignal): Promise<CheckpointGeneration> => {
    if (waiting) {
      if (signal) {
        waiting.signals.push(signal);
        waiting.periodic = false;
      }
      return waiting.promise;
    }
    const entry = { signals: signal ? [signal] : [], periodic: !signal } as { promise: Promise<CheckpointGeneration>; signals: AbortSignal[]; periodic: boolean };
    entry.promise = tail.then(async () => {
      waiting = undefined;
      const facts = (await props.checkpoint(props.store.localDir)) ?? {};
      const signals = entry.periodic ? [periodicSaves.signal] : entry.signals;
      const saved = await props.store.save({ ...facts, signal: AbortSignal.any(signals) });
      log('INFO', 'checkpoint saved', { reason, generation: saved.generation, step: saved.step });
      return saved;
    });
    waiting = entry;
    tail = entry.promise.catch(() => undefined);
    return entry.promise;
  };
  const periodic = () => requestSave('interval').catch((error) => {
    log('ERROR', 'periodic checkpoint failed; training goes on', { reason: (error as Error).message });
    return undefined;
  });

  const training = new AbortController();
  let interruption: { reason: 'spot-interruption' | 'sigterm'; notice?: SpotInterruptionNotice; save: Promise<CheckpointGeneration | undefined> } | undefined;
  const interrupt = (reason: 'spot-interruption' | 'sigterm', deadline: number, notice?: SpotInterruptionNotice) => {
    if (interruption) return;
    periodicSaves.abort(new Error(`periodic checkpoint abandoned: ${reason}`));
    const save = requestSave(reason, AbortSignal.timeout(timerDelayMs(deadline - Date.now()))).catch((error) => {
      log('ERROR', 'last checkpoint before the interruption failed', { reason, error: (error as Error).message });
      return undefined;
    });
    interruption = { reason, notice, save };
    training.abort(new Error(`training interrupted: ${reason}`));
  };
  onSigterm((reason) => interrupt(reason, Date.now() + (props.sigtermDeadlineMs ?? 25_000)));
  watcher?.start((notice) => interrupt('spot-interruption', notice.time.getTime() - (props.noticeMarginMs ?? 10_000), notice));
  const timer = setInterval(periodic, intervalMs);

  try {
    const result = await props.train({ signal: training.signal, resumed, requestCheckpoint: periodic }).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (interruption) {
      const checkpoint = await interruption.save;
      if (interruption.notice) await untilReclaimed(interruption.notice);
      return { status: 'interrupted', reason: interruption.reason, ...(checkpoint ? { checkpoint } : {}) };
    }
    if (!result.ok) throw result.error;
    return { status: 'completed', result: result.value };
  } finally {
    clearInterval(timer);
    await tail;
  }
}
