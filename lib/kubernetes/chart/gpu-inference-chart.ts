import { Duration } from 'aws-cdk-lib';
import * as cdk8s from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { NUMERIC_SETTINGS, ServerModelDefaults, ServerPaths, ServerVariables } from '../../../runtime/contracts/inference-server';
import {
  chartObjectName, DEFAULT_SERVER_CPU, DEFAULT_SIDECAR_CPU, gpuInferenceChartPropsProblems, mib, SERVER_PORT,
} from '../../private/validate-gpu-inference-chart-props';
import { throwIfProblems } from '../../private/validation';
import { ExecutionProvider, serverSettingsEnvironment } from '../../serving/server-settings';
import { GPU_RESOURCE, GPU_TAINT, GpuNodeLabels, GpuSharing } from '../gpu-scheduling';
import { ChartAutoscaling, kedaQueueDepthQuery, PROMETHEUS_ADAPTER_RULE, PrometheusAdapterRule, QUEUE_DEPTH_METRIC } from './autoscaling';
import { GpuInferenceChartProps } from './props';
import { DEFAULT_PRE_STOP_DELAY_SECONDS, POD_READINESS_GATE_LABEL } from '../pod-termination';
import { cacheSizeLimitMiB, PROBE_PERIOD_SECONDS, serverMemory, startupFailureThreshold, terminationGraceSeconds } from './sizing';

/**
 * AWS CLI image of the model download init container. Pinned by version tag: digests cannot be looked up where this
 * was written; pin a digest in your registry mirror if you need immutability.
 */
export const AWS_CLI_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:2.22.0';

/** User and group of our server image (and of every container in the pod). */
export const SERVER_USER = 10001;

/** Where the init container writes the model and the server reads it. */
export const MODEL_CACHE_PATH = '/models';

/** Where the model's warm-up sample (`warmupSampleUri`) is downloaded, beside the model. */
export const WARMUP_SAMPLE_PATH = `${MODEL_CACHE_PATH}/warmup.json`;

/**
 * CUDA's JIT cache (PTX compiled for this GPU) on the /tmp volume: the image's HOME is not writable under a read-only
 * root, and without a cache every start compiles again.
 */
export const CUDA_CACHE_PATH = '/tmp/cuda-cache';

/** Size limit of the /tmp volume, MiB. */
export const TMP_SIZE_LIMIT_MIB = 512;

/** CUDA_CACHE_MAXSIZE, MiB: half the /tmp volume, so the cache never gets the pod evicted for exceeding it. */
export const CUDA_CACHE_MAX_MIB = 256;

/** Value of the PriorityClass the chart creates: above ordinary workloads (0), below system-cluster-critical. */
export const SERVING_PRIORITY = 100_000;

/**
 * Our inference server on GPU nodes, as a cdk8s chart: a Deployment (init container downloading the model from S3
 * with IRSA, `nvidia.com/gpu` limits, toleration of the GPU taint and node affinity to nodes shared as `gpuSharing`
 * says, probes sized to the model's load time, a preStop hook and termination grace matching the server's drain,
 * memory derived from the model size, a writable model cache and /tmp under a read-only root), a Service, a
 * PodDisruptionBudget, autoscaling on the server's queue depth (HPA through prometheus-adapter, or KEDA), zone and
 * host spread, a PriorityClass and, optionally, a TargetGroupBinding and a preprocessing sidecar.
 *
 * Synthesize it standalone (`new cdk8s.App()`) or inside CDK with `cluster.addCdk8sChart(id, chart)`.
 */
export class GpuInferenceChart extends cdk8s.Chart {
  /**
   * The prometheus-adapter rule (an entry of its Helm values' `rules.custom`) that serves `inference_queue_depth` as
   * the pods metric this chart's HPA reads; without it the HPA reports `FailedGetPodsMetric` and does not scale.
   */
  public readonly prometheusAdapterRule: PrometheusAdapterRule = PROMETHEUS_ADAPTER_RULE;
  /** The server Deployment. */
  public readonly deployment: kplus.Deployment;
  /**
   * The container port the Service and a load balancer reach: the preprocessing sidecar's port, else the server's
   * 8080. `ModelServiceLoadBalancer`'s `targetPort` must equal it (its health check reads the server's
   * `/v2/health/ready` on 8080 either way).
   */
  public readonly servingPort: number;
  /** The Service (ClusterIP, port 8080) in front of the pods: the server's `http` port, or the preprocessing sidecar's. */
  public readonly service: kplus.k8s.KubeService;
  /** Name of the Deployment, Service and the other objects. */
  public readonly objectName: string;

