import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { KubectlV33Layer } from '@aws-cdk/lambda-layer-kubectl-v33';
import { App, Size, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GpuInstanceType } from '../../lib/compute/gpu-instance-type';
import { GpuAmiFamily, GpuNodeGroup, GpuNodeGroupProps } from '../../lib/kubernetes/gpu-node-group';
import { GPU_TAINT, GpuNodeLabels, GpuSharing } from '../../lib/kubernetes/gpu-scheduling';
import { al2023UserData, bottlerocketUserData, MIG_SCRIPT_PATH, MIG_UNIT } from '../../lib/kubernetes/node-bootstrap';
import { AMI_FAMILY_LABEL, DEVICE_PLUGIN_CONFIG_LABEL } from '../../lib/kubernetes/nvidia-addons';
import { KubernetesManifest, validateKubernetesManifests } from '../support/kubernetes-schema';

/** The shell part of a MIG node's user data (7 x 1g.10gb per GPU). */
function migUserDataScript(): string {
  return mimeParts(al2023UserData({ localStorage: false, sharing: GpuSharing.mig('1g.10gb'), migInstancesPerGpu: 7 })!)[0].body;
}

/** The text a `cat > <target> <<'EOF'` of `script` writes. */
function heredoc(script: string, target: string): string {
  const start = script.indexOf(`cat > ${target} <<'EOF'\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const body = script.slice(script.indexOf('\n', start) + 1);
  return body.slice(0, body.indexOf('\nEOF\n') + 1);
}

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
    const userData = al2023UserData({ localStorage: true, sharing: GpuSharing.EXCLUSIVE })!;
    expect(userData).toMatch(/^MIME-Version: 1.0\nContent-Type: multipart\/mixed; boundary="/);
    const parts = mimeParts(userData);
    expect(parts).toHaveLength(1);
    expect(parts[0].type).toBe('application/node.eks.aws');
    expect(parts[0].body).toContain('apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  instance:\n    localStorage:\n      strategy: RAID0');
    expect(userData.trimEnd().endsWith('--')).toBe(true);
  });

  test('AL2023 MIG: a shell part partitioning every GPU into the profile\'s instances, before kubelet, on every boot', () => {
    const parts = mimeParts(al2023UserData({ localStorage: false, sharing: GpuSharing.mig('1g.10gb'), migInstancesPerGpu: 7 })!);
    expect(parts.map((p) => p.type)).toEqual(['text/x-shellscript; charset="us-ascii"']);
    const script = parts[0].body;
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain('nvidia-smi -mig 1');
    expect(script).toContain(`nvidia-smi mig -cgi ${Array(7).fill('1g.10gb').join(',')} -C`);
    expect(script).toContain(`ExecStart=${MIG_SCRIPT_PATH}`);
    expect(script).toContain(`systemctl enable --now ${MIG_UNIT}`);
    expect(() => al2023UserData({ localStorage: false, sharing: GpuSharing.mig('1g.10gb') })).toThrow(/migInstancesPerGpu/);
  });

  test('AL2023 MIG unit: after the driver services when present, before kubelet, and REQUIRED by kubelet', () => {
    const unit = heredoc(migUserDataScript(), `/etc/systemd/system/${MIG_UNIT}`);
    const section = (name: string) => unit.split(/^\[/m).find((s) => s.startsWith(`${name}]`))!.split('\n').slice(1).filter(Boolean);
    expect(section('Unit')).toEqual(expect.arrayContaining([
      'Wants=nvidia-persistenced.service nvidia-fabricmanager.service',
      'After=nvidia-persistenced.service nvidia-fabricmanager.service',
      'Before=kubelet.service',
    ]));
    expect(section('Service')).toEqual(['Type=oneshot', 'RemainAfterExit=yes', `ExecStart=${MIG_SCRIPT_PATH}`]);
    // enable creates kubelet.service.requires/: a failed partition fails kubelet (ordered before it) and the node never joins.
    expect(section('Install')).toEqual(['WantedBy=multi-user.target', 'RequiredBy=kubelet.service']);
  });

  describe('AL2023 MIG partition script, run against a stand-in nvidia-smi that records its calls', () => {
    const partition = heredoc(migUserDataScript(), MIG_SCRIPT_PATH);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mig-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs the script on 2 GPUs whose MIG mode reads `afterEnable` after `-mig 1` and `afterReset` after `-r`. */
    function run(afterEnable: string, afterReset: string) {
      const bin = fs.mkdtempSync(path.join(dir, 'run-'));
      fs.writeFileSync(path.join(bin, 'nvidia-smi'), [
        '#!/bin/bash',
        `echo "$*" >> ${bin}/calls`,
        'case "$*" in',
        `  "-mig 1") echo ${afterEnable} > ${bin}/mode ;;`,
        `  "-r") echo ${afterReset} > ${bin}/mode ;;`,
        `  --query-gpu=mig.mode.current*) m=$(cat ${bin}/mode); printf 'Enabled\\n%s\\n' "$m" ;;`,
        'esac',
      ].join('\n'), { mode: 0o755 });
      fs.writeFileSync(path.join(bin, 'partition'), partition, { mode: 0o755 });
      const result = spawnSync('bash', [path.join(bin, 'partition')], { env: { PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
      return { status: result.status, stderr: result.stderr, calls: fs.readFileSync(path.join(bin, 'calls'), 'utf8').trim().split('\n') };
    }

    test('MIG enabled at once: no reset, the GPUs are partitioned', () => {
      const { status, calls } = run('Enabled', 'Enabled');
      expect(status).toBe(0);
      expect(calls).not.toContain('-r');
      expect(calls[calls.length - 1]).toBe(`mig -cgi ${Array(7).fill('1g.10gb').join(',')} -C`);
    });

    test('MIG pending: one GPU reset, checked again, then partitioned', () => {
      const { status, calls } = run('Disabled', 'Enabled');
      expect(status).toBe(0);
      expect(calls.slice(0, 4)).toEqual(['-mig 1', '--query-gpu=mig.mode.current --format=csv,noheader', '-r', '--query-gpu=mig.mode.current --format=csv,noheader']);
      expect(calls[calls.length - 1]).toMatch(/^mig -cgi /);
    });

    test('MIG still not enabled after the reset: the script fails (so the unit and kubelet do) and partitions nothing', () => {
      const { status, stderr, calls } = run('Disabled', 'Disabled');
      expect(status).toBe(1);
      expect(stderr).toContain('MIG mode is not enabled on every GPU after a reset');
      expect(stderr).toContain('Disabled');
      expect(calls.some((c) => c.startsWith('mig '))).toBe(false);
    });
  });

  test('AL2023 without NVMe or MIG (p3, unknown families): no user data at all, not an empty multipart', () => {
    expect(al2023UserData({ localStorage: false, sharing: GpuSharing.EXCLUSIVE })).toBeUndefined();
    expect(al2023UserData({ localStorage: false, sharing: GpuSharing.timeSlicing(2) })).toBeUndefined();
  });

  test('Bottlerocket: ephemeral-storage bootstrap commands and time-slicing settings keeping the nvidia.com/gpu name', () => {
    const toml = bottlerocketUserData({ localStorage: true, sharing: GpuSharing.timeSlicing(4) });
    expect(toml).toContain('[settings.bootstrap-commands.ml-platform-ephemeral-storage]\n'
      + 'commands = [["apiclient", "ephemeral-storage", "init"], ["apiclient", "ephemeral-storage", "bind", "--dirs", "/var/lib/containerd", "/var/lib/kubelet", "/var/log/pods"]]\n'
      + 'mode = "always"\nessential = true');
    expect(toml).toContain('[settings.kubelet-device-plugins.nvidia]\ndevice-sharing-strategy = "time-slicing"');
    expect(toml).toContain('[settings.kubelet-device-plugins.nvidia.time-slicing]\nreplicas = 4\nrename-by-default = false');
    expect(bottlerocketUserData({ localStorage: false, sharing: GpuSharing.EXCLUSIVE })).toBeUndefined();
    expect(() => bottlerocketUserData({ localStorage: false, sharing: GpuSharing.mps(2) })).toThrow(/mps sharing is not supported on Bottlerocket/);
  });
});

/** A stack with an aws-eks-v2 cluster (kubectl v33 layer); `nag` adds the AwsSolutions checks. */
function clusterStack(options: { nag?: boolean } = {}) {
  const app = new App();
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Gpu', { env: { account: '123456789012', region: 'us-east-1' } });
  const cluster = new eks.Cluster(stack, 'Cluster', {
    version: eks.KubernetesVersion.V1_33,
    defaultCapacityType: eks.DefaultCapacityType.NODEGROUP, defaultCapacity: 0,
    kubectlProviderOptions: { kubectlLayer: new KubectlV33Layer(stack, 'Kubectl') },
  });
  return { app, stack, cluster };
}

/** Every Kubernetes object the stack's manifests apply. */
function manifests(template: Template): KubernetesManifest[] {
  return Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'))
    .flatMap((r) => JSON.parse(r.Properties.Manifest) as KubernetesManifest[]);
}

/** The decoded user data of the launch template of `group`. */
function userDataOf(stack: Stack, group: GpuNodeGroup): string {
  const lt = group.node.findChild('LaunchTemplate') as ec2.CfnLaunchTemplate;
  const data = stack.resolve((lt.launchTemplateData as ec2.CfnLaunchTemplate.LaunchTemplateDataProperty).userData);
  return data['Fn::Base64']; // CloudFormation encodes it
}

function launchTemplateOf(template: Template, stack: Stack, group: GpuNodeGroup) {
  const id = stack.getLogicalId(group.node.findChild('LaunchTemplate') as ec2.CfnLaunchTemplate);
  return template.findResources('AWS::EC2::LaunchTemplate')[id].Properties.LaunchTemplateData;
}

describe('GpuNodeGroup on one cluster: AL2023 exclusive, time-slicing, MPS and MIG groups, a Bottlerocket group', () => {
  const { stack, cluster } = clusterStack();
  const exclusive = new GpuNodeGroup(stack, 'Exclusive', {
    cluster, instanceTypes: [GpuInstanceType.G5_XLARGE, GpuInstanceType.G6_XLARGE], capacityType: eks.CapacityType.SPOT,
    minSize: 0, maxSize: 4, desiredSize: 1, labels: { team: 'fraud' }, dcgmExporter: true,
  });
  const sliced = new GpuNodeGroup(stack, 'Sliced', {
    cluster, instanceTypes: [GpuInstanceType.G6_XLARGE], gpuSharing: GpuSharing.timeSlicing(4), maxSize: 2, nodegroupName: 'sliced', dcgmExporter: true,
  });
  const mps = new GpuNodeGroup(stack, 'Mps', { cluster, instanceTypes: [GpuInstanceType.G6E_12XLARGE], gpuSharing: GpuSharing.mps(2), maxSize: 1 });
  const mig = new GpuNodeGroup(stack, 'Mig', {
    cluster, instanceTypes: [GpuInstanceType.P5_48XLARGE], gpuSharing: GpuSharing.mig('1g.10gb'), maxSize: 1, metadataHopLimit: 2, rootVolumeSize: Size.gibibytes(200),
  });
  const bottlerocket = new GpuNodeGroup(stack, 'Bottlerocket', {
    cluster, instanceTypes: [GpuInstanceType.G5_2XLARGE], amiFamily: GpuAmiFamily.BOTTLEROCKET_NVIDIA, gpuSharing: GpuSharing.timeSlicing(2), maxSize: 3, nodegroupName: 'br',
  });
  const p3 = new GpuNodeGroup(stack, 'P3', { cluster, instanceTypes: [GpuInstanceType.of('p3.2xlarge')], maxSize: 1 });
  const template = Template.fromStack(stack);
  const objects = manifests(template);
  const daemonSetPod = (name: string) => (objects.find((o) => o.kind === 'DaemonSet' && o.metadata!.name === name) as any).spec.template.spec;

  test('the managed node group: AMI type, capacity, instance types, GPU taint, labels, scaling', () => {
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      NodegroupName: exclusive.nodegroupName,
      AmiType: 'AL2023_x86_64_NVIDIA', CapacityType: 'SPOT', InstanceTypes: ['g5.xlarge', 'g6.xlarge'],
      Taints: [{ Key: GPU_TAINT.key, Value: GPU_TAINT.value, Effect: 'NO_SCHEDULE' }],
      Labels: {
        team: 'fraud', [GpuNodeLabels.GPU]: 'true', [GpuNodeLabels.SHARING]: 'exclusive', [GpuNodeLabels.NODE_GROUP]: exclusive.nodegroupName,
        [AMI_FAMILY_LABEL]: 'al2023-nvidia', [DEVICE_PLUGIN_CONFIG_LABEL]: 'exclusive',
      },
      ScalingConfig: { MinSize: 0, MaxSize: 4, DesiredSize: 1 },
      LaunchTemplate: { Id: Match.anyValue(), Version: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      NodegroupName: 'br', AmiType: 'BOTTLEROCKET_x86_64_NVIDIA', CapacityType: 'ON_DEMAND', ScalingConfig: { MinSize: 1, MaxSize: 3, DesiredSize: 1 },
      Labels: Match.objectEquals({ [GpuNodeLabels.GPU]: 'true', [GpuNodeLabels.SHARING]: 'time-slicing-2', [GpuNodeLabels.NODE_GROUP]: 'br', [AMI_FAMILY_LABEL]: 'bottlerocket-nvidia' }),
    });
    expect(exclusive.nodegroupName.length).toBeLessThanOrEqual(63);
    expect(exclusive.nodeLabels[GpuNodeLabels.SHARING]).toBe(exclusive.gpuSharing.label);
  });

  test('what a chart sizes itself by: GPUs and slots per node', () => {
    expect([exclusive.gpusPerNode, exclusive.gpuSlotsPerNode]).toEqual([1, 1]);
    expect([sliced.gpusPerNode, sliced.gpuSlotsPerNode]).toEqual([1, 4]);
    expect([mps.gpusPerNode, mps.gpuSlotsPerNode]).toEqual([4, 8]);
    expect([mig.gpusPerNode, mig.gpuSlotsPerNode]).toEqual([8, 56]);
  });

  test('launch templates: IMDSv2 required, hop limit 1 (2 when raised), encrypted gp3 on the data device sized as asked', () => {
    expect(launchTemplateOf(template, stack, exclusive)).toMatchObject({
      MetadataOptions: { HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeType: 'gp3', VolumeSize: 100, Encrypted: true, DeleteOnTermination: true } }],
    });
    expect(launchTemplateOf(template, stack, mig)).toMatchObject({
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 200, Encrypted: true } }],
    });
    expect(launchTemplateOf(template, stack, bottlerocket).BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvdb', Ebs: { VolumeType: 'gp3', VolumeSize: 100, Encrypted: true, DeleteOnTermination: true } },
    ]);
  });

  test('user data as each AMI family reads it: nodeadm RAID0 NVMe, MIG partitioning, Bottlerocket TOML', () => {
    const al2023 = userDataOf(stack, exclusive);
    expect(al2023).toBe(al2023UserData({ localStorage: true, sharing: GpuSharing.EXCLUSIVE }));
    expect(al2023).toContain('strategy: RAID0');
    expect(userDataOf(stack, mig)).toContain(`nvidia-smi mig -cgi ${Array(7).fill('1g.10gb').join(',')} -C`);
    expect(userDataOf(stack, mps)).not.toContain('nvidia-smi');
    expect(userDataOf(stack, bottlerocket)).toBe(bottlerocketUserData({ localStorage: true, sharing: GpuSharing.timeSlicing(2) }));
    expect(launchTemplateOf(template, stack, p3).UserData).toBeUndefined(); // no NVMe, no MIG: nothing to say
  });

  test('MPS: the device plugin mounts the host MPS root at /mps and its shm at /dev/shm, as upstream does', () => {
    const pod = daemonSetPod('nvidia-device-plugin');
    const plugin = pod.containers.find((c: any) => c.name === 'nvidia-device-plugin');
    expect(plugin.env).toContainEqual({ name: 'MPS_ROOT', value: '/run/nvidia/mps' });
    expect(plugin.volumeMounts).toEqual(expect.arrayContaining([{ name: 'mps-root', mountPath: '/mps' }, { name: 'mps-shm', mountPath: '/dev/shm' }]));
    expect(plugin.volumeMounts.filter((m: any) => m.name.startsWith('mps-'))).toHaveLength(2);
    expect(pod.volumes).toEqual(expect.arrayContaining([
      { name: 'mps-root', hostPath: { path: '/run/nvidia/mps', type: 'DirectoryOrCreate' } },
      { name: 'mps-shm', hostPath: { path: '/run/nvidia/mps/shm' } },
    ]));
    // The control daemon shares the same host paths.
    expect(daemonSetPod('nvidia-device-plugin-mps-control-daemon').volumes).toEqual(expect.arrayContaining(pod.volumes.filter((v: any) => v.name.startsWith('mps-'))));
  });

  test('DCGM exporter: privileged (Bottlerocket ignores NVIDIA_VISIBLE_DEVICES for unprivileged containers), on every GPU node', () => {
    const pod = daemonSetPod('dcgm-exporter');
    expect(pod.nodeSelector).toEqual({ [GpuNodeLabels.GPU]: 'true' });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].securityContext).toEqual({ privileged: true });
    expect(pod.containers[0].env).toContainEqual({ name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' });
    // Not the node-wide alternative: no Bottlerocket setting letting every unprivileged pod pick GPUs by variable.
    expect(userDataOf(stack, bottlerocket)).not.toContain('visible-devices-envvar-when-unprivileged');
  });

  test('one device plugin for the cluster, with a config per sharing selected by node label; MPS daemon and DCGM once', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata!.name}`);
    expect(kinds.filter((k) => k === 'DaemonSet/nvidia-device-plugin')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'DaemonSet/nvidia-device-plugin-mps-control-daemon')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'DaemonSet/dcgm-exporter')).toHaveLength(1);
    expect(kinds).toContain('Service/dcgm-exporter');
    const configMap = objects.find((o) => o.kind === 'ConfigMap')! as unknown as { data: Record<string, string> };
    expect(Object.keys(configMap.data).sort()).toEqual(['exclusive', 'mig-1g.10gb', 'mps-2', 'time-slicing-4']);
    expect(JSON.parse(configMap.data['time-slicing-4'])).toEqual({
      version: 'v1', flags: { migStrategy: 'none' },
      sharing: { timeSlicing: { renameByDefault: false, failRequestsGreaterThanOne: true, resources: [{ name: 'nvidia.com/gpu', replicas: 4 }] } },
    });
    expect(JSON.parse(configMap.data['mps-2']).sharing.mps.resources).toEqual([{ name: 'nvidia.com/gpu', replicas: 2 }]);
    expect(JSON.parse(configMap.data['mig-1g.10gb']).flags.migStrategy).toBe('single');
    // Bottlerocket ships its device plugin: the DaemonSet selects AL2023 nodes only (Bottlerocket's group has no config).
    const plugin = objects.find((o) => o.metadata!.name === 'nvidia-device-plugin' && o.kind === 'DaemonSet') as any;
    const pod = plugin.spec.template.spec;
    expect(pod.nodeSelector).toEqual({ [GpuNodeLabels.GPU]: 'true', [AMI_FAMILY_LABEL]: 'al2023-nvidia' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.containers[0].image).toMatch(/^nvcr\.io\/nvidia\/k8s-device-plugin:v0\.17\.\d+$/);
    expect(pod.containers[0].securityContext).toEqual({ privileged: true }); // a MIG group is on the cluster
    expect(pod.containers[1].env).toContainEqual({ name: 'NODE_LABEL', value: DEVICE_PLUGIN_CONFIG_LABEL });
    const daemon = objects.find((o) => o.metadata!.name === 'nvidia-device-plugin-mps-control-daemon') as any;
    expect(daemon.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions)
      .toEqual([{ key: DEVICE_PLUGIN_CONFIG_LABEL, operator: 'In', values: ['mps-2'] }]);
    const service = objects.find((o) => o.kind === 'Service') as any;
    expect(service.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9400' });
  });

  test('every manifest is valid against the Kubernetes 1.27 and 1.31 schemas (no CRDs)', () => {
    expect(validateKubernetesManifests(objects)).toEqual({ problems: [], unchecked: [] });
  });
});

