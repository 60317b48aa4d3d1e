/**
 * The feature definition as plain JSON data: what `FeatureView.toSpec()` produces and what the Lambda handlers,
 * the inference path and training code load. This module imports nothing from CDK.
 */

/** Version of the JSON spec format itself (not of a feature view). */
export const FEATURE_SPEC_FORMAT_VERSION = 1;

/** Data type of a feature value. */
export enum FeatureDtype {
  /** 64-bit integer; JSON numbers within ±2^53 (`Number.isSafeInteger`). */
  INT64 = 'int64',
  /** 64-bit float; finite JSON numbers. */
  FLOAT64 = 'float64',
  /** Fixed-dimension vector of 32-bit floats (embeddings); JSON arrays of finite numbers. */
  FLOAT32_VECTOR = 'float32_vector',
  /** UTF-8 string. */
  STRING = 'string',
  /** Boolean. */
  BOOL = 'bool',
}

/** One feature of a view, as JSON. */
export interface FeatureSpec {
  /** Feature name: lower snake case, unique within the view. */
  readonly name: string;
  /** Data type. */
  readonly dtype: FeatureDtype;
  /**
   * Vector dimension, required for `FLOAT32_VECTOR` and forbidden otherwise.
   * @default - not a vector
   */
  readonly dimension?: number;
  /**
   * Value served with status `FALLBACK` when the value is missing or older than the view's TTL.
   * @default - no fallback: such values are served as `NOT_FOUND` / `OUTSIDE_MAX_AGE` with a null value
   */
  readonly fallback?: any;
  /**
   * Human description.
   * @default - none
   */
  readonly description?: string;
}

/** An entity (the thing features describe) as JSON. */
export interface EntitySpec {
  /** Entity name, e.g. `customer`. */
  readonly name: string;
  /** Join key columns, e.g. `['customer_id']`. Values are strings or integers, normalized to strings. */
  readonly joinKeys: string[];
  /**
   * Human description.
   * @default - none
   */
  readonly description?: string;
}

/** A feature view as JSON: the single source of truth shared by constructs, handlers and training code. */
export interface FeatureViewSpec {
  /** Format version of this JSON document (`FEATURE_SPEC_FORMAT_VERSION`). */
  readonly specFormat: number;
  /** View name: lower snake case. */
  readonly name: string;
  /** Schema version of the view: a positive integer, bumped for breaking changes. */
  readonly version: number;
  /** Entities whose join keys identify a row. */
  readonly entities: EntitySpec[];
  /** Record field that carries the event time (ISO-8601 string or epoch milliseconds). */
  readonly eventTimeField: string;
  /** Features of the view. */
  readonly features: FeatureSpec[];
  /** Maximum age, in seconds, a value may have and still be served as `PRESENT`. */
  readonly ttlSeconds: number;
  /** Freshness objective, in seconds: how far behind the stream materialization may fall. */
  readonly freshnessSeconds: number;
  /**
   * Owning team.
   * @default - none
   */
  readonly owner?: string;
  /**
   * Human description.
   * @default - none
   */
  readonly description?: string;
  /**
   * Free-form tags.
   * @default - none
   */
  readonly tags?: Record<string, string>;
}
