import { Duration, Size, SizeRoundingBehavior, Token, Tokenization } from 'aws-cdk-lib';
import {
  inferenceServerEnvironment, NonFinitePolicy, NUMERIC_SETTINGS, NumericSetting, NumericSettingName, PREDICTION_LOG_SINK_PATTERN,
  PREDICTION_LOG_SINKS, ServerSettings, settingVariable, timingProblems, TimingSettings,
} from '../../runtime/contracts/inference-server';
import type { PriorityTier } from './inference-gateway';

/** The ONNX Runtime execution provider of our inference server. */
export class ExecutionProvider {
  /** CPU: the default. */
  public static readonly CPU = new ExecutionProvider('cpu');
  /** NVIDIA CUDA (GPU images): falls back to the CPU, logged and reported in the metrics, when CUDA is not available. */
  public static readonly CUDA = new ExecutionProvider('cuda');

  private constructor(
    /** The provider's name, as the server reads it. */
    public readonly name: 'cpu' | 'cuda',
  ) {}
}

/** Limits of the server's HTTP listener, so that no client can hold its connections or memory. */
export interface ServerHttpLimits {
  /**
   * Longest time to receive a request's headers; slower clients get 408 and are disconnected.
   * @default Duration.seconds(10)
   */
  readonly headersTimeout?: Duration;
  /**
   * Longest time to receive a whole request, body included; at least `headersTimeout`.
   * @default Duration.seconds(30)
   */
  readonly requestTimeout?: Duration;
  /**
   * How long an idle keep-alive connection stays open; keep it above the load balancer's idle timeout (60 s on ALB
   * and SageMaker).
   * @default Duration.seconds(65)
   */
  readonly keepAliveTimeout?: Duration;
  /**
   * Open connections at most; further ones are closed at once.
   * @default 1024
   */
  readonly maxConnections?: number;
  /**
   * Largest request header section (1 KiB to 1 MiB); larger get 431.
   * @default Size.kibibytes(16)
   */
  readonly maxHeaderSize?: Size;
}

/** The server's own prediction log (besides the gateway's): one JSON line per sampled prediction. */
export interface ServerPredictionLog {
  /**
   * Where records go: `stdout`, `file:///path.jsonl`, `kinesis://stream` or `s3://bucket/prefix/`. The endpoint's
   * role must be allowed to write to a stream or bucket named here.
   * @default - no prediction log from the server
   */
  readonly sink?: string;
  /**
   * Fraction of successful predictions logged, 0 to 1.
   * @default 0.1
   */
  readonly sampleRate?: number;
  /**
   * Records buffered before new ones are dropped (and counted).
   * @default 10000
   */
  readonly bufferRecords?: number;
  /**
   * Longest a record waits before delivery.
   * @default - 1 second; 60 seconds for S3
   */
  readonly flushInterval?: Duration;
}

/**
 * Settings of our inference server (`InferenceImage.fromServer`), validated at synth against the bounds the server
 * itself enforces (runtime/contracts/inference-server.ts) and written to the container environment.
 */
export interface InferenceServerSettings {
  /**
   * Most rows per batch (1 to 65536; 1 disables batching).
   * @default 32
   */
  readonly maxBatchSize?: number;
  /**
   * Longest wait for a batch to fill while a worker is free (0 to 60 seconds).
   * @default Duration.millis(2)
   */
  readonly maxQueueDelay?: Duration;
  /**
   * Most queued requests; beyond, lower priorities are shed, then requests refused.
   * @default 512
   */
  readonly maxQueueSize?: number;
  /**
   * Deadline of requests that name none (whole milliseconds).
   * @default Duration.seconds(5)
   */
  readonly defaultTimeout?: Duration;
  /**
   * Priority of requests that name none.
   * @default PriorityTier.STANDARD
   */
  readonly defaultPriority?: PriorityTier;
  /**
   * Session workers (threads), 1 to 64.
   * @default - CUDA: 1; CPU: a quarter of the instance's cores, at least 1
   */
  readonly workers?: number;
  /**
   * ONNX Runtime threads per session, 1 to 256.
   * @default - (cores − 1) / workers, at least 1
   */
  readonly intraOpThreads?: number;
  /**
   * Execution provider.
   * @default ExecutionProvider.CPU
   */
  readonly executionProvider?: ExecutionProvider;
  /**
   * A CPU model whose 1-row run takes at most this long (0 to 250 µs, microsecond resolution; 0: never) runs lone
   * requests on the main thread rather than a worker.
   * @default Duration.millis(0.1)
   */
  readonly inlineMaxRun?: Duration;
  /**
   * Largest request body; larger get 413 and the connection is closed.
   * @default Size.mebibytes(6) (SageMaker's limit)
   */
  readonly maxPayload?: Size;
  /**
   * Pass NaN and ±Infinity in float inputs to the model instead of refusing the request.
   * @default false
   */
  readonly allowNonFinite?: boolean;
  /**
   * Warm-up runs per warm-up batch size per worker before the server is ready (0 to 1000).
   * @default 2
   */
  readonly warmupRuns?: number;
  /**
   * After SIGTERM: not ready at once, but keep accepting requests this long (below `shutdownTimeout`).
   * @default Duration.seconds(5)
   */
  readonly drainGrace?: Duration;
  /**
   * After SIGTERM: exit by then at the latest (SageMaker allows 30 seconds).
   * @default Duration.seconds(28)
   */
  readonly shutdownTimeout?: Duration;
  /**
   * How often the server writes its metrics (queue depth, batch sizes, sheds, expiries, latency per priority) to
   * CloudWatch as one EMF line on its log: whole seconds up to an hour; `Duration.seconds(0)` writes none.
   * @default Duration.seconds(60)
   */
  readonly metricsInterval?: Duration;
  /**
   * The server's prediction log.
   * @default - none
   */
  readonly predictionLog?: ServerPredictionLog;
  /**
   * Limits of the HTTP listener.
   * @default - the defaults of `ServerHttpLimits`
   */
  readonly http?: ServerHttpLimits;
}

