import * as path from 'path';
import { KubectlV33Layer } from '@aws-cdk/lambda-layer-kubectl-v33';
import { CfnElement, Duration, Size, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cdk8s from 'cdk8s';
import { Construct } from 'constructs';
import { fraudPrescreenInputs, transaction } from '../fraud-features';
import { GpuInstanceType } from '../../lib/compute/gpu-instance-type';
import { ChartAutoscaling, GpuInferenceChart } from '../../lib/kubernetes/chart';
import { GpuAmiFamily, GpuNodeGroup } from '../../lib/kubernetes/gpu-node-group';
import { GpuSharing } from '../../lib/kubernetes/gpu-scheduling';
import { ModelServiceLoadBalancer } from '../../lib/kubernetes/model-service-load-balancer';
import { POD_READINESS_GATE_LABEL } from '../../lib/kubernetes/pod-termination';
import { AlarmTopic } from '../../lib/monitoring/alarm-topic';
import { ModelMonitoring } from '../../lib/monitoring/model-monitoring';
import { Fallback, InferenceGateway } from '../../lib/serving/inference-gateway';
import { InferenceImage } from '../../lib/serving/inference-image';
import { ModelArtifact } from '../../lib/serving/model-artifact';
import { ExecutionProvider } from '../../lib/serving/server-settings';
import { GatewayMetrics } from '../../runtime/core/metrics';

/** Namespace of the model's pods and service account. */
export const MODEL_NAMESPACE = 'fraud';
/** The model's name: the server's `MODEL_NAME`, the gateway's `/predict/fraud`. */
export const MODEL_NAME = 'fraud';
const MODEL_FILE = path.join(__dirname, '..', 'models', 'fraud-prescreen.onnx');

/**
 * GPU serving on EKS behind the inference gateway: gateway (API Gateway + Lambda in the cluster's VPC) → internal
 * Network Load Balancer → the GpuInferenceChart's pods (registered by the AWS Load Balancer Controller through a
 * TargetGroupBinding) → a spot GPU node group whose L4/A10G GPUs are each shared by 4 pods (time-slicing).
 *
 * Observability: CloudWatch alarms (with an `AlarmTopic` action) watch what reaches CloudWatch on this path: the
 * gateway's latency, model-call failures and fallbacks (`ModelMonitoring` on the gateway). The pods' own signals do
 * not leave the cluster by themselves: the server's EMF lines go to stdout and its Prometheus metrics wait to be
 * scraped. For container logs in CloudWatch install the Amazon CloudWatch Observability add-on (it also reads EMF
 * from them); for the chart's queue-depth autoscaling run Prometheus with prometheus-adapter (or KEDA).
 *
 * Scaling: the chart scales pods, and nothing here scales the GPU nodes: run the Cluster Autoscaler or Karpenter
 * (see `GpuNodeGroup`), or the pending pods beyond `maxSize x 4` slots wait.
 */
export class EksGpuInferenceStack extends Stack {
  /** The cluster (private API endpoint, every control-plane log type). */
  public readonly cluster: eks.Cluster;
  /** The GPU nodes. */
  public readonly gpuNodes: GpuNodeGroup;
  /** The load balancer in front of the model's pods. */
  public readonly loadBalancer: ModelServiceLoadBalancer;
  /** The chart's manifest, applied by the cluster's kubectl provider. */
  public readonly chartManifest: eks.KubernetesManifest;
  /** The service account whose role may read the model object. */
  public readonly modelReader: eks.ServiceAccount;
  /** The gateway callers use. */
  public readonly gateway: InferenceGateway;
  /** The model's namespace, labelled for the load balancer controller's pod readiness gates. */
  public readonly namespaceManifest: eks.KubernetesManifest;
  /** Alarms over the gateway (latency, model-call failures, fallbacks). */
  public readonly monitoring: ModelMonitoring;
  /** Where the alarms notify (subscribe the on-call to its topic). */
  public readonly alarms: AlarmTopic;
  /** Failed calls from the gateway to the pods (errors, overload, deadline), which callers see only as fallbacks. */
  public readonly modelCallFailures: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { all: {} } });

    // Private endpoint only: kubectl runs in the private subnets (with the cluster security group).
    this.cluster = new eks.Cluster(this, 'Cluster', {
      vpc,
      version: eks.KubernetesVersion.V1_33,
      endpointAccess: eks.EndpointAccess.PRIVATE,
      clusterLogging: [
        eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT, eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER, eks.ClusterLoggingTypes.SCHEDULER,
      ],
      albController: { version: eks.AlbControllerVersion.V2_17_1 },
      // System pods (CoreDNS, the load balancer controller) on small on-demand nodes: GPU nodes are tainted.
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 2,
      defaultCapacityInstance: new ec2.InstanceType('m6i.large'),
      kubectlProviderOptions: { kubectlLayer: new KubectlV33Layer(this, 'Kubectl'), privateSubnets: vpc.privateSubnets },
    });

    const gpuSharing = GpuSharing.timeSlicing(4);
    this.gpuNodes = new GpuNodeGroup(this, 'GpuNodes', {
      cluster: this.cluster,
      instanceTypes: [GpuInstanceType.G6_XLARGE, GpuInstanceType.G5_XLARGE],
      amiFamily: GpuAmiFamily.AL2023_NVIDIA,
      capacityType: eks.CapacityType.SPOT,
      minSize: 1, desiredSize: 1, maxSize: 4,
      gpuSharing,
    });

    // Pod readiness gates: a rollout waits for each new pod's load balancer target to be healthy before it removes
    // an old pod, so the target group never runs out of healthy targets.
    const namespace = this.cluster.addManifest('Namespace', {
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: MODEL_NAMESPACE, labels: { [POD_READINESS_GATE_LABEL.key]: POD_READINESS_GATE_LABEL.value } },
    });
    this.namespaceManifest = namespace;
    const model = ModelArtifact.fromAsset(MODEL_FILE).bind(this);
    this.modelReader = this.cluster.addServiceAccount('ModelReader', { name: 'fraud-model-reader', namespace: MODEL_NAMESPACE });
    this.modelReader.node.addDependency(namespace);
    this.modelReader.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [model.objectsArn] }));

    this.loadBalancer = new ModelServiceLoadBalancer(this, 'ModelService', { vpc });

    const chart = new GpuInferenceChart(new cdk8s.App(), 'Fraud', {
      namespace: MODEL_NAMESPACE,
      image: InferenceImage.fromServer({ gpu: true }).bind(this).imageUri,
      modelUri: model.s3Uri,
      modelName: MODEL_NAME,
      modelVersion: model.version,
      modelSize: Size.mebibytes(64),
      modelLoadTime: Duration.seconds(30),
      serviceAccountName: this.modelReader.serviceAccountName,
      gpuSharing: this.gpuNodes.gpuSharing,
      serverSettings: { executionProvider: ExecutionProvider.CUDA, maxBatchSize: 64, maxQueueDelay: Duration.millis(2) },
      autoscaling: ChartAutoscaling.horizontalPodAutoscaler({ minReplicas: 2, maxReplicas: 8, targetQueueDepth: 8 }),
      targetGroupBinding: {
        targetGroupArn: this.loadBalancer.targetGroupArn,
        loadBalancerSecurityGroupId: this.loadBalancer.securityGroup.securityGroupId,
      },
    });
    this.chartManifest = this.cluster.addCdk8sChart('FraudChart', chart);
    // The TargetGroupBinding is a CRD of the load balancer controller; the pods need the service account.
    this.chartManifest.node.addDependency(this.cluster.albController!, this.modelReader, this.gpuNodes);

    this.acknowledgeEksFindings();

    this.gateway = new InferenceGateway(this, 'Gateway', {
      backend: this.loadBalancer.httpBackend({ modelName: MODEL_NAME }),
      requestSource: transaction,
      featureRefs: fraudPrescreenInputs,
      fallback: Fallback.constant({ probability: [0.01] }),
      deadline: Duration.millis(100),
    });

    this.alarms = new AlarmTopic(this, 'Alarms');
    this.monitoring = new ModelMonitoring(this, 'Monitoring', { gateway: this.gateway, warningAction: this.alarms, criticalAction: this.alarms });
    this.modelCallFailures = this.gateway.metric(GatewayMetrics.MODEL_FAILURES, { statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1) })
      .createAlarm(this, 'ModelCallFailures', {
        alarmDescription: `Model ${MODEL_NAME}: the gateway's calls to the GPU pods fail (error, overload or deadline) in 3 of 5 minutes; callers get the fallback`,
        threshold: 0, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5, datapointsToAlarm: 3, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.modelCallFailures.addAlarmAction(this.alarms);
    this.modelCallFailures.addOkAction(this.alarms);
  }

  /** cdk-nag findings on what aws-eks-v2 creates itself (its kubectl provider, cluster and default node group roles, controller policy). */
  private acknowledgeEksFindings(): void {
    const eksOwned = 'created by aws-eks-v2 itself, not configurable through its API';
    const managed = (name: string) => `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`;
    const kubectl = this.cluster.node.findChild('KubectlProvider');
    const handler = kubectl.node.findChild('Handler');
    const ecrPublic = this.getLogicalId(handler.node.findChild('HasEcrPublic') as CfnElement);
    const ecrPublicPolicy = `{"Fn::If":["${ecrPublic}",{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}`;
    Validations.of(kubectl).acknowledge(
      { id: 'AwsSolutions-L1', reason: `The kubectl provider's functions and their runtime are ${eksOwned}` },
      ...['service-role/AWSLambdaBasicExecutionRole', 'service-role/AWSLambdaVPCAccessExecutionRole', 'AmazonEC2ContainerRegistryReadOnly'].map((name) => ({
        id: managed(name), reason: `The kubectl provider's roles (logs, VPC access, pulling its image) are ${eksOwned}`,
      })),
      { id: `AwsSolutions-IAM4[Policy::${ecrPublicPolicy}]`, reason: `The kubectl handler's role is ${eksOwned}` },
      {
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(handler.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason: `The kubectl provider's framework invokes any version of its handler; ${eksOwned}`,
      },
    );
    Validations.of(this.cluster.node.findChild('Role')).acknowledge({
      id: managed('AmazonEKSClusterPolicy'), reason: `EKS requires AmazonEKSClusterPolicy on the cluster role, ${eksOwned}`,
    });
    Validations.of(this.cluster.node.findChild('NodegroupDefaultCapacity')).acknowledge(
      ...['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly'].map((name) => ({
        id: managed(name), reason: `EKS requires ${name} on node roles; the default node group's role is ${eksOwned}`,
      })),
    );
    const controllerResources = [
      '*', 'arn:<AWS::Partition>:ec2:*:*:security-group/*', 'arn:<AWS::Partition>:elasticloadbalancing:*:*:targetgroup/*/*',
      ...['net', 'app'].flatMap((kind) => [
        `arn:<AWS::Partition>:elasticloadbalancing:*:*:loadbalancer/${kind}/*/*`,
        `arn:<AWS::Partition>:elasticloadbalancing:*:*:listener/${kind}/*/*/*`,
        `arn:<AWS::Partition>:elasticloadbalancing:*:*:listener-rule/${kind}/*/*/*`,
      ]),
    ];
    Validations.of(this.cluster.albController!).acknowledge(...controllerResources.map((resource) => ({
      id: `AwsSolutions-IAM5[Resource::${resource}]`,
      reason: `The AWS Load Balancer Controller's IAM policy, published with the controller, manages load balancers, target groups and security groups named at run time; its role is ${eksOwned}`,
    })));
  }
}
