export * from './spot-training-fleet';
export * from './sagemaker-spot-training';
export * from './training-pipeline';
export type { TrainingDataGateProps } from './data-gate-settings';
