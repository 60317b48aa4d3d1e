/**
 * Bounds of a prediction request body (`POST /predict/{model}`), enforced by API Gateway's request validation (the
 * schema `InferenceGateway` generates). Pure: no CDK imports, so the gateway's runtime can apply the same bounds.
 */
export const PREDICT_REQUEST_LIMITS = {
  /**
   * Characters of a string join-key value. The online key holds every join-key value URI-encoded (up to 9 bytes a
   * character), and DynamoDB caps a partition key at 2,048 bytes.
   */
  MAX_JOIN_KEY_LENGTH: 128,
  /** Characters of `userId` (hashed for variant assignment and logged with the prediction). */
  MAX_USER_ID_LENGTH: 256,
  /** Integer join-key values must be safe integers (the stores key on their decimal text). */
  MAX_SAFE_INTEGER: Number.MAX_SAFE_INTEGER,
} as const;
