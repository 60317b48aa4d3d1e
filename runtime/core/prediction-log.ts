/**
 * The one prediction-log format: JSON lines, one record per prediction, written by the inference gateway and the
 * inference server, read by drift detection and rollouts. Pure TypeScript; sinks live with their transports.
 */

/** Version of the prediction-log record format (the `schema` field). */
export const PREDICTION_LOG_SCHEMA = 1;

/** One logged prediction. */
export interface PredictionLogRecord {
  /** Format version: `PREDICTION_LOG_SCHEMA`. */
  readonly schema: number;
  /** When the prediction was answered, ISO-8601 UTC. */
  readonly ts: string;
  /** Request id (the caller's, or the server's when the caller sent none). */
  readonly requestId: string;
  /** Model name. */
  readonly model: string;
  /** Model version. */
  readonly modelVersion: string;
  /** Variant that answered (champion, challenger, shadow), when there are several. */
  readonly variant?: string;
  /** Entity join keys of the request (gateway), e.g. `{ customer_id: 'c-1' }`: how late labels find their prediction. */
  readonly entity?: Readonly<Record<string, unknown>>;
  /** Named feature values the prediction was made from (gateway). */
  readonly features?: Record<string, unknown>;
  /** Raw model inputs by input name (server), as plain arrays. */
  readonly inputs?: Record<string, unknown>;
  /** Model outputs by output name, as plain arrays. */
  readonly outputs: Record<string, unknown>;
  /** Time to answer, milliseconds. */
  readonly latencyMs: number;
  /** True when the answer is a configured fallback rather than the model's. */
  readonly fallback: boolean;
  /** Priority tier of the caller. */
  readonly tier?: string;
  /**
   * True for a shadow's answer (gateway): the same request's inputs sent to the shadow variant (`variant`), logged
   * beside the answer served (same `requestId` and features), never returned to the caller.
   * @default - absent: the answer the caller got
   */
  readonly shadow?: boolean;
}

/** Where prediction-log lines go. Implementations must not block the request path: `write` only enqueues. */
export interface PredictionLogSink {
  /** Accepts one record; returns false when it was dropped (buffer full). */
  write(record: PredictionLogRecord): boolean;
  /** Flushes what is buffered and releases resources. */
  close(): Promise<void>;
}

/** Encodes a record as one JSON line (with the trailing newline). */
export function toJsonLine(record: PredictionLogRecord): string {
  return JSON.stringify(record) + '\n';
}

/** Parses JSON lines back into records, refusing lines of an unknown schema. */
export function parseJsonLines(text: string): PredictionLogRecord[] {
  return text.split('\n').filter((l) => l.trim().length > 0).map((line, i) => {
    const record = JSON.parse(line) as PredictionLogRecord;
    if (record.schema !== PREDICTION_LOG_SCHEMA) {
      throw new Error(`prediction log line ${i + 1}: schema ${record.schema} is not ${PREDICTION_LOG_SCHEMA}`);
    }
    return record;
  });
}
