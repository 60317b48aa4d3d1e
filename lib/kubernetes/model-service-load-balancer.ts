import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ServerPaths } from '../../runtime/contracts/inference-server';
import { createAccessLogsBucket } from '../private/access-logs';
import { throwIfProblems } from '../private/validation';
import { MODEL_SERVICE_LOAD_BALANCER_DEFAULTS as DEFAULTS, validateModelServiceLoadBalancerProps } from '../private/validate-model-service-load-balancer-props';
import { HttpModelBackendProps, ModelBackend } from '../serving/model-backend';

/** How the load balancer checks each pod (HTTP GET on the server's readiness path, on the server's port). */
export interface ModelServiceHealthCheck {
  /**
   * Time between two checks of a pod (5 to 300 seconds). A new pod takes `healthyThresholdCount × interval` to get
   * traffic; a failing one is dropped after `unhealthyThresholdCount × interval`.
   * @default Duration.seconds(10)
   */
  readonly interval?: Duration;
  /**
   * Time a check may take before it counts as failed (2 to 120 seconds, below `interval`).
   * @default Duration.seconds(5)
   */
  readonly timeout?: Duration;
  /**
   * Consecutive successful checks before a pod gets traffic (2 to 10).
   * @default 2
   */
  readonly healthyThresholdCount?: number;
  /**
   * Consecutive failed checks before a pod gets no new connections (2 to 10).
   * @default 2
   */
  readonly unhealthyThresholdCount?: number;
}

