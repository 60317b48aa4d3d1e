/**
 * The inference gateway's request path, over injected ports (features, model, prediction log, metrics, clock):
 *
 *   resolve the caller's tier → admission control (sheds the lowest tiers first when the model is saturated:
 *   429 + Retry-After) → online features (one round trip) → prediction cache → circuit breaker → the model, with
 *   what is left of the deadline, the tier's priority and a consistently hashed variant → on timeout, error or an
 *   open breaker: the configured fallback, marked `fallback: true` and counted — never an unmarked default.
 *
 * Every answer (model or fallback) is written to the prediction log. Pure: no AWS SDK here.
 */
import { FeatureDtype, FeatureStatus, FeatureViewSpec, joinKeysOf, joinKeyValue, resolveFeatureRefs } from '../../lib/features/spec';
import { AdmissionController, AdmissionOptions } from './admission';
import { CircuitBreaker, CircuitBreakerOptions } from './circuit-breaker';
import { GatewayMetrics, MetricDatum, MetricDimensions } from './metrics';
import { ModelCallError, ModelFailureKind, ModelInvoker } from './model-call';
import { PREDICTION_LOG_SCHEMA, PredictionLogSink } from './prediction-log';
import { levelOfTier, PRIORITY_TIERS, PriorityTierName } from './tiers';
import { TtlCache } from './ttl-cache';
import { assignVariant, WeightedVariant } from './variant-assignment';

/** Gateway configuration: plain JSON, produced by the InferenceGateway construct (env `GATEWAY_CONFIG`). */
export interface GatewayConfig {
  /** Model name: the `{model}` path parameter this gateway answers. */
  readonly model: string;
  /** Model version, logged with every prediction (unless the answering variant has its own in `modelVersions`). */
  readonly modelVersion: string;
  /**
   * Model version of each variant, as its containers report it, so gateway and server logs join on the same keys.
   * @default - `modelVersion` for every variant
   */
  readonly modelVersions?: Record<string, string>;
  /** Feature views the model reads (one version each). */
  readonly views: FeatureViewSpec[];
  /** Feature references `view:feature`, in the order of the model input's columns. */
  readonly featureRefs: string[];
  /** Name of the model's input tensor, shape [1, featureRefs (vectors flattened)]. */
  readonly inputName: string;
  /** Budget for the whole request after admission, milliseconds (features + model). */
  readonly deadlineMs: number;
  /** The answer served when the model cannot answer: output tensors by name. */
  readonly fallbackOutputs: Record<string, number[]>;
  /** Tier of callers whose API key is not mapped. */
  readonly defaultTier: PriorityTierName;
  /** Tier of each API key id (API Gateway usage plans). */
  readonly tierByApiKeyId?: Record<string, PriorityTierName>;
  /** Production variants and weights for consistent assignment by `userId`. @default - SageMaker's own weights */
  readonly variants?: WeightedVariant[];
  /** Prediction cache TTL, milliseconds. @default - no cache */
  readonly cacheTtlMs?: number;
  /** Prediction cache size. @default 10000 */
  readonly cacheMaxEntries?: number;
  /** Circuit breaker settings. @default - see CircuitBreaker */
  readonly breaker?: Pick<CircuitBreakerOptions, 'failureThreshold' | 'openMs'>;
  /** Admission settings. @default - see AdmissionController */
  readonly admission?: Pick<AdmissionOptions, 'shedAt' | 'halfLifeMs' | 'maxConcurrency' | 'retryAfterSeconds'>;
  /** Disables admission control (for comparison in benchmarks). @default false */
  readonly admissionDisabled?: boolean;
}

/** Least time worth giving the model, milliseconds: with less left, the fallback is served without calling it. */
export const MIN_MODEL_BUDGET_MS = 2;

/** The online feature client, as the gateway uses it. */
export interface FeatureSource {
  getOnlineFeatures(request: { views: readonly FeatureViewSpec[]; entities: readonly Record<string, string | number>[]; featureRefs: readonly string[]; deadlineMs?: number }):
  Promise<{ entities: { values: Record<string, unknown>; statuses: Record<string, FeatureStatus> }[] }>;
}