describe('GpuNodeGroup alone', () => {
  test('cdk-nag AwsSolutions: nothing unacknowledged, the node role with reasons; Bottlerocket only: no device plugin', () => {
    const { app, stack, cluster } = clusterStack({ nag: true });
    new GpuNodeGroup(stack, 'Gpu', { cluster, instanceTypes: [GpuInstanceType.G6_XLARGE], amiFamily: GpuAmiFamily.BOTTLEROCKET_NVIDIA, maxSize: 2, dcgmExporter: true });
    acknowledgeClusterFindings(cluster);
    expect(() => app.synth()).not.toThrow(); // cdk-nag fails synthesis on any unacknowledged finding
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'ec2.amazonaws.com' } }] },
      ManagedPolicyArns: ['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryPullOnly', 'AmazonEKS_CNI_Policy']
        .map((name) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::aws:policy/${name}`]] })),
    });
    expect(manifests(template).filter((o) => o.kind === 'DaemonSet').map((o) => o.metadata!.name)).toEqual(['dcgm-exporter']);
  });
});

describe('GpuNodeGroup validation', () => {
  const { stack, cluster } = clusterStack();
  let n = 0;
  const make = (props: Partial<GpuNodeGroupProps>) => () =>
    new GpuNodeGroup(stack, `Invalid${n++}`, { cluster, instanceTypes: [GpuInstanceType.G5_XLARGE], maxSize: 2, ...props });

  test.each<[string, Partial<GpuNodeGroupProps>, RegExp]>([
    ['no instance types', { instanceTypes: [] }, /instanceTypes: give at least one/],
    ['mixed GPU shapes', { instanceTypes: [GpuInstanceType.G5_XLARGE, GpuInstanceType.G6E_XLARGE] }, /instanceTypes: g5\.xlarge \(1 x 24 GiB GPU\), g6e\.xlarge \(1 x 48 GiB GPU\) differ/],
    ['spot with one type', { capacityType: eks.CapacityType.SPOT }, /capacityType: SPOT needs at least 2 instance types/],
    ['AL2', { amiFamily: GpuAmiFamily.AL2_GPU }, /amiFamily: AL2 GPU AMIs reached end of support.*use GpuAmiFamily\.AL2023_NVIDIA/],
    ['min > max', { minSize: 3, maxSize: 2 }, /minSize: 3 must be <= maxSize \(2\)/],
    ['desired outside', { minSize: 1, maxSize: 2, desiredSize: 5 }, /desiredSize: 5 must lie between minSize \(1\) and maxSize \(2\)/],
    ['max 0', { maxSize: 0, minSize: 0 }, /maxSize: 0 must be an integer between 1 and 450/],
    ['fractional', { maxSize: 2.5 }, /maxSize: 2.5 must be an integer/],
    ['small root volume', { rootVolumeSize: Size.gibibytes(20) }, /rootVolumeSize: 20 GiB must be whole GiB between 50/],
    ['root volume beyond gp3', { rootVolumeSize: Size.tebibytes(1e300) }, /rootVolumeSize: 1\.024e\+303 GiB must be whole GiB between 50 and 16384/],
    ['infinite root volume', { rootVolumeSize: Size.gibibytes(Infinity) }, /rootVolumeSize: Infinity GiB must be whole GiB between 50 and 16384/],
    ['MIG on a non-MIG GPU', { gpuSharing: GpuSharing.mig('1g.10gb') }, /gpuSharing: g5\.xlarge \(NVIDIA A10G\) does not support MIG/],
    ['unknown MIG profile', { instanceTypes: [GpuInstanceType.P4D_24XLARGE], gpuSharing: GpuSharing.mig('1g.10gb') }, /MIG profile 1g\.10gb does not exist on p4d\.24xlarge \(NVIDIA A100\); use one of 1g\.5gb, 2g\.10gb, 3g\.20gb, 7g\.40gb/],
    ['MPS on Bottlerocket', { amiFamily: GpuAmiFamily.BOTTLEROCKET_NVIDIA, gpuSharing: GpuSharing.mps(2) }, /gpuSharing: MPS is not configured on BOTTLEROCKET_NVIDIA/],
    ['MIG on Bottlerocket', { amiFamily: GpuAmiFamily.BOTTLEROCKET_NVIDIA, instanceTypes: [GpuInstanceType.P5_48XLARGE], gpuSharing: GpuSharing.mig('1g.10gb') }, /gpuSharing: MIG is not configured on BOTTLEROCKET_NVIDIA/],
    ['hop limit', { metadataHopLimit: 0 }, /metadataHopLimit: 0 must be an integer between 1 and 64/],
    ['reserved label', { labels: { [GpuNodeLabels.SHARING]: 'x' } }, /labels: 'ml-platform\/gpu-sharing' is set by the node group itself/],
    ['bad label value', { labels: { team: 'a b' } }, /labels\.team: 'a b' is not an EKS node label value/],
    ['empty label value (Kubernetes takes it, EKS does not)', { labels: { team: '' } }, /labels\.team: '' is not an EKS node label value \(1 to 63/],
    ['64-character label key (a valid Kubernetes key, too long for EKS)', { labels: { [`example.com/${'k'.repeat(52)}`]: 'x' } },
      /labels: 'example\.com\/k+' is 64 characters; EKS node group label keys, prefix included, take at most 63/],
    ['bad name', { nodegroupName: '-gpu' }, /nodegroupName: '-gpu' must be 1-63 letters/],
  ])('%s is refused naming the prop', (_, props, message) => {
    expect(make(props)).toThrow(message);
  });

  test('a 63-character prefixed label key and a 63-character value are accepted', () => {
    expect(make({ labels: { [`example.com/${'k'.repeat(51)}`]: 'v'.repeat(63) } })).not.toThrow();
  });

  test.each<[string, () => unknown, RegExp]>([
    ['AMD GPUs (g4ad)', () => GpuInstanceType.of('g4ad.xlarge'), /g4ad is an AMD GPU family.*use an x86_64 NVIDIA family/],
    ['arm64 Graviton (g5g)', () => GpuInstanceType.of('g5g.xlarge', { gpuCount: 1, gpuMemory: Size.gibibytes(16) }), /g5g is an arm64 Graviton family.*x86_64 NVIDIA AMIs/],
    ['zero GPU memory', () => GpuInstanceType.of('g7.xlarge', { gpuCount: 1, gpuMemory: Size.gibibytes(0) }), /gpuMemory Size\.gibibytes\(0\) must be a positive, finite size/],
    ['NaN GPU memory', () => GpuInstanceType.of('g7.xlarge', { gpuCount: 1, gpuMemory: Size.gibibytes(NaN) }), /gpuMemory Size\.gibibytes\(NaN\) must be a positive, finite size/],
    ['infinite instance storage', () => GpuInstanceType.of('g5.xlarge', { instanceStorage: Size.gibibytes(Infinity) }), /instanceStorage Size\.gibibytes\(Infinity\) must be a positive, finite size/],
  ])('GpuInstanceType.of refuses %s with an explanation', (_, make, message) => {
    expect(make).toThrow(message);
  });
});

/** Acknowledges the findings on what the aws-eks-v2 Cluster construct itself creates (not this construct's). */
function acknowledgeClusterFindings(cluster: eks.Cluster): void {
  const stack = Stack.of(cluster);
  Validations.of(cluster.vpc).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'The test cluster\'s default VPC; flow logs are the VPC owner\'s choice, not the node group\'s' });
  Validations.of(cluster.node.findChild('Role')).acknowledge(...['AmazonEKSClusterPolicy', 'AmazonEKSComputePolicy', 'AmazonEKSBlockStoragePolicy', 'AmazonEKSLoadBalancingPolicy', 'AmazonEKSNetworkingPolicy']
    .map((name) => ({ id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`, reason: 'The EKS cluster role needs these AWS managed policies (aws-eks-v2 attaches them)' })));
  const provider = cluster.node.findChild('KubectlProvider');
  const handlerRole = provider.node.findChild('Handler');
  const ecrPublic = stack.resolve(stack.getLogicalId((handlerRole.node.findChild('HasEcrPublic') as any)));
  Validations.of(provider).acknowledge(
    ...['AmazonEC2ContainerRegistryReadOnly', 'service-role/AWSLambdaBasicExecutionRole', 'service-role/AWSLambdaVPCAccessExecutionRole']
      .map((name) => ({ id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`, reason: 'aws-eks-v2\'s kubectl provider functions use these AWS managed policies' })),
    { id: `AwsSolutions-IAM4[Policy::${JSON.stringify({ 'Fn::If': [ecrPublic, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly']] }, { Ref: 'AWS::NoValue' }] })}]`, reason: 'aws-eks-v2\'s kubectl provider pulls public ECR images with it' },
    { id: 'AwsSolutions-L1', reason: 'aws-eks-v2 pins the kubectl provider\'s runtime' },
    { id: 'AwsSolutions-IAM5[Resource::<ClusterKubectlProviderHandler2E05C68A.Arn>:*]', reason: 'The custom resource framework invokes any version of the kubectl handler' },
  );
}
