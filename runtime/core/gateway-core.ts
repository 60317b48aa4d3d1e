/**
 * The inference gateway's request path, over injected ports (features, model, prediction log, metrics, clock):
 *
 *   resolve the caller's tier → validate the body → admission control (sheds the lowest tiers first when the model
 *   is saturated: 429 + Retry-After, before any feature read or model call) → online features (one round trip) →
 *   prediction cache → circuit breaker → the model, with what is left of the deadline, the tier's priority and a
 *   consistently hashed variant → on timeout, error or an open breaker: the configured fallback, marked
 *   `fallback: true` and counted — never an unmarked default.
 *
 * Shadow: when the routing table names a shadow (`ShadowRouting`), a share of the requests (by a hash of the request id)
 * also go, with the same model inputs and the same deadline, to the shadow variant, at the same time as to the
 * assigned one. The caller only ever gets the assigned variant's answer (or the fallback); the shadow's answer is
 * logged as its own record (`shadow: true`) and measured (`ShadowMetrics`), and it touches neither the breaker, nor
 * admission, nor the fallback decision. Lambda cannot work after it answers, so a model answer waits for the shadow
 * too, but only within the shadow budget (`shadowBudgetMs`: the assigned call's own latency plus
 * `SHADOW_WAIT_MARGIN_MS`, never past the deadline): a shadowed request takes at most about twice the assigned call
 * plus the margin, whatever the shadow does, and a shadow slower than that counts as a shadow failure (not awaited).
 * A fallback or a refusal does not wait at all: a shadow that has not ended by then is neither awaited nor counted
 * (the challenger is not judged on requests the champion did not answer). `ShadowWaitMs` is that cost. A
 * prediction-cache hit, or a fallback decided before the model call, copies nothing.
 *
 * Every answer (model or fallback) is written to the prediction log. Every refusal and fallback carries a stable
 * reason code (`GatewayCode`); the detail behind it (an SDK message, a table name) goes to the gateway's log only.
 * One metrics line per request holds its outcome and where its time went. The stored feature values served, by status
 * (`FeatureServingMetrics`), are summed per view and go out as one line per view per interval
 * (`GatewayPorts.featureMetricsIntervalMs`). Pure: no AWS SDK here.
 */
import { FEATURE_REF_SEPARATOR, FeatureStatus, FeatureViewSpec, joinKeysOf, ModelInputColumn, RequestSourceSpec, resolveModelInputs } from '../../lib/features/spec';
import { AdmissionController, AdmissionOptions, CallOutcome } from './admission';
import { CircuitBreaker, CircuitBreakerOptions } from './circuit-breaker';
import { GatewayCode } from './gateway-codes';
import { DEFAULT_VARIANT, FeatureServingMetrics, GatewayMetrics, MetricDatum, MetricDimensions, ShadowMetrics } from './metrics';
import { ModelAnswer, ModelCall, ModelCallError, ModelFailureKind, ModelInvoker } from './model-call';
import { parsePredictRequest, PredictRequest } from './predict-request';
import { PREDICTION_LOG_SCHEMA, PredictionLogSink } from './prediction-log';
import { levelOfTier, PRIORITY_TIERS, PriorityTierName } from './tiers';
import { TtlCache } from './ttl-cache';
import { LiveRoute, RoutingSource } from './routing';
import { assignVariant, bucketOf, WeightedVariant } from './variant-assignment';

/** Gateway configuration: plain JSON, produced by the GatewayCore construct (env `GATEWAY_CONFIG`). */
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
  /** Feature views the model reads (one version each); none when it reads only request-time features. */
  readonly views: FeatureViewSpec[];
  /**
   * Request-time features the body carries in its `request` object, referenced as `source:feature`.
   * @default - none: every model input is a stored feature
   */
  readonly requestSource?: RequestSourceSpec;
  /** Feature references `view:feature` (stored) and `source:feature` (request-time), in the order of the model input's columns. */
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
  readonly admission?: Pick<AdmissionOptions, 'protectedTiers' | 'callsPerAnswer' | 'halfLifeMs' | 'retryAfterSeconds'>;
  /** Disables admission control (for comparison in benchmarks). @default false */
  readonly admissionDisabled?: boolean;
}

/** How long the feature values served are summed before their lines go out, milliseconds (one CloudWatch minute). */
export const DEFAULT_FEATURE_METRICS_INTERVAL_MS = 60_000;

/**
 * What a model answer may wait for its shadow beyond the assigned call's own latency, milliseconds (`shadowBudgetMs`).
 * The shadow started with the assigned call, so it gets twice that latency plus this margin in all: a challenger
 * slower than that is far outside any latency budget a canary would accept, and a frozen one costs each caller at
 * most this much, not the rest of the deadline.
 */
export const SHADOW_WAIT_MARGIN_MS = 50;

