import {
  Annotations, ArnFormat, Duration, IResource, Names, RemovalPolicy, Resource, Stack, Tags, Token, Validations,
} from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { InferenceImage } from './inference-image';
import { createAccessLogsBucket, deliverAccessLogsByBucketPolicy } from '../private/access-logs';
import { nagResource, throwIfProblems } from '../private/validation';
import { InferenceAccelerator, InferenceInstanceType } from './instance-type';
import { ModelArtifact } from './model-artifact';

/**
 * Environment variables the endpoint sets on every container, as our inference server reads them
 * (runtime/inference-server/config.ts). They may not be set through `environment`, except `MODEL_URI`.
 */
export enum ModelEnvironment {
  /** Logical model name: the `model` of prediction log records and metrics. */
  MODEL_NAME = 'MODEL_NAME',
  /** Model version: the artifact's asset hash or the version given to `ModelArtifact`. */
  MODEL_VERSION = 'MODEL_VERSION',
  /** Variant name: the `variant` of prediction log records and metrics. */
  MODEL_VARIANT = 'MODEL_VARIANT',
  /** Endpoint name. */
  ENDPOINT_NAME = 'ENDPOINT_NAME',
  /**
   * Path of the model file, `/opt/ml/model/<file>`, set when the artifact is one uncompressed file; `environment`
   * may set it to pick a file inside a tarball or prefix.
   */
  MODEL_URI = 'MODEL_URI',
}

/** What every variant (production or shadow) declares. */
export interface EndpointVariantProps {
  /** Variant name, unique in the endpoint: letters, digits and hyphens, e.g. `v1` or `fraud-2026-05`. */
  readonly name: string;
  /** The model data this variant serves. */
  readonly model: ModelArtifact;
  /** Instance type; must carry the accelerator the image is built for. */
  readonly instanceType: InferenceInstanceType;
  /**
   * Instances at creation (and the autoscaling minimum unless one is given).
   * @default 1
   */
  readonly initialInstanceCount?: number;
  /**
   * Container image of this variant.
   * @default - the endpoint's `image`
   */
  readonly image?: InferenceImage;
  /**
   * Container environment of this variant, merged over the endpoint's `environment`.
   * @default - the endpoint's environment
   */
  readonly environment?: Record<string, string>;
}

