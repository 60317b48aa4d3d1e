// The CDK half of the Kubernetes path: node groups and the load balancer in front of chart pods. The cdk8s half
// (GpuInferenceChart) is the separate entry point `ml-platform-constructs/kubernetes` (lib/kubernetes/chart), so
// CDK-only users never load cdk8s.
export * from './gpu-scheduling';
export * from './gpu-node-group';
export * from './model-service-load-balancer';
export { AMI_FAMILY_LABEL, DCGM_EXPORTER_IMAGE, DCGM_EXPORTER_PORT, DEVICE_PLUGIN_CONFIG_LABEL, DEVICE_PLUGIN_IMAGE } from './nvidia-addons';
export * from './pod-termination';
