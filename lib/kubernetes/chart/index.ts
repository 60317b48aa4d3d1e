/**
 * The Kubernetes entry point (`ml-platform-constructs/kubernetes`): the cdk8s GPU inference chart and the GPU
 * scheduling contract it shares with `GpuNodeGroup`. Separate from the main entry so CDK-only users never load cdk8s.
 */
export * from './autoscaling';
export { AWS_CLI_IMAGE, GpuInferenceChart, MODEL_CACHE_PATH, SERVER_USER, SERVING_PRIORITY } from './gpu-inference-chart';
export * from './props';
export { GPU_RESOURCE, GPU_TAINT, GpuNodeLabels, GpuSharing, GpuSharingMode, MAX_SHARING_REPLICAS } from '../gpu-scheduling';
