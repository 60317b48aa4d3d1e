/**
 * Runs checked requests through the dynamic batcher and the worker pool: queues them by priority with their
 * deadlines, concatenates a batch's inputs along dimension 0, and splits the outputs back to each request exactly.
 * Protocol-neutral: the HTTP routes decode requests into `InferenceRequest` and encode `InferenceResponse`.
 */
import { DynamicBatcher } from '../core/batcher';
import { PRIORITY_LEVELS, ServerConfig } from './config';
import { ErrorKind, InferenceError } from './errors';
import type { InlineRunner } from './inline-runner';
import type { ModelInfo, ModelInputs } from './model';
import type { PredictionLogger } from './prediction-logger';
import type { ServerMetrics } from './server-metrics';
import { concatRows, sliceRows } from './tensors';
import type { Fault, WireTensor } from './worker-protocol';
import type { WorkerPool } from './worker-pool';
import { ServerVariables } from '../contracts/inference-server';

/** A checked request. */
export interface InferenceRequest {
  readonly id: string;
  readonly inputs: ModelInputs;
  /** Output names to return. @default - all outputs */
  readonly outputs?: readonly string[];
  /** Priority level, 1 (highest) … 3. */
  readonly priority: number;
  /** Deadline, milliseconds after `receivedAt`. */
  readonly timeoutMs: number;
  /** `performance.now()` when the request arrived. */
  readonly receivedAt: number;
  /** Fault to inject (fault injection enabled only). */
  readonly fault?: Fault;
}

/** A request's outputs. */
export interface InferenceResponse {
  readonly id: string;
  readonly outputs: WireTensor[];
}

interface Job {
  readonly key: string;
  readonly rows: number;
  readonly priority: number;
  readonly queueTimeoutMs: number;
  readonly request: InferenceRequest;
  readonly enqueuedAt: number;
  resolve(response: InferenceResponse): void;
  reject(error: InferenceError): void;
}

/** Queues, batches and runs requests (see the module comment). */
export class InferenceService {
  private readonly batcher: DynamicBatcher<Job>;
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly model: ModelInfo,
    private readonly pool: WorkerPool,
    config: ServerConfig,
    private readonly metrics: ServerMetrics,
    private readonly predictionLogger?: PredictionLogger,
    private readonly inline?: InlineRunner,
  ) {
    this.batcher = new DynamicBatcher<Job>({
      // A model without a batch dimension runs one request at a time.
      maxBatchSize: model.batchable ? config.maxBatchSize : 1,
      maxQueueDelayMs: config.maxQueueDelayMs,
      maxQueueSize: config.maxQueueSize,
      levels: PRIORITY_LEVELS,
      freeSlots: () => pool.idle,
      dispatch: (batch) => this.run(batch),
      expire: (job) => {
        job.reject(new InferenceError(ErrorKind.TIMEOUT,
          `request '${job.request.id}' waited past its ${job.request.timeoutMs} ms deadline in the queue and was not computed; `
          + 'raise the deadline (parameters.timeout_ms or x-inference-timeout-ms) or retry later'));
        this.notifyIfIdle();
      },
      shed: (job) => job.reject(new InferenceError(ErrorKind.SHED,
        `request '${job.request.id}' was shed: the queue is full and a higher-priority request took its place; retry later`)),
    });
  }

  /** Requests queued at a priority level. */
  queueDepth(level: number): number {
    return this.batcher.depth(level);
  }

  /** Requests queued, all levels. */
  get queued(): number {
    return this.batcher.size;
  }

  /** Batches being computed. */
  get batchesInFlight(): number {
    return this.inflight;
  }

  /** Whether a request of this priority would be queued now (cheap; checked before reading a body). */
  canAdmit(priority: number): boolean {
    return this.batcher.canAdmit(priority);
  }

  /** Lets the batcher dispatch to workers that became free. */
  workerFreed(): void {
    this.batcher.pump();
  }

  /** Queues a request; resolves with its outputs or rejects with an `InferenceError`. */
  infer(request: InferenceRequest): Promise<InferenceResponse> {
    return new Promise((resolve, reject) => {
      const now = performance.now();
      const job: Job = {
        key: request.inputs.key,
        rows: request.inputs.rows,
        priority: request.priority,
        queueTimeoutMs: request.timeoutMs - (now - request.receivedAt),
        request,
        enqueuedAt: now,
        resolve,
        reject,
      };
      if (!this.batcher.submit(job)) {
        reject(new InferenceError(ErrorKind.OVERLOADED, `the queue is full (${this.batcher.size} requests of priority ${request.priority} or higher); retry later`));
      }
    });
  }

  /** Resolves once nothing is queued or being computed. */
  whenIdle(): Promise<void> {
    if (this.batcher.size === 0 && this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private run(batch: Job[]): void {
    const dispatchedAt = performance.now();
    const rows = batch.reduce((n, job) => n + job.rows, 0);
    const feeds: WireTensor[] = this.model.inputs.map((spec, i) => ({ name: spec.name, ...concatRows(batch.map((job) => job.request.inputs.tensors[i])) }));
    for (const job of batch) this.metrics.queueSeconds.observe((dispatchedAt - job.enqueuedAt) / 1000);
    this.metrics.batchSize.observe(rows);
    this.inflight++;
    const fault = batch.find((job) => job.request.fault)?.request.fault;
    // A lone request of a tiny model runs on this thread (see inline-runner.ts); faults are injected in workers only.
    const inline = this.inline && !fault && this.batcher.size === 0 && this.inline.accepts(rows) ? this.inline : undefined;
    (inline ? inline.run(feeds) : this.pool.run(feeds, fault)).then((result) => {
      this.metrics.computeSeconds.observe(result.computeMs / 1000);
      this.answer(batch, rows, result.outputs);
    }).catch((error: unknown) => {
      // A failed run, or a failure while answering (splitting outputs, logging): every job of the batch is answered.
      const failure = error instanceof InferenceError ? error : new InferenceError(ErrorKind.INTERNAL, `answering the batch failed: ${(error as Error).message}`);
      for (const job of batch) job.reject(failure);
    }).finally(() => {
      this.inflight--;
      this.notifyIfIdle();
    });
  }

  private notifyIfIdle(): void {
    if (this.inflight === 0 && this.batcher.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Splits a batch's outputs back to its requests (by their rows) and answers them. */
  private answer(batch: Job[], rows: number, outputs: WireTensor[]): void {
    if (this.model.batchable) {
      const wrong = outputs.find((t) => t.dims[0] !== rows);
      if (wrong) {
        const error = new InferenceError(ErrorKind.INTERNAL, `output '${wrong.name}' has ${wrong.dims[0]} rows for a batch of ${rows}; the model does not keep dimension 0 as the batch, serve it with ${ServerVariables.MAX_BATCH_SIZE}=1`);
        for (const job of batch) job.reject(error);
        return;
      }
    }
    let offset = 0;
    for (const job of batch) {
      const wanted = job.request.outputs;
      const own = outputs
        .filter((t) => !wanted || wanted.includes(t.name))
        .map((t) => (this.model.batchable ? { name: t.name, ...sliceRows(t, offset, job.rows) } : t));
      offset += job.rows;
      job.resolve({ id: job.request.id, outputs: own });
      this.predictionLogger?.offer({
        requestId: job.request.id,
        priority: job.priority,
        inputNames: this.model.inputs.map((s) => s.name),
        inputs: job.request.inputs.tensors,
        outputs: own,
        latencyMs: performance.now() - job.request.receivedAt,
      });
    }
  }
}
