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

/** Seconds of a concrete Duration; undefined for an absent or unresolved one (validation skips tokens). */
export function concreteSeconds(duration: Duration | undefined): number | undefined {
  return duration && !duration.isUnresolved() ? duration.toSeconds({ integral: false }) : undefined;
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
