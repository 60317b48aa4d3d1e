/**
 * Lambda entry point of the inference gateway (API Gateway REST proxy integration, `POST /predict/{model}`):
 * builds the core `GatewayCore` over the online feature client (DynamoDB), the SageMaker Runtime client and
 * the prediction-log stream (Kinesis), then answers each event. Metrics go to the log as EMF.
 *
 * Environment (set by the InferenceGateway construct):
 * - `GATEWAY_CONFIG`          JSON GatewayConfig (runtime/core/inference-gateway.ts)
 * - `ONLINE_TABLE_NAME`       DynamoDB online table of the feature store
 * - `ENDPOINT_NAME`           SageMaker endpoint to invoke
 * - `PREDICTION_LOG_STREAM`   optional; Kinesis stream receiving one JSON line per prediction
 * - `METRICS_NAMESPACE`       optional; default `METRICS_NAMESPACE` of runtime/core/metrics.ts
 * Endpoints, region and credentials come from the SDK's own environment (`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, ...).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LambdaEnvironment } from '../aws/lambda-environment';
import { SageMakerModelInvoker } from '../aws/sagemaker-model-invoker';
import { OnlineFeatureClient } from '../aws/online-store';
import { KinesisPredictionLogSink } from '../aws/prediction-log-sinks';
import { GatewayConfig, GatewayPorts, GatewayCore } from '../core/gateway-core';
import { METRICS_NAMESPACE, toEmf } from '../core/metrics';

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

/** Builds the handler from the Lambda environment (see the module documentation); throws naming what is missing. */
export function gatewayFromEnvironment(env: NodeJS.ProcessEnv = process.env): GatewayHandler {
  const environment = new LambdaEnvironment(env, 'gateway-handler', 'InferenceGateway');
  const config = environment.json<GatewayConfig>('GATEWAY_CONFIG', 'a JSON GatewayConfig');
  const namespace = environment.optional('METRICS_NAMESPACE') ?? METRICS_NAMESPACE;
  const logStream = environment.optional('PREDICTION_LOG_STREAM');
  const ports: GatewayPorts = {
    // SDK retries off: the feature client retries within the request's deadline itself.
    features: new OnlineFeatureClient({ client: new DynamoDBClient({ maxAttempts: 1 }), tableName: environment.required('ONLINE_TABLE_NAME') }),
    // No SDK retries: the gateway's deadline and breaker decide what happens after a failure.
    model: new SageMakerModelInvoker(new SageMakerRuntimeClient({ maxAttempts: 1 }), environment.required('ENDPOINT_NAME')),
    predictionLog: logStream ? new KinesisPredictionLogSink({
      client: new KinesisClient({}), streamName: logStream, flushIntervalMs: 50,
      // Counted and emitted by the gateway (PredictionLogDeliveryFailures); the cause is for the log only.
      onError: (error, records) => console.warn(JSON.stringify({ level: 'warn', message: 'prediction-log delivery failed', records, detail: `${error.name}: ${error.message}` })),
    }) : undefined,
    logDeliveryBudgetMs: LOG_DELIVERY_BUDGET_MS,
    metrics: (dimensions, metrics) => process.stdout.write(`${toEmf(dimensions, metrics, { namespace })}\n`),
  };
  return createGatewayHandler(new GatewayCore(config, ports));
}

let fromEnvironment: GatewayHandler | undefined;

/** The Lambda handler: the environment is read once per container; breaker, admission and cache live as long. */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  fromEnvironment ??= gatewayFromEnvironment();
  return fromEnvironment(event);
};
