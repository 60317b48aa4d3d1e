/**
 * Request-time features (Feast's `RequestSource`): values a caller sends with each prediction request (the current
 * transaction's amount, the device in hand) rather than values read from the feature store. Declared once as JSON; API
 * Gateway's request schema and the gateway's runtime validate against the same declaration, and the model input
 * takes them by `source:feature` reference, in the order of its columns, beside the stored features.
 */
import { nameProblem } from './naming';
import { FEATURE_REF_SEPARATOR } from './refs';
import { FEATURE_SPEC_FORMAT_VERSION, FeatureDtype, FeatureSpec, FeatureViewSpec } from './types';
import { describeValue, valueProblem } from './values';
import { featureProblems } from './validate';

/** A request source as JSON: the request-time features a prediction request carries in its `request` object. */
export interface RequestSourceSpec {
  /** Format version of this JSON document (`FEATURE_SPEC_FORMAT_VERSION`). */
  readonly specFormat: number;
  /** Source name, lower snake case: the `<name>` of `<name>:<feature>` references. */
  readonly name: string;
  /** The features; a feature with a fallback may be left out of a request (it is then served with status FALLBACK). */
  readonly features: FeatureSpec[];
  /**
   * Human description.
   * @default - none
   */
  readonly description?: string;
}

/** Every problem of a request source spec, each naming the field and the fix. */
export function requestSourceProblems(spec: RequestSourceSpec): string[] {
  if (!spec || typeof spec !== 'object') return ['requestSource: expected a RequestSourceSpec object'];
  const where = `request source '${spec.name ?? '?'}'`;
  const problems: string[] = [];
  if (spec.specFormat !== FEATURE_SPEC_FORMAT_VERSION) {
    problems.push(`${where}.specFormat: ${spec.specFormat} is not supported; this library reads format ${FEATURE_SPEC_FORMAT_VERSION}`);
  }
  const name = nameProblem(`${where}.name`, spec.name);
  if (name) problems.push(name);
  if (!Array.isArray(spec.features) || spec.features.length === 0) {
    problems.push(`${where}.features: at least one feature is required, e.g. Feature.float64('amount')`);
  }
  const seen = new Set<string>();
  for (const [i, feature] of (spec.features ?? []).entries()) {
    problems.push(...featureProblems(`${where}.features[${i}]`, feature));
    if (feature.dtype === FeatureDtype.STRING) {
      problems.push(`${where}.features[${i}]: '${feature.name}' is a string; request-time features are model inputs, which are numeric — send it encoded as a number or bool`);
    }
    if (seen.has(feature.name)) problems.push(`${where}.features[${i}]: '${feature.name}' is declared twice`);
    seen.add(feature.name);
  }
  return problems;
}

/**
 * Why `value` cannot be the model input of request feature `feature`, or undefined: the feature's own type rules,
 * and for numbers the range of the model's float32 input (a finite float64 such as 1e300 becomes Infinity there).
 */
export function requestValueProblem(feature: FeatureSpec, value: unknown): string | undefined {
  if (feature.dtype === FeatureDtype.FLOAT64 && typeof value === 'number' && Number.isFinite(value)) {
    return Number.isFinite(Math.fround(value)) ? undefined : `${describeValue(value)} is outside the float32 range of the model input (|x| ≤ 3.4e38)`;
  }
  return valueProblem(feature, value);
}

/** One column group of the model input: a feature, where it comes from, and its reference. */
export interface ModelInputColumn {
  /** The `view:feature` or `source:feature` reference. */
  readonly ref: string;
  /** The feature. */
  readonly feature: FeatureSpec;
  /** Where the value comes from: the online store, or the request. */
  readonly from: 'store' | 'request';
}

/**
 * The model input's columns in `featureRefs` order, each resolved against the views (stored features) or the request
 * source (request-time features). Throws one error listing every reference that resolves to neither, and every
 * string feature (model inputs are numeric).
 */
export function resolveModelInputs(views: readonly FeatureViewSpec[], requestSource: RequestSourceSpec | undefined, featureRefs: readonly string[]): ModelInputColumn[] {
  const problems: string[] = [];
  const columns: ModelInputColumn[] = [];
  const byView = new Map(views.map((v) => [v.name, v]));
  if (requestSource && byView.has(requestSource.name)) {
    problems.push(`request source '${requestSource.name}' has the name of a feature view; rename one of them`);
  }
  for (const ref of featureRefs) {
    const [prefix, featureName, ...rest] = ref.split(FEATURE_REF_SEPARATOR);
    const fromRequest = requestSource !== undefined && prefix === requestSource.name;
    const owner = fromRequest ? requestSource : byView.get(prefix);
    const feature = owner?.features.find((f) => f.name === featureName);
    if (rest.length > 0 || !featureName) {
      problems.push(`'${ref}': references look like 'view_name:feature_name' or 'request_source:feature_name'`);
    } else if (!owner) {
      const known = [...byView.keys(), ...(requestSource ? [requestSource.name] : [])];
      problems.push(`'${ref}': unknown view or request source '${prefix}' (known: ${known.join(', ') || 'none'})`);
    } else if (!feature) {
      problems.push(`'${ref}': '${prefix}' has no feature '${featureName}' (has: ${owner.features.map((f) => f.name).join(', ')})`);
    } else if (feature.dtype === FeatureDtype.STRING) {
      problems.push(`'${ref}' is a string; model inputs are numeric — encode it as a number or bool feature`);
    } else {
      columns.push({ ref, feature, from: fromRequest ? 'request' : 'store' });
    }
  }
  if (featureRefs.length === 0) problems.push('featureRefs: pass at least one reference, e.g. customer_txn_stats:txn_count_1h');
  if (problems.length > 0) throw new Error(`Invalid model inputs:\n  - ${problems.join('\n  - ')}`);
  return columns;
}
