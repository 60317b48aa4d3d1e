/**
 * Server configuration from environment variables (how SageMaker, ECS and Kubernetes configure a container). Every
 * problem is collected and reported at once, naming the variable and what it accepts.
 *
 * | Variable | Default | Meaning |
 * |---|---|---|
 * | `PORT` / `HOST` | `8080` / `0.0.0.0` | where to listen (`PORT=0`: any free port, reported in the `listening` log line) |
 * | `MODEL_URI` | `/opt/ml/model` | a `.onnx` file, a folder holding one, or `s3://bucket/key.onnx` (downloaded at start) |
 * | `MODEL_NAME` / `MODEL_VERSION` | file name / `1` | names in the protocols, metrics and prediction log |
 * | `MODEL_VARIANT` | `AllTraffic` | variant name (SageMaker's default), logged and returned in `x-Amzn-Invoked-Production-Variant` |
 * | `ENDPOINT_NAME` | the model name | the only name `POST /endpoints/{name}/invocations` accepts |
 * | `INFERENCE_EXECUTION_PROVIDER` | `cpu` | `cuda` or `cpu`; `cuda` falls back to `cpu` (logged, in metrics and metadata) |
 * | `INFERENCE_WORKERS` | CUDA: 1; CPU: a quarter of the cores (at least 1) | session workers (threads) |
 * | `INFERENCE_INTRA_OP_THREADS` | (cores − 1) / workers, at least 1 | onnxruntime threads per session |
 * | `INFERENCE_MAX_BATCH_SIZE` | `32` | most rows per batch (1 disables batching) |
 * | `INFERENCE_MAX_QUEUE_DELAY_MS` | `2` | longest wait for a batch to fill while a worker is free |
 * | `INFERENCE_INLINE_MAX_RUN_US` | `100` | a CPU model whose 1-row run takes at most this many µs (0 … 250; 0: never) runs lone requests on the main thread, not a worker (see inline-runner.ts) |
 * | `INFERENCE_MAX_QUEUE_SIZE` | `512` | most queued requests; beyond, lower priorities are shed, then requests refused |
 * | `INFERENCE_DEFAULT_PRIORITY` | `2` | level (1 highest … 3) of requests that name none |
 * | `INFERENCE_DEFAULT_TIMEOUT_MS` | `5000` | deadline of requests that name none |
 * | `INFERENCE_MAX_PAYLOAD_BYTES` | `6291456` (6 MB, SageMaker's limit) | larger bodies get 413 and the connection is closed (the body is not read) |
 * | `INFERENCE_HTTP_HEADERS_TIMEOUT_MS` | `10000` | longest time to receive a request's headers; slower clients get 408 and are disconnected |
 * | `INFERENCE_HTTP_REQUEST_TIMEOUT_MS` | `30000` | longest time to receive a whole request, body included (at least the headers timeout) |
 * | `INFERENCE_HTTP_KEEP_ALIVE_TIMEOUT_MS` | `65000` | idle keep-alive connections are closed after this; keep it above the load balancer's idle timeout (60 s on ALB and SageMaker) |
 * | `INFERENCE_HTTP_MAX_CONNECTIONS` | `1024` | open connections at most; further ones are closed at once |
 * | `INFERENCE_HTTP_MAX_HEADER_BYTES` | `16384` | largest request header section; larger get 431 |
 * | `INFERENCE_NON_FINITE` | `reject` | `reject` or `allow` NaN and ±Infinity in float inputs |
 * | `INFERENCE_WARMUP_RUNS` | `2` | warm-up runs per warm-up batch size per worker before ready |
 * | `INFERENCE_WARMUP_SAMPLE` | `warmup.json` next to the model (in a `MODEL_URI` folder, or a `MODEL_URI` file's folder), if there | an OIP v2 request file run as warm-up instead of synthesized zeros; its failure stops the server |
 * | `INFERENCE_DRAIN_GRACE_MS` | `5000` | after SIGTERM: not ready at once, but keep accepting requests this long |
 * | `INFERENCE_SHUTDOWN_TIMEOUT_MS` | `28000` | after SIGTERM: exit by then at the latest (SageMaker allows 30 s) |
 * | `INFERENCE_FAULT_INJECTION` | `false` | honour the `x-inference-fault` request header (chaos testing only) |
 * | `PREDICTION_LOG_SINK` | none | `stdout`, `file:///path.jsonl`, `kinesis://stream`, `s3://bucket/prefix/` |
 * | `PREDICTION_LOG_SAMPLE_RATE` | `0.1` | fraction of successful predictions logged |
 * | `PREDICTION_LOG_BUFFER_RECORDS` | `10000` | records buffered before new ones are dropped (and counted) |
 * | `PREDICTION_LOG_FLUSH_MS` | `1000` (S3: `60000`) | longest a record waits before delivery |
 * | `S3_FORCE_PATH_STYLE` | `false` | path-style S3 URLs (S3-compatible stores) |
 *
 * AWS clients take the SDK's own variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_S3`,
 * `AWS_ENDPOINT_URL_KINESIS`).
 */
