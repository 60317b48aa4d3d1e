/**
 * Gateway benchmark, on loopback: the gateway handler with real ports (dynalite features, our inference server
 * through the SageMaker Runtime client, prediction log to kinesalite).
 *
 * 1. Latency at light load: gateway overhead excluding the model and the feature lookup, the feature lookup, the
 *    model call, and end to end (handler call, prediction-log flush included), p50/p99.
 * 2. 3× overload: the server's capacity is pinned (one worker, no batching, each run held 20 ms by its fault
 *    injection) and measured; requests arrive open-loop at 1× and 3× that capacity (20 % critical, 30 % standard,
 *    50 % batch). The top tier's p99 with admission control, against the same gateway with it disabled.
 */
import * as path from 'path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../examples/fraud-features';
import { validateRecord } from '../lib/features/spec';
import { SageMakerModelInvoker } from '../runtime/aws/model-invoker';
import { OnlineFeatureClient, putOnlineRow } from '../runtime/aws/online-store';
import { KinesisPredictionLogSink } from '../runtime/aws/prediction-log-sinks';
import { GatewayConfig, InferenceGateway } from '../runtime/core/inference-gateway';
import { GatewayMetrics } from '../runtime/core/metrics';
import { PRIORITY_TIERS } from '../runtime/core/tiers';
import { launchServer, ServerProcess } from '../runtime/inference-server/launcher';
import { createGatewayHandler } from '../runtime/handlers/inference-gateway';
import { localClientConfig, startDynalite, startKinesalite } from '../test/support/local-aws';
import { BenchTable, percentile } from './table';

const TABLE = 'features_online';
const STREAM = 'predictions';
const MODEL_FILE = path.join(__dirname, '..', 'examples', 'models', 'fraud-mlp.onnx');
const HOLD_MS = 20;
const ENTITIES = 50;
/** Arrivals per tier: 20 % critical, 30 % standard, 50 % batch (the top tier alone stays under capacity at 3×). */
const TIER_MIX = ['critical', 'batch', 'standard', 'batch', 'standard', 'batch', 'critical', 'batch', 'standard', 'batch'];

function event(tier: string, i: number): APIGatewayProxyEvent {
  return {
    body: JSON.stringify({ entity: { customer_id: `c${i % ENTITIES}`, merchant_id: 'm1' } }),
    pathParameters: { model: 'fraud' },
    requestContext: { requestId: `r${i}`, identity: { apiKeyId: `key-${tier}` } },
  } as unknown as APIGatewayProxyEvent;
}

