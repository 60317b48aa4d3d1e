import { Duration, Size } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ChartAutoscaling, GpuInferenceChart, GpuSharing } from '../../lib/kubernetes/chart';
import { GpuInstanceType } from '../../lib/compute/gpu-instance-type';
import { ExecutionProvider } from '../../lib/serving/server-settings';

/** Example values: replace the image, model and role with yours. */
export const FRAUD_MODEL = {
  image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-platform/inference-server:1.4.0-cuda12',
  modelUri: 's3://ml-platform-models-123456789012/fraud/v7/model.onnx',
  roleArn: 'arn:aws:iam::123456789012:role/fraud-model-reader',
};

/** Options of the example chart. */
export interface FraudModelChartOptions {
  /** Register the pods in this target group. @default - no TargetGroupBinding */
  readonly targetGroupArn?: string;
  /** The load balancer's security group, admitted on the serving port. @default - no ingress rule */
  readonly loadBalancerSecurityGroupId?: string;
  /** Render the `fraud` Namespace (standalone YAML); off when CDK owns it. @default false */
  readonly createNamespace?: boolean;
}

/**
 * The fraud model on GPU nodes: a 300 MB model shares each L4 GPU of a g6.xlarge node group between 4 pods
 * (time-slicing; 0.9 vCPU each, so the 4 fit the node's 4 vCPU), scales on queue depth from 2 to 12 pods, and is
 * registered in a load balancer's target group when `targetGroupArn` is given.
 */
export function fraudModelChart(scope: Construct, id: string, options: FraudModelChartOptions = {}): GpuInferenceChart {
  return new GpuInferenceChart(scope, id, {
    namespace: 'fraud',
    createNamespace: options.createNamespace,
    image: FRAUD_MODEL.image,
    modelUri: FRAUD_MODEL.modelUri,
    modelName: 'fraud',
    modelVersion: '7',
    modelSize: Size.mebibytes(300),
    modelLoadTime: Duration.seconds(45),
    serviceAccountRoleArn: FRAUD_MODEL.roleArn,
    gpuSharing: GpuSharing.timeSlicing(4),
    instanceType: GpuInstanceType.G6_XLARGE,
    cpu: 0.9,
    serverSettings: { executionProvider: ExecutionProvider.CUDA, maxBatchSize: 64, maxQueueDelay: Duration.millis(2), drainGrace: Duration.seconds(5) },
    autoscaling: ChartAutoscaling.horizontalPodAutoscaler({ minReplicas: 2, maxReplicas: 12, targetQueueDepth: 8 }),
    targetGroupBinding: options.targetGroupArn === undefined ? undefined
      : { targetGroupArn: options.targetGroupArn, loadBalancerSecurityGroupId: options.loadBalancerSecurityGroupId },
  });
}
