import { Duration, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, IConstruct } from 'constructs';
import { FeatureDtype, FeatureSpec, joinKeysOf, resolveModelInputs } from '../features/spec';
import { gatewayEnvironment } from '../../runtime/contracts/gateway';
import { MODEL_NAME_PATTERN } from '../../runtime/contracts/model-backend';
import type { GatewayConfig } from '../../runtime/core/gateway-core';
import { GatewayMetrics, MetricDimensions, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { PRIORITY_TIERS, PriorityTierName } from '../../runtime/core/tiers';
import { IFeatureStore } from '../features/feature-store-base';
import { FeatureView } from '../features/feature-view';
import { RequestSource } from '../features/request-source';
import { apiGatewayAccountLogging } from '../private/api-gateway-account';
import { createFeatureStream, grantStreamPut, OWN_PRODUCER_ACTIONS } from '../private/feature-streams';
import { createHandlerFunction } from '../private/handler-function';
import { PREDICT_REQUEST_LIMITS } from '../private/predict-request';
import { concreteSeconds, environmentBytes, LAMBDA_ENVIRONMENT_LIMIT_BYTES, throwIfProblems } from '../private/validation';
import { ModelBackend, ModelBackendBinding } from './model-backend';
import { ModelRouting } from './model-routing';

/** Limits of a priority tier's usage plan. */
export interface PriorityTierLimits {
  /**
   * Steady-state requests per second of each caller (API key) of the tier.
   * @default - the tier's default: critical 500, standard 200, batch 50
   */
  readonly rateLimit?: number;
  /**
   * Burst of each caller of the tier.
   * @default - twice the rate limit
   */
  readonly burstLimit?: number;
  /**
   * Requests per day of each caller of the tier.
   * @default - no quota
   */
  readonly quotaPerDay?: number;
}

const DEFAULT_RATES: Record<PriorityTierName, number> = { critical: 500, standard: 200, batch: 50 };
/** API Gateway's key for a request model that applies whatever the request's content type. */
const ANY_CONTENT_TYPE = '$default';

/**
 * A priority tier of callers (shared vocabulary: `critical` > `standard` > `batch`): a usage plan with an API key,
 * throttles and a quota, and the level at which the gateway sheds the tier when the model is saturated
 * (lowest tier first).
 */
export class PriorityTier {
  /** Callers that must be served: never shed by admission control; they get the fallback if the model cannot answer. */
  public static readonly CRITICAL = new PriorityTier('critical', {});
  /** Interactive callers: shed after batch. */
  public static readonly STANDARD = new PriorityTier('standard', {});
  /** Background callers: shed first. */
  public static readonly BATCH = new PriorityTier('batch', {});

  /** The critical tier with custom limits. */
  public static critical(limits: PriorityTierLimits): PriorityTier {
    return new PriorityTier('critical', limits);
  }
  /** The standard tier with custom limits. */
  public static standard(limits: PriorityTierLimits): PriorityTier {
    return new PriorityTier('standard', limits);
  }
  /** The batch tier with custom limits. */
  public static batch(limits: PriorityTierLimits): PriorityTier {
    return new PriorityTier('batch', limits);
  }

  /** Steady-state requests per second per caller. */
  public readonly rateLimit: number;
  /** Burst per caller. */
  public readonly burstLimit: number;
  /** Requests per day per caller, if limited. */
  public readonly quotaPerDay?: number;

  private constructor(
    /** Tier name: critical, standard or batch. */
    public readonly name: string,
    limits: PriorityTierLimits,
  ) {
    this.rateLimit = limits.rateLimit ?? DEFAULT_RATES[name as PriorityTierName];
    this.burstLimit = limits.burstLimit ?? this.rateLimit * 2;
    this.quotaPerDay = limits.quotaPerDay;
  }
}

/** What the gateway answers, marked `fallback: true`, when the model cannot (deadline, error, open breaker, missing features). */
export class Fallback {
  /**
   * A constant model output (e.g. a conservative default score), by output name: `{ probability: [0.01] }`.
   */
  public static constant(outputs: Record<string, number[]>): Fallback {
    return new Fallback(outputs);
  }

  private constructor(
    /** The output tensors served as the fallback answer. */
    public readonly outputs: Record<string, number[]>,
  ) {}
}

/** Circuit breaker settings. */
export interface CircuitBreakerSettings {
  /**
   * Consecutive failed model calls (errors or deadlines) that open the breaker.
   * @default 5
   */
  readonly failureThreshold?: number;
  /**
   * How long an open breaker answers with the fallback before letting a probe through.
   * @default Duration.seconds(5)
   */
  readonly openDuration?: Duration;
}

/** Properties of an `InferenceGateway`. */
export interface InferenceGatewayProps {
  /**
   * Where the model answers: `ModelBackend.sageMaker(endpoint)`, `ModelBackend.http({ url, vpc })` (servers speaking our
   * inference server's protocol, e.g. on Kubernetes) or `ModelBackend.embedded({ modelPath })` (in the gateway function).
   */
  readonly backend: ModelBackend;
  /**
   * The feature store holding the model's stored features (read online, one round trip per request).
   * @default - none: the model reads request-time features only
   */
  readonly store?: IFeatureStore;
  /**
   * The views the model reads; each must be in the store.
   * @default - none
   */
  readonly features?: FeatureView[];
  /**
   * Request-time features: what the body carries in its `request` object, validated by API Gateway and the gateway.
   * @default - none: every model input is a stored feature
   */
  readonly requestSource?: RequestSource;
  /**
   * The model's input contract: `view:feature` (stored) and `source:feature` (request-time) references, in the order
   * of the input tensor's columns (vectors flattened, booleans as 0/1). Strings cannot be model inputs.
   */
  readonly featureRefs: string[];
  /**
   * The routing table holding the model's live variant weights (register the model with `routing.addModel`): the
   * gateway reads them with a short cache and assigns each `userId` by consistent hash against the current weights.
   * @default - the weights fixed at deploy (`variantWeights`, or the backend's)
   */
  readonly routing?: ModelRouting;
  /**
   * Model name: the `{model}` in `POST /predict/{model}`, logged with every prediction.
   * @default - the backend's model name (so gateway and server logs name the model alike)
   */
  readonly modelName?: string;
  /**
   * Model version, logged with every prediction.
   * @default - each variant's version as the backend reports it (a ModelEndpoint's artifacts), else '1'
   */
  readonly modelVersion?: string;
  /**
   * Name of the model's input tensor.
   * @default 'features'
   */
  readonly inputName?: string;
  /** The answer served, marked `fallback: true`, whenever the model cannot answer in time. */
  readonly fallback: Fallback;
  /**
   * Budget for features + model per request; past it the fallback is served. Keep it well under the callers' timeouts.
   * @default Duration.millis(100)
   */
  readonly deadline?: Duration;
  /**
   * Priority tiers offered, each a usage plan with an API key.
   * @default [PriorityTier.CRITICAL, PriorityTier.STANDARD, PriorityTier.BATCH]
   */
  readonly tiers?: PriorityTier[];
  /**
   * Stage-wide steady-state requests per second (all callers).
   * @default 2000
   */
  readonly stageRateLimit?: number;
  /**
   * Stage-wide burst.
   * @default 4000
   */
  readonly stageBurstLimit?: number;
  /**
   * Traffic weight per variant for consistent per-user assignment (the request's `userId` is hashed), used until (and
   * whenever) the routing table cannot be read.
   * @default - the backend's initial weights (a ModelEndpoint's `initialWeight`s); none: the backend routes
   */
  readonly variantWeights?: Record<string, number>;
  /**
   * TTL of the prediction cache for repeated inputs (per Lambda container).
   * @default - no cache
   */
  readonly predictionCacheTtl?: Duration;
  /**
   * Circuit breaker in front of the model.
   * @default - 5 failures open it for 5 seconds
   */
  readonly circuitBreaker?: CircuitBreakerSettings;
  /**
   * Stream receiving one JSON line per prediction (features, outputs, variant, version, latency, fallback flag, tier)
   * for drift detection.
   * @default - an on-demand stream encrypted with the store's key (or a key created here, without a store)
   */
  readonly predictionLogStream?: kinesis.IStream;
  /**
   * Memory of the gateway function.
   * @default Size.mebibytes(1024)
   */
  readonly memorySize?: Size;
  /**
   * Retention of the function and access logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** An inference gateway, as monitoring, rollouts and callers use it. */
export interface IInferenceGateway extends IConstruct {
  /** Model name served: the `Model` dimension of the gateway's metrics. */
  readonly modelName: string;
  /** Budget for features + model per request; past it the fallback is served. */
  readonly deadline: Duration;
  /**
   * The model's input columns in order (`view:feature`, `source:feature`): the names its prediction log gives the
   * features, and the order of a row of the model's input tensor (what data capture and the server's own log hold).
   */
  readonly featureRefs: readonly string[];
  /** The prediction log stream (JSON lines, runtime/core/prediction-log.ts). */
  readonly predictionLog: kinesis.IStream;
  /** The gateway function. */
  readonly function: lambda.IFunction;
  /** Lets `grantee` call `POST /predict/<modelName>`. */
  grantInvoke(grantee: iam.IGrantable): iam.Grant;
  /** A gateway metric from our namespace (dimension Model), e.g. `GatewayMetrics.FALLBACKS`. @default - Sum over 1 minute */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Answers from the model (not a fallback). @default - Sum over 1 minute */
  metricPredictions(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Answers served with the fallback. @default - Sum over 1 minute */
  metricFallbacks(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Requests shed by admission control (429). @default - Sum over 1 minute */
  metricShed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** End-to-end gateway latency. @default - p99 over 1 minute */
  metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/**
 * A load-shedding gateway in front of a model backend: API Gateway `POST /predict/{model}` (IAM-authorized, API keys
 * mapping callers to priority tiers, usage plans, stage throttling, request validation generated from the model's
 * input contract, JSON access logs, tracing) → the gateway Lambda (admission control by tier, one-round-trip feature
 * lookup merged with request-time features, deadline, circuit breaker, marked fallback, consistent variant assignment
 * against the routing table's live weights, prediction log).
 */
export class InferenceGateway extends Construct implements IInferenceGateway {
  /** The REST API. */
  public readonly api: apigateway.RestApi;
  /** The gateway function. */
  public readonly function: lambda.Function;
  /** The prediction log stream (JSON lines, runtime/core/prediction-log.ts). */
  public readonly predictionLog: kinesis.IStream;
  /** API key of each tier, by tier name. */
  public readonly apiKeys: Record<string, apigateway.IApiKey> = {};
  /** Usage plan of each tier, by tier name. */
  public readonly usagePlans: Record<string, apigateway.UsagePlan> = {};
  /** Model name served. */
  public readonly modelName: string;
  /** Budget for features + model per request. */
  public readonly deadline: Duration;
  public readonly featureRefs: readonly string[];

  constructor(scope: Construct, id: string, props: InferenceGatewayProps) {
    super(scope, id);
    const tiers = props.tiers ?? [PriorityTier.CRITICAL, PriorityTier.STANDARD, PriorityTier.BATCH];
    const backend = props.backend.bind(this);
    this.modelName = props.modelName ?? backend.modelName ?? '';
    this.featureRefs = [...props.featureRefs];
    this.deadline = props.deadline ?? Duration.millis(100);
    throwIfProblems(this, InferenceGateway.problems(props, tiers, this.modelName, backend));
    const views = props.features ?? [];
    const readsStore = resolveModelInputs(views.map((v) => v.toSpec()), props.requestSource?.toSpec(), props.featureRefs).some((c) => c.from === 'store');

    // The log holds feature values: encrypted with the feature store's key, so one key policy governs every copy.
    this.predictionLog = props.predictionLogStream ?? createFeatureStream(this, 'PredictionLog', {
      key: props.store?.key ?? new kms.Key(this, 'PredictionLogKey', { enableKeyRotation: true, description: `Encrypts the prediction log of model ${this.modelName}` }),
    });
    this.api = this.createApi(props);
    const keyIds: Record<string, PriorityTierName> = {};
    const stage = this.api.deploymentStage;
    for (const tier of tiers) {
      const plan = this.api.addUsagePlan(`${tier.name}Plan`, {
        name: `${this.node.path}/${tier.name}`.replace(/\//g, '-'),
        description: `Priority tier '${tier.name}' of ${this.modelName}`,
        throttle: { rateLimit: tier.rateLimit, burstLimit: tier.burstLimit },
        quota: tier.quotaPerDay ? { limit: tier.quotaPerDay, period: apigateway.Period.DAY } : undefined,
        apiStages: [{ api: this.api, stage }],
      });
      // Not `api.addApiKey`: a key bound to the stage would make the stage, the method, the function (whose
      // environment maps key ids to tiers) and the key depend on each other in a cycle. The usage plan binds it.
      const key = new apigateway.ApiKey(this, `${tier.name}Key`, { description: `Caller key of priority tier '${tier.name}' of ${this.modelName}` });
      plan.addApiKey(key);
      this.apiKeys[tier.name] = key;
      this.usagePlans[tier.name] = plan;
      keyIds[key.keyId] = tier.name as PriorityTierName;
    }

    const weights = props.variantWeights ?? backend.variantWeights;
    const config: GatewayConfig = {
      model: this.modelName,
      modelVersion: props.modelVersion ?? '1',
      modelVersions: props.modelVersion === undefined ? backend.modelVersions : undefined,
      views: readsStore ? views.map((v) => v.toSpec()) : [],
      requestSource: props.requestSource?.toSpec(),
      featureRefs: props.featureRefs,
      inputName: props.inputName ?? 'features',
      deadlineMs: this.deadline.toMilliseconds(),
      fallbackOutputs: props.fallback.outputs,
      // Callers whose key is not mapped (none should be: keys are required) count as the lowest tier offered.
      defaultTier: PRIORITY_TIERS.filter((t) => tiers.some((tier) => tier.name === t)).at(-1)!,
      tierByApiKeyId: keyIds,
      variants: weights && Object.keys(weights).length > 1 ? Object.entries(weights).map(([name, weight]) => ({ name, weight })) : undefined,
      cacheTtlMs: props.predictionCacheTtl?.toMilliseconds(),
      breaker: props.circuitBreaker && {
        failureThreshold: props.circuitBreaker.failureThreshold,
        openMs: props.circuitBreaker.openDuration?.toMilliseconds(),
      },
    };
    const settings = {
      config,
      backend: backend.config,
      onlineTableName: readsStore ? props.store!.table.tableName : undefined,
      predictionLogStream: this.predictionLog.streamName,
      routingTableName: props.routing?.tableName,
      metricsNamespace: METRICS_NAMESPACE,
    };
    const environment = gatewayEnvironment(settings, (value) => Stack.of(this).toJsonString(value));
    const size = environmentBytes(gatewayEnvironment(settings), () => 128);
    if (size > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
      throw new Error(`${this.node.path}: the gateway configuration takes ${size} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte environment limit; pass fewer views (only those the model reads) or shorten their descriptions`);
    }
    this.function = createHandlerFunction(this, 'Handler', {
      handler: 'gateway-handler',
      description: `Inference gateway of model ${this.modelName}: admission by tier, features, deadline, breaker, fallback`,
      environment,
      memorySize: props.memorySize ?? Size.mebibytes(1024),
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      code: backend.code,
      vpc: backend.vpc?.vpc,
      vpcSubnets: backend.vpc?.vpcSubnets,
      securityGroups: backend.vpc?.securityGroups,
    });
    if (readsStore) props.store!.grantReadOnline(this.function);
    backend.grantInvoke(this.function);
    props.routing?.grantRead(this.function);
    grantStreamPut(this.predictionLog, this.function, OWN_PRODUCER_ACTIONS);

    // Execution logging needs the account's logging role in place before the stage.
    this.api.deploymentStage.node.addDependency(apiGatewayAccountLogging(this));

    const predict = this.api.root.addResource('predict').addResource('{model}');
    const requestModel = this.requestModel(props);
    predict.addMethod('POST', new apigateway.LambdaIntegration(this.function), {
      apiKeyRequired: true,
      authorizationType: apigateway.AuthorizationType.IAM,
      requestValidator: new apigateway.RequestValidator(this, 'Validator', { restApi: this.api, validateRequestBody: true, validateRequestParameters: true }),
      requestParameters: { 'method.request.path.model': true },
      // '$default' applies the schema to every content type: a model mapped to application/json alone leaves a body
      // sent as text/plain (or any other type) unvalidated.
      requestModels: { [ANY_CONTENT_TYPE]: requestModel, 'application/json': requestModel },
    });
    this.acknowledgeFindings();
  }

  /** Lets `grantee` call `POST /predict/<modelName>` (IAM authorization; callers also send their tier's API key). */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [this.api.arnForExecuteApi('POST', `/predict/${this.modelName}`, this.api.deploymentStage.stageName)],
    });
  }

  /**
   * A gateway metric from our namespace (dimension Model), e.g. `GatewayMetrics.FALLBACKS`.
   * @default - Sum over 1 minute
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE, metricName, statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1), ...props,
      dimensionsMap: { [MetricDimensions.MODEL]: this.modelName },
    });
  }

  /** Answers from the model (not a fallback). @default - Sum over 1 minute */
  public metricPredictions(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetrics.PREDICTIONS, props);
  }

  /** Answers served with the fallback (marked `fallback: true`). @default - Sum over 1 minute */
  public metricFallbacks(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetrics.FALLBACKS, props);
  }

  /** Requests shed by admission control (429). @default - Sum over 1 minute */
  public metricShed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetrics.SHED, props);
  }

  /** End-to-end gateway latency. @default - p99 over 1 minute */
  public metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetrics.LATENCY_MS, { statistic: 'p99', ...props });
  }

  private createApi(props: InferenceGatewayProps): apigateway.RestApi {
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new apigateway.RestApi(this, 'Api', {
      description: `Inference gateway of model ${this.modelName}`,
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // The account's logging role is one per account and region: shared by every gateway of the stack.
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'prod',
        throttlingRateLimit: props.stageRateLimit ?? 2000,
        throttlingBurstLimit: props.stageBurstLimit ?? 4000,
        tracingEnabled: true,
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        metricsEnabled: true,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
          caller: true, httpMethod: true, ip: true, protocol: true, requestTime: true,
          resourcePath: true, responseLength: true, status: true, user: true,
        }),
      },
    });
  }

  /**
   * The request body schema, generated from the model's input contract: the join keys of the views it reads (as
   * `entity`), its request-time features (as `request`, each of its type, numbers within the float32 input's range)
   * and `userId`; every string and object bounded (`PREDICT_REQUEST_LIMITS`), nothing else.
   */
  private requestModel(props: InferenceGatewayProps): apigateway.Model {
    const columns = resolveModelInputs((props.features ?? []).map((v) => v.toSpec()), props.requestSource?.toSpec(), props.featureRefs);
    const joinKeys = columns.some((c) => c.from === 'store') ? [...new Set((props.features ?? []).flatMap((v) => joinKeysOf(v.toSpec())))] : [];
    const { MAX_JOIN_KEY_LENGTH, MAX_USER_ID_LENGTH } = PREDICT_REQUEST_LIMITS;
    // Length bounds apply to strings only, range bounds to integers only (JSON Schema draft 4).
    const joinKeyValue: apigateway.JsonSchema = {
      type: [apigateway.JsonSchemaType.STRING, apigateway.JsonSchemaType.INTEGER],
      minLength: 1, maxLength: MAX_JOIN_KEY_LENGTH, minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER,
    };
    const properties: Record<string, apigateway.JsonSchema> = {
      userId: {
        type: apigateway.JsonSchemaType.STRING, minLength: 1, maxLength: MAX_USER_ID_LENGTH,
        description: 'Stable id for A/B and canary assignment (never a request id)',
      },
    };
    const required: string[] = [];
    if (joinKeys.length > 0) {
      required.push('entity');
      properties.entity = {
        type: apigateway.JsonSchemaType.OBJECT, required: joinKeys, additionalProperties: false,
        minProperties: joinKeys.length, maxProperties: joinKeys.length,
        properties: Object.fromEntries(joinKeys.map((k) => [k, joinKeyValue])),
      };
    }
    const source = props.requestSource?.toSpec();
    if (source) {
      const mandatory = source.features.filter((f) => f.fallback === undefined).map((f) => f.name);
      if (mandatory.length > 0) required.push('request');
      properties.request = {
        type: apigateway.JsonSchemaType.OBJECT, additionalProperties: false, maxProperties: source.features.length,
        ...(mandatory.length > 0 ? { required: mandatory } : {}),
        properties: Object.fromEntries(source.features.map((f) => [f.name, requestFeatureSchema(f)])),
      };
    }
    return new apigateway.Model(this, 'PredictRequest', {
      restApi: this.api,
      contentType: 'application/json',
      description: `Prediction request of ${this.modelName}: ${[joinKeys.length > 0 ? "the entity's join keys" : '', source ? 'request-time features' : '', 'an optional stable user id'].filter(Boolean).join(', ')}`,
      schema: {
        schema: apigateway.JsonSchemaVersion.DRAFT4,
        type: apigateway.JsonSchemaType.OBJECT,
        ...(required.length > 0 ? { required } : {}),
        additionalProperties: false,
        maxProperties: Object.keys(properties).length,
        properties,
      },
    });
  }

  private acknowledgeFindings(): void {
    Validations.of(this.api).acknowledge(
      { id: 'AwsSolutions-APIG3', reason: 'WAF is an account-level choice (cost, managed rule sets); attach a web ACL to the stage where the API is internet-facing. Callers are IAM-authorized and throttled per tier and per stage' },
      { id: 'AwsSolutions-COG4', reason: 'Machine-to-machine API: callers authenticate with IAM (SigV4), not Cognito user pools' },
    );
  }

  /** Every problem of the props, each naming the prop and the fix. */
  private static problems(props: InferenceGatewayProps, tiers: PriorityTier[], modelName: string, backend: ModelBackendBinding): string[] {
    const problems: string[] = [];
    const views = props.features ?? [];
    for (const view of views) {
      const issue = props.store?.membershipProblem(view);
      if (issue) problems.push(`features: ${issue}`);
    }
    try {
      const columns = resolveModelInputs(views.map((v) => v.toSpec()), props.requestSource?.toSpec(), props.featureRefs ?? []);
      if (columns.some((c) => c.from === 'store') && !props.store) {
        problems.push('store: the model reads stored features; pass the FeatureStore holding them (or use request-time features only)');
      }
    } catch (e) {
      problems.push(`featureRefs: ${(e as Error).message.replace(/\n\s*/g, ' ')}`);
    }
    const names = tiers.map((t) => t.name);
    if (tiers.length === 0) problems.push('tiers: offer at least one tier, e.g. [PriorityTier.CRITICAL]');
    if (new Set(names).size !== names.length) problems.push(`tiers: each tier at most once (got ${names.join(', ')})`);
    for (const tier of tiers) {
      if (!(tier.rateLimit > 0) || !(tier.burstLimit >= 1)) problems.push(`tiers: '${tier.name}' needs rateLimit > 0 and burstLimit >= 1`);
    }
    const deadline = concreteSeconds(props.deadline);
    if (deadline !== undefined && (deadline * 1000 < 5 || deadline > 9)) {
      problems.push(`deadline: ${deadline * 1000} ms must be between 5 ms and 9 s (the function times out at 10 s); a real-time model call needs tens of milliseconds`);
    }
    if (Object.keys(props.fallback?.outputs ?? {}).length === 0) {
      problems.push('fallback: declare the answer served when the model cannot answer, e.g. Fallback.constant({ probability: [0.01] })');
    }
    if (!Token.isUnresolved(modelName) && !MODEL_NAME_PATTERN.test(modelName)) {
      problems.push(`modelName: '${modelName}' must be 1-63 letters, digits, '_', '.' or '-' (it is a URL path segment); name the model, or give the backend a model name`);
    }
    const weights = Object.entries(props.variantWeights ?? {});
    const known = backend.variantNames;
    for (const [name, weight] of weights) {
      if (!(weight >= 0)) problems.push(`variantWeights.${name}: ${weight} must be >= 0`);
      if (known && !known.includes(name)) problems.push(`variantWeights.${name}: the backend has no variant '${name}' (has: ${known.join(', ')})`);
    }
    if (weights.length > 0 && !weights.some(([, w]) => w > 0)) problems.push('variantWeights: at least one variant needs a positive weight');
    if (props.routing && !Token.isUnresolved(modelName) && !props.routing.models.includes(modelName)) {
      problems.push(`routing: model '${modelName}' is not in the routing table; call routing.addModel({ model: '${modelName}', variantWeights, endpoint }) first`);
    }
    return problems;
  }
}

