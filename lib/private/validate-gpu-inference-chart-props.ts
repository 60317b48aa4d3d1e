import { Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import type { GpuInferenceChartProps } from '../kubernetes/chart/props';
import { GpuSharing, GpuSharingMode } from '../kubernetes/gpu-scheduling';
import { NUMERIC_SETTINGS } from '../../runtime/contracts/inference-server';
import { concreteSeconds, environmentProblems, rangeProblems } from './validation';

/** The server's port: its default `PORT`. */
export const SERVER_PORT = NUMERIC_SETTINGS.port.default!;

/**
 * vCPUs per node kept for the kubelet, the container runtime and the system DaemonSets (CNI, kube-proxy, device
 * plugin) when checking that a node's pods fit its CPUs: EKS reserves about 0.08 of a 4-vCPU node and the DaemonSets
 * request about 0.15 more.
 */
export const SYSTEM_CPU_RESERVE = 0.25;

/** Default CPU request of the server, cores. */
export const DEFAULT_SERVER_CPU = 1;
/** Default CPU request of the preprocessing sidecar, cores. */
export const DEFAULT_SIDECAR_CPU = 0.5;

/** A DNS label (RFC 1035: what Service names need): lowercase letters, digits, '-', starting with a letter. */
const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS subdomain (RFC 1123), for names of service accounts and priority classes. */
const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;
/** `s3://bucket/key` (the `.onnx` ending is checked apart: no adjacent unbounded quantifiers). */
const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+$/;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const TARGET_GROUP_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[\w-]{1,32}\/[0-9a-f]{16}$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
const IMAGE = /^[^\s]{1,1024}$/;

/** The object name the chart uses: `name`, else the model name. */
export function chartObjectName(props: Pick<GpuInferenceChartProps, 'name' | 'modelName'>): string {
  return props.name ?? props.modelName;
}

/** Every problem of `GpuInferenceChart` props, each naming the prop and the fix. */
export function gpuInferenceChartPropsProblems(props: GpuInferenceChartProps): string[] {
  return [
    ...nameProblems(props), ...modelProblems(props), ...serviceAccountProblems(props), ...gpuProblems(props),
    ...resourceProblems(props), ...cpuFitProblems(props), ...autoscalingProblems(props), ...sidecarProblems(props), ...bindingProblems(props),
    ...(props.createNamespace && props.namespace === undefined ? ['createNamespace: no namespace to create; set namespace, or leave createNamespace off'] : []),
  ];
}

function matches(prop: string, value: string | undefined, pattern: RegExp, what: string): string[] {
  if (value === undefined || Token.isUnresolved(value)) return [];
  return typeof value === 'string' && value.length <= 2048 && pattern.test(value) ? [] : [`${prop}: '${String(value).slice(0, 100)}' must be ${what}`];
}

function nameProblems(props: GpuInferenceChartProps): string[] {
  const dnsLabel = 'a DNS label: lowercase letters, digits and \'-\', starting with a letter, at most 63 characters';
  return [
    ...(props.name === undefined && !DNS_LABEL.test(props.modelName) && MODEL_NAME.test(props.modelName)
      ? [`name: the model name '${props.modelName}' is not a DNS label; set name to ${dnsLabel}`] : []),
    ...matches('name', props.name, DNS_LABEL, dnsLabel),
    ...matches('namespace', props.namespace, DNS_LABEL, dnsLabel),
    ...matches('priorityClassName', props.priorityClassName, DNS_SUBDOMAIN, 'a DNS subdomain (RFC 1123): lowercase letters, digits, \'-\' and \'.\''),
  ];
}

function modelProblems(props: GpuInferenceChartProps): string[] {
  return [
    ...matches('image', props.image, IMAGE, 'an image reference without spaces, pinned by tag or digest'),
    ...(Token.isUnresolved(props.modelUri) || (S3_URI.test(props.modelUri) && props.modelUri.endsWith('.onnx') && props.modelUri.length <= 1024) ? []
      : [`modelUri: '${String(props.modelUri).slice(0, 100)}' must be s3://bucket/key.onnx (the init container downloads it)`]),
    ...matches('modelName', props.modelName, MODEL_NAME, 'letters, digits, \'_\', \'.\' or \'-\', at most 128 characters'),
    ...matches('modelVersion', props.modelVersion, MODEL_NAME, 'letters, digits, \'_\', \'.\' or \'-\', at most 128 characters'),
    ...matches('variant', props.variant, MODEL_NAME, 'letters, digits, \'_\', \'.\' or \'-\', at most 128 characters'),
    ...(props.warmupSampleUri === undefined || Token.isUnresolved(props.warmupSampleUri)
      || (S3_URI.test(props.warmupSampleUri) && props.warmupSampleUri.endsWith('.json') && props.warmupSampleUri.length <= 1024) ? []
      : [`warmupSampleUri: '${String(props.warmupSampleUri).slice(0, 100)}' must be s3://bucket/key.json (an inference request the init container downloads beside the model)`]),
    ...positiveSize('modelSize', props.modelSize),
    ...secondsProblems('modelLoadTime', props.modelLoadTime, 1, 3600, 'how long the server takes from start to ready'),
  ];
}

function serviceAccountProblems(props: GpuInferenceChartProps): string[] {
  const given = [props.serviceAccountName, props.serviceAccountRoleArn].filter((x) => x !== undefined).length;
  return [
    ...(given === 1 ? [] : [`serviceAccountName, serviceAccountRoleArn: give exactly one (${given} given): the model download from ${props.modelUri} needs an IRSA service account`]),
    ...matches('serviceAccountName', props.serviceAccountName, DNS_SUBDOMAIN, 'a DNS subdomain (RFC 1123): lowercase letters, digits, \'-\' and \'.\''),
    ...matches('serviceAccountRoleArn', props.serviceAccountRoleArn, ROLE_ARN, 'an IAM role ARN, arn:aws:iam::<account>:role/<name>'),
  ];
}

function gpuProblems(props: GpuInferenceChartProps): string[] {
  const sharing = props.gpuSharing ?? GpuSharing.EXCLUSIVE;
  const gpus = props.gpus ?? 1;
  const problems = rangeProblems('gpus', gpus, { min: 1, max: props.instanceType?.gpuCount ?? 8, integer: true });
  if (gpus !== 1 && sharing.mode !== GpuSharingMode.EXCLUSIVE) {
    problems.push(`gpus: ${gpus} GPUs per pod need exclusive GPUs; use gpus 1 with gpuSharing ${sharing.label}, or GpuSharing.EXCLUSIVE`);
  }
  const type = props.instanceType;
  if (!type || props.modelSize.isUnresolved()) return problems;
  const model = gib(props.modelSize);
  const gpuGiB = gib(type.gpuMemory);
  let share: number;
  let what: string;
  if (sharing.mode === GpuSharingMode.MIG) {
    const profile = type.migProfiles.find((p) => p.name === sharing.migProfile);
    if (!profile) {
      const known = type.migProfiles.map((p) => p.name).join(', ');
      return [...problems, `gpuSharing: ${type.name} has no MIG profile ${sharing.migProfile}; ${known ? `use one of ${known}` : 'its GPUs do not support MIG: use EXCLUSIVE, timeSlicing or mps'}`];
    }
    [share, what] = [profile.memoryGiB, `the ${profile.name} MIG instance's ${profile.memoryGiB} GiB`];
  } else if (sharing.mode === GpuSharingMode.EXCLUSIVE) {
    [share, what] = [gpuGiB * gpus, `${gpus} × ${gpuGiB} GiB of ${type.name}'s ${type.gpuModel}`];
  } else {
    [share, what] = [gpuGiB / sharing.replicas, `${gpuGiB} GiB / ${sharing.replicas} pods = ${round(gpuGiB / sharing.replicas)} GiB per pod on ${type.name} (${sharing.label})`];
  }
  if (model > share) {
    problems.push(`modelSize: ${round(model)} GiB does not fit in ${what}; share the GPU between fewer pods, use a larger profile or instance, or GpuSharing.EXCLUSIVE`);
  }
  return problems;
}

/** Pods of this chart one node of `instanceType` holds: its GPUs × pods per GPU (or ÷ GPUs per pod). */
function podsPerNode(props: GpuInferenceChartProps): number | undefined {
  const type = props.instanceType;
  if (!type) return undefined;
  const sharing = props.gpuSharing ?? GpuSharing.EXCLUSIVE;
  switch (sharing.mode) {
    case GpuSharingMode.EXCLUSIVE: return Math.floor(type.gpuCount / (props.gpus ?? 1));
    case GpuSharingMode.MIG: return type.gpuCount * (type.migProfiles.find((p) => p.name === sharing.migProfile)?.perGpu ?? 1);
    default: return type.gpuCount * sharing.replicas;
  }
}

/** The pods a node holds must fit its vCPUs less the system reserve, or GPU slots stay unused. */
function cpuFitProblems(props: GpuInferenceChartProps): string[] {
  const vcpus = props.instanceType?.vcpus;
  const pods = podsPerNode(props);
  const cpu = props.cpu ?? DEFAULT_SERVER_CPU;
  const sidecarCpu = props.preprocessing ? props.preprocessing.cpu ?? DEFAULT_SIDECAR_CPU : 0;
  if (vcpus === undefined || !pods || !(cpu > 0) || !(sidecarCpu >= 0)) return [];
  const available = vcpus - SYSTEM_CPU_RESERVE;
  const podCpu = cpu + sidecarCpu;
  if (pods * podCpu <= available) return [];
  const most = Math.floor((available / pods - sidecarCpu) * 100) / 100;
  const sidecar = sidecarCpu ? ` + preprocessing.cpu ${sidecarCpu}` : '';
  const shared = (props.gpuSharing ?? GpuSharing.EXCLUSIVE).mode !== GpuSharingMode.EXCLUSIVE;
  const fix = most > 0 ? `lower cpu to at most ${most}${sidecarCpu ? ' (or lower preprocessing.cpu)' : ''}` : 'lower preprocessing.cpu';
  return [`cpu: ${pods} pods per ${props.instanceType!.name} node × (cpu ${cpu}${sidecar}) = ${round(pods * podCpu)} vCPU exceeds its ${vcpus} vCPU − ${SYSTEM_CPU_RESERVE} system reserve = ${available}; only ${Math.floor(available / podCpu)} pod(s) would fit and GPU slots stay unused. ${fix[0].toUpperCase()}${fix.slice(1)}${shared ? ', share the GPU between fewer pods' : ''}, or use a larger instance`];
}

function resourceProblems(props: GpuInferenceChartProps): string[] {
  const problems = [
    ...rangeProblems('cpu', props.cpu, { min: 0.001, max: 192 }),
    ...secondsProblems('preStopDelay', props.preStopDelay, 0, 120, 'the endpoint deregistration delay before SIGTERM'),
    ...rangeProblems('minAvailable', props.minAvailable, { min: 0, integer: true }),
  ];
  const { memory } = props;
  if (memory) {
    problems.push(...positiveSize('memory.request', memory.request, 1), ...positiveSize('memory.limit', memory.limit, 1));
    if (!memory.request.isUnresolved() && !memory.limit.isUnresolved() && mib(memory.limit) < mib(memory.request)) {
      problems.push(`memory.limit: ${memory.limit.toMebibytes({ rounding: SizeRoundingBehavior.NONE })} MiB is below memory.request; raise it to at least the request`);
    }
  }
  const minReplicas = props.autoscaling?.options.minReplicas ?? 1;
  if (props.minAvailable !== undefined && props.minAvailable >= minReplicas) {
    problems.push(`minAvailable: ${props.minAvailable} would block every node drain at ${minReplicas} replica(s); keep it below autoscaling minReplicas`);
  }
  return problems;
}

function autoscalingProblems(props: GpuInferenceChartProps): string[] {
  const scaling = props.autoscaling;
  if (!scaling) return [];
  const { minReplicas = 1, maxReplicas = 4, targetQueueDepth, scaleDownStabilization } = scaling.options;
  return [
    ...rangeProblems('autoscaling.minReplicas', minReplicas, { min: 1, max: 1000, integer: true }),
    ...rangeProblems('autoscaling.maxReplicas', maxReplicas, { min: 1, max: 1000, integer: true }),
    ...(maxReplicas < minReplicas ? [`autoscaling.maxReplicas: ${maxReplicas} is below minReplicas ${minReplicas}; raise maxReplicas`] : []),
    ...rangeProblems('autoscaling.targetQueueDepth', targetQueueDepth, { min: 1, max: 65536, integer: true }),
    ...secondsProblems('autoscaling.scaleDownStabilization', scaleDownStabilization, 0, 3600, 'the HPA\'s range'),
    ...matches('autoscaling.prometheusServerAddress', scaling.prometheusServerAddress, /^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'an http(s) URL of the Prometheus server, e.g. http://prometheus-server.monitoring.svc'),
  ];
}

function sidecarProblems(props: GpuInferenceChartProps): string[] {
  const sidecar = props.preprocessing;
  if (!sidecar) return [];
  return [
    ...matches('preprocessing.image', sidecar.image, IMAGE, 'an image reference without spaces, pinned by tag or digest'),
    ...rangeProblems('preprocessing.port', sidecar.port, { min: 1, max: 65535, integer: true }),
    ...(sidecar.port === SERVER_PORT ? [`preprocessing.port: ${SERVER_PORT} is the server's port in the same pod; choose another`] : []),
    ...rangeProblems('preprocessing.cpu', sidecar.cpu, { min: 0.001, max: 192 }),
    ...(sidecar.memory ? positiveSize('preprocessing.memory', sidecar.memory, 1) : []),
    ...environmentProblems('preprocessing.environment', sidecar.environment, { taken: new Map(), maxValueLength: 32_768 }),
  ];
}

function bindingProblems(props: GpuInferenceChartProps): string[] {
  const binding = props.targetGroupBinding;
  if (!binding) return [];
  return [
    ...matches('targetGroupBinding.targetGroupArn', binding.targetGroupArn, TARGET_GROUP_ARN, 'a target group ARN, arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>'),
    ...matches('targetGroupBinding.loadBalancerSecurityGroupId', binding.loadBalancerSecurityGroupId, SECURITY_GROUP_ID, 'a security group ID, sg-…'),
  ];
}

function secondsProblems(prop: string, duration: Parameters<typeof concreteSeconds>[0], min: number, max: number, what: string): string[] {
  const seconds = concreteSeconds(duration);
  return seconds === undefined || (Number.isInteger(seconds) && seconds >= min && seconds <= max) ? []
    : [`${prop}: ${duration!.toHumanString()} must be whole seconds from ${min} to ${max} (${what})`];
}

/**
 * Largest size the chart accepts, MiB: 32 TiB, the memory of the largest EC2 instance. Sizes render as `<MiB>Mi`
 * quantities, and JavaScript writes a number from 1e21 with an exponent (`2e+300Mi`), which the API server refuses;
 * a model this size with 64 workers still derives a request of about 2.2e9 MiB.
 */
const MAX_SIZE_MIB = 32 * 2 ** 20;

/**
 * `size` positive and at most 32 TiB; sizes rendered as given (container memory) at least `minMiB`, as JavaScript
 * writes a number below 1e-6 with an exponent (`9.5367431640625e-7Mi` for one byte).
 */
function positiveSize(prop: string, size: Size, minMiB = 0): string[] {
  if (size.isUnresolved()) return [];
  const sizeMiB = mib(size);
  if (!(sizeMiB > 0)) return [`${prop}: must be a positive size, e.g. Size.mebibytes(500)`];
  if (sizeMiB > MAX_SIZE_MIB) return [`${prop}: ${sizeMiB} MiB must be at most 32 TiB (the largest EC2 instance's memory)`];
  return sizeMiB < minMiB ? [`${prop}: ${sizeMiB} MiB must be at least ${minMiB} MiB`] : [];
}

/** MiB of a Size, fractions kept. */
export function mib(size: Size): number {
  return size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
}

function gib(size: Size): number {
  return size.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
