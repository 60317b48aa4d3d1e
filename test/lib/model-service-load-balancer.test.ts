import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { fraudPrescreenInputs, transaction } from '../../examples/fraud-features';
import { Fallback, InferenceGateway } from '../../lib';
import { ModelServiceLoadBalancer, ModelServiceLoadBalancerProps } from '../../lib/kubernetes/model-service-load-balancer';

const ENV = { account: '123456789012', region: 'us-east-1' };

// One stack with cdk-nag on: a load balancer with an allowed client and a gateway reaching it through httpBackend().
const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const stack = new Stack(app, 'ModelService', { env: ENV });
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, flowLogs: { all: {} } });
const batchClients = new ec2.SecurityGroup(stack, 'BatchClients', { vpc });
const lb = new ModelServiceLoadBalancer(stack, 'Fraud', { vpc, allowedClients: [batchClients], deregistrationDelay: Duration.seconds(20) });
// Behind a preprocessing sidecar: the listener on 80, the sidecar's port 8081 as the target, the server's 8080 health-checked.
const sidecarLb = new ModelServiceLoadBalancer(stack, 'Sidecar', { vpc, port: 80, targetPort: 8081 });
const gateway = new InferenceGateway(stack, 'Gateway', {
  backend: lb.httpBackend({ modelName: 'fraud' }),
  requestSource: transaction,
  featureRefs: fraudPrescreenInputs,
  fallback: Fallback.constant({ probability: [0.01] }),
});
const template = Template.fromJSON(app.synth().getStackByName(stack.stackName).template); // cdk-nag runs here
const ref = (construct: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [stack.getLogicalId(construct.node.defaultChild as any), 'GroupId'] });
const lbGroup = ref(lb.securityGroup as ec2.SecurityGroup);
const gatewayClients = ref(lb.node.findChild('GatewayClients') as ec2.SecurityGroup);

