/**
 * The NVIDIA add-ons GPU node groups install, rendered as plain Kubernetes objects (no cdk8s: CDK-only users never
 * load it): the device plugin (AL2023 nodes; Bottlerocket ships its own), its MPS control daemon, and the DCGM
 * exporter. Images are pinned by version tag (digests cannot be looked up offline; pin a digest in your registry
 * mirror for immutability).
 */
import { GPU_RESOURCE, GPU_TAINT, GpuNodeLabels, GpuSharing, GpuSharingMode } from './gpu-scheduling';

/** A Kubernetes object as added to the cluster. */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

/** The NVIDIA device plugin image (v0.17.x supports per-node configs, time-slicing, MPS and MIG). */
export const DEVICE_PLUGIN_IMAGE = 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1';
/** The DCGM exporter image. */
export const DCGM_EXPORTER_IMAGE = 'nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04';
/** Port the DCGM exporter serves Prometheus metrics on. */
export const DCGM_EXPORTER_PORT = 9400;

/** Node label naming the device plugin config a node uses (an entry of the config map): the node's sharing label. */
export const DEVICE_PLUGIN_CONFIG_LABEL = 'nvidia.com/device-plugin.config';
/** Node label naming the AMI family (`GpuAmiFamily.label`): the device plugin runs only where it is `al2023-nvidia`. */
export const AMI_FAMILY_LABEL = 'ml-platform/gpu-ami-family';
/** `AMI_FAMILY_LABEL` of AL2023 NVIDIA nodes, which need the device plugin. */
export const AL2023_NVIDIA_LABEL = 'al2023-nvidia';

const NAMESPACE = 'kube-system';
const DEVICE_PLUGIN = 'nvidia-device-plugin';
const MPS_CONTROL_DAEMON = 'nvidia-device-plugin-mps-control-daemon';
const DCGM_EXPORTER = 'dcgm-exporter';
const MPS_ROOT = '/run/nvidia/mps';
const CONFIG_FILE = '/config/config.yaml';
const GPU_TOLERATION = { key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect };
const AL2023_GPU_NODES = { [GpuNodeLabels.GPU]: 'true', [AMI_FAMILY_LABEL]: AL2023_NVIDIA_LABEL };

/** The device plugin's config file (JSON, which its YAML reader accepts) for nodes shared as `sharing`. */
export function devicePluginConfig(sharing: GpuSharing): string {
  const resources = [{ name: GPU_RESOURCE, replicas: sharing.replicas }];
  const config = {
    version: 'v1',
    flags: { migStrategy: sharing.mode === GpuSharingMode.MIG ? 'single' : 'none' },
    ...(sharing.mode === GpuSharingMode.TIME_SLICING ? { sharing: { timeSlicing: { renameByDefault: false, failRequestsGreaterThanOne: true, resources } } } : {}),
    ...(sharing.mode === GpuSharingMode.MPS ? { sharing: { mps: { renameByDefault: false, resources } } } : {}),
  };
  return JSON.stringify(config);
}

/** The config-manager container that copies the node's config (chosen by its label) to where the plugin reads it. */
function configManager(name: string, oneshot: boolean, processToSignal: string): Record<string, unknown> {
  return {
    name, image: DEVICE_PLUGIN_IMAGE, command: ['config-manager'],
    env: [
      { name: 'ONESHOT', value: String(oneshot) },
      { name: 'KUBECONFIG', value: '' },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'NODE_LABEL', value: DEVICE_PLUGIN_CONFIG_LABEL },
      { name: 'CONFIG_FILE_SRCDIR', value: '/available-configs' },
      { name: 'CONFIG_FILE_DST', value: CONFIG_FILE },
      { name: 'DEFAULT_CONFIG', value: GpuSharing.EXCLUSIVE.label },
      { name: 'FALLBACK_STRATEGIES', value: 'named,single' },
      { name: 'SEND_SIGNAL', value: String(!oneshot) },
      { name: 'SIGNAL', value: '1' },
      { name: 'PROCESS_TO_SIGNAL', value: processToSignal },
    ],
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'available-configs', mountPath: '/available-configs' }, { name: 'config', mountPath: '/config' }],
  };
}

