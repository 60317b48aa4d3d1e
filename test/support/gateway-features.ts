/**
 * A gateway over any model backend for the backend tests: the fraud example's views, their features for a few
 * entities in a real online table on dynalite, and `GatewayCore` reading them in one round trip, with every metrics
 * line and logged detail kept for the test to read.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fraudFeatureViews, fraudModelFeatureRefs } from '../../examples/fraud-features';
import { FeatureViewSpec, validateRecord } from '../../lib/features/spec';
import { OnlineFeatureClient, putOnlineRow } from '../../runtime/aws/online-store';
import { GatewayConfig, GatewayCore, GatewayLogEntry, GatewayResponse } from '../../runtime/core/gateway-core';
import { MetricDatum } from '../../runtime/core/metrics';
import type { ModelInvoker } from '../../runtime/core/model-call';
import { createOnlineTable, LocalService, localClientConfig, startDynalite } from './local-aws';

const TABLE = 'features_online';
const [customerView, merchantView] = fraudFeatureViews.map((v) => v.toSpec());

/** The spend embedding stored for customer c1. */
export const EMBEDDING = Array.from({ length: 12 }, (_, i) => Math.round(Math.sin(i) * 100) / 100);
/** The model input row of entity {c1, m1}: the 16 numbers the gateway sends for it. */
export const C1_M1_ROW = [4, 37.5, 1, ...EMBEDDING, 0.02];
/** An entity with every feature stored. */
export const ENTITY = { customer_id: 'c1', merchant_id: 'm1' };

/** A gateway configuration for the fraud model (tiers by API key `key-<tier>`). */
export const BASE_CONFIG: GatewayConfig = {
  model: 'fraud', modelVersion: '7', views: [customerView, merchantView], featureRefs: fraudModelFeatureRefs, inputName: 'features',
  deadlineMs: 2000, fallbackOutputs: { probability: [0.01] }, defaultTier: 'batch',
  tierByApiKeyId: { 'key-critical': 'critical', 'key-standard': 'standard', 'key-batch': 'batch' },
};

/** One metrics line, as the gateway emitted it. */
export interface MetricsLine { readonly dimensions: Record<string, string>; readonly metrics: MetricDatum[] }

/** A gateway and what it emitted. */
export interface TestGateway {
  /** Sends `POST /predict/fraud` with `body` as the caller of `tier`; the answer's body parsed. */
  predict(body: unknown, tier?: string): Promise<{ response: GatewayResponse; body: any }>;
  readonly metrics: MetricsLine[];
  readonly logged: GatewayLogEntry[];
}

/** The online store on dynalite, holding the fraud features of {c1, m1} (and c2 without its embedding). */
export class FeatureStoreOnLoopback {
  private constructor(private readonly dynalite: LocalService, private readonly dynamo: DynamoDBClient) {}

  /** Starts dynalite, creates the table and writes the features. */
  public static async start(): Promise<FeatureStoreOnLoopback> {
    const dynalite = await startDynalite();
    const dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
    await createOnlineTable(dynamo, TABLE);
    const store = new FeatureStoreOnLoopback(dynalite, dynamo);
    const eventTime = new Date(Date.now() - 60_000).toISOString();
    await store.write(customerView, { customer_id: 'c1', event_time: eventTime, txn_count_1h: 4, txn_amount_avg_24h: 37.5, is_new_device: true, spend_embedding: EMBEDDING });
    await store.write(merchantView, { merchant_id: 'm1', event_time: eventTime, chargeback_rate_30d: 0.02 });
    return store;
  }

  /** A gateway over `model` and this store. */
  public gateway(model: ModelInvoker, config: Partial<GatewayConfig> = {}): TestGateway {
    const metrics: MetricsLine[] = [];
    const logged: GatewayLogEntry[] = [];
    const core = new GatewayCore({ ...BASE_CONFIG, ...config }, {
      features: new OnlineFeatureClient({ client: this.dynamo, tableName: TABLE, timeoutMs: 10_000 }),
      model,
      metrics: (dimensions, m) => metrics.push({ dimensions, metrics: m }),
      log: (entry) => logged.push(entry),
    });
    let counter = 0;
    return {
      metrics,
      logged,
      predict: async (body, tier = 'critical') => {
        const response = await core.handle({ model: 'fraud', body: JSON.stringify(body), apiKeyId: `key-${tier}`, requestId: `req-${tier}-${++counter}` });
        return { response, body: JSON.parse(response.body) };
      },
    };
  }

  public async stop(): Promise<void> {
    this.dynamo.destroy();
    await this.dynalite.stop();
  }

  private async write(view: FeatureViewSpec, record: Record<string, unknown>): Promise<void> {
    const { row, errors } = validateRecord(view, record);
    if (!row) throw new Error(errors.join('; '));
    await putOnlineRow(this.dynamo, TABLE, view, row, { ingestedAtMs: Date.now(), timeoutMs: 10_000 });
  }
}

/** The value of metric `name` in a line, or undefined when the line does not hold it. */
export function valueOf(line: MetricsLine, name: string): number | undefined {
  return line.metrics.find((d) => d.name === name)?.value;
}