/** Least time worth giving the model, milliseconds: with less left, the fallback is served without calling it. */
export const MIN_MODEL_BUDGET_MS = 2;

/**
 * Longest a request waits for the routing table when its cached weights are stale, milliseconds (and at most a
 * quarter of what is left of the deadline); past it, the last weights read (or the configured ones) assign the user.
 */
export const MAX_ROUTING_READ_MS = 50;

/** The online feature client, as the gateway uses it. */
export interface FeatureSource {
  getOnlineFeatures(request: { views: readonly FeatureViewSpec[]; entities: readonly Record<string, string | number>[]; featureRefs: readonly string[]; deadlineMs?: number }):
  Promise<{ entities: { values: Record<string, unknown>; statuses: Record<string, FeatureStatus> }[] }>;
}

/** The prediction log as the gateway uses it: a sink and, when it buffers (`BufferedPredictionLogSink`), its delivery. */
export interface GatewayPredictionLog extends PredictionLogSink {
  /** Delivers what is buffered; awaited before each answer when `GatewayPorts.logDeliveryBudgetMs` is set. */
  flush?(): Promise<void>;
  /** Records lost so far (failed deliveries, drops on a full buffer); the gateway emits their growth as metrics. */
  readonly stats?: { readonly failed: number; readonly dropped: number };
}

/** The detail behind a reason code, for operators: logged, never returned to the caller. */
export interface GatewayLogEntry {
  readonly requestId: string;
  readonly code: GatewayCode;
  /** The raw cause: an SDK error's name and message, which may name tables, streams or endpoints. */
  readonly detail: string;
}

/** Ports of the gateway. */
export interface GatewayPorts {
  /** The online feature client. @default - none: allowed when the model reads only request-time features */
  readonly features?: FeatureSource;
  readonly model: ModelInvoker;
  /**
   * The live variant weights (the routing table), read per model with a short cache.
   * @default - the weights of `GatewayConfig.variants`
   */
  readonly routing?: RoutingSource;
  /** @default - predictions are not logged */
  readonly predictionLog?: GatewayPredictionLog;
  /**
   * Longest each answer waits for its prediction-log record to be delivered, milliseconds. Set it in Lambda, which
   * freezes a container once it answers: buffered records must leave first.
   * @default - records are delivered in the background (a long-lived process)
   */
  readonly logDeliveryBudgetMs?: number;
  /**
   * Receives metrics (EMF in Lambda), one call per line: the request's line, and once per
   * `featureMetricsIntervalMs` one line per view with the stored values served by status (dimensions Model, FeatureView).
   * @default - dropped
   */
  readonly metrics?: (dimensions: Record<string, string>, metrics: MetricDatum[]) => void;
  /** Receives the detail behind the codes of failed requests. @default - one JSON line on stderr */
  readonly log?: (entry: GatewayLogEntry) => void;
  /**
   * How long the stored feature values served are summed before they are emitted, milliseconds: one line per view per
   * interval (not per request: at 1,000 requests/s and 2 views that would be ~86 GB/day of logs), holding the sums
   * since the last line. No timer (Lambda freezes a container between requests): the first request, and then the
   * first request that finds the interval elapsed, writes the lines; `GatewayCore.flushFeatureMetrics` writes them at
   * once. Trade-off: a container that dies loses at most one interval's counts, which leaves the availability SLO (a
   * ratio of sums, losses spread over every status alike) unbiased. 0: one line per view per request.
   * @default DEFAULT_FEATURE_METRICS_INTERVAL_MS
   */
  readonly featureMetricsIntervalMs?: number;
  /** Clock, epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** A request as the gateway sees it (the handler builds it from the API Gateway event). */
export interface GatewayRequest {
  /** `{model}` path parameter. */
  readonly model: string;
  /** Raw request body. */
  readonly body: string | null;
  /** The body is base64 (API Gateway's binary media types): decoded as strict UTF-8. @default false */
  readonly isBase64Encoded?: boolean;
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

/** Stored feature values and statuses of one entity, by `view:feature`. */
type StoredFeatures = { values: Record<string, unknown>; statuses: Record<string, FeatureStatus> };

/** Where one request's time went, milliseconds; a step that did not run is absent. */
interface Timings {
  admission?: number;
  features?: number;
  model?: number;
  log?: number;
  serialization?: number;
  /** How long the answer waited for the shadow after the assigned variant's call ended. */
  shadowWait?: number;
}

/** One request on its way through the gateway. */
interface RequestState {
  readonly requestId: string;
  readonly started: number;
  readonly timings: Timings;
  /** What the model made of the call, when one was made and the answer says something about load. */
  callOutcome?: CallOutcome;
  /** The routing table's weights named other variants than the gateway serves, and were ignored. */
  routingIgnored?: boolean;
  /** Statuses of the stored feature values the request was served, by `view:feature`, until they are emitted. */
  storedStatuses?: Record<string, FeatureStatus>;
}

/** The outcome of features → cache → breaker → model: an answer (the model's or the fallback), or refused. */
type ModelStep =
  | { readonly refused: true; readonly variant?: string }
  | {
    readonly refused?: false; readonly outputs: Record<string, number[]>; readonly variant?: string; readonly fallbackReason?: GatewayCode;
    readonly features?: Record<string, unknown>; readonly statuses?: Record<string, FeatureStatus>; readonly cacheHit?: boolean; readonly modelFailed?: boolean;
  };

const JSON_HEADERS = { 'content-type': 'application/json' };
/** Refuses bytes that are not UTF-8 rather than replacing them. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A shadow call's end: its answer, or why there is none; never a rejection. */
type ShadowResult = { readonly answer: ModelAnswer; readonly latencyMs: number } | { readonly error: ModelCallError };

/** The metric counting the feature values served with each status. */
const SERVING_METRIC_OF_STATUS: Record<FeatureStatus, string> = {
  [FeatureStatus.PRESENT]: FeatureServingMetrics.PRESENT,
  [FeatureStatus.NOT_FOUND]: FeatureServingMetrics.NOT_FOUND,
  [FeatureStatus.OUTSIDE_MAX_AGE]: FeatureServingMetrics.OUTSIDE_MAX_AGE,
  [FeatureStatus.FALLBACK]: FeatureServingMetrics.FALLBACK,
};

/** The code a failed model call is answered with. */
const CODE_OF_FAILURE: Record<ModelFailureKind, GatewayCode> = {
  [ModelFailureKind.OVERLOADED]: GatewayCode.MODEL_OVERLOADED,
  [ModelFailureKind.TIMEOUT]: GatewayCode.MODEL_TIMEOUT,
  [ModelFailureKind.ERROR]: GatewayCode.MODEL_ERROR,
};

/** The gateway: one instance per process (Lambda container), holding its breaker, admission state and cache. */
export class GatewayCore {
  private readonly breaker: CircuitBreaker;
  private readonly admission: AdmissionController;
  private readonly cache?: TtlCache<{ outputs: Record<string, number[]>; variant?: string }>;
  /** Wall clock (breaker, admission, cache, log timestamps); durations use the monotonic `performance.now()`. */
  private readonly now: () => number;
  private readonly joinKeys: string[];
  /** The model input's columns, in order, each from the store or the request. */
  private readonly columns: ModelInputColumn[];
  /** References of the stored features among them. */
  private readonly storeRefs: string[];
  /** The stored features' references by view name (`view:feature` → `view`). */
  private readonly storeRefsByView = new Map<string, string[]>();
  /** Prediction-log losses already emitted as metrics. */
  private logLosses = { failed: 0, dropped: 0 };
  private readonly featureMetricsIntervalMs: number;
  /** Stored feature values served since the last feature-serving lines: by view, then metric name. */
  private featureCounts = new Map<string, Map<string, number>>();
  /** When the feature-serving lines last went out (none yet: the first request's go out at once). */
  private featureMetricsEmittedAt = -Infinity;

