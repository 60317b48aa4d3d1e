/**
 * The inline runner: a bounded exception to "sessions live in worker threads" (`session.run` blocks the thread it runs
 * on). Handing a request to a worker costs two cross-thread wake-ups (main → worker, worker → main), each paid by
 * the sender in the kernel; for a model whose 1-row run takes microseconds, they cost several times the run itself,
 * and a lone request at concurrency 1 spends most of its time in them. So a tiny model also gets a CPU session on the
 * main thread, and a lone 1-row request (nothing else queued, a worker idle) runs there.
 *
 * Policy, all of which must hold (else every batch goes to the workers, as before):
 * - the requested execution provider is CPU (CUDA never runs inline, even after falling back to CPU);
 * - `INFERENCE_INLINE_MAX_RUN_US` > 0 (default 100 µs, at most 250 µs: the longest the event loop may be blocked);
 * - the model file is at most `MAX_MODEL_BYTES` (a screen, so that a big model is never loaded on the main thread: a
 *   1-row run reads every weight, and 1 MiB of float32 weights is ~260 k multiply-adds, ~100 µs on one core);
 * - every input dimension is fixed but the batch dimension: a 1-row request is exactly the shape measured;
 * - on the main thread, a 1-row run of synthesized zeros takes at most that bound: the median of `PROBE_RUNS` runs
 *   after `PROBE_WARMUP_RUNS`, all of them within `PROBE_BUDGET_MS` (a slow model stops the probe early);
 * - per batch: one row (one request of a model without a batch dimension), no fault injected, nothing else queued,
 *   this runner not already running one.
 * Under load, requests queue behind busy workers and batch there: inline runs are for lone requests only.
 * `inference_inline_runs_total` counts them.
 */
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import type { Logger } from './log';
import { runSession, sessionOptions, specsOf, synthesizedFeeds } from './session';
import type { WireTensor } from './worker-protocol';
import type { BatchResult } from './worker-pool';
import { ServerVariables } from '../contracts/inference-server';

/** Largest model file loaded on the main thread. */
const MAX_MODEL_BYTES = 1024 * 1024;
/** Longest the probe may take (it blocks the main thread before the server is ready), milliseconds. */
const PROBE_BUDGET_MS = 50;
/** Runs of the main-thread probe whose median decides (after `PROBE_WARMUP_RUNS` not counted). */
const PROBE_RUNS = 101;
const PROBE_WARMUP_RUNS = 20;

/** What decides whether a model runs lone requests inline. */
export interface InlinePolicy {
  /** Local path of the .onnx file. */
  readonly modelPath: string;
  /** Requested execution provider. */
  readonly executionProvider: 'cpu' | 'cuda';
  /** Longest 1-row run allowed inline, microseconds (0: never). */
  readonly maxRunUs: number;
  /** Whether the model has a batch dimension (else its own shape is one request). */
  readonly batchable: boolean;
}

/** A CPU session on the main thread for lone requests (see the module comment). */
export class InlineRunner {
  /**
   * Creates the runner when the policy allows it, measuring the main thread's own 1-row run time; undefined (logged
   * with the reason) when it does not.
   */
  static async create(policy: InlinePolicy, logger: Logger): Promise<InlineRunner | undefined> {
    const { maxRunUs } = policy;
    const refuse = (reason: string) => {
      logger.log('info', 'lone requests run on the workers', { reason });
      return undefined;
    };
    if (maxRunUs <= 0) return refuse(`${ServerVariables.INLINE_MAX_RUN_US}=0`);
    if (policy.executionProvider !== 'cpu') return refuse(`execution provider ${policy.executionProvider} (inline runs are CPU only)`);
    const bytes = fs.statSync(policy.modelPath).size;
    if (bytes > MAX_MODEL_BYTES) return refuse(`the model file has ${bytes} bytes, over ${MAX_MODEL_BYTES}`);
    const session = await ort.InferenceSession.create(policy.modelPath, { ...sessionOptions(1), executionProviders: ['cpu'] });
    try {
      const inputs = specsOf(session.inputMetadata, 'input');
      const dynamic = inputs.find((spec) => spec.shape.some((d, i) => d === null && !(policy.batchable && i === 0)));
      if (dynamic) {
        await session.release();
        return refuse(`input '${dynamic.name}' has a dynamic dimension besides the batch: a request's run time is not bounded by a measurement`);
      }
      const feeds = synthesizedFeeds(inputs, policy.batchable ? 1 : null);
      const times: number[] = [];
      const probeStarted = performance.now();
      for (let r = 0; r < PROBE_WARMUP_RUNS + PROBE_RUNS; r++) {
        const started = performance.now();
        await runSession(session, feeds);
        if (r >= PROBE_WARMUP_RUNS) times.push((performance.now() - started) * 1000);
        if (performance.now() - probeStarted > PROBE_BUDGET_MS) {
          await session.release();
          return refuse(`${r + 1} 1-row runs on the main thread took over ${PROBE_BUDGET_MS} ms, far over ${ServerVariables.INLINE_MAX_RUN_US}=${maxRunUs}`);
        }
      }
      times.sort((a, b) => a - b);
      const medianUs = times[PROBE_RUNS >> 1];
      if (medianUs > maxRunUs) {
        await session.release();
        return refuse(`a 1-row run takes ${Math.round(medianUs)} µs on the main thread, over ${ServerVariables.INLINE_MAX_RUN_US}=${maxRunUs}`);
      }
      logger.log('info', 'lone requests run inline on the main thread', { medianUs: Math.round(medianUs), maxUs: Math.round(times[PROBE_RUNS - 1]), limitUs: maxRunUs });
      return new InlineRunner(session, policy.batchable);
    } catch (error) {
      await session.release();
      return refuse(`the main-thread probe failed: ${(error as Error).message}`);
    }
  }

  private running = false;
  private count = 0;

  private constructor(private readonly session: ort.InferenceSession, private readonly batchable: boolean) {}

  /** Batches run inline so far. */
  get runs(): number {
    return this.count;
  }

  /** Whether a batch of `rows` rows, with nothing else queued, runs here now. */
  accepts(rows: number): boolean {
    return !this.running && (rows === 1 || !this.batchable);
  }

  /** Runs a batch on the main thread (call only when `accepts`). */
  async run(feeds: readonly WireTensor[]): Promise<BatchResult> {
    this.running = true;
    this.count++;
    const started = performance.now();
    try {
      const outputs = await runSession(this.session, feeds);
      return { outputs, computeMs: performance.now() - started };
    } finally {
      this.running = false;
    }
  }

  /** Releases the session; call once no batch is in flight. */
  release(): Promise<void> {
    return this.session.release();
  }
}