/** A production variant: serves its share of the traffic. */
export interface ProductionVariantProps extends EndpointVariantProps {
  /**
   * Relative traffic weight: a variant gets weight / (sum of weights) of the requests. Champion and challengers are
   * variants with different weights, e.g. 9 and 1. Ignored beside a shadow variant (the single production variant
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

/** Data capture of requests and responses to S3, for drift detection and model monitoring. */
export interface DataCaptureProps {
  /** Percentage of requests captured (0–100). */
  readonly samplingPercentage: number;
  /**
   * Capture request payloads.
   * @default true
   */
  readonly captureInput?: boolean;
  /**
   * Capture response payloads.
   * @default true
   */
  readonly captureOutput?: boolean;
  /**
   * Destination bucket.
   * @default - a bucket created here: KMS-encrypted with `encryptionKey`, TLS 1.2 or later only, public access
   *   blocked, ACLs disabled, versioned (overwritten or expired versions kept 30 days), server access logs delivered
   *   by bucket policy to a log bucket kept 90 days, objects expiring after `retention`
   */
  readonly bucket?: s3.IBucket;
  /**
   * Key prefix. SageMaker writes `<prefix>/<endpoint name>/<variant name>/yyyy/mm/dd/hh/<id>.jsonl`.
   * @default 'data-capture'
   */
  readonly prefix?: string;
  /**
   * KMS key SageMaker encrypts the captured objects with.
   * @default - a key created here (rotation on) when the bucket is created here; otherwise the bucket's key, if any
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long captured objects are kept (created bucket only).
   * @default Duration.days(90)
   */
  readonly retention?: Duration;
  /**
   * Where the created bucket's server access logs go (created bucket only).
   * @default - a log bucket created here
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * Content types captured as JSON text instead of base64.
   * @default ['application/json']
   */
  readonly jsonContentTypes?: string[];
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
   * Container environment of every variant (server settings such as batching limits).
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

/** A SageMaker real-time endpoint serving model variants. */
export interface IModelEndpoint extends IResource {
  /** Endpoint name. */
  readonly endpointName: string;
  /** Endpoint ARN. */
  readonly endpointArn: string;
  /** Names of the variants (production, then shadow). */
  readonly variantNames: string[];
  /** Allows `grantee` to call `sagemaker:InvokeEndpoint` on this endpoint. */
  grantInvoke(grantee: iam.IGrantable): iam.Grant;
  /** Any `AWS/SageMaker` metric of one variant. */
  metric(metricName: string, variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Model latency (microseconds) of a variant: p99 over 1 minute. */
  metricModelLatency(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Requests sent to a variant: sum over 1 minute. */
  metricInvocations(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Requests a variant answered with 4xx: sum over 1 minute. */
  metricInvocation4XXErrors(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Requests a variant answered with 5xx: sum over 1 minute. */
  metricInvocation5XXErrors(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** GPU utilisation of a variant's instances: average over 1 minute of the per-instance sum over its GPUs. */
  metricGpuUtilization(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** Attributes of an existing endpoint. */
export interface ModelEndpointAttributes {
  /** Endpoint name. */
  readonly endpointName: string;
  /** Names of its variants (the metric helpers refuse others). */
  readonly variantNames: string[];
}

/** Namespace of SageMaker's invocation metrics. */
const INVOCATION_NAMESPACE = 'AWS/SageMaker';
/** Namespace of SageMaker's instance metrics (CPU, memory, GPU). */
const INSTANCE_NAMESPACE = '/aws/sagemaker/Endpoints';

/** `grantInvoke` and the metric helpers, shared by owned and imported endpoints. */
export abstract class ModelEndpointBase extends Resource implements IModelEndpoint {
  /** Endpoint name. */
  public abstract readonly endpointName: string;
  /** Endpoint ARN. */
  public abstract readonly endpointArn: string;
  /** Names of the variants (production, then shadow). */
  public abstract readonly variantNames: string[];

  /** Allows `grantee` to call `sagemaker:InvokeEndpoint` on this endpoint. */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:InvokeEndpoint'], resourceArns: [this.endpointArn] });
  }

  /** Any `AWS/SageMaker` metric of one variant (dimensions EndpointName, VariantName; period 1 minute). */
  public metric(metricName: string, variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.variantMetric(INVOCATION_NAMESPACE, metricName, variantName, props);
  }

  /** Model latency (microseconds) of a variant: p99 over 1 minute. */
  public metricModelLatency(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ModelLatency', variantName, { statistic: 'p99', ...props });
  }

  /** Requests sent to a variant: sum over 1 minute. */
  public metricInvocations(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocations', variantName, { statistic: 'Sum', ...props });
  }

  /** Requests a variant answered with 4xx: sum over 1 minute. */
  public metricInvocation4XXErrors(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation4XXErrors', variantName, { statistic: 'Sum', ...props });
  }

  /** Requests a variant answered with 5xx: sum over 1 minute. */
  public metricInvocation5XXErrors(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation5XXErrors', variantName, { statistic: 'Sum', ...props });
  }

  /**
   * GPU utilisation of a variant's instances (`/aws/sagemaker/Endpoints`): average over 1 minute of each instance's
   * sum over its GPUs (0–100 × GPUs per instance).
   */
  public metricGpuUtilization(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.variantMetric(INSTANCE_NAMESPACE, 'GPUUtilization', variantName, { statistic: 'Average', ...props });
  }

  private variantMetric(namespace: string, metricName: string, variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (!Token.isUnresolved(variantName) && !this.variantNames.includes(variantName)) {
      throw new Error(`ModelEndpoint '${this.node.id}': no variant named '${variantName}'; variants are ${this.variantNames.join(', ')}`);
    }
    return new cloudwatch.Metric({
      namespace,
      metricName,
      period: Duration.minutes(1),
      ...props,
      dimensionsMap: { EndpointName: this.endpointName, VariantName: variantName },
    });
  }
}

/** Defaults sized for model loading: image pull, CUDA initialisation and ONNX session creation. */
const DEFAULT_DOWNLOAD_TIMEOUT = Duration.minutes(10);
const DEFAULT_STARTUP_TIMEOUT = Duration.minutes(10);
const MAX_PRODUCTION_VARIANTS = 10;
const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const ENV_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$/;
const RESERVED_ENV = new Set<string>([
  ModelEnvironment.MODEL_NAME, ModelEnvironment.MODEL_VERSION, ModelEnvironment.MODEL_VARIANT, ModelEnvironment.ENDPOINT_NAME,
]);
/** Where SageMaker puts the model data in the container. */
const MODEL_DIR = '/opt/ml/model';
/** How long overwritten or expired versions of captured objects are kept in the capture bucket created here. */
const NONCURRENT_CAPTURE_RETENTION = Duration.days(30);
/** How long the server access logs of the capture bucket created here are kept. */
const CAPTURE_ACCESS_LOG_RETENTION = Duration.days(90);
const AUTOSCALING_ROLE = 'aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint';

/**
 * A SageMaker real-time endpoint: one model per variant (our inference server image or any ECR image, model data in
 * S3), an endpoint config with weighted production variants and an optional shadow variant, data capture to an
 * encrypted bucket, autoscaling, a least-privilege execution role, `grantInvoke` and per-variant metrics.
 *
 * Endpoint configs and models are immutable in SageMaker. They get CloudFormation-generated names, so any change (a
 * new model file, image, weight or setting) replaces them and then updates the endpoint in place to the new config;
 * the model version (`MODEL_VERSION`) and image version are stamped on each model as environment and tags.
 */
export class ModelEndpoint extends ModelEndpointBase {
  /** An existing endpoint, for `grantInvoke` and metrics. */
  public static fromEndpointAttributes(scope: Construct, id: string, attrs: ModelEndpointAttributes): IModelEndpoint {
    class Imported extends ModelEndpointBase {
      public readonly endpointName = attrs.endpointName;
      public readonly variantNames = [...attrs.variantNames];
      public readonly endpointArn = Stack.of(scope).formatArn({
        service: 'sagemaker',
        resource: 'endpoint',
        // SageMaker ARNs carry the name in lower case.
        resourceName: Token.isUnresolved(attrs.endpointName) ? attrs.endpointName : attrs.endpointName.toLowerCase(),
      });
    }
    return new Imported(scope, id);
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
  /** Scalable targets of the autoscaled variants, by variant name. */
  public readonly scalableTargets: Record<string, appscaling.ScalableTarget> = {};

  private readonly dataCapturePrefix?: string;
  private readonly dataCaptureKey?: kms.IKey;
  /** Reasons for the wildcard resources of the execution role's policy, by the cdk-nag finding they raise. */
  private readonly wildcardReasons = new Map<string, string[]>();
  private readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: ModelEndpointProps) {
    super(scope, id);
    deliverAccessLogsByBucketPolicy(this);
    this.endpointName = props.endpointName ?? Names.uniqueResourceName(this, { maxLength: 63, separator: '-' });
    throwIfProblems(this, endpointProblems(props, this.endpointName));
    this.productionVariantNames = props.variants.map((v) => v.name);
    this.productionVariantWeights = Object.fromEntries(props.variants.map((v) => [v.name, v.initialWeight ?? 1]));
    this.variantNames = [...this.productionVariantNames, ...(props.shadowVariant ? [props.shadowVariant.name] : [])];
    warnAboutAvailability(this, props);

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `SageMaker execution role of endpoint ${this.endpointName}`,
    });
    this.role = this.executionRole;
    this.logGroup = this.createLogGroup(props.logRetention ?? logs.RetentionDays.ONE_MONTH);
    this.allowWildcard(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
      'ecr:GetAuthorizationToken has no resource-level permissions; image pulls are limited to the image repositories in the default policy');

    const capture = props.dataCapture;
    if (capture) {
      this.dataCapturePrefix = capture.prefix ?? 'data-capture';
      this.dataCaptureBucket = capture.bucket ?? this.createCaptureBucket(capture);
      this.dataCaptureKey = capture.encryptionKey ?? this.dataCaptureBucket.encryptionKey;
      this.dataCaptureS3Uri = this.dataCaptureBucket.s3UrlForObject(this.dataCapturePrefix);
      this.allowWildcard(new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.dataCaptureBucket.arnForObjects(`${this.dataCapturePrefix}/*`)],
      }), 'SageMaker writes data capture files under keys it generates (endpoint/variant/date/uuid); limited to the capture prefix');
      if (this.dataCaptureKey) {
        this.executionRole.addToPrincipalPolicy(new iam.PolicyStatement({
          actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [this.dataCaptureKey.keyArn],
        }));
      }
    }

    const vpcConfig = props.vpc ? this.vpcConfig(props) : undefined;
    this.modelName = props.modelName ?? this.endpointName;
    const shared = { vpcConfig, environment: props.environment, modelName: this.modelName };
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
      dataCaptureConfig: capture ? this.dataCaptureConfig(capture) : undefined,
      kmsKeyId: props.volumeEncryptionKey?.keyArn,
    });

