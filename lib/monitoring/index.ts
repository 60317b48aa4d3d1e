export * from './alarm-actions';
export * from './alarm-topic';
