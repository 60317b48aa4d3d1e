/**
 * Lambda entry point of the inference gateway (API Gateway REST proxy integration, `POST /predict/{model}`):
 * builds the core `GatewayCore` over the online feature client (DynamoDB), the model backend (a SageMaker endpoint,
 * an HTTP service speaking our server's protocol, or a model embedded in this function), the routing table's live
 * variant weights and the prediction-log stream (Kinesis), then answers each event. Metrics go to the log as EMF.
 *
 * Environment: runtime/contracts/gateway.ts (`GatewayVariables`), written by the InferenceGateway construct.
 * Endpoints, region and credentials come from the SDK's own environment (`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, ...).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { OnlineFeatureClient } from '../aws/online-store';
import { KinesisPredictionLogSink } from '../aws/prediction-log-sinks';
import { CachedRoutingSource, RoutingTableReader } from '../aws/routing-reader';
import { createModelInvoker } from '../backends/create-model-invoker';
import { Environment } from '../contracts/environment';
import { parseGatewayEnvironment } from '../contracts/gateway';
import { GatewayPorts, GatewayCore } from '../core/gateway-core';
import { GatewayMetrics, MetricDatum, MetricDimensions, METRICS_NAMESPACE, toEmf } from '../core/metrics';

/**
 * How long an answer may wait for its prediction-log record to be delivered, milliseconds: Lambda freezes the
 * container once it answers, so the record must go first (a record not delivered in time goes with a later answer).
 */
export const LOG_DELIVERY_BUDGET_MS = 200;

/** An API Gateway proxy handler answering with the gateway. */
export type GatewayHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** Wraps a gateway as an API Gateway proxy handler. */
export function createGatewayHandler(gateway: GatewayCore): GatewayHandler {
  return (event) => gateway.handle({
    model: event.pathParameters?.model ?? '',
    body: event.body,
    isBase64Encoded: event.isBase64Encoded,
    apiKeyId: event.requestContext?.identity?.apiKeyId ?? undefined,
    requestId: event.requestContext?.requestId ?? `local-${Date.now()}`,
  });
}

/** Builds the handler from the Lambda environment; throws listing every problem of it. */
export function gatewayFromEnvironment(env: Environment = process.env): GatewayHandler {
  const settings = parseGatewayEnvironment(env);
  const namespace = settings.metricsNamespace ?? METRICS_NAMESPACE;
  const warn = (message: string, detail: Record<string, unknown>) => console.warn(JSON.stringify({ level: 'warn', message, ...detail }));
  const emit = (dimensions: Record<string, string>, metrics: MetricDatum[]) => process.stdout.write(`${toEmf(dimensions, metrics, { namespace })}\n`);
  // SDK retries off: the feature client retries within the request's deadline itself.
  const dynamo = new DynamoDBClient({ maxAttempts: 1 });
  const ports: GatewayPorts = {
    features: settings.onlineTableName ? new OnlineFeatureClient({ client: dynamo, tableName: settings.onlineTableName }) : undefined,
    model: createModelInvoker(settings.backend, { modelName: settings.config.model }),
    routing: settings.routingTableName ? new CachedRoutingSource({
      table: new RoutingTableReader({ client: dynamo, tableName: settings.routingTableName }),
      onError: (model, error) => {
        warn('routing table read failed; serving the last weights read', { model, detail: `${error.name}: ${error.message}` });
        emit({ [MetricDimensions.MODEL]: model }, [{ name: GatewayMetrics.ROUTING_READ_FAILURES, value: 1, unit: 'Count' }]);
      },
    }) : undefined,
    predictionLog: settings.predictionLogStream ? new KinesisPredictionLogSink({
      client: new KinesisClient({}), streamName: settings.predictionLogStream, flushIntervalMs: 50,
      // Counted and emitted by the gateway (PredictionLogDeliveryFailures); the cause is for the log only.
      onError: (error, records) => warn('prediction-log delivery failed', { records, detail: `${error.name}: ${error.message}` }),
    }) : undefined,
    logDeliveryBudgetMs: LOG_DELIVERY_BUDGET_MS,
    metrics: emit,
  };
  return createGatewayHandler(new GatewayCore(settings.config, ports));
}

/**
 * The gateway of this container, built from the environment once: in Lambda at module load, during the init phase
 * (an embedded model's session loads before the first request, not during it); elsewhere on the first event. A
 * broken environment fails every event with the list of its problems.
 */
let fromEnvironment: { handler?: GatewayHandler; error?: unknown } | undefined;

function buildOnce(): GatewayHandler {
  if (!fromEnvironment) {
    try {
      fromEnvironment = { handler: gatewayFromEnvironment() };
    } catch (error) {
      fromEnvironment = { error };
    }
  }
  if (fromEnvironment.error !== undefined) throw fromEnvironment.error;
  return fromEnvironment.handler!;
}

if (process.env.AWS_LAMBDA_FUNCTION_NAME) {
  try {
    buildOnce();
  } catch {
    // Reported by every event (the init phase would only retry the same environment).
  }
}

/** The Lambda handler: breaker, admission, caches and the model session live as long as the container. */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => buildOnce()(event);
