import { FeatureSpec, FeatureViewSpec } from './types';

/**
 * What a reader is served for one feature value — the same rule online (DynamoDB) and offline (point-in-time
 * training data), so that training sees exactly what serving would have seen.
 */
export enum FeatureStatus {
  /** A stored value within the view's TTL. */
  PRESENT = 'PRESENT',
  /** No value stored (no row for the entity, or the row carries null) and no fallback declared. */
  NOT_FOUND = 'NOT_FOUND',
  /** A value exists but is older than the view's TTL, and no fallback is declared; the value is withheld. */
  OUTSIDE_MAX_AGE = 'OUTSIDE_MAX_AGE',
  /** The feature's declared fallback, served because the value was missing or too old. */
  FALLBACK = 'FALLBACK',
}

/** A served value and why it is what it is. `value` is null unless PRESENT or FALLBACK. */
export interface ServedValue {
  readonly value: any;
  readonly status: FeatureStatus;
  /** Event time of the stored value, when one was stored. */
  readonly eventTimeMs?: number;
}

/**
 * Decides what to serve for one feature. `stored` is the stored value (undefined when no row exists, null when the
 * row has no value); `ageMs` is how old the row's event time is at the read (or point-in-time) instant.
 * Never a silent zero: a missing value is either the declared fallback (marked FALLBACK) or null with a status.
 */
export function serveValue(view: Pick<FeatureViewSpec, 'ttlSeconds'>, feature: FeatureSpec, stored: unknown, ageMs?: number, eventTimeMs?: number): ServedValue {
  const hasFallback = feature.fallback !== undefined && feature.fallback !== null;
  const expired = ageMs !== undefined && ageMs > view.ttlSeconds * 1000;
  if (stored !== undefined && stored !== null && !expired) return { value: stored, status: FeatureStatus.PRESENT, eventTimeMs };
  if (hasFallback) return { value: feature.fallback, status: FeatureStatus.FALLBACK, eventTimeMs };
  const status = stored !== undefined && stored !== null && expired ? FeatureStatus.OUTSIDE_MAX_AGE : FeatureStatus.NOT_FOUND;
  return { value: null, status, eventTimeMs };
}
