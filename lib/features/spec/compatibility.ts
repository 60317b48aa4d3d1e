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

/** Result of checking the current views against the contracts recorded earlier (a lock file committed in the repo). */
export interface ContractCheck {
  /** False when a recorded view was removed, or changed in a breaking way without a version bump. */
  readonly compatible: boolean;
  /** Every breaking change, prefixed by its view. */
  readonly breakingChanges: string[];
  /** Changes that are allowed but mean the lock file should be updated (added views or features, bumped versions). */
  readonly changes: string[];
}

/**
 * Checks `current` views against the `recorded` contracts (matched by view name): the CI gate of the data contract.
 * A recorded view that disappeared is breaking (models and training jobs still read it); update the record on
 * purpose to retire it.
 */
export function checkContracts(recorded: readonly FeatureViewSpec[], current: readonly FeatureViewSpec[]): ContractCheck {
  const breaking: string[] = [];
  const changes: string[] = [];
  const now = new Map(current.map((v) => [v.name, v]));
  for (const before of recorded) {
    const after = now.get(before.name);
    if (!after) {
      breaking.push(`view '${before.name}' v${before.version} removed; models and training jobs may still read it`);
      continue;
    }
    const report = checkCompatibility(before, after);
    const where = `view '${before.name}' v${before.version} → v${after.version}`;
    if (!report.compatible) breaking.push(...report.breakingChanges.map((c) => `${where}: ${c}`));
    else if (after.version > before.version) changes.push(`${where}: new version (${report.breakingChanges.length} breaking change(s) accepted by the bump)`);
    changes.push(...report.compatibleChanges.map((c) => `${where}: ${c}`));
  }
  const known = new Set(recorded.map((v) => v.name));
  for (const view of current) if (!known.has(view.name)) changes.push(`view '${view.name}' v${view.version} added`);
  return { compatible: breaking.length === 0, breakingChanges: breaking, changes };
}
