import { Duration, Size } from 'aws-cdk-lib';
import type * as cdk8s from 'cdk8s';
import type { GpuInstanceType } from '../../compute/gpu-instance-type';
import type { InferenceServerSettings } from '../../serving/server-settings';
import type { GpuSharing } from '../gpu-scheduling';
import type { ChartAutoscaling } from './autoscaling';

/**
 * Where the AWS Load Balancer Controller registers the pods: a target group of an existing load balancer, on the
 * chart's `servingPort` (the load balancer's target port must equal it). The chart's namespace must carry the label
 * `POD_READINESS_GATE_LABEL` (`elbv2.k8s.aws/pod-readiness-gate-inject: enabled`; `createNamespace` renders it):
 * only then does the controller gate each new pod's readiness on its target being healthy, so a rolling update does
 * not remove old pods before the new targets serve.
 */
export interface ChartTargetGroupBinding {
  /** ARN of the target group (target type `ip`), e.g. `ModelServiceLoadBalancer.targetGroupArn`. */
  readonly targetGroupArn: string;
  /**
   * Security group of the load balancer: the controller adds a rule to the node security group admitting it on the
   * pods' serving port.
   * @default - the controller manages no ingress rule; allow the load balancer yourself
   */
  readonly loadBalancerSecurityGroupId?: string;
}

/** Memory of the server container, overriding the derivation from the model size. */
export interface ChartMemory {
  /** Memory request. */
  readonly request: Size;
  /** Memory limit, at least the request. */
  readonly limit: Size;
}

/**
 * A container beside the server in the same pod (e.g. feature lookup or tokenization): it receives the Service's
 * traffic and calls the server on `http://localhost:8080` (the same network namespace: no network hop, no second
 * Service). It runs with the server's security context (non-root 10001, read-only root, /tmp writable).
 *
 * On termination it gets the server's preStop sleep (it keeps serving while its endpoint and load balancer target are
 * removed), then SIGTERM: it must then finish its in-flight requests and exit within the pod's termination grace
 * (`serverSettings.shutdownTimeout` + 5 s), or the kubelet kills it with requests in flight.
 */
export interface PreprocessingSidecar {
  /** The image, pinned by tag or digest. */
  readonly image: string;
  /** Port it listens on (not 8080, the server's). */
  readonly port: number;
  /**
   * Environment variables.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * CPU request, in cores.
   * @default 0.5
   */
  readonly cpu?: number;
  /**
   * Memory request and limit.
   * @default Size.mebibytes(512)
   */
  readonly memory?: Size;
}