  constructor(private readonly config: GatewayConfig, private readonly ports: GatewayPorts) {
    this.now = ports.now ?? Date.now;
    this.featureMetricsIntervalMs = ports.featureMetricsIntervalMs ?? DEFAULT_FEATURE_METRICS_INTERVAL_MS;
    if (!Number.isSafeInteger(this.featureMetricsIntervalMs) || this.featureMetricsIntervalMs < 0) {
      throw new Error(`GatewayPorts.featureMetricsIntervalMs must be a whole number of milliseconds ≥ 0 (0: every request), got ${ports.featureMetricsIntervalMs}`);
    }
    this.breaker = new CircuitBreaker({ ...config.breaker, now: this.now });
    this.admission = new AdmissionController({ ...config.admission, now: this.now });
    if (config.cacheTtlMs) this.cache = new TtlCache(config.cacheMaxEntries ?? 10_000, config.cacheTtlMs, this.now);
    this.columns = resolveModelInputs(config.views, config.requestSource, config.featureRefs);
    this.storeRefs = this.columns.filter((c) => c.from === 'store').map((c) => c.ref);
    for (const ref of new Set(this.storeRefs)) {
      const view = ref.slice(0, ref.indexOf(FEATURE_REF_SEPARATOR));
      this.storeRefsByView.set(view, [...this.storeRefsByView.get(view) ?? [], ref]);
    }
    if (this.storeRefs.length > 0 && !ports.features) {
      throw new Error(`GatewayPorts.features: the model reads stored features (${this.storeRefs.join(', ')}); pass an online feature client`);
    }
    this.joinKeys = this.storeRefs.length > 0 ? [...new Set(config.views.flatMap(joinKeysOf))] : [];
  }

