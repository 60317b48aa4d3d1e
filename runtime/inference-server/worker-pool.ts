/**
 * A fixed number of session workers. Each loads the model, warms up, then runs one batch at a time. A worker that
 * dies is replaced; the batch it was computing fails with an error (its requests are answered, never left hanging).
 * Sessions are released before their worker is terminated (terminating a worker inside `session.run` aborts the
 * process).
 */
import { Worker } from 'worker_threads';
import { ErrorKind, InferenceError } from './errors';
import type { Logger } from './log';
import { WARMUP_SAMPLE_FILE } from './model-source';
import type { TensorSpec } from './tensors';
import type { ExecutionProvider, Fault, FromWorker, ToWorker, WireTensor, WorkerSettings } from './worker-protocol';
import { ServerVariables } from '../contracts/inference-server';

/** Worker pool settings. */
export interface WorkerPoolOptions {
  /** Number of workers (sessions). */
  readonly size: number;
  /** Name of the served model, in log lines. */
  readonly model: string;
  /** Path of the bundled worker script. */
  readonly script: string;
  /** Settings passed to every worker. */
  readonly settings: WorkerSettings;
  readonly logger: Logger;
  /** Called when a worker becomes free (ready after load, or done with a batch). */
  readonly onIdle: () => void;
}

/** What the first worker learned from the session. */
export interface LoadedModel {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly provider: ExecutionProvider;
  readonly fallbackReason?: string;
  /** Longest session-creation time among the initial workers, milliseconds. */
  readonly loadMs: number;
}

/** A batch's outputs and the time the worker spent computing it. */
export interface BatchResult {
  readonly outputs: WireTensor[];
  readonly computeMs: number;
}

type SlotState = 'loading' | 'idle' | 'busy' | 'releasing' | 'gone';

interface Slot {
  readonly id: number;
  readonly worker: Worker;
  state: SlotState;
  inflight?: { readonly batchId: number; resolve(result: BatchResult): void; reject(error: Error): void };
  /** Called when the worker leaves `loading` (ready, failed or gone). */
  settled?: () => void;
  released?: () => void;
}

const RESPAWN_DELAY_MS = 1000;
const RELEASE_TIMEOUT_MS = 5000;

/** The session workers (see the module comment). */
export class WorkerPool {
  private readonly slots = new Map<number, Slot>();
  private nextBatchId = 1;
  private closing = false;
  private restartCount = 0;
  private warmupFailureCount = 0;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Workers free to take a batch. */
  get idle(): number {
    return this.count('idle');
  }

  /** Batches being computed. */
  get busy(): number {
    return this.count('busy');
  }

  /** Workers that have loaded and warmed up (idle or busy). */
  get ready(): number {
    return this.idle + this.busy;
  }

  /** Workers replaced after dying. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Worker warm-ups whose synthesized inputs the model rejected (those workers serve regardless). */
  get warmupFailures(): number {
    return this.warmupFailureCount;
  }

  /** Starts every worker; resolves once all have loaded the model and warmed up, rejects if one cannot load it. */
  start(): Promise<LoadedModel> {
    return new Promise((resolve, reject) => {
      let warmed = 0;
      let loadMs = 0;
      let first: Omit<LoadedModel, 'loadMs'> | undefined;
      for (let id = 0; id < this.options.size; id++) {
        this.spawn(id, (message) => {
          if (message.type === 'fatal') reject(new Error(message.message));
          if (message.type === 'loaded') {
            loadMs = Math.max(loadMs, message.loadMs);
            first ??= { inputs: message.inputs, outputs: message.outputs, provider: message.provider, fallbackReason: message.fallbackReason };
          }
          if (message.type === 'warmed' && ++warmed === this.options.size) resolve({ ...first!, loadMs });
        });
      }
    });
  }

  /** Runs a batch on an idle worker (call only when `idle > 0`; the worker is taken synchronously). */
  run(feeds: WireTensor[], fault?: Fault): Promise<BatchResult> {
    const slot = [...this.slots.values()].find((s) => s.state === 'idle');
    if (!slot) return Promise.reject(new InferenceError(ErrorKind.INTERNAL, 'no idle worker (the batcher dispatched without a free slot)'));
    slot.state = 'busy';
    const batchId = this.nextBatchId++;
    return new Promise((resolve, reject) => {
      slot.inflight = { batchId, resolve, reject };
      // Copied, not transferred: a single request's tensors are its own and stay readable (prediction log).
      const message: ToWorker = { type: 'run', batchId, feeds, fault };
      slot.worker.postMessage(message);
    });
  }

