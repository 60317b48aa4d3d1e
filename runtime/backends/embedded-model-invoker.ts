/**
 * Runs an ONNX model inside the gateway's own process with onnxruntime-node: no network hop, no endpoint to run —
 * for small models that change rarely. One session per process (a Lambda container), created when the invoker is
 * (during the function's init phase when the handler builds it at load), then warmed up with one zero-filled run.
 *
 * Inputs are checked exactly as our inference server checks them (`checkInputs`: names, datatypes, shapes, every
 * element's value), so a call the server would refuse fails here with the server's message. Runs are one at a time
 * (a run holds the event loop: onnxruntime-node computes on the calling thread), in arrival order; a call whose
 * deadline passes before its turn fails TIMEOUT without running, and one that finishes after its deadline fails
 * TIMEOUT too (its answer is late for the gateway). More than `maxPending` calls at once: OVERLOADED.
 *
 * onnxruntime-node is loaded on first use (`require`), so the bundles of the other backends never load it; the
 * handler bundle leaves it external and the embedded backend's code folder carries it (lib/private/embedded-model-code.ts).
 */
import type { InferenceSession } from 'onnxruntime-node';
import { DEFAULT_EMBEDDED_MAX_PENDING, EMBEDDED_VARIANT } from '../contracts/model-backend';
import { NonFinitePolicy } from '../contracts/inference-server';
import { ModelAnswer, ModelCall, ModelCallError, ModelFailureKind, ModelInvoker } from '../core/model-call';
import { checkInputs, isBatchable } from '../inference-server/model';
import type { TensorSpec } from '../inference-server/tensors';
import { oipRequest, wholeMs } from './oip-call';

/** How the embedded model runs. */
export interface EmbeddedModelInvokerOptions {
  /** Path of the `.onnx` file. */
  readonly modelPath: string;
  /** onnxruntime threads of the session. @default 1 */
  readonly intraOpThreads?: number;
  /** Most calls held at once, running or waiting. @default DEFAULT_EMBEDDED_MAX_PENDING */
  readonly maxPending?: number;
}

/** The loaded model. */
interface Loaded {
  readonly session: InferenceSession;
  readonly model: { readonly inputs: readonly TensorSpec[]; readonly batchable: boolean };
  readonly run: typeof import('../inference-server/session').runSession;
}

/** A call waiting for its turn. */
interface Pending {
  readonly call: ModelCall;
  /** `performance.now()` past which the answer is too late. */
  readonly deadlineAt: number;
  readonly deadlineMs: number;
  readonly resolve: (answer: ModelAnswer) => void;
  readonly reject: (error: ModelCallError) => void;
  /** Fails the call at its deadline while it waits. */
  readonly timer: NodeJS.Timeout;
}

/** Invokes an ONNX model in this process. */
export class EmbeddedModelInvoker implements ModelInvoker {
  /** The session, loading from construction on; a failed load fails every call (ERROR). */
  private readonly loaded: Promise<Loaded>;
  private readonly waiting: Pending[] = [];
  private readonly maxPending: number;
  /** The loop taking waiting calls is on. */
  private running = false;
  /** A call is running now. */
  private inRun = false;
  /** Runs made (warm-up excluded). */
  private runCount = 0;

  constructor(private readonly options: EmbeddedModelInvokerOptions) {
    this.maxPending = options.maxPending ?? DEFAULT_EMBEDDED_MAX_PENDING;
    this.loaded = this.load();
    this.loaded.catch(() => undefined); // reported to each call; not an unhandled rejection meanwhile
  }

  /** Model runs made so far (warm-up excluded). */
  public get runs(): number {
    return this.runCount;
  }

  /** Resolves once the session is loaded and warmed up; rejects with the load's failure. */
  public ready(): Promise<void> {
    return this.loaded.then(() => undefined);
  }

