import { describeValue } from './values';

/**
 * The window of event times the feature store accepts, shared by the constructs (the offline tables' partition
 * projection) and the runtime (the record validator every ingestion path runs):
 *
 *   earliest event date 00:00 UTC  <=  event time  <=  now + maxFutureSkewMs  (maxFutureSkewMs <= MAX_FUTURE_SKEW_LIMIT_MS)
 *
 * The earliest event date is the first date of the offline tables' partition projection (`FeatureStore`'s
 * `earliestEventDate`, carried to the materializer in its environment: runtime/contracts/materializer.ts):
 * Athena never reads a partition before it, so a row outside the window would be stored but never be read. It is
 * either a fixed date (`yyyy-mm-dd`, by default `DEFAULT_EARLIEST_EVENT_DATE`) or `NOW-<n>DAYS` (the store's default when its
 * offline history expires after n days): then events dated before today − n days (UTC) are refused, since the
 * projection never shows them and the lifecycle deletes the history at that age anyway. The window also catches
 * epoch seconds sent where milliseconds are expected (1767225600 is 2026-01-01 in seconds, but 1970-01-21 in
 * milliseconds): no earliest date before `MIN_EARLIEST_EVENT_DATE` is accepted.
 */

/** First event date (UTC, `yyyy-mm-dd`) of the offline partition projection by default, and the earliest event date accepted by default. */
export const DEFAULT_EARLIEST_EVENT_DATE = '2020-01-01';

/** `DEFAULT_EARLIEST_EVENT_DATE` at 00:00 UTC, epoch milliseconds. */
export const EARLIEST_EVENT_TIME_MS = Date.parse(`${DEFAULT_EARLIEST_EVENT_DATE}T00:00:00Z`);

/**
 * Earliest projection start accepted: epoch seconds of any date up to the year 2286 read as milliseconds fall before
 * it (so they are refused with the seconds hint), and the Parquet timestamps of every accepted row are positive.
 */
export const MIN_EARLIEST_EVENT_DATE = '1971-01-01';

const DAY_MS = 86_400_000;
const FIXED_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const RELATIVE_DATE = /^NOW-([1-9]\d{0,5})DAYS$/;

/**
 * Why a projection start is unusable, or undefined when it is a date (`yyyy-mm-dd`, from `MIN_EARLIEST_EVENT_DATE`
 * on) or `NOW-<n>DAYS` (n from 1 to 999999).
 */
export function earliestEventDateProblem(value: string): string | undefined {
  if (RELATIVE_DATE.test(value)) return undefined;
  const ms = FIXED_DATE.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    return `'${value.slice(0, 64)}' is not a date; use 'yyyy-mm-dd', e.g. '2024-01-31' (or NOW-<n>DAYS)`;
  }
  return value < MIN_EARLIEST_EVENT_DATE
    ? `'${value}' is before ${MIN_EARLIEST_EVENT_DATE}; event times in epoch seconds would then pass as 1970 milliseconds (use ${MIN_EARLIEST_EVENT_DATE} or later)`
    : undefined;
}

/**
 * The first accepted event time, epoch milliseconds: 00:00 UTC of the date, or for `NOW-<n>DAYS` of the UTC date n
 * days before `nowMs` (the first partition Athena's projection shows). Throws on a value `earliestEventDateProblem`
 * refuses.
 */
export function earliestEventTimeMs(earliestEventDate: string, nowMs: number): number {
  const problem = earliestEventDateProblem(earliestEventDate);
  if (problem) throw new Error(`earliestEventDate: ${problem}`);
  const relative = RELATIVE_DATE.exec(earliestEventDate);
  if (!relative) return Date.parse(`${earliestEventDate}T00:00:00Z`);
  const then = nowMs - Number(relative[1]) * DAY_MS;
  return then - (((then % DAY_MS) + DAY_MS) % DAY_MS);
}

/** How far in the future an event time may lie by default (producer clock skew), milliseconds. */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 300_000;

/** Days past today the offline partition projection covers (`NOW+<n>DAYS`): no future skew may reach beyond it. */
export const PROJECTION_FUTURE_DAYS = 1;

/** Largest future skew allowed, milliseconds: the projection's `PROJECTION_FUTURE_DAYS`. */
export const MAX_FUTURE_SKEW_LIMIT_MS = PROJECTION_FUTURE_DAYS * 86_400_000;

