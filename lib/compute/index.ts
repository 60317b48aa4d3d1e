export * from './gpu-instance-type';
