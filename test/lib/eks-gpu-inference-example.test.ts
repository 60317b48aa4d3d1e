import { App, CfnElement, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EksGpuInferenceStack, MODEL_NAMESPACE } from '../../examples/eks-gpu-inference/stack';
import { POD_READINESS_GATE_LABEL } from '../../lib/kubernetes/pod-termination';
import { GatewayMetrics } from '../../runtime/core/metrics';
import { validateKubernetesManifests } from '../support/kubernetes-schema';

// One synth for the file (an EKS cluster costs seconds), with cdk-nag on: unacknowledged findings fail it.
const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const stack = new EksGpuInferenceStack(app, 'EksGpuInference', { env: { account: '123456789012', region: 'us-east-1' } });
const assembly = app.synth().getStackByName(stack.stackName);
const template = Template.fromJSON(assembly.template);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);

/** The manifest objects of a KubernetesManifest resource, with references kept as their JSON. */
function manifestObjects(logicalId: string): any[] {
  const manifest = resources[logicalId].Properties.Manifest;
  const text = typeof manifest === 'string' ? manifest
    : (manifest['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : `<${JSON.stringify(part).replace(/"/g, "'")}>`)).join('');
  return JSON.parse(text);
}

describe('examples/eks-gpu-inference', () => {
  const objects = manifestObjects(id(stack.chartManifest));
  const kind = (k: string) => objects.filter((o) => o.kind === k);

  test('gateway → load balancer: the gateway function runs in the cluster VPC private subnets with the client group the NLB admits', () => {
    const fn = resources[id(stack.gateway.function)].Properties;
    const privateSubnets = stack.cluster.vpc.privateSubnets.map((s) => ({ Ref: id(s) }));
    expect(fn.VpcConfig.SubnetIds).toEqual(privateSubnets);
    const clients = { 'Fn::GetAtt': [stack.getLogicalId(stack.loadBalancer.node.findChild('GatewayClients').node.defaultChild as CfnElement), 'GroupId'] };
    expect(fn.VpcConfig.SecurityGroupIds).toEqual([clients]);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [id(stack.loadBalancer.securityGroup as any), 'GroupId'] }, SourceSecurityGroupId: clients, FromPort: 8080, ToPort: 8080,
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internal' });
  });

  test('load balancer → pods: the chart binds the target group (its ARN resolves to it) and admits the NLB security group', () => {
    const [binding] = kind('TargetGroupBinding');
    expect(binding.apiVersion).toBe('elbv2.k8s.aws/v1beta1');
    expect(binding.metadata.namespace).toBe(MODEL_NAMESPACE);
    expect(binding.spec.targetType).toBe('ip');
    expect(binding.spec.targetGroupARN).toBe(`<${JSON.stringify({ Ref: id(stack.loadBalancer.targetGroup) }).replace(/"/g, "'")}>`);
    expect(JSON.stringify(binding.spec.networking)).toContain(id(stack.loadBalancer.securityGroup as any));
    expect(binding.spec.serviceRef.port).toBe(kind('Service')[0].spec.ports[0].port);
  });

  test('pods → GPU nodes: the Deployment asks for a GPU, tolerates the GPU taint and selects the node group sharing', () => {
    const [deployment] = kind('Deployment');
    const server = deployment.spec.template.spec.containers[0];
    expect(server.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(deployment.spec.template.spec.tolerations).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu', effect: 'NoSchedule' }));
    expect(JSON.stringify(deployment.spec.template.spec.affinity)).toContain(stack.gpuNodes.gpuSharing.label);
    expect(deployment.spec.template.spec.serviceAccountName).toBe('fraud-model-reader');
    template.hasResourceProperties('AWS::EKS::Nodegroup', { CapacityType: 'SPOT', Taints: [{ Key: 'nvidia.com/gpu', Value: 'true', Effect: 'NO_SCHEDULE' }] });
  });

  test('the namespace carries the load balancer controller\'s pod readiness gate label, so rollouts wait for healthy targets', () => {
    const [namespace] = manifestObjects(id(stack.namespaceManifest));
    expect(namespace).toMatchObject({
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: MODEL_NAMESPACE, labels: { 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' } },
    });
    expect(namespace.metadata.labels[POD_READINESS_GATE_LABEL.key]).toBe(POD_READINESS_GATE_LABEL.value);
    expect(kind('TargetGroupBinding')[0].metadata.namespace).toBe(namespace.metadata.name);
  });

  test('every manifest (namespace and chart) is valid Kubernetes (1.27 and 1.31 schemas); exactly the TargetGroupBinding CRD is unchecked', () => {
    const { problems, unchecked } = validateKubernetesManifests([...manifestObjects(id(stack.namespaceManifest)), ...objects]);
    expect(problems).toEqual([]);
    expect(unchecked).toEqual(['elbv2.k8s.aws/v1beta1 TargetGroupBinding']);
  });

  test('alarms over what reaches CloudWatch (the gateway: latency, model-call failures, fallbacks), each notifying the alarm topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((r) => r.Properties);
    const topic = { Ref: stack.getLogicalId(stack.alarms.topic.node.defaultChild as CfnElement) };
    const metricsOf = (alarm: any) => JSON.stringify(alarm.Metrics ?? alarm.MetricName);
    for (const metric of [GatewayMetrics.LATENCY_MS, GatewayMetrics.MODEL_FAILURES, GatewayMetrics.FALLBACKS]) {
      expect(alarms.filter((a) => metricsOf(a).includes(`"${metric}"`)).length).toBeGreaterThan(0);
    }
    // Every alarm is heard: it notifies the topic itself, or it is a window of an SLO's burn-rate composite that does.
    const composites = Object.values(template.findResources('AWS::CloudWatch::CompositeAlarm')).map((r) => r.Properties);
    expect(composites.length).toBeGreaterThan(0);
    for (const composite of composites) expect(composite.AlarmActions).toEqual([topic]);
    const rules = JSON.stringify(composites.map((c) => c.AlarmRule));
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    for (const alarmId of alarmIds) {
      const alarm = resources[alarmId].Properties;
      if (alarm.AlarmActions === undefined) expect([alarm.AlarmDescription, rules.includes(alarmId)]).toEqual([alarm.AlarmDescription, true]);
      else expect(alarm.AlarmActions).toEqual([topic]);
    }
    expect(resources[id(stack.modelCallFailures)].Properties).toMatchObject({ MetricName: GatewayMetrics.MODEL_FAILURES, AlarmActions: [topic], OKActions: [topic] });
  });

  test('cdk-nag AwsSolutions reports nothing unacknowledged', () => {
    expect(assembly.messages.filter((m) => m.level === 'error')).toEqual([]);
  });
});
