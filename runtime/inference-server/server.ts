/**
 * The inference server: one HTTP port speaking the Open Inference Protocol v2, the SageMaker container contract and
 * the SageMaker Runtime InvokeEndpoint path, in front of the inference service (batcher + session workers).
 *
 * Lifecycle: `listen()` (live at once) → `load()` (fetch the model, every worker loads and warms up, then ready) →
 * `shutdown()` on SIGTERM: not ready at once, keep serving for the drain grace period, then stop accepting, finish
 * queued and in-flight work, flush the prediction log, release the sessions and stop the workers.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { ServerPaths } from '../contracts/inference-server';
import { InferenceServerMetrics, MetricDimensions, toEmf } from '../core/metrics';
import { PRIORITY_LEVELS, ServerConfig } from './config';
import { ErrorKind, InferenceError, internalError, outcomeOf, preview } from './errors';
import { discardBody, errorHeaders, exactPath, Headers, readBody, Router, send, sendJson, statusOf } from './http';
import { InferenceRequest, InferenceResponse, InferenceService } from './inference-service';
import type { Logger } from './log';
import { CloudWatchReporter } from './cloudwatch-reporter';
import { InlineRunner } from './inline-runner';
import { ServerMetrics } from './server-metrics';
import { isBatchable, ModelInfo } from './model';
import { fetchModel, modelNameFromUri, readWarmupSample } from './model-source';
import { decodeInferRequest, encodeInferResponse, modelMetadata, serverMetadata } from './oip';
import { createPredictionLogSink, PredictionLogger } from './prediction-logger';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus';
import { headerPriority, newRequestId, VARIANT_HEADER } from './request-options';
import { containerStatus, decodeInvocation, encodeInvocationResponse, runtimeApiError, TARGET_VARIANT_HEADER } from './sagemaker';
import { parseJson } from './tensors';
import { WorkerPool } from './worker-pool';

/** Where the server is in its life. */
type ServerState = 'loading' | 'ready' | 'draining' | 'stopping' | 'stopped';

/** What one inference route does with a request body, and how it answers. */
interface InferenceRoute {
  /** Throws NOT_FOUND when the request names another model or endpoint. */
  readonly checkTarget: () => void;
  readonly decode: (body: Buffer, model: ModelInfo, req: http.IncomingMessage, receivedAt: number) => {
    readonly request: InferenceRequest;
    readonly encode: (response: InferenceResponse) => { body: string; contentType: string };
  };
  readonly fail: (res: http.ServerResponse, error: InferenceError) => void;
  readonly successHeaders?: Headers;
  /** The id the route answers with (`x-amzn-RequestId`), named in internal errors. @default - a new id, on failure only */
  readonly requestId?: string;
}

/** Longest interval between two sweeps for connections past the headers or request timeout. */
const CONNECTIONS_CHECK_MS = 1000;

const MODEL_PATH = '\\/v2\\/models\\/([^/]+)(?:\\/versions\\/([^/]+))?';

/** The server (see the module comment). */
export class InferenceServer {
  private stateValue: ServerState = 'loading';
  private model?: ModelInfo;
  private service?: InferenceService;
  private pool?: WorkerPool;
  private inline?: InlineRunner;
  private predictionLogger?: PredictionLogger;
  private shutdownPromise?: Promise<void>;
  private readonly startedAt = performance.now();
  private readonly modelName: string;
  private readonly endpointName: string;
  private readonly http: http.Server;
  private readonly metrics: ServerMetrics;
  private readonly reporter: CloudWatchReporter;

