export * from './instance-type';
export * from './inference-image';
export * from './model-artifact';
export * from './model-endpoint';
export { ModelEndpointBase } from './model-endpoint-base';
export type { IModelEndpoint, ModelEndpointAttributes } from './model-endpoint-base';
export type { DataCaptureProps } from './data-capture';
export * from './inference-gateway';
export * from './server-settings';
