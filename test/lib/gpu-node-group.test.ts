import { GpuSharing } from '../../lib/kubernetes/gpu-scheduling';
import { al2023UserData, bottlerocketUserData, MIG_SCRIPT_PATH } from '../../lib/kubernetes/node-bootstrap';

/** The parts of a MIME multipart user data: content type and body. */
function mimeParts(userData: string): Array<{ type: string; body: string }> {
  const boundary = /boundary="([^"]+)"/.exec(userData)![1];
  return userData.split(`--${boundary}`).slice(1, -1).map((part) => {
    const [head, ...body] = part.replace(/^\n/, '').split('\n\n');
    return { type: head.replace(/^Content-Type: /, ''), body: body.join('\n\n') };
  });
}

describe('node bootstrap user data', () => {
  test('AL2023: a nodeadm NodeConfig putting containerd and kubelet on RAID0 NVMe, nothing else for exclusive GPUs', () => {
    const userData = al2023UserData({ localStorage: true, sharing: GpuSharing.EXCLUSIVE });
    expect(userData).toMatch(/^MIME-Version: 1.0\nContent-Type: multipart\/mixed; boundary="/);
    const parts = mimeParts(userData);
    expect(parts).toHaveLength(1);
    expect(parts[0].type).toBe('application/node.eks.aws');
    expect(parts[0].body).toContain('apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  instance:\n    localStorage:\n      strategy: RAID0');
    expect(userData.trimEnd().endsWith('--')).toBe(true);
  });

  test('AL2023 MIG: a shell part partitioning every GPU into the profile\'s instances, before kubelet, on every boot', () => {
    const parts = mimeParts(al2023UserData({ localStorage: false, sharing: GpuSharing.mig('1g.10gb'), migInstancesPerGpu: 7 }));
    expect(parts.map((p) => p.type)).toEqual(['text/x-shellscript; charset="us-ascii"']);
    const script = parts[0].body;
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain('nvidia-smi -mig 1');
    expect(script).toContain(`nvidia-smi mig -cgi ${Array(7).fill('1g.10gb').join(',')} -C`);
    expect(script).toContain('Before=kubelet.service');
    expect(script).toContain(`ExecStart=${MIG_SCRIPT_PATH}`);
    expect(script).toContain('systemctl enable --now ml-platform-mig-partition.service');
    expect(() => al2023UserData({ localStorage: false, sharing: GpuSharing.mig('1g.10gb') })).toThrow(/migInstancesPerGpu/);
  });

  test('Bottlerocket: ephemeral-storage bootstrap commands and time-slicing settings keeping the nvidia.com/gpu name', () => {
    const toml = bottlerocketUserData({ localStorage: true, sharing: GpuSharing.timeSlicing(4) });
    expect(toml).toContain('[settings.bootstrap-commands.ml-platform-ephemeral-storage]\n'
      + 'commands = [["apiclient", "ephemeral-storage", "init"], ["apiclient", "ephemeral-storage", "bind", "--dirs", "/var/lib/containerd", "/var/lib/kubelet", "/var/log/pods"]]\n'
      + 'mode = "always"\nessential = true');
    expect(toml).toContain('[settings.kubelet-device-plugins.nvidia]\ndevice-sharing-strategy = "time-slicing"');
    expect(toml).toContain('[settings.kubelet-device-plugins.nvidia.time-slicing]\nreplicas = 4\nrename-by-default = false');
    expect(bottlerocketUserData({ localStorage: false, sharing: GpuSharing.EXCLUSIVE })).toBe('');
    expect(() => bottlerocketUserData({ localStorage: false, sharing: GpuSharing.mps(2) })).toThrow(/mps sharing is not supported on Bottlerocket/);
  });
});