  constructor(scope: Construct, id: string, props: GpuInferenceChartProps) {
    super(scope, id, props);
    throwIfProblems(this, gpuInferenceChartPropsProblems(props));
    const settings = serverSettingsEnvironment(props.serverSettings ?? {}, 'serverSettings');
    throwIfProblems(this, settings.problems);
    const name = chartObjectName(props);
    this.objectName = name;
    const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'inference-server' };
    if (props.createNamespace) {
      // First, so that `kubectl apply -f` creates it before the objects in it.
      new kplus.k8s.KubeNamespace(this, 'Namespace', {
        metadata: { name: props.namespace, labels: { [POD_READINESS_GATE_LABEL.key]: POD_READINESS_GATE_LABEL.value } },
      }).addJsonPatch(cdk8s.JsonPatch.remove('/metadata/namespace')); // cluster-scoped
    }
    const scaling = props.autoscaling ?? ChartAutoscaling.horizontalPodAutoscaler();
    const minReplicas = scaling.options.minReplicas ?? 1;
    const modelMiB = mib(props.modelSize);
    const modelFile = `${MODEL_CACHE_PATH}/${props.modelUri.slice(props.modelUri.lastIndexOf('/') + 1)}`;

    const cache = kplus.Volume.fromEmptyDir(this, 'ModelCache', 'model-cache', { sizeLimit: cdk8s.Size.mebibytes(cacheSizeLimitMiB(modelMiB)) });
    const tmp = kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp', { sizeLimit: cdk8s.Size.mebibytes(TMP_SIZE_LIMIT_MIB) });
    const tmpMount = { volume: tmp, path: '/tmp' };
    const securityContext: kplus.ContainerSecurityContextProps = {
      ensureNonRoot: true, user: SERVER_USER, group: SERVER_USER, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
      privileged: false, capabilities: { drop: [kplus.Capability.ALL] }, seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
    };

    const workers = props.serverSettings?.workers ?? 1;
    const memory = props.memory ? { requestMiB: mib(props.memory.request), limitMiB: mib(props.memory.limit) } : serverMemory(modelMiB, workers);
    const loadSeconds = (props.modelLoadTime ?? Duration.minutes(2)).toSeconds();
    const preStopSeconds = (props.preStopDelay ?? Duration.seconds(DEFAULT_PRE_STOP_DELAY_SECONDS)).toSeconds();
    const shutdownSeconds = props.serverSettings?.shutdownTimeout?.toSeconds({ integral: false }) ?? NUMERIC_SETTINGS.shutdownTimeoutMs.default / 1000;
    // Every container that serves keeps serving while the endpoint and target go, then gets SIGTERM.
    const lifecycle = { preStop: kplus.Handler.fromCommand(['sleep', String(preStopSeconds)]) };
    const httpProbe = (path: string, periodSeconds: number, failureThreshold: number) => kplus.Probe.fromHttpGet(path, {
      port: SERVER_PORT, periodSeconds: cdk8s.Duration.seconds(periodSeconds), failureThreshold, timeoutSeconds: cdk8s.Duration.seconds(2),
    });

    const serviceAccount = props.serviceAccountRoleArn === undefined ? props.serviceAccountName! : `${name}-model-reader`;
    if (props.serviceAccountRoleArn !== undefined) {
      new kplus.k8s.KubeServiceAccount(this, 'ServiceAccount', {
        metadata: { name: serviceAccount, labels, annotations: { 'eks.amazonaws.com/role-arn': props.serviceAccountRoleArn } },
        automountServiceAccountToken: false,
      });
    }

