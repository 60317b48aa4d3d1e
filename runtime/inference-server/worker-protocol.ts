/**
 * Messages between the main thread and a session worker. Tensor data travels as typed arrays: inputs are copied (the
 * requests keep theirs), outputs are transferred.
 */
import type { Tensor, TensorSpec } from './tensors';

/** Execution providers a session can be created with. */
export type ExecutionProvider = 'cuda' | 'cpu';

/** What a worker needs to load its session (its `workerData`). */
export interface WorkerSettings {
  /** Local path of the .onnx file. */
  readonly modelPath: string;
  /** Requested provider; `cuda` falls back to `cpu` when it cannot be created. */
  readonly executionProvider: ExecutionProvider;
  /** onnxruntime intra-op threads of the session. */
  readonly intraOpThreads: number;
  /** Warm-up runs per warm-up batch size, before the worker reports itself ready. */
  readonly warmupRuns: number;
  /** Largest batch the server will send (synthesized warm-up runs batch 1 and this size). */
  readonly maxBatchSize: number;
  /** The operator's warm-up request, run instead of synthesized inputs; its failure is fatal. @default - none */
  readonly warmupSample?: WarmupSample;
}

/** A warm-up request: the `inputs` of an Open Inference Protocol v2 request, checked like a request's. */
export interface WarmupSample {
  /** Where it was read from (named in errors and logs). */
  readonly source: string;
  /** The request's raw `inputs`. */
  readonly inputs: unknown;
}

/** A named tensor on the wire. */
export interface WireTensor extends Tensor {
  readonly name: string;
}

/** A fault to inject while running a batch (only sent when fault injection is enabled). */
export interface Fault {
  /** `delay`: block the worker `ms` before running (a slow model); `exit`: the worker thread exits mid-batch. */
  readonly kind: 'delay' | 'exit';
  readonly ms?: number;
}

/** Main thread → worker. */
export type ToWorker =
  | { readonly type: 'run'; readonly batchId: number; readonly feeds: WireTensor[]; readonly fault?: Fault }
  | { readonly type: 'release' };

/** Worker → main thread. */
export type FromWorker =
  | {
    readonly type: 'loaded';
    readonly provider: ExecutionProvider;
    readonly fallbackReason?: string;
    readonly loadMs: number;
    readonly inputs: TensorSpec[];
    readonly outputs: TensorSpec[];
  }
  | {
    readonly type: 'warmed';
    readonly runs: number;
    readonly warmupMs: number;
    /** Why the model rejected the synthesized warm-up inputs (the worker serves regardless), when it did. */
    readonly warmupFailure?: string;
  }
  | { readonly type: 'result'; readonly batchId: number; readonly outputs: WireTensor[]; readonly computeMs: number }
  | { readonly type: 'failed'; readonly batchId: number; readonly message: string }
  | { readonly type: 'released' }
  | { readonly type: 'fatal'; readonly message: string };