import * as os from 'os';
import { PRIORITY_TIERS } from '../core/tiers';
import { NonFinitePolicy } from './tensors';
import { ServerEnv } from './variables';
import type { ExecutionProvider } from './worker-protocol';

/** Number of priority levels (1 = highest), from the shared tiers. */
export const PRIORITY_LEVELS = PRIORITY_TIERS.length;

/** Longest delay Node's timers honour (2^31 − 1 ms, about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Upper bound of `INFERENCE_INLINE_MAX_RUN_US`: the longest an inline run may block the event loop, microseconds. */
export const MAX_INLINE_RUN_US = 250;

/** Prediction logging settings. */
export interface PredictionLogConfig {
  /** Sink URI; undefined: no prediction logging. */
  readonly sink?: string;
  readonly sampleRate: number;
  readonly bufferRecords: number;
  /** Undefined: the sink's default. */
  readonly flushMs?: number;
}

/** Limits of the HTTP server (Node's `http.Server` settings), so that no client can hold its connections or memory. */
export interface HttpLimits {
  /** Longest time to receive a request's headers; slower clients get 408 and are disconnected. @default 10000 */
  readonly headersTimeoutMs: number;
  /** Longest time to receive a whole request, headers and body (at least `headersTimeoutMs`). @default 30000 */
  readonly requestTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open: above the load balancer's idle timeout (60 s on ALB and
   * SageMaker), so the server never closes a connection the balancer is about to reuse. @default 65000
   */
  readonly keepAliveTimeoutMs: number;
  /** Open connections at most; further ones are closed at once. @default 1024 */
  readonly maxConnections: number;
  /** Largest request header section in bytes; larger get 431. @default 16384 */
  readonly maxHeaderBytes: number;
}

/** Everything the server is configured with (see the module comment for the variables). */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly modelUri: string;
  /** Undefined: derived from the model file name. */
  readonly modelName?: string;
  readonly modelVersion: string;
  readonly variant: string;
  /** Undefined: the model name. */
  readonly endpointName?: string;
  readonly executionProvider: ExecutionProvider;
  readonly workers: number;
  readonly intraOpThreads: number;
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  /** Longest 1-row run of a model whose lone requests run on the main thread, microseconds (0: never). */
  readonly inlineMaxRunUs: number;
  readonly maxQueueSize: number;
  readonly defaultPriority: number;
  readonly defaultTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly http: HttpLimits;
  readonly nonFinite: NonFinitePolicy;
  readonly warmupRuns: number;
  /** Path of the warm-up sample file; undefined: `warmup.json` next to the model, if there. */
  readonly warmupSample?: string;
  readonly drainGraceMs: number;
  readonly shutdownTimeoutMs: number;
  readonly faultInjection: boolean;
  readonly predictionLog: PredictionLogConfig;
  readonly s3ForcePathStyle: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads variables, collecting problems. */
class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value === '' ? fallback : value;
  }

  optional(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  number(name: string, fallback: number, min: number, max = Infinity, integer = true): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      this.problems.push(`${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} from ${min}${max === Infinity ? ' up' : ` to ${max}`}`);
      return fallback;
    }
    return value;
  }

  choice<T extends string>(name: string, fallback: T, choices: readonly T[]): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(choices as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${raw}: expected one of ${choices.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  bool(name: string): boolean {
    return this.choice(name, 'false', ['true', 'false', '1', '0']) === 'true' || this.env[name] === '1';
  }
}

/** Parses a priority: a level number 1 … `PRIORITY_LEVELS` or a tier name (`critical`, `standard`, `batch`). */
export function parsePriority(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= PRIORITY_LEVELS) return value;
  if (typeof value !== 'string') return undefined;
  const tier = PRIORITY_TIERS.indexOf(value.trim().toLowerCase() as (typeof PRIORITY_TIERS)[number]);
  if (tier >= 0) return tier + 1;
  return /^\d+$/.test(value.trim()) ? parsePriority(Number(value)) : undefined;
}

