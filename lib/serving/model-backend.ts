import * as fs from 'fs';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { EMBEDDED_VARIANT, httpUrlProblems, ModelBackendConfig, modelBackendProblems, MODEL_NAME_PATTERN } from '../../runtime/contracts/model-backend';
import { EMBEDDED_MODEL_FILE, embeddedModelCode, fileHash, MAX_EMBEDDED_MODEL_BYTES } from '../private/embedded-model-code';
import type { IModelEndpoint } from './model-endpoint';

/** Where the gateway function runs in a VPC. */
export interface ModelBackendVpcPlacement {
  /** The VPC. */
  readonly vpc: ec2.IVpc;
  /** Subnets of the function. @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Security groups of the function. @default - one created for the function, all outbound allowed */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** What a backend asks of the gateway that uses it (`ModelBackend.bind`). */
export interface ModelBackendBinding {
  /** The runtime configuration, carried to the gateway function as JSON (it may hold tokens: `Stack.toJsonString`). */
  readonly config: ModelBackendConfig;
  /** The model's name as the backend knows it. @default - none: the gateway's `modelName` is required */
  readonly modelName?: string;
  /** The variants answering behind the backend. @default - one, unnamed */
  readonly variantNames?: string[];
  /** Model version of each variant, by variant name. @default - none known */
  readonly modelVersions?: Record<string, string>;
  /** Traffic weight of each variant, for the gateway's consistent per-user assignment. @default - none: the backend routes */
  readonly variantWeights?: Record<string, number>;
  /** The VPC the gateway function must run in to reach the backend. @default - not in a VPC */
  readonly vpc?: ModelBackendVpcPlacement;
  /** The gateway function's code, when the backend brings its own (an embedded model). @default - the gateway handler bundle */
  readonly code?: lambda.Code;
  /** Grants `grantee` (the gateway function) what it needs to call the backend. */
  grantInvoke(grantee: iam.IGrantable): void;
}

/** Properties of `ModelBackend.http`. */
export interface HttpModelBackendProps {
  /**
   * Base URL of servers speaking our inference server's protocol, as the gateway function reaches them: typically an
   * internal load balancer in front of a Kubernetes service, `http://fraud.models.internal:8080`. The gateway calls
   * `<url>/v2/models/<modelName>/infer`, sending the deadline, priority and target variant as the server's headers.
   */
  readonly url: string;
  /** The VPC the gateway function runs in to reach `url`. */
  readonly vpc: ec2.IVpc;
  /** Subnets of the gateway function. @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups of the gateway function; the load balancer must admit them.
   * @default - one created for the function, all outbound allowed (admit `gateway.function.connections`)
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** The server's model name (its `MODEL_NAME`). @default - the gateway's `modelName` */
  readonly modelName?: string;
  /**
   * Variants behind `url`, when the load balancer routes on the `x-inference-variant` header (each server refuses
   * calls for another variant than its own).
   * @default - one variant: no header sent
   */
  readonly variantNames?: string[];
  /** Traffic weight of each of `variantNames`. @default - equal weights */
  readonly variantWeights?: Record<string, number>;
  /** Model version of each of `variantNames`. @default - none known */
  readonly modelVersions?: Record<string, string>;
}

/** Properties of `ModelBackend.embedded`. */
export interface EmbeddedModelBackendProps {
  /** A local `.onnx` file, packaged into the gateway function with onnxruntime-node (at most 200 MiB). */
  readonly modelPath: string;
  /** Model name. @default - the file name without `.onnx` (as our inference server names it) */
  readonly modelName?: string;
  /** Model version, logged with every prediction. @default - the file's SHA-256 (first 16 hex digits) */
  readonly version?: string;
  /** onnxruntime threads of the session. @default 1 */
  readonly intraOpThreads?: number;
}

/**
 * Where an `InferenceGateway` gets its model's answers: a SageMaker endpoint, servers speaking our inference
 * server's protocol over HTTP (the Kubernetes path), or an ONNX model embedded in the gateway function.
 */
export abstract class ModelBackend {
  /** A SageMaker endpoint (`ModelEndpoint`, or one imported with `ModelEndpoint.fromEndpointAttributes`). */
  public static sageMaker(endpoint: IModelEndpoint): ModelBackend {
    return new SageMakerBackend(endpoint);
  }

  /** Servers speaking our inference server's OIP v2 protocol behind `url`, reached from the gateway function in a VPC. */
  public static http(props: HttpModelBackendProps): ModelBackend {
    return new HttpBackend(props);
  }

  /** An ONNX model run inside the gateway function (small models that change rarely: no network hop, no endpoint). */
  public static embedded(props: EmbeddedModelBackendProps): ModelBackend {
    return new EmbeddedBackend(props);
  }

  /** What the gateway in `scope` must do to use the backend. */
  public abstract bind(scope: Construct): ModelBackendBinding;
}

class SageMakerBackend extends ModelBackend {
  constructor(private readonly endpoint: IModelEndpoint) {
    super();
  }

  public bind(_scope: Construct): ModelBackendBinding {
    const endpoint = this.endpoint;
    return {
      config: { kind: 'sagemaker', endpointName: endpoint.endpointName },
      modelName: endpoint.modelName,
      variantNames: endpoint.productionVariantNames,
      modelVersions: endpoint.modelVersions,
      variantWeights: endpoint.productionVariantWeights,
      grantInvoke: (grantee) => endpoint.grantInvoke(grantee),
    };
  }
}

class HttpBackend extends ModelBackend {
  constructor(private readonly props: HttpModelBackendProps) {
    super();
    throwIfInvalid('ModelBackend.http', httpProblems(props));
  }

