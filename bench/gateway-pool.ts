/**
 * The gateway as Lambda runs it, for bench/gateway.bench.ts, in its own process:
 * `node --import tsx bench/gateway-pool.ts '<PoolSpec JSON>'` prints `listening <url>` once it serves.
 *
 * A model of Lambda with reserved concurrency N: N warm, isolated gateway instances (each its own GatewayCore
 * with its own admission state, breaker, SDK client and prediction-log sink, as a container has), each handling ONE
 * request at a time through the real Lambda handler. A request that finds all N busy is throttled at once (429,
 * header `x-throttled: lambda`), as Lambda refuses a synchronous invocation beyond its concurrency: it is not queued.
 * Each answer waits for its prediction-log delivery before leaving, as in Lambda (a container freezes once it answers).
 *
 * All instances share this process's event loop (a container has its own CPU): `GET /records` reports the loop's
 * delay, so that contention between instances shows, with what each instance measured per request (its time and its
 * metrics line), which the harness joins with the load generator's records by request id.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { monitorEventLoopDelay } from 'perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { SageMakerModelInvoker } from '../runtime/aws/sagemaker-model-invoker';
import { OnlineFeatureClient } from '../runtime/aws/online-store';
import { KinesisPredictionLogSink } from '../runtime/aws/prediction-log-sinks';
import { BufferedPredictionLogSink } from '../runtime/core/buffered-sink';
import { FeatureSource, GatewayConfig, GatewayPredictionLog, GatewayCore } from '../runtime/core/gateway-core';
import { createGatewayHandler, GatewayHandler, LOG_DELIVERY_BUDGET_MS } from '../runtime/handlers/gateway-handler';
import { localClientConfig } from '../test/support/local-aws';

/** Online features of one entity, as the online client served them. */
export type ServedFeatures = Awaited<ReturnType<FeatureSource['getOnlineFeatures']>>['entities'][number];

/**
 * Where the instances read features and write the prediction log: the loopback stand-ins (dynalite, kinesalite), or
 * in-process ports holding the same rows (features read once from dynalite) and a sink that buffers in memory.
 */
export type PoolStores =
  | { readonly kind: 'loopback'; readonly dynamoEndpoint: string; readonly table: string; readonly kinesisEndpoint: string; readonly stream: string }
  | { readonly kind: 'in-process'; readonly rows: Record<string, ServedFeatures> };

/** What pool to run. */
export interface PoolSpec {
  /** Reserved concurrency: gateway instances, each one request at a time. */
  readonly instances: number;
  readonly config: GatewayConfig;
  /** Inference server URL (the SageMaker Runtime path). */
  readonly serverUrl: string;
  /** Milliseconds each model run is held by the server's fault injection (0: none). */
  readonly holdMs: number;
  readonly stores: PoolStores;
}

/** What one instance measured of one request. */
export interface InstanceRecord {
  readonly id: string;
  /** Wall time the instance was busy with the request (what Lambda bills), milliseconds. */
  readonly instanceMs: number;
  /** The request's metrics line (name → value). */
  readonly metrics: Record<string, number>;
}

/** What `GET /records` answers. */
export interface PoolReport {
  readonly records: InstanceRecord[];
  /** p99 delay of this process's event loop over the run, milliseconds. */
  readonly eventLoopDelayP99Ms: number;
  /** Longest delay of this process's event loop over the run, milliseconds. */
  readonly eventLoopDelayMaxMs: number;
}

/** Key of an entity in the in-process feature rows. */
export function entityKey(entity: Readonly<Record<string, string | number>>): string {
  return Object.keys(entity).sort().map((k) => `${k}=${entity[k]}`).join('|');
}

interface Instance {
  readonly handler: GatewayHandler;
  current?: Record<string, number>;
}

/**
 * Makes the server hold each run of `client`'s calls `holdMs` milliseconds (its fault injection, header
 * `x-inference-fault: delay=<ms>`), so that the model's capacity is about 1000 / holdMs calls a second per worker
 * whatever the machine. The server must run with `INFERENCE_FAULT_INJECTION=true`.
 */
export function holdEachRun(client: SageMakerRuntimeClient, holdMs: number): SageMakerRuntimeClient {
  client.middlewareStack.add((next) => (args: any) => {
    args.request.headers['x-inference-fault'] = `delay=${holdMs}`;
    return next(args);
  }, { step: 'build', name: 'benchHold' });
  return client;
}

function instance(spec: PoolSpec): Instance {
  const sagemaker = new SageMakerRuntimeClient({ ...localClientConfig(spec.serverUrl), maxAttempts: 1 });
  if (spec.holdMs > 0) holdEachRun(sagemaker, spec.holdMs);
  let features: FeatureSource;
  let predictionLog: GatewayPredictionLog;
  const stores = spec.stores;
  if (stores.kind === 'loopback') {
    features = new OnlineFeatureClient({ client: new DynamoDBClient({ ...localClientConfig(stores.dynamoEndpoint), maxAttempts: 1 }), tableName: stores.table });
    predictionLog = new KinesisPredictionLogSink({ client: new KinesisClient(localClientConfig(stores.kinesisEndpoint)), streamName: stores.stream, flushIntervalMs: 50 });
  } else {
    features = { getOnlineFeatures: async (request) => ({ entities: request.entities.map((e) => stores.rows[entityKey(e)]) }) };
    predictionLog = new BufferedPredictionLogSink(async () => undefined, { flushIntervalMs: 50 });
  }
  const self: Instance = {
    handler: createGatewayHandler(new GatewayCore(spec.config, {
      features,
      model: new SageMakerModelInvoker(sagemaker, 'fraud'),
      predictionLog,
      logDeliveryBudgetMs: LOG_DELIVERY_BUDGET_MS,
      metrics: (_, metrics) => {
        for (const m of metrics) if (self.current) self.current[m.name] = m.value;
      },
      log: () => undefined,
    })),
  };
  return self;
}

function event(body: string, id: string, apiKeyId: string): APIGatewayProxyEvent {
  return {
    body, isBase64Encoded: false, pathParameters: { model: 'fraud' },
    requestContext: { requestId: id, identity: { apiKeyId } },
  } as unknown as APIGatewayProxyEvent;
}

async function main(spec: PoolSpec): Promise<void> {
  const idle: Instance[] = Array.from({ length: spec.instances }, () => instance(spec));
  const records: InstanceRecord[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/records') {
      const report: PoolReport = { records, eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6, eventLoopDelayMaxMs: loopDelay.max / 1e6 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(report));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const taken = idle.shift(); // the longest idle instance: traffic spreads over all of them, as over containers
      if (!taken) {
        res.writeHead(429, { 'content-type': 'application/json', 'x-throttled': 'lambda' }).end('{"message":"Rate Exceeded."}');
        return;
      }
      const id = String(req.headers['x-request-id']);
      const metrics: Record<string, number> = {};
      taken.current = metrics;
      const started = performance.now();
      void taken.handler(event(Buffer.concat(chunks).toString('utf8'), id, String(req.headers['x-api-key-id']))).then((answer) => {
        records.push({ id, instanceMs: performance.now() - started, metrics });
        taken.current = undefined;
        idle.push(taken);
        res.writeHead(answer.statusCode, answer.headers as http.OutgoingHttpHeaders).end(answer.body);
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (require.main === module) {
  main(JSON.parse(process.argv[2]) as PoolSpec).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
