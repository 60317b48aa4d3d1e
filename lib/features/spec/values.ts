import { FeatureDtype, FeatureSpec } from './types';

/** DynamoDB numbers hold magnitudes in [1e-130, 1e126): a float64 outside it could be stored offline but not online. */
const ONLINE_NUMBER_MIN = 1e-130;
const ONLINE_NUMBER_MAX = 1e126;

/** Returns why `value` is not a valid value of `feature`, or undefined when it is. Null is handled by the caller. */
export function valueProblem(feature: FeatureSpec, value: unknown): string | undefined {
  switch (feature.dtype) {
    case FeatureDtype.INT64:
      return Number.isSafeInteger(value) ? undefined : `expected an int64 (an integer within ±2^53), got ${describeValue(value)}`;
    case FeatureDtype.FLOAT64:
      if (typeof value !== 'number' || !Number.isFinite(value)) return `expected a finite float64, got ${describeValue(value)}`;
      return value === 0 || (Math.abs(value) >= ONLINE_NUMBER_MIN && Math.abs(value) < ONLINE_NUMBER_MAX)
        ? undefined
        : `${value} is outside the range the online store holds (0, or 1e-130 ≤ |x| < 1e126); rescale the feature`;
    case FeatureDtype.STRING:
      return typeof value === 'string' ? textProblem(value) : `expected a string, got ${describeValue(value)}`;
    case FeatureDtype.BOOL:
      return typeof value === 'boolean' ? undefined : `expected a bool, got ${describeValue(value)}`;
    case FeatureDtype.FLOAT32_VECTOR: {
      if (!Array.isArray(value)) return `expected an array of ${feature.dimension} float32 values, got ${describeValue(value)}`;
      if (value.length !== feature.dimension) return `expected ${feature.dimension} values, got ${value.length}`;
      // A finite float64 that rounds to ±Infinity as a float32 is out of range; 3.4028235e38 (float32's max as numpy
      // prints it) rounds to the max and fits.
      const bad = value.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v) || !Number.isFinite(Math.fround(v)));
      return bad < 0 ? undefined : `element ${bad} is ${describeValue(value[bad])}, expected a finite float32`;
    }
    default:
      return `unknown dtype '${String(feature.dtype)}'`;
  }
}

/** A lone UTF-16 surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a string is not well-formed Unicode (a lone UTF-16 surrogate, which no UTF-8 store can hold and
 * `encodeURIComponent` refuses), or undefined when it is.
 */
export function textProblem(value: string): string | undefined {
  const at = value.search(LONE_SURROGATE);
  return at < 0 ? undefined : `contains a lone UTF-16 surrogate at index ${at} (not valid Unicode); send well-formed text`;
}

/**
 * A short, safe description of any value for an error message: never recursive, never longer than about 60
 * characters, whatever the value's depth or size (strings are cut at 40 characters).
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
