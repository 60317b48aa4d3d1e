/**
 * The prediction request body (`POST /predict/{model}`): its bounds and its validation, defined once. The
 * InferenceGateway construct builds API Gateway's request schema from `PREDICT_REQUEST_LIMITS`; the gateway's runtime
 * applies the same bounds with `parsePredictRequest`, so that a direct, local or misconfigured invocation is refused
 * the same way (400) instead of reaching the stores. Pure: no AWS SDK, no CDK.
 */
import { textProblem } from '../../lib/features/spec';

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

/** A valid prediction request. */
export interface PredictRequest {
  /** Join keys of the entity to score, e.g. `{ "customer_id": "c-1" }`: exactly the model's join keys. */
  readonly entity: Record<string, string | number>;
  /** Stable id for variant assignment (a user id, never a request id). */
  readonly userId?: string;
}

/**
 * Validates a parsed JSON body against the model's `joinKeys`: an object with `entity` (exactly those join keys,
 * each a well-formed string of 1–`MAX_JOIN_KEY_LENGTH` characters or a safe integer) and an optional `userId` (a
 * well-formed string of 1–`MAX_USER_ID_LENGTH` characters), nothing else. Returns the request, or every problem
 * found, each naming the field and the fix (never echoing the value). Linear in the body's size.
 */
export function parsePredictRequest(body: unknown, joinKeys: readonly string[]): PredictRequest | { problems: string[] } {
  const shape = `{"entity": {${joinKeys.map((k) => `"${k}": …`).join(', ')}}, "userId": "<stable id>"}`;
  if (!isObject(body)) return { problems: [`body must be a JSON object ${shape}`] };
  const problems: string[] = [];
  if (Object.keys(body).some((k) => k !== 'entity' && k !== 'userId')) problems.push(`body has fields other than "entity" and "userId"; send ${shape}`);
  const entity = body.entity;
  if (!isObject(entity)) return { problems: [...problems, `"entity" must be an object with the join keys ${joinKeys.join(', ')}`] };
  if (Object.keys(entity).some((k) => !joinKeys.includes(k))) problems.push(`"entity" has fields other than the join keys ${joinKeys.join(', ')}; remove them`);
  for (const key of joinKeys) {
    const value = entity[key];
    if (typeof value === 'string') {
      const problem = stringProblem(value, PREDICT_REQUEST_LIMITS.MAX_JOIN_KEY_LENGTH);
      if (problem) problems.push(`entity.${key} ${problem}`);
    } else if (!Number.isSafeInteger(value)) {
      problems.push(`entity.${key} must be a non-empty string or an integer (at most 2^53 − 1 in magnitude)`);
    }
  }
  const userId = body.userId;
  if (userId !== undefined) {
    const problem = typeof userId === 'string' ? stringProblem(userId, PREDICT_REQUEST_LIMITS.MAX_USER_ID_LENGTH) : 'must be a non-empty string when given';
    if (problem) problems.push(`"userId" ${problem}`);
  }
  return problems.length > 0 ? { problems } : { entity: entity as Record<string, string | number>, userId: userId as string | undefined };
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