/** Properties of a `ModelServiceLoadBalancer`. */
export interface ModelServiceLoadBalancerProps {
  /** The cluster's VPC: the pods' IP addresses (VPC CNI) are the targets. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the load balancer (one per zone the pods run in: cross-zone load balancing is on).
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Port of the listener: the port in `url`, where clients connect.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Port of the pods receiving the traffic: the inference server's `PORT`, or, when the chart runs a preprocessing
   * sidecar in front of it, the sidecar's port (the chart's `servingPort`).
   * @default - `serverPort`
   */
  readonly targetPort?: number;
  /**
   * Port of the inference server in the pods (its `PORT` setting), where the health check asks
   * `/v2/health/ready`: the server's own readiness, so a sidecar in front of it need not serve that path.
   * @default 8080 - the server's default PORT
   */
  readonly serverPort?: number;
  /**
   * How the load balancer checks the pods: HTTP GET `/v2/health/ready` on `serverPort`.
   * @default - every 10 seconds, 5 second timeout, 2 checks to become healthy, 2 to become unhealthy
   */
  readonly healthCheck?: ModelServiceHealthCheck;
  /**
   * How long a pod being removed keeps its open connections (whole seconds, 0 to 3600); then the load balancer closes
   * them (connection termination on), so clients reconnect to another pod. The AWS Load Balancer Controller
   * deregisters a pod when it starts terminating, and the pod keeps serving for the chart's `preStopDelay` plus the
   * server's `drainGrace`: keep this delay at most that sum, or requests on connections still open to the pod fail
   * once its server stops accepting them.
   * @default Duration.seconds(15) - the chart's default preStopDelay (10 s) + the server's default drainGrace (5 s)
   */
  readonly deregistrationDelay?: Duration;
  /**
   * Who may connect to the listener (e.g. a gateway function). More can be admitted later with
   * `lb.connections.allowFrom(client, ec2.Port.tcp(lb.port))`; `httpBackend()` admits the gateway itself.
   * @default - none
   */
  readonly allowedClients?: ec2.IConnectable[];
  /**
   * Bucket receiving the load balancer's access logs (SSE-S3). A Network Load Balancer writes access logs for TLS
   * listeners only: this TCP listener's connections are seen in the VPC's flow logs instead.
   * @default - a bucket created here (SSE-S3, TLS only, private), logs expiring after `accessLogRetention`
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * How long the access logs are kept in the bucket created here.
   * @default Duration.days(90)
   */
  readonly accessLogRetention?: Duration;
  /**
   * What happens to the access-log bucket created here when the stack deletes it.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** What `ModelServiceLoadBalancer.httpBackend` takes: the model as the servers behind the load balancer know it. */
export type ModelServiceBackendOptions = Omit<HttpModelBackendProps, 'url' | 'vpc' | 'securityGroups'>;

/**
 * An internal Network Load Balancer in front of the pods of a `GpuInferenceChart`, reached by an `InferenceGateway` in
 * the same VPC: gateway → load balancer → pods. Its target group has IP targets that the AWS Load Balancer Controller
 * keeps in step with the pods through the chart's TargetGroupBinding (pass `targetGroupArn` and
 * `securityGroup.securityGroupId` as the chart's `targetGroupBinding`; the controller then admits this security group
 * into the pods). The load balancer's security group admits only the clients given (or `httpBackend()`'s gateway) on
 * the listener port, and reaches the VPC only on the pods' target port and the server's health-check port; cross-zone
 * load balancing is on.
 */
export class ModelServiceLoadBalancer extends Construct implements ec2.IConnectable {
  /** The load balancer. */
  public readonly loadBalancer: elbv2.NetworkLoadBalancer;
  /** The IP target group the chart's TargetGroupBinding fills with pods. */
  public readonly targetGroup: elbv2.NetworkTargetGroup;
  /** ARN of the target group: the chart's `targetGroupBinding.targetGroupArn`. */
  public readonly targetGroupArn: string;
  /** The load balancer's security group: the chart's `targetGroupBinding.loadBalancerSecurityGroupId`. */
  public readonly securityGroup: ec2.ISecurityGroup;
  /** The load balancer's connections: `lb.connections.allowFrom(client, ec2.Port.tcp(lb.port))` admits a client. */
  public readonly connections: ec2.Connections;
  /** Port of the listener. */
  public readonly port: number;
  /** Port of the pods receiving the traffic. */
  public readonly targetPort: number;
  /** Port of the inference server in the pods, health-checked on `/v2/health/ready`. */
  public readonly serverPort: number;
  /** Base URL of the servers as clients in the VPC reach them: `http://<load balancer DNS name>:<port>`. */
  public readonly url: string;
  /** The VPC of the load balancer and its targets. */
  public readonly vpc: ec2.IVpc;
  private gatewayClients?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: ModelServiceLoadBalancerProps) {
    super(scope, id);
    throwIfProblems(this, validateModelServiceLoadBalancerProps(props));
    this.vpc = props.vpc;
    this.port = props.port ?? DEFAULTS.port;
    this.serverPort = props.serverPort ?? DEFAULTS.port;
    this.targetPort = props.targetPort ?? this.serverPort;
    const trafficPort = ec2.Port.tcp(this.port);
    const podPorts = [...new Set([this.targetPort, this.serverPort])];

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `Model service load balancer ${this.node.path}: admits its clients on ${this.port}, reaches the pods on ${podPorts.join(' and ')}`,
      allowAllOutbound: false,
    });
    // Targets are pod IPs in the VPC (VPC CNI): traffic goes to the target port, health checks to the server's port.
    for (const port of podPorts) {
      const why = [port === this.targetPort ? 'traffic' : undefined, port === this.serverPort ? 'health checks' : undefined].filter(Boolean).join(' and ');
      this.securityGroup.addEgressRule(ec2.Peer.ipv4(props.vpc.vpcCidrBlock), ec2.Port.tcp(port), `To the model service pods on ${port} (${why})`);
    }

    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      internetFacing: false,
      crossZoneEnabled: true,
      securityGroups: [this.securityGroup],
    });
    this.connections = new ec2.Connections({ securityGroups: [this.securityGroup], defaultPort: trafficPort });
    this.loadBalancer.logAccessLogs(props.accessLogsBucket ?? createAccessLogsBucket(this, 'AccessLogs', {
      logsOf: 'the model service load balancer',
      retention: props.accessLogRetention ?? DEFAULTS.accessLogRetention,
      removalPolicy: props.removalPolicy,
    }));

    const healthCheck = props.healthCheck ?? {};
    this.targetGroup = new elbv2.NetworkTargetGroup(this, 'TargetGroup', {
      vpc: props.vpc,
      port: this.targetPort,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: props.deregistrationDelay ?? DEFAULTS.deregistrationDelay,
      connectionTermination: true,
      healthCheck: {
        protocol: elbv2.Protocol.HTTP,
        path: ServerPaths.READY,
        port: String(this.serverPort),
        interval: healthCheck.interval ?? DEFAULTS.interval,
        timeout: healthCheck.timeout ?? DEFAULTS.timeout,
        healthyThresholdCount: healthCheck.healthyThresholdCount ?? DEFAULTS.healthyThresholdCount,
        unhealthyThresholdCount: healthCheck.unhealthyThresholdCount ?? DEFAULTS.unhealthyThresholdCount,
      },
    });
    this.targetGroupArn = this.targetGroup.targetGroupArn;
    this.loadBalancer.addListener('Listener', { port: this.port, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [this.targetGroup] });
    this.url = `http://${this.loadBalancer.loadBalancerDnsName}:${this.port}`;

    for (const client of props.allowedClients ?? []) this.connections.allowFrom(client, trafficPort, `Model service client on ${this.port}`);
  }

  /**
   * `ModelBackend.http` for an `InferenceGateway` in front of this load balancer: its function runs in the load
   * balancer's VPC (in `options.vpcSubnets`, default the private subnets) with a client security group, created here
   * once, that the load balancer admits on its port (and that may reach anything outbound, as the gateway also calls
   * DynamoDB, Kinesis and CloudWatch).
   */
  public httpBackend(options: ModelServiceBackendOptions = {}): ModelBackend {
    if (!this.gatewayClients) {
      this.gatewayClients = new ec2.SecurityGroup(this, 'GatewayClients', {
        vpc: this.vpc,
        description: `Gateway functions calling the model service load balancer ${this.node.path}`,
        allowAllOutbound: true,
      });
      this.connections.allowFrom(this.gatewayClients, ec2.Port.tcp(this.port), `Inference gateway on ${this.port}`);
    }
    return ModelBackend.http({ ...options, url: this.url, vpc: this.vpc, securityGroups: [this.gatewayClients] });
  }
}