  /** Answers one request. Never throws: every failure becomes a status code with a reason code, or a fallback. */
  public async handle(request: GatewayRequest): Promise<GatewayResponse> {
    const state: RequestState = { requestId: request.requestId, started: performance.now(), timings: {} };
    const dimensions = { [MetricDimensions.MODEL]: this.config.model };
    try {
      return await this.process(request, state, dimensions);
    } catch (e) {
      this.logDetail(state, GatewayCode.INTERNAL_ERROR, e);
      try {
        this.finish(dimensions, state, [count(GatewayMetrics.INTERNAL_ERRORS)]);
      } catch (metricsError) {
        this.logDetail(state, GatewayCode.INTERNAL_ERROR, metricsError); // the metrics port itself failed: the log must tell
      }
      return refusal(500, GatewayCode.INTERNAL_ERROR, 'the gateway failed unexpectedly; retry', request.requestId);
    }
  }

  private async process(request: GatewayRequest, state: RequestState, dimensions: Record<string, string>): Promise<GatewayResponse> {
    const tier = this.config.tierByApiKeyId?.[request.apiKeyId ?? ''] ?? this.config.defaultTier;
    if (request.model !== this.config.model) {
      this.finish(dimensions, state, [count(GatewayMetrics.UNKNOWN_MODEL)]);
      return refusal(404, GatewayCode.UNKNOWN_MODEL, `unknown model; this gateway serves '${this.config.model}'`, request.requestId);
    }
    const parsed = this.parse(request);
    if (typeof parsed === 'string') {
      this.finish(dimensions, state, [count(GatewayMetrics.INVALID)]);
      return refusal(400, GatewayCode.BAD_REQUEST, parsed, request.requestId);
    }
    const admitted = this.config.admissionDisabled || this.admission.admit(tier).admitted;
    state.timings.admission = performance.now() - state.started;
    const retryAfterSeconds = this.admission.retryAfterSeconds;
    if (!admitted) {
      this.finish(dimensions, state, [count(GatewayMetrics.SHED)]);
      return refusal(429, GatewayCode.SHED, `tier '${tier}' is shed while the model is saturated; retry after ${retryAfterSeconds} s`,
        request.requestId, { tier, retryAfterSeconds });
    }
    const step = await this.modelStep(parsed, tier, state);
    if (!this.config.admissionDisabled) this.admission.release(tier, state.callOutcome);
    if (step.refused) {
      // Per variant, as a failed call's fallback: a rollout sees a challenger that throttles.
      this.finish({ ...dimensions, [MetricDimensions.VARIANT]: step.variant ?? DEFAULT_VARIANT }, state,
        [count(GatewayMetrics.MODEL_OVERLOADED), count(GatewayMetrics.MODEL_FAILURES)]);
      return refusal(429, GatewayCode.MODEL_OVERLOADED, `the model is saturated and refused tier '${tier}'; retry after ${retryAfterSeconds} s`,
        request.requestId, { tier, retryAfterSeconds });
    }

    const latencyMs = Math.round((performance.now() - state.started) * 100) / 100;
    const modelVersion = (step.variant && this.config.modelVersions?.[step.variant]) || this.config.modelVersion;
    const fallback = step.fallbackReason !== undefined;
    const serializationStarted = performance.now();
    const body = JSON.stringify({
      requestId: request.requestId, model: this.config.model, modelVersion, variant: step.variant, tier, outputs: step.outputs, fallback,
      ...(fallback ? { fallbackReason: step.fallbackReason } : {}), featureStatuses: step.statuses, latencyMs,
    });
    state.timings.serialization = performance.now() - serializationStarted;
    await this.writeLog(state, {
      schema: PREDICTION_LOG_SCHEMA, ts: new Date(this.now()).toISOString(), requestId: request.requestId, model: this.config.model,
      modelVersion, variant: step.variant, entity: parsed.entity, features: step.features, outputs: step.outputs, latencyMs, fallback, tier,
    });
    this.finish({ ...dimensions, [MetricDimensions.VARIANT]: step.variant ?? DEFAULT_VARIANT }, state, [
      count(fallback ? GatewayMetrics.FALLBACKS : GatewayMetrics.PREDICTIONS),
      ...(step.cacheHit ? [count(GatewayMetrics.CACHE_HITS)] : []),
      ...(step.modelFailed ? [count(GatewayMetrics.MODEL_FAILURES)] : []),
    ], { answered: true });
    return { statusCode: 200, headers: JSON_HEADERS, body };
  }