  /** Releases every session, then stops the workers. Call once no batch is in flight. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.slots.values()].map((slot) => this.stop(slot)));
  }

  private async stop(slot: Slot): Promise<void> {
    // A loading worker may be inside a warm-up session.run: let it finish first.
    if (slot.state === 'loading') await new Promise<void>((resolve) => { slot.settled = resolve; });
    if (slot.state === 'idle') {
      slot.state = 'releasing';
      const released = new Promise<void>((resolve) => {
        slot.released = resolve;
      });
      slot.worker.postMessage({ type: 'release' } satisfies ToWorker);
      await Promise.race([released, new Promise((resolve) => setTimeout(resolve, RELEASE_TIMEOUT_MS).unref())]);
    }
    // A busy worker at this point means the caller did not wait for in-flight batches (the shutdown deadline passed).
    slot.state = 'gone';
    await slot.worker.terminate();
  }

  private spawn(id: number, onStartMessage?: (message: FromWorker) => void): void {
    const worker = new Worker(this.options.script, { workerData: this.options.settings });
    const slot: Slot = { id, worker, state: 'loading' };
    this.slots.set(id, slot);
    const { logger } = this.options;
    worker.on('message', (message: FromWorker) => {
      onStartMessage?.(message);
      switch (message.type) {
        case 'loaded':
          logger.log('info', 'worker loaded model', { worker: id, provider: message.provider, loadMs: Math.round(message.loadMs) });
          if (message.fallbackReason) {
            logger.log('warn', 'CUDA execution provider unavailable, running on CPU', { worker: id, reason: message.fallbackReason });
          }
          break;
        case 'warmed':
          if (message.warmupFailure !== undefined) {
            this.warmupFailureCount++;
            logger.log('warn', 'the model rejected the synthesized warm-up inputs; serving without a full warm-up', {
              model: this.options.model, worker: id, error: message.warmupFailure,
              fix: `give a warm-up sample: an Open Inference Protocol v2 request in ${WARMUP_SAMPLE_FILE} next to the model or named by ${ServerVariables.WARMUP_SAMPLE}`,
            });
          }
          logger.log('info', 'worker ready', { worker: id, warmupRuns: message.runs, warmupMs: Math.round(message.warmupMs) });
          this.becomeIdle(slot);
          break;
        case 'result':
        case 'failed': {
          const inflight = slot.inflight;
          slot.inflight = undefined;
          if (message.type === 'result') inflight?.resolve({ outputs: message.outputs, computeMs: message.computeMs });
          else inflight?.reject(new InferenceError(ErrorKind.INTERNAL, `model run failed: ${message.message}`));
          this.becomeIdle(slot);
          break;
        }
        case 'released':
          slot.released?.();
          break;
        case 'fatal':
          logger.log('error', 'worker cannot serve', { worker: id, error: message.message });
          slot.state = 'gone';
          slot.settled?.();
          void worker.terminate();
          if (!onStartMessage) this.respawnLater(id);
          break;
      }
    });
    worker.on('error', (error) => logger.log('error', 'worker error', { worker: id, error: error.message }));
    worker.on('exit', (code) => {
      if (slot.state === 'gone') return;
      const wasLoading = slot.state === 'loading';
      slot.state = 'gone';
      slot.settled?.();
      if (wasLoading) {
        // At start-up this fails the start; a replacement that dies loading is retried after a pause, not in a loop.
        if (onStartMessage) onStartMessage({ type: 'fatal', message: `worker ${id} exited (code ${code}) while loading the model` });
        else if (!this.closing) this.respawnLater(id);
        return;
      }
      logger.log('error', 'worker exited', { worker: id, code, inflightBatch: slot.inflight?.batchId });
      slot.inflight?.reject(new InferenceError(ErrorKind.INTERNAL, `worker ${id} exited (code ${code}) while computing this request's batch; it is being replaced, retry the request`));
      slot.inflight = undefined;
      if (!this.closing) {
        this.restartCount++;
        this.spawn(id);
      }
    });
  }

  private count(state: SlotState): number {
    let n = 0;
    for (const slot of this.slots.values()) if (slot.state === state) n++;
    return n;
  }

  private respawnLater(id: number): void {
    setTimeout(() => {
      if (this.closing) return;
      this.restartCount++;
      this.spawn(id);
    }, RESPAWN_DELAY_MS).unref();
  }

  private becomeIdle(slot: Slot): void {
    if (slot.state !== 'loading' && slot.state !== 'busy') return;
    slot.state = 'idle';
    slot.settled?.();
    if (!this.closing) this.options.onIdle();
  }
}
