/**
 * Lineage of a trained model, recorded with its model package: the data snapshot it was trained on, the code version,
 * the training image digest, the hyperparameters, the evaluation metrics and the gates' verdicts. `buildLineage`
 * validates and bounds it (it travels through Step Functions, whose payloads are at most 256 KiB);
 * `toModelPackageMetadata` flattens it into SageMaker's CustomerMetadataProperties and says what it cut. Pure.
 */
import { describeValue } from '../../../lib/features/spec/values';
import { GateCheck, GateResult, GateSpecError, problemsOf } from './checks';

/** Version of the `LineageRecord` JSON format. */
export const LINEAGE_SCHEMA = 1;

/** Bounds of a lineage record. */
export const LineageLimits = {
  /** Hyperparameters and metrics, each. */
  MAX_ENTRIES: 100,
  /** Characters of a name or a string value. */
  MAX_TEXT: 1024,
  /** Failed checks kept per gate (the count of all checks is kept). */
  MAX_FAILED_CHECKS: 20,
} as const;

/** SageMaker model package CustomerMetadataProperties limits (CreateModelPackage API reference). */
export const ModelPackageMetadataLimits = {
  MAX_KEYS: 50,
  MAX_KEY_LENGTH: 128,
  MAX_VALUE_LENGTH: 256,
} as const;

/** Prefix of a metric's key in the package metadata (`metric:auc`): the champion's metrics are read back by it. */
export const METRIC_METADATA_PREFIX = 'metric:';

/**
 * The lineage facts' formats, defined once: buildLineage, the training set step (which checks the execution input
 * before anything runs) and the TrainingPipeline props validator all use these.
 */
export const LineagePatterns = {
  /** A git commit: 7–40 lower-case hex characters (`0123abc`, not a tag such as `v1.4.2`). */
  GIT_SHA: /^[0-9a-f]{7,40}$/,
  /** A container image digest: `sha256:` and 64 lower-case hex characters (not a tag). */
  IMAGE_DIGEST: /^sha256:[0-9a-f]{64}$/,
  /** A SHA-256 as 64 lower-case hex characters (a manifest's or a data file's). */
  SHA256_HEX: /^[0-9a-f]{64}$/,
} as const;

/** Why `gitSha` is not a git commit, naming the fix; undefined when it is. */
export function gitShaProblem(field: string, gitSha: unknown): string | undefined {
  return LineagePatterns.GIT_SHA.test(String(gitSha)) ? undefined : `${field} must be a git commit: 7–40 lower-case hex characters (got ${describeValue(gitSha)}; a tag such as v1.4.2 is not one)`;
}

/** Why `digest` is not an image digest, naming the fix; undefined when it is. */
export function imageDigestProblem(field: string, digest: unknown): string | undefined {
  return LineagePatterns.IMAGE_DIGEST.test(String(digest)) ? undefined : `${field} must be sha256: followed by 64 lower-case hex characters (the image digest, not a tag; got ${describeValue(digest)})`;
}

/** Characters SageMaker accepts in metadata keys and values: letters, separators, numbers and `_.:/=+-@`. */
const METADATA_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const NOT_METADATA_CHAR = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;

/** The data a model was trained on. */
export interface DataSnapshot {
  /** Where the training set is (`s3://bucket/training-sets/run-42/`). */
  readonly datasetUri: string;
  readonly rowCount: number;
  /** Event-time range of the rows, ISO-8601. */
  readonly timeRange: { readonly start: string; readonly end: string };
  /** SHA-256 (64 hex characters) of the training set's manifest: the exact files. */
  readonly manifestSha256: string;
}

/** A gate's verdict as recorded: the failed checks (capped) and how many checks ran. */
export interface GateSummary {
  readonly passed: boolean;
  readonly checks: number;
  readonly failed: readonly Pick<GateCheck, 'name' | 'column' | 'reason'>[];
}

/** What `buildLineage` takes. */
export interface LineageInput {
  readonly data: DataSnapshot;
  /** Git commit of the training code (7–40 hex characters). */
  readonly gitSha: string;
  /** Digest of the training image (`sha256:` + 64 hex characters). */
  readonly imageDigest: string;
  /** @default {} */
  readonly hyperparameters?: Readonly<Record<string, string | number | boolean>>;
  /** Evaluation metrics of the model. @default {} */
  readonly metrics?: Readonly<Record<string, number>>;
  /** @default - no gate results */
  readonly gates?: { readonly data?: GateResult; readonly model?: GateResult };
  /** When the record was made, ISO-8601. @default - now */
  readonly createdAt?: string;
}