  /** Features → cache → breaker → model, or the fallback; `refused` when the model refused a tier that is not protected. */
  private async modelStep(body: PredictRequest, tier: PriorityTierName, state: RequestState): Promise<ModelStep> {
    const fallback = (code: GatewayCode, extra: { features?: Record<string, unknown>; statuses?: Record<string, FeatureStatus>; modelFailed?: boolean } = {}) => {
      return { outputs: this.config.fallbackOutputs, fallbackReason: code, ...extra };
    };
    const remaining = () => this.config.deadlineMs - (performance.now() - state.started);
    const { variant, shadowVariant } = await this.variantOf(body.userId, remaining, state);
    let stored;
    try {
      stored = await this.readStoredFeatures(body, state, remaining);
    } catch (e) {
      this.logDetail(state, GatewayCode.FEATURES_UNAVAILABLE, e);
      return fallback(GatewayCode.FEATURES_UNAVAILABLE);
    }
    const { features, statuses } = this.withRequestFeatures(stored, body.request);
    if (this.config.featureRefs.some((ref) => features[ref] === null || features[ref] === undefined)) {
      return fallback(GatewayCode.FEATURES_MISSING, { features, statuses });
    }
    const row = this.config.featureRefs.flatMap((ref) => toNumbers(features[ref]));
    const cacheKey = `${variant ?? ''}|${row.join(',')}`;
    const cached = this.cache?.get(cacheKey);
    if (cached) return { ...cached, features, statuses, cacheHit: true };
    const remainingMs = remaining();
    if (remainingMs < MIN_MODEL_BUDGET_MS) return fallback(GatewayCode.DEADLINE_SPENT, { features, statuses });
    if (!this.breaker.tryAcquire()) return fallback(GatewayCode.CIRCUIT_OPEN, { features, statuses });
    const call: ModelCall = {
      inputs: { [this.config.inputName]: { shape: [1, row.length], data: row } },
      deadlineMs: remainingMs, priority: levelOfTier(tier), targetVariant: variant, requestId: state.requestId,
    };
    // Started before the assigned variant's call, so both run at once; it cannot throw (`ShadowResult`).
    const shadow = shadowVariant === undefined ? undefined : this.callShadow({ ...call, targetVariant: shadowVariant });
    const step = await this.callModel(call, tier, cacheKey, { features, statuses }, state);
    if (shadow) await this.awaitShadow(shadow, shadowVariant!, step, { body, tier, features }, shadowBudgetMs(step, state, remaining()), state);
    return step;
  }

  /** The assigned variant's call: its answer, the fallback its failure calls for, or `refused`. Feeds breaker and admission. */
  private async callModel(call: ModelCall, tier: PriorityTierName, cacheKey: string,
    served: { features: Record<string, unknown>; statuses: Record<string, FeatureStatus> }, state: RequestState): Promise<ModelStep> {
    const { features, statuses } = served;
    const remainingMs = call.deadlineMs;
    const variant = call.targetVariant;
    const modelStarted = performance.now();
    try {
      const answer = await this.ports.model.invoke(call);
      this.breaker.onSuccess();
      state.callOutcome = CallOutcome.ANSWERED;
      const result = { outputs: answer.outputs, variant: answer.variant ?? variant };
      this.cache?.set(cacheKey, result);
      return { ...result, features, statuses };
    } catch (e) {
      const failure = e instanceof ModelCallError ? e : new ModelCallError(ModelFailureKind.ERROR, (e as Error).message);
      this.judge(failure.kind, tier);
      // Overload is the model's answer to load, and so is a missed deadline when the call had at least half of the
      // request's (with less, the time went elsewhere). An error is the breaker's business, not admission's.
      if (failure.kind === ModelFailureKind.OVERLOADED || (failure.kind === ModelFailureKind.TIMEOUT && remainingMs >= this.config.deadlineMs / 2)) {
        state.callOutcome = CallOutcome.REFUSED;
      }
      if (failure.kind === ModelFailureKind.ERROR) this.logDetail(state, GatewayCode.MODEL_ERROR, failure);
      // The variant that failed is named (metrics, log, answer): a rollout attributes the failure to it.
      if (failure.kind === ModelFailureKind.OVERLOADED && !this.admission.isProtected(tier)) return { refused: true, variant };
      return { outputs: this.config.fallbackOutputs, fallbackReason: CODE_OF_FAILURE[failure.kind], variant, features, statuses, modelFailed: true };
    } finally {
      state.timings.model = performance.now() - modelStarted;
    }
  }

  /** Calls the shadow variant; the promise never rejects: a failure is its `error`. */
  private callShadow(call: ModelCall): Promise<ShadowResult> {
    const started = performance.now();
    return Promise.resolve()
      .then(() => this.ports.model.invoke(call))
      .then((answer) => ({ answer, latencyMs: performance.now() - started }),
        (e) => ({ error: e instanceof ModelCallError ? e : new ModelCallError(ModelFailureKind.ERROR, (e as Error)?.message ?? String(e)) }));
  }