export async function run(): Promise<BenchTable[]> {
  const [dynalite, kinesalite] = await Promise.all([startDynalite(), startKinesalite()]);
  const dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  const kinesis = new KinesisClient(localClientConfig(kinesalite.endpoint));
  const servers: ServerProcess[] = [];
  try {
    await dynamo.send(new CreateTableCommand({
      TableName: TABLE, BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    }));
    await kinesis.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
    const [customer, merchant] = fraudFeatureViews.map((v) => v.toSpec());
    const eventTime = new Date(Date.now() - 60_000).toISOString();
    const featureRows = [
      ...Array.from({ length: ENTITIES }, (_, i) => [customer, { customer_id: `c${i}`, event_time: eventTime, txn_count_1h: i, txn_amount_avg_24h: 10 + i, is_new_device: i % 2 === 0, spend_embedding: Array(12).fill(i / 100) }] as const),
      [merchant, { merchant_id: 'm1', event_time: eventTime, chargeback_rate_30d: 0.02 }] as const,
    ];
    for (const [view, record] of featureRows) await putOnlineRow(dynamo, TABLE, view, validateRecord(view, record).row!, { ingestedAtMs: Date.now(), timeoutMs: 10_000 });

    const server = await launchServer({
      env: {
        PORT: '0', HOST: '127.0.0.1', MODEL_URI: MODEL_FILE, MODEL_NAME: 'fraud_mlp', ENDPOINT_NAME: 'fraud', INFERENCE_WORKERS: '1',
        INFERENCE_MAX_BATCH_SIZE: '1', INFERENCE_MAX_QUEUE_SIZE: '16', INFERENCE_FAULT_INJECTION: 'true', INFERENCE_WARMUP_RUNS: '1',
      },
    });
    servers.push(server);
    const sagemaker = new SageMakerRuntimeClient({ ...localClientConfig(server.url), maxAttempts: 1 });
    let hold = 0;
    sagemaker.middlewareStack.add((next) => (args: any) => {
      if (hold > 0) args.request.headers['x-inference-fault'] = `delay=${hold}`;
      return next(args);
    }, { step: 'build', name: 'benchFault' });

    /**
     * `flushPerRequest`: as in Lambda, each answer waits for its prediction-log record to be delivered (a container
     * is frozen after it answers). A long-lived process delivers in the background instead, as the overload runs do.
     */
    const gateway = (admissionDisabled: boolean, flushPerRequest: boolean) => {
      const samples = new Map<string, number[]>();
      const log = new KinesisPredictionLogSink({ client: kinesis, streamName: STREAM, flushIntervalMs: 20 });
      const config: GatewayConfig = {
        model: 'fraud', modelVersion: '1', views: [customer, merchant], featureRefs: fraudModelFeatureRefs, inputName: 'features',
        deadlineMs: 500, fallbackOutputs: { probability: [0.01] }, defaultTier: 'batch', admissionDisabled,
        tierByApiKeyId: Object.fromEntries(PRIORITY_TIERS.map((t) => [`key-${t}`, t])),
      };
      const instance = new InferenceGateway(config, {
        features: new OnlineFeatureClient({ client: dynamo, tableName: TABLE, timeoutMs: 10_000 }),
        model: new SageMakerModelInvoker(sagemaker, 'fraud'),
        predictionLog: log,
        metrics: (_, metrics) => metrics.forEach((m) => samples.set(m.name, [...(samples.get(m.name) ?? []), m.value])),
      });
      return { handler: createGatewayHandler(instance, flushPerRequest ? () => log.flush() : undefined), samples, log };
    };

    // 1. Latency at light load (sequential requests, no fault).
    const light = gateway(false, true);
    const endToEnd: number[] = [];
    for (let i = 0; i < 300; i++) {
      const started = performance.now();
      await light.handler(event('critical', i));
      if (i >= 50) endToEnd.push(performance.now() - started);
    }
    const s = light.samples;
    const keep = (name: string) => (s.get(name) ?? []).slice(50);
    const overhead = keep(GatewayMetrics.LATENCY_MS).map((total, i) => total - keep(GatewayMetrics.FEATURE_LATENCY_MS)[i] - keep(GatewayMetrics.MODEL_LATENCY_MS)[i]);
    const latencyRow = (what: string, values: number[]) => [what, values.length, percentile(values, 50), percentile(values, 99)];
    const latency: BenchTable = {
      title: 'Inference gateway latency at light load (ms; sequential requests, fraud MLP, loopback dynalite/server/kinesalite)',
      columns: ['part', 'requests', 'p50', 'p99'],
      rows: [
        latencyRow('gateway overhead (excl. features and model)', overhead),
        latencyRow('online feature lookup (1 BatchGetItem)', keep(GatewayMetrics.FEATURE_LATENCY_MS)),
        latencyRow('model call (SageMaker client → server)', keep(GatewayMetrics.MODEL_LATENCY_MS)),
        latencyRow('end to end (incl. the per-request prediction-log flush Lambda needs)', endToEnd),
      ],
    };
    await light.log.close();

    // 2. Overload. The server's capacity, measured: closed-loop calls straight to it for 2 s.
    hold = HOLD_MS;
    const direct = new SageMakerModelInvoker(sagemaker, 'fraud');
    let completed = 0;
    const until = performance.now() + 2000;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (performance.now() < until) {
        await direct.invoke({ inputs: { features: { shape: [1, 16], data: Array(16).fill(0.5) } }, deadlineMs: 5000, priority: 1, requestId: 'capacity' });
        completed++;
      }
    }));
    const capacity = completed / 2;
    const openLoop = async (admissionDisabled: boolean, load: number, seconds: number) => {
      const g = gateway(admissionDisabled, false);
      const rate = capacity * load;
      const total = Math.round(rate * seconds);
      const results: { tier: string; ms: number; status: number; fallback: boolean }[] = [];
      const pending: Promise<void>[] = [];
      const started = performance.now();
      for (let i = 0; i < total; i++) {
        const due = started + (i / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        const tier = TIER_MIX[i % TIER_MIX.length];
        const sent = performance.now();
        pending.push(g.handler(event(tier, i)).then((r) => {
          results.push({ tier, ms: performance.now() - sent, status: r.statusCode, fallback: r.statusCode === 200 && JSON.parse(r.body).fallback });
        }));
      }
      await Promise.all(pending);
      await g.log.close();
      return results;
    };
    const rows: (string | number)[][] = [];
    const criticalP99: Record<string, number> = {};
    for (const [label, disabled, load] of [['admission on', false, 1], ['admission on', false, 3], ['admission off', true, 3]] as const) {
      const results = await openLoop(disabled, load, 3);
      for (const tier of PRIORITY_TIERS) {
        const mine = results.filter((r) => r.tier === tier);
        const served = mine.filter((r) => r.status === 200 && !r.fallback);
        const p99 = percentile(served.map((r) => r.ms), 99);
        if (tier === 'critical') criticalP99[`${label} ${load}x`] = p99;
        rows.push([`${load}×`, label, tier, mine.length, served.length, mine.filter((r) => r.fallback).length,
          `${((mine.filter((r) => r.status === 429).length / mine.length) * 100).toFixed(1)}%`, percentile(served.map((r) => r.ms), 50), p99]);
      }
    }
    const overload: BenchTable = {
      title: `Gateway under overload (server pinned: 1 worker, no batching, ${HOLD_MS} ms per run; measured capacity ${capacity.toFixed(0)} req/s = 1×; open-loop arrivals for 3 s; 20 % critical, 30 % standard, 50 % batch)`,
      columns: ['load', 'gateway', 'tier', 'requests', 'served by model', 'fallbacks', 'shed (429)', 'p50 ms', 'p99 ms'],
      rows,
      notes: [
        `critical p99: ${criticalP99['admission on 1x'].toFixed(1)} ms at 1×, ${criticalP99['admission on 3x'].toFixed(1)} ms at 3× with admission control `
        + `(${(criticalP99['admission on 3x'] / criticalP99['admission on 1x']).toFixed(2)}× of 1×), ${criticalP99['admission off 3x'].toFixed(1)} ms at 3× without `
        + `(${(criticalP99['admission off 3x'] / criticalP99['admission on 3x']).toFixed(2)}× the admission-controlled p99)`,
      ],
    };
    sagemaker.destroy();
    return [latency, overload];
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    dynamo.destroy();
    kinesis.destroy();
    await Promise.all([dynalite.stop(), kinesalite.stop()]);
  }
}