    const server: kplus.ContainerProps = {
      name: 'server',
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT, // pinned tags; GPU images are large (cold starts)
      ports: [{ number: SERVER_PORT, name: 'http' }],
      envVariables: envValues({
        HOME: '/tmp',
        CUDA_CACHE_PATH,
        CUDA_CACHE_MAXSIZE: String(CUDA_CACHE_MAX_MIB * 2 ** 20),
        [ServerVariables.EXECUTION_PROVIDER]: ExecutionProvider.CUDA.name,
        ...settings.environment,
        ...(props.warmupSampleUri === undefined ? {} : { [ServerVariables.WARMUP_SAMPLE]: WARMUP_SAMPLE_PATH }),
        [ServerVariables.MODEL_URI]: modelFile,
        [ServerVariables.MODEL_NAME]: props.modelName,
        [ServerVariables.MODEL_VERSION]: props.modelVersion ?? ServerModelDefaults.VERSION,
        [ServerVariables.MODEL_VARIANT]: props.variant ?? ServerModelDefaults.VARIANT,
      }),
      volumeMounts: [{ volume: cache, path: MODEL_CACHE_PATH, readOnly: true }, tmpMount],
      startup: httpProbe(ServerPaths.READY, PROBE_PERIOD_SECONDS, startupFailureThreshold(loadSeconds)),
      readiness: httpProbe(ServerPaths.READY, PROBE_PERIOD_SECONDS, 2),
      liveness: httpProbe(ServerPaths.LIVE, 10, 3),
      lifecycle,
      resources: {
        cpu: { request: kplus.Cpu.millis(Math.round((props.cpu ?? DEFAULT_SERVER_CPU) * 1000)) },
        memory: { request: cdk8s.Size.mebibytes(memory.requestMiB), limit: cdk8s.Size.mebibytes(memory.limitMiB) },
      },
      securityContext,
    };
    const sidecar = props.preprocessing;
    const containers: kplus.ContainerProps[] = [server];
    if (sidecar) {
      const sidecarMemory = cdk8s.Size.mebibytes(sidecar.memory ? mib(sidecar.memory) : 512);
      containers.push({
        name: 'preprocessing',
        image: sidecar.image,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        ports: [{ number: sidecar.port, name: 'preprocessing' }],
        envVariables: envValues(sidecar.environment ?? {}),
        volumeMounts: [tmpMount],
        lifecycle,
        resources: { cpu: { request: kplus.Cpu.millis(Math.round((sidecar.cpu ?? DEFAULT_SIDECAR_CPU) * 1000)) }, memory: { request: sidecarMemory, limit: sidecarMemory } },
        securityContext,
      });
    }