  /**
   * Waits for the shadow at most `budgetMs` (`shadowBudgetMs`), then logs its answer as its own record (`shadow: true`)
   * and emits its `ShadowMetrics` line (a failure, or no answer within the budget, counts as `ShadowFailures`). When
   * the served answer is a fallback or a refusal, a shadow still running is not counted. Never throws and never
   * changes `step`: what goes wrong here goes to the gateway's log.
   */
  private async awaitShadow(shadow: Promise<ShadowResult>, variant: string, step: ModelStep,
    request: { body: PredictRequest; tier: PriorityTierName; features: Record<string, unknown> }, budgetMs: number, state: RequestState): Promise<void> {
    const waitStarted = performance.now();
    let timer: NodeJS.Timeout | undefined;
    // A timer (not a microtask) even for 0: a shadow that has already ended wins the race.
    const result = await Promise.race([shadow, new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), budgetMs); })]);
    clearTimeout(timer);
    state.timings.shadowWait = performance.now() - waitStarted;
    if (result === undefined && !answeredByModel(step)) return;
    try {
      const ended = result ?? { error: new ModelCallError(ModelFailureKind.TIMEOUT, `no answer within the shadow budget (${budgetMs} ms after the assigned call)`) };
      const metrics = [count(ShadowMetrics.SHADOW_REQUESTS), count(ShadowMetrics.SHADOW_FAILURES, 'error' in ended ? 1 : 0), ms(ShadowMetrics.SHADOW_WAIT_MS, state.timings.shadowWait)];
      if ('error' in ended) {
        this.logDetail(state, CODE_OF_FAILURE[ended.error.kind], new ModelCallError(ended.error.kind, `shadow variant '${variant}': ${ended.error.message}`));
      } else {
        metrics.push(ms(ShadowMetrics.SHADOW_LATENCY_MS, ended.latencyMs));
        const divergence = answeredByModel(step) ? divergenceOf(step.outputs, ended.answer.outputs) : undefined;
        if (divergence !== undefined) metrics.push({ name: ShadowMetrics.SHADOW_DIVERGENCE, value: divergence, unit: 'None' });
        this.ports.predictionLog?.write({
          schema: PREDICTION_LOG_SCHEMA, ts: new Date(this.now()).toISOString(), requestId: state.requestId, model: this.config.model,
          modelVersion: this.config.modelVersions?.[variant] || this.config.modelVersion, variant, entity: request.body.entity,
          features: request.features, outputs: ended.answer.outputs, latencyMs: Math.round(ended.latencyMs * 100) / 100, fallback: false,
          tier: request.tier, shadow: true,
        });
      }
      this.ports.metrics?.({ [MetricDimensions.MODEL]: this.config.model, [MetricDimensions.VARIANT]: variant }, metrics);
    } catch (e) {
      this.logDetail(state, GatewayCode.INTERNAL_ERROR, e); // a failing log or metrics port: the shadow never surfaces
    }
  }

  /**
   * The variant of a user: a consistent hash of its stable id against the current weights (the routing table's, or
   * the configured ones when there is no table or nothing could be read). Without a user id, none: the backend
   * routes by its own weights (a SageMaker endpoint's follow the routing table). And the shadow variant this request
   * is copied to, if any: the table's shadow (only when its weights are followed), for `percent` % of request ids,
   * never the variant the request is assigned to.
   */
  private async variantOf(userId: string | undefined, remaining: () => number, state: RequestState): Promise<{ variant?: string; shadowVariant?: string }> {
    const live = await this.liveRoute(userId !== undefined, remaining);
    let variants: readonly WeightedVariant[] | undefined = this.config.variants;
    let followed = false;
    if (live?.variants.length) {
      // Weights for other variants than those deployed (a variant renamed before the table followed) would send users
      // to a variant that does not exist: every such call an error, the breaker open for everyone.
      if (!variants || sameNames(live.variants, variants)) {
        variants = live.variants;
        followed = true;
      } else state.routingIgnored = true;
    }
    const variant = userId && variants?.length ? assignVariant(userId, variants, this.config.model) : undefined;
    const shadow = followed ? live?.shadow : undefined;
    const copied = shadow && shadow.variant !== variant && bucketOf(state.requestId, `${this.config.model}/shadow`) * 100 < shadow.percent;
    return { variant, shadowVariant: copied ? shadow.variant : undefined };
  }

  /**
   * The routing table's weights and shadow, within the request's share of the deadline. A source that knows no shadow
   * is read only for a request with a user id (one without is assigned by the backend).
   */
  private async liveRoute(hasUser: boolean, remaining: () => number): Promise<LiveRoute | undefined> {
    const routing = this.ports.routing;
    const options = { deadlineMs: Math.min(MAX_ROUTING_READ_MS, remaining() / 4) };
    if (routing?.routeOf) return routing.routeOf(this.config.model, options);
    const variants = hasUser ? await routing?.variantsOf(this.config.model, options) : undefined;
    return variants && { variants };
  }

  /** The stored features of the request's entity (one round trip within the deadline); none when the model reads none. */
  private async readStoredFeatures(body: PredictRequest, state: RequestState, remaining: () => number): Promise<StoredFeatures> {
    if (this.storeRefs.length === 0 || !this.ports.features) return { values: {}, statuses: {} };
    const started = performance.now();
    try {
      const [vector] = (await this.ports.features.getOnlineFeatures({
        views: this.config.views, entities: [body.entity], featureRefs: this.storeRefs, deadlineMs: Math.max(1, remaining()),
      })).entities;
      state.storedStatuses = vector?.statuses;
      return vector;
    } finally {
      state.timings.features = performance.now() - started;
    }
  }

  /** The stored features merged with the request-time ones (by `source:feature`), each request value PRESENT or its FALLBACK. */
  private withRequestFeatures(stored: StoredFeatures, request: Record<string, unknown>): { features: Record<string, unknown>; statuses: Record<string, FeatureStatus> } {
    const features = { ...stored.values };
    const statuses = { ...stored.statuses };
    for (const column of this.columns) {
      if (column.from !== 'request') continue;
      const sent = Object.hasOwn(request, column.feature.name) ? request[column.feature.name] : undefined;
      features[column.ref] = sent ?? column.feature.fallback;
      statuses[column.ref] = sent === undefined ? FeatureStatus.FALLBACK : FeatureStatus.PRESENT;
    }
    return { features, statuses };
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

  /**
   * Parses and validates the body with the bounds API Gateway's schema applies (`parsePredictRequest`); returns the
   * error message (naming the field and the fix) when invalid.
   */
  private parse(request: GatewayRequest): PredictRequest | string {
    let body: unknown;
    try {
      const raw = request.isBase64Encoded && request.body ? STRICT_UTF8.decode(Buffer.from(request.body, 'base64')) : request.body;
      body = JSON.parse(raw ?? '');
    } catch {
      return 'body must be UTF-8 JSON: {"entity": {<join keys>}, "userId": "<stable id>"}';
    }
    const parsed = parsePredictRequest(body, { joinKeys: this.joinKeys, requestSource: this.config.requestSource });
    return 'problems' in parsed ? parsed.problems.join('; ') : parsed;
  }

  /** Writes the prediction-log record and, where the gateway must (Lambda), waits for its delivery within the budget. */
  private async writeLog(state: RequestState, record: Parameters<PredictionLogSink['write']>[0]): Promise<void> {
    const log = this.ports.predictionLog;
    if (!log) return;
    const started = performance.now();
    log.write(record);
    const budget = this.ports.logDeliveryBudgetMs;
    if (budget !== undefined && log.flush) await within(log.flush(), budget);
    state.timings.log = performance.now() - started;
  }

  /**
   * Emits the request's one metrics line: its outcome `counts`, where its time went, and the prediction-log records
   * lost since the last line. `answered`: a 200 answer, whose total latency and overhead are emitted too (the
   * overhead is everything but the feature read and the model call: parsing, admission, log write, serialization).
   */
  private finish(dimensions: Record<string, string>, state: RequestState, counts: MetricDatum[], options: { answered?: boolean } = {}): void {
    const { timings } = state;
    const metrics = [...counts];
    const time = (name: string, ms: number | undefined) => {
      if (ms !== undefined) metrics.push({ name, value: Math.round(ms * 1000) / 1000, unit: 'Milliseconds' });
    };
    time(GatewayMetrics.ADMISSION_MS, timings.admission);
    time(GatewayMetrics.FEATURE_LATENCY_MS, timings.features);
    time(GatewayMetrics.MODEL_LATENCY_MS, timings.model);
    time(GatewayMetrics.LOG_WRITE_MS, timings.log);
    time(GatewayMetrics.SERIALIZATION_MS, timings.serialization);
    if (state.routingIgnored) metrics.push(count(GatewayMetrics.ROUTING_WEIGHTS_IGNORED));
    if (options.answered) {
      const total = performance.now() - state.started;
      time(GatewayMetrics.LATENCY_MS, total);
      time(GatewayMetrics.OVERHEAD_MS, total - (timings.features ?? 0) - (timings.model ?? 0) - (timings.shadowWait ?? 0));
    }
    const stats = this.ports.predictionLog?.stats;
    if (stats) {
      metrics.push(count(GatewayMetrics.LOG_DELIVERY_FAILURES, stats.failed - this.logLosses.failed));
      metrics.push(count(GatewayMetrics.LOG_RECORDS_DROPPED, stats.dropped - this.logLosses.dropped));
      this.logLosses = { failed: stats.failed, dropped: stats.dropped };
    }
    this.countFeatureServing(state);
    this.ports.metrics?.(dimensions, metrics);
  }

  /**
   * Adds the stored feature values the request was served, by status, to its view's sums (every status, zeros
   * included, so a view's share served PRESENT is a plain ratio of sums), and writes the lines when the interval has
   * elapsed (or the clock went back). Nothing for a request that read no stored features (refused before the read,
   * or the read failed); request-time features are not the store's and are not counted.
   */
  private countFeatureServing(state: RequestState): void {
    const statuses = state.storedStatuses;
    if (!statuses) return;
    state.storedStatuses = undefined; // once per request, even when the request's own line then fails
    for (const [view, refs] of this.storeRefsByView) {
      let counts = this.featureCounts.get(view);
      if (!counts) this.featureCounts.set(view, counts = new Map(Object.values(SERVING_METRIC_OF_STATUS).map((name) => [name, 0])));
      for (const ref of refs) {
        const name = Object.hasOwn(SERVING_METRIC_OF_STATUS, statuses[ref]) ? SERVING_METRIC_OF_STATUS[statuses[ref]] : undefined;
        if (name) counts.set(name, counts.get(name)! + 1);
      }
    }
    const elapsed = this.now() - this.featureMetricsEmittedAt;
    if (elapsed >= this.featureMetricsIntervalMs || elapsed < 0) this.flushFeatureMetrics();
  }

  /**
   * Writes the stored feature values served since the last lines now: one line per view (dimensions Model,
   * FeatureView) with the sums by status, then starts the next interval. Nothing when no request read stored features
   * since. Call it where the process can tell it is about to end; the gateway also calls it once per interval.
   */
  flushFeatureMetrics(): void {
    const pending = this.featureCounts;
    this.featureCounts = new Map(); // reset first: a failing metrics port loses these counts, never emits them twice
    this.featureMetricsEmittedAt = this.now();
    for (const [view, counts] of pending) {
      this.ports.metrics?.({ [MetricDimensions.MODEL]: this.config.model, [MetricDimensions.FEATURE_VIEW]: view }, [...counts].map(([name, n]) => count(name, n)));
    }
  }

  private logDetail(state: RequestState, code: GatewayCode, error: unknown): void {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const entry: GatewayLogEntry = { requestId: state.requestId, code, detail };
    if (this.ports.log) this.ports.log(entry);
    else console.warn(JSON.stringify({ level: 'warn', ...entry }));
  }
}

