/**
 * Pure derivations of the chart's pod sizing and timing from what the model declares (size, load time) and the
 * server's drain settings. Numbers in, numbers out: unit-tested with worked examples.
 */

/** Host memory of one server process before any model: Node.js, onnxruntime and the CUDA context's host side. */
export const BASE_MEMORY_MIB = 1024;

/** Memory limit as a multiple of the request: headroom for allocator fragmentation and request buffers. */
export const MEMORY_LIMIT_FACTOR = 1.5;

/** Period of the start-up, readiness probes, seconds. */
export const PROBE_PERIOD_SECONDS = 5;

/** Extra start-up probe failures allowed beyond the declared load time (image pull jitter, warm-up runs). */
export const STARTUP_MARGIN_PROBES = 6;

/** Seconds between SIGTERM's deadline (shutdownTimeout) and the kubelet's SIGKILL. */
export const TERMINATION_MARGIN_SECONDS = 5;

/** Memory request and limit of the server container, MiB. */
export interface MemorySizing {
  readonly requestMiB: number;
  readonly limitMiB: number;
}

/**
 * request = 1 GiB + modelSize × (workers + 1): the model file in the page cache plus one host copy per session while
 * it loads; limit = request × 1.5. Whole MiB, rounded up.
 */
export function serverMemory(modelMiB: number, workers: number): MemorySizing {
  const requestMiB = Math.ceil(BASE_MEMORY_MIB + modelMiB * (workers + 1));
  return { requestMiB, limitMiB: Math.ceil(requestMiB * MEMORY_LIMIT_FACTOR) };
}

/** Size limit of the model cache volume, MiB: the model twice (a new version downloads beside the old) + 1 GiB. */
export function cacheSizeLimitMiB(modelMiB: number): number {
  return Math.ceil(modelMiB * 2 + 1024);
}

/** Start-up probe failures allowed: ceil(loadTime / period) + margin, so a model loading as declared is not killed. */
export function startupFailureThreshold(loadTimeSeconds: number): number {
  return Math.ceil(loadTimeSeconds / PROBE_PERIOD_SECONDS) + STARTUP_MARGIN_PROBES;
}

/**
 * terminationGracePeriodSeconds: the preStop sleep (endpoints and target deregistration propagate while the pod still
 * serves), then the server's own drain up to `shutdownTimeout` after SIGTERM, then a margin. Whole seconds, rounded up.
 */
export function terminationGraceSeconds(preStopSeconds: number, shutdownTimeoutSeconds: number): number {
  return Math.ceil(preStopSeconds + shutdownTimeoutSeconds + TERMINATION_MARGIN_SECONDS);
}