    const autoscaled = props.variants.some((v) => v.autoScaling);
    this.cfnEndpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointName: this.endpointName,
      endpointConfigName: this.cfnEndpointConfig.attrEndpointConfigName,
      // A redeploy keeps the instance counts autoscaling has set, and takes weights and data capture from the config.
      retainAllVariantProperties: autoscaled ? true : undefined,
      excludeRetainedVariantProperties: autoscaled
        ? [{ variantPropertyType: 'DesiredWeight' }, { variantPropertyType: 'DataCaptureConfig' }]
        : undefined,
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
    if (!this.dataCaptureBucket || !this.dataCapturePrefix) {
      throw new Error(`ModelEndpoint '${this.node.id}': data capture is off; set the dataCapture prop to read captured data`);
    }
    const grant = this.dataCaptureBucket.grantRead(grantee, `${this.dataCapturePrefix}/*`);
    const keyGrant = this.dataCaptureKey?.grantDecrypt(grantee);
    return keyGrant ? grant.combine(keyGrant) : grant;
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

  private createCaptureBucket(capture: DataCaptureProps): s3.Bucket {
    const encryptionKey = capture.encryptionKey ?? new kms.Key(this, 'DataCaptureKey', {
      enableKeyRotation: true,
      description: `Encrypts data captured from SageMaker endpoint ${this.endpointName}`,
    });
    const retention = capture.retention ?? Duration.days(90);
    return new s3.Bucket(this, 'DataCapture', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // An overwrite or delete of captured data stays recoverable for a while: it is the record monitoring audits.
      versioned: true,
      serverAccessLogsBucket: capture.accessLogsBucket ?? createAccessLogsBucket(this, 'DataCaptureAccessLogs', {
        logsOf: 'the data capture bucket', retention: CAPTURE_ACCESS_LOG_RETENTION,
      }),
      serverAccessLogsPrefix: 'data-capture/',
      lifecycleRules: [
        { id: 'captured-data', expiration: retention },
        {
          id: 'old-versions-and-uploads',
          noncurrentVersionExpiration: NONCURRENT_CAPTURE_RETENTION,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
      ],
    });
  }