/** Whether the served answer is the model's (neither a refusal nor a fallback). */
function answeredByModel(step: ModelStep): step is Extract<ModelStep, { outputs: unknown }> {
  return !step.refused && step.fallbackReason === undefined;
}

/**
 * How long a served answer waits for its shadow after the assigned call ended, milliseconds: the assigned call's own
 * latency plus `SHADOW_WAIT_MARGIN_MS`, within what is left of the deadline (`remainingMs`); none for a fallback or a
 * refusal.
 */
function shadowBudgetMs(step: ModelStep, state: RequestState, remainingMs: number): number {
  if (!answeredByModel(step)) return 0;
  return Math.max(0, Math.floor(Math.min(remainingMs, (state.timings.model ?? 0) + SHADOW_WAIT_MARGIN_MS)));
}

/** Whether two variant lists name the same variants (in any order). */
function sameNames(a: readonly WeightedVariant[], b: readonly WeightedVariant[]): boolean {
  const names = new Set(b.map((v) => v.name));
  return a.length === b.length && a.every((v) => names.has(v.name));
}

function count(name: string, value = 1): MetricDatum {
  return { name, value, unit: 'Count' };
}

function ms(name: string, value: number): MetricDatum {
  return { name, value: Math.round(value * 1000) / 1000, unit: 'Milliseconds' };
}