/** The server's environment for these settings, and the problems of the props (each naming its path). */
export interface ServerSettingsEnvironment {
  /** Variables to set on the container; only for settings given. */
  readonly environment: Record<string, string>;
  /** Problems, each naming the prop (e.g. `serverSettings.maxBatchSize`) and what it accepts. */
  readonly problems: string[];
  /**
   * The prop that writes each variable these settings cover, given or not (e.g. `INFERENCE_MAX_BATCH_SIZE` →
   * `serverSettings.maxBatchSize`): what a construct names when a raw environment variable duplicates a setting.
   */
  readonly covered: Record<string, string>;
}

/** How one prop maps to a numeric setting: the prop's path below the settings and its value in the setting's unit. */
type NumericProp = readonly [path: string, setting: NumericSettingName, value: number | undefined, unit: string];

/**
 * The container environment of `settings`, and every problem of them (`prop` names them in messages). Bounds are the
 * server's; unresolved tokens are written as they are and not checked.
 */
export function serverSettingsEnvironment(settings: InferenceServerSettings, prop = 'serverSettings'): ServerSettingsEnvironment {
  const problems: string[] = [];
  const millis = (path: string, d: Duration | undefined) => converted(path, d, (x) => x.toMilliseconds({ integral: false }), problems, prop);
  const bytes = (path: string, s: Size | undefined) => converted(path, s, (x) => x.toBytes({ rounding: SizeRoundingBehavior.NONE }), problems, prop);
  const { predictionLog: log = {}, http = {} } = settings;
  const numeric: NumericProp[] = [
    ['maxBatchSize', 'maxBatchSize', settings.maxBatchSize, ''],
    ['maxQueueDelay', 'maxQueueDelayMs', millis('maxQueueDelay', settings.maxQueueDelay), 'ms'],
    ['maxQueueSize', 'maxQueueSize', settings.maxQueueSize, ''],
    ['defaultTimeout', 'defaultTimeoutMs', millis('defaultTimeout', settings.defaultTimeout), 'ms'],
    ['workers', 'workers', settings.workers, ''],
    ['intraOpThreads', 'intraOpThreads', settings.intraOpThreads, ''],
    ['inlineMaxRun', 'inlineMaxRunUs', microseconds(millis('inlineMaxRun', settings.inlineMaxRun)), 'µs'],
    ['maxPayload', 'maxPayloadBytes', bytes('maxPayload', settings.maxPayload), 'bytes'],
    ['warmupRuns', 'warmupRuns', settings.warmupRuns, ''],
    ['drainGrace', 'drainGraceMs', millis('drainGrace', settings.drainGrace), 'ms'],
    ['shutdownTimeout', 'shutdownTimeoutMs', millis('shutdownTimeout', settings.shutdownTimeout), 'ms'],
    ['metricsInterval', 'metricsIntervalS', converted('metricsInterval', settings.metricsInterval, (x) => x.toSeconds({ integral: false }), problems, prop), 's'],
    ['predictionLog.sampleRate', 'predictionLogSampleRate', log.sampleRate, ''],
    ['predictionLog.bufferRecords', 'predictionLogBufferRecords', log.bufferRecords, ''],
    ['predictionLog.flushInterval', 'predictionLogFlushMs', millis('predictionLog.flushInterval', log.flushInterval), 'ms'],
    ['http.headersTimeout', 'httpHeadersTimeoutMs', millis('http.headersTimeout', http.headersTimeout), 'ms'],
    ['http.requestTimeout', 'httpRequestTimeoutMs', millis('http.requestTimeout', http.requestTimeout), 'ms'],
    ['http.keepAliveTimeout', 'httpKeepAliveTimeoutMs', millis('http.keepAliveTimeout', http.keepAliveTimeout), 'ms'],
    ['http.maxConnections', 'httpMaxConnections', http.maxConnections, ''],
    ['http.maxHeaderSize', 'httpMaxHeaderBytes', bytes('http.maxHeaderSize', http.maxHeaderSize), 'bytes'],
  ];
  const values: { -readonly [K in NumericSettingName]?: number } = {};
  for (const [path, setting, value, unit] of numeric) {
    if (value === undefined) continue;
    values[setting] = value;
    const problem = boundsProblem(value, NUMERIC_SETTINGS[setting], unit);
    if (problem) problems.push(`${prop}.${path}: ${problem}`);
  }
  if (log.sink !== undefined && !Token.isUnresolved(log.sink) && !PREDICTION_LOG_SINK_PATTERN.test(log.sink)) {
    problems.push(`${prop}.predictionLog.sink: '${log.sink}' must be ${PREDICTION_LOG_SINKS}`);
  }
  problems.push(...crossProblems(values, prop));
  const server: ServerSettings = {
    ...values,
    defaultPriority: settings.defaultPriority?.name as ServerSettings['defaultPriority'],
    executionProvider: settings.executionProvider?.name,
    nonFinite: settings.allowNonFinite === undefined ? undefined : settings.allowNonFinite ? NonFinitePolicy.ALLOW : NonFinitePolicy.REJECT,
    predictionLogSink: log.sink,
  };
  const others: Array<[path: string, setting: keyof ServerSettings]> = [
    ['defaultPriority', 'defaultPriority'], ['executionProvider', 'executionProvider'], ['allowNonFinite', 'nonFinite'], ['predictionLog.sink', 'predictionLogSink'],
  ];
  const covered = Object.fromEntries([...numeric, ...others].map(([path, setting]) => [settingVariable(setting), `${prop}.${path}`]));
  return { environment: inferenceServerEnvironment(server, (n) => Tokenization.stringifyNumber(n)), problems, covered };
}

