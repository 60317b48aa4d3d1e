import type { DataGateSettings } from '../../runtime/contracts/training-pipeline';
import { expectedColumnsOf } from '../../runtime/core/training/data-gate';
import type { FeatureView } from '../features/feature-view';

/** The data gate's spec, its expected columns derived from the feature views unless given. */
export type TrainingDataGateProps = Omit<DataGateSettings, 'columns'> & {
  /** Expected columns and types. @default - the `featureRefs`, typed as their views declare them */
  readonly columns?: DataGateSettings['columns'];
};

/** The data gate's settings with its columns: given, or the `featureRefs` typed by their views. */
export function dataGateSettings(props: { readonly dataGate: TrainingDataGateProps; readonly views: readonly FeatureView[]; readonly featureRefs: readonly string[] }): DataGateSettings {
  const columns = props.dataGate.columns
    ?? expectedColumnsOf(props.views.map((v) => v.toSpec())).filter((c) => props.featureRefs.includes(c.profileName ?? ''));
  return { ...props.dataGate, columns };
}
