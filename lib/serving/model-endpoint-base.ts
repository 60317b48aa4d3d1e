import { Duration, IResource, Resource, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { modelEndpointAttributesProblems } from '../private/validate-model-endpoint-props';
import { throwIfProblems } from '../private/validation';
import type { InferenceInstanceType } from './instance-type';

/** Where an endpoint's SageMaker data capture lands: `<bucket>/<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<id>.jsonl`. */
export interface DataCaptureDestination {
  /** The bucket. */
  readonly bucket: s3.IBucket;
  /** The key prefix, without a leading or trailing `/`. */
  readonly prefix: string;
  /**
   * The key SageMaker encrypts the captured objects with.
   * @default - the bucket's key, if any
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * A SageMaker real-time endpoint serving model variants: everything a consumer (the inference gateway, alarms, a
 * rollout) needs to know about it, whether it is defined in this app (`ModelEndpoint`) or imported
 * (`ModelEndpoint.fromEndpointAttributes`).
 */
export interface IModelEndpoint extends IResource {
  /** Endpoint name. */
  readonly endpointName: string;
  /** Endpoint ARN. */
  readonly endpointArn: string;
  /** Names of the variants (production, then shadow). */
  readonly variantNames: string[];
  /** Names of the production variants (those that take a weighted share of the traffic). */
  readonly productionVariantNames: string[];
  /**
   * Initial traffic weight of each production variant, by name: what the inference gateway's consistent (per-user)
   * variant assignment follows until a routing table says otherwise.
   */
  readonly productionVariantWeights: Record<string, number>;
  /** Logical model name the containers log and report (`MODEL_NAME`): the `model` of prediction logs and metrics. */
  readonly modelName: string;
  /** Model version of each variant (production and shadow), by variant name (`MODEL_VERSION`). */
  readonly modelVersions: Record<string, string>;
  /**
   * Instance type of each variant, by variant name, where known (an endpoint defined in this app): monitoring reads
   * the GPUs per instance from it. For an imported endpoint, its attributes' `variantInstanceTypes`, if given.
   */
  readonly variantInstanceTypes?: Record<string, InferenceInstanceType>;
  /** Where its data capture lands, when it captures (drift detection reads it). */
  readonly dataCapture?: DataCaptureDestination;
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
  /** GPU memory utilisation of a variant's instances: average over 1 minute of the per-instance sum over its GPUs. */
  metricGpuMemoryUtilization(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Host memory utilisation (percent) of a variant's instances: average over 1 minute. */
  metricMemoryUtilization(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** Attributes of an existing endpoint: what `IModelEndpoint` exposes beyond its name. */
export interface ModelEndpointAttributes {
  /** Endpoint name. */
  readonly endpointName: string;
  /** Names of its variants, production then shadow (the metric helpers refuse others). */
  readonly variantNames: string[];
  /**
   * Names of its production variants; each must be one of `variantNames`.
   * @default - every variant of `variantNames` (no shadow variant)
   */
  readonly productionVariantNames?: string[];
  /**
   * Initial traffic weight of each production variant, by name (weights >= 0, at least one positive); production
   * variants not named get 1.
   * @default - 1 for each production variant (an even split)
   */
  readonly productionVariantWeights?: Record<string, number>;
  /**
   * Logical model name its containers report (`MODEL_NAME`).
   * @default - the endpoint name (as `ModelEndpoint` defaults it)
   */
  readonly modelName?: string;
  /**
   * Model version of each variant, by variant name; variants not named get '1'.
   * @default - '1' for every variant
   */
  readonly modelVersions?: Record<string, string>;
  /**
   * Instance type of each variant, by variant name (each one of `variantNames`): monitoring reads the GPUs per
   * instance from it.
   * @default - unknown (monitoring then needs `gpusPerInstance` for GPU alarms)
   */
  readonly variantInstanceTypes?: Record<string, InferenceInstanceType>;
  /**
   * Where the endpoint's data capture lands, if it captures.
   * @default - no data capture known
   */
  readonly dataCapture?: DataCaptureDestination;
}

/** Namespace of SageMaker's invocation metrics. */
const INVOCATION_NAMESPACE = 'AWS/SageMaker';
/** Namespace of SageMaker's instance metrics (CPU, memory, GPU). */
const INSTANCE_NAMESPACE = '/aws/sagemaker/Endpoints';
/** Model version of an imported endpoint's variant that its attributes do not name (the gateway's default too). */
const DEFAULT_MODEL_VERSION = '1';

/** `grantInvoke` and the metric helpers, shared by owned and imported endpoints. */
export abstract class ModelEndpointBase extends Resource implements IModelEndpoint {
  /** Endpoint name. */
  public abstract readonly endpointName: string;
  /** Endpoint ARN. */
  public abstract readonly endpointArn: string;
  /** Names of the variants (production, then shadow). */
  public abstract readonly variantNames: string[];
  /** Names of the production variants. */
  public abstract readonly productionVariantNames: string[];
  /** Initial traffic weight of each production variant, by name. */
  public abstract readonly productionVariantWeights: Record<string, number>;
  /** Logical model name the containers log and report (`MODEL_NAME`). */
  public abstract readonly modelName: string;
  /** Model version of each variant, by variant name (`MODEL_VERSION`). */
  public abstract readonly modelVersions: Record<string, string>;

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

  /**
   * GPU memory utilisation of a variant's instances (`/aws/sagemaker/Endpoints`): average over 1 minute of each
   * instance's sum over its GPUs (0–100 × GPUs per instance).
   */
  public metricGpuMemoryUtilization(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.variantMetric(INSTANCE_NAMESPACE, 'GPUMemoryUtilization', variantName, { statistic: 'Average', ...props });
  }

  /** Host memory utilisation of a variant's instances (`/aws/sagemaker/Endpoints`, 0–100): average over 1 minute. */
  public metricMemoryUtilization(variantName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.variantMetric(INSTANCE_NAMESPACE, 'MemoryUtilization', variantName, { statistic: 'Average', ...props });
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

/**
 * An endpoint defined outside this app, from its attributes (`ModelEndpoint.fromEndpointAttributes`); the defaults
 * of `ModelEndpointAttributes` fill what is not given. Internal: not exported from lib/index.ts.
 */
export class ImportedModelEndpoint extends ModelEndpointBase {
  public readonly endpointName: string;
  public readonly endpointArn: string;
  public readonly variantNames: string[];
  public readonly productionVariantNames: string[];
  public readonly productionVariantWeights: Record<string, number>;
  public readonly modelName: string;
  public readonly modelVersions: Record<string, string>;
  public readonly variantInstanceTypes?: Record<string, InferenceInstanceType>;
  public readonly dataCapture?: DataCaptureDestination;

  constructor(scope: Construct, id: string, attrs: ModelEndpointAttributes) {
    super(scope, id);
    throwIfProblems(this, modelEndpointAttributesProblems(attrs));
    this.endpointName = attrs.endpointName;
    this.endpointArn = Stack.of(scope).formatArn({
      service: 'sagemaker',
      resource: 'endpoint',
      // SageMaker ARNs carry the name in lower case.
      resourceName: Token.isUnresolved(attrs.endpointName) ? attrs.endpointName : attrs.endpointName.toLowerCase(),
    });
    this.variantNames = [...attrs.variantNames];
    this.productionVariantNames = [...attrs.productionVariantNames ?? attrs.variantNames];
    this.productionVariantWeights = Object.fromEntries(
      this.productionVariantNames.map((name) => [name, attrs.productionVariantWeights?.[name] ?? 1]));
    this.modelName = attrs.modelName ?? attrs.endpointName;
    this.modelVersions = Object.fromEntries(
      this.variantNames.map((name) => [name, attrs.modelVersions?.[name] ?? DEFAULT_MODEL_VERSION]));
    this.variantInstanceTypes = attrs.variantInstanceTypes && { ...attrs.variantInstanceTypes };
    this.dataCapture = attrs.dataCapture && { ...attrs.dataCapture };
  }
}
