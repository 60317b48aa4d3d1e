/**
 * User data for GPU node groups, in the format each AMI family reads. Pure functions over plain options (no CDK):
 * EKS managed node groups given an `amiType` merge their own bootstrap settings (cluster name, endpoint, CA) into
 * what these return, so only the GPU-specific settings are here.
 */
import { GpuSharing, GpuSharingMode } from './gpu-scheduling';

/** What the node's user data sets up. */
export interface NodeBootstrapOptions {
  /** Whether every instance type carries NVMe instance storage, to hold containerd and kubelet (so emptyDir volumes). */
  readonly localStorage: boolean;
  /** How the node's GPUs are shared. */
  readonly sharing: GpuSharing;
  /** MIG instances of `sharing.migProfile` per GPU; required for MIG sharing. */
  readonly migInstancesPerGpu?: number;
}

/** MIME boundary of the AL2023 user data. */
const BOUNDARY = 'ml-platform-gpu-node';

/** Path of the MIG partitioning script on AL2023 nodes, run by a systemd unit before kubelet on every boot. */
export const MIG_SCRIPT_PATH = '/usr/local/bin/ml-platform-mig-partition';

/**
 * AL2023 user data: a MIME multipart with a nodeadm `NodeConfig` (NVMe instance storage as RAID0 under containerd
 * and kubelet when the types have it) and, for MIG, a shell part installing a systemd unit that enables MIG mode and
 * creates `migInstancesPerGpu` instances of the profile on every GPU before kubelet starts (GPU instances do not
 * survive a reboot, so the unit runs on every boot; cloud-init shell parts run once, before nodeadm starts kubelet).
 * Undefined when there is nothing to set up (no NVMe, no MIG: p3 or a family the catalog does not know).
 */
export function al2023UserData(options: NodeBootstrapOptions): string | undefined {
  const parts: string[] = [];
  if (options.localStorage) {
    parts.push(mimePart('application/node.eks.aws', [
      '---',
      'apiVersion: node.eks.aws/v1alpha1',
      'kind: NodeConfig',
      'spec:',
      '  instance:',
      '    localStorage:',
      '      strategy: RAID0',
    ]));
  }
  if (options.sharing.mode === GpuSharingMode.MIG) {
    parts.push(mimePart('text/x-shellscript; charset="us-ascii"', migPartitionScript(options)));
  }
  if (parts.length === 0) return undefined; // an empty multipart is no user data: give none
  return [
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${BOUNDARY}"`,
    '',
    ...parts,
    `--${BOUNDARY}--`,
    '',
  ].join('\n');
}

/** The systemd unit partitioning the GPUs on every boot. */
export const MIG_UNIT = 'ml-platform-mig-partition.service';

/**
 * Enables MIG mode on every GPU and checks it took: a GPU left `Enabled` only as its pending mode (A100 in a VM
 * needs a GPU reset) is reset once; a GPU still not enabled fails the script, so the unit fails and kubelet with it.
 */
const MIG_ENABLE_SCRIPT = [
  '#!/bin/bash',
  'set -euo pipefail',
  'mig_modes() { nvidia-smi --query-gpu=mig.mode.current --format=csv,noheader; }',
  'nvidia-smi -mig 1',
  'modes=$(mig_modes)',
  `if grep -qv '^Enabled$' <<<"$modes"; then`,
  '  echo "MIG mode pending on some GPUs; resetting them" >&2',
  '  nvidia-smi -r',
  '  modes=$(mig_modes)',
  `  if grep -qv '^Enabled$' <<<"$modes"; then`,
  '    echo "MIG mode is not enabled on every GPU after a reset; the node must not join. mig.mode.current per GPU:" >&2',
  '    echo "$modes" >&2',
  '    exit 1',
  '  fi',
  'fi',
];

function mimePart(contentType: string, lines: string[]): string {
  return [`--${BOUNDARY}`, `Content-Type: ${contentType}`, '', ...lines, ''].join('\n');
}

function migPartitionScript(options: NodeBootstrapOptions): string[] {
  const profile = options.sharing.migProfile!;
  const perGpu = options.migInstancesPerGpu;
  if (perGpu === undefined || !Number.isInteger(perGpu) || perGpu < 1) {
    throw new Error(`al2023UserData: MIG sharing needs migInstancesPerGpu (instances of ${profile} per GPU), got ${perGpu}`);
  }
  const profiles = Array.from({ length: perGpu }, () => profile).join(',');
  const driverServices = 'nvidia-persistenced.service nvidia-fabricmanager.service';
  return [
    '#!/bin/bash',
    'set -euo pipefail',
    `cat > ${MIG_SCRIPT_PATH} <<'EOF'`,
    ...MIG_ENABLE_SCRIPT,
    'nvidia-smi mig -dci || true',
    'nvidia-smi mig -dgi || true',
    `nvidia-smi mig -cgi ${profiles} -C`,
    'EOF',
    `chmod 0755 ${MIG_SCRIPT_PATH}`,
    `cat > /etc/systemd/system/${MIG_UNIT} <<'EOF'`,
    '[Unit]',
    `Description=Partition every GPU into ${perGpu} MIG instances of ${profile}`,
    // The driver's services where the AMI has them (Wants= on a missing unit is a no-op): NVSwitch systems (p4d, p5)
    // need the fabric manager before CUDA work, and persistence keeps the driver loaded between nvidia-smi calls.
    `Wants=${driverServices}`,
    `After=${driverServices}`,
    'Before=kubelet.service',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${MIG_SCRIPT_PATH}`,
    '[Install]',
    'WantedBy=multi-user.target',
    // kubelet requires the unit: a failed partition keeps the node from joining, instead of the node advertising
    // the MIG sharing label with no MIG devices behind it.
    'RequiredBy=kubelet.service',
    'EOF',
    'systemctl daemon-reload',
    `systemctl enable --now ${MIG_UNIT}`,
  ];
}

/**
 * Bottlerocket user data (TOML settings): NVMe instance storage initialised as one array and bound under containerd,
 * kubelet and pod logs by bootstrap commands on every boot when the types have it, and time-slicing through the
 * settings of the NVIDIA device plugin Bottlerocket ships (the resource keeps its `nvidia.com/gpu` name). MPS and
 * MIG are refused on Bottlerocket by the node group's validation, never rendered here. Undefined when there is
 * nothing to set.
 */
export function bottlerocketUserData(options: NodeBootstrapOptions): string | undefined {
  const lines: string[] = [];
  if (options.localStorage) {
    lines.push(
      '[settings.bootstrap-commands.ml-platform-ephemeral-storage]',
      'commands = [["apiclient", "ephemeral-storage", "init"], ["apiclient", "ephemeral-storage", "bind", "--dirs", "/var/lib/containerd", "/var/lib/kubelet", "/var/log/pods"]]',
      'mode = "always"',
      'essential = true',
      '',
    );
  }
  const { mode, replicas } = options.sharing;
  if (mode === GpuSharingMode.TIME_SLICING) {
    lines.push(
      '[settings.kubelet-device-plugins.nvidia]',
      'device-sharing-strategy = "time-slicing"',
      '',
      '[settings.kubelet-device-plugins.nvidia.time-slicing]',
      `replicas = ${replicas}`,
      'rename-by-default = false',
      'fail-requests-greater-than-one = true',
      '',
    );
  } else if (mode !== GpuSharingMode.EXCLUSIVE) {
    throw new Error(`bottlerocketUserData: ${mode} sharing is not supported on Bottlerocket nodes`);
  }
  return lines.length > 0 ? lines.join('\n') : undefined;
}
