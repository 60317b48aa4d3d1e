import { FeatureSpec, FeatureViewSpec } from './types';

/** Separator of a feature reference: `view_name:feature_name` (Feast's convention). */
export const FEATURE_REF_SEPARATOR = ':';

/** Feature references resolved against their views, grouped by view, in first-seen order. */
export interface ResolvedFeatureRefs {
  readonly view: FeatureViewSpec;
  readonly features: FeatureSpec[];
}

/**
 * Resolves `view:feature` references against the given views. Throws one error listing every unknown or
 * malformed reference. A view given more than once (two versions) must be disambiguated by passing one.
 */
export function resolveFeatureRefs(views: readonly FeatureViewSpec[], refs: readonly string[]): ResolvedFeatureRefs[] {
  const byName = new Map<string, FeatureViewSpec>();
  const problems: string[] = [];
  for (const view of views) {
    if (byName.has(view.name)) problems.push(`view '${view.name}' given twice; pass exactly one version of each view`);
    byName.set(view.name, view);
  }
  const grouped = new Map<string, ResolvedFeatureRefs>();
  for (const ref of refs) {
    const [viewName, featureName, ...rest] = ref.split(FEATURE_REF_SEPARATOR);
    const view = byName.get(viewName);
    const feature = view?.features.find((f) => f.name === featureName);
    if (rest.length > 0 || !featureName) problems.push(`'${ref}': feature references look like 'view_name:feature_name'`);
    else if (!view) problems.push(`'${ref}': unknown view '${viewName}' (known: ${[...byName.keys()].join(', ') || 'none'})`);
    else if (!feature) problems.push(`'${ref}': view '${viewName}' v${view.version} has no feature '${featureName}' (has: ${view.features.map((f) => f.name).join(', ')})`);
    else {
      const group = grouped.get(viewName) ?? { view, features: [] };
      if (!group.features.includes(feature)) group.features.push(feature);
      grouped.set(viewName, group);
    }
  }
  if (refs.length === 0) problems.push('featureRefs: pass at least one reference, e.g. customer_txn_stats:txn_count_1h');
  if (problems.length > 0) throw new Error(`Invalid feature references:\n  - ${problems.join('\n  - ')}`);
  return [...grouped.values()];
}
