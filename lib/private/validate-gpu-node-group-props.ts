/**
 * Validation of `GpuNodeGroup` props: every problem at once, each naming the prop and the fix; tokens are skipped
 * (checked at deploy). Internal: not exported from lib/index.ts.
 */
import { Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import { CapacityType } from 'aws-cdk-lib/aws-eks-v2';
import { GpuNodeLabels, GpuSharing, GpuSharingMode } from '../kubernetes/gpu-scheduling';
import type { GpuNodeGroupProps } from '../kubernetes/gpu-node-group';
import { rangeProblems } from './validation';

/** EKS's default quota of nodes per managed node group. */
export const MAX_NODES_PER_NODE_GROUP = 450;
/** Smallest root volume: GPU serving images (CUDA runtime, frameworks) take 5-10 GB each, compressed. */
export const MIN_ROOT_VOLUME_GIB = 50;
/** Largest gp3 volume. */
const MAX_ROOT_VOLUME_GIB = 16_384;
/** Node group names EKS accepts. */
const NODEGROUP_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$/;
/** Kubernetes label keys (optional DNS prefix + name) and non-empty values. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/**
 * Longest label key and value EKS's CreateNodegroup accepts: 63 characters for the WHOLE key, prefix included
 * (Kubernetes itself allows a 253-character prefix); values 1 to 63 (Kubernetes allows empty ones, EKS does not).
 */
export const MAX_EKS_LABEL_LENGTH = 63;

/** What the validator needs beyond the props. */
export interface GpuNodeGroupContext {
  /** The AMI family's name as the prop's constant is spelled, and whether it is AL2 or Bottlerocket. */
  readonly amiFamily: { readonly name: string; readonly al2: boolean; readonly bottlerocket: boolean };
  /** Label keys the construct sets itself. */
  readonly reservedLabels: readonly string[];
}

/** Every problem of `props`. */
export function gpuNodeGroupProblems(props: GpuNodeGroupProps, context: GpuNodeGroupContext): string[] {
  return [
    ...instanceTypeProblems(props),
    ...amiFamilyProblems(context),
    ...sizeProblems(props),
    ...sharingProblems(props, context),
    ...labelProblems(props, context),
    ...rangeProblems('metadataHopLimit', props.metadataHopLimit, { min: 1, max: 64, integer: true }),
    ...rootVolumeProblems(props.rootVolumeSize),
    ...(props.nodegroupName !== undefined && !Token.isUnresolved(props.nodegroupName) && !NODEGROUP_NAME.test(props.nodegroupName)
      ? [`nodegroupName: '${props.nodegroupName}' must be 1-63 letters, digits, '-' or '_', starting with a letter or digit (also the ${GpuNodeLabels.NODE_GROUP} label value)`] : []),
  ];
}

function instanceTypeProblems(props: GpuNodeGroupProps): string[] {
  const types = props.instanceTypes ?? [];
  if (types.length === 0) return ['instanceTypes: give at least one GPU instance type, e.g. [GpuInstanceType.G6_XLARGE]'];
  const problems: string[] = [];
  const shapes = new Set(types.map((t) => `${t.gpuCount} x ${t.gpuMemory.toGibibytes({ rounding: SizeRoundingBehavior.NONE })} GiB`));
  if (shapes.size > 1) {
    problems.push(`instanceTypes: ${types.map((t) => `${t.name} (${t.gpuCount} x ${t.gpuMemory.toGibibytes({ rounding: SizeRoundingBehavior.NONE })} GiB GPU)`).join(', ')} differ in GPU count or GPU memory; `
      + 'pods are sized for one shape, so give types with the same GPUs (e.g. g5.xlarge and g6.xlarge) or one node group per shape');
  }
  const names = types.map((t) => t.name);
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicates.length > 0) problems.push(`instanceTypes: ${[...new Set(duplicates)].join(', ')} given twice; list each type once`);
  if (props.capacityType === CapacityType.SPOT && new Set(names).size < 2) {
    problems.push('capacityType: SPOT needs at least 2 instance types (several spot capacity pools, so one reclaimed pool does not empty the node group); add e.g. GpuInstanceType.G6_XLARGE next to G5_XLARGE, or use ON_DEMAND');
  }
  if (props.capacityType === CapacityType.CAPACITY_BLOCK) {
    problems.push('capacityType: CAPACITY_BLOCK needs a capacity reservation this construct does not manage; use ON_DEMAND or SPOT');
  }
  return problems;
}

