/**
 * Validation of `ModelEndpoint`'s props and `ModelEndpoint.fromEndpointAttributes`'s attributes: every problem at
 * once, each naming the prop and the fix. Internal: not exported from lib/index.ts.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { environmentProblems, EnvironmentRules, percentProblems, rangeProblems, wholeSecondsProblems } from './validation';
import { ServerVariables } from '../../runtime/contracts/inference-server';
import { InferenceServerSettings, serverSettingsEnvironment } from '../serving/server-settings';
import type { DataCaptureProps } from '../serving/data-capture';
import { InferenceAccelerator } from '../serving/instance-type';
import type { ModelEndpointAttributes } from '../serving/model-endpoint-base';
import type {
  EndpointVariantProps, ModelEndpointProps, ProductionVariantProps, VariantAutoScalingProps,
} from '../serving/model-endpoint';

/** SageMaker's limit of production variants per endpoint. */
const MAX_PRODUCTION_VARIANTS = 10;
/** Endpoint and variant names. */
const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** Variables the endpoint sets itself on every container. */
const ENDPOINT_VARIABLES = [ServerVariables.MODEL_NAME, ServerVariables.MODEL_VERSION, ServerVariables.MODEL_VARIANT, ServerVariables.ENDPOINT_NAME];
/** SageMaker's limit on a container environment value. */
const MAX_VALUE_LENGTH = 1024;
/** SageMaker's range of the model download and container start-up timeouts. */
const SAGEMAKER_TIMEOUT_RANGE = { min: Duration.seconds(60), max: Duration.hours(1), why: 'SageMaker\'s range' };

/** Every problem of a `ModelEndpoint`'s props; `endpointName` is the name it will have (given or generated). */
export function modelEndpointProblems(props: ModelEndpointProps, endpointName: string): string[] {
  const problems: string[] = [];
  if (!isSageMakerName(endpointName)) {
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
  variants.forEach((v, i) => problems.push(...rangeProblems(`variants[${i}].initialWeight`, v.initialWeight ?? 1, { min: 0 })));
  if (variants.length > 0 && variants.every((v) => (v.initialWeight ?? 1) === 0)) {
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
  problems.push(...wholeSecondsProblems('modelDataDownloadTimeout', props.modelDataDownloadTimeout, SAGEMAKER_TIMEOUT_RANGE));
  problems.push(...wholeSecondsProblems('containerStartupHealthCheckTimeout', props.containerStartupHealthCheckTimeout, SAGEMAKER_TIMEOUT_RANGE));
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
  problems.push(...environmentProblems('environment', props.environment, environmentRules('')));
  problems.push(...serverSettingsProblems(props.serverSettings, all));
  return problems;
}

/** Every problem of the attributes of an imported endpoint. */
export function modelEndpointAttributesProblems(attrs: ModelEndpointAttributes): string[] {
  const problems: string[] = [];
  const variants = attrs.variantNames ?? [];
  if (variants.length === 0) problems.push('variantNames: name at least one variant of the endpoint, e.g. [\'v1\']');
  const production = attrs.productionVariantNames ?? variants;
  if (production.length === 0) problems.push('productionVariantNames: an endpoint has at least one production variant; leave it unset for every variant');
  const unknown = (names: string[], known: string[], prop: string, knownProp: string) => {
    for (const name of names.filter((n) => !Token.isUnresolved(n) && !known.includes(n))) {
      problems.push(`${prop}: '${name}' is not one of ${knownProp} (${known.join(', ')}); add it there or remove it`);
    }
  };
  unknown(production, variants, 'productionVariantNames', 'variantNames');
  const weights = attrs.productionVariantWeights ?? {};
  unknown(Object.keys(weights), production, 'productionVariantWeights', 'productionVariantNames');
  for (const [name, weight] of Object.entries(weights)) problems.push(...rangeProblems(`productionVariantWeights.${name}`, weight, { min: 0 }));
  if (production.length > 0 && production.every((name) => (weights[name] ?? 1) === 0)) {
    problems.push('productionVariantWeights: every weight is 0, so no variant would receive traffic; give one a positive weight');
  }
  unknown(Object.keys(attrs.modelVersions ?? {}), variants, 'modelVersions', 'variantNames');
  unknown(Object.keys(attrs.variantInstanceTypes ?? {}), variants, 'variantInstanceTypes', 'variantNames');
  return problems;
}

function isSageMakerName(name: string): boolean {
  return Token.isUnresolved(name) || (SAGEMAKER_NAME.test(name) && name.length <= 63);
}

/**
 * What an `environment` prop accepts: not the endpoint's own variables, nor one a typed server setting covers (the
 * message names the setting of the same level: `serverSettings.x` or `<where>.serverSettings.x`).
 */
function environmentRules(where: string): EnvironmentRules {
  const covered = serverSettingsEnvironment({}, where ? `${where}.serverSettings` : 'serverSettings').covered;
  return {
    taken: new Map([
      ...ENDPOINT_VARIABLES.map((name): [string, string] => [name, 'set by the endpoint itself (name, version, variant); remove it']),
      ...Object.entries(covered).map(([name, setting]): [string, string] => [name, `use ${setting}`]),
    ]),
    maxValueLength: MAX_VALUE_LENGTH,
  };
}

/**
 * Problems of the endpoint's server settings, and of each variant's merged over them (reported under the variant,
 * unless the endpoint's settings alone already have them): bounds, and rules across settings such as the drain grace
 * within the shutdown timeout, which only the merged settings can break.
 */
function serverSettingsProblems(endpoint: InferenceServerSettings | undefined, variants: Array<[string, EndpointVariantProps]>): string[] {
  const problems = serverSettingsEnvironment(endpoint ?? {}, 'serverSettings').problems;
  const endpointOwn = new Set(problems.map((p) => p.slice('serverSettings'.length)));
  for (const [where, v] of variants) {
    if (!v.serverSettings) continue;
    const prop = `${where}.serverSettings`;
    const merged = serverSettingsEnvironment(mergeServerSettings(endpoint, v.serverSettings), prop).problems;
    problems.push(...merged.filter((p) => !endpointOwn.has(p.slice(prop.length))));
  }
  return problems;
}

/** A variant's settings over the endpoint's, prop by prop (the nested `http` and `predictionLog` too). */
function mergeServerSettings(endpoint: InferenceServerSettings = {}, variant: InferenceServerSettings): InferenceServerSettings {
  return {
    ...endpoint,
    ...variant,
    http: { ...endpoint.http, ...variant.http },
    predictionLog: { ...endpoint.predictionLog, ...variant.predictionLog },
  };
}

function variantProblems(where: string, v: EndpointVariantProps, props: ModelEndpointProps): string[] {
  const problems: string[] = [];
  if (typeof v.name !== 'string' || !isSageMakerName(v.name)) {
    problems.push(`${where}.name: '${v.name}' must be 1-63 letters, digits or hyphens, starting and ending with a letter or digit`);
  }
  problems.push(...rangeProblems(`${where}.initialInstanceCount`, v.initialInstanceCount ?? 1, { min: 1, integer: true }));
  const image = v.image ?? props.image;
  const type = v.instanceType;
  if (image && type && !type.unresolved && image.accelerator !== type.accelerator) {
    problems.push(`${where}.instanceType: ${type.name} has accelerator ${type.accelerator} but the image is built for ${image.accelerator}; ${fixFor(image.accelerator)}`);
  }
  problems.push(...environmentProblems(`${where}.environment`, v.environment, environmentRules(where)));
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
  problems.push(...rangeProblems(`${where}.autoScaling.minCapacity`, min, { min: 1, integer: true }));
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
