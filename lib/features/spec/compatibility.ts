import { joinKeysOf } from './record';
import { FeatureSpec, FeatureViewSpec } from './types';

/** Result of comparing two versions of a feature view. */
export interface CompatibilityReport {
  /** True when `next` may replace `previous`: no breaking change, or breaking changes under a version bump. */
  readonly compatible: boolean;
  /** Changes that break readers of `previous` (removed, retyped features; changed keys or event time field). */
  readonly breakingChanges: string[];
  /** Changes that do not break readers (added features, new fallbacks, descriptions). */
  readonly compatibleChanges: string[];
}

/**
 * Compares two versions of one feature view — the data contract check for CI. Adding a feature is compatible.
 * Removing, renaming or retyping one, or changing join keys or the event time field, is breaking and allowed only
 * with a version bump. A lower version than before is always refused.
 */
export function checkCompatibility(previous: FeatureViewSpec, next: FeatureViewSpec): CompatibilityReport {
  const breaking: string[] = [];
  const compatible: string[] = [];
  if (previous.name !== next.name) breaking.push(`view renamed from '${previous.name}' to '${next.name}': a rename is a new view`);
  const before = new Map(previous.features.map((f) => [f.name, f]));
  const after = new Map(next.features.map((f) => [f.name, f]));
  for (const [name, old] of before) {
    const now = after.get(name);
    if (!now) breaking.push(`feature '${name}' removed (or renamed)`);
    else if (typeOf(old) !== typeOf(now)) breaking.push(`feature '${name}' retyped from ${typeOf(old)} to ${typeOf(now)}`);
    else if (JSON.stringify(old.fallback) !== JSON.stringify(now.fallback)) compatible.push(`feature '${name}' fallback changed`);
  }
  for (const name of after.keys()) if (!before.has(name)) compatible.push(`feature '${name}' added`);
  if (joinKeysOf(previous).join(',') !== joinKeysOf(next).join(',')) {
    breaking.push(`join keys changed from [${joinKeysOf(previous)}] to [${joinKeysOf(next)}]`);
  }
  if (previous.eventTimeField !== next.eventTimeField) {
    breaking.push(`event time field changed from '${previous.eventTimeField}' to '${next.eventTimeField}'`);
  }
  if (next.version < previous.version) {
    breaking.push(`version went down from ${previous.version} to ${next.version}; versions only increase`);
    return { compatible: false, breakingChanges: breaking, compatibleChanges: compatible };
  }
  // A rename is a new view: no version bump makes it compatible.
  const renamed = previous.name !== next.name;
  const bumped = next.version > previous.version;
  return { compatible: breaking.length === 0 || (bumped && !renamed), breakingChanges: breaking, compatibleChanges: compatible };
}

function typeOf(feature: FeatureSpec): string {
  return feature.dimension === undefined ? feature.dtype : `${feature.dtype}[${feature.dimension}]`;
}