  /**
   * @param config server configuration
   * @param logger structured logger
   * @param workerScript path of the bundled session worker (`worker.js` next to `serve.js`)
   */
  constructor(private readonly config: ServerConfig, private readonly logger: Logger, private readonly workerScript: string) {
    this.modelName = config.modelName ?? modelNameFromUri(config.modelUri);
    this.endpointName = config.endpointName ?? this.modelName;
    this.metrics = new ServerMetrics(this.modelName, {
      queueDepths: () => Array.from({ length: PRIORITY_LEVELS }, (_, i) => [i + 1, this.service?.queueDepth(i + 1) ?? 0] as const),
      ready: () => this.ready,
      workersReady: () => this.pool?.ready ?? 0,
      workerRestarts: () => this.pool?.restarts ?? 0,
      warmupFailures: () => this.pool?.warmupFailures ?? 0,
      batchesInFlight: () => this.service?.batchesInFlight ?? 0,
      inlineRuns: () => this.inline?.runs ?? 0,
      predictionLog: () => this.predictionLogger?.stats ?? {},
    });
    this.reporter = new CloudWatchReporter(this.metrics.interval, {
      intervalS: config.metricsIntervalS,
      dimensions: this.dimensions,
      logger,
      queueDepth: () => this.service?.queued ?? 0,
      totals: () => ({ inlineRuns: this.inline?.runs ?? 0, workerRestarts: this.pool?.restarts ?? 0 }),
    });
    const router = this.routes();
    const limits = config.http;
    this.http = http.createServer({
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // Node enforces the headers and request timeouts when it sweeps its connections (every 30 s by default).
      connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_MS, limits.headersTimeoutMs),
    }, (req, res) => {
      const route = router.match(req.method ?? 'GET', req.url ?? '/');
      if (route instanceof InferenceError) {
        discardBody(req, res, config.maxPayloadBytes);
        sendJson(res, statusOf(route.kind), { error: route.message });
        return;
      }
      Promise.resolve(route.handler(req, res, route.params)).catch((error) => {
        sendJson(res, 500, { error: this.answerable(error, req).message });
      });
    });
    this.http.maxConnections = limits.maxConnections;
  }

  /** Dimensions of the server's CloudWatch metrics. */
  private get dimensions(): Record<string, string> {
    return { [MetricDimensions.MODEL]: this.modelName, [MetricDimensions.VARIANT]: this.config.variant };
  }

  /** Ready for traffic: loaded and warmed up, not shutting down, and at least one worker serving. */
  get ready(): boolean {
    return this.stateValue === 'ready' && (this.pool?.ready ?? 0) > 0;
  }

  /** Starts listening (live from now on); resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.config.port, this.config.host, () => {
        const { port } = this.http.address() as AddressInfo;
        this.logger.log('info', 'listening', { port, host: this.config.host });
        resolve(port);
      });
    });
  }

  /** Fetches the model, starts the workers (each loads and warms up), then becomes ready. */
  async load(): Promise<void> {
    const warmupSample = readWarmupSample(this.config.modelUri, this.config.warmupSample);
    const modelPath = await fetchModel(this.config.modelUri, { s3ForcePathStyle: this.config.s3ForcePathStyle });
    this.logger.log('info', 'model fetched', { uri: this.config.modelUri, path: modelPath });
    const pool = new WorkerPool({
      size: this.config.workers,
      model: this.modelName,
      script: this.workerScript,
      logger: this.logger,
      settings: {
        modelPath,
        executionProvider: this.config.executionProvider,
        intraOpThreads: this.config.intraOpThreads,
        warmupRuns: this.config.warmupRuns,
        maxBatchSize: this.config.maxBatchSize,
        warmupSample,
      },
      onIdle: () => this.service?.workerFreed(),
    });
    this.pool = pool;
    const loaded = await pool.start();
    if (this.stateValue !== 'loading') return; // shut down while loading
    if (pool.warmupFailures > 0) {
      // Also a CloudWatch metric: on SageMaker nothing scrapes /metrics.
      this.logger.emf(toEmf(
        this.dimensions,
        [{ name: InferenceServerMetrics.WARMUP_FAILURES, value: pool.warmupFailures, unit: 'Count' }],
      ));
    }
    const model: ModelInfo = {
      name: this.modelName,
      version: this.config.modelVersion,
      inputs: loaded.inputs,
      outputs: loaded.outputs,
      batchable: isBatchable(loaded.inputs, loaded.outputs),
      executionProvider: loaded.provider,
      providerFallbackReason: loaded.fallbackReason,
    };
    const inline = await InlineRunner.create({
      modelPath, executionProvider: this.config.executionProvider, maxRunUs: this.config.inlineMaxRunUs, batchable: model.batchable,
    }, this.logger);
    if (this.stateValue !== 'loading') { // shut down while measuring
      await inline?.release();
      return;
    }
    this.inline = inline;
    this.model = model;
    const { predictionLog } = this.config;
    if (predictionLog.sink) {
      const sink = createPredictionLogSink({
        uri: predictionLog.sink,
        bufferRecords: predictionLog.bufferRecords,
        flushMs: predictionLog.flushMs,
        s3ForcePathStyle: this.config.s3ForcePathStyle,
        logger: this.logger,
      });
      this.predictionLogger = new PredictionLogger(sink, predictionLog.sampleRate, { name: model.name, version: model.version, variant: this.config.variant });
    }
    this.service = new InferenceService(model, pool, this.config, this.metrics, this.predictionLogger, this.inline);
    const startupSeconds = (performance.now() - this.startedAt) / 1000;
    this.metrics.loaded(loaded.loadMs / 1000, startupSeconds, loaded.provider, this.config.executionProvider);
    this.stateValue = 'ready';
    this.reporter.start();
    this.logger.log('info', 'ready', {
      model: model.name, version: model.version, provider: model.executionProvider, workers: this.config.workers,
      batchable: model.batchable, startupMs: Math.round(startupSeconds * 1000),
    });
  }

  /**
   * Drains and stops (idempotent): not ready at once; accepts requests for the grace period (when it was serving);
   * then refuses new ones, finishes queued and in-flight work, flushes the prediction log, releases the sessions.
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.drain();
    return this.shutdownPromise;
  }

  private async drain(): Promise<void> {
    const wasServing = this.stateValue === 'ready';
    this.stateValue = 'draining';
    this.logger.log('info', 'draining', { graceMs: wasServing ? this.config.drainGraceMs : 0 });
    if (wasServing) await new Promise((resolve) => setTimeout(resolve, this.config.drainGraceMs));
    this.stateValue = 'stopping';
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    this.logger.log('info', 'stopped accepting requests', { queued: this.service?.queued ?? 0, batchesInFlight: this.service?.batchesInFlight ?? 0 });
    await this.service?.whenIdle();
    this.reporter.stop(); // the last interval's metrics, every request answered
    await this.predictionLogger?.close();
    await this.inline?.release();
    await this.pool?.close();
    this.logger.log('info', 'sessions released', { workers: this.config.workers });
    this.http.closeAllConnections();
    await closed;
    this.stateValue = 'stopped';
    this.logger.log('info', 'stopped', {});
  }

  /** Accepting inference requests: serving, or draining within the grace period. */
  private get accepting(): boolean {
    return this.stateValue === 'ready' || this.stateValue === 'draining';
  }

  private unavailable(): InferenceError {
    const reason = this.stateValue === 'loading' ? 'is loading the model' : 'is shutting down';
    return new InferenceError(ErrorKind.UNAVAILABLE, `the server ${reason}; retry on another instance or later`);
  }

  private routes(): Router {
    const router = new Router();
    const readiness = (res: http.ServerResponse, body: object = {}) =>
      sendJson(res, this.ready ? 200 : 503, { ...body, ready: this.ready, state: this.stateValue });
    router
      .add('GET', exactPath(ServerPaths.LIVE), (_req, res) => sendJson(res, 200, { live: true }))
      .add('GET', exactPath(ServerPaths.READY), (_req, res) => readiness(res))
      .add('GET', /^\/v2\/?$/, (_req, res) => sendJson(res, 200, serverMetadata()))
      .add('GET', new RegExp(`^${MODEL_PATH}$`), (_req, res, [name, version]) => this.respond(res, () => {
        const model = this.loadedModel(name, version);
        return modelMetadata(model, this.config);
      }))
      .add('GET', new RegExp(`^${MODEL_PATH}\\/ready$`), (_req, res, [name, version]) => this.respond(res, () => {
        this.checkModel(name, version);
        readiness(res, { name });
      }))
      .add('POST', new RegExp(`^${MODEL_PATH}\\/infer$`), (req, res, [name, version]) => this.infer(req, res, {
        checkTarget: () => {
          this.checkModel(name, version);
          this.checkVariant(req.headers[VARIANT_HEADER]);
        },
        decode: (body, model, r, receivedAt) => {
          const request = decodeInferRequest(parseJson(body.toString('utf8')), model, this.config, r.headers, receivedAt);
          return { request, encode: (response) => ({ body: JSON.stringify(encodeInferResponse(model, response)), contentType: 'application/json' }) };
        },
        fail: (r, error) => sendJson(r, statusOf(error.kind), { error: error.message }, errorHeaders(error.kind)),
        successHeaders: { [VARIANT_HEADER]: this.config.variant },
      }))
      .add('GET', /^\/ping$/, (_req, res) => send(res, this.ready ? 200 : 503, '', 'text/plain'))
      .add('POST', /^\/invocations$/, (req, res) => this.infer(req, res, {
        checkTarget: () => undefined,
        decode: (body, model, r, receivedAt) => this.decodeInvocation(body, model, r, receivedAt),
        fail: (r, error) => sendJson(r, containerStatus(error.kind, statusOf(error.kind)), { error: error.message }, errorHeaders(error.kind)),
      }))
      .add('POST', /^\/endpoints\/([^/]+)\/invocations$/, (req, res, [endpoint]) => {
        const requestId = newRequestId();
        return this.infer(req, res, {
          checkTarget: () => {
            if (endpoint !== this.endpointName) {
              throw new InferenceError(ErrorKind.NOT_FOUND, `Endpoint ${endpoint} not found; this server serves endpoint ${this.endpointName}`);
            }
            const variant = req.headers[TARGET_VARIANT_HEADER];
            if (variant !== undefined && variant !== this.config.variant) {
              throw new InferenceError(ErrorKind.NOT_FOUND, `Variant ${variant} not found for endpoint ${endpoint}; it serves variant ${this.config.variant}`);
            }
          },
          decode: (body, model, r, receivedAt) => this.decodeInvocation(body, model, r, receivedAt),
          fail: (r, error) => {
            const api = runtimeApiError(error, containerStatus(error.kind, statusOf(error.kind)), this.endpointName);
            sendJson(r, api.status, api.body, { 'x-amzn-errortype': api.errorType, 'x-amzn-requestid': requestId, ...errorHeaders(error.kind) });
          },
          successHeaders: { 'x-amzn-requestid': requestId, 'x-amzn-invoked-production-variant': this.config.variant },
          requestId,
        });
      })
      .add('GET', exactPath(ServerPaths.METRICS), async (_req, res) => send(res, 200, await this.metrics.render(), PROMETHEUS_CONTENT_TYPE));
    return router;
  }

  private decodeInvocation(body: Buffer, model: ModelInfo, req: http.IncomingMessage, receivedAt: number) {
    const { request, format } = decodeInvocation(body, model, this.config, req.headers, receivedAt);
    return { request, encode: (response: InferenceResponse) => encodeInvocationResponse(model, response, format) };
  }

  /** Answers with the JSON a function returns (or nothing if it answered itself), or its InferenceError. */
  private respond(res: http.ServerResponse, produce: () => object | void): void {
    try {
      const body = produce();
      if (body) sendJson(res, 200, body);
    } catch (error) {
      const e = this.answerable(error);
      sendJson(res, statusOf(e.kind), { error: e.message }, errorHeaders(e.kind));
    }
  }

  /**
   * The error a caller is answered: an `InferenceError` as it is, except INTERNAL ones and anything unexpected, which
   * become `internalError` naming a request id, the detail logged under that id in one structured line.
   */
  private answerable(error: unknown, req?: http.IncomingMessage, requestId: string = newRequestId()): InferenceError {
    if (error instanceof InferenceError && error.kind !== ErrorKind.INTERNAL) return error;
    const detail = error instanceof InferenceError ? error.message : (error as Error | undefined)?.stack ?? String(error);
    this.logger.log('error', 'internal error', { requestId, method: req?.method, url: req?.url, error: detail });
    return internalError(requestId);
  }

  private checkModel(name: string, version: string | undefined): void {
    if (name !== this.modelName) throw new InferenceError(ErrorKind.NOT_FOUND, `unknown model '${name}'; this server serves '${this.modelName}'`);
    if (version !== undefined && version !== this.config.modelVersion) {
      throw new InferenceError(ErrorKind.NOT_FOUND, `model '${name}' has no version '${version}'; it serves version '${this.config.modelVersion}'`);
    }
  }

  /** Refuses (404) a call naming another variant than this server's (`x-inference-variant`). */
  private checkVariant(variant: string | string[] | undefined): void {
    if (variant !== undefined && variant !== this.config.variant) {
      throw new InferenceError(ErrorKind.NOT_FOUND, `variant ${preview(variant)} is not served here; this server serves variant '${this.config.variant}'`);
    }
  }

  private loadedModel(name: string, version: string | undefined): ModelInfo {
    this.checkModel(name, version);
    if (!this.model) throw this.unavailable();
    return this.model;
  }

  /** The inference path shared by every protocol: admit, read, decode, queue, answer, count. */
  private async infer(req: http.IncomingMessage, res: http.ServerResponse, route: InferenceRoute): Promise<void> {
    const receivedAt = performance.now();
    const fromHeader = headerPriority(req.headers);
    let priority = fromHeader ?? this.config.defaultPriority;
    try {
      route.checkTarget();
      const { model, service } = this;
      if (!this.accepting || !model || !service) throw this.unavailable();
      // Refuse before reading the body when even the best case cannot be queued.
      if (!service.canAdmit(fromHeader ?? 1)) {
        throw new InferenceError(ErrorKind.OVERLOADED, 'the queue is full; retry later');
      }
      const body = await readBody(req, this.config.maxPayloadBytes);
      const { request, encode } = route.decode(body, model, req, receivedAt);
      priority = request.priority;
      const answered = service.infer(request);
      this.metrics.queueDepthSeen(service.queued);
      const response = await answered;
      const { body: out, contentType } = encode(response);
      send(res, 200, out, contentType, route.successHeaders);
      this.metrics.answered(priority, 'success', (performance.now() - receivedAt) / 1000);
    } catch (error) {
      const e = this.answerable(error, req, route.requestId);
      discardBody(req, res, this.config.maxPayloadBytes);
      route.fail(res, e);
      this.metrics.answered(priority, outcomeOf(e.kind), (performance.now() - receivedAt) / 1000);
    }
  }
}
