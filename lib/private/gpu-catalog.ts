/**
 * One catalog of accelerated instance facts, read by every construct that picks instances: SageMaker endpoints
 * (`InferenceInstanceType`, `ml.g5.xlarge`), EKS node groups and training fleets (`GpuInstanceType`, `g5.xlarge`).
 * Facts are AWS's published instance specifications; a type missing here can still be used through `.of()` with the
 * facts given explicitly.
 */

/** A MIG (Multi-Instance GPU) profile of a GPU model, and how many instances of it one GPU holds. */
export interface MigProfileFacts {
  /** Profile name as `nvidia-smi mig -lgip` prints it, e.g. `1g.10gb`. */
  readonly name: string;
  /** Instances of this profile one GPU is partitioned into (all of one profile). */
  readonly perGpu: number;
  /** GPU memory of one instance, GiB (rounded as the profile name says). */
  readonly memoryGiB: number;
}

/** What a GPU family's instances carry. */
export interface GpuFamilyFacts {
  /** The GPU, e.g. `NVIDIA A10G`. */
  readonly gpuModel: string;
  /** Memory of one GPU, GiB. */
  readonly gpuMemoryGiB: number;
  /** GPUs per instance by size; sizes not listed have one. */
  readonly gpusBySize: Readonly<Record<string, number>>;
  /** vCPUs per instance by size (AWS's instance specifications). */
  readonly vcpusBySize: Readonly<Record<string, number>>;
  /** NVMe instance storage per instance by size, GB (decimal, as AWS states it); empty when the family has none. */
  readonly instanceStorageGbBySize: Readonly<Record<string, number>>;
  /** MIG profiles, when the GPU supports MIG (A100, H100, H200); empty otherwise. */
  readonly migProfiles: readonly MigProfileFacts[];
}

const A100_40GB_MIG: MigProfileFacts[] = [
  { name: '1g.5gb', perGpu: 7, memoryGiB: 5 }, { name: '2g.10gb', perGpu: 3, memoryGiB: 10 },
  { name: '3g.20gb', perGpu: 2, memoryGiB: 20 }, { name: '7g.40gb', perGpu: 1, memoryGiB: 40 },
];
const GPU_80GB_MIG: MigProfileFacts[] = [
  { name: '1g.10gb', perGpu: 7, memoryGiB: 10 }, { name: '1g.20gb', perGpu: 4, memoryGiB: 20 },
  { name: '2g.20gb', perGpu: 3, memoryGiB: 20 }, { name: '3g.40gb', perGpu: 2, memoryGiB: 40 },
  { name: '7g.80gb', perGpu: 1, memoryGiB: 80 },
];
const H200_MIG: MigProfileFacts[] = [
  { name: '1g.18gb', perGpu: 7, memoryGiB: 18 }, { name: '1g.35gb', perGpu: 4, memoryGiB: 35 },
  { name: '2g.35gb', perGpu: 3, memoryGiB: 35 }, { name: '3g.71gb', perGpu: 2, memoryGiB: 71 },
  { name: '7g.141gb', perGpu: 1, memoryGiB: 141 },
];

/** Sizes of the g5/g6/g6e families with several GPUs. */
const G_MULTI_GPU = { '12xlarge': 4, '24xlarge': 4, '48xlarge': 8 };

/** vCPUs of the g4dn/g5/g6/g6e sizes. */
const G_VCPUS = { 'xlarge': 4, '2xlarge': 8, '4xlarge': 16, '8xlarge': 32, '12xlarge': 48, '16xlarge': 64 };
/** vCPUs of the g5/g6/g6e sizes beyond g4dn's. */
const G_LARGE_VCPUS = { ...G_VCPUS, '24xlarge': 96, '48xlarge': 192 };