/** Largest magnitude a JavaScript Date holds, milliseconds (±100,000,000 days). */
const MAX_DATE_MS = 8.64e15;
/** 0000-01-01 and 9999-12-31T23:59:59.999Z: the times whose ISO text starts with a four-digit year. */
const MIN_FOUR_DIGIT_YEAR_MS = Date.parse('0000-01-01T00:00:00Z');
const MAX_FOUR_DIGIT_YEAR_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** ISO-8601 text of an epoch-millisecond time, or the raw number where no Date can hold it (never throws). */
export function formatEpochMs(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms since the epoch`;
}

/** UTC date (`yyyy-mm-dd`) of an epoch-millisecond time, or `unknown-date` where it has none in four-digit years (never throws). */
export function formatEpochDate(ms: number): string {
  return Number.isFinite(ms) && ms >= MIN_FOUR_DIGIT_YEAR_MS && ms <= MAX_FOUR_DIGIT_YEAR_MS ? new Date(ms).toISOString().slice(0, 10) : 'unknown-date';
}

/** Parses an event time given as ISO-8601 with a zone, or as non-negative epoch milliseconds. Returns NaN when invalid. */
export function parseEventTime(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : NaN;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/.test(value)) return Date.parse(value);
  return NaN;
}

/**
 * Why an event time is outside the accepted window, naming the field and the fix; undefined when it is inside.
 * `raw` is the value as received (for the message and the seconds/microseconds hints), `eventTimeMs` its parse;
 * `earliestEventDate` is the projection start (see the module documentation; must be valid).
 */
export function eventTimeProblem(
  field: string, raw: unknown, eventTimeMs: number, nowMs: number, maxFutureSkewMs: number, earliestEventDate: string = DEFAULT_EARLIEST_EVENT_DATE,
): string | undefined {
  const earliestMs = earliestEventTimeMs(earliestEventDate, nowMs);
  const latestMs = nowMs + maxFutureSkewMs;
  const inWindow = (ms: number) => ms >= earliestMs && ms <= latestMs;
  if (Number.isNaN(eventTimeMs)) {
    return `${field}: event time must be ISO-8601 with a zone (e.g. '2026-01-01T12:00:00Z') or epoch milliseconds, got ${describeValue(raw)}`;
  }
  if (eventTimeMs < earliestMs) {
    const unit = epochUnitProblem(field, raw, eventTimeMs, inWindow);
    if (unit) return unit;
    const first = formatEpochDate(earliestMs);
    const start = earliestEventDate === first ? first : `${first} (${earliestEventDate}: the offline history is kept for that long)`;
    return `${field}: event time ${formatEpochMs(eventTimeMs)} is before ${start}, the first date of the offline tables' partition projection (it would never be read); send event times from ${first} on, in epoch milliseconds or ISO-8601, or start the projection earlier (FeatureStore earliestEventDate)`;
  }
  if (eventTimeMs > latestMs) {
    return epochUnitProblem(field, raw, eventTimeMs, inWindow) ?? `${field}: event time ${formatEpochMs(eventTimeMs)} is more than ${maxFutureSkewMs} ms in the future; check the producer's clock`;
  }
  return undefined;
}

/**
 * Why an epoch-number time outside the accepted window (`inWindow`) looks sent in the wrong unit: epoch seconds (too
 * early as milliseconds, in the window times 1000) or epoch microseconds (too late, in the window divided by 1000);
 * undefined when `raw` is not a number or neither reading fits. Never throws.
 */
export function epochUnitProblem(field: string, raw: unknown, eventTimeMs: number, inWindow: (ms: number) => boolean): string | undefined {
  if (typeof raw !== 'number' || inWindow(eventTimeMs)) return undefined;
  if (inWindow(raw * 1000)) {
    return `${field}: ${raw} looks like epoch seconds (as milliseconds it is ${formatEpochMs(raw)}); send epoch milliseconds (${raw * 1000}) or ISO-8601`;
  }
  if (inWindow(Math.trunc(raw / 1000))) {
    return `${field}: ${raw} looks like epoch microseconds (as milliseconds it is ${formatEpochMs(raw)}); send epoch milliseconds (${Math.trunc(raw / 1000)}) or ISO-8601`;
  }
  return undefined;
}

/** Why a future-skew allowance is unusable (not a number of ms from 0 to `MAX_FUTURE_SKEW_LIMIT_MS`); undefined when fine. */
export function maxFutureSkewProblem(maxFutureSkewMs: number): string | undefined {
  return Number.isFinite(maxFutureSkewMs) && maxFutureSkewMs >= 0 && maxFutureSkewMs <= MAX_FUTURE_SKEW_LIMIT_MS ? undefined
    : `must be a number of milliseconds from 0 to ${MAX_FUTURE_SKEW_LIMIT_MS} (the offline partition projection ends ${PROJECTION_FUTURE_DAYS} day past today)`;
}
