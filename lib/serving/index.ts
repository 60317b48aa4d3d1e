export * from './instance-type';
export * from './inference-image';
export * from './model-artifact';
export * from './model-endpoint';
export * from './inference-gateway';
export * from './server-settings';