/** Props of `GpuInferenceChart`. */
export interface GpuInferenceChartProps extends cdk8s.ChartProps {
  /** Image of our inference server built with the CUDA execution provider, pinned by tag or digest. */
  readonly image: string;
  /** The model, `s3://bucket/key.onnx`: an init container downloads it into the cache volume before the server starts. */
  readonly modelUri: string;
  /**
   * The model's warm-up sample, `s3://bucket/key.json` (an Open Inference Protocol v2 request, as the server's
   * `warmup.json`): downloaded beside the model and run as the server's warm-up (`INFERENCE_WARMUP_SAMPLE`), as on
   * SageMaker where `warmup.json` comes in the model artifact. The service account must be allowed to read it.
   * @default - none: the server warms up with synthesized inputs
   */
  readonly warmupSampleUri?: string;
  /** Model name in the server's protocols, metrics and prediction log. */
  readonly modelName: string;
  /**
   * Model version.
   * @default '1'
   */
  readonly modelVersion?: string;
  /**
   * Variant name, logged and returned in `x-Amzn-Invoked-Production-Variant`.
   * @default 'AllTraffic'
   */
  readonly variant?: string;
  /** Size of the model file: sizes memory, the cache volume, and (with `instanceType`) the GPU memory check. */
  readonly modelSize: Size;
  /**
   * How long the server takes from start to ready (model load and warm-up; the init container's download comes
   * before it): the
   * start-up probe allows ceil(loadTime / 5 s) + 6 failures at 5 s periods before restarting the container.
   * @default Duration.minutes(2)
   */
  readonly modelLoadTime?: Duration;
  /**
   * Server settings, the same typed contract as the SageMaker path (`InferenceImage.fromServer`).
   * `executionProvider` defaults to CUDA here (the server falls back to the CPU, and reports it, without CUDA).
   * @default - the server's defaults
   */
  readonly serverSettings?: InferenceServerSettings;
  /**
   * Name of the Deployment, Service and other objects (a DNS label).
   * @default - the model name
   */
  readonly name?: string;
  /**
   * An existing IRSA service account allowed to read `modelUri` (e.g. from `cluster.addServiceAccount`). Give this or
   * `serviceAccountRoleArn`.
   * @default - the chart creates one from `serviceAccountRoleArn`
   */
  readonly serviceAccountName?: string;
  /**
   * ARN of an IAM role allowed to read `modelUri` whose trust policy admits this chart's service account
   * (`system:serviceaccount:<namespace>:<name>`): the chart creates the service account annotated
   * `eks.amazonaws.com/role-arn`. Give this or `serviceAccountName`.
   * @default - use `serviceAccountName`
   */
  readonly serviceAccountRoleArn?: string;
  /**
   * How the pods share GPUs; pods land only on nodes whose `GpuNodeLabels.SHARING` label says the same
   * (`GpuNodeGroup`'s `gpuSharing`). The trade-off, isolation against utilisation:
   * - `EXCLUSIVE`: one pod per GPU; full memory and fault isolation; a small model leaves most of the GPU idle.
   * - `timeSlicing(n)`: n pods take turns on a GPU; no memory or fault isolation — each pod's model must fit beside
   *   the others (the chart checks modelSize ≤ GPU memory / n with `instanceType`), one pod can starve or crash the rest.
   * - `mps(n)`: kernels of n pods run concurrently, each limited to 1/n of the memory; better throughput than
   *   time-slicing, but a fatal GPU fault in one pod takes the others down.
   * - `mig(profile)`: hardware-isolated slices (A100/H100/H200) with their own memory and compute; fixed slice sizes.
   * Large models belong on exclusive GPUs; several small ones on shared GPUs.
   * @default GpuSharing.EXCLUSIVE
   */
  readonly gpuSharing?: GpuSharing;
  /**
   * GPUs per pod (`nvidia.com/gpu` limit); must be 1 unless `gpuSharing` is `EXCLUSIVE`.
   * @default 1
   */
  readonly gpus?: number;
  /**
   * The node group's instance type: when given, the chart checks that the model fits in the GPU memory one pod gets
   * (the GPU × gpus, GPU memory / n when shared by n, the MIG profile's memory) and that `gpus` fits on a node.
   * @default - no GPU memory check
   */
  readonly instanceType?: GpuInstanceType;
  /**
   * Autoscaling on the server's queue depth, or `ChartAutoscaling.fixedReplicas(n)`. With an autoscaler the
   * Deployment has no `spec.replicas` (the autoscaler owns it).
   * @default ChartAutoscaling.horizontalPodAutoscaler() (1 to 4 pods, 4 queued requests per pod)
   */
  readonly autoscaling?: ChartAutoscaling;
  /**
   * CPU request of the server, in cores. With `instanceType` the chart checks that the pods one node holds (its GPUs ×
   * the pods per GPU) fit its vCPUs less `SYSTEM_CPU_RESERVE` (0.25, kubelet and system daemons).
   * @default 1
   */
  readonly cpu?: number;
  /**
   * Memory of the server, instead of the derivation: request = 1 GiB + modelSize × (workers + 1) (Node.js,
   * onnxruntime and the CUDA context's host side; the model in the page cache plus one host copy per session while
   * loading), limit = request × 1.5.
   * @default - derived from modelSize and serverSettings.workers (1 on CUDA)
   */
  readonly memory?: ChartMemory;
  /**
   * preStop sleep: the pod keeps serving while its endpoint and load balancer target are removed, then gets SIGTERM.
   * terminationGracePeriodSeconds = this + serverSettings.shutdownTimeout (default 28 s) + 5 s.
   * @default Duration.seconds(10)
   */
  readonly preStopDelay?: Duration;
  /**
   * Pods that must stay available during voluntary disruptions (node drains); instead of at most one unavailable.
   * @default - maxUnavailable 1
   */
  readonly minAvailable?: number;
  /**
   * An existing PriorityClass for the pods.
   * @default - the chart creates `<name>-serving` (value 100000, preempts lower priorities)
   */
  readonly priorityClassName?: string;
  /**
   * A preprocessing container in the server's pod; the Service (and a TargetGroupBinding) then target its port
   * (`servingPort`).
   * @default - none: the Service targets the server
   */
  readonly preprocessing?: PreprocessingSidecar;
  /**
   * Registers the pods' IPs in a load balancer's target group (AWS Load Balancer Controller `TargetGroupBinding`).
   * @default - none
   */
  readonly targetGroupBinding?: ChartTargetGroupBinding;
  /**
   * Render the Namespace object (`namespace` must be set), labelled `POD_READINESS_GATE_LABEL`, so that
   * `kubectl apply -f` works on a clean cluster. Leave it off when something else owns the namespace (e.g. CDK's
   * `cluster.addManifest`): that namespace must then carry the label too.
   * @default false
   */
  readonly createNamespace?: boolean;
}