/** The host's MPS root and its shared memory, mounted by the device plugin and the MPS control daemon alike. */
const MPS_VOLUMES = [
  { name: 'mps-root', hostPath: { path: MPS_ROOT, type: 'DirectoryOrCreate' } },
  { name: 'mps-shm', hostPath: { path: `${MPS_ROOT}/shm` } },
];

const CONFIG_VOLUMES = [
  { name: 'available-configs', configMap: { name: `${DEVICE_PLUGIN}-configs` } },
  { name: 'config', emptyDir: {} },
];

/** A kube-system DaemonSet on GPU nodes: critical priority, tolerating the GPU taint. */
function daemonSet(name: string, nodeSelector: Record<string, string>, podSpec: Record<string, unknown>, affinity?: unknown): KubernetesObject {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace: NAMESPACE, labels },
    spec: {
      selector: { matchLabels: labels },
      updateStrategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels },
        spec: { priorityClassName: 'system-node-critical', tolerations: [GPU_TOLERATION], nodeSelector, ...(affinity ? { affinity } : {}), ...podSpec },
      },
    },
  };
}

/**
 * The device plugin on AL2023 NVIDIA GPU nodes, with one config per sharing in `sharings` (config map entries named
 * by `GpuSharing.label`), each node picking its own by its `DEVICE_PLUGIN_CONFIG_LABEL`; the service account may
 * read nodes (their labels), nothing else.
 */
