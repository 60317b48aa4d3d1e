/**
 * The inference server's contract: the environment variables it reads (how SageMaker, ECS and Kubernetes configure a
 * container), each setting's default and bounds defined once in `NUMERIC_SETTINGS`, the builder the constructs write
 * the environment with (`inferenceServerEnvironment`) and the parser the server reads it with
 * (`parseInferenceServerEnvironment`, collecting every problem). Pure: imports only other pure modules.
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
 * | `INFERENCE_DEFAULT_PRIORITY` | `2` | level (1 highest … 3) or tier name of requests that name none |
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
 * | `INFERENCE_METRICS_INTERVAL_S` | `60` | seconds between two CloudWatch EMF metric lines on stdout (0: none; see cloudwatch-reporter.ts) |
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
import { PRIORITY_TIERS, PriorityTierName } from '../core/tiers';
import { Environment, EnvironmentReader, NumberBounds } from './environment';

/** What the server assumes for the model's version and variant when the environment names none. */
export const ServerModelDefaults = {
  /** `MODEL_VERSION` unset. */
  VERSION: '1',
  /** `MODEL_VARIANT` unset: SageMaker's default variant name. */
  VARIANT: 'AllTraffic',
} as const;

/** HTTP paths of the server that orchestrators call: Kubernetes probes, load balancer health checks, Prometheus. */
export const ServerPaths = {
  /** Liveness (Open Inference Protocol): 200 while the process runs. */
  LIVE: '/v2/health/live',
  /** Readiness (Open Inference Protocol): 200 once the model is loaded and warmed up, 503 before and while draining. */
  READY: '/v2/health/ready',
  /** Prometheus exposition of the server's metrics. */
  METRICS: '/metrics',
} as const;

/** Names of the environment variables the inference server reads (see the module comment for their meaning). */
export const ServerVariables = {
  PORT: 'PORT',
  HOST: 'HOST',
  MODEL_URI: 'MODEL_URI',
  MODEL_NAME: 'MODEL_NAME',
  MODEL_VERSION: 'MODEL_VERSION',
  MODEL_VARIANT: 'MODEL_VARIANT',
  ENDPOINT_NAME: 'ENDPOINT_NAME',
  EXECUTION_PROVIDER: 'INFERENCE_EXECUTION_PROVIDER',
  WORKERS: 'INFERENCE_WORKERS',
  INTRA_OP_THREADS: 'INFERENCE_INTRA_OP_THREADS',
  MAX_BATCH_SIZE: 'INFERENCE_MAX_BATCH_SIZE',
  MAX_QUEUE_DELAY_MS: 'INFERENCE_MAX_QUEUE_DELAY_MS',
  INLINE_MAX_RUN_US: 'INFERENCE_INLINE_MAX_RUN_US',
  MAX_QUEUE_SIZE: 'INFERENCE_MAX_QUEUE_SIZE',
  DEFAULT_PRIORITY: 'INFERENCE_DEFAULT_PRIORITY',
  DEFAULT_TIMEOUT_MS: 'INFERENCE_DEFAULT_TIMEOUT_MS',
  MAX_PAYLOAD_BYTES: 'INFERENCE_MAX_PAYLOAD_BYTES',
  HTTP_HEADERS_TIMEOUT_MS: 'INFERENCE_HTTP_HEADERS_TIMEOUT_MS',
  HTTP_REQUEST_TIMEOUT_MS: 'INFERENCE_HTTP_REQUEST_TIMEOUT_MS',
  HTTP_KEEP_ALIVE_TIMEOUT_MS: 'INFERENCE_HTTP_KEEP_ALIVE_TIMEOUT_MS',
  HTTP_MAX_CONNECTIONS: 'INFERENCE_HTTP_MAX_CONNECTIONS',
  HTTP_MAX_HEADER_BYTES: 'INFERENCE_HTTP_MAX_HEADER_BYTES',
  NON_FINITE: 'INFERENCE_NON_FINITE',
  WARMUP_RUNS: 'INFERENCE_WARMUP_RUNS',
  WARMUP_SAMPLE: 'INFERENCE_WARMUP_SAMPLE',
  DRAIN_GRACE_MS: 'INFERENCE_DRAIN_GRACE_MS',
  SHUTDOWN_TIMEOUT_MS: 'INFERENCE_SHUTDOWN_TIMEOUT_MS',
  METRICS_INTERVAL_S: 'INFERENCE_METRICS_INTERVAL_S',
  FAULT_INJECTION: 'INFERENCE_FAULT_INJECTION',
  PREDICTION_LOG_SINK: 'PREDICTION_LOG_SINK',
  PREDICTION_LOG_SAMPLE_RATE: 'PREDICTION_LOG_SAMPLE_RATE',
  PREDICTION_LOG_BUFFER_RECORDS: 'PREDICTION_LOG_BUFFER_RECORDS',
  PREDICTION_LOG_FLUSH_MS: 'PREDICTION_LOG_FLUSH_MS',
  S3_FORCE_PATH_STYLE: 'S3_FORCE_PATH_STYLE',
} as const;

