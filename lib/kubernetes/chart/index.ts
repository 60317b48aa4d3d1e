/**
 * The Kubernetes entry point (`ml-platform-constructs/kubernetes`): the cdk8s GPU inference chart and the GPU
 * scheduling contract it shares with `GpuNodeGroup`. Separate from the main entry so CDK-only users never load cdk8s.
 */
export * from './autoscaling';
export {
  AWS_CLI_IMAGE, CUDA_CACHE_MAX_MIB, CUDA_CACHE_PATH, GpuInferenceChart, MODEL_CACHE_PATH, SERVER_USER, SERVING_PRIORITY, TMP_SIZE_LIMIT_MIB,
  WARMUP_SAMPLE_PATH,
} from './gpu-inference-chart';
export { SYSTEM_CPU_RESERVE } from '../../private/validate-gpu-inference-chart-props';
export { POD_READINESS_GATE_LABEL } from '../pod-termination';
export * from './props';
export { GPU_RESOURCE, GPU_TAINT, GpuNodeLabels, GpuSharing, GpuSharingMode, MAX_SHARING_REPLICAS } from '../gpu-scheduling';
