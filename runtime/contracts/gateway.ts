/**
 * The gateway Lambda's contract: the environment the InferenceGateway construct writes (`gatewayEnvironment`) and
 * the gateway handler reads (`parseGatewayEnvironment`), every variable named once, here. Pure.
 */
import type { GatewayConfig } from '../core/gateway-core';
import { PRIORITY_TIERS } from '../core/tiers';
import { Environment, EnvironmentReader } from './environment';
import { RoutingVariables } from './routing';
import { ModelBackendConfig, ModelBackendVariables, readModelBackendConfig } from './model-backend';
import { SharedVariables } from './shared';

/** The gateway's environment variables. */
export const GatewayVariables = {
  /** JSON `GatewayConfig`: model, views, request source, model inputs, deadline, fallback, tiers, weights. */
  CONFIG: 'GATEWAY_CONFIG',
  /** JSON `ModelBackendConfig`: where the model answers (a SageMaker endpoint, an HTTP service, embedded). */
  MODEL_BACKEND: ModelBackendVariables.CONFIG,
  /** DynamoDB online table of the feature store; absent when the model reads request-time features only. */
  ONLINE_TABLE_NAME: SharedVariables.ONLINE_TABLE_NAME,
  /** Kinesis stream receiving one JSON line per prediction; absent: predictions are not logged. */
  PREDICTION_LOG_STREAM: 'PREDICTION_LOG_STREAM',
  /** DynamoDB routing table holding the live variant weights; absent: the weights in the config. */
  ROUTING_TABLE_NAME: RoutingVariables.TABLE_NAME,
  /** CloudWatch namespace of the gateway's metrics. */
  METRICS_NAMESPACE: SharedVariables.METRICS_NAMESPACE,
} as const;

/** Everything the gateway handler is configured with. */
export interface GatewaySettings {
  /** The request path's configuration. */
  readonly config: GatewayConfig;
  /** Where the model answers. */
  readonly backend: ModelBackendConfig;
  /** @default - no feature store: the model reads request-time features only */
  readonly onlineTableName?: string;
  /** @default - predictions are not logged */
  readonly predictionLogStream?: string;
  /** @default - the variant weights of `config.variants` */
  readonly routingTableName?: string;
  /** @default - METRICS_NAMESPACE of runtime/core/metrics.ts */
  readonly metricsNamespace?: string;
}

/** The gateway's environment (construct side). `stringify` serializes JSON documents (CDK's `toJsonString` keeps tokens). */
export function gatewayEnvironment(settings: GatewaySettings, stringify: (value: unknown) => string = JSON.stringify): Record<string, string> {
  const v = GatewayVariables;
  return {
    [v.CONFIG]: stringify(settings.config),
    [v.MODEL_BACKEND]: stringify(settings.backend),
    ...(settings.onlineTableName ? { [v.ONLINE_TABLE_NAME]: settings.onlineTableName } : {}),
    ...(settings.predictionLogStream ? { [v.PREDICTION_LOG_STREAM]: settings.predictionLogStream } : {}),
    ...(settings.routingTableName ? { [v.ROUTING_TABLE_NAME]: settings.routingTableName } : {}),
    ...(settings.metricsNamespace ? { [v.METRICS_NAMESPACE]: settings.metricsNamespace } : {}),
  };
}

/** The gateway's settings from its environment (runtime side); throws listing every problem. */
export function parseGatewayEnvironment(env: Environment): GatewaySettings {
  const v = GatewayVariables;
  const read = new EnvironmentReader(env, 'gateway-handler', 'the InferenceGateway construct');
  const config = read.json<GatewayConfig>(v.CONFIG, 'a JSON GatewayConfig');
  if (config !== undefined) for (const problem of gatewayConfigProblems(config)) read.problem(`${v.CONFIG}: ${problem}`);
  const backend = readModelBackendConfig(read);
  const onlineTableName = read.optional(v.ONLINE_TABLE_NAME);
  if (config && Array.isArray(config.views) && config.views.length > 0 && !onlineTableName) {
    read.problem(`${v.ONLINE_TABLE_NAME} is not set but the model reads stored features; deploy it with the InferenceGateway construct`);
  }
  const settings: GatewaySettings = {
    config: config!,
    backend: backend!,
    onlineTableName,
    predictionLogStream: read.optional(v.PREDICTION_LOG_STREAM),
    routingTableName: read.optional(v.ROUTING_TABLE_NAME),
    metricsNamespace: read.optional(v.METRICS_NAMESPACE),
  };
  read.throwIfProblems();
  return settings;
}

/**
 * The shape problems of a `GatewayConfig` (every one; the request path checks the feature references themselves when
 * it starts): fields of the wrong type, a deadline outside what a Lambda can wait, a tier that does not exist.
 */
export function gatewayConfigProblems(config: unknown): string[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return ['must be a JSON object (a GatewayConfig)'];
  const c = config as Record<string, unknown>;
  const problems: string[] = [];
  const expect = (field: string, ok: boolean, what: string) => { if (!ok) problems.push(`${field} must be ${what}`); };
  const isRecord = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value);
  expect('model', typeof c.model === 'string' && c.model.length > 0, 'a non-empty string');
  expect('modelVersion', typeof c.modelVersion === 'string', 'a string');
  expect('views', Array.isArray(c.views), 'an array of feature view specs');
  expect('featureRefs', Array.isArray(c.featureRefs) && c.featureRefs.every((r) => typeof r === 'string'), 'an array of "view:feature" strings');
  expect('inputName', typeof c.inputName === 'string' && c.inputName.length > 0, 'a non-empty string');
  // Whole milliseconds a Lambda can wait: at most its 15-minute limit, far below Node's timer limit.
  expect('deadlineMs', typeof c.deadlineMs === 'number' && Number.isInteger(c.deadlineMs) && c.deadlineMs >= 1 && c.deadlineMs <= 900_000, 'an integer from 1 to 900000 (milliseconds)');
  expect('fallbackOutputs', isRecord(c.fallbackOutputs) && Object.values(c.fallbackOutputs as object).every((o) => Array.isArray(o) && o.every(Number.isFinite)),
    'an object of output name → array of finite numbers');
  expect('defaultTier', (PRIORITY_TIERS as readonly unknown[]).includes(c.defaultTier), `one of ${PRIORITY_TIERS.join(', ')}`);
  if (c.tierByApiKeyId !== undefined) {
    expect('tierByApiKeyId', isRecord(c.tierByApiKeyId) && Object.values(c.tierByApiKeyId as object).every((t) => (PRIORITY_TIERS as readonly unknown[]).includes(t)),
      `an object of API key id → one of ${PRIORITY_TIERS.join(', ')}`);
  }
  if (c.variants !== undefined) {
    expect('variants', Array.isArray(c.variants) && c.variants.every((w) => isRecord(w) && typeof w.name === 'string' && typeof w.weight === 'number' && w.weight >= 0),
      'an array of { name, weight ≥ 0 }');
  }
  return problems;
}