function amiFamilyProblems(context: GpuNodeGroupContext): string[] {
  return context.amiFamily.al2
    ? ['amiFamily: AL2 GPU AMIs reached end of support (EKS publishes no AL2 AMIs for Kubernetes 1.33+, and none after November 2025); use GpuAmiFamily.AL2023_NVIDIA (drivers and container toolkit; the node group adds the device plugin) or GpuAmiFamily.BOTTLEROCKET_NVIDIA']
    : [];
}

function sizeProblems(props: GpuNodeGroupProps): string[] {
  const problems = [
    ...rangeProblems('minSize', props.minSize, { min: 0, max: MAX_NODES_PER_NODE_GROUP, integer: true }),
    ...rangeProblems('maxSize', props.maxSize, { min: 1, max: MAX_NODES_PER_NODE_GROUP, integer: true }),
    ...rangeProblems('desiredSize', props.desiredSize, { min: 0, max: MAX_NODES_PER_NODE_GROUP, integer: true }),
  ];
  if (problems.length > 0) return problems;
  const [min, max] = [props.minSize ?? 1, props.maxSize];
  const desired = props.desiredSize ?? min;
  if ([min, max, desired].some((n) => Token.isUnresolved(n))) return [];
  if (min > max) problems.push(`minSize: ${min} must be <= maxSize (${max})`);
  else if (desired < min || desired > max) problems.push(`desiredSize: ${desired} must lie between minSize (${min}) and maxSize (${max})`);
  return problems;
}

function sharingProblems(props: GpuNodeGroupProps, context: GpuNodeGroupContext): string[] {
  const sharing = props.gpuSharing ?? GpuSharing.EXCLUSIVE;
  const family = context.amiFamily;
  if (sharing.mode === GpuSharingMode.MPS && family.bottlerocket) {
    return [`gpuSharing: MPS is not configured on ${family.name} nodes (its bundled device plugin is set up here for time-slicing only); use GpuAmiFamily.AL2023_NVIDIA for MPS, or GpuSharing.timeSlicing(n)`];
  }
  if (sharing.mode !== GpuSharingMode.MIG) return [];
  if (family.bottlerocket) {
    return [`gpuSharing: MIG is not configured on ${family.name} nodes (its MIG profile setting is keyed by GPU model, which this construct cannot confirm); use GpuAmiFamily.AL2023_NVIDIA for MIG`];
  }
  return (props.instanceTypes ?? []).flatMap((type) => {
    if (!type.migCapable) return [`gpuSharing: ${type.name} (${type.gpuModel}) does not support MIG; use A100/H100/H200 types (p4d, p4de, p5, p5e) or GpuSharing.timeSlicing(n)`];
    return type.migProfiles.some((p) => p.name === sharing.migProfile) ? []
      : [`gpuSharing: MIG profile ${sharing.migProfile} does not exist on ${type.name} (${type.gpuModel}); use one of ${type.migProfiles.map((p) => p.name).join(', ')}`];
  });
}

function labelProblems(props: GpuNodeGroupProps, context: GpuNodeGroupContext): string[] {
  return Object.entries(props.labels ?? {}).flatMap(([key, value]) => {
    if (context.reservedLabels.includes(key)) return [`labels: '${key}' is set by the node group itself; remove it (see gpuSharing and nodegroupName)`];
    if (!LABEL_KEY.test(key)) return [`labels: '${key}' is not a Kubernetes label key ([prefix/]name, name 1-63 alphanumerics, '-', '_', '.')`];
    if (key.length > MAX_EKS_LABEL_LENGTH) {
      return [`labels: '${key}' is ${key.length} characters; EKS node group label keys, prefix included, take at most ${MAX_EKS_LABEL_LENGTH}: shorten the prefix or the name`];
    }
    if (Token.isUnresolved(value) || (typeof value === 'string' && LABEL_VALUE.test(value))) return [];
    return [`labels.${key}: '${value}' is not an EKS node label value (1 to ${MAX_EKS_LABEL_LENGTH} alphanumerics, '-', '_', '.', starting and ending alphanumeric; EKS refuses empty values)`];
  });
}

function rootVolumeProblems(size: Size | undefined): string[] {
  if (size === undefined || Token.isUnresolved(size.toGibibytes({ rounding: SizeRoundingBehavior.NONE }))) return [];
  const gib = size.toGibibytes({ rounding: SizeRoundingBehavior.NONE });
  return Number.isInteger(gib) && gib >= MIN_ROOT_VOLUME_GIB && gib <= MAX_ROOT_VOLUME_GIB ? []
    : [`rootVolumeSize: ${gib} GiB must be whole GiB between ${MIN_ROOT_VOLUME_GIB} and ${MAX_ROOT_VOLUME_GIB} (GPU serving images take 5-10 GB each; gp3's maximum)`];
}
