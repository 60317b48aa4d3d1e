import { Fn, Lazy, Names, Size, SizeRoundingBehavior, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { GpuInstanceType } from '../compute/gpu-instance-type';
import { gpuNodeGroupProblems } from '../private/validate-gpu-node-group-props';
import { throwIfProblems } from '../private/validation';
import { GPU_TAINT, GpuNodeLabels, GpuSharing, GpuSharingMode } from './gpu-scheduling';
import { al2023UserData, bottlerocketUserData, NodeBootstrapOptions } from './node-bootstrap';
import {
  AL2023_NVIDIA_LABEL, AMI_FAMILY_LABEL, dcgmExporterManifests, DEVICE_PLUGIN_CONFIG_LABEL, devicePluginManifests, KubernetesObject,
  mpsControlDaemonManifest,
} from './nvidia-addons';

/** The AMI family of GPU nodes, which decides how the GPUs are set up. */
export class GpuAmiFamily {
  /** EKS-optimized Amazon Linux 2023 with NVIDIA drivers and container toolkit; the node group adds the device plugin. */
  public static readonly AL2023_NVIDIA = new GpuAmiFamily('AL2023_NVIDIA', eks.NodegroupAmiType.AL2023_X86_64_NVIDIA, AL2023_NVIDIA_LABEL, '/dev/xvda');
  /** Bottlerocket NVIDIA: drivers and the device plugin ship in the image; configured through TOML settings. */
  public static readonly BOTTLEROCKET_NVIDIA = new GpuAmiFamily('BOTTLEROCKET_NVIDIA', eks.NodegroupAmiType.BOTTLEROCKET_X86_64_NVIDIA, 'bottlerocket-nvidia', '/dev/xvdb');
  /**
   * Amazon Linux 2 GPU: refused. AL2 AMIs reached end of support (EKS publishes none for Kubernetes 1.33+ and none
   * after November 2025); it exists only so that the refusal can explain this. Use AL2023_NVIDIA.
   */
  public static readonly AL2_GPU = new GpuAmiFamily('AL2_GPU', eks.NodegroupAmiType.AL2_X86_64_GPU, 'al2-gpu', '/dev/xvda');

  private constructor(
    /** The constant's name. */
    public readonly name: string,
    /** The managed node group's AMI type. */
    public readonly amiType: eks.NodegroupAmiType,
    /** The value of the AMI family node label (`ml-platform/gpu-ami-family`). */
    public readonly label: string,
    /** The block device holding container images and kubelet data (Bottlerocket's data volume, not its OS volume). */
    public readonly dataDeviceName: string,
  ) {}
}

/** Properties of a `GpuNodeGroup`. */
export interface GpuNodeGroupProps {
  /** The EKS cluster (aws-eks-v2) the nodes join; it needs a kubectl provider for the NVIDIA add-ons. */
  readonly cluster: eks.ICluster;
  /**
   * Instance types, all with the same GPU count and GPU memory (pods are sized for one shape). Several types give
   * spot several capacity pools.
   */
  readonly instanceTypes: GpuInstanceType[];
  /** The AMI family. @default GpuAmiFamily.AL2023_NVIDIA */
  readonly amiFamily?: GpuAmiFamily;
  /**
   * ON_DEMAND or SPOT (at least 2 instance types). Managed node groups drain spot nodes on EC2 rebalance
   * recommendations (Capacity Rebalancing) before the interruption: nothing extra to install.
   * @default eks.CapacityType.ON_DEMAND
   */
  readonly capacityType?: eks.CapacityType;
  /**
   * Fewest nodes. 0 lets the group empty, but scaling it up from zero needs a node autoscaler that knows the nodes'
   * GPU slots (see the class's notes).
   * @default 1
   */
  readonly minSize?: number;
  /** Most nodes (at most 450, EKS's default quota per node group). */
  readonly maxSize: number;
  /** Nodes at creation. @default - minSize */
  readonly desiredSize?: number;
  /** Root volume (gp3, encrypted; Bottlerocket's data volume): images and, without NVMe, the model cache. At least 50 GiB. @default Size.gibibytes(100) */
  readonly rootVolumeSize?: Size;
  /**
   * How the nodes' GPUs are shared between pods. MIG needs MIG-capable types offering the profile and AL2023;
   * MPS needs AL2023; time-slicing works on both families.
   * @default GpuSharing.EXCLUSIVE
   */
  readonly gpuSharing?: GpuSharing;
  /** Run the DCGM exporter (GPU metrics for Prometheus, port 9400) on the cluster's GPU nodes (once per cluster). @default false */
  readonly dcgmExporter?: boolean;
  /** Extra node labels (the GPU, sharing, node group and AMI family labels are set by the node group). @default - none */
  readonly labels?: Record<string, string>;
  /** Subnets of the nodes. @default - the cluster's private subnets */
  readonly subnets?: ec2.SubnetSelection;
  /** The node group's name (also the `ml-platform/node-group` label). @default - a name generated from the construct path */
  readonly nodegroupName?: string;
  /**
   * The nodes' role. @default - a role with AmazonEKSWorkerNodePolicy, AmazonEC2ContainerRegistryPullOnly and
   * AmazonEKS_CNI_Policy, the three policies EKS nodes need
   */
  readonly nodeRole?: iam.IRole;
  /**
   * IMDSv2 hop limit. 1 keeps pods (one network hop further) from the node's instance credentials: pods use IRSA.
   * Raise to 2 only for pods that must read instance metadata.
   * @default 1
   */
  readonly metadataHopLimit?: number;
}

/**
 * An EKS managed node group of NVIDIA GPU instances: tainted `nvidia.com/gpu=true:NoSchedule`, labelled with the
 * `GpuNodeLabels` a `GpuInferenceChart` selects, IMDSv2 required, an encrypted gp3 root volume sized for GPU images,
 * NVMe instance storage under containerd and kubelet (so emptyDir model caches) when the types have it, and the GPU
 * sharing set up for its AMI family. AL2023 nodes get the NVIDIA device plugin (once per cluster, one config per
 * sharing, each node picking its own by label); Bottlerocket ships it. Optionally the DCGM exporter.
 *
 * What the cluster must run besides (not installed here):
 * - Node autoscaling: nothing here scales the node group between `minSize` and `maxSize`; run the Cluster Autoscaler
 *   (auto-discovering managed node groups) or Karpenter. The Cluster Autoscaler reads a managed node group's labels
 *   and taints from EKS for scale-from-zero, and a GPU count from its instance type, but not the shared slots
 *   (time-slicing, MPS, MIG advertise `gpuSlotsPerNode`): that takes the ASG tag
 *   `k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu`, which this construct cannot set (an EKS node
 *   group's `tags` do not propagate to its Auto Scaling group): keep `minSize` at 1 or more (the default) for shared
 *   GPUs, or tag the ASG out of band.
 * - Pod metrics and logs: the DCGM exporter and the inference server expose Prometheus metrics that nothing scrapes
 *   until a Prometheus runs (with prometheus-adapter, or KEDA, for the chart's queue-depth autoscaling); container
 *   logs (and the server's EMF lines on stdout) reach CloudWatch only through the Amazon CloudWatch Observability
 *   add-on or a log agent. Alarm on what does reach CloudWatch: the gateway's metrics (`ModelMonitoring`).
 */
export class GpuNodeGroup extends Construct {
  /** The managed node group. */
  public readonly nodegroup: eks.Nodegroup;
  /** How the nodes' GPUs are shared. */
  public readonly gpuSharing: GpuSharing;
  /** The labels on every node of the group. */
  public readonly nodeLabels: Record<string, string>;
  /** The instance types. */
  public readonly instanceTypes: GpuInstanceType[];
  /** GPUs per node. */
  public readonly gpusPerNode: number;
  /** `nvidia.com/gpu` a node advertises: GPUs x time-slicing/MPS replicas, or GPUs x MIG instances per GPU. */
  public readonly gpuSlotsPerNode: number;
  /** The node group's name. */
  public readonly nodegroupName: string;

  constructor(scope: Construct, id: string, props: GpuNodeGroupProps) {
    super(scope, id);
    const amiFamily = props.amiFamily ?? GpuAmiFamily.AL2023_NVIDIA;
    const al2023 = amiFamily === GpuAmiFamily.AL2023_NVIDIA;
    const reservedLabels = [GpuNodeLabels.GPU, GpuNodeLabels.SHARING, GpuNodeLabels.NODE_GROUP, AMI_FAMILY_LABEL, DEVICE_PLUGIN_CONFIG_LABEL];
    throwIfProblems(this, gpuNodeGroupProblems(props, {
      amiFamily: { name: amiFamily.name, al2: amiFamily === GpuAmiFamily.AL2_GPU, bottlerocket: amiFamily === GpuAmiFamily.BOTTLEROCKET_NVIDIA },
      reservedLabels,
    }));

    this.instanceTypes = [...props.instanceTypes];
    this.gpuSharing = props.gpuSharing ?? GpuSharing.EXCLUSIVE;
    this.gpusPerNode = this.instanceTypes[0].gpuCount;
    const migInstancesPerGpu = this.gpuSharing.mode === GpuSharingMode.MIG
      ? this.instanceTypes[0].migProfiles.find((p) => p.name === this.gpuSharing.migProfile)!.perGpu : undefined;
    this.gpuSlotsPerNode = this.gpusPerNode * (migInstancesPerGpu ?? this.gpuSharing.replicas);
    this.nodegroupName = props.nodegroupName ?? Names.uniqueResourceName(this, { maxLength: 63, separator: '-' });
    this.nodeLabels = {
      ...props.labels,
      [GpuNodeLabels.GPU]: 'true',
      [GpuNodeLabels.SHARING]: this.gpuSharing.label,
      [GpuNodeLabels.NODE_GROUP]: this.nodegroupName,
      [AMI_FAMILY_LABEL]: amiFamily.label,
      ...(al2023 ? { [DEVICE_PLUGIN_CONFIG_LABEL]: this.gpuSharing.label } : {}),
    };

    const bootstrap: NodeBootstrapOptions = {
      localStorage: this.instanceTypes.every((t) => t.instanceStorage !== undefined),
      sharing: this.gpuSharing,
      migInstancesPerGpu,
    };
    const userData = al2023 ? al2023UserData(bootstrap) : bottlerocketUserData(bootstrap);
    const rootGiB = (props.rootVolumeSize ?? Size.gibibytes(100)).toGibibytes({ rounding: SizeRoundingBehavior.NONE });
    const launchTemplate = new ec2.CfnLaunchTemplate(this, 'LaunchTemplate', {
      launchTemplateData: {
        metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: props.metadataHopLimit ?? 1 },
        blockDeviceMappings: [{ deviceName: amiFamily.dataDeviceName, ebs: { volumeType: 'gp3', volumeSize: rootGiB, encrypted: true, deleteOnTermination: true } }],
        ...(userData ? { userData: Fn.base64(userData) } : {}),
      },
    });

    this.nodegroup = new eks.Nodegroup(this, 'Nodegroup', {
      cluster: props.cluster,
      nodegroupName: this.nodegroupName,
      amiType: amiFamily.amiType,
      capacityType: props.capacityType ?? eks.CapacityType.ON_DEMAND,
      minSize: props.minSize ?? 1,
      maxSize: props.maxSize,
      desiredSize: props.desiredSize ?? props.minSize ?? 1,
      subnets: props.subnets,
      labels: this.nodeLabels,
      taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: eks.TaintEffect.NO_SCHEDULE }],
      launchTemplateSpec: { id: launchTemplate.ref, version: launchTemplate.attrLatestVersionNumber },
      nodeRole: props.nodeRole ?? this.createNodeRole(),
    });
    // Set on the resource: aws-eks-v2's own instance-type check does not know every GPU family (p5 among them).
    (this.nodegroup.node.defaultChild as eks.CfnNodegroup).instanceTypes = this.instanceTypes.map((t) => t.name);

    if (al2023) NvidiaAddons.of(props.cluster).addDevicePluginConfig(this.gpuSharing);
    if (props.dcgmExporter) NvidiaAddons.of(props.cluster).addDcgmExporter();
  }

  private createNodeRole(): iam.IRole {
    const role = new iam.Role(this, 'NodeRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: ['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryPullOnly', 'AmazonEKS_CNI_Policy']
        .map((name) => iam.ManagedPolicy.fromAwsManagedPolicyName(name)),
    });
    const reasons: Record<string, string> = {
      AmazonEKSWorkerNodePolicy: 'EKS requires this AWS managed policy on node roles (node registration, describe calls); AWS maintains it with EKS',
      AmazonEC2ContainerRegistryPullOnly: 'Pulling images from ECR (read only, no listing); AWS maintains it with ECR',
      AmazonEKS_CNI_Policy: 'The VPC CNI assigns pod IP addresses with it; AWS maintains it with the CNI (move it to an IRSA role of aws-node to narrow further)',
    };
    Validations.of(role).acknowledge(...Object.entries(reasons).map(([name, reason]) => ({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`, reason,
    })));
    return role;
  }
}

/** The NVIDIA add-ons of one cluster, created by the first GPU node group that needs them (a singleton per cluster). */
class NvidiaAddons extends Construct {
  /** The cluster's add-ons, created under the cluster on first use. */
  public static of(cluster: eks.ICluster): NvidiaAddons {
    const id = 'MlPlatformNvidiaAddons';
    return (cluster.node.tryFindChild(id) as NvidiaAddons | undefined) ?? new NvidiaAddons(cluster, id, cluster);
  }

  private readonly sharings = new Map<string, GpuSharing>();
  private devicePlugin = false;
  private mpsControlDaemon = false;
  private dcgmExporter = false;

  private constructor(scope: Construct, id: string, private readonly cluster: eks.ICluster) {
    super(scope, id);
  }

  /** The device plugin (once), with a config for `sharing` (and the MPS control daemon, once, for MPS). */
  public addDevicePluginConfig(sharing: GpuSharing): void {
    this.sharings.set(sharing.label, sharing);
    if (!this.devicePlugin) {
      this.devicePlugin = true;
      this.cluster.addManifest('NvidiaDevicePlugin', ...lazyObjects(() => devicePluginManifests([...this.sharings.values()])));
    }
    if (sharing.mode === GpuSharingMode.MPS && !this.mpsControlDaemon) {
      this.mpsControlDaemon = true;
      const mpsLabels = () => [...this.sharings.values()].filter((s) => s.mode === GpuSharingMode.MPS).map((s) => s.label);
      this.cluster.addManifest('NvidiaMpsControlDaemon', ...lazyObjects(() => [mpsControlDaemonManifest(mpsLabels())]));
    }
  }

  /** The DCGM exporter and its Service (once). */
  public addDcgmExporter(): void {
    if (this.dcgmExporter) return;
    this.dcgmExporter = true;
    this.cluster.addManifest('DcgmExporter', ...dcgmExporterManifests());
  }
}

/**
 * The objects `render` returns at synthesis, when every node group has added its config: apiVersion, kind and
 * metadata are fixed now (kubectl-apply's prune label is put on them), the other fields resolve lazily.
 */
function lazyObjects(render: () => KubernetesObject[]): Record<string, unknown>[] {
  return render().map((shape, i) => Object.fromEntries(Object.keys(shape).map((key) => [key,
    key === 'apiVersion' || key === 'kind' || key === 'metadata' ? structuredClone(shape[key])
      : Lazy.any({ produce: () => render()[i][key] })])));
}
