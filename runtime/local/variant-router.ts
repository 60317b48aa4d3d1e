/**
 * The local stand-in for a SageMaker endpoint's variant routing: one inference server per production variant, and
 * calls dispatched by `TargetVariant` as SageMaker does (without one, to the first variant). Used by the local
 * platform and the gateway's integration tests; in AWS, SageMaker routes.
 */
import { ModelAnswer, ModelCall, ModelCallError, ModelFailureKind, ModelInvoker } from '../core/model-call';

export class VariantRouter implements ModelInvoker {
  private readonly names: string[];

  /** `variants`: the invoker of each variant's server, by variant name, in declaration order. */
  constructor(private readonly variants: Readonly<Record<string, ModelInvoker>>) {
    this.names = Object.keys(variants);
    if (this.names.length === 0) throw new Error('VariantRouter: give at least one variant');
  }

  public invoke(call: ModelCall): Promise<ModelAnswer> {
    const name = call.targetVariant ?? this.names[0];
    const target = this.variants[name];
    if (!target) {
      // SageMaker answers a ValidationError for an unknown TargetVariant.
      return Promise.reject(new ModelCallError(ModelFailureKind.ERROR, `ValidationError: no variant '${name}' (variants: ${this.names.join(', ')})`));
    }
    return target.invoke(call);
  }
}