export function devicePluginManifests(sharings: readonly GpuSharing[]): KubernetesObject[] {
  const privileged = sharings.some((s) => s.mode === GpuSharingMode.MIG); // MIG devices are monitored through the driver
  const meta = { name: DEVICE_PLUGIN };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { ...meta, namespace: NAMESPACE } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: DEVICE_PLUGIN },
      subjects: [{ kind: 'ServiceAccount', name: DEVICE_PLUGIN, namespace: NAMESPACE }],
    },
    {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${DEVICE_PLUGIN}-configs`, namespace: NAMESPACE },
      data: Object.fromEntries([GpuSharing.EXCLUSIVE, ...sharings].map((s) => [s.label, devicePluginConfig(s)])),
    },
    daemonSet(DEVICE_PLUGIN, AL2023_GPU_NODES, {
      serviceAccountName: DEVICE_PLUGIN,
      shareProcessNamespace: true,
      initContainers: [configManager('config-manager-init', true, DEVICE_PLUGIN)],
      containers: [
        {
          name: DEVICE_PLUGIN, image: DEVICE_PLUGIN_IMAGE, command: ['nvidia-device-plugin'],
          env: [
            { name: 'CONFIG_FILE', value: CONFIG_FILE },
            { name: 'MPS_ROOT', value: MPS_ROOT },
            { name: 'NVIDIA_MIG_MONITOR_DEVICES', value: 'all' },
            { name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' },
            { name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' },
          ],
          securityContext: privileged ? { privileged: true } : { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          volumeMounts: [
            { name: 'device-plugin', mountPath: '/var/lib/kubelet/device-plugins' },
            // As upstream's daemonset-device-plugin.yml: the MPS root at /mps and its shm at /dev/shm (MPS_ROOT keeps
            // naming the host path the plugin hands to pods); without them the plugin waits for the MPS daemon forever.
            { name: 'mps-shm', mountPath: '/dev/shm' },
            { name: 'mps-root', mountPath: '/mps' },
            { name: 'cdi-root', mountPath: '/var/run/cdi' },
            { name: 'config', mountPath: '/config' },
          ],
        },
        configManager('config-manager', false, DEVICE_PLUGIN),
      ],
      volumes: [
        { name: 'device-plugin', hostPath: { path: '/var/lib/kubelet/device-plugins' } },
        ...MPS_VOLUMES,
        { name: 'cdi-root', hostPath: { path: '/var/run/cdi', type: 'DirectoryOrCreate' } },
        ...CONFIG_VOLUMES,
      ],
    }),
  ];
}

/**
 * The MPS control daemon the device plugin's MPS sharing needs, on AL2023 nodes whose config is one of `mpsLabels`
 * (the sharing labels of the MPS node groups). Privileged with the host's PID namespace: it starts the MPS server.
 */
export function mpsControlDaemonManifest(mpsLabels: readonly string[]): KubernetesObject {
  const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: DEVICE_PLUGIN_CONFIG_LABEL, operator: 'In', values: [...mpsLabels] }] }] } } };
  return daemonSet(MPS_CONTROL_DAEMON, AL2023_GPU_NODES, {
    serviceAccountName: DEVICE_PLUGIN,
    shareProcessNamespace: true,
    hostPID: true,
    initContainers: [
      configManager('config-manager-init', true, 'mps-control-daemon'),
      { name: 'mps-control-daemon-mounts', image: DEVICE_PLUGIN_IMAGE, command: ['mps-control-daemon', 'mount-shm'], securityContext: { privileged: true }, volumeMounts: [{ name: 'mps-root', mountPath: '/mps', mountPropagation: 'Bidirectional' }] },
    ],
    containers: [
      {
        name: 'mps-control-daemon', image: DEVICE_PLUGIN_IMAGE, command: ['mps-control-daemon'],
        env: [
          { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'CONFIG_FILE', value: CONFIG_FILE },
          { name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' },
          { name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' },
        ],
        securityContext: { privileged: true },
        volumeMounts: [{ name: 'mps-shm', mountPath: '/dev/shm' }, { name: 'mps-root', mountPath: '/mps' }, { name: 'config', mountPath: '/config' }],
      },
      configManager('config-manager', false, 'mps-control-daemon'),
    ],
    volumes: [
      ...MPS_VOLUMES,
      ...CONFIG_VOLUMES,
    ],
  }, affinity);
}

/**
 * The DCGM exporter on every GPU node (both AMI families) and a Service annotated for Prometheus scraping
 * (`prometheus.io/scrape`, port 9400): per-GPU utilisation, memory, temperature and XID errors, by pod.
 *
 * The exporter runs privileged, as the NVIDIA GPU operator runs it. It must see every GPU of the node without
 * allocating them through the device plugin (the serving pods hold them), which takes `NVIDIA_VISIBLE_DEVICES=all`.
 * Bottlerocket honours that variable for privileged containers only
 * (`settings.nvidia-container-runtime.visible-devices-envvar-when-unprivileged` defaults to false): an unprivileged
 * exporter sees no GPU there. Turning that setting on instead would let ANY pod on the node reach every GPU by
 * setting the variable, bypassing the device plugin's allocation; privilege for this one kube-system DaemonSet
 * (no service account token) is the narrower grant.
 */
export function dcgmExporterManifests(): KubernetesObject[] {
  const labels = { 'app.kubernetes.io/name': DCGM_EXPORTER };
  return [
    daemonSet(DCGM_EXPORTER, { [GpuNodeLabels.GPU]: 'true' }, {
      automountServiceAccountToken: false,
      containers: [{
        name: DCGM_EXPORTER, image: DCGM_EXPORTER_IMAGE,
        env: [
          { name: 'DCGM_EXPORTER_LISTEN', value: `:${DCGM_EXPORTER_PORT}` },
          { name: 'DCGM_EXPORTER_KUBERNETES', value: 'true' },
          { name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' },
        ],
        ports: [{ name: 'metrics', containerPort: DCGM_EXPORTER_PORT, protocol: 'TCP' }],
        securityContext: { privileged: true },
        readinessProbe: { httpGet: { path: '/health', port: DCGM_EXPORTER_PORT }, initialDelaySeconds: 15 },
        volumeMounts: [{ name: 'pod-resources', mountPath: '/var/lib/kubelet/pod-resources', readOnly: true }],
      }],
      volumes: [{ name: 'pod-resources', hostPath: { path: '/var/lib/kubelet/pod-resources' } }],
    }),
    {
      apiVersion: 'v1', kind: 'Service',
      metadata: {
        name: DCGM_EXPORTER, namespace: NAMESPACE, labels,
        annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(DCGM_EXPORTER_PORT), 'prometheus.io/path': '/metrics' },
      },
      spec: { selector: labels, ports: [{ name: 'metrics', port: DCGM_EXPORTER_PORT, targetPort: DCGM_EXPORTER_PORT, protocol: 'TCP' }] },
    },
  ];
}