/** Number of priority levels (1 = highest), from the shared tiers. */
export const PRIORITY_LEVELS = PRIORITY_TIERS.length;

/** Longest delay Node's timers honour (2^31 − 1 ms, about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Upper bound of `INFERENCE_INLINE_MAX_RUN_US`: the longest an inline run may block the event loop, microseconds. */
export const MAX_INLINE_RUN_US = 250;

/** What to do with NaN and ±Infinity in float inputs. */
export enum NonFinitePolicy {
  /** Refuse the request, naming the element (the default). */
  REJECT = 'reject',
  /** Pass them to the model. */
  ALLOW = 'allow',
}

/** Execution providers the server can be asked for. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const;

/** An execution provider: `cuda` falls back to `cpu` when CUDA is not available. */
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

/** Prediction log sinks the server can write to: `stdout`, `file:///path`, `kinesis://stream`, `s3://bucket/prefix`. */
export const PREDICTION_LOG_SINK_PATTERN = /^(?:stdout$|file:\/\/\/.|kinesis:\/\/.|s3:\/\/.)/;

/** What `PREDICTION_LOG_SINK` accepts, as problems word it. */
export const PREDICTION_LOG_SINKS = 'stdout, file:///path, kinesis://stream or s3://bucket/prefix';

/** A numeric setting: its variable, its default and its bounds. */
export interface NumericSetting extends NumberBounds {
  readonly variable: string;
  /** @default - computed by the server (see the module comment) */
  readonly default?: number;
}

/**
 * Every numeric setting, with its default and bounds: the one definition the parser reads with and the constructs
 * validate props against (so synth refuses what the server would refuse at start).
 */