/** Ports of the gateway. */
export interface GatewayPorts {
  readonly features: FeatureSource;
  readonly model: ModelInvoker;
  /** @default - predictions are not logged */
  readonly predictionLog?: PredictionLogSink;
  /** Receives metrics (EMF in Lambda). @default - dropped */
  readonly metrics?: (dimensions: Record<string, string>, metrics: MetricDatum[]) => void;
  /** Clock, epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** A request as the gateway sees it (the handler builds it from the API Gateway event). */
export interface GatewayRequest {
  /** `{model}` path parameter. */
  readonly model: string;
  /** Raw request body. */
  readonly body: string | null;
  /** API key id of the caller, as API Gateway reports it. */
  readonly apiKeyId?: string;
  /** Request id (API Gateway's). */
  readonly requestId: string;
}

/** An HTTP answer. */
export interface GatewayResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The JSON body of a prediction request. */
interface PredictBody {
  /** Join keys of the entity to score, e.g. `{ "customer_id": "c-1" }`. */
  readonly entity: Record<string, string | number>;
  /** Stable id for variant assignment (a user id, never a request id). */
  readonly userId?: string;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** The gateway: one instance per process (Lambda container), holding its breaker, admission state and cache. */
export class InferenceGateway {
  private readonly breaker: CircuitBreaker;
  private readonly admission: AdmissionController;
  private readonly cache?: TtlCache<{ outputs: Record<string, number[]>; variant?: string }>;
  /** Wall clock (breaker, admission, cache, log timestamps); durations use the monotonic `performance.now()`. */
  private readonly now: () => number;
  private readonly joinKeys: string[];

  constructor(private readonly config: GatewayConfig, private readonly ports: GatewayPorts) {
    this.now = ports.now ?? Date.now;
    this.breaker = new CircuitBreaker({ ...config.breaker, now: this.now });
    this.admission = new AdmissionController({ ...config.admission, now: this.now });
    if (config.cacheTtlMs) this.cache = new TtlCache(config.cacheMaxEntries ?? 10_000, config.cacheTtlMs, this.now);
    const strings = resolveFeatureRefs(config.views, config.featureRefs)
      .flatMap(({ view, features }) => features.filter((f) => f.dtype === FeatureDtype.STRING).map((f) => `${view.name}:${f.name}`));
    if (strings.length > 0) {
      throw new Error(`GatewayConfig.featureRefs: ${strings.join(', ')} are strings; the model input is numeric — encode them in a view first`);
    }
    this.joinKeys = [...new Set(config.views.flatMap(joinKeysOf))];
  }