function problemsOf(props: Partial<ModelServiceLoadBalancerProps>): string {
  const s = new Stack(new App(), 'Invalid', { env: ENV });
  try {
    new ModelServiceLoadBalancer(s, 'Lb', { vpc: new ec2.Vpc(s, 'Vpc'), ...props } as ModelServiceLoadBalancerProps);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

describe('ModelServiceLoadBalancer', () => {
  test('an internal Network Load Balancer with its own security group, cross-zone on, access logs on', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internal',
      SecurityGroups: [lbGroup],
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'load_balancing.cross_zone.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'access_logs.s3.bucket', Value: { Ref: Match.stringLikeRegexp('^FraudAccessLogs') } },
      ]),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 8080, Protocol: 'TCP' });
  });

  test('IP target group on the port: HTTP health check on /v2/health/ready, deregistration delay attribute', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetType: 'ip', Protocol: 'TCP', Port: 8080,
      HealthCheckProtocol: 'HTTP', HealthCheckPath: '/v2/health/ready', HealthCheckPort: '8080',
      HealthCheckIntervalSeconds: 10, HealthCheckTimeoutSeconds: 5, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2,
      TargetGroupAttributes: Match.arrayWith([
        { Key: 'deregistration_delay.timeout_seconds', Value: '20' },
        { Key: 'deregistration_delay.connection_termination.enabled', Value: 'true' },
      ]),
    });
    expect(stack.resolve(lb.targetGroupArn)).toEqual({ Ref: stack.getLogicalId(lb.targetGroup.node.defaultChild as any) });
  });

  test('a target port apart from the server: listener, targets and health check each on their own port, egress to both pod ports', () => {
    const resource = (type: string, construct: { node: { defaultChild?: unknown } }) =>
      template.findResources(type)[stack.getLogicalId(construct.node.defaultChild as any)].Properties;
    expect(resource('AWS::ElasticLoadBalancingV2::TargetGroup', sidecarLb.targetGroup)).toMatchObject({
      Port: 8081, HealthCheckPort: '8080', HealthCheckPath: '/v2/health/ready', HealthCheckProtocol: 'HTTP',
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80, LoadBalancerArn: { Ref: stack.getLogicalId(sidecarLb.loadBalancer.node.defaultChild as any) },
    });
    const egress = resource('AWS::EC2::SecurityGroup', sidecarLb.securityGroup as ec2.SecurityGroup).SecurityGroupEgress;
    const vpcCidr = { 'Fn::GetAtt': [stack.getLogicalId(vpc.node.defaultChild as any), 'CidrBlock'] };
    expect(egress.map((e: any) => [e.CidrIp, e.FromPort, e.ToPort])).toEqual([[vpcCidr, 8081, 8081], [vpcCidr, 8080, 8080]]);
    expect([sidecarLb.port, sidecarLb.targetPort, sidecarLb.serverPort]).toEqual([80, 8081, 8080]);
    expect(stack.resolve(sidecarLb.url)['Fn::Join'][1][2]).toBe(':80');
  });

  test('the security group admits only the allowed clients and the gateway, on the port; it reaches the VPC on the port only', () => {
    const groupId = stack.getLogicalId((lb.securityGroup as ec2.SecurityGroup).node.defaultChild as any);
    const group = template.toJSON().Resources[groupId].Properties;
    expect(group.SecurityGroupIngress).toBeUndefined();
    expect(group.SecurityGroupEgress).toEqual([expect.objectContaining({
      CidrIp: { 'Fn::GetAtt': [stack.getLogicalId(vpc.node.defaultChild as any), 'CidrBlock'] }, IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080,
    })]);
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties).filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(lbGroup));
    expect(ingress.map((p) => [p.SourceSecurityGroupId, p.IpProtocol, p.FromPort, p.ToPort])).toEqual(expect.arrayContaining([
      [ref(batchClients), 'tcp', 8080, 8080],
      [gatewayClients, 'tcp', 8080, 8080],
    ]));
    expect(ingress).toHaveLength(2);
    expect(ingress.every((p) => p.CidrIp === undefined)).toBe(true);
  });

  test('httpBackend(): the gateway function runs in the VPC with the client security group the load balancer admits, calling its URL', () => {
    const fnId = stack.getLogicalId(gateway.function.node.defaultChild as any);
    const fn = template.toJSON().Resources[fnId].Properties;
    expect(fn.VpcConfig.SecurityGroupIds).toEqual([gatewayClients]);
    const privateSubnets = vpc.privateSubnets.map((s) => ({ Ref: stack.getLogicalId(s.node.defaultChild as any) }));
    expect(fn.VpcConfig.SubnetIds).toEqual(privateSubnets);
    expect(JSON.stringify(fn.Environment.Variables)).toContain(`${stack.getLogicalId(lb.loadBalancer.node.defaultChild as any)}`);
    expect(stack.resolve(lb.url)).toEqual({ 'Fn::Join': ['', ['http://', { 'Fn::GetAtt': [stack.getLogicalId(lb.loadBalancer.node.defaultChild as any), 'DNSName'] }, ':8080']] });
    // A second backend reuses the same client security group.
    lb.httpBackend({ modelName: 'fraud' });
    expect(lb.node.children.filter((c) => c instanceof ec2.SecurityGroup)).toHaveLength(2);
  });

  test('cdk-nag AwsSolutions reports nothing unacknowledged', () => {
    const errors = app.synth().getStackByName(stack.stackName).messages.filter((m) => m.level === 'error');
    expect(errors).toEqual([]);
  });

  test('by default the deregistration delay is what a pod of the chart keeps serving: preStop 10 s + drainGrace 5 s', () => {
    const s = new Stack(new App(), 'Defaults', { env: ENV });
    new ModelServiceLoadBalancer(s, 'Lb', { vpc: new ec2.Vpc(s, 'Vpc') });
    Template.fromStack(s).hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '15' }]),
    });
  });

  test('invalid props are refused, every problem at once, naming the prop and the range', () => {
    const message = problemsOf({
      port: 70000,
      targetPort: 0,
      serverPort: 8080.5,
      deregistrationDelay: Duration.hours(2),
      healthCheck: { interval: Duration.seconds(3), timeout: Duration.seconds(4), healthyThresholdCount: 1, unhealthyThresholdCount: 11 },
    });
    expect(message).toContain('port: 70000 must be an integer between 1 and 65535');
    expect(message).toContain('targetPort: 0 must be an integer between 1 and 65535');
    expect(message).toContain('serverPort: 8080.5 must be an integer between 1 and 65535');
    expect(message).toContain('deregistrationDelay: 2 hours must be whole seconds between 0 seconds and 1 hour');
    expect(message).toContain('healthCheck.interval: 3 seconds must be whole seconds between 5 seconds and 300 seconds');
    expect(message).toContain('healthCheck.healthyThresholdCount: 1 must be an integer between 2 and 10');
    expect(message).toContain('healthCheck.unhealthyThresholdCount: 11 must be an integer between 2 and 10');
    expect(message).toContain('healthCheck.timeout: 4 seconds must be below healthCheck.interval (3 seconds)');
    expect(problemsOf({ vpc: undefined })).toContain('vpc: required');
    expect(problemsOf({ port: 9000 })).toBe('');
  });
});
