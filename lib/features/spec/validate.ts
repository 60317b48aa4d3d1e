import { nameProblem, RESERVED_COLUMNS } from './naming';
import { FEATURE_SPEC_FORMAT_VERSION, FeatureDtype, FeatureSpec, FeatureViewSpec } from './types';
import { valueProblem } from './values';

/** Largest vector dimension accepted (DynamoDB's 400 KB item limit leaves room for a few vectors this size). */
export const MAX_VECTOR_DIMENSION = 4096;

const EVENT_TIME_OWNER = 'the event time field';
/** Glue's limits: a column comment holds 255 characters, a table description 2048. */
const MAX_FEATURE_DESCRIPTION = 255;
const MAX_VIEW_DESCRIPTION = 2048;

/**
 * Validates a feature view spec and returns every problem found, each naming the field and the fix.
 * An empty list means the spec is valid.
 */
export function featureViewProblems(spec: FeatureViewSpec): string[] {
  const problems: string[] = [];
  const push = (p: string | undefined) => { if (p) problems.push(p); };
  const where = `view '${spec?.name ?? '?'}'`;
  if (!spec || typeof spec !== 'object') return ['spec: expected a FeatureViewSpec object'];

  if (spec.specFormat !== FEATURE_SPEC_FORMAT_VERSION) {
    problems.push(`${where}.specFormat: ${spec.specFormat} is not supported; this library reads format ${FEATURE_SPEC_FORMAT_VERSION}`);
  }
  push(nameProblem(`${where}.name`, spec.name));
  if (!Number.isInteger(spec.version) || spec.version < 1) {
    problems.push(`${where}.version: ${spec.version} must be a positive integer; start at 1 and bump it for breaking changes`);
  }
  if (!Array.isArray(spec.entities) || spec.entities.length === 0) {
    problems.push(`${where}.entities: at least one entity is required; pass e.g. new Entity({ name: 'customer', joinKeys: ['customer_id'] })`);
  }
  const columns = new Map<string, string>();
  const claim = (column: string, owner: string) => {
    const previous = columns.get(column);
    if (previous) problems.push(`${where}: '${column}' is used by both ${previous} and ${owner}; rename one of them`);
    else columns.set(column, owner);
  };
  for (const [i, entity] of (spec.entities ?? []).entries()) {
    push(nameProblem(`${where}.entities[${i}].name`, entity.name));
    if (!Array.isArray(entity.joinKeys) || entity.joinKeys.length === 0) {
      problems.push(`${where}.entities[${i}].joinKeys: at least one join key is required, e.g. ['${entity.name}_id']`);
    }
    for (const key of entity.joinKeys ?? []) {
      push(nameProblem(`${where}.entities[${i}].joinKeys`, key));
      claim(key, `join key of entity '${entity.name}'`);
    }
  }
  push(nameProblem(`${where}.eventTimeField`, spec.eventTimeField));
  if (typeof spec.eventTimeField === 'string') claim(spec.eventTimeField, EVENT_TIME_OWNER);

  if (!Array.isArray(spec.features) || spec.features.length === 0) {
    problems.push(`${where}.features: at least one feature is required, e.g. Feature.float64('txn_count_1h')`);
  }
  for (const [i, feature] of (spec.features ?? []).entries()) {
    problems.push(...featureProblems(`${where}.features[${i}]`, feature));
    if (typeof feature.name === 'string') claim(feature.name, `feature '${feature.name}'`);
  }
  for (const [column, owner] of columns) {
    // The event time field is stored in the layout's own event_time column, so only keys and features may collide.
    if (RESERVED_COLUMNS.includes(column) && owner !== EVENT_TIME_OWNER) {
      problems.push(`${where}: '${column}' is reserved by the offline store layout (${RESERVED_COLUMNS.join(', ')}); choose another name`);
    }
  }
  if (typeof spec.description === 'string' && spec.description.length > MAX_VIEW_DESCRIPTION) {
    problems.push(`${where}.description: ${spec.description.length} characters; at most ${MAX_VIEW_DESCRIPTION} (it becomes the Glue table's description)`);
  }
  if (!(spec.ttlSeconds > 0)) {
    problems.push(`${where}.ttl: must be positive (got ${spec.ttlSeconds} s); it is the maximum age a value may be served`);
  }
  if (!(spec.freshnessSeconds > 0)) {
    problems.push(`${where}.freshness: must be positive (got ${spec.freshnessSeconds} s); it is how far materialization may lag the stream`);
  } else if (spec.freshnessSeconds > spec.ttlSeconds) {
    problems.push(`${where}.freshness: ${spec.freshnessSeconds} s exceeds ttl ${spec.ttlSeconds} s, so values could expire before they arrive; lower freshness or raise ttl`);
  }
  return problems;
}

export function featureProblems(where: string, feature: FeatureSpec): string[] {
  const problems: string[] = [];
  const nameIssue = nameProblem(`${where}.name`, feature.name);
  if (typeof feature.description === 'string' && feature.description.length > MAX_FEATURE_DESCRIPTION) {
    problems.push(`${where}.description: ${feature.description.length} characters; at most ${MAX_FEATURE_DESCRIPTION} (it becomes the Glue column's comment)`);
  }
  if (nameIssue) problems.push(nameIssue);
  if (!Object.values(FeatureDtype).includes(feature.dtype)) {
    problems.push(`${where}.dtype: '${feature.dtype}' is not one of ${Object.values(FeatureDtype).join(', ')}`);
    return problems;
  }
  if (feature.dtype === FeatureDtype.FLOAT32_VECTOR) {
    if (!Number.isInteger(feature.dimension) || feature.dimension! < 1 || feature.dimension! > MAX_VECTOR_DIMENSION) {
      problems.push(`${where}.dimension: ${feature.dimension} must be an integer between 1 and ${MAX_VECTOR_DIMENSION} for a float32 vector`);
    }
  } else if (feature.dimension !== undefined) {
    problems.push(`${where}.dimension: only float32 vectors have a dimension; remove it from ${feature.dtype} feature '${feature.name}'`);
  }
  if (feature.fallback !== undefined && feature.fallback !== null) {
    const issue = valueProblem(feature, feature.fallback);
    if (issue) problems.push(`${where}.fallback: ${issue}`);
  }
  return problems;
}

/** Throws one error listing every problem of the spec, or returns it unchanged when valid. */
export function assertValidFeatureView(spec: FeatureViewSpec): FeatureViewSpec {
  const problems = featureViewProblems(spec);
  if (problems.length > 0) {
    throw new Error(`Invalid feature view '${spec?.name}' (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  - ${problems.join('\n  - ')}`);
  }
  return spec;
}
