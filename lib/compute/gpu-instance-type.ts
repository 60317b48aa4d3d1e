import { Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { catalogGpuCount, GpuFamilyFacts, MigProfileFacts, NVIDIA_GPU_FAMILIES, parseInstanceName } from '../private/gpu-catalog';

export type { MigProfileFacts } from '../private/gpu-catalog';

/** Facts of a GPU instance type the catalog does not know (`GpuInstanceType.of` with a new family). */
export interface GpuInstanceTypeOptions {
  /** GPUs per instance. @default - from the catalog; required for a family it does not know */
  readonly gpuCount?: number;
  /** Memory of one GPU. @default - from the catalog; required for a family it does not know */
  readonly gpuMemory?: Size;
  /** The GPU's name, e.g. `NVIDIA L4`. @default - from the catalog; 'NVIDIA GPU' for a family it does not know */
  readonly gpuModel?: string;
  /** NVMe instance storage per instance. @default - from the catalog; none for a family it does not know */
  readonly instanceStorage?: Size;
  /** vCPUs per instance. @default - from the catalog; unknown (no CPU fit check) for a size it does not know */
  readonly vcpus?: number;
}

/**
 * An EC2 instance type with NVIDIA GPUs, for EKS node groups and training fleets, with what placing work on it needs:
 * GPU count, GPU memory, MIG profiles and NVMe instance storage. The facts come from the same catalog as
 * `InferenceInstanceType` (SageMaker's `ml.` names), so both paths agree on what an instance carries.
 */
export class GpuInstanceType {
  /** g4dn.xlarge: 1 NVIDIA T4 (16 GiB), 4 vCPU, 16 GiB, 125 GB NVMe. */
  public static readonly G4DN_XLARGE = GpuInstanceType.of('g4dn.xlarge');
  /** g4dn.2xlarge: 1 NVIDIA T4 (16 GiB), 8 vCPU, 32 GiB, 225 GB NVMe. */
  public static readonly G4DN_2XLARGE = GpuInstanceType.of('g4dn.2xlarge');
  /** g5.xlarge: 1 NVIDIA A10G (24 GiB), 4 vCPU, 16 GiB, 250 GB NVMe. */
  public static readonly G5_XLARGE = GpuInstanceType.of('g5.xlarge');
  /** g5.2xlarge: 1 NVIDIA A10G (24 GiB), 8 vCPU, 32 GiB, 450 GB NVMe. */
  public static readonly G5_2XLARGE = GpuInstanceType.of('g5.2xlarge');
  /** g5.4xlarge: 1 NVIDIA A10G (24 GiB), 16 vCPU, 64 GiB, 600 GB NVMe. */
  public static readonly G5_4XLARGE = GpuInstanceType.of('g5.4xlarge');
  /** g5.12xlarge: 4 NVIDIA A10G (24 GiB each), 48 vCPU, 192 GiB, 3800 GB NVMe. */
  public static readonly G5_12XLARGE = GpuInstanceType.of('g5.12xlarge');
  /** g5.48xlarge: 8 NVIDIA A10G (24 GiB each), 192 vCPU, 768 GiB, 7600 GB NVMe. */
  public static readonly G5_48XLARGE = GpuInstanceType.of('g5.48xlarge');
  /** g6.xlarge: 1 NVIDIA L4 (24 GiB), 4 vCPU, 16 GiB, 250 GB NVMe. */
  public static readonly G6_XLARGE = GpuInstanceType.of('g6.xlarge');
  /** g6.2xlarge: 1 NVIDIA L4 (24 GiB), 8 vCPU, 32 GiB, 450 GB NVMe. */
  public static readonly G6_2XLARGE = GpuInstanceType.of('g6.2xlarge');
  /** g6.4xlarge: 1 NVIDIA L4 (24 GiB), 16 vCPU, 64 GiB, 600 GB NVMe. */
  public static readonly G6_4XLARGE = GpuInstanceType.of('g6.4xlarge');
  /** g6.12xlarge: 4 NVIDIA L4 (24 GiB each), 48 vCPU, 192 GiB, 3760 GB NVMe. */
  public static readonly G6_12XLARGE = GpuInstanceType.of('g6.12xlarge');
  /** g6e.xlarge: 1 NVIDIA L40S (48 GiB), 4 vCPU, 32 GiB, 250 GB NVMe. */
  public static readonly G6E_XLARGE = GpuInstanceType.of('g6e.xlarge');
  /** g6e.2xlarge: 1 NVIDIA L40S (48 GiB), 8 vCPU, 64 GiB, 450 GB NVMe. */
  public static readonly G6E_2XLARGE = GpuInstanceType.of('g6e.2xlarge');
  /** g6e.12xlarge: 4 NVIDIA L40S (48 GiB each), 48 vCPU, 384 GiB, 3800 GB NVMe. */
  public static readonly G6E_12XLARGE = GpuInstanceType.of('g6e.12xlarge');
  /** p4d.24xlarge: 8 NVIDIA A100 (40 GiB each, MIG), 96 vCPU, 1152 GiB, 8000 GB NVMe. */
  public static readonly P4D_24XLARGE = GpuInstanceType.of('p4d.24xlarge');
  /** p4de.24xlarge: 8 NVIDIA A100 (80 GiB each, MIG), 96 vCPU, 1152 GiB, 8000 GB NVMe. */
  public static readonly P4DE_24XLARGE = GpuInstanceType.of('p4de.24xlarge');
  /** p5.48xlarge: 8 NVIDIA H100 (80 GiB each, MIG), 192 vCPU, 2048 GiB, 30400 GB NVMe. */
  public static readonly P5_48XLARGE = GpuInstanceType.of('p5.48xlarge');
  /** p5e.48xlarge: 8 NVIDIA H200 (141 GiB each, MIG), 192 vCPU, 2048 GiB, 30400 GB NVMe. */
  public static readonly P5E_48XLARGE = GpuInstanceType.of('p5e.48xlarge');

  /**
   * Any EC2 GPU instance type by name (`g6.8xlarge`). A family the catalog does not know needs `gpuCount` and
   * `gpuMemory`; names outside the g and p classes are refused (no NVIDIA GPUs), and so are AMD (`g4ad`) and arm64
   * Graviton (`g5g`) GPU families: node groups run the x86_64 NVIDIA AMIs.
   */
  public static of(name: string, options: GpuInstanceTypeOptions = {}): GpuInstanceType {
    if (Token.isUnresolved(name)) {
      throw new Error('GpuInstanceType.of: the name is a token; GPU facts (count, memory) must be known at synth, so pass the name itself, e.g. \'g5.xlarge\'');
    }
    const parts = parseInstanceName(name);
    if (!parts || name.startsWith('ml.')) {
      throw new Error(`GpuInstanceType.of('${name}'): not an EC2 instance type; use '<family>.<size>', e.g. 'g5.xlarge' (SageMaker's 'ml.' names are InferenceInstanceType)`);
    }
    if (parts.cls !== 'g' && parts.cls !== 'p') {
      throw new Error(`GpuInstanceType.of('${name}'): the ${parts.family} family has no NVIDIA GPUs; use a g or p family, e.g. 'g5.xlarge'`);
    }
    if (/[ag]/.test(parts.attributes)) {
      throw new Error(`GpuInstanceType.of('${name}'): ${parts.family} is ${parts.attributes.includes('a') ? 'an AMD GPU family (g4ad: Radeon Pro V520)' : 'an arm64 Graviton family (g5g: T4G GPUs)'}; `
        + 'GPU node groups run the x86_64 NVIDIA AMIs (AL2023/Bottlerocket NVIDIA) and the NVIDIA device plugin, so use an x86_64 NVIDIA family, e.g. \'g5.xlarge\' or \'g6.xlarge\'');
    }
    const facts: GpuFamilyFacts | undefined = NVIDIA_GPU_FAMILIES[parts.family];
    const gpuCount = options.gpuCount ?? catalogGpuCount(parts);
    const gpuMemory = options.gpuMemory ?? (facts ? Size.gibibytes(facts.gpuMemoryGiB) : undefined);
    if (gpuCount === undefined || gpuMemory === undefined) {
      throw new Error(`GpuInstanceType.of('${name}'): the catalog does not know the ${parts.family} family; pass gpuCount and gpuMemory (AWS's instance specifications state them)`);
    }
    if (!Number.isInteger(gpuCount) || gpuCount < 1) {
      throw new Error(`GpuInstanceType.of('${name}'): gpuCount ${gpuCount} must be a whole number of GPUs, at least 1`);
    }
    if (options.vcpus !== undefined && (!Number.isInteger(options.vcpus) || options.vcpus < 1)) {
      throw new Error(`GpuInstanceType.of('${name}'): vcpus ${options.vcpus} must be a whole number of vCPUs, at least 1`);
    }
    for (const [option, size] of [['gpuMemory', options.gpuMemory], ['instanceStorage', options.instanceStorage]] as const) {
      const bytes = size === undefined || size.isUnresolved() ? undefined : size.toBytes({ rounding: SizeRoundingBehavior.NONE });
      if (bytes !== undefined && !(Number.isFinite(bytes) && bytes > 0)) {
        throw new Error(`GpuInstanceType.of('${name}'): ${option} ${size!.toString()} must be a positive, finite size, e.g. Size.gibibytes(24); leave instanceStorage out when the type has no NVMe`);
      }
    }
    const storageGb = facts?.instanceStorageGbBySize[parts.size];
    const instanceStorage = options.instanceStorage
      ?? (storageGb !== undefined ? Size.gibibytes(Math.floor(storageGb * 1e9 / 2 ** 30)) : undefined);
    return new GpuInstanceType(name, parts.family, gpuCount, gpuMemory, options.gpuModel ?? facts?.gpuModel ?? 'NVIDIA GPU',
      instanceStorage, facts?.migProfiles ?? [], options.vcpus ?? facts?.vcpusBySize[parts.size]);
  }

  private constructor(
    /** The EC2 name, e.g. `g5.xlarge`. */
    public readonly name: string,
    /** The family, e.g. `g5`. */
    public readonly family: string,
    /** GPUs per instance. */
    public readonly gpuCount: number,
    /** Memory of one GPU. */
    public readonly gpuMemory: Size,
    /** The GPU, e.g. `NVIDIA A10G`. */
    public readonly gpuModel: string,
    /** NVMe instance storage per instance (whole GiB, rounded down); undefined when it has none or it is not known. */
    public readonly instanceStorage: Size | undefined,
    /** MIG profiles the GPU supports (A100, H100, H200); empty when it does not support MIG. */
    public readonly migProfiles: readonly MigProfileFacts[],
    /** vCPUs per instance; undefined when the catalog does not know the size and `.of` was not told. */
    public readonly vcpus: number | undefined,
  ) {}

  /** Whether the GPU can be partitioned with MIG. */
  public get migCapable(): boolean {
    return this.migProfiles.length > 0;
  }

  /** The aws-ec2 instance type. */
  public toEc2(): ec2.InstanceType {
    return new ec2.InstanceType(this.name);
  }

  /** The EC2 name. */
  public toString(): string {
    return this.name;
  }
}