  /** Answers one request. Never throws: every failure becomes a status code with a JSON error, or a fallback. */
  public async handle(request: GatewayRequest): Promise<GatewayResponse> {
    const started = performance.now();
    const tier = this.config.tierByApiKeyId?.[request.apiKeyId ?? ''] ?? this.config.defaultTier;
    const dimensions = { [MetricDimensions.MODEL]: this.config.model };
    if (request.model !== this.config.model) {
      return error(404, `unknown model '${request.model}'; this gateway serves '${this.config.model}'`, request.requestId);
    }
    const parsed = this.parse(request.body);
    if (typeof parsed === 'string') {
      this.emit(dimensions, [{ name: GatewayMetrics.INVALID, value: 1, unit: 'Count' }]);
      return error(400, parsed, request.requestId);
    }
    const admission = this.config.admissionDisabled ? { admitted: true } : this.admission.admit(tier);
    if (!admission.admitted) {
      this.emit(dimensions, [{ name: GatewayMetrics.SHED, value: 1, unit: 'Count' }]);
      return {
        statusCode: 429,
        headers: { ...JSON_HEADERS, 'retry-after': String(admission.retryAfterSeconds ?? 1) },
        body: JSON.stringify({ error: `shed: ${admission.reason}`, tier, requestId: request.requestId }),
      };
    }
    let modelSaturated: boolean | undefined;
    try {
      const answer = await this.answer(parsed, tier, request.requestId, started);
      modelSaturated = answer.modelSaturated;
      if (answer.shed) {
        this.emit(dimensions, [{ name: GatewayMetrics.SHED, value: 1, unit: 'Count' }]);
        return {
          statusCode: 429,
          headers: { ...JSON_HEADERS, 'retry-after': String(this.config.admission?.retryAfterSeconds ?? 1) },
          body: JSON.stringify({ error: `shed: the model is overloaded and tier '${tier}' yields to higher tiers`, tier, requestId: request.requestId }),
        };
      }
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      const modelVersion = (answer.variant && this.config.modelVersions?.[answer.variant]) || this.config.modelVersion;
      this.ports.predictionLog?.write({
        schema: PREDICTION_LOG_SCHEMA, ts: new Date(this.now()).toISOString(), requestId: request.requestId,
        model: this.config.model, modelVersion, variant: answer.variant, features: answer.features,
        outputs: answer.outputs, latencyMs, fallback: answer.fallbackReason !== undefined, tier,
      });
      this.emit({ ...dimensions, [MetricDimensions.VARIANT]: answer.variant ?? 'default' }, [
        { name: answer.fallbackReason ? GatewayMetrics.FALLBACKS : GatewayMetrics.PREDICTIONS, value: 1, unit: 'Count' },
        { name: GatewayMetrics.LATENCY_MS, value: latencyMs, unit: 'Milliseconds' },
      ]);
      return {
        statusCode: 200,
        headers: JSON_HEADERS,
        body: JSON.stringify({
          requestId: request.requestId, model: this.config.model, modelVersion,
          variant: answer.variant, tier, outputs: answer.outputs, fallback: answer.fallbackReason !== undefined,
          ...(answer.fallbackReason ? { fallbackReason: answer.fallbackReason } : {}),
          featureStatuses: answer.statuses, latencyMs,
        }),
      };
    } finally {
      if (!this.config.admissionDisabled) this.admission.release(tier, modelSaturated);
    }
  }

  /**
   * Features → cache → breaker → model, or the fallback. `modelSaturated` is set only when the model was called:
   * whether it answered saturated (overloaded or too slow).
   */
  private async answer(body: PredictBody, tier: PriorityTierName, requestId: string, started: number): Promise<{
    outputs: Record<string, number[]>; variant?: string; fallbackReason?: string; modelSaturated?: boolean; shed?: boolean;
    features?: Record<string, unknown>; statuses?: Record<string, FeatureStatus>;
  }> {
    const fallback = (reason: string, extra: { modelSaturated?: boolean; features?: Record<string, unknown>; statuses?: Record<string, FeatureStatus> } = {}) => {
      return { outputs: this.config.fallbackOutputs, fallbackReason: reason, ...extra };
    };
    const remaining = () => this.config.deadlineMs - (performance.now() - started);
    const variant = body.userId && this.config.variants?.length ? assignVariant(body.userId, this.config.variants, this.config.model) : undefined;
    let vector;
    const featuresStarted = performance.now();
    try {
      [vector] = (await this.ports.features.getOnlineFeatures({
        views: this.config.views, entities: [body.entity], featureRefs: this.config.featureRefs, deadlineMs: Math.max(1, remaining()),
      })).entities;
    } catch (e) {
      return fallback(`feature lookup failed: ${(e as Error).message}`);
    } finally {
      this.emit({ [MetricDimensions.MODEL]: this.config.model }, [{ name: GatewayMetrics.FEATURE_LATENCY_MS, value: performance.now() - featuresStarted, unit: 'Milliseconds' }]);
    }
    const { values: features, statuses } = vector;
    const missing = this.config.featureRefs.filter((ref) => features[ref] === null || features[ref] === undefined);
    if (missing.length > 0) return fallback(`features unavailable: ${missing.map((r) => `${r} (${statuses[r]})`).join(', ')}`, { features, statuses });
    const row = this.config.featureRefs.flatMap((ref) => toNumbers(features[ref]));
    const cacheKey = `${variant ?? ''}|${row.join(',')}`;
    const cached = this.cache?.get(cacheKey);
    if (cached) {
      this.emit({ [MetricDimensions.MODEL]: this.config.model }, [{ name: GatewayMetrics.CACHE_HITS, value: 1, unit: 'Count' }]);
      return { ...cached, features, statuses };
    }
    const remainingMs = remaining();
    if (remainingMs < MIN_MODEL_BUDGET_MS) return fallback(`deadline of ${this.config.deadlineMs} ms spent before the model call`, { features, statuses });
    if (!this.breaker.tryAcquire()) return fallback('circuit breaker open: the model failed repeatedly; probing again shortly', { features, statuses });
    const modelStarted = performance.now();
    try {
      const answer = await this.ports.model.invoke({
        inputs: { [this.config.inputName]: { shape: [1, row.length], data: row } },
        deadlineMs: remainingMs, priority: levelOfTier(tier), targetVariant: variant, requestId,
      });
      this.breaker.onSuccess();
      const result = { outputs: answer.outputs, variant: answer.variant ?? variant };
      this.cache?.set(cacheKey, result);
      this.emit({ [MetricDimensions.MODEL]: this.config.model, [MetricDimensions.VARIANT]: result.variant ?? 'default' }, [
        { name: GatewayMetrics.MODEL_LATENCY_MS, value: performance.now() - modelStarted, unit: 'Milliseconds' },
      ]);
      return { ...result, modelSaturated: false, features, statuses };
    } catch (e) {
      const failure = e instanceof ModelCallError ? e : new ModelCallError(ModelFailureKind.ERROR, (e as Error).message);
      this.judge(failure.kind, tier);
      this.emit({ [MetricDimensions.MODEL]: this.config.model }, [{ name: GatewayMetrics.MODEL_FAILURES, value: 1, unit: 'Count' }]);
      const modelSaturated = failure.kind !== ModelFailureKind.ERROR;
      if (failure.kind === ModelFailureKind.OVERLOADED && tier !== PRIORITY_TIERS[0]) return { outputs: {}, modelSaturated, shed: true };
      return fallback(`model ${failure.kind}: ${failure.message}`, { modelSaturated, features, statuses });
    }
  }

