/**
 * The feature definitions of the real-time fraud scoring example: a customer view fed by the transaction stream
 * and a merchant view fed by a slower risk pipeline. The reference platform (bin/platform.ts) and the tests load
 * these same objects; training code would load their `toSpec()` JSON.
 */
import { Duration } from 'aws-cdk-lib';
import { Entity, Feature, FeatureView, RequestSource } from '../lib/features';

/** A card holder, identified by `customer_id`. */
export const customer = new Entity({ name: 'customer', joinKeys: ['customer_id'], description: 'Card holder' });

/** A merchant, identified by `merchant_id`. */
export const merchant = new Entity({ name: 'merchant', joinKeys: ['merchant_id'], description: 'Card acceptor' });

/**
 * Rolling transaction statistics per customer: one feature of every data type. Values older than a day are served
 * as their fallback; the stream must be materialized within 2 minutes.
 */
export const customerTxnStats = new FeatureView({
  name: 'customer_txn_stats',
  version: 1,
  entities: [customer],
  ttl: Duration.days(1),
  freshness: Duration.minutes(2),
  owner: 'fraud-ml',
  description: 'Rolling transaction statistics per customer, from the card transaction stream',
  features: [
    Feature.int64('txn_count_1h', { fallback: 0, description: 'Transactions in the last hour' }),
    Feature.float64('txn_amount_avg_24h', { fallback: 0, description: 'Mean transaction amount over 24 hours' }),
    Feature.string('last_device_type', { fallback: 'unknown', description: 'Device type of the latest transaction' }),
    Feature.bool('is_new_device', { fallback: false, description: 'Whether the latest device was first seen today' }),
    Feature.float32Vector('spend_embedding', 12, { description: 'Embedding of the spending pattern (no fallback: without it the gateway serves its marked fallback answer)' }),
  ],
});

/** Risk statistics per merchant, refreshed by a slower pipeline (15-minute freshness objective). */
export const merchantRisk = new FeatureView({
  name: 'merchant_risk',
  version: 1,
  entities: [merchant],
  ttl: Duration.days(30),
  freshness: Duration.minutes(15),
  owner: 'fraud-ml',
  description: 'Chargeback statistics per merchant',
  features: [
    Feature.float64('chargeback_rate_30d', { fallback: 0, description: 'Chargebacks per transaction over 30 days' }),
    Feature.string('merchant_category', { fallback: 'unknown', description: 'Merchant category code group' }),
  ],
});

/** Every view of the fraud example, in the order the platform registers them. */
export const fraudFeatureViews: FeatureView[] = [customerTxnStats, merchantRisk];

/**
 * The fraud model's input contract: these references, in this order, fill its `features` float32 [batch, 16] input
 * (vectors flattened, booleans as 0/1). The gateway reads them online; training reads them point-in-time.
 */
export const fraudModelFeatureRefs: string[] = [
  'customer_txn_stats:txn_count_1h',
  'customer_txn_stats:txn_amount_avg_24h',
  'customer_txn_stats:is_new_device',
  'customer_txn_stats:spend_embedding',
  'merchant_risk:chargeback_rate_30d',
];

/**
 * What only the request knows: the transaction being scored. Callers send it as
 * `{"request": {"amount": 42.5, "card_present": true, "hour_of_day": 23}}` beside the entity's join keys.
 */
export const transaction = new RequestSource({
  name: 'transaction',
  description: 'The card transaction being scored',
  features: [
    Feature.float64('amount', { description: 'Transaction amount' }),
    Feature.bool('card_present', { fallback: false, description: 'Card physically present (chip or contactless); absent means no' }),
    Feature.int64('hour_of_day', { description: 'Local hour of the transaction, 0-23' }),
  ],
});

/**
 * The real-time fraud model's input contract (examples/models/fraud-realtime.onnx, `features` float32 [batch, 18]):
 * the stored features, then the transaction's amount and card-present flag, merged by the gateway in this order.
 */
export const fraudRealtimeInputs: string[] = [...fraudModelFeatureRefs, 'transaction:amount', 'transaction:card_present'];

/**
 * The pre-screening model's input contract (examples/models/fraud-prescreen.onnx, `features` float32 [batch, 3]):
 * request-time features only, so its gateway needs no feature store.
 */
export const fraudPrescreenInputs: string[] = ['transaction:amount', 'transaction:card_present', 'transaction:hour_of_day'];