/** The lineage of a model: plain, bounded JSON. */
export interface LineageRecord {
  readonly schema: number;
  readonly createdAt: string;
  readonly data: DataSnapshot;
  readonly gitSha: string;
  readonly imageDigest: string;
  readonly hyperparameters: Readonly<Record<string, string | number | boolean>>;
  readonly metrics: Readonly<Record<string, number>>;
  readonly gates: { readonly data?: GateSummary; readonly model?: GateSummary };
}

/** SageMaker metadata of a lineage record, and what did not fit. */
export interface ModelPackageMetadata {
  /** At most 50 keys, keys ≤ 128 and values ≤ 256 characters of the allowed set. */
  readonly properties: Record<string, string>;
  /** What was left out or shortened, e.g. `hp:layers omitted (50 keys)`, `data:uri cut to 256 characters`. */
  readonly cut: readonly string[];
}

/** Validates and bounds a lineage record; throws `GateSpecError` listing every problem, each naming the field. */
export function buildLineage(input: LineageInput): LineageRecord {
  const problems: string[] = [];
  const d = input?.data;
  if (d === null || typeof d !== 'object') problems.push('data is required: { datasetUri, rowCount, timeRange, manifestSha256 }');
  else {
    if (typeof d.datasetUri !== 'string' || d.datasetUri === '' || d.datasetUri.length > LineageLimits.MAX_TEXT) problems.push(`data.datasetUri must be the training set's URI (1–${LineageLimits.MAX_TEXT} characters)`);
    if (!Number.isSafeInteger(d.rowCount) || d.rowCount < 0) problems.push(`data.rowCount is ${String(d.rowCount)}; expected a whole number ≥ 0`);
    const start = Date.parse(d.timeRange?.start);
    const end = Date.parse(d.timeRange?.end);
    if (Number.isNaN(start) || Number.isNaN(end)) problems.push('data.timeRange needs start and end as ISO-8601 times');
    else if (start > end) problems.push(`data.timeRange starts (${d.timeRange.start}) after it ends (${d.timeRange.end})`);
    if (!LineagePatterns.SHA256_HEX.test(String(d.manifestSha256))) problems.push('data.manifestSha256 must be 64 lower-case hex characters (sha256 of the manifest)');
  }
  problems.push(...problemsOf(gitShaProblem('gitSha', input?.gitSha), imageDigestProblem('imageDigest', input?.imageDigest)));
  const hyperparameters = entries('hyperparameters', input?.hyperparameters, (v) => (typeof v === 'number' ? Number.isFinite(v) : typeof v === 'boolean' || (typeof v === 'string' && v.length <= LineageLimits.MAX_TEXT)), 'a string, a finite number or a boolean', problems);
  const metrics = entries('metrics', input?.metrics, (v) => typeof v === 'number' && Number.isFinite(v), 'a finite number', problems);
  const createdAt = input?.createdAt ?? new Date().toISOString();
  if (Number.isNaN(Date.parse(createdAt))) problems.push('createdAt must be an ISO-8601 time');
  if (problems.length > 0) throw new GateSpecError('lineage', problems);
  return {
    schema: LINEAGE_SCHEMA,
    createdAt,
    data: { datasetUri: d.datasetUri, rowCount: d.rowCount, timeRange: { start: d.timeRange.start, end: d.timeRange.end }, manifestSha256: d.manifestSha256 },
    gitSha: input.gitSha,
    imageDigest: input.imageDigest,
    hyperparameters: hyperparameters as Record<string, string | number | boolean>,
    metrics: metrics as Record<string, number>,
    gates: {
      ...(input.gates?.data ? { data: summarize(input.gates.data) } : {}),
      ...(input.gates?.model ? { model: summarize(input.gates.model) } : {}),
    },
  };
}