export const NUMERIC_SETTINGS = {
  port: { variable: ServerVariables.PORT, default: 8080, min: 0, max: 65535 },
  workers: { variable: ServerVariables.WORKERS, min: 1, max: 64 },
  intraOpThreads: { variable: ServerVariables.INTRA_OP_THREADS, min: 1, max: 256 },
  maxBatchSize: { variable: ServerVariables.MAX_BATCH_SIZE, default: 32, min: 1, max: 65536 },
  maxQueueDelayMs: { variable: ServerVariables.MAX_QUEUE_DELAY_MS, default: 2, min: 0, max: 60000, integer: false },
  inlineMaxRunUs: { variable: ServerVariables.INLINE_MAX_RUN_US, default: 100, min: 0, max: MAX_INLINE_RUN_US, integer: false },
  maxQueueSize: { variable: ServerVariables.MAX_QUEUE_SIZE, default: 512, min: 1 },
  defaultTimeoutMs: { variable: ServerVariables.DEFAULT_TIMEOUT_MS, default: 5000, min: 1, max: MAX_TIMER_MS },
  maxPayloadBytes: { variable: ServerVariables.MAX_PAYLOAD_BYTES, default: 6 * 1024 * 1024, min: 1 },
  httpHeadersTimeoutMs: { variable: ServerVariables.HTTP_HEADERS_TIMEOUT_MS, default: 10000, min: 1, max: MAX_TIMER_MS },
  httpRequestTimeoutMs: { variable: ServerVariables.HTTP_REQUEST_TIMEOUT_MS, default: 30000, min: 1, max: MAX_TIMER_MS },
  httpKeepAliveTimeoutMs: { variable: ServerVariables.HTTP_KEEP_ALIVE_TIMEOUT_MS, default: 65000, min: 1, max: MAX_TIMER_MS },
  httpMaxConnections: { variable: ServerVariables.HTTP_MAX_CONNECTIONS, default: 1024, min: 1 },
  httpMaxHeaderBytes: { variable: ServerVariables.HTTP_MAX_HEADER_BYTES, default: 16384, min: 1024, max: 1024 * 1024 },
  warmupRuns: { variable: ServerVariables.WARMUP_RUNS, default: 2, min: 0, max: 1000 },
  drainGraceMs: { variable: ServerVariables.DRAIN_GRACE_MS, default: 5000, min: 0, max: MAX_TIMER_MS },
  shutdownTimeoutMs: { variable: ServerVariables.SHUTDOWN_TIMEOUT_MS, default: 28000, min: 1, max: MAX_TIMER_MS },
  metricsIntervalS: { variable: ServerVariables.METRICS_INTERVAL_S, default: 60, min: 0, max: 3600 },
  predictionLogSampleRate: { variable: ServerVariables.PREDICTION_LOG_SAMPLE_RATE, default: 0.1, min: 0, max: 1, integer: false },
  predictionLogBufferRecords: { variable: ServerVariables.PREDICTION_LOG_BUFFER_RECORDS, default: 10000, min: 1 },
  /** Without a value: the sink's default (1 s; S3: 60 s). */
  predictionLogFlushMs: { variable: ServerVariables.PREDICTION_LOG_FLUSH_MS, min: 1, max: MAX_TIMER_MS },
} as const satisfies Record<string, NumericSetting>;

/** Name of a numeric setting. */
export type NumericSettingName = keyof typeof NUMERIC_SETTINGS;

/**
 * Settings the builder writes, each optional (unset: the server's default). Numbers are in the unit their name
 * carries; see `NUMERIC_SETTINGS` for bounds and the module comment for meanings.
 */
export type ServerSettings = { readonly [K in NumericSettingName]?: number } & {
  readonly host?: string;
  readonly modelUri?: string;
  readonly modelName?: string;
  readonly modelVersion?: string;
  readonly variant?: string;
  readonly endpointName?: string;
  readonly executionProvider?: ExecutionProviderName;
  /** A level (1 highest) or a tier name. */
  readonly defaultPriority?: number | PriorityTierName;
  readonly nonFinite?: NonFinitePolicy;
  readonly warmupSample?: string;
  readonly predictionLogSink?: string;
  readonly faultInjection?: boolean;
  readonly s3ForcePathStyle?: boolean;
};

/** Variables of the settings that are not numbers. */
const OTHER_SETTINGS: Record<Exclude<keyof ServerSettings, NumericSettingName>, string> = {
  host: ServerVariables.HOST,
  modelUri: ServerVariables.MODEL_URI,
  modelName: ServerVariables.MODEL_NAME,
  modelVersion: ServerVariables.MODEL_VERSION,
  variant: ServerVariables.MODEL_VARIANT,
  endpointName: ServerVariables.ENDPOINT_NAME,
  executionProvider: ServerVariables.EXECUTION_PROVIDER,
  defaultPriority: ServerVariables.DEFAULT_PRIORITY,
  nonFinite: ServerVariables.NON_FINITE,
  warmupSample: ServerVariables.WARMUP_SAMPLE,
  predictionLogSink: ServerVariables.PREDICTION_LOG_SINK,
  faultInjection: ServerVariables.FAULT_INJECTION,
  s3ForcePathStyle: ServerVariables.S3_FORCE_PATH_STYLE,
};

/** The variable a setting is written to. */
export function settingVariable(name: keyof ServerSettings): string {
  return name in NUMERIC_SETTINGS ? NUMERIC_SETTINGS[name as NumericSettingName].variable : OTHER_SETTINGS[name as keyof typeof OTHER_SETTINGS];
}