  public bind(_scope: Construct): ModelBackendBinding {
    const { url, modelName, variantNames, vpc, vpcSubnets, securityGroups } = this.props;
    return {
      config: { kind: 'http', url, ...(modelName === undefined ? {} : { model: modelName }) },
      modelName,
      variantNames,
      modelVersions: this.props.modelVersions,
      variantWeights: this.props.variantWeights ?? (variantNames ? Object.fromEntries(variantNames.map((name) => [name, 1])) : undefined),
      vpc: { vpc, vpcSubnets, securityGroups },
      grantInvoke: () => undefined, // reached over the network: the load balancer's security group admits the function
    };
  }
}

class EmbeddedBackend extends ModelBackend {
  private readonly modelFile: string;

  constructor(private readonly props: EmbeddedModelBackendProps) {
    super();
    this.modelFile = path.resolve(props.modelPath ?? '');
    throwIfInvalid('ModelBackend.embedded', embeddedProblems(props, this.modelFile));
  }

  public bind(_scope: Construct): ModelBackendBinding {
    const version = this.props.version ?? fileHash(this.modelFile).slice(0, 16);
    const code = embeddedModelCode(this.modelFile);
    return {
      config: { kind: 'embedded', modelPath: EMBEDDED_MODEL_FILE, ...(this.props.intraOpThreads === undefined ? {} : { intraOpThreads: this.props.intraOpThreads }) },
      modelName: this.props.modelName ?? path.basename(this.modelFile, '.onnx'),
      variantNames: [EMBEDDED_VARIANT],
      modelVersions: { [EMBEDDED_VARIANT]: version },
      code: lambda.Code.fromAsset(code.dir),
      grantInvoke: () => undefined, // in the function itself: nothing to grant
    };
  }
}

function throwIfInvalid(factory: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new Error(`${factory}: invalid props:\n  - ${problems.join('\n  - ')}`);
}

function modelNameProblems(modelName: string | undefined): string[] {
  return modelName === undefined || Token.isUnresolved(modelName) || MODEL_NAME_PATTERN.test(modelName) ? []
    : [`modelName: '${modelName}' must be 1-63 letters, digits, '_', '.' or '-' (a URL path segment)`];
}

function httpProblems(props: HttpModelBackendProps): string[] {
  const problems: string[] = [];
  if (Token.isUnresolved(props.url)) {
    // A load balancer's DNS name is a token: only the scheme, written out, can be checked here.
    if (!/^https?:\/\//.test(props.url)) problems.push('url: start it with http:// or https://, e.g. `http://${loadBalancer.loadBalancerDnsName}:8080`');
  } else {
    problems.push(...httpUrlProblems(props.url).map((p) => `url: ${p.replace(/^url /, '')}`));
  }
  if (!props.vpc) problems.push('vpc: the gateway function runs in the VPC of the servers\' load balancer; pass it');
  problems.push(...modelNameProblems(props.modelName));
  const names = props.variantNames ?? [];
  if (props.variantNames !== undefined && names.length === 0) problems.push('variantNames: name at least one variant, or leave it out');
  if (new Set(names).size !== names.length) problems.push(`variantNames: each variant at most once (got ${names.join(', ')})`);
  for (const name of names.filter((n) => !MODEL_NAME_PATTERN.test(n))) problems.push(`variantNames: '${name}' must be 1-63 letters, digits, '_', '.' or '-'`);
  for (const [field, record] of [['variantWeights', props.variantWeights], ['modelVersions', props.modelVersions]] as const) {
    for (const name of Object.keys(record ?? {}).filter((n) => !names.includes(n))) {
      problems.push(`${field}.${name}: not one of variantNames (${names.join(', ') || 'none given'}); declare the variant in variantNames`);
    }
  }
  const weights = Object.values(props.variantWeights ?? {});
  if (weights.some((w) => !(w >= 0))) problems.push('variantWeights: weights must be numbers >= 0');
  if (weights.length > 0 && !weights.some((w) => w > 0)) problems.push('variantWeights: at least one variant needs a positive weight');
  return problems;
}

function embeddedProblems(props: EmbeddedModelBackendProps, file: string): string[] {
  const problems = modelNameProblems(props.modelName);
  const threads = modelBackendProblems({ kind: 'embedded', modelPath: EMBEDDED_MODEL_FILE, intraOpThreads: props.intraOpThreads })
    .map((p) => p.replace(/^intraOpThreads/, 'intraOpThreads:'));
  problems.push(...threads);
  if (!props.modelPath || !props.modelPath.endsWith('.onnx')) {
    problems.push(`modelPath: '${props.modelPath}' must be a local .onnx file`);
  } else if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    problems.push(`modelPath: no file at ${file}; pass the path of the .onnx file`);
  } else if (fs.statSync(file).size > MAX_EMBEDDED_MODEL_BYTES) {
    problems.push(`modelPath: ${file} is ${fs.statSync(file).size} bytes, over the ${MAX_EMBEDDED_MODEL_BYTES} bytes an embedded model may take (Lambda's 250 MB unzipped code limit, onnxruntime included); serve it with ModelBackend.sageMaker or ModelBackend.http`);
  }
  if (props.version !== undefined && !Token.isUnresolved(props.version) && !/^[\w.+-]{1,64}$/.test(props.version)) {
    problems.push(`version: '${props.version}' must be 1-64 letters, digits, '_', '.', '+' or '-'`);
  }
  return problems;
}