/** A Duration or Size converted to a number (a token stays a token); undefined, with a problem, when it cannot be. */
function converted<T>(path: string, amount: T | undefined, convert: (amount: T) => number, problems: string[], prop: string): number | undefined {
  if (amount === undefined) return undefined;
  try {
    return convert(amount);
  } catch (error) {
    problems.push(`${prop}.${path}: ${(error as Error).message}`);
    return undefined;
  }
}

/** Milliseconds as microseconds, without binary-fraction noise (0.1 ms is 100 µs, not 100.00000000000001). */
function microseconds(ms: number | undefined): number | undefined {
  return ms === undefined || Token.isUnresolved(ms) ? ms : Math.round(ms * 1e9) / 1e6;
}

/** What is wrong with a concrete value outside a setting's bounds, worded as the server words it; undefined if fine. */
function boundsProblem(value: number, bounds: NumericSetting, unit: string): string | undefined {
  if (Token.isUnresolved(value)) return undefined;
  const { min, max = Infinity, integer = true } = bounds;
  if (Number.isFinite(value) && (!integer || Number.isInteger(value)) && value >= min && value <= max) return undefined;
  const u = unit ? ` ${unit}` : '';
  return `${value}${u} must be ${integer ? 'an integer' : 'a number'} from ${min}${max === Infinity ? `${u} up` : ` to ${max}${u}`}`;
}

/** Rules across settings, checked on the concrete values with the server's defaults for those not given. */
function crossProblems(values: { readonly [K in NumericSettingName]?: number }, prop: string): string[] {
  const paths: Record<keyof TimingSettings, string> = {
    drainGraceMs: 'drainGrace', shutdownTimeoutMs: 'shutdownTimeout', httpHeadersTimeoutMs: 'http.headersTimeout', httpRequestTimeoutMs: 'http.requestTimeout',
  };
  const timing = {} as Record<keyof TimingSettings, number>;
  for (const name of Object.keys(paths) as (keyof TimingSettings)[]) {
    const value = values[name] ?? NUMERIC_SETTINGS[name].default;
    if (Token.isUnresolved(value)) return [];
    timing[name] = value;
  }
  return timingProblems(timing, (name) => `${prop}.${paths[name]}`);
}