/**
 * The environment of a server with these settings: one variable per setting given, none for the rest (the server's
 * defaults). `formatNumber` writes numbers: a construct passes its token-aware formatter so that unresolved numbers
 * survive into the template. Does not validate: the construct checks its props against `NUMERIC_SETTINGS`, and the
 * server checks what it reads.
 */
export function inferenceServerEnvironment(settings: ServerSettings, formatNumber: (value: number) => string = String): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(settings) as [keyof ServerSettings, ServerSettings[keyof ServerSettings]][]) {
    if (value === undefined) continue;
    environment[settingVariable(name)] = typeof value === 'number' ? formatNumber(value) : String(value);
  }
  return environment;
}

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
  /** Longest time to receive a request's headers; slower clients get 408 and are disconnected. */
  readonly headersTimeoutMs: number;
  /** Longest time to receive a whole request, headers and body (at least `headersTimeoutMs`). */
  readonly requestTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open: above the load balancer's idle timeout (60 s on ALB and
   * SageMaker), so the server never closes a connection the balancer is about to reuse.
   */
  readonly keepAliveTimeoutMs: number;
  /** Open connections at most; further ones are closed at once. */
  readonly maxConnections: number;
  /** Largest request header section in bytes; larger get 431. */
  readonly maxHeaderBytes: number;
}

/** Everything the server is configured with (see the module comment for the variables and defaults). */
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
  readonly executionProvider: ExecutionProviderName;
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
  /** Seconds between two CloudWatch metric lines (0: none). */
  readonly metricsIntervalS: number;
  readonly faultInjection: boolean;
  readonly predictionLog: PredictionLogConfig;
  readonly s3ForcePathStyle: boolean;
}

/** Parses a priority: a level number 1 … `PRIORITY_LEVELS` or a tier name (`critical`, `standard`, `batch`). */
export function parsePriority(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= PRIORITY_LEVELS) return value;
  if (typeof value !== 'string') return undefined;
  const tier = PRIORITY_TIERS.indexOf(value.trim().toLowerCase() as PriorityTierName);
  if (tier >= 0) return tier + 1;
  return /^\d+$/.test(value.trim()) ? parsePriority(Number(value)) : undefined;
}

/** What a default priority may be, as problems word it. */
export const PRIORITY_CHOICES = `a level 1..${PRIORITY_LEVELS} or one of ${PRIORITY_TIERS.join(', ')}`;

/** The timing settings that rules across settings compare. */
export type TimingSettings = Pick<Record<NumericSettingName, number>, 'drainGraceMs' | 'shutdownTimeoutMs' | 'httpHeadersTimeoutMs' | 'httpRequestTimeoutMs'>;

/**
 * Problems of rules across settings (the drain grace within the shutdown timeout, the headers timeout within the
 * request timeout); `name` words a setting as the reader knows it (a variable, a construct prop).
 */
export function timingProblems(values: TimingSettings, name: (setting: keyof TimingSettings) => string): string[] {
  const problems: string[] = [];
  if (values.drainGraceMs >= values.shutdownTimeoutMs) {
    problems.push(`${name('drainGraceMs')} (${values.drainGraceMs}) must be below ${name('shutdownTimeoutMs')} (${values.shutdownTimeoutMs}) to leave time to finish in-flight work`);
  }
  if (values.httpHeadersTimeoutMs > values.httpRequestTimeoutMs) {
    problems.push(`${name('httpHeadersTimeoutMs')} (${values.httpHeadersTimeoutMs}) must not be above ${name('httpRequestTimeoutMs')} (${values.httpRequestTimeoutMs}): the headers are part of the request`);
  }
  return problems;
}

/**
 * Reads the server's configuration from its environment (`cpus`: the machine's cores, for the worker and thread
 * defaults); throws one error listing every invalid variable.
 */
