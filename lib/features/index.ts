export * from './feature-view';
export * from './request-source';
export { FeatureStore } from './feature-store';
export type { FeatureStoreProps } from './feature-store';
export type { FeatureStoreAttributes, IFeatureStore } from './feature-store-base';
export { FeatureIngestion } from './feature-ingestion';
export type { FeatureIngestionProps, IFeatureIngestion } from './feature-ingestion';
export { FeatureDtype, FeatureStatus, OfflineColumnType } from './spec';
export type {
  FeatureSpec, EntitySpec, FeatureViewSpec, FeatureRow, RecordValidation, CompatibilityReport, ContractCheck, OfflineColumn, ServedValue, RequestSourceSpec,
} from './spec';