/** Builds the configuration from environment variables; throws listing every invalid one. */
export function loadConfig(env: Env = process.env, cpus: number = os.cpus().length): ServerConfig {
  const read = new EnvReader(env);
  const executionProvider = read.choice<ExecutionProvider>(ServerEnv.EXECUTION_PROVIDER, 'cpu', ['cpu', 'cuda']);
  const workers = read.number(ServerEnv.WORKERS, executionProvider === 'cuda' ? 1 : Math.max(1, Math.floor(cpus / 4)), 1, 64);
  const defaultPriorityRaw = read.string(ServerEnv.DEFAULT_PRIORITY, '2');
  const defaultPriority = parsePriority(defaultPriorityRaw);
  if (defaultPriority === undefined) {
    read.problems.push(`${ServerEnv.DEFAULT_PRIORITY}=${defaultPriorityRaw}: expected a level 1..${PRIORITY_LEVELS} or one of ${PRIORITY_TIERS.join(', ')}`);
  }
  const sink = read.optional(ServerEnv.PREDICTION_LOG_SINK);
  if (sink !== undefined && !/^(stdout$|file:\/\/\/.|kinesis:\/\/.|s3:\/\/.)/.test(sink)) {
    read.problems.push(`${ServerEnv.PREDICTION_LOG_SINK}=${sink}: expected stdout, file:///path, kinesis://stream or s3://bucket/prefix`);
  }
  const flushMs = read.optional(ServerEnv.PREDICTION_LOG_FLUSH_MS) === undefined ? undefined : read.number(ServerEnv.PREDICTION_LOG_FLUSH_MS, 1000, 1, MAX_TIMER_MS);
  const config: ServerConfig = {
    host: read.string(ServerEnv.HOST, '0.0.0.0'),
    port: read.number(ServerEnv.PORT, 8080, 0, 65535),
    modelUri: read.string(ServerEnv.MODEL_URI, '/opt/ml/model'),
    modelName: read.optional(ServerEnv.MODEL_NAME),
    modelVersion: read.string(ServerEnv.MODEL_VERSION, '1'),
    variant: read.string(ServerEnv.MODEL_VARIANT, 'AllTraffic'),
    endpointName: read.optional(ServerEnv.ENDPOINT_NAME),
    executionProvider,
    workers,
    intraOpThreads: read.number(ServerEnv.INTRA_OP_THREADS, Math.max(1, Math.floor((cpus - 1) / workers)), 1, 256),
    maxBatchSize: read.number(ServerEnv.MAX_BATCH_SIZE, 32, 1, 65536),
    maxQueueDelayMs: read.number(ServerEnv.MAX_QUEUE_DELAY_MS, 2, 0, 60000, false),
    inlineMaxRunUs: read.number(ServerEnv.INLINE_MAX_RUN_US, 100, 0, MAX_INLINE_RUN_US, false),
    maxQueueSize: read.number(ServerEnv.MAX_QUEUE_SIZE, 512, 1),
    defaultPriority: defaultPriority ?? 2,
    defaultTimeoutMs: read.number(ServerEnv.DEFAULT_TIMEOUT_MS, 5000, 1, MAX_TIMER_MS),
    maxPayloadBytes: read.number(ServerEnv.MAX_PAYLOAD_BYTES, 6 * 1024 * 1024, 1),
    http: {
      headersTimeoutMs: read.number(ServerEnv.HTTP_HEADERS_TIMEOUT_MS, 10000, 1, MAX_TIMER_MS),
      requestTimeoutMs: read.number(ServerEnv.HTTP_REQUEST_TIMEOUT_MS, 30000, 1, MAX_TIMER_MS),
      keepAliveTimeoutMs: read.number(ServerEnv.HTTP_KEEP_ALIVE_TIMEOUT_MS, 65000, 1, MAX_TIMER_MS),
      maxConnections: read.number(ServerEnv.HTTP_MAX_CONNECTIONS, 1024, 1),
      maxHeaderBytes: read.number(ServerEnv.HTTP_MAX_HEADER_BYTES, 16384, 1024, 1024 * 1024),
    },
    nonFinite: read.choice(ServerEnv.NON_FINITE, NonFinitePolicy.REJECT, [NonFinitePolicy.REJECT, NonFinitePolicy.ALLOW]),
    warmupRuns: read.number(ServerEnv.WARMUP_RUNS, 2, 0, 1000),
    warmupSample: read.optional(ServerEnv.WARMUP_SAMPLE),
    drainGraceMs: read.number(ServerEnv.DRAIN_GRACE_MS, 5000, 0, MAX_TIMER_MS),
    shutdownTimeoutMs: read.number(ServerEnv.SHUTDOWN_TIMEOUT_MS, 28000, 1, MAX_TIMER_MS),
    faultInjection: read.bool(ServerEnv.FAULT_INJECTION),
    predictionLog: {
      sink,
      sampleRate: read.number(ServerEnv.PREDICTION_LOG_SAMPLE_RATE, 0.1, 0, 1, false),
      bufferRecords: read.number(ServerEnv.PREDICTION_LOG_BUFFER_RECORDS, 10000, 1),
      flushMs,
    },
    s3ForcePathStyle: read.bool(ServerEnv.S3_FORCE_PATH_STYLE),
  };
  if (config.drainGraceMs >= config.shutdownTimeoutMs) {
    read.problems.push(`${ServerEnv.DRAIN_GRACE_MS} (${config.drainGraceMs}) must be below ${ServerEnv.SHUTDOWN_TIMEOUT_MS} (${config.shutdownTimeoutMs}) to leave time to finish in-flight work`);
  }
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    read.problems.push(`${ServerEnv.HTTP_HEADERS_TIMEOUT_MS} (${config.http.headersTimeoutMs}) must not be above ${ServerEnv.HTTP_REQUEST_TIMEOUT_MS} (${config.http.requestTimeoutMs}): the headers are part of the request`);
  }
  if (read.problems.length > 0) throw new Error(`invalid inference server configuration:\n  ${read.problems.join('\n  ')}`);
  return config;
}
