export * from './alarm-actions';
export * from './alarm-topic';
export * from './cost-guard';
export * from './platform-tags';
