import { Feature } from './feature-view';
import { FEATURE_SPEC_FORMAT_VERSION, RequestSourceSpec, requestSourceProblems } from './spec';

/** Properties of a `RequestSource`. */
export interface RequestSourceProps {
  /** Source name, lower snake case: model inputs reference its features as `<name>:<feature>`. */
  readonly name: string;
  /**
   * The features a prediction request carries in its `request` object (numbers, bools, float32 vectors; no strings:
   * they are model inputs). A feature with a `fallback` may be left out of a request.
   */
  readonly features: Feature[];
  /**
   * Human description.
   * @default - none
   */
  readonly description?: string;
}

/**
 * Request-time features (Feast's `RequestSource`): what the caller knows at request time and no store can (the
 * current transaction's amount, the merchant category). A prediction request sends them as
 * `{"request": {"amount": 12.5}}`; API Gateway's request schema and the gateway validate them against this
 * declaration, and the gateway merges them with the stored features in the model input's column order.
 */
export class RequestSource {
  /** Source name. */
  public readonly name: string;
  private readonly spec: RequestSourceSpec;

  constructor(props: RequestSourceProps) {
    const spec: RequestSourceSpec = {
      specFormat: FEATURE_SPEC_FORMAT_VERSION,
      name: props.name,
      features: (props.features ?? []).map((f) => f.toSpec()),
      ...(props.description ? { description: props.description } : {}),
    };
    const problems = requestSourceProblems(spec);
    if (problems.length > 0) throw new Error(`RequestSource '${props.name}': invalid props:\n  - ${problems.join('\n  - ')}`);
    this.spec = spec;
    this.name = spec.name;
  }

  /** The source as plain JSON: what the gateway's runtime loads. Returns a fresh copy. */
  public toSpec(): RequestSourceSpec {
    return JSON.parse(JSON.stringify(this.spec));
  }
}
