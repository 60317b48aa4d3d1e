import { Token } from 'aws-cdk-lib';
import { catalogGpuCount, hasInstanceStorage, parseInstanceName } from '../private/gpu-catalog';

/** The accelerator an instance carries, and an inference image is built for. */
export enum InferenceAccelerator {
  /** CPU only. */
  NONE = 'NONE',
  /** NVIDIA GPUs (CUDA): the ml.g* and ml.p* families. */
  NVIDIA_GPU = 'NVIDIA_GPU',
  /** AWS Inferentia / Trainium (Neuron SDK): the ml.inf* and ml.trn* families. */
  AWS_NEURON = 'AWS_NEURON',
}

/** Options for a custom instance type. */
export interface InferenceInstanceTypeOptions {
  /**
   * GPUs per instance; normalizes GPU utilisation scaling (CloudWatch reports the sum over the instance's GPUs).
   * @default - from the GPU catalog (lib/private/gpu-catalog.ts) for the g4dn, g5, g6, g6e, p3, p3dn, p4d, p4de and p5*
   *   families; otherwise 1 for GPU families and 0 for the others
   */
  readonly gpuCount?: number;
}

/**
 * A SageMaker real-time inference instance type, with what the constructs need to know about it: its accelerator,
 * whether it is burstable (no autoscaling) and whether it has NVMe instance storage (no volume KMS key).
 * Use the constants, or `InferenceInstanceType.of('ml.x.y')` for any other type.
 */
export class InferenceInstanceType {
  /** ml.t2.medium: 2 vCPU, 4 GiB, burstable: development only, no autoscaling. */
  public static readonly T2_MEDIUM = InferenceInstanceType.of('ml.t2.medium');
  /** ml.m5.large: 2 vCPU, 8 GiB. */
  public static readonly M5_LARGE = InferenceInstanceType.of('ml.m5.large');
  /** ml.m5.xlarge: 4 vCPU, 16 GiB. */
  public static readonly M5_XLARGE = InferenceInstanceType.of('ml.m5.xlarge');
  /** ml.m6i.large: 2 vCPU, 8 GiB. */
  public static readonly M6I_LARGE = InferenceInstanceType.of('ml.m6i.large');
  /** ml.m6i.xlarge: 4 vCPU, 16 GiB. */
  public static readonly M6I_XLARGE = InferenceInstanceType.of('ml.m6i.xlarge');
  /** ml.c5.xlarge: 4 vCPU, 8 GiB. */
  public static readonly C5_XLARGE = InferenceInstanceType.of('ml.c5.xlarge');
  /** ml.c6i.large: 2 vCPU, 4 GiB. */
  public static readonly C6I_LARGE = InferenceInstanceType.of('ml.c6i.large');
  /** ml.c6i.xlarge: 4 vCPU, 8 GiB. */
  public static readonly C6I_XLARGE = InferenceInstanceType.of('ml.c6i.xlarge');
  /** ml.c6i.2xlarge: 8 vCPU, 16 GiB. */
  public static readonly C6I_2XLARGE = InferenceInstanceType.of('ml.c6i.2xlarge');
  /** ml.c7i.xlarge: 4 vCPU, 8 GiB. */
  public static readonly C7I_XLARGE = InferenceInstanceType.of('ml.c7i.xlarge');
  /** ml.g4dn.xlarge: 1 NVIDIA T4, 4 vCPU, 16 GiB, NVMe instance storage. */
  public static readonly G4DN_XLARGE = InferenceInstanceType.of('ml.g4dn.xlarge');
  /** ml.g4dn.2xlarge: 1 NVIDIA T4, 8 vCPU, 32 GiB, NVMe instance storage. */
  public static readonly G4DN_2XLARGE = InferenceInstanceType.of('ml.g4dn.2xlarge');
  /** ml.g4dn.12xlarge: 4 NVIDIA T4, 48 vCPU, 192 GiB, NVMe instance storage. */
  public static readonly G4DN_12XLARGE = InferenceInstanceType.of('ml.g4dn.12xlarge');
  /** ml.g5.xlarge: 1 NVIDIA A10G, 4 vCPU, 16 GiB, NVMe instance storage. */
  public static readonly G5_XLARGE = InferenceInstanceType.of('ml.g5.xlarge');
  /** ml.g5.2xlarge: 1 NVIDIA A10G, 8 vCPU, 32 GiB, NVMe instance storage. */
  public static readonly G5_2XLARGE = InferenceInstanceType.of('ml.g5.2xlarge');
  /** ml.g5.4xlarge: 1 NVIDIA A10G, 16 vCPU, 64 GiB, NVMe instance storage. */
  public static readonly G5_4XLARGE = InferenceInstanceType.of('ml.g5.4xlarge');
  /** ml.g5.12xlarge: 4 NVIDIA A10G, 48 vCPU, 192 GiB, NVMe instance storage. */
  public static readonly G5_12XLARGE = InferenceInstanceType.of('ml.g5.12xlarge');
  /** ml.g5.48xlarge: 8 NVIDIA A10G, 192 vCPU, 768 GiB, NVMe instance storage. */
  public static readonly G5_48XLARGE = InferenceInstanceType.of('ml.g5.48xlarge');
  /** ml.g6.xlarge: 1 NVIDIA L4, 4 vCPU, 16 GiB, NVMe instance storage. */
  public static readonly G6_XLARGE = InferenceInstanceType.of('ml.g6.xlarge');
  /** ml.g6.2xlarge: 1 NVIDIA L4, 8 vCPU, 32 GiB, NVMe instance storage. */
  public static readonly G6_2XLARGE = InferenceInstanceType.of('ml.g6.2xlarge');
  /** ml.g6e.xlarge: 1 NVIDIA L40S, 4 vCPU, 32 GiB, NVMe instance storage. */
  public static readonly G6E_XLARGE = InferenceInstanceType.of('ml.g6e.xlarge');
  /** ml.p3.2xlarge: 1 NVIDIA V100, 8 vCPU, 61 GiB. */
  public static readonly P3_2XLARGE = InferenceInstanceType.of('ml.p3.2xlarge');
  /** ml.p4d.24xlarge: 8 NVIDIA A100, 96 vCPU, 1152 GiB, NVMe instance storage. */
  public static readonly P4D_24XLARGE = InferenceInstanceType.of('ml.p4d.24xlarge');
  /** ml.p5.48xlarge: 8 NVIDIA H100, 192 vCPU, 2 TiB, NVMe instance storage. */
  public static readonly P5_48XLARGE = InferenceInstanceType.of('ml.p5.48xlarge');
  /** ml.inf2.xlarge: 1 AWS Inferentia2, 4 vCPU, 16 GiB (needs a Neuron-compiled image). */
  public static readonly INF2_XLARGE = InferenceInstanceType.of('ml.inf2.xlarge');
  /** ml.inf2.8xlarge: 1 AWS Inferentia2, 32 vCPU, 128 GiB (needs a Neuron-compiled image). */
  public static readonly INF2_8XLARGE = InferenceInstanceType.of('ml.inf2.8xlarge');