  public invoke(call: ModelCall): Promise<ModelAnswer> {
    if (this.waiting.length + (this.inRun ? 1 : 0) >= this.maxPending) {
      return Promise.reject(new ModelCallError(ModelFailureKind.OVERLOADED, `embedded model busy: ${this.maxPending} calls already pending`));
    }
    const deadlineMs = wholeMs(call.deadlineMs);
    return new Promise<ModelAnswer>((resolve, reject) => {
      const pending: Pending = {
        call, deadlineMs, deadlineAt: performance.now() + deadlineMs, resolve, reject,
        timer: setTimeout(() => {
          const at = this.waiting.indexOf(pending);
          if (at < 0) return; // running: judged when it ends
          this.waiting.splice(at, 1);
          reject(notStarted(deadlineMs));
        }, deadlineMs),
      };
      this.waiting.push(pending);
      void this.next();
    });
  }

  /** Runs the waiting calls one at a time. */
  private async next(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let loaded: Loaded;
      try {
        loaded = await this.loaded;
      } catch (error) {
        for (const p of this.waiting.splice(0)) {
          clearTimeout(p.timer);
          p.reject(new ModelCallError(ModelFailureKind.ERROR, `embedded model ${this.options.modelPath} failed to load: ${(error as Error).message}`));
        }
        return;
      }
      for (let p = this.waiting.shift(); p; p = this.waiting.shift()) {
        clearTimeout(p.timer);
        if (performance.now() >= p.deadlineAt) {
          p.reject(notStarted(p.deadlineMs));
          continue;
        }
        this.inRun = true;
        await this.runOne(loaded, p).finally(() => { this.inRun = false; });
      }
    } finally {
      this.running = false;
    }
  }

  private async runOne(loaded: Loaded, p: Pending): Promise<void> {
    let outputs: Record<string, number[]>;
    try {
      // The server's own checks, on the very body the server would receive (JSON: a NaN arrives as null): the same
      // refusals, the same messages.
      const body = JSON.parse(JSON.stringify(oipRequest(p.call))) as ReturnType<typeof oipRequest>;
      const { tensors } = checkInputs(loaded.model, body.inputs, NonFinitePolicy.REJECT);
      this.runCount++;
      const results = await loaded.run(loaded.session, loaded.model.inputs.map((spec, i) => ({ name: spec.name, ...tensors[i] })));
      outputs = Object.fromEntries(results.map((t) => [t.name, Array.from(t.data as ArrayLike<number | bigint>, Number)]));
    } catch (error) {
      p.reject(new ModelCallError(ModelFailureKind.ERROR, `embedded model: ${(error as Error).message}`));
      return;
    }
    if (performance.now() > p.deadlineAt) {
      p.reject(new ModelCallError(ModelFailureKind.TIMEOUT, `embedded model answered after the ${p.deadlineMs} ms deadline`));
      return;
    }
    p.resolve({ outputs, variant: EMBEDDED_VARIANT });
  }

  private async load(): Promise<Loaded> {
    // Loaded here, not imported: only the embedded backend needs onnxruntime-node (and its native binary).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const server = require('../inference-server/session') as typeof import('../inference-server/session');
    const session = await ort.InferenceSession.create(this.options.modelPath, server.sessionOptions(this.options.intraOpThreads ?? 1));
    const inputs = server.specsOf(session.inputMetadata, 'input');
    const model = { inputs, batchable: isBatchable(inputs, server.specsOf(session.outputMetadata, 'output')) };
    try {
      await server.runSession(session, server.synthesizedFeeds(inputs, model.batchable ? 1 : null));
    } catch (error) {
      // As the server does: a model that refuses zero-filled inputs still serves real ones.
      console.warn(JSON.stringify({ level: 'warn', message: 'embedded model warm-up failed; serving anyway', detail: (error as Error).message }));
    }
    return { session, model, run: server.runSession };
  }
}

function notStarted(deadlineMs: number): ModelCallError {
  return new ModelCallError(ModelFailureKind.TIMEOUT, `embedded model could not start within the ${deadlineMs} ms deadline (earlier calls or the model's load took it)`);
}
