export * from './feature-view';
export { FeatureDtype, FeatureStatus, OfflineColumnType, FEATURE_SPEC_FORMAT_VERSION } from './spec';
export type {
  FeatureSpec, EntitySpec, FeatureViewSpec, FeatureRow, RecordValidation, CompatibilityReport, OfflineColumn, ServedValue,
} from './spec';