/** NVIDIA GPU families by family name (`g5`, `p4d`), the same for EC2 and SageMaker (`ml.` prefix). */
export const NVIDIA_GPU_FAMILIES: Readonly<Record<string, GpuFamilyFacts>> = {
  g4dn: {
    gpuModel: 'NVIDIA T4', gpuMemoryGiB: 16, gpusBySize: { '12xlarge': 4, metal: 8 }, vcpusBySize: { ...G_VCPUS, metal: 96 },
    instanceStorageGbBySize: { 'xlarge': 125, '2xlarge': 225, '4xlarge': 225, '8xlarge': 900, '12xlarge': 900, '16xlarge': 900, 'metal': 1800 },
    migProfiles: [],
  },
  g5: {
    gpuModel: 'NVIDIA A10G', gpuMemoryGiB: 24, gpusBySize: G_MULTI_GPU, vcpusBySize: G_LARGE_VCPUS,
    instanceStorageGbBySize: { 'xlarge': 250, '2xlarge': 450, '4xlarge': 600, '8xlarge': 900, '12xlarge': 3800, '16xlarge': 1900, '24xlarge': 3800, '48xlarge': 7600 },
    migProfiles: [],
  },
  g6: {
    gpuModel: 'NVIDIA L4', gpuMemoryGiB: 24, gpusBySize: G_MULTI_GPU, vcpusBySize: G_LARGE_VCPUS,
    instanceStorageGbBySize: { 'xlarge': 250, '2xlarge': 450, '4xlarge': 600, '8xlarge': 900, '12xlarge': 3760, '16xlarge': 1880, '24xlarge': 3760, '48xlarge': 7520 },
    migProfiles: [],
  },
  g6e: {
    gpuModel: 'NVIDIA L40S', gpuMemoryGiB: 48, gpusBySize: G_MULTI_GPU, vcpusBySize: G_LARGE_VCPUS,
    instanceStorageGbBySize: { 'xlarge': 250, '2xlarge': 450, '4xlarge': 600, '8xlarge': 900, '12xlarge': 3800, '16xlarge': 1900, '24xlarge': 3800, '48xlarge': 7600 },
    migProfiles: [],
  },
  p3: { gpuModel: 'NVIDIA V100', gpuMemoryGiB: 16, gpusBySize: { '8xlarge': 4, '16xlarge': 8 }, vcpusBySize: { '2xlarge': 8, '8xlarge': 32, '16xlarge': 64 }, instanceStorageGbBySize: {}, migProfiles: [] },
  p3dn: { gpuModel: 'NVIDIA V100', gpuMemoryGiB: 32, gpusBySize: { '24xlarge': 8 }, vcpusBySize: { '24xlarge': 96 }, instanceStorageGbBySize: { '24xlarge': 1800 }, migProfiles: [] },
  p4d: { gpuModel: 'NVIDIA A100', gpuMemoryGiB: 40, gpusBySize: { '24xlarge': 8 }, vcpusBySize: { '24xlarge': 96 }, instanceStorageGbBySize: { '24xlarge': 8000 }, migProfiles: A100_40GB_MIG },
  p4de: { gpuModel: 'NVIDIA A100', gpuMemoryGiB: 80, gpusBySize: { '24xlarge': 8 }, vcpusBySize: { '24xlarge': 96 }, instanceStorageGbBySize: { '24xlarge': 8000 }, migProfiles: GPU_80GB_MIG },
  p5: { gpuModel: 'NVIDIA H100', gpuMemoryGiB: 80, gpusBySize: { '48xlarge': 8 }, vcpusBySize: { '48xlarge': 192 }, instanceStorageGbBySize: { '48xlarge': 30400 }, migProfiles: GPU_80GB_MIG },
  p5e: { gpuModel: 'NVIDIA H200', gpuMemoryGiB: 141, gpusBySize: { '48xlarge': 8 }, vcpusBySize: { '48xlarge': 192 }, instanceStorageGbBySize: { '48xlarge': 30400 }, migProfiles: H200_MIG },
  p5en: { gpuModel: 'NVIDIA H200', gpuMemoryGiB: 141, gpusBySize: { '48xlarge': 8 }, vcpusBySize: { '48xlarge': 192 }, instanceStorageGbBySize: { '48xlarge': 30400 }, migProfiles: H200_MIG },
};

/**
 * Families whose instances carry NVMe instance storage although their name has no 'd' attribute
 * (m5d, c6id, g4dn and p4d carry it and say so).
 */
const NVME_FAMILIES_WITHOUT_D = new Set(['g5', 'g6', 'g6e', 'p5', 'p5e', 'p5en', 'trn1', 'trn1n']);

/** Matches `<class><generation><attributes>.<size>` (EC2 names; SageMaker's without their `ml.` prefix). */
const INSTANCE_NAME = /^([a-z]+)(\d+)([a-z-]*)\.([a-z0-9-]+)$/;

/** An instance name split into its parts. */
export interface InstanceNameParts {
  /** Instance class letters: `g`, `p`, `inf`, `m`. */
  readonly cls: string;
  /** Family: class, generation and attributes, e.g. `g6e`. */
  readonly family: string;
  /** Attribute letters after the generation, e.g. `dn` of g4dn. */
  readonly attributes: string;
  /** Size, e.g. `xlarge`. */
  readonly size: string;
}

/** The parts of an EC2-style name (`g5.xlarge`), or undefined when it is not one. */
export function parseInstanceName(name: string): InstanceNameParts | undefined {
  const match = INSTANCE_NAME.exec(name);
  if (!match) return undefined;
  const [, cls, generation, attributes, size] = match;
  return { cls, family: `${cls}${generation}${attributes}`, attributes, size };
}

/** Whether instances of a family carry NVMe instance storage. */
export function hasInstanceStorage(parts: InstanceNameParts): boolean {
  return parts.attributes.includes('d') || NVME_FAMILIES_WITHOUT_D.has(parts.family);
}

/** GPUs per instance for a known NVIDIA GPU family, else undefined. */
export function catalogGpuCount(parts: InstanceNameParts): number | undefined {
  const facts = NVIDIA_GPU_FAMILIES[parts.family];
  return facts ? facts.gpusBySize[parts.size] ?? 1 : undefined;
}