export function parseInferenceServerEnvironment(env: Environment, cpus: number): ServerConfig {
  const read = new EnvironmentReader(env, 'inference server', 'the ModelEndpoint construct (serverSettings) or the container environment');
  const number = (name: NumericSettingName, fallback?: number): number => {
    const setting: NumericSetting = NUMERIC_SETTINGS[name];
    return read.number(setting.variable, fallback ?? setting.default ?? 0, setting);
  };
  const V = ServerVariables;
  const executionProvider = read.choice<ExecutionProviderName>(V.EXECUTION_PROVIDER, 'cpu', EXECUTION_PROVIDERS);
  const workers = number('workers', executionProvider === 'cuda' ? 1 : Math.max(1, Math.floor(cpus / 4)));
  const defaultPriorityRaw = read.optional(V.DEFAULT_PRIORITY) ?? '2';
  const defaultPriority = parsePriority(defaultPriorityRaw);
  if (defaultPriority === undefined) read.problem(`${V.DEFAULT_PRIORITY}=${defaultPriorityRaw}: expected ${PRIORITY_CHOICES}`);
  const sink = read.optional(V.PREDICTION_LOG_SINK);
  if (sink !== undefined && !PREDICTION_LOG_SINK_PATTERN.test(sink)) read.problem(`${V.PREDICTION_LOG_SINK}=${sink}: expected ${PREDICTION_LOG_SINKS}`);
  const config: ServerConfig = {
    host: read.optional(V.HOST) ?? '0.0.0.0',
    port: number('port'),
    modelUri: read.optional(V.MODEL_URI) ?? '/opt/ml/model',
    modelName: read.optional(V.MODEL_NAME),
    modelVersion: read.optional(V.MODEL_VERSION) ?? ServerModelDefaults.VERSION,
    variant: read.optional(V.MODEL_VARIANT) ?? ServerModelDefaults.VARIANT,
    endpointName: read.optional(V.ENDPOINT_NAME),
    executionProvider,
    workers,
    intraOpThreads: number('intraOpThreads', Math.max(1, Math.floor((cpus - 1) / workers))),
    maxBatchSize: number('maxBatchSize'),
    maxQueueDelayMs: number('maxQueueDelayMs'),
    inlineMaxRunUs: number('inlineMaxRunUs'),
    maxQueueSize: number('maxQueueSize'),
    defaultPriority: defaultPriority ?? 2,
    defaultTimeoutMs: number('defaultTimeoutMs'),
    maxPayloadBytes: number('maxPayloadBytes'),
    http: {
      headersTimeoutMs: number('httpHeadersTimeoutMs'),
      requestTimeoutMs: number('httpRequestTimeoutMs'),
      keepAliveTimeoutMs: number('httpKeepAliveTimeoutMs'),
      maxConnections: number('httpMaxConnections'),
      maxHeaderBytes: number('httpMaxHeaderBytes'),
    },
    nonFinite: read.choice(V.NON_FINITE, NonFinitePolicy.REJECT, [NonFinitePolicy.REJECT, NonFinitePolicy.ALLOW]),
    warmupRuns: number('warmupRuns'),
    warmupSample: read.optional(V.WARMUP_SAMPLE),
    drainGraceMs: number('drainGraceMs'),
    shutdownTimeoutMs: number('shutdownTimeoutMs'),
    metricsIntervalS: number('metricsIntervalS'),
    faultInjection: read.bool(V.FAULT_INJECTION),
    predictionLog: {
      sink,
      sampleRate: number('predictionLogSampleRate'),
      bufferRecords: number('predictionLogBufferRecords'),
      flushMs: read.optional(V.PREDICTION_LOG_FLUSH_MS) === undefined ? undefined : number('predictionLogFlushMs', 1000),
    },
    s3ForcePathStyle: read.bool(V.S3_FORCE_PATH_STYLE),
  };
  const timing = {
    drainGraceMs: config.drainGraceMs, shutdownTimeoutMs: config.shutdownTimeoutMs,
    httpHeadersTimeoutMs: config.http.headersTimeoutMs, httpRequestTimeoutMs: config.http.requestTimeoutMs,
  };
  for (const problem of timingProblems(timing, (name) => NUMERIC_SETTINGS[name].variable)) read.problem(problem);
  read.throwIfProblems();
  return config;
}
