/**
 * The gateway Lambda's contract: the environment the InferenceGateway construct writes (`gatewayEnvironment`) and
 * the gateway handler reads (`parseGatewayEnvironment`), every variable named once, here. Pure.
 */
import type { GatewayConfig } from '../core/gateway-core';
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
  if (config !== undefined && (typeof config !== 'object' || config === null || Array.isArray(config))) read.problem(`${v.CONFIG} must be a JSON object (a GatewayConfig)`);
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