  /**
   * What a failed call tells the breaker. An error is a fault. Overload is the model protecting itself: it is alive
   * (admission control acts on it, not the breaker). A missed deadline is a fault only for the top tier: under load
   * the server lets lower tiers expire first on purpose, and those must not open the breaker for everyone.
   */
  private judge(kind: ModelFailureKind, tier: PriorityTierName): void {
    if (kind === ModelFailureKind.ERROR || (kind === ModelFailureKind.TIMEOUT && tier === PRIORITY_TIERS[0])) this.breaker.onFailure();
    else if (kind === ModelFailureKind.OVERLOADED) this.breaker.onSuccess();
    else this.breaker.onNeutral();
  }

  /** Parses and validates the body; returns the error message when invalid. */
  private parse(raw: string | null): PredictBody | string {
    let body: unknown;
    try {
      body = JSON.parse(raw ?? '');
    } catch {
      return 'body must be JSON: {"entity": {<join keys>}, "userId": "<stable id>"}';
    }
    const entity = (body as PredictBody | null)?.entity;
    if (typeof entity !== 'object' || entity === null || Array.isArray(entity)) {
      return `"entity" must be an object with the join keys ${this.joinKeys.join(', ')}`;
    }
    const problems = this.joinKeys.filter((k) => joinKeyValue(entity[k]) === undefined)
      .map((k) => `entity.${k} must be a non-empty string or an integer`);
    const userId = (body as PredictBody).userId;
    if (userId !== undefined && (typeof userId !== 'string' || userId === '')) problems.push('"userId" must be a non-empty string when given');
    return problems.length > 0 ? problems.join('; ') : (body as PredictBody);
  }

  private emit(dimensions: Record<string, string>, metrics: MetricDatum[]): void {
    this.ports.metrics?.(dimensions, metrics);
  }
}

/** A feature value as model input numbers: numbers as they are, booleans 0/1, vectors flattened. */
function toNumbers(value: unknown): number[] {
  if (Array.isArray(value)) return value.map(Number);
  if (typeof value === 'boolean') return [value ? 1 : 0];
  return [Number(value)];
}

function error(statusCode: number, message: string, requestId: string): GatewayResponse {
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify({ error: message, requestId }) };
}