  private dataCaptureConfig(capture: DataCaptureProps): sagemaker.CfnEndpointConfig.DataCaptureConfigProperty {
    return {
      enableCapture: true,
      initialSamplingPercentage: capture.samplingPercentage,
      destinationS3Uri: this.dataCaptureS3Uri!,
      kmsKeyId: this.dataCaptureKey?.keyArn,
      captureOptions: [
        ...(capture.captureInput ?? true ? [{ captureMode: 'Input' }] : []),
        ...(capture.captureOutput ?? true ? [{ captureMode: 'Output' }] : []),
      ],
      captureContentTypeHeader: { jsonContentTypes: capture.jsonContentTypes ?? ['application/json'] },
    };
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
    shared: { vpcConfig?: sagemaker.CfnModel.VpcConfigProperty; environment?: Record<string, string>; modelName: string },
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
          ...(data.fileName ? { [ModelEnvironment.MODEL_URI]: `${MODEL_DIR}/${data.fileName}` } : {}),
          ...shared.environment,
          ...variant.environment,
          [ModelEnvironment.MODEL_NAME]: shared.modelName,
          [ModelEnvironment.MODEL_VERSION]: data.version,
          [ModelEnvironment.MODEL_VARIANT]: variant.name,
          [ModelEnvironment.ENDPOINT_NAME]: this.endpointName,
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
        metric: this.perGpuUtilization(variant),
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

  /** GPU utilisation in percent of one GPU: CloudWatch reports the sum over an instance's GPUs. */
  private perGpuUtilization(variant: EndpointVariantProps): cloudwatch.IMetric {
    const gpus = variant.instanceType.gpuCount;
    const metric = this.metricGpuUtilization(variant.name);
    return gpus > 1 ? new cloudwatch.MathExpression({
      expression: `gpu / ${gpus}`,
      usingMetrics: { gpu: metric },
      label: `GPUUtilization per GPU (${variant.name})`,
      period: Duration.minutes(1),
    }) : metric;
  }

  private autoScalingRole(): iam.IRole {
    const id = 'AutoScalingRole';
    const existing = this.node.tryFindChild(id) as iam.IRole | undefined;
    return existing ?? iam.Role.fromRoleArn(this, id, Stack.of(this).formatArn({
      service: 'iam', region: '', resource: 'role', resourceName: AUTOSCALING_ROLE, arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    }), { mutable: false });
  }
}

/** A tag value SageMaker accepts: allowed characters, at most 256. */
function tagValue(value: string): string {
  return Token.isUnresolved(value) ? value : value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_').slice(0, 256);
}

function warnAboutAvailability(scope: Construct, props: ModelEndpointProps): void {
  const fewest = (v: ProductionVariantProps) => v.autoScaling?.minCapacity ?? v.initialInstanceCount ?? 1;
  if (props.variants.every((v) => fewest(v) < 2)) {
    Annotations.of(scope).addWarningV2('ml-platform:singleInstanceEndpoint',
      'Every production variant runs a single instance: an instance failure or AZ outage takes the endpoint down; use initialInstanceCount >= 2 (or autoScaling.minCapacity >= 2) in production');
  }
}

/** Every problem of the props, each naming the prop and the fix. */
function endpointProblems(props: ModelEndpointProps, endpointName: string): string[] {
  const problems: string[] = [];
  if (!Token.isUnresolved(endpointName) && (!SAGEMAKER_NAME.test(endpointName) || endpointName.length > 63)) {
    problems.push(`endpointName: '${endpointName}' must be 1-63 letters, digits or hyphens, starting and ending with a letter or digit`);
  }
  const variants = props.variants ?? [];
  if (variants.length === 0) problems.push('variants: at least one production variant is required, e.g. [{ name: \'v1\', model, instanceType }]');
  if (variants.length > MAX_PRODUCTION_VARIANTS) {
    problems.push(`variants: ${variants.length} variants; SageMaker allows at most ${MAX_PRODUCTION_VARIANTS} per endpoint: retire old challengers`);
  }
  const all: Array<[string, EndpointVariantProps]> = variants.map((v, i) => [`variants[${i}]`, v]);
  if (props.shadowVariant) all.push(['shadowVariant', props.shadowVariant]);
  const seen = new Set<string>();
  for (const [where, v] of all) {
    problems.push(...variantProblems(where, v, props));
    if (seen.has(v.name)) problems.push(`${where}.name: '${v.name}' is used by another variant; variant names must be unique`);
    seen.add(v.name);
  }
  const weights = variants.map((v) => v.initialWeight ?? 1);
  for (const [i, w] of weights.entries()) {
    if (!Number.isFinite(w) || w < 0) problems.push(`variants[${i}].initialWeight: ${w} must be a number >= 0`);
  }
  if (variants.length > 0 && weights.every((w) => w === 0)) {
    problems.push('variants: every initialWeight is 0, so no variant would receive traffic; give the champion a positive weight');
  }
  variants.forEach((v, i) => { if (v.autoScaling) problems.push(...autoScalingProblems(`variants[${i}]`, v, v.autoScaling)); });
  if (props.shadowVariant) {
    if (variants.length !== 1) {
      problems.push(`shadowVariant: SageMaker allows a shadow variant only beside exactly one production variant (got ${variants.length}); remove the challengers or the shadow`);
    }
    problems.push(...percentProblems('shadowVariant.samplingPercentage', props.shadowVariant.samplingPercentage ?? 100, 1));
  }
  if (props.dataCapture) problems.push(...dataCaptureProblems(props.dataCapture));
  problems.push(...secondsProblems('modelDataDownloadTimeout', props.modelDataDownloadTimeout));
  problems.push(...secondsProblems('containerStartupHealthCheckTimeout', props.containerStartupHealthCheckTimeout));
  if (props.volumeEncryptionKey) {
    for (const [where, v] of all) {
      if (v.instanceType.instanceStorage) {
        problems.push(`volumeEncryptionKey: ${where} uses ${v.instanceType.name}, whose NVMe instance storage is hardware-encrypted and SageMaker refuses a volume KMS key with it; remove volumeEncryptionKey or use an EBS-only instance type`);
      }
    }
  }
  if (!props.vpc && (props.vpcSubnets || props.securityGroups)) {
    problems.push('vpc: vpcSubnets and securityGroups need a vpc; pass the VPC too');
  }
  problems.push(...environmentProblems('environment', props.environment));
  return problems;
}

function variantProblems(where: string, v: EndpointVariantProps, props: ModelEndpointProps): string[] {
  const problems: string[] = [];
  if (typeof v.name !== 'string' || (!Token.isUnresolved(v.name) && (!SAGEMAKER_NAME.test(v.name) || v.name.length > 63))) {
    problems.push(`${where}.name: '${v.name}' must be 1-63 letters, digits or hyphens, starting and ending with a letter or digit`);
  }
  const count = v.initialInstanceCount ?? 1;
  if (!Number.isInteger(count) || count < 1) problems.push(`${where}.initialInstanceCount: ${count} must be an integer >= 1`);
  const image = v.image ?? props.image;
  const type = v.instanceType;
  if (image && type && !type.unresolved && image.accelerator !== type.accelerator) {
    problems.push(`${where}.instanceType: ${type.name} has accelerator ${type.accelerator} but the image is built for ${image.accelerator}; ${fixFor(image.accelerator)}`);
  }
  problems.push(...environmentProblems(`${where}.environment`, v.environment));
  return problems;
}

function fixFor(accelerator: InferenceAccelerator): string {
  switch (accelerator) {
    case InferenceAccelerator.NVIDIA_GPU:
      return 'use a GPU instance type such as InferenceInstanceType.G5_XLARGE, or the CPU image (InferenceImage.fromServer({ gpu: false }))';
    case InferenceAccelerator.AWS_NEURON:
      return 'use an Inferentia instance type such as InferenceInstanceType.INF2_XLARGE';
    default:
      return 'use a CPU instance type such as InferenceInstanceType.C6I_XLARGE, or an image built for that accelerator (InferenceImage.fromServer({ gpu: true }) for GPUs)';
  }
}

function autoScalingProblems(where: string, v: ProductionVariantProps, s: VariantAutoScalingProps): string[] {
  const problems: string[] = [];
  if (v.instanceType.burstable) {
    problems.push(`${where}.autoScaling: ${v.instanceType.name} is a burstable instance type, which SageMaker cannot autoscale; use e.g. InferenceInstanceType.M5_LARGE or remove autoScaling`);
  }
  const min = s.minCapacity ?? v.initialInstanceCount ?? 1;
  if (!Number.isInteger(min) || min < 1) problems.push(`${where}.autoScaling.minCapacity: ${min} must be an integer >= 1`);
  if (!Number.isInteger(s.maxCapacity) || s.maxCapacity < min) {
    problems.push(`${where}.autoScaling.maxCapacity: ${s.maxCapacity} must be an integer >= minCapacity (${min})`);
  }
  const initial = v.initialInstanceCount ?? 1;
  if (initial < min || initial > s.maxCapacity) {
    problems.push(`${where}.initialInstanceCount: ${initial} must lie between autoScaling.minCapacity (${min}) and maxCapacity (${s.maxCapacity})`);
  }
  if (!(s.targetInvocationsPerInstance > 0)) {
    problems.push(`${where}.autoScaling.targetInvocationsPerInstance: ${s.targetInvocationsPerInstance} must be > 0 (requests per instance per minute)`);
  }
  if (s.gpuUtilization) {
    if (!v.instanceType.unresolved && !v.instanceType.gpu) {
      problems.push(`${where}.autoScaling.gpuUtilization: ${v.instanceType.name} has no GPU; remove gpuUtilization or use a GPU instance type`);
    }
    const out = s.gpuUtilization.scaleOutAbovePercent ?? 70;
    const fast = s.gpuUtilization.scaleOutFastAbovePercent ?? 90;
    problems.push(...percentProblems(`${where}.autoScaling.gpuUtilization.scaleOutAbovePercent`, out, 1));
    problems.push(...percentProblems(`${where}.autoScaling.gpuUtilization.scaleOutFastAbovePercent`, fast, 1));
    if (fast <= out) {
      problems.push(`${where}.autoScaling.gpuUtilization: scaleOutFastAbovePercent (${fast}) must be above scaleOutAbovePercent (${out})`);
    }
  }
  return problems;
}

function dataCaptureProblems(c: DataCaptureProps): string[] {
  const problems = percentProblems('dataCapture.samplingPercentage', c.samplingPercentage, 0);
  if (!Number.isInteger(c.samplingPercentage)) {
    problems.push(`dataCapture.samplingPercentage: ${c.samplingPercentage} must be an integer; SageMaker samples whole percents`);
  }
  if (c.captureInput === false && c.captureOutput === false) {
    problems.push('dataCapture: captureInput and captureOutput are both false, so nothing would be captured; enable one or remove dataCapture');
  }
  if (c.prefix !== undefined && !Token.isUnresolved(c.prefix) && !/^[^/](.*[^/])?$/.test(c.prefix)) {
    problems.push(`dataCapture.prefix: '${c.prefix}' must be non-empty without a leading or trailing '/', e.g. 'data-capture'`);
  }
  if (c.bucket && (c.retention || c.accessLogsBucket)) {
    problems.push('dataCapture: retention and accessLogsBucket apply to the bucket created here; set them on your own bucket instead');
  }
  return problems;
}

function percentProblems(prop: string, value: number, min: number): string[] {
  return typeof value === 'number' && value >= min && value <= 100 ? [] : [`${prop}: ${value} must be between ${min} and 100`];
}

function secondsProblems(prop: string, d: Duration | undefined): string[] {
  if (!d) return [];
  const seconds = d.toSeconds({ integral: false });
  if (Token.isUnresolved(seconds)) return [];
  return Number.isInteger(seconds) && seconds >= 60 && seconds <= 3600
    ? [] : [`${prop}: ${d.toHumanString()} must be whole seconds between 60 seconds and 1 hour (SageMaker's range)`];
}

function environmentProblems(prop: string, env: Record<string, string> | undefined): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(env ?? {})) {
    if (RESERVED_ENV.has(key)) problems.push(`${prop}.${key}: set by the endpoint itself (name, version, variant); remove it`);
    else if (!ENV_NAME.test(key)) problems.push(`${prop}: '${key}' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)`);
    if (typeof value !== 'string' || (!Token.isUnresolved(value) && value.length > 1024)) {
      problems.push(`${prop}.${key}: values must be strings of at most 1024 characters`);
    }
  }
  return problems;
}