/**
 * The record as SageMaker model package metadata (CustomerMetadataProperties): the lineage keys first (`data:*`,
 * `code:gitSha`, `image:digest`, `gate:*`), then `metric:<name>`, then `hp:<name>`, up to 50 keys. Characters SageMaker
 * refuses become `_`; longer keys are left out, longer values cut to 256 characters; everything changed is in `cut`.
 * The full record belongs beside the model artifacts.
 */
export function toModelPackageMetadata(lineage: LineageRecord): ModelPackageMetadata {
  const L = ModelPackageMetadataLimits;
  const candidates: [string, string][] = [
    ['lineage:schema', String(lineage.schema)],
    ['lineage:createdAt', lineage.createdAt],
    ['data:uri', lineage.data.datasetUri],
    ['data:rows', String(lineage.data.rowCount)],
    ['data:start', lineage.data.timeRange.start],
    ['data:end', lineage.data.timeRange.end],
    ['data:manifestSha256', lineage.data.manifestSha256],
    ['code:gitSha', lineage.gitSha],
    ['image:digest', lineage.imageDigest],
    ...Object.entries(lineage.gates).map(([gate, s]): [string, string] => [`gate:${gate}`, s.passed ? 'passed' : `failed: ${s.failed.map((f) => f.column ? `${f.name}:${f.column}` : f.name).join(' ')}`]),
    ...Object.entries(lineage.metrics).map(([k, v]): [string, string] => [`${METRIC_METADATA_PREFIX}${k}`, String(v)]),
    ...Object.entries(lineage.hyperparameters).map(([k, v]): [string, string] => [`hp:${k}`, String(v)]),
  ];
  const properties: Record<string, string> = {};
  const cut: string[] = [];
  for (const [rawKey, rawValue] of candidates) {
    const key = rawKey.replace(NOT_METADATA_CHAR, '_');
    if (key.length > L.MAX_KEY_LENGTH) { cut.push(`${key.slice(0, 40)}… omitted (key over ${L.MAX_KEY_LENGTH} characters)`); continue; }
    if (Object.keys(properties).length >= L.MAX_KEYS) { cut.push(`${key} omitted (${L.MAX_KEYS} keys)`); continue; }
    if (Object.hasOwn(properties, key)) { cut.push(`${rawKey} omitted (same key as another after replacing characters)`); continue; }
    if (key !== rawKey) cut.push(`${rawKey}: key characters SageMaker refuses replaced by _`);
    let value = METADATA_TEXT.test(rawValue) ? rawValue : rawValue.replace(NOT_METADATA_CHAR, '_');
    if (value !== rawValue) cut.push(`${key}: value characters SageMaker refuses replaced by _`);
    if (value.length > L.MAX_VALUE_LENGTH) {
      value = value.slice(0, L.MAX_VALUE_LENGTH);
      cut.push(`${key} cut to ${L.MAX_VALUE_LENGTH} characters`);
    }
    properties[key] = value;
  }
  return { properties, cut };
}

function summarize(result: GateResult): GateSummary {
  const failed = (Array.isArray(result?.checks) ? result.checks : []).filter((c) => !c.passed);
  return {
    passed: result?.passed === true,
    checks: Array.isArray(result?.checks) ? result.checks.length : 0,
    failed: failed.slice(0, LineageLimits.MAX_FAILED_CHECKS).map((c) => ({
      name: c.name, ...(c.column !== undefined ? { column: c.column } : {}), reason: String(c.reason).slice(0, LineageLimits.MAX_TEXT),
    })),
  };
}

function entries(field: string, value: unknown, valid: (v: unknown) => boolean, expected: string, problems: string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${field} must be an object of name → value`);
    return {};
  }
  const list = Object.entries(value);
  if (list.length > LineageLimits.MAX_ENTRIES) problems.push(`${field} has ${list.length} entries; at most ${LineageLimits.MAX_ENTRIES} are recorded (keep the rest beside the artifacts)`);
  for (const [k, v] of list.slice(0, LineageLimits.MAX_ENTRIES)) {
    if (k.length > LineageLimits.MAX_TEXT) problems.push(`${field}: a name is longer than ${LineageLimits.MAX_TEXT} characters`);
    else if (!valid(v)) problems.push(`${field}.${k} is ${typeof v === 'string' ? `a string of ${v.length} characters` : String(v)}; expected ${expected}`);
  }
  return Object.fromEntries(list);
}
