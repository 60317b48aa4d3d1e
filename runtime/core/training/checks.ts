import { describeValue } from '../../../lib/features/spec/values';

/**
 * What every training gate returns: a verdict and the list of checks it made, each with what was measured, the
 * threshold it was held to and a reason a person can act on. Pure TypeScript, JSON-serialisable.
 */

/** One check of a gate. */
export interface GateCheck {
  /** Stable name of the check (`row-count`, `null-rate`, `metric`, `latency-p99`, …): what callers branch on. */
  readonly name: string;
  /**
   * The column the check is about, for per-column checks.
   * @default - not a per-column check
   */
  readonly column?: string;
  readonly passed: boolean;
  /** What was measured (`null` when it could not be: a missing column, a metric not reported). */
  readonly observed: number | string | null;
  /** What it was held to (`null` when the check has no numeric threshold). */
  readonly threshold: number | string | null;
  /** Why it passed or failed, naming the numbers. */
  readonly reason: string;
}

/** The verdict of a gate: passed when every check passed. */
export interface GateResult {
  readonly passed: boolean;
  readonly checks: readonly GateCheck[];
}

/** Bad gate specification or input; `problems` lists every one, each naming the field and the fix. */
export class GateSpecError extends Error {
  constructor(readonly gate: string, readonly problems: readonly string[]) {
    super(`Invalid ${gate}: ${problems.join('; ')}`);
    this.name = 'GateSpecError';
  }
}

/** The result of a list of checks. */
export function gateResult(checks: readonly GateCheck[]): GateResult {
  return { passed: checks.every((c) => c.passed), checks };
}

/** A number for a reason: at most 6 significant digits (0.0050000000000000044 → 0.005). */
export function formatNumber(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(6))) : String(x);
}

/** A share as a percentage for a reason (0.0625 → "6.25 %"). */
export function formatShare(x: number): string {
  return `${formatNumber(x * 100)} %`;
}

/**
 * A value of untrusted input (an evaluation report's metric or measurement) for a reason: a primitive as `String`
 * gives it (a string cut at 40 characters), an object or array described by `describeValue`, never serialized: it
 * may nest without end, and a reason ends up in the step's result, which Step Functions caps at 256 KB.
 */
export function shownValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return value !== null && typeof value === 'object' ? describeValue(value) : String(value);
}

/** A problem when `value` is set and is not a finite number within [min, max]. */
export function rangeProblem(field: string, value: unknown, min: number, max: number, fix: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    return `${field} is ${describeValue(value)}; expected a finite number in [${min}, ${max}] (${fix})`;
  }
  return undefined;
}

/** The problems among `items` (the undefined ones dropped). */
export function problemsOf(...items: readonly (string | undefined)[]): string[] {
  return items.filter((x): x is string => x !== undefined);
}
