import { describeValue } from './values';

/**
 * The window of event times the feature store accepts, shared by the constructs (the offline tables' partition
 * projection) and the runtime (the record validator every ingestion path runs):
 *
 *   EARLIEST_EVENT_DATE 00:00 UTC  <=  event time  <=  now + maxFutureSkewMs  (maxFutureSkewMs <= MAX_FUTURE_SKEW_LIMIT_MS)
 *
 * The lower bound is the first date of the offline tables' partition projection (Athena never reads a partition
 * before it), so a row outside the window would be stored but never be read; it also catches epoch seconds sent
 * where milliseconds are expected (1767225600 is 2026-01-01 in seconds, but 1970-01-21 in milliseconds).
 */

/** First event date (UTC, `yyyy-mm-dd`) of the offline partition projection by default, and the earliest event date accepted. */
export const EARLIEST_EVENT_DATE = '2020-01-01';

/** `EARLIEST_EVENT_DATE` at 00:00 UTC, epoch milliseconds. */
export const EARLIEST_EVENT_TIME_MS = Date.parse(`${EARLIEST_EVENT_DATE}T00:00:00Z`);

/** How far in the future an event time may lie by default (producer clock skew), milliseconds. */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 300_000;

/** Days past today the offline partition projection covers (`NOW+<n>DAYS`): no future skew may reach beyond it. */
export const PROJECTION_FUTURE_DAYS = 1;

/** Largest future skew allowed, milliseconds: the projection's `PROJECTION_FUTURE_DAYS`. */
export const MAX_FUTURE_SKEW_LIMIT_MS = PROJECTION_FUTURE_DAYS * 86_400_000;

/** Largest magnitude a JavaScript Date holds, milliseconds (±100,000,000 days). */
const MAX_DATE_MS = 8.64e15;

/** ISO-8601 text of an epoch-millisecond time, or the raw number where no Date can hold it (never throws). */
export function formatEpochMs(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms since the epoch`;
}

/** Parses an event time given as ISO-8601 with a zone, or as non-negative epoch milliseconds. Returns NaN when invalid. */
export function parseEventTime(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : NaN;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/.test(value)) return Date.parse(value);
  return NaN;
}

/**
 * Why an event time is outside the accepted window, naming the field and the fix; undefined when it is inside.
 * `raw` is the value as received (for the message and the seconds/microseconds hints), `eventTimeMs` its parse.
 */
export function eventTimeProblem(field: string, raw: unknown, eventTimeMs: number, nowMs: number, maxFutureSkewMs: number): string | undefined {
  const latestMs = nowMs + maxFutureSkewMs;
  const inWindow = (ms: number) => ms >= EARLIEST_EVENT_TIME_MS && ms <= latestMs;
  if (Number.isNaN(eventTimeMs)) {
    return `${field}: event time must be ISO-8601 with a zone (e.g. '2026-01-01T12:00:00Z') or epoch milliseconds, got ${describeValue(raw)}`;
  }
  if (eventTimeMs < EARLIEST_EVENT_TIME_MS) {
    if (typeof raw === 'number' && inWindow(raw * 1000)) {
      return `${field}: ${raw} looks like epoch seconds (as milliseconds it is ${formatEpochMs(raw)}); send epoch milliseconds (${raw * 1000}) or ISO-8601`;
    }
    return `${field}: event time ${formatEpochMs(eventTimeMs)} is before ${EARLIEST_EVENT_DATE}, the first date of the offline tables' partition projection (it would never be read); send event times from ${EARLIEST_EVENT_DATE} on, in epoch milliseconds or ISO-8601`;
  }
  if (eventTimeMs > latestMs) {
    if (typeof raw === 'number' && inWindow(Math.trunc(raw / 1000))) {
      return `${field}: ${raw} looks like epoch microseconds (as milliseconds it is ${formatEpochMs(raw)}); send epoch milliseconds (${Math.trunc(raw / 1000)}) or ISO-8601`;
    }
    return `${field}: event time ${formatEpochMs(eventTimeMs)} is more than ${maxFutureSkewMs} ms in the future; check the producer's clock`;
  }
  return undefined;
}

/** Why a future-skew allowance is unusable (not a number of ms from 0 to `MAX_FUTURE_SKEW_LIMIT_MS`); undefined when fine. */
export function maxFutureSkewProblem(maxFutureSkewMs: number): string | undefined {
  return Number.isFinite(maxFutureSkewMs) && maxFutureSkewMs >= 0 && maxFutureSkewMs <= MAX_FUTURE_SKEW_LIMIT_MS ? undefined
    : `must be a number of milliseconds from 0 to ${MAX_FUTURE_SKEW_LIMIT_MS} (the offline partition projection ends ${PROJECTION_FUTURE_DAYS} day past today)`;
}
