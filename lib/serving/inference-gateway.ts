import { Duration, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FeatureDtype, joinKeysOf, resolveFeatureRefs } from '../features/spec';
import type { GatewayConfig } from '../../runtime/core/gateway-core';
import { GatewayMetrics, MetricDimensions, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { PRIORITY_TIERS, PriorityTierName } from '../../runtime/core/tiers';
import { FeatureStore } from '../features/feature-store';
import { FeatureView } from '../features/feature-view';
import { createFeatureStream, grantStreamPut, OWN_PRODUCER_ACTIONS } from '../private/feature-streams';
import { createHandlerFunction } from '../private/handler-function';
import { PREDICT_REQUEST_LIMITS } from '../private/predict-request';
import { concreteSeconds, environmentBytes, LAMBDA_ENVIRONMENT_LIMIT_BYTES, throwIfProblems } from '../private/validation';
import { IModelEndpoint, ModelEndpoint } from './model-endpoint';

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
  /** The model endpoint behind the gateway. */
  readonly endpoint: IModelEndpoint;
  /** The feature store holding the model's features (read online, one round trip per request). */
  readonly store: FeatureStore;
  /** The views the model reads; each must be in the store. */
  readonly features: FeatureView[];
  /**
   * The model's input contract: `view:feature` references, in the order of the input tensor's columns (vectors
   * flattened, booleans as 0/1). Strings cannot be model inputs.
   */
  readonly featureRefs: string[];
  /**
   * Model name: the `{model}` in `POST /predict/{model}`, logged with every prediction.
   * @default - the endpoint's `modelName` when it is a ModelEndpoint (so gateway and server logs name the model alike)
   */
  readonly modelName?: string;
  /**
   * Model version, logged with every prediction.
   * @default - each variant's version as its containers report it when the endpoint is a ModelEndpoint, else '1'
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
   * Traffic weight per production variant for consistent per-user assignment (the request's `userId` is hashed).
   * @default - the endpoint's initial weights when it is a ModelEndpoint; otherwise SageMaker routes by its own weights
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
   * @default - an encrypted on-demand stream is created
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

/**
 * A load-shedding gateway in front of a model endpoint: API Gateway `POST /predict/{model}` (IAM-authorized, API
 * keys mapping callers to priority tiers, usage plans, stage throttling, request validation generated from the
 * model's input contract, JSON access logs, tracing) → the gateway Lambda (admission control by tier, one-round-trip
 * feature lookup, deadline, circuit breaker, marked fallback, consistent variant assignment, prediction log).
 */
export class InferenceGateway extends Construct {
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

  constructor(scope: Construct, id: string, props: InferenceGatewayProps) {
    super(scope, id);
    const tiers = props.tiers ?? [PriorityTier.CRITICAL, PriorityTier.STANDARD, PriorityTier.BATCH];
    const endpoint = props.endpoint instanceof ModelEndpoint ? props.endpoint : undefined;
    this.modelName = props.modelName ?? endpoint?.modelName ?? '';
    throwIfProblems(this, InferenceGateway.problems(props, tiers, this.modelName));

    // The log holds feature values: encrypted with the feature store's key, so one key policy governs every copy.
    this.predictionLog = props.predictionLogStream ?? createFeatureStream(this, 'PredictionLog', { key: props.store.key });
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

    const weights = props.variantWeights ?? (props.endpoint instanceof ModelEndpoint ? props.endpoint.productionVariantWeights : undefined);
    const config: GatewayConfig = {
      model: this.modelName,
      modelVersion: props.modelVersion ?? '1',
      modelVersions: props.modelVersion === undefined ? endpoint?.modelVersions : undefined,
      views: props.features.map((v) => v.toSpec()),
      featureRefs: props.featureRefs,
      inputName: props.inputName ?? 'features',
      deadlineMs: (props.deadline ?? Duration.millis(100)).toMilliseconds(),
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
    const environment = {
      GATEWAY_CONFIG: Stack.of(this).toJsonString(config),
      ONLINE_TABLE_NAME: props.store.table.tableName,
      ENDPOINT_NAME: props.endpoint.endpointName,
      PREDICTION_LOG_STREAM: this.predictionLog.streamName,
      METRICS_NAMESPACE,
    };
    const size = environmentBytes({ ...environment, GATEWAY_CONFIG: JSON.stringify(config) }, () => 128);
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
    });
    props.store.grantReadOnline(this.function);
    props.endpoint.grantInvoke(this.function);
    grantStreamPut(this.predictionLog, this.function, OWN_PRODUCER_ACTIONS);

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
      cloudWatchRole: true,
      // API Gateway's logging role is one per account and region, shared by every API: never deleted with this stack.
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
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
   * The request body schema, generated from the model's input contract (the join keys of its views): only the join
   * keys and `userId`, every string and object bounded (`PREDICT_REQUEST_LIMITS`), no arrays.
   */
  private requestModel(props: InferenceGatewayProps): apigateway.Model {
    const joinKeys = [...new Set(props.features.flatMap((v) => joinKeysOf(v.toSpec())))];
    const { MAX_JOIN_KEY_LENGTH, MAX_USER_ID_LENGTH } = PREDICT_REQUEST_LIMITS;
    // Length bounds apply to strings only, range bounds to integers only (JSON Schema draft 4).
    const joinKeyValue: apigateway.JsonSchema = {
      type: [apigateway.JsonSchemaType.STRING, apigateway.JsonSchemaType.INTEGER],
      minLength: 1, maxLength: MAX_JOIN_KEY_LENGTH, minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER,
    };
    return new apigateway.Model(this, 'PredictRequest', {
      restApi: this.api,
      contentType: 'application/json',
      description: `Prediction request of ${this.modelName}: the entity's join keys and an optional stable user id`,
      schema: {
        schema: apigateway.JsonSchemaVersion.DRAFT4,
        type: apigateway.JsonSchemaType.OBJECT,
        required: ['entity'],
        additionalProperties: false,
        maxProperties: 2,
        properties: {
          entity: {
            type: apigateway.JsonSchemaType.OBJECT,
            required: joinKeys,
            additionalProperties: false,
            minProperties: joinKeys.length,
            maxProperties: joinKeys.length,
            properties: Object.fromEntries(joinKeys.map((k) => [k, joinKeyValue])),
          },
          userId: {
            type: apigateway.JsonSchemaType.STRING, minLength: 1, maxLength: MAX_USER_ID_LENGTH,
            description: 'Stable id for A/B and canary assignment (never a request id)',
          },
        },
      },
    });
  }

  private acknowledgeFindings(): void {
    Validations.of(this.api).acknowledge(
      { id: 'AwsSolutions-APIG3', reason: 'WAF is an account-level choice (cost, managed rule sets); attach a web ACL to the stage where the API is internet-facing. Callers are IAM-authorized and throttled per tier and per stage' },
      { id: 'AwsSolutions-COG4', reason: 'Machine-to-machine API: callers authenticate with IAM (SigV4), not Cognito user pools' },
    );
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "API Gateway's account-level logging role: AWS's service-role policy is the documented way to let API Gateway write execution logs",
      });
    }
  }

  /** Every problem of the props, each naming the prop and the fix. */
  private static problems(props: InferenceGatewayProps, tiers: PriorityTier[], modelName: string): string[] {
    const problems: string[] = [];
    for (const view of props.features ?? []) {
      const issue = props.store.membershipProblem(view);
      if (issue) problems.push(`features: ${issue}`);
    }
    try {
      const groups = resolveFeatureRefs((props.features ?? []).map((v) => v.toSpec()), props.featureRefs ?? []);
      for (const { view, features } of groups) {
        for (const f of features.filter((x) => x.dtype === FeatureDtype.STRING)) {
          problems.push(`featureRefs: '${view.name}:${f.name}' is a string; model inputs are numeric — encode it as a number or bool feature in the view`);
        }
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
    if (!Token.isUnresolved(modelName) && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(modelName)) {
      problems.push(`modelName: '${modelName}' must be 1-63 letters, digits, '_', '.' or '-' (it is a URL path segment); name the model, or give the ModelEndpoint a modelName`);
    }
    const weights = Object.entries(props.variantWeights ?? {});
    const known = props.endpoint instanceof ModelEndpoint ? props.endpoint.productionVariantNames : undefined;
    for (const [name, weight] of weights) {
      if (!(weight >= 0)) problems.push(`variantWeights.${name}: ${weight} must be >= 0`);
      if (known && !known.includes(name)) problems.push(`variantWeights.${name}: the endpoint has no production variant '${name}' (has: ${known.join(', ')})`);
    }
    if (weights.length > 0 && !weights.some(([, w]) => w > 0)) problems.push('variantWeights: at least one variant needs a positive weight');
    return problems;
  }
}
