export * from './alarm-actions';
export * from './alarm-topic';
export * from './cost-guard';
export * from './platform-tags';
export * from './model-monitoring';
export * from './monitoring-thresholds';
export * from './slo';
export * from './cost-degrade';
