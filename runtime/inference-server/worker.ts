/**
 * Session worker (a worker thread): loads the model into an onnxruntime-node session — CUDA when requested and
 * available, else CPU — warms up (the operator's warm-up sample, else synthesized inputs), then runs the batches the
 * main thread sends. `session.run` blocks the thread it runs on, which is why it runs here and not on the main thread.
 */
import { parentPort, workerData } from 'worker_threads';
import * as ort from 'onnxruntime-node';
import { checkInputs, isBatchable } from './model';
import { runSession as run, sessionOptions, specsOf, synthesizedFeeds } from './session';
import { NonFinitePolicy, TensorSpec } from './tensors';
import type { ExecutionProvider, FromWorker, ToWorker, WarmupSample, WorkerSettings } from './worker-protocol';

const settings = workerData as WorkerSettings;
const port = parentPort!;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function createSession(): Promise<{ session: ort.InferenceSession; provider: ExecutionProvider; fallbackReason?: string }> {
  const options = sessionOptions(settings.intraOpThreads);
  if (settings.executionProvider === 'cuda') {
    try {
      // Without the CUDA libraries this throws rather than falling back: fall back here, and say why.
      const session = await ort.InferenceSession.create(settings.modelPath, { ...options, executionProviders: ['cuda', 'cpu'], logSeverityLevel: 4 });
      return { session, provider: 'cuda' };
    } catch (error) {
      const session = await ort.InferenceSession.create(settings.modelPath, { ...options, executionProviders: ['cpu'] });
      return { session, provider: 'cpu', fallbackReason: (error as Error).message };
    }
  }
  return { session: await ort.InferenceSession.create(settings.modelPath, { ...options, executionProviders: ['cpu'] }), provider: 'cpu' };
}

/**
 * Synthesized warm-up: zero-filled batches of 1 row and of the largest batch size (a model without a batch dimension:
 * its own shape), other dynamic dimensions set to 1. A model may reject such inputs (a reflect Pad on a dynamic axis
 * needs several samples): that ends the warm-up with the reason, and the worker serves regardless.
 */
async function synthesizedWarmUp(session: ort.InferenceSession, inputs: readonly TensorSpec[], batchable: boolean): Promise<{ runs: number; failure?: string }> {
  const batchSizes: (number | null)[] = batchable ? [...new Set([1, settings.maxBatchSize])] : [null];
  let runs = 0;
  try {
    for (const rows of batchSizes) {
      const feeds = synthesizedFeeds(inputs, rows);
      for (let r = 0; r < settings.warmupRuns; r++, runs++) await run(session, feeds);
    }
    return { runs };
  } catch (error) {
    return { runs, failure: (error as Error).message };
  }
}

/**
 * The operator's warm-up sample, checked like a request and run `warmupRuns` times (at least once: a sample is always
 * checked). Throws when the sample does not fit the model or the model rejects it.
 */
async function sampleWarmUp(session: ort.InferenceSession, inputs: TensorSpec[], batchable: boolean, sample: WarmupSample): Promise<number> {
  const { tensors } = checkInputs({ inputs, batchable }, sample.inputs, NonFinitePolicy.ALLOW);
  const feeds = tensors.map((tensor, i) => ({ name: inputs[i].name, ...tensor }));
  const runs = Math.max(1, settings.warmupRuns);
  for (let r = 0; r < runs; r++) await run(session, feeds);
  return runs;
}

function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function main(): Promise<void> {
  let loaded: Awaited<ReturnType<typeof createSession>>;
  let inputs: TensorSpec[];
  let outputs: TensorSpec[];
  const loadStarted = performance.now();
  try {
    loaded = await createSession();
    inputs = specsOf(loaded.session.inputMetadata, 'input');
    outputs = specsOf(loaded.session.outputMetadata, 'output');
  } catch (error) {
    send({ type: 'fatal', message: `cannot load model ${settings.modelPath}: ${(error as Error).message}` });
    return;
  }
  const { session } = loaded;
  send({ type: 'loaded', provider: loaded.provider, fallbackReason: loaded.fallbackReason, loadMs: performance.now() - loadStarted, inputs, outputs });
  const warmStarted = performance.now();
  const batchable = isBatchable(inputs, outputs);
  const sample = settings.warmupSample;
  if (sample) {
    try {
      const runs = await sampleWarmUp(session, inputs, batchable, sample);
      send({ type: 'warmed', runs, warmupMs: performance.now() - warmStarted });
    } catch (error) {
      send({ type: 'fatal', message: `warm-up sample ${sample.source} failed: ${(error as Error).message}` });
      return;
    }
  } else {
    const { runs, failure } = await synthesizedWarmUp(session, inputs, batchable);
    send({ type: 'warmed', runs, warmupMs: performance.now() - warmStarted, warmupFailure: failure });
  }
  port.on('message', async (message: ToWorker) => {
    if (message.type === 'release') {
      await session.release();
      send({ type: 'released' });
      return;
    }
    if (message.fault?.kind === 'exit') process.exit(1);
    if (message.fault?.kind === 'delay') block(message.fault.ms ?? 0);
    const started = performance.now();
    try {
      const result = await run(session, message.feeds);
      send({ type: 'result', batchId: message.batchId, outputs: result, computeMs: performance.now() - started }, result.map((t) => t.data.buffer as ArrayBuffer));
    } catch (error) {
      send({ type: 'failed', batchId: message.batchId, message: (error as Error).message });
    }
  });
}

void main();
