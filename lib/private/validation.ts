/**
 * Helpers every construct shares for prop validation and cdk-nag findings. Internal: not exported from lib/index.ts.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Lambda caps a function's environment (names and values) at 4 KB. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** Throws one error listing every problem of a construct's props (no-op when there are none). */
export function throwIfProblems(scope: IConstruct, problems: readonly string[]): void {
  if (problems.length > 0) {
    throw new Error(`${scope.node.path}: invalid props:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * A problem when a concrete number is not finite or lies outside `min`..`max`, worded `prop: value must be …`:
 * "between min and max" with both bounds, else "an integer >= min" / "a number >= min". None for an absent or
 * unresolved value.
 */
export function rangeProblems(prop: string, value: number | undefined, bounds: { min: number; max?: number; integer?: boolean }): string[] {
  if (value === undefined || Token.isUnresolved(value)) return [];
  const { min, max = Infinity, integer = false } = bounds;
  if (Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value))) return [];
  const kind = integer ? 'an integer' : 'a number';
  return [`${prop}: ${value} must be ${max === Infinity ? `${kind} >= ${min}` : `${integer ? `${kind} ` : ''}between ${min} and ${max}`}`];
}

/** A problem when a concrete percentage lies outside `min`..100. */
export function percentProblems(prop: string, value: number | undefined, min: number): string[] {
  return rangeProblems(prop, value, { min, max: 100 });
}

/**
 * A problem when a concrete Duration is not whole seconds from `min` to `max` (`why` names whose range it is, e.g.
 * "SageMaker's range"). None for an absent or unresolved Duration.
 */
export function wholeSecondsProblems(prop: string, duration: Duration | undefined, range: { min: Duration; max: Duration; why: string }): string[] {
  const seconds = concreteSeconds(duration);
  if (seconds === undefined) return [];
  const [min, max] = [range.min.toSeconds(), range.max.toSeconds()];
  return Number.isInteger(seconds) && seconds >= min && seconds <= max ? []
    : [`${prop}: ${duration!.toHumanString()} must be whole seconds between ${readable(min)} and ${readable(max)} (${range.why})`];
}

/** Whole hours as a human string ("1 hour", "7 days"), anything else in seconds ("60 seconds"). */
function readable(seconds: number): string {
  return seconds >= 3600 && seconds % 3600 === 0 ? Duration.seconds(seconds).toHumanString() : `${seconds} seconds`;
}

/** What a container or function environment prop accepts. */
export interface EnvironmentRules {
  /** Names the construct sets or covers itself, each with the fix a message names, e.g. 'use serverSettings.maxBatchSize'. */
  readonly taken: ReadonlyMap<string, string>;
  /** Longest value, in characters. */
  readonly maxValueLength: number;
}

/** Environment variable names POSIX shells and AWS services accept. */
const VARIABLE_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$/;

/** Problems of an environment given as a prop: names that are taken or invalid, values that are not strings or too long. */
export function environmentProblems(prop: string, environment: Record<string, string> | undefined, rules: EnvironmentRules): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(environment ?? {})) {
    const taken = rules.taken.get(name);
    if (taken !== undefined) problems.push(`${prop}.${name}: ${taken}`);
    else if (!VARIABLE_NAME.test(name)) problems.push(`${prop}: '${name}' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)`);
    if (typeof value !== 'string' || (!Token.isUnresolved(value) && value.length > rules.maxValueLength)) {
      problems.push(`${prop}.${name}: values must be strings of at most ${rules.maxValueLength} characters`);
    }
  }
  return problems;
}

/**
 * The longest evaluation window (period × evaluation periods) CloudWatch accepts for an alarm with periods of
 * `periodSeconds` (PutMetricAlarm): 7 days for periods of an hour or more, 1 day for shorter periods.
 */
export function maxAlarmWindowSeconds(periodSeconds: number): number {
  return periodSeconds >= 3600 ? 7 * 86_400 : 86_400;
}

/** Seconds of a concrete Duration; undefined for an absent or unresolved one (validation skips tokens). */
export function concreteSeconds(duration: Duration | undefined): number | undefined {
  return duration && !duration.isUnresolved() ? duration.toSeconds({ integral: false }) : undefined;
}

/** Days of a concrete Duration; undefined for an absent or unresolved one. */
export function concreteDays(duration: Duration | undefined): number | undefined {
  const seconds = concreteSeconds(duration);
  return seconds === undefined ? undefined : seconds / 86_400;
}

/** Whether a number is concrete and not an integer within [min, max]. Absent values and tokens pass (checked at deploy). */
export function integerOutOfRange(value: number | undefined, min: number, max: number): boolean {
  return value !== undefined && !Token.isUnresolved(value) && (!Number.isInteger(value) || value < min || value > max);
}

/**
 * Bytes a Lambda environment takes; an unresolved value counts as `unresolvedValueBytes(name)` (the longest it can
 * resolve to, e.g. a table or stream name).
 */
export function environmentBytes(environment: Record<string, string>, unresolvedValueBytes: (name: string) => number): number {
  return Object.entries(environment).reduce((total, [name, value]) =>
    total + Buffer.byteLength(name) + (Token.isUnresolved(value) ? unresolvedValueBytes(name) : Buffer.byteLength(value)), 0);
}

/**
 * A resolved resource (ARN) as cdk-nag names it in findings: intrinsics flattened, `${x}` and references as `<x>`,
 * e.g. `<BucketLogicalId.Arn>/offline/*`. Pass the output of `Stack.of(x).resolve(arn)`.
 */
export function nagResource(node: unknown): string {
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const o = (node ?? {}) as Record<string, any>;
  if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(nagResource).join(o['Fn::Join'][0]);
  if (o['Fn::Sub']) return nagResource(o['Fn::Sub']);
  if (o['Fn::GetAtt']) return `<${nagResource(o['Fn::GetAtt'][0])}.${nagResource(o['Fn::GetAtt'][1])}>`;
  if (o['Fn::ImportValue']) return nagResource(o['Fn::ImportValue']);
  if (o.Ref) return `<${nagResource(o.Ref)}>`;
  return JSON.stringify(node);
}
