/**
 * The reason codes the inference gateway returns to callers: the `code` of every error body and the `fallbackReason`
 * of every fallback answer. Stable, documented, and free of internals: what went wrong in detail (a table name, an
 * ARN, an SDK message) is logged by the gateway, never returned. Pure: shared by the gateway and whatever documents
 * or alarms on its answers.
 */
export const GatewayCode = {
  /** 400: the body is not a prediction request (not JSON, a join key missing or malformed, text not well-formed). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** 404: the path names a model this gateway does not serve. */
  UNKNOWN_MODEL: 'UNKNOWN_MODEL',
  /** 429: the gateway shed the caller's tier before any feature read or model call (the model is saturated). */
  SHED: 'SHED',
  /** 429 for lower tiers, a fallback for the top tier: the model refused the call (its queue is full). */
  MODEL_OVERLOADED: 'MODEL_OVERLOADED',
  /** Fallback: the online feature store could not be read in time. */
  FEATURES_UNAVAILABLE: 'FEATURES_UNAVAILABLE',
  /** Fallback: features the model needs have no value (`featureStatuses` says which and why). */
  FEATURES_MISSING: 'FEATURES_MISSING',
  /** Fallback: the deadline was spent before the model could be called. */
  DEADLINE_SPENT: 'DEADLINE_SPENT',
  /** Fallback: the circuit breaker is open after repeated model failures; the model was not called. */
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  /** Fallback: the model did not answer within the deadline. */
  MODEL_TIMEOUT: 'MODEL_TIMEOUT',
  /** Fallback: the model call failed (unreachable, an error, an unreadable answer). */
  MODEL_ERROR: 'MODEL_ERROR',
  /** 500: an unexpected error in the gateway itself. */
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

/** One of the gateway's reason codes. */
export type GatewayCode = (typeof GatewayCode)[keyof typeof GatewayCode];
