/**
 * The contract between `GpuNodeGroup` (which labels and taints GPU nodes and configures how their GPUs are shared) and
 * `GpuInferenceChart` (which tolerates the taint, selects nodes by the labels and asks for the GPU resource). Plain
 * data: imported by the CDK half and the cdk8s half alike, loading neither.
 */

/** The extended resource the NVIDIA device plugin advertises, one per GPU (or per shared slot, or per MIG slice). */
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** The taint on every GPU node, so that only pods asking for GPUs (and tolerating it) land there. */
export const GPU_TAINT = { key: GPU_RESOURCE, value: 'true', effect: 'NoSchedule' } as const;

/** Node labels put by `GpuNodeGroup`. */
export const GpuNodeLabels = {
  /** `true` on every GPU node. */
  GPU: 'ml-platform/gpu',
  /** How the node's GPUs are shared: `GpuSharing.label` (`exclusive`, `time-slicing-4`, `mps-2`, `mig-1g.10gb`). */
  SHARING: 'ml-platform/gpu-sharing',
  /** The node group's name. */
  NODE_GROUP: 'ml-platform/node-group',
} as const;

/** How the GPUs of a node are shared between pods. */
export enum GpuSharingMode {
  /** One pod per GPU: full memory and fault isolation, lowest utilisation for small models. */
  EXCLUSIVE = 'exclusive',
  /**
   * The device plugin advertises each GPU `replicas` times and the pods take turns on it (context switching):
   * no memory or fault isolation (one pod can take all GPU memory or crash the others' contexts), no extra hardware.
   */
  TIME_SLICING = 'time-slicing',
  /**
   * CUDA MPS: kernels of up to `replicas` pods run concurrently on one GPU, each limited to 1/replicas of its memory
   * and compute; better throughput than time-slicing, but a fatal GPU fault in one client takes the others down.
   */
  MPS = 'mps',
  /**
   * MIG (A100, H100, H200 only): the GPU is split in hardware into isolated instances of one profile, each with its
   * own memory and compute: full isolation, fixed slice sizes, the node must be partitioned at boot.
   */
  MIG = 'mig',
}

/** Most pods one GPU is shared between with time-slicing or MPS (MPS serves at most 48 clients per GPU). */
export const MAX_SHARING_REPLICAS = 48;

/** MIG profile names as `nvidia-smi mig -lgip` prints them: `<compute slices>g.<memory>gb`. */
const MIG_PROFILE = /^[1-7]g\.\d{1,3}gb$/;

/**
 * How the GPUs of a node group are shared between pods; `GpuNodeGroup` configures the node side (device plugin or
 * Bottlerocket settings, MIG partitioning), `GpuInferenceChart` selects nodes shared the same way.
 */
export class GpuSharing {
  /** One pod per GPU (the default). */
  public static readonly EXCLUSIVE = new GpuSharing(GpuSharingMode.EXCLUSIVE, 1, undefined);

  /** Each GPU advertised `replicas` times (2 to 48), pods taking turns; no memory or fault isolation. */
  public static timeSlicing(replicas: number): GpuSharing {
    return new GpuSharing(GpuSharingMode.TIME_SLICING, checkedReplicas('timeSlicing', replicas), undefined);
  }

  /** CUDA MPS between `replicas` pods per GPU (2 to 48), each limited to 1/replicas of its memory (AL2023 nodes only). */
  public static mps(replicas: number): GpuSharing {
    return new GpuSharing(GpuSharingMode.MPS, checkedReplicas('mps', replicas), undefined);
  }

  /**
   * Every GPU partitioned into MIG instances of `profile` (e.g. `1g.10gb` on A100 80 GB and H100, `1g.5gb` on A100
   * 40 GB): one pod per instance, isolated in hardware. The node group checks the profile against its GPUs.
   */
  public static mig(profile: string): GpuSharing {
    if (!MIG_PROFILE.test(profile)) {
      throw new Error(`GpuSharing.mig('${profile}'): not a MIG profile; use '<slices>g.<memory>gb' as nvidia-smi names it, e.g. '1g.10gb'`);
    }
    return new GpuSharing(GpuSharingMode.MIG, 1, profile);
  }

  private constructor(
    /** The sharing mode. */
    public readonly mode: GpuSharingMode,
    /** Pods per GPU for time-slicing and MPS; 1 otherwise (MIG: the profile says how many per GPU). */
    public readonly replicas: number,
    /** The MIG profile, for `GpuSharingMode.MIG`. */
    public readonly migProfile: string | undefined,
  ) {}

  /** The value of the `GpuNodeLabels.SHARING` node label: `exclusive`, `time-slicing-4`, `mps-2`, `mig-1g.10gb`. */
  public get label(): string {
    switch (this.mode) {
      case GpuSharingMode.EXCLUSIVE: return 'exclusive';
      case GpuSharingMode.MIG: return `mig-${this.migProfile}`;
      default: return `${this.mode}-${this.replicas}`;
    }
  }
}

function checkedReplicas(factory: string, replicas: number): number {
  if (!Number.isInteger(replicas) || replicas < 2 || replicas > MAX_SHARING_REPLICAS) {
    throw new Error(`GpuSharing.${factory}(${replicas}): replicas must be a whole number from 2 to ${MAX_SHARING_REPLICAS} (pods per GPU); use GpuSharing.EXCLUSIVE for one`);
  }
  return replicas;
}