/**
 * The smallest magnitude that rounds to Infinity as a float32 (the model input's type): 2^128 × (1 − 2^−25). Numbers
 * strictly inside it are finite float32s, exactly the runtime's `Number.isFinite(Math.fround(x))`.
 */
const FLOAT32_OVERFLOW = 3.4028235677973366e38;

/** The JSON Schema (draft 4) of one request-time feature's value. */
function requestFeatureSchema(feature: FeatureSpec): apigateway.JsonSchema {
  const description = feature.description;
  switch (feature.dtype) {
    case FeatureDtype.INT64:
      return { type: apigateway.JsonSchemaType.INTEGER, minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description };
    case FeatureDtype.BOOL:
      return { type: apigateway.JsonSchemaType.BOOLEAN, description };
    case FeatureDtype.FLOAT32_VECTOR:
      return {
        type: apigateway.JsonSchemaType.ARRAY, minItems: feature.dimension, maxItems: feature.dimension, description,
        items: float32Schema(),
      };
    default:
      return { ...float32Schema(), description };
  }
}

/** A JSON number that is a finite float32. */
function float32Schema(): apigateway.JsonSchema {
  return {
    type: apigateway.JsonSchemaType.NUMBER, minimum: -FLOAT32_OVERFLOW, maximum: FLOAT32_OVERFLOW, exclusiveMinimum: true, exclusiveMaximum: true,
  };
}