  /**
   * Any SageMaker instance type by name. Throws unless the name looks like `ml.<family>.<size>`, e.g. `ml.g5.xlarge`.
   * A token is accepted as is; nothing is then known about the type and checks that need it are skipped.
   */
  public static of(name: string, options: InferenceInstanceTypeOptions = {}): InferenceInstanceType {
    if (Token.isUnresolved(name)) return new InferenceInstanceType(name, InferenceAccelerator.NONE, false, false, 0, true);
    const parts = name.startsWith('ml.') ? parseInstanceName(name.slice(3)) : undefined;
    if (!parts) {
      throw new Error(`InferenceInstanceType.of('${name}'): not a SageMaker instance type; use 'ml.<family>.<size>', e.g. 'ml.g5.xlarge' or 'ml.c6i.xlarge'`);
    }
    const { cls } = parts;
    const accelerator = cls === 'g' || cls === 'p' ? InferenceAccelerator.NVIDIA_GPU
      : cls === 'inf' || cls === 'trn' ? InferenceAccelerator.AWS_NEURON : InferenceAccelerator.NONE;
    const gpuCount = options.gpuCount
      ?? (accelerator === InferenceAccelerator.NVIDIA_GPU ? catalogGpuCount(parts) ?? 1 : 0);
    if (!Number.isInteger(gpuCount) || gpuCount < 0) {
      throw new Error(`InferenceInstanceType.of('${name}'): gpuCount ${gpuCount} must be a non-negative integer`);
    }
    const instanceStorage = hasInstanceStorage(parts);
    return new InferenceInstanceType(name, accelerator, cls === 't', instanceStorage, gpuCount, false);
  }

  private constructor(
    /** The SageMaker name, e.g. `ml.g5.xlarge`. */
    public readonly name: string,
    /** The accelerator of the instance. */
    public readonly accelerator: InferenceAccelerator,
    /** Burstable (T family): SageMaker refuses autoscaling on these. */
    public readonly burstable: boolean,
    /**
     * NVMe instance storage, hardware-encrypted: SageMaker refuses a volume KMS key for endpoint configs that use
     * such types.
     */
    public readonly instanceStorage: boolean,
    /** GPUs per instance (0 without NVIDIA GPUs). */
    public readonly gpuCount: number,
    /** The name is a token: nothing is known about the type. */
    public readonly unresolved: boolean,
  ) {}

  /** Whether the instance has NVIDIA GPUs. */
  public get gpu(): boolean {
    return this.accelerator === InferenceAccelerator.NVIDIA_GPU;
  }

  /** The SageMaker name. */
  public toString(): string {
    return this.name;
  }
}