    this.servingPort = sidecar ? sidecar.port : SERVER_PORT;
    const download = (containerName: string, uri: string, file: string): kplus.ContainerProps => ({
      name: containerName,
      image: AWS_CLI_IMAGE,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: ['aws', 's3', 'cp', '--only-show-errors', uri, file],
      envVariables: envValues({ HOME: '/tmp' }),
      volumeMounts: [{ volume: cache, path: MODEL_CACHE_PATH }, tmpMount],
      resources: { cpu: { request: kplus.Cpu.millis(250) }, memory: { request: cdk8s.Size.mebibytes(256), limit: cdk8s.Size.mebibytes(512) } },
      securityContext,
    });
    const initContainers = [download('model-download', props.modelUri, modelFile)];
    if (props.warmupSampleUri !== undefined) initContainers.push(download('warmup-sample-download', props.warmupSampleUri, WARMUP_SAMPLE_PATH));

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name, labels },
      podMetadata: {
        labels,
        annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(SERVER_PORT), 'prometheus.io/path': ServerPaths.METRICS },
      },
      select: false,
      replicas: minReplicas,
      strategy: kplus.DeploymentStrategy.rollingUpdate({ maxSurge: kplus.PercentOrAbsolute.absolute(1), maxUnavailable: kplus.PercentOrAbsolute.absolute(0) }),
      serviceAccount: kplus.ServiceAccount.fromServiceAccountName(this, 'ServiceAccountRef', serviceAccount),
      // IRSA needs no Kubernetes API token: the EKS pod identity webhook projects its own web identity token.
      automountServiceAccountToken: false,
      securityContext: { ensureNonRoot: true, user: SERVER_USER, group: SERVER_USER, fsGroup: SERVER_USER, fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH },
      terminationGracePeriod: cdk8s.Duration.seconds(terminationGraceSeconds(preStopSeconds, shutdownSeconds)),
      volumes: [cache, tmp],
      initContainers,
      containers,
    });
    this.deployment.select(kplus.LabelSelector.of({ labels }));
    const sharing = props.gpuSharing ?? GpuSharing.EXCLUSIVE;
    this.deployment.scheduling.tolerate(kplus.Node.tainted(kplus.NodeTaintQuery.is(GPU_TAINT.key, GPU_TAINT.value, { effect: kplus.TaintEffect.NO_SCHEDULE })));
    this.deployment.scheduling.attract(kplus.Node.labeled(kplus.NodeLabelQuery.in(GpuNodeLabels.SHARING, [sharing.label])));

    const priorityClassName = props.priorityClassName ?? `${name}-serving`;
    if (props.priorityClassName === undefined) {
      new kplus.k8s.KubePriorityClass(this, 'PriorityClass', {
        metadata: { name: priorityClassName, labels },
        value: SERVING_PRIORITY,
        globalDefault: false,
        preemptionPolicy: 'PreemptLowerPriority',
        description: `Inference servers of ${name}: scheduled before batch work, may preempt it.`,
      }).addJsonPatch(cdk8s.JsonPatch.remove('/metadata/namespace')); // cluster-scoped
    }
    const gpus = cdk8s.ApiObject.of(this.deployment);
    const gpuQuantity = kplus.k8s.Quantity.fromNumber(props.gpus ?? 1);
    const spread = (topologyKey: string) => ({ maxSkew: 1, topologyKey, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } });
    gpus.addJsonPatch(
      cdk8s.JsonPatch.add(`/spec/template/spec/containers/0/resources/limits/${GPU_RESOURCE.replace('/', '~1')}`, gpuQuantity),
      cdk8s.JsonPatch.add(`/spec/template/spec/containers/0/resources/requests/${GPU_RESOURCE.replace('/', '~1')}`, gpuQuantity),
      cdk8s.JsonPatch.add('/spec/template/spec/priorityClassName', priorityClassName),
      cdk8s.JsonPatch.add('/spec/template/spec/topologySpreadConstraints', [spread('topology.kubernetes.io/zone'), spread('kubernetes.io/hostname')]),
    );
    // An autoscaler owns the replica count: a rendered one would reset scaled-out pods to the minimum on every apply.
    if (scaling.kind !== 'fixed') gpus.addJsonPatch(cdk8s.JsonPatch.remove('/spec/replicas'));

    this.service = new kplus.k8s.KubeService(this, 'Service', {
      metadata: { name, labels },
      spec: {
        type: 'ClusterIP',
        selector: labels,
        ports: [{ name: 'http', port: SERVER_PORT, targetPort: kplus.k8s.IntOrString.fromString(sidecar ? 'preprocessing' : 'http') }],
      },
    });

    new kplus.k8s.KubePodDisruptionBudget(this, 'Disruption', {
      metadata: { name, labels },
      spec: {
        selector: { matchLabels: labels },
        ...(props.minAvailable === undefined ? { maxUnavailable: kplus.k8s.IntOrString.fromNumber(1) } : { minAvailable: kplus.k8s.IntOrString.fromNumber(props.minAvailable) }),
      },
    });
    this.addAutoscaling(scaling, name, labels);

    const binding = props.targetGroupBinding;
    if (binding) {
      new cdk8s.ApiObject(this, 'TargetGroupBinding', {
        apiVersion: 'elbv2.k8s.aws/v1beta1', kind: 'TargetGroupBinding', metadata: { name, labels },
      }).addJsonPatch(cdk8s.JsonPatch.add('/spec', {
        serviceRef: { name, port: SERVER_PORT },
        targetGroupARN: binding.targetGroupArn,
        targetType: 'ip',
        ...(binding.loadBalancerSecurityGroupId === undefined ? {} : {
          // Traffic reaches the serving port; health checks reach the server's own port (ModelServiceLoadBalancer checks
          // /v2/health/ready there, so a sidecar need not serve it).
          networking: {
            ingress: [{
              from: [{ securityGroup: { groupID: binding.loadBalancerSecurityGroupId } }],
              ports: [...new Set([this.servingPort, SERVER_PORT])].map((port) => ({ protocol: 'TCP', port })),
            }],
          },
        }),
      }));
    }
  }

  private addAutoscaling(scaling: ChartAutoscaling, name: string, labels: Record<string, string>): void {
    const { minReplicas = 1, maxReplicas = 4, targetQueueDepth = 4, scaleDownStabilization = Duration.minutes(5) } = scaling.options;
    const scaleDown = { stabilizationWindowSeconds: scaleDownStabilization.toSeconds() };
    if (scaling.kind === 'fixed') return;
    if (scaling.kind === 'keda') {
      new cdk8s.ApiObject(this, 'ScaledObject', { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name, labels } })
        .addJsonPatch(cdk8s.JsonPatch.add('/spec', {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
          minReplicaCount: minReplicas,
          maxReplicaCount: maxReplicas,
          advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown } } },
          triggers: [{
            type: 'prometheus',
            metadata: {
              serverAddress: scaling.prometheusServerAddress,
              query: kedaQueueDepthQuery(this.namespace ?? 'default', name),
              threshold: String(targetQueueDepth),
            },
          }],
        }));
      return;
    }
    new kplus.k8s.KubeHorizontalPodAutoscalerV2(this, 'Autoscaler', {
      metadata: { name, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas,
        maxReplicas,
        metrics: [{
          type: 'Pods',
          pods: { metric: { name: QUEUE_DEPTH_METRIC }, target: { type: 'AverageValue', averageValue: kplus.k8s.Quantity.fromNumber(targetQueueDepth) } },
        }],
        behavior: { scaleDown },
      },
    });
  }
}

function envValues(environment: Record<string, string>): Record<string, kplus.EnvValue> {
  return Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)]));
}
