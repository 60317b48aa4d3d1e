/**
 * The prediction request body (`POST /predict/{model}`): its bounds and its validation, defined once. The
 * InferenceGateway construct builds API Gateway's request schema from `PREDICT_REQUEST_LIMITS`; the gateway's runtime
 * applies the same bounds with `parsePredictRequest`, so that a direct, local or misconfigured invocation is refused
 * the same way (400) instead of reaching the stores. Pure: no AWS SDK, no CDK.
 */
import { RequestSourceSpec, requestValueProblem, textProblem } from '../../lib/features/spec';

/** Bounds of a prediction request body. Integer join-key values must be safe integers (the stores key on their text). */
export const PREDICT_REQUEST_LIMITS = {
  /**
   * Characters (code points, as JSON Schema counts them) of a string join-key value. The online key holds every
   * join-key value URI-encoded (up to 12 bytes a character), and DynamoDB caps a partition key at 2,048 bytes.
   */
  MAX_JOIN_KEY_LENGTH: 128,
  /** Characters of `userId` (hashed for variant assignment and logged with the prediction). */
  MAX_USER_ID_LENGTH: 256,
} as const;

/** The fields of a prediction request body. */
export const PredictRequestFields = {
  /** The entity's join keys (present when the model reads stored features). */
  ENTITY: 'entity',
  /** Request-time features (present when the gateway declares a request source). */
  REQUEST: 'request',
  /** Stable id for variant assignment. */
  USER_ID: 'userId',
} as const;

/** What a valid body holds for one model: its join keys and its request-time features. */
export interface PredictRequestShape {
  /** Join keys of the stored features' entities; none when the model reads no stored feature. */
  readonly joinKeys: readonly string[];
  /** @default - no request-time features */
  readonly requestSource?: RequestSourceSpec;
}

/** A valid prediction request. */
export interface PredictRequest {
  /** Join keys of the entity to score, e.g. `{ "customer_id": "c-1" }`: exactly the model's join keys ({} when none). */
  readonly entity: Record<string, string | number>;
  /** Request-time features by name, as validated against the request source ({} when none). */
  readonly request: Record<string, unknown>;
  /** Stable id for variant assignment (a user id, never a request id). */
  readonly userId?: string;
}

/**
 * Validates a parsed JSON body against the model's shape: an object with `entity` (exactly the join keys, each a
 * well-formed string of 1–`MAX_JOIN_KEY_LENGTH` characters or a safe integer; absent when there are none), `request`
 * (the request source's features, each of its type and within the model input's float32 range; those without a
 * fallback required; absent when there is no source) and an optional `userId` (a well-formed string of
 * 1–`MAX_USER_ID_LENGTH` characters), nothing else. Returns the request, or every problem found, each naming the
 * field and the fix (never echoing more than a short description of a value). Linear in the body's size.
 */
export function parsePredictRequest(body: unknown, shape: PredictRequestShape): PredictRequest | { problems: string[] } {
  const { joinKeys, requestSource } = shape;
  const { ENTITY, REQUEST, USER_ID } = PredictRequestFields;
  const allowed: string[] = [...(joinKeys.length > 0 ? [ENTITY] : []), ...(requestSource ? [REQUEST] : []), USER_ID];
  const example = describeShape(shape);
  if (!isObject(body)) return { problems: [`body must be a JSON object ${example}`] };
  const problems: string[] = [];
  if (Object.keys(body).some((k) => !allowed.includes(k))) problems.push(`body has fields other than ${quotedList(allowed)}; send ${example}`);
  const entity = joinKeys.length > 0 ? entityOf(body[ENTITY], joinKeys, problems) : {};
  const request = requestSource ? requestOf(body[REQUEST], requestSource, problems) : {};
  const userId = body[USER_ID];
  if (userId !== undefined) {
    const problem = typeof userId === 'string' ? stringProblem(userId, PREDICT_REQUEST_LIMITS.MAX_USER_ID_LENGTH) : 'must be a non-empty string when given';
    if (problem) problems.push(`"${USER_ID}" ${problem}`);
  }
  return problems.length > 0 ? { problems } : { entity, request, userId: userId as string | undefined };
}

function entityOf(entity: unknown, joinKeys: readonly string[], problems: string[]): Record<string, string | number> {
  if (!isObject(entity)) {
    problems.push(`"${PredictRequestFields.ENTITY}" must be an object with the join keys ${joinKeys.join(', ')}`);
    return {};
  }
  if (Object.keys(entity).some((k) => !joinKeys.includes(k))) problems.push(`"entity" has fields other than the join keys ${joinKeys.join(', ')}; remove them`);
  for (const key of joinKeys) {
    const value = Object.hasOwn(entity, key) ? entity[key] : undefined;
    if (typeof value === 'string') {
      const problem = stringProblem(value, PREDICT_REQUEST_LIMITS.MAX_JOIN_KEY_LENGTH);
      if (problem) problems.push(`entity.${key} ${problem}`);
    } else if (!Number.isSafeInteger(value)) {
      problems.push(`entity.${key} must be a non-empty string or an integer (at most 2^53 − 1 in magnitude)`);
    }
  }
  return entity as Record<string, string | number>;
}

function requestOf(request: unknown, source: RequestSourceSpec, problems: string[]): Record<string, unknown> {
  const required = source.features.filter((f) => f.fallback === undefined).map((f) => f.name);
  if (request === undefined && required.length === 0) return {};
  if (!isObject(request)) {
    problems.push(`"${PredictRequestFields.REQUEST}" must be an object with the request-time features ${source.features.map((f) => f.name).join(', ')}`);
    return {};
  }
  const names = source.features.map((f) => f.name);
  if (Object.keys(request).some((k) => !names.includes(k))) problems.push(`"request" has fields other than ${names.join(', ')}; remove them`);
  for (const feature of source.features) {
    // Own properties only: a feature named like an Object.prototype member ('constructor') is not "sent" by default.
    const value = Object.hasOwn(request, feature.name) ? request[feature.name] : undefined;
    if (value === undefined) {
      if (feature.fallback === undefined) problems.push(`request.${feature.name} is required (${feature.dtype})`);
      continue;
    }
    const problem = requestValueProblem(feature, value);
    if (problem) problems.push(`request.${feature.name}: ${problem}`);
  }
  return request;
}

/** `"a", "b" and "c"`. */
function quotedList(names: readonly string[]): string {
  const quoted = names.map((n) => `"${n}"`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}` : quoted.join('');
}

/** An example body of this shape, for error messages. */
function describeShape({ joinKeys, requestSource }: PredictRequestShape): string {
  const parts = [
    ...(joinKeys.length > 0 ? [`"entity": {${joinKeys.map((k) => `"${k}": …`).join(', ')}}`] : []),
    ...(requestSource ? [`"request": {${requestSource.features.map((f) => `"${f.name}": …`).join(', ')}}`] : []),
    '"userId": "<stable id>"',
  ];
  return `{${parts.join(', ')}}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why a string is not a bounded, non-empty, well-formed text of at most `max` characters, or undefined. */
function stringProblem(value: string, max: number): string | undefined {
  if (value.length === 0) return 'must be a non-empty string';
  const text = textProblem(value);
  if (text) return text;
  const length = codePoints(value);
  return length > max ? `is ${length} characters long; at most ${max}` : undefined;
}

/** Characters of well-formed text (code points: a surrogate pair is one), without copying it. */
function codePoints(value: string): number {
  let pairs = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) pairs++;
  }
  return value.length - pairs;
}