/**
 * |shadow − served| on the first element of the served answer's first output; undefined when the shadow lacks that
 * output or either value is not a finite number.
 */
export function divergenceOf(served: Record<string, readonly unknown[]>, shadow: Record<string, readonly unknown[]>): number | undefined {
  const name = Object.keys(served)[0];
  if (name === undefined || !Object.hasOwn(shadow, name)) return undefined;
  const a = served[name]?.[0];
  const b = shadow[name]?.[0];
  return typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b) ? Math.abs(b - a) : undefined;
}

/** Waits for `promise` at most `ms` milliseconds; its failure is not the caller's (the sink counts it). */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

/** A feature value as model input numbers: numbers as they are, booleans 0/1, vectors flattened. */
function toNumbers(value: unknown): number[] {
  if (Array.isArray(value)) return value.map(Number);
  if (typeof value === 'boolean') return [value ? 1 : 0];
  return [Number(value)];
}

/** A refusal: the status, a stable reason code and a message that names no internals. */
function refusal(statusCode: number, code: GatewayCode, message: string, requestId: string, extra: { tier?: string; retryAfterSeconds?: number } = {}): GatewayResponse {
  return {
    statusCode,
    headers: extra.retryAfterSeconds === undefined ? JSON_HEADERS : { ...JSON_HEADERS, 'retry-after': String(extra.retryAfterSeconds) },
    body: JSON.stringify({ code, error: message, ...(extra.tier ? { tier: extra.tier } : {}), requestId }),
  };
}
