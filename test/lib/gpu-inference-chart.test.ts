/**
 * GpuInferenceChart: every rendered property asserted on the synthesized objects, every manifest validated against
 * the Kubernetes API schema, props validation, the sizing derivations with worked numbers, and the main entry point's
 * import graph free of cdk8s.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Duration, Size } from 'aws-cdk-lib';
import * as cdk8s from 'cdk8s';
import * as ts from 'typescript';
import { fraudModelChart } from '../../examples/eks-gpu-inference/k8s-app';
import { GpuInstanceType } from '../../lib/compute/gpu-instance-type';
import { ServerMetrics } from '../../runtime/inference-server/server-metrics';
import {
  ChartAutoscaling, deploymentPodPattern, GpuInferenceChart, GpuInferenceChartProps, GpuNodeLabels, GpuSharing, POD_READINESS_GATE_LABEL,
  PROMETHEUS_ADAPTER_RULE, QUEUE_DEPTH_METRIC,
} from '../../lib/kubernetes/chart';
import { cacheSizeLimitMiB, serverMemory, startupFailureThreshold, terminationGraceSeconds } from '../../lib/kubernetes/chart/sizing';
import { validateKubernetesManifests, KubernetesManifest } from '../support/kubernetes-schema';
import { parseInferenceServerEnvironment, ServerVariables } from '../../runtime/contracts/inference-server';

type Obj = KubernetesManifest & Record<string, any>;

const BASE: GpuInferenceChartProps = {
  image: 'registry.example.com/inference-server:1.4.0-cuda12',
  modelUri: 's3://models-bucket/fraud/v7/model.onnx',
  modelName: 'fraud',
  modelSize: Size.mebibytes(500),
  serviceAccountRoleArn: 'arn:aws:iam::123456789012:role/model-reader',
};

function synth(props: Partial<GpuInferenceChartProps> = {}): Obj[] {
  const app = cdk8s.Testing.app();
  return cdk8s.Testing.synth(new GpuInferenceChart(app, 'chart', { ...BASE, ...props } as GpuInferenceChartProps)) as Obj[];
}

function only(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
}

function errorOf(props: Partial<GpuInferenceChartProps>): string {
  try {
    synth(props);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the chart to refuse these props');
}

describe('sizing, worked numbers', () => {
  test('memory: request = 1024 MiB + model × (workers + 1), limit = request × 1.5', () => {
    expect(serverMemory(500, 1)).toEqual({ requestMiB: 2024, limitMiB: 3036 });
    expect(serverMemory(2048, 3)).toEqual({ requestMiB: 9216, limitMiB: 13824 });
    expect(serverMemory(0.5, 1)).toEqual({ requestMiB: 1025, limitMiB: 1538 });
  });
  test('cache volume: model × 2 + 1024 MiB', () => {
    expect(cacheSizeLimitMiB(500)).toBe(2024);
  });
  test('start-up probe failures: ceil(load / 5 s) + 6', () => {
    expect(startupFailureThreshold(120)).toBe(30);
    expect(startupFailureThreshold(121)).toBe(31);
    expect(startupFailureThreshold(1)).toBe(7);
  });
  test('termination grace: preStop + shutdownTimeout + 5 s, rounded up', () => {
    expect(terminationGraceSeconds(10, 28)).toBe(43);
    expect(terminationGraceSeconds(10, 12.5)).toBe(28);
  });
});

describe('defaults (exclusive GPU, created IRSA service account, HPA)', () => {
  const objects = synth();
  const deployment = only(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const [server] = pod.containers;
  const env = Object.fromEntries(server.env.map((e: { name: string; value: string }) => [e.name, e.value]));

  test('every manifest is valid in Kubernetes 1.27 and 1.31; no custom resources', () => {
    expect(validateKubernetesManifests(objects)).toEqual({ problems: [], unchecked: [] });
    expect(objects.map((o) => o.kind).sort()).toEqual(['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'PriorityClass', 'Service', 'ServiceAccount']);
  });

  test('server container: image, port 8080 named http, model and provider environment', () => {
    expect(deployment.metadata?.name).toBe('fraud');
    expect(server.image).toBe(BASE.image);
    expect(server.ports).toEqual([{ containerPort: 8080, name: 'http' }]);
    expect(env).toEqual({
      HOME: '/tmp', CUDA_CACHE_PATH: '/tmp/cuda-cache', CUDA_CACHE_MAXSIZE: String(256 * 2 ** 20),
      INFERENCE_EXECUTION_PROVIDER: 'cuda', MODEL_URI: '/models/model.onnx', MODEL_NAME: 'fraud', MODEL_VERSION: '1', MODEL_VARIANT: 'AllTraffic',
    });
  });

  test('HOME and the CUDA JIT cache are on the writable /tmp volume (read-only root), the cache at most half of it', () => {
    const tmp = server.volumeMounts.find((m: { name: string }) => m.name === 'tmp').mountPath;
    expect(env.HOME).toBe(tmp);
    expect(env.CUDA_CACHE_PATH.startsWith(`${tmp}/`)).toBe(true);
    const tmpMiB = parseInt(pod.volumes.find((v: { name: string }) => v.name === 'tmp').emptyDir.sizeLimit, 10);
    expect(Number(env.CUDA_CACHE_MAXSIZE)).toBeLessThanOrEqual(tmpMiB * 2 ** 20 / 2);
  });

  test('one nvidia.com/gpu as limit and request; toleration of the GPU taint; affinity to exclusive nodes', () => {
    expect(server.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(server.resources.requests['nvidia.com/gpu']).toBe(1);
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' }]);
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: GpuNodeLabels.SHARING, operator: 'In', values: ['exclusive'] }] },
    ]);
  });

  test('probes: start-up sized to the 2 min default load time, readiness, liveness', () => {
    const get = (p: string) => ({ path: p, port: 8080, scheme: 'HTTP' });
    expect(server.startupProbe).toMatchObject({ httpGet: get('/v2/health/ready'), periodSeconds: 5, failureThreshold: 30 });
    expect(server.readinessProbe).toMatchObject({ httpGet: get('/v2/health/ready'), periodSeconds: 5, failureThreshold: 2 });
    expect(server.livenessProbe).toMatchObject({ httpGet: get('/v2/health/live'), periodSeconds: 10, failureThreshold: 3 });
  });

  test('preStop sleep 10 s; grace = 10 + 28 (server shutdownTimeout) + 5', () => {
    expect(server.lifecycle.preStop).toEqual({ exec: { command: ['sleep', '10'] } });
    expect(pod.terminationGracePeriodSeconds).toBe(43);
  });

  test('memory from the 500 MiB model (1 worker), cpu 1', () => {
    expect(server.resources.requests).toMatchObject({ memory: '2024Mi', cpu: '1000m' });
    expect(server.resources.limits.memory).toBe('3036Mi');
  });

  test('volumes: model cache (model × 2 + 1 GiB) read-only for the server, /tmp; read-only root, non-root 10001', () => {
    expect(pod.volumes).toEqual([{ name: 'model-cache', emptyDir: { sizeLimit: '2024Mi' } }, { name: 'tmp', emptyDir: { sizeLimit: '512Mi' } }]);
    expect(server.volumeMounts).toEqual([{ name: 'model-cache', mountPath: '/models', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 });
    for (const c of [...pod.containers, ...pod.initContainers]) {
      expect(c.securityContext).toEqual({
        runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false,
        capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  test('init container downloads the model with the pinned AWS CLI under the IRSA service account', () => {
    const [init] = pod.initContainers;
    expect(init.image).toMatch(/^public\.ecr\.aws\/aws-cli\/aws-cli:2\.\d+\.\d+$/);
    expect(init.command).toEqual(['aws', 's3', 'cp', '--only-show-errors', BASE.modelUri, '/models/model.onnx']);
    expect(init.volumeMounts).toEqual([{ name: 'model-cache', mountPath: '/models' }, { name: 'tmp', mountPath: '/tmp' }]);
    expect(init.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } });
    const account = only(objects, 'ServiceAccount');
    expect(account.metadata).toMatchObject({ name: 'fraud-model-reader', annotations: { 'eks.amazonaws.com/role-arn': BASE.serviceAccountRoleArn } });
    expect(pod.serviceAccountName).toBe('fraud-model-reader');
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  test('Service: ClusterIP 8080 → http, selecting the pods', () => {
    const service = only(objects, 'Service');
    expect(service.spec).toEqual({ type: 'ClusterIP', selector: deployment.spec.selector.matchLabels, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] });
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  test('PodDisruptionBudget: maxUnavailable 1 over the pods', () => {
    expect(only(objects, 'PodDisruptionBudget').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });
  });

  test('HPA on the inference_queue_depth pods metric, 4 per pod, 1 to 4 pods, 5 min scale-down window', () => {
    const hpa = only(objects, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'fraud' }, minReplicas: 1, maxReplicas: 4,
      metrics: [{ type: 'Pods', pods: { metric: { name: 'inference_queue_depth' }, target: { type: 'AverageValue', averageValue: 4 } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    });
  });

  test('the HPA owns the replica count: no spec.replicas, so an apply does not reset scaled-out pods', () => {
    expect(deployment.spec).not.toHaveProperty('replicas');
  });

  test('without a preprocessing sidecar the server\'s 8080 is the serving port', () => {
    expect(new GpuInferenceChart(cdk8s.Testing.app(), 'c', BASE).servingPort).toBe(8080);
  });

  test('the prometheus-adapter rule serves that metric per pod', () => {
    const app = cdk8s.Testing.app();
    const chart = new GpuInferenceChart(app, 'c', BASE);
    expect(chart.prometheusAdapterRule).toEqual({
      seriesQuery: 'inference_queue_depth{namespace!="",pod!=""}',
      resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
      name: { matches: '^inference_queue_depth$', as: 'inference_queue_depth' },
      metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)',
    });
    expect(QUEUE_DEPTH_METRIC).toBe(PROMETHEUS_ADAPTER_RULE.name.as);
  });

  test('the server exports the gauge the autoscalers read, one series per priority level', async () => {
    const metrics = new ServerMetrics('fraud', {
      queueDepths: () => [[1, 3], [2, 5]], ready: () => true, workersReady: () => 1, workerRestarts: () => 0,
      warmupFailures: () => 0, batchesInFlight: () => 0, inlineRuns: () => 0, predictionLog: () => ({}),
    });
    const exposition = await metrics.render();
    expect(exposition).toContain(`# TYPE ${QUEUE_DEPTH_METRIC} gauge`);
    expect(exposition).toContain(`${QUEUE_DEPTH_METRIC}{priority="1"} 3`);
    expect(exposition).toContain(`${QUEUE_DEPTH_METRIC}{priority="2"} 5`);
  });

  test('Prometheus scrape annotations, zone and host spread, created PriorityClass', () => {
    expect(deployment.spec.template.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
    const spread = (topologyKey: string) => ({ maxSkew: 1, topologyKey, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: deployment.spec.selector.matchLabels } });
    expect(pod.topologySpreadConstraints).toEqual([spread('topology.kubernetes.io/zone'), spread('kubernetes.io/hostname')]);
    const priority = only(objects, 'PriorityClass');
    expect(priority).toMatchObject({ apiVersion: 'scheduling.k8s.io/v1', metadata: { name: 'fraud-serving' }, value: 100000, globalDefault: false });
    expect(pod.priorityClassName).toBe('fraud-serving');
  });
});

describe('the server environment the chart renders, as the server reads it', () => {
  const env = (objects: Obj[]): Record<string, string> => Object.fromEntries(only(objects, 'Deployment').spec.template.spec.containers
    .find((c: any) => c.name === 'server').env.map((e: { name: string; value: string }) => [e.name, e.value]));

  test('parses without a problem, naming the downloaded model', () => {
    const config = parseInferenceServerEnvironment(env(synth({ variant: 'blue', modelVersion: '7' })), 4);
    expect(config).toMatchObject({ modelUri: '/models/model.onnx', modelName: 'fraud', modelVersion: '7', variant: 'blue', executionProvider: 'cuda' });
  });

  test('the version and variant the chart defaults to are the server\'s own defaults (the chart writes them out)', () => {
    const rendered = env(synth());
    const { [ServerVariables.MODEL_VERSION]: _version, [ServerVariables.MODEL_VARIANT]: _variant, ...unset } = rendered;
    const withDefaults = parseInferenceServerEnvironment(rendered, 4);
    const serverDefaults = parseInferenceServerEnvironment(unset, 4);
    expect(withDefaults.modelVersion).toBe(serverDefaults.modelVersion);
    expect(withDefaults.variant).toBe(serverDefaults.variant);
  });
});

describe('shared GPU, existing service account, sidecar, target group binding, KEDA', () => {
  const objects = synth({
    namespace: 'fraud',
    name: 'fraud-small',
    modelVersion: '7',
    variant: 'canary',
    modelLoadTime: Duration.seconds(42),
    serviceAccountRoleArn: undefined,
    serviceAccountName: 'model-reader',
    gpuSharing: GpuSharing.timeSlicing(4),
    instanceType: GpuInstanceType.G6_XLARGE,
    serverSettings: { workers: 2, maxBatchSize: 64, shutdownTimeout: Duration.seconds(20), drainGrace: Duration.seconds(5) },
    cpu: 0.5,
    preStopDelay: Duration.seconds(15),
    minAvailable: 1,
    priorityClassName: 'high',
    preprocessing: { image: 'registry.example.com/tokenizer:2.1', port: 9000, environment: { VOCAB: '/vocab.txt' }, cpu: 0.25 },
    targetGroupBinding: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fraud/0123456789abcdef', loadBalancerSecurityGroupId: 'sg-0123456789abcdef0' },
    autoscaling: ChartAutoscaling.keda({ prometheusServerAddress: 'http://prometheus.monitoring.svc:9090', minReplicas: 2, maxReplicas: 10, targetQueueDepth: 8, scaleDownStabilization: Duration.minutes(10) }),
  });
  const deployment = only(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const [server, sidecar] = pod.containers;

  test('valid manifests; the CRDs are exactly TargetGroupBinding and ScaledObject; no HPA, ServiceAccount or PriorityClass', () => {
    const report = validateKubernetesManifests(objects);
    expect(report.problems).toEqual([]);
    expect(report.unchecked.sort()).toEqual(['elbv2.k8s.aws/v1beta1 TargetGroupBinding', 'keda.sh/v1alpha1 ScaledObject']);
    expect(objects.map((o) => o.kind).sort()).toEqual(['Deployment', 'PodDisruptionBudget', 'ScaledObject', 'Service', 'TargetGroupBinding']);
    expect(objects.filter((o) => o.metadata?.namespace !== 'fraud')).toEqual([]);
  });

  test('time-sliced nodes, settings in the environment, memory for 2 workers, sized probes and grace', () => {
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values).toEqual(['time-slicing-4']);
    const env = Object.fromEntries(server.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ INFERENCE_MAX_BATCH_SIZE: '64', INFERENCE_WORKERS: '2', MODEL_VERSION: '7', MODEL_VARIANT: 'canary' });
    expect(server.resources.requests).toMatchObject({ memory: '2524Mi', cpu: '500m', 'nvidia.com/gpu': 1 });
    expect(server.startupProbe.failureThreshold).toBe(15);
    expect(server.lifecycle.preStop.exec.command).toEqual(['sleep', '15']);
    expect(pod.terminationGracePeriodSeconds).toBe(40);
    expect(pod.serviceAccountName).toBe('model-reader');
    expect(pod.priorityClassName).toBe('high');
    expect(only(objects, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
  });

  test('preprocessing sidecar in the pod, hardened the same way; the Service targets it', () => {
    expect(sidecar).toMatchObject({ name: 'preprocessing', image: 'registry.example.com/tokenizer:2.1', ports: [{ containerPort: 9000, name: 'preprocessing' }], env: [{ name: 'VOCAB', value: '/vocab.txt' }] });
    expect(sidecar.securityContext).toEqual(server.securityContext);
    expect(only(objects, 'Service').spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'preprocessing' }]);
  });

  test('the sidecar, which receives the traffic, keeps serving through the same preStop sleep as the server', () => {
    expect(sidecar.lifecycle.preStop).toEqual({ exec: { command: ['sleep', '15'] } });
    expect(sidecar.lifecycle).toEqual(server.lifecycle);
  });

  test('servingPort is the sidecar\'s port: where the Service, the TargetGroupBinding and the load balancer go', () => {
    const props = { ...BASE, preprocessing: { image: 'registry.example.com/tokenizer:2.1', port: 9000 } };
    expect(new GpuInferenceChart(cdk8s.Testing.app(), 'c', props).servingPort).toBe(9000);
  });

  test('KEDA owns the replica count too: no spec.replicas', () => {
    expect(deployment.spec).not.toHaveProperty('replicas');
  });

  test('TargetGroupBinding: the Service port, ip targets, the load balancer admitted on the serving port', () => {
    expect(only(objects, 'TargetGroupBinding').spec).toEqual({
      serviceRef: { name: 'fraud-small', port: 8080 },
      targetGroupARN: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fraud/0123456789abcdef',
      targetType: 'ip',
      // The sidecar's port for traffic, the server's for the load balancer's health checks.
      networking: { ingress: [{ from: [{ securityGroup: { groupID: 'sg-0123456789abcdef0' } }], ports: [{ protocol: 'TCP', port: 9000 }, { protocol: 'TCP', port: 8080 }] }] },
    });
  });

  test('KEDA ScaledObject sums the queue depth over the Deployment\'s pods', () => {
    expect(only(objects, 'ScaledObject').spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'fraud-small' },
      minReplicaCount: 2, maxReplicaCount: 10,
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 600 } } } },
      triggers: [{ type: 'prometheus', metadata: { serverAddress: 'http://prometheus.monitoring.svc:9090', query: 'sum(inference_queue_depth{namespace="fraud",pod=~"fraud-small-[a-z0-9]+-[a-z0-9]{5}"})', threshold: '8' } }],
    });
  });

  test('the pod pattern matches exactly the Deployment\'s pods, not those of a Deployment whose name extends it', () => {
    const anchored = (deployment: string) => new RegExp(`^(?:${deploymentPodPattern(deployment)})$`); // PromQL =~ is anchored
    expect(anchored('fraud').test('fraud-7d9f8c6b5-x2k4q')).toBe(true);
    expect(anchored('fraud').test('fraud-small-7d9f8c6b5-x2k4q')).toBe(false);
    expect(anchored('fraud-small').test('fraud-small-7d9f8c6b5-x2k4q')).toBe(true);
    expect(anchored('fraud-small').test('fraud-7d9f8c6b5-x2k4q')).toBe(false);
    expect(only(objects, 'ScaledObject').spec.triggers[0].metadata.query).toContain(`pod=~"${deploymentPodPattern('fraud-small')}"`);
  });
});

describe('created namespace, warm-up sample, fixed replicas', () => {
  const objects = synth({
    namespace: 'fraud', createNamespace: true, warmupSampleUri: 's3://models-bucket/fraud/v7/warmup.json', autoscaling: ChartAutoscaling.fixedReplicas(3),
  });
  const deployment = only(objects, 'Deployment');
  const pod = deployment.spec.template.spec;

  test('valid manifests; the Namespace comes first (kubectl apply -f on a clean cluster) and every other object is in it', () => {
    expect(validateKubernetesManifests(objects)).toEqual({ problems: [], unchecked: [] });
    expect(objects[0]).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fraud', labels: { [POD_READINESS_GATE_LABEL.key]: POD_READINESS_GATE_LABEL.value } } });
    expect(objects.filter((o) => o.kind !== 'Namespace' && o.kind !== 'PriorityClass' && o.metadata?.namespace !== 'fraud')).toEqual([]);
  });

  test('the Namespace carries the label that makes the AWS Load Balancer Controller inject pod readiness gates', () => {
    expect(POD_READINESS_GATE_LABEL).toEqual({ key: 'elbv2.k8s.aws/pod-readiness-gate-inject', value: 'enabled' });
  });

  test('no Namespace unless asked (the CDK path owns it)', () => {
    expect(synth({ namespace: 'fraud' }).filter((o) => o.kind === 'Namespace')).toEqual([]);
  });

  test('the warm-up sample is downloaded beside the model and named to the server', () => {
    expect(pod.initContainers.map((c: { name: string; command: string[] }) => [c.name, c.command])).toEqual([
      ['model-download', ['aws', 's3', 'cp', '--only-show-errors', BASE.modelUri, '/models/model.onnx']],
      ['warmup-sample-download', ['aws', 's3', 'cp', '--only-show-errors', 's3://models-bucket/fraud/v7/warmup.json', '/models/warmup.json']],
    ]);
    expect(pod.initContainers[1].securityContext).toEqual(pod.initContainers[0].securityContext);
    expect(pod.containers[0].env).toContainEqual({ name: 'INFERENCE_WARMUP_SAMPLE', value: '/models/warmup.json' });
  });

  test('fixed replicas: spec.replicas rendered, no autoscaler', () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject')).toEqual([]);
  });
});

describe('pods per node fit the instance\'s vCPUs', () => {
  test('catalog vCPUs', () => {
    expect([GpuInstanceType.G6_XLARGE, GpuInstanceType.G5_12XLARGE, GpuInstanceType.P4D_24XLARGE, GpuInstanceType.P5_48XLARGE].map((t) => t.vcpus)).toEqual([4, 48, 96, 192]);
    expect(GpuInstanceType.of('g4dn.metal').vcpus).toBe(96);
    expect(GpuInstanceType.of('g7.xlarge', { gpuCount: 1, gpuMemory: Size.gibibytes(32) }).vcpus).toBeUndefined();
  });

  test('time-slicing 4 with cpu 1 on a g6.xlarge (4 vCPU − 0.25 reserve) is refused, naming the numbers and the fix', () => {
    expect(errorOf({ gpuSharing: GpuSharing.timeSlicing(4), instanceType: GpuInstanceType.G6_XLARGE }))
      .toMatch(/cpu: 4 pods per g6.xlarge node × \(cpu 1\) = 4 vCPU exceeds its 4 vCPU − 0.25 system reserve = 3.75; only 3 pod\(s\) would fit .*Lower cpu to at most 0.93/);
    expect(() => synth({ cpu: 0.93, gpuSharing: GpuSharing.timeSlicing(4), instanceType: GpuInstanceType.G6_XLARGE })).not.toThrow();
  });

  test('the sidecar\'s cpu counts; MIG slices and exclusive GPUs count as slots; unknown vCPUs skip the check', () => {
    expect(errorOf({ cpu: 0.5, preprocessing: { image: 'x:1', port: 9000 }, gpuSharing: GpuSharing.mps(4), instanceType: GpuInstanceType.G6_XLARGE }))
      .toMatch(/cpu: 4 pods per g6.xlarge node × \(cpu 0.5 \+ preprocessing.cpu 0.5\) = 4 vCPU .*Lower cpu to at most 0.43 \(or lower preprocessing.cpu\)/);
    expect(errorOf({ cpu: 4, gpuSharing: GpuSharing.mig('1g.10gb'), instanceType: GpuInstanceType.P5_48XLARGE })).toMatch(/cpu: 56 pods per p5.48xlarge node × \(cpu 4\) = 224 vCPU exceeds its 192 vCPU/);
    expect(errorOf({ cpu: 13, instanceType: GpuInstanceType.G5_12XLARGE })).toMatch(/cpu: 4 pods per g5.12xlarge node × \(cpu 13\) = 52 vCPU exceeds its 48 vCPU/);
    expect(() => synth({ cpu: 11.9, instanceType: GpuInstanceType.G5_12XLARGE })).not.toThrow();
    expect(() => synth({ cpu: 8, gpuSharing: GpuSharing.timeSlicing(4), instanceType: GpuInstanceType.of('g7.xlarge', { gpuCount: 1, gpuMemory: Size.gibibytes(32) }) })).not.toThrow();
  });
});

describe('validation', () => {
  test.each<[string, Partial<GpuInferenceChartProps>, RegExp]>([
    ['modelUri not s3', { modelUri: 'https://example.com/m.onnx' }, /modelUri: .* must be s3:\/\/bucket\/key\.onnx/],
    ['modelUri not .onnx', { modelUri: 's3://models-bucket/m.pt' }, /modelUri: .* must be s3:\/\/bucket\/key\.onnx/],
    ['name not a DNS label', { name: 'Fraud_Model' }, /name: 'Fraud_Model' must be a DNS label/],
    ['model name not a DNS label', { modelName: 'Fraud' }, /name: the model name 'Fraud' is not a DNS label; set name/],
    ['namespace', { namespace: 'a.b' }, /namespace: 'a.b' must be a DNS label/],
    ['no service account', { serviceAccountRoleArn: undefined }, /serviceAccountName, serviceAccountRoleArn: give exactly one \(0 given\)/],
    ['both service accounts', { serviceAccountName: 'x' }, /give exactly one \(2 given\)/],
    ['role ARN', { serviceAccountRoleArn: 'model-reader' }, /serviceAccountRoleArn: 'model-reader' must be an IAM role ARN/],
    ['zero model size', { modelSize: Size.bytes(0) }, /modelSize: must be a positive size/],
    ['fractional load time', { modelLoadTime: Duration.millis(1500) }, /modelLoadTime: .* must be whole seconds from 1 to 3600/],
    ['gpus with sharing', { gpus: 2, gpuSharing: GpuSharing.mps(2) }, /gpus: 2 GPUs per pod need exclusive GPUs/],
    ['gpus beyond the node', { gpus: 2, instanceType: GpuInstanceType.G6_XLARGE }, /gpus: 2 must be an integer between 1 and 1/],
    ['max below min', { autoscaling: ChartAutoscaling.horizontalPodAutoscaler({ minReplicas: 3, maxReplicas: 2 }) }, /autoscaling.maxReplicas: 2 is below minReplicas 3/],
    ['zero replicas', { autoscaling: ChartAutoscaling.horizontalPodAutoscaler({ minReplicas: 0 }) }, /autoscaling.minReplicas: 0 must be an integer between 1 and 1000/],
    ['KEDA address', { autoscaling: ChartAutoscaling.keda({ prometheusServerAddress: 'prometheus:9090' }) }, /autoscaling.prometheusServerAddress: .* must be an http\(s\) URL/],
    ['minAvailable blocks drains', { minAvailable: 1 }, /minAvailable: 1 would block every node drain at 1 replica/],
    ['memory limit below request', { memory: { request: Size.gibibytes(4), limit: Size.gibibytes(2) } }, /memory.limit: 2048 MiB is below memory.request/],
    ['sidecar on the server port', { preprocessing: { image: 'x:1', port: 8080 } }, /preprocessing.port: 8080 is the server's port/],
    ['target group ARN', { targetGroupBinding: { targetGroupArn: 'fraud' } }, /targetGroupBinding.targetGroupArn: 'fraud' must be a target group ARN/],
    ['server settings', { serverSettings: { drainGrace: Duration.seconds(30) } }, /serverSettings.drainGrace \(30000\) must be below serverSettings.shutdownTimeout/],
    ['namespace to create', { createNamespace: true }, /createNamespace: no namespace to create; set namespace/],
    ['warm-up sample not s3 JSON', { warmupSampleUri: 's3://models-bucket/warmup.txt' }, /warmupSampleUri: .* must be s3:\/\/bucket\/key\.json/],
  ])('%s', (_case, props, message) => {
    expect(errorOf(props)).toMatch(message);
  });

  // Sizes are rendered as `<MiB>Mi` quantities: JavaScript writes 1e21 and above, and below 1e-6, with an exponent
  // ('2e+300Mi', '9.5367431640625e-7Mi'), which the API server refuses at apply, long after synth.
  test.each<[string, Partial<GpuInferenceChartProps>, RegExp]>([
    ['model size beyond any instance', { modelSize: Size.mebibytes(1e300) }, /modelSize: 1e\+300 MiB must be at most 32 TiB/],
    ['infinite memory request', { memory: { request: Size.tebibytes(1e303), limit: Size.tebibytes(1e303) } }, /memory.request: Infinity MiB must be at most 32 TiB/],
    ['memory limit beyond any instance', { memory: { request: Size.gibibytes(4), limit: Size.tebibytes(1e300) } }, /memory.limit: .* MiB must be at most 32 TiB/],
    ['one-byte memory request', { memory: { request: Size.bytes(1), limit: Size.gibibytes(4) } }, /memory.request: .* MiB must be at least 1 MiB/],
    ['sidecar memory beyond any instance', { preprocessing: { image: 'x:1', port: 9000, memory: Size.tebibytes(1e300) } }, /preprocessing.memory: .* MiB must be at most 32 TiB/],
  ])('sizes within what a Kubernetes quantity renders: refuses %s', (_case, props, message) => {
    expect(errorOf(props)).toMatch(message);
  });

  test('the largest sizes accepted render as plain Kubernetes quantities', () => {
    const quantity = /^[0-9]+(\.[0-9]+)?(Mi)?$/;
    const objects = synth({ modelSize: Size.tebibytes(32), serverSettings: { workers: 64 }, preprocessing: { image: 'x:1', port: 9000, memory: Size.tebibytes(32) } });
    const spec = only(objects, 'Deployment').spec.template.spec;
    const rendered = [
      ...spec.containers.flatMap((c: any) => [c.resources.requests.memory, c.resources.limits.memory]),
      ...spec.volumes.filter((v: any) => v.emptyDir).map((v: any) => v.emptyDir.sizeLimit),
    ];
    expect(rendered.length).toBeGreaterThanOrEqual(5);
    for (const value of rendered) expect(value).toMatch(quantity);
  });

  test('the model must fit in the GPU memory a pod gets', () => {
    expect(errorOf({ modelSize: Size.gibibytes(8), gpuSharing: GpuSharing.timeSlicing(4), instanceType: GpuInstanceType.G6_XLARGE }))
      .toMatch(/modelSize: 8 GiB does not fit in 24 GiB \/ 4 pods = 6 GiB per pod on g6.xlarge \(time-slicing-4\)/);
    expect(errorOf({ modelSize: Size.gibibytes(30), instanceType: GpuInstanceType.G6_XLARGE })).toMatch(/modelSize: 30 GiB does not fit in 1 × 24 GiB/);
    expect(errorOf({ modelSize: Size.gibibytes(12), gpuSharing: GpuSharing.mig('1g.10gb'), instanceType: GpuInstanceType.P5_48XLARGE }))
      .toMatch(/modelSize: 12 GiB does not fit in the 1g.10gb MIG instance's 10 GiB/);
    expect(errorOf({ gpuSharing: GpuSharing.mig('1g.10gb'), instanceType: GpuInstanceType.G6_XLARGE })).toMatch(/gpuSharing: g6.xlarge has no MIG profile 1g.10gb; its GPUs do not support MIG/);
    expect(() => synth({ modelSize: Size.gibibytes(5), cpu: 0.9, gpuSharing: GpuSharing.timeSlicing(4), instanceType: GpuInstanceType.G6_XLARGE })).not.toThrow();
  });
});

test('the example chart (as synth:k8s renders it, with its Namespace) synthesizes to valid YAML', () => {
  const app = cdk8s.Testing.app();
  const manifests = cdk8s.Testing.synth(fraudModelChart(app, 'fraud-model', { createNamespace: true })) as Obj[];
  expect(validateKubernetesManifests(manifests)).toEqual({ problems: [], unchecked: [] });
  expect(manifests[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'fraud', labels: { [POD_READINESS_GATE_LABEL.key]: POD_READINESS_GATE_LABEL.value } } });
  expect(fs.readFileSync(path.join(__dirname, '../../scripts/synth-k8s.ts'), 'utf8')).toMatch(/fraudModelChart\(app, 'fraud-model', \{ createNamespace: true \}\)/);
  expect(cdk8s.Yaml.stringify(...manifests)).toMatchSnapshot();
});

test('the main entry point (lib/index.ts) never imports cdk8s: its whole import graph', () => {
  const root = path.join(__dirname, '../..');
  const seen = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { fileName } of ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!fileName.startsWith('.')) {
        external.add(fileName);
        continue;
      }
      const base = path.resolve(path.dirname(file), fileName);
      const resolved = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
      if (resolved) visit(resolved);
    }
  };
  visit(path.join(root, 'lib/index.ts'));
  expect(seen.size).toBeGreaterThan(20);
  expect(external.has('aws-cdk-lib')).toBe(true);
  expect([...external].filter((m) => m.startsWith('cdk8s'))).toEqual([]);
  expect([...seen].filter((f) => f.includes(`${path.sep}chart${path.sep}`))).toEqual([]);
});
