/**
 * The model-call port of the gateway: what a call carries, what comes back, and how failures are classified.
 * Adapters (SageMaker in runtime/aws/model-invoker.ts) implement `ModelInvoker`.
 */

/** Why a model call failed. */
export enum ModelFailureKind {
  /** The model said it is saturated (throttled, queue full, not ready): shed or fall back, and back off. */
  OVERLOADED = 'overloaded',
  /** No answer within the deadline (the call was aborted). */
  TIMEOUT = 'timeout',
  /** Anything else: connection refused, a model error, an unreadable answer. */
  ERROR = 'error',
}

/** A failed model call. */
export class ModelCallError extends Error {
  constructor(public readonly kind: ModelFailureKind, message: string) {
    super(message);
    this.name = 'ModelCallError';
  }
}

/** One model call. */
export interface ModelCall {
  /** Input tensors by name: a row-major array of numbers and its shape. */
  readonly inputs: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: readonly number[] }>>;
  /** Deadline for the whole call, milliseconds. */
  readonly deadlineMs: number;
  /** Priority level, 1 (highest) … 3, passed to the model server as a custom attribute. */
  readonly priority: number;
  /** Production variant to invoke (consistent A/B or canary assignment). @default - SageMaker picks by weight */
  readonly targetVariant?: string;
  /** Request id, passed as the inference id. */
  readonly requestId: string;
}

/** A model's answer. */
export interface ModelAnswer {
  /** Output tensors by name, as flat arrays. */
  readonly outputs: Record<string, number[]>;
  /** Variant that answered, when SageMaker says. */
  readonly variant?: string;
}

/** Anything that can answer a model call (the gateway depends on this, not on SageMaker). */
export interface ModelInvoker {
  invoke(call: ModelCall): Promise<ModelAnswer>;
}
