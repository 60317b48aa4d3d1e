import { Annotations, ArnFormat, Duration, Names, RemovalPolicy, Stack, Tags, Token, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { DataCaptureProps, EndpointDataCapture } from './data-capture';
import { InferenceImage } from './inference-image';
import { InferenceInstanceType } from './instance-type';
import { ModelArtifact } from './model-artifact';
import { DataCaptureDestination, IModelEndpoint, ImportedModelEndpoint, ModelEndpointAttributes, ModelEndpointBase } from './model-endpoint-base';
import { deliverAccessLogsByBucketPolicy } from '../private/access-logs';
import { InferenceServerSettings, serverSettingsEnvironment } from './server-settings';
import { modelEndpointProblems } from '../private/validate-model-endpoint-props';
import { nagResource, throwIfProblems } from '../private/validation';
import { inferenceServerEnvironment } from '../../runtime/contracts/inference-server';
import { perGpu } from '../private/gpu-metrics';

// The interface used to live here; kept importable from this module for the gateway (which imports it from here).
export type { IModelEndpoint, ModelEndpointAttributes } from './model-endpoint-base';

/** What every variant (production or shadow) declares. */
export interface EndpointVariantProps {
  /** Variant name, unique in the endpoint: letters, digits and hyphens, e.g. `v1` or `fraud-2026-05`. */
  readonly name: string;
  /** The model data this variant serves. */
  readonly model: ModelArtifact;
  /** Instance type; must carry the accelerator the image is built for. */
  readonly instanceType: InferenceInstanceType;
  /**
   * Instances when the variant is created (and the autoscaling minimum unless one is given). A redeploy applies a
   * changed count only while no variant of the endpoint autoscales: otherwise the endpoint keeps the running counts
   * (autoscaling's) for every variant, and a fixed variant's count changes through `UpdateEndpointWeightsAndCapacities`
   * or through `autoScaling` with `minCapacity` = `maxCapacity`. See `ModelEndpoint`.
   * @default 1
   */
  readonly initialInstanceCount?: number;
  /**
   * Container image of this variant.
   * @default - the endpoint's `image`
   */
  readonly image?: InferenceImage;
  /**
   * Settings of our inference server for this variant, merged over the endpoint's `serverSettings` prop by prop.
   * @default - the endpoint's serverSettings
   */
  readonly serverSettings?: InferenceServerSettings;
  /**
   * Raw container environment of this variant, merged over the endpoint's `environment`: for images other than our
   * server, or variables `serverSettings` does not cover. A variable a typed setting covers is refused.
   * @default - the endpoint's environment
   */
  readonly environment?: Record<string, string>;
}

/** A production variant: serves its share of the traffic. */
export interface ProductionVariantProps extends EndpointVariantProps {
  /**
   * Relative traffic weight when the variant is created: a variant gets weight / (sum of weights) of the requests.
   * Champion and challengers are variants with different weights, e.g. 9 and 1. Live weights are runtime state (a
   * routing table or `UpdateEndpointWeightsAndCapacities` sets them), so a redeploy keeps them and a changed
   * `initialWeight` applies only to a new variant. Ignored beside a shadow variant (the single production variant
   * takes all requests).
   * @default 1
   */
  readonly initialWeight?: number;
  /**
   * Autoscaling of the variant's instance count.
   * @default - a fixed instance count
   */
  readonly autoScaling?: VariantAutoScalingProps;
}

/** A shadow variant: receives a copy of the production variant's requests; its responses are discarded. */
export interface ShadowVariantProps extends EndpointVariantProps {
  /**
   * Percentage of the production requests copied to the shadow variant (1–100).
   * @default 100
   */
  readonly samplingPercentage?: number;
}

/** Step scaling on GPU utilisation, added to target tracking to scale out before requests queue on saturated GPUs. */
export interface GpuUtilizationScalingProps {
  /**
   * Average GPU utilisation (percent of one GPU; the endpoint divides CloudWatch's per-instance sum by the GPU count)
   * above which one instance is added.
   * @default 70
   */
  readonly scaleOutAbovePercent?: number;
  /**
   * Average GPU utilisation above which two instances are added at once.
   * @default 90
   */
  readonly scaleOutFastAbovePercent?: number;
  /**
   * Time after a GPU scale-out before another one may start (instances take minutes to load a model).
   * @default Duration.minutes(5)
   */
  readonly cooldown?: Duration;
}

/** Autoscaling of a production variant. Scale-in is left to target tracking. */
export interface VariantAutoScalingProps {
  /** Most instances. */
  readonly maxCapacity: number;
  /**
   * Fewest instances.
   * @default - the variant's initialInstanceCount
   */
  readonly minCapacity?: number;
  /** Target of `SageMakerVariantInvocationsPerInstance`: requests per instance per minute. */
  readonly targetInvocationsPerInstance: number;
  /**
   * Time after a scale-in before another scale-in.
   * @default Duration.minutes(5)
   */
  readonly scaleInCooldown?: Duration;
  /**
   * Time after a scale-out before another scale-out.
   * @default Duration.minutes(1)
   */
  readonly scaleOutCooldown?: Duration;
  /**
   * Step scaling on GPU utilisation (GPU instance types only).
   * @default - target tracking on invocations only
   */
  readonly gpuUtilization?: GpuUtilizationScalingProps;
}

/** Properties of a `ModelEndpoint`. */
export interface ModelEndpointProps {
  /** Container image of every variant that does not name its own, e.g. `InferenceImage.fromServer({ gpu: true })`. */
  readonly image: InferenceImage;
  /** Production variants (1–10), one per model version: a champion and its challengers, weighted. */
  readonly variants: ProductionVariantProps[];
  /**
   * A shadow variant (SageMaker allows one, and then exactly one production variant).
   * @default - none
   */
  readonly shadowVariant?: ShadowVariantProps;
  /**
   * Data capture to S3.
   * @default - no capture
   */
  readonly dataCapture?: DataCaptureProps;
  /**
   * Endpoint name (letters, digits, hyphens; at most 63). Also names the log group `/aws/sagemaker/Endpoints/<name>`.
   * @default - a unique name derived from the construct path
   */
  readonly endpointName?: string;
  /**
   * Logical model name given to the containers (`MODEL_NAME`): the `model` of prediction logs and metrics.
   * @default - the endpoint name
   */
  readonly modelName?: string;
  /**
   * Settings of our inference server (batching, queueing, timeouts, …) on every variant, validated at synth against
   * the bounds the server enforces.
   * @default - the server's defaults
   */
  readonly serverSettings?: InferenceServerSettings;
  /**
   * Raw container environment of every variant: for images other than our server, or variables `serverSettings`
   * does not cover (e.g. `MODEL_URI` inside a tarball). The endpoint's own variables (`MODEL_NAME`, `MODEL_VERSION`,
   * `MODEL_VARIANT`, `ENDPOINT_NAME`) and those a typed setting covers are refused.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Time SageMaker allows to download the model data to an instance (60 s – 1 h).
   * @default Duration.minutes(10)
   */
  readonly modelDataDownloadTimeout?: Duration;
  /**
   * Time SageMaker allows the container to answer its first `GET /ping` (60 s – 1 h): image pull, CUDA start and
   * model load included.
   * @default Duration.minutes(10)
   */
  readonly containerStartupHealthCheckTimeout?: Duration;
  /**
   * KMS key for the EBS storage volumes of the instances. SageMaker refuses one when any variant uses an instance
   * type with NVMe instance storage (g4dn, g5, g6, p4d, p5, *d types), whose volumes are hardware-encrypted.
   * The principal deploying the stack must be allowed to create grants on the key.
   * @default - volumes encrypted with an AWS managed key
   */
  readonly volumeEncryptionKey?: kms.IKey;
  /**
   * VPC the containers run in.
   * @default - SageMaker's network
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets of the containers.
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups of the containers.
   * @default - one created here, outbound only
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Retention of the endpoint's container logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** Defaults sized for model loading: image pull, CUDA initialisation and ONNX session creation. */
const DEFAULT_DOWNLOAD_TIMEOUT = Duration.minutes(10);
const DEFAULT_STARTUP_TIMEOUT = Duration.minutes(10);
/** Where SageMaker puts the model data in the container. */
const MODEL_DIR = '/opt/ml/model';
const AUTOSCALING_ROLE = 'aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint';

/**
 * A SageMaker real-time endpoint: one model per variant (our inference server image or any ECR image, model data in
 * S3), an endpoint config with weighted production variants and an optional shadow variant, data capture to an
 * encrypted bucket, autoscaling, a least-privilege execution role, `grantInvoke` and per-variant metrics.
 *
 * Endpoint configs and models are immutable in SageMaker. They get CloudFormation-generated names, so any change (a
 * new model file, image, weight or setting) replaces them and then updates the endpoint in place to the new config;
 * the model version (`MODEL_VERSION`) and image version are stamped on each model as environment and tags.
 *
 * A redeploy keeps each existing variant's live state (`RetainAllVariantProperties`), because something other than
 * the stack owns it:
 * - traffic weights: set at runtime (a routing table, `UpdateEndpointWeightsAndCapacities`); a changed
 *   `initialWeight` applies to new variants only. Beside a shadow variant the weights are the shadow's sampling, not
 *   routing, and a changed `samplingPercentage` does apply.
 * - instance counts, while any variant autoscales: autoscaling owns them, and a redeploy at peak must not shrink the
 *   endpoint to `initialInstanceCount`. This holds for every variant of such an endpoint (SageMaker's retention is
 *   per endpoint), so a fixed variant beside an autoscaled one keeps its running count too. With no autoscaled
 *   variant the config's counts apply: the code stays the source of truth for capacity.
 * - data capture settings are never kept: a changed `dataCapture` always deploys.
 */
export class ModelEndpoint extends ModelEndpointBase {
  /**
   * An existing endpoint, for `grantInvoke`, metrics and the inference gateway: the attributes carry what the gateway
   * reads (model name, production variants, weights, model versions); their defaults are those of
   * `ModelEndpointAttributes`.
   */
  public static fromEndpointAttributes(scope: Construct, id: string, attrs: ModelEndpointAttributes): IModelEndpoint {
    return new ImportedModelEndpoint(scope, id, attrs);
  }

  /** Endpoint name. */
  public readonly endpointName: string;
  /** Endpoint ARN. */
  public readonly endpointArn: string;
  /** Names of the variants (production, then shadow). */
  public readonly variantNames: string[];
  /** Names of the production variants. */
  public readonly productionVariantNames: string[];
  /**
   * Initial traffic weight of each production variant, by name: what the inference gateway's consistent
   * (per-user) variant assignment follows.
   */
  public readonly productionVariantWeights: Record<string, number>;
  /** Logical model name the containers log and report (`MODEL_NAME`). */
  public readonly modelName: string;
  /** Model version of each variant (`MODEL_VERSION`: the artifact's asset hash or given version), by variant name. */
  public readonly modelVersions: Record<string, string> = {};
  /** The execution role the containers run with. */
  public readonly role: iam.IRole;
  /** The CloudFormation endpoint (for deployment configs such as blue/green rollouts). */
  public readonly cfnEndpoint: sagemaker.CfnEndpoint;
  /** The CloudFormation endpoint config. */
  public readonly cfnEndpointConfig: sagemaker.CfnEndpointConfig;
  /** Log group of the containers' output. */
  public readonly logGroup: logs.ILogGroup;
  /** Bucket receiving captured data, when data capture is on. */
  public readonly dataCaptureBucket?: s3.IBucket;
  /** `s3://bucket/prefix` of the captured data, when data capture is on. */
  public readonly dataCaptureS3Uri?: string;
  public readonly dataCapture?: DataCaptureDestination;
  /** Instance type of each variant (production and shadow), by variant name. */
  public readonly variantInstanceTypes: Record<string, InferenceInstanceType>;
  /** Scalable targets of the autoscaled variants, by variant name. */
  public readonly scalableTargets: Record<string, appscaling.ScalableTarget> = {};

  private readonly capture?: EndpointDataCapture;
  /** Reasons for the wildcard resources of the execution role's policy, by the cdk-nag finding they raise. */
  private readonly wildcardReasons = new Map<string, string[]>();
  private readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: ModelEndpointProps) {
    super(scope, id);
    deliverAccessLogsByBucketPolicy(this);
    this.endpointName = props.endpointName ?? Names.uniqueResourceName(this, { maxLength: 63, separator: '-' });
    throwIfProblems(this, modelEndpointProblems(props, this.endpointName));
    this.productionVariantNames = props.variants.map((v) => v.name);
    this.productionVariantWeights = Object.fromEntries(props.variants.map((v) => [v.name, v.initialWeight ?? 1]));
    this.variantNames = [...this.productionVariantNames, ...(props.shadowVariant ? [props.shadowVariant.name] : [])];
    this.variantInstanceTypes = Object.fromEntries([...props.variants, ...(props.shadowVariant ? [props.shadowVariant] : [])].map((v) => [v.name, v.instanceType]));
    warnAboutAvailability(this, props);

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `SageMaker execution role of endpoint ${this.endpointName}`,
    });
    this.role = this.executionRole;
    this.logGroup = this.createLogGroup(props.logRetention ?? logs.RetentionDays.ONE_MONTH);
    this.allowWildcard(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
      'ecr:GetAuthorizationToken has no resource-level permissions; image pulls are limited to the image repositories in the default policy');

    if (props.dataCapture) {
      this.capture = new EndpointDataCapture(this, this.endpointName, props.dataCapture);
      this.dataCaptureBucket = this.capture.bucket;
      this.dataCaptureS3Uri = this.capture.s3Uri;
      this.dataCapture = { bucket: this.capture.bucket, prefix: this.capture.prefix, encryptionKey: this.capture.encryptionKey };
      const write = this.capture.writeStatements();
      this.allowWildcard(write.objects, write.wildcardReason);
      if (write.key) this.executionRole.addToPrincipalPolicy(write.key);
    }

    const vpcConfig = props.vpc ? this.vpcConfig(props) : undefined;
    this.modelName = props.modelName ?? this.endpointName;
    const shared: SharedContainerSettings = {
      vpcConfig, modelName: this.modelName, environment: props.environment, serverSettings: props.serverSettings ?? {},
    };
    const timeouts = {
      modelDataDownloadTimeoutInSeconds: (props.modelDataDownloadTimeout ?? DEFAULT_DOWNLOAD_TIMEOUT).toSeconds(),
      containerStartupHealthCheckTimeoutInSeconds: (props.containerStartupHealthCheckTimeout ?? DEFAULT_STARTUP_TIMEOUT).toSeconds(),
      routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
    };
    const variantConfig = (v: EndpointVariantProps, weight: number): sagemaker.CfnEndpointConfig.ProductionVariantProperty => ({
      variantName: v.name,
      modelName: this.createModel(v, props.image, shared).attrModelName,
      instanceType: v.instanceType.name,
      initialInstanceCount: v.initialInstanceCount ?? 1,
      initialVariantWeight: weight,
      ...timeouts,
    });
    const shadow = props.shadowVariant;
    // With a shadow variant, the single production variant gets weight 1 (it takes all traffic whatever its weight)
    // and the shadow the copied fraction: SageMaker copies shadow weight / production weight of the requests.
    const production = props.variants.map((v) => variantConfig(v, shadow ? 1 : v.initialWeight ?? 1));
    this.cfnEndpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: production,
      shadowProductionVariants: shadow ? [variantConfig(shadow, (shadow.samplingPercentage ?? 100) / 100)] : undefined,
      dataCaptureConfig: this.capture?.config(),
      kmsKeyId: props.volumeEncryptionKey?.keyArn,
    });

    this.cfnEndpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointName: this.endpointName,
      endpointConfigName: this.cfnEndpointConfig.attrEndpointConfigName,
      // A redeploy keeps the variants' live state (see `ModelEndpoint`); what the config must still change is excluded.
      retainAllVariantProperties: true,
      excludeRetainedVariantProperties: notRetainedOnUpdate(props).map((variantPropertyType) => ({ variantPropertyType })),
    });
    this.cfnEndpoint.node.addDependency(this.executionRole, this.logGroup);
    if (this.dataCaptureBucket) this.cfnEndpoint.node.addDependency(this.dataCaptureBucket);
    this.endpointArn = this.cfnEndpoint.ref;

    for (const variant of props.variants) {
      if (variant.autoScaling) this.autoScale(variant, variant.autoScaling);
    }
    for (const [id, reasons] of this.wildcardReasons) {
      Validations.of(this.executionRole).acknowledge({ id, reason: reasons.join('; ') });
    }
  }

  /** Allows `grantee` to read the captured data (objects under the capture prefix, and their KMS key). */
  public grantReadDataCapture(grantee: iam.IGrantable): iam.Grant {
    if (!this.capture) {
      throw new Error(`ModelEndpoint '${this.node.id}': data capture is off; set the dataCapture prop to read captured data`);
    }
    return this.capture.grantRead(grantee);
  }

  /**
   * Adds a statement whose resources need a wildcard to the execution role, and acknowledges the cdk-nag finding
   * (AwsSolutions-IAM5) of each wildcard resource with the reason.
   */
  private allowWildcard(statement: iam.PolicyStatement, reason: string): void {
    this.executionRole.addToPrincipalPolicy(statement);
    for (const resource of statement.resources) {
      const id = `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(this).resolve(resource))}]`;
      this.wildcardReasons.set(id, [...this.wildcardReasons.get(id) ?? [], `${statement.actions.join(', ')}: ${reason}`]);
    }
  }

  private createLogGroup(retention: logs.RetentionDays): logs.LogGroup {
    // Fixed name (SageMaker writes there): removed with the stack, or the next deploy would find it "already exists".
    const logGroup = new logs.LogGroup(this, 'Logs', { logGroupName: `/aws/sagemaker/Endpoints/${this.endpointName}`, retention, removalPolicy: RemovalPolicy.DESTROY });
    // The log group's ARN attribute covers its streams (it ends in ':*'), one per variant and instance.
    this.executionRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }));
    return logGroup;
  }

  private vpcConfig(props: ModelEndpointProps): sagemaker.CfnModel.VpcConfigProperty {
    const vpc = props.vpc!;
    const securityGroups = props.securityGroups ?? [new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: `Containers of SageMaker endpoint ${this.endpointName}`,
      allowAllOutbound: true,
    })];
    this.allowWildcard(new iam.PolicyStatement({
      actions: [
        'ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface',
        'ec2:DeleteNetworkInterfacePermission', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs',
        'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups',
      ],
      resources: ['*'],
    }), 'SageMaker attaches network interfaces in the endpoint\'s subnets; their IDs do not exist before creation and the EC2 Describe calls have no resource-level permissions');
    return {
      subnets: vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
      securityGroupIds: securityGroups.map((sg) => sg.securityGroupId),
    };
  }

  private createModel(
    variant: EndpointVariantProps,
    endpointImage: InferenceImage,
    shared: SharedContainerSettings,
  ): sagemaker.CfnModel {
    const scope = new Construct(this, `Variant-${variant.name}`);
    const image = (variant.image ?? endpointImage).bind(scope);
    const data = variant.model.bind(scope);
    this.modelVersions[variant.name] = data.version;
    this.executionRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      resources: [image.repositoryArn],
    }));
    this.allowModelDataRead(data.objectsArn, data.listPrefix, data.bucketArn);
    data.encryptionKey?.grantDecrypt(this.executionRole);

    const model = new sagemaker.CfnModel(scope, 'Model', {
      executionRoleArn: this.executionRole.roleArn,
      primaryContainer: {
        image: image.imageUri,
        modelDataSource: {
          s3DataSource: { s3Uri: data.s3Uri, s3DataType: data.s3DataType, compressionType: data.compressionType },
        },
        environment: {
          // The model file of a one-file artifact, unless the raw environment picks another.
          ...inferenceServerEnvironment({ modelUri: data.fileName ? `${MODEL_DIR}/${data.fileName}` : undefined }),
          // A variant's settings over the endpoint's, variable by variable: each setting writes one variable.
          ...serverSettingsEnvironment(shared.serverSettings).environment,
          ...serverSettingsEnvironment(variant.serverSettings ?? {}).environment,
          ...shared.environment,
          ...variant.environment,
          ...inferenceServerEnvironment({
            modelName: shared.modelName, modelVersion: data.version, variant: variant.name, endpointName: this.endpointName,
          }),
        },
      },
      vpcConfig: shared.vpcConfig,
    });
    // SageMaker checks the image and model data with the role when it creates the model.
    model.node.addDependency(this.executionRole);
    Tags.of(model).add('ml-platform:model-version', tagValue(data.version));
    Tags.of(model).add('ml-platform:image-version', tagValue(image.version));
    Tags.of(model).add('ml-platform:variant', variant.name);
    return model;
  }

  private allowModelDataRead(objectsArn: string, listPrefix: string | undefined, bucketArn: string): void {
    const read = new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [objectsArn] });
    if (listPrefix === undefined) {
      this.executionRole.addToPrincipalPolicy(read);
      return;
    }
    this.allowWildcard(read, `SageMaker copies every object under the model data prefix '${listPrefix}'`);
    this.executionRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${listPrefix}*`] } },
    }));
  }

  private autoScale(variant: ProductionVariantProps, scaling: VariantAutoScalingProps): void {
    const target = new appscaling.ScalableTarget(this, `Scaling-${variant.name}`, {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `endpoint/${this.endpointName}/variant/${variant.name}`,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      minCapacity: scaling.minCapacity ?? variant.initialInstanceCount ?? 1,
      maxCapacity: scaling.maxCapacity,
      role: this.autoScalingRole(),
    });
    target.node.addDependency(this.cfnEndpoint);
    target.scaleToTrackMetric('Invocations', {
      predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
      targetValue: scaling.targetInvocationsPerInstance,
      scaleInCooldown: scaling.scaleInCooldown ?? Duration.minutes(5),
      scaleOutCooldown: scaling.scaleOutCooldown ?? Duration.minutes(1),
    });
    const gpu = scaling.gpuUtilization;
    if (gpu) {
      target.scaleOnMetric('GpuUtilization', {
        metric: perGpu(this.metricGpuUtilization(variant.name), variant.instanceType.gpuCount, 'gpu', `GPUUtilization per GPU (${variant.name})`),
        scalingSteps: [
          { lower: gpu.scaleOutAbovePercent ?? 70, change: +1 },
          { lower: gpu.scaleOutFastAbovePercent ?? 90, change: +2 },
        ],
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        cooldown: gpu.cooldown ?? Duration.minutes(5),
        evaluationPeriods: 2,
        metricAggregationType: appscaling.MetricAggregationType.AVERAGE,
      });
    }
    this.scalableTargets[variant.name] = target;
  }


  private autoScalingRole(): iam.IRole {
    const id = 'AutoScalingRole';
    const existing = this.node.tryFindChild(id) as iam.IRole | undefined;
    return existing ?? iam.Role.fromRoleArn(this, id, Stack.of(this).formatArn({
      service: 'iam', region: '', resource: 'role', resourceName: AUTOSCALING_ROLE, arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    }), { mutable: false });
  }
}

/** What every variant's container gets from the endpoint's props. */
interface SharedContainerSettings {
  readonly vpcConfig?: sagemaker.CfnModel.VpcConfigProperty;
  readonly modelName: string;
  readonly environment?: Record<string, string>;
  readonly serverSettings: InferenceServerSettings;
}

/** A tag value SageMaker accepts: allowed characters, at most 256. */
function tagValue(value: string): string {
  return Token.isUnresolved(value) ? value : value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_').slice(0, 256);
}

/**
 * The variant properties a redeploy takes from the new endpoint config although `RetainAllVariantProperties` keeps
 * the running ones (see `ModelEndpoint`): data capture always; instance counts unless autoscaling owns some; weights
 * beside a shadow variant (there they are the shadow's sampling, not routing).
 */
function notRetainedOnUpdate(props: ModelEndpointProps): string[] {
  return [
    'DataCaptureConfig',
    ...(props.variants.some((v) => v.autoScaling) ? [] : ['DesiredInstanceCount']),
    ...(props.shadowVariant ? ['DesiredWeight'] : []),
  ];
}

function warnAboutAvailability(scope: Construct, props: ModelEndpointProps): void {
  const fewest = (v: ProductionVariantProps) => v.autoScaling?.minCapacity ?? v.initialInstanceCount ?? 1;
  if (props.variants.every((v) => fewest(v) < 2)) {
    Annotations.of(scope).addWarningV2('ml-platform:singleInstanceEndpoint',
      'Every production variant runs a single instance: an instance failure or AZ outage takes the endpoint down; use initialInstanceCount >= 2 (or autoScaling.minCapacity >= 2) in production');
  }
}

