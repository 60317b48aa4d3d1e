import { AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  assertValidFeatureView, FeatureDtype, FeatureRow, FeatureStatus, FeatureViewSpec, onlineKey, validateRecord,
} from '../../lib/features/spec';
import { OnlineFeatureClient, putOnlineRow } from '../../runtime/aws/online-store';
import { LocalService, localClientConfig, startDynalite, createOnlineTable } from '../support/local-aws';

const TABLE = 'features_online';
const T0 = Date.parse('2026-03-01T12:00:00Z');
const TTL_SECONDS = 3600;

const customer: FeatureViewSpec = assertValidFeatureView({
  specFormat: 1, name: 'customer_profile', version: 1, eventTimeField: 'event_time', ttlSeconds: TTL_SECONDS, freshnessSeconds: 60,
  entities: [{ name: 'customer', joinKeys: ['customer_id'] }],
  features: [
    { name: 'txn_count', dtype: FeatureDtype.INT64, fallback: 0 },
    { name: 'avg_amount', dtype: FeatureDtype.FLOAT64 },
    { name: 'segment', dtype: FeatureDtype.STRING, fallback: 'unknown' },
    { name: 'is_new', dtype: FeatureDtype.BOOL },
    { name: 'embedding', dtype: FeatureDtype.FLOAT32_VECTOR, dimension: 3 },
    { name: 'notes', dtype: FeatureDtype.STRING },
  ],
});
const merchant: FeatureViewSpec = assertValidFeatureView({
  specFormat: 1, name: 'merchant_risk', version: 2, eventTimeField: 'ts', ttlSeconds: TTL_SECONDS, freshnessSeconds: 60,
  entities: [{ name: 'merchant', joinKeys: ['merchant_id', 'country'] }],
  features: [{ name: 'risk_score', dtype: FeatureDtype.FLOAT64 }],
});
const ALL_CUSTOMER_REFS = customer.features.map((f) => `customer_profile:${f.name}`);

let dynalite: LocalService;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  dynalite = await startDynalite();
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await createOnlineTable(dynamo, TABLE);
});

afterAll(async () => {
  dynamo?.destroy();
  await dynalite?.stop();
});

/** A validated row (validation is the materializer's job; these tests start from valid rows). */
function row(view: FeatureViewSpec, record: Record<string, unknown>): FeatureRow {
  const { row: valid, errors } = validateRecord(view, record, { nowMs: T0 + 10 * TTL_SECONDS * 1000 });
  if (!valid) throw new Error(errors.join('; '));
  return valid;
}

const write = (view: FeatureViewSpec, record: Record<string, unknown>, client = dynamo, table = TABLE) =>
  // A generous deadline: setup writes run 250 at a time against dynalite on a shared 2-core machine.
  putOnlineRow(client, table, view, row(view, record), { ingestedAtMs: T0 + 1, timeoutMs: 30_000 });

/** A client of its own whose BatchGetItem calls on the wire (retries included) are recorded with what came back. */
function recordingClient(): { client: DynamoDBClient; calls: Array<Record<string, AttributeValue>[]> } {
  const client = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  const calls: Array<Record<string, AttributeValue>[]> = [];
  client.middlewareStack.add((next, context) => async (args) => {
    const result = await next(args);
    if (context.commandName === 'BatchGetItemCommand') calls.push((result.output as { Responses: Record<string, Record<string, AttributeValue>[]> }).Responses[TABLE] ?? []);
    return result;
  }, { step: 'deserialize', priority: 'high', name: 'recordBatchGetItem' });
  return { client, calls };
}

async function storedItem(key: string) {
  return (await dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: key } }, ConsistentRead: true }))).Item;
}

describe('conditional online writes', () => {
  test('a newer event wins; an older or an equal (replayed) one never overwrites', async () => {
    const key = onlineKey(customer, 'customer_id=w1');
    expect(await write(customer, { customer_id: 'w1', event_time: T0, txn_count: 1 })).toEqual({ outcome: 'applied' });
    expect(await write(customer, { customer_id: 'w1', event_time: T0 - 60_000, txn_count: 2 })).toEqual({ outcome: 'stale' });
    expect(await write(customer, { customer_id: 'w1', event_time: T0, txn_count: 3 })).toEqual({ outcome: 'stale' });
    let item = await storedItem(key);
    expect(item?.event_time_ms).toEqual({ N: String(T0) });
    expect(item?.features.M?.txn_count).toEqual({ N: '1' });
    expect(item?.expires_at).toEqual({ N: String(T0 / 1000 + TTL_SECONDS) });
    expect(item?.ingested_at_ms).toEqual({ N: String(T0 + 1) });

    expect(await write(customer, { customer_id: 'w1', event_time: T0 + 1, txn_count: 4 })).toEqual({ outcome: 'applied' });
    item = await storedItem(key);
    expect(item?.event_time_ms).toEqual({ N: String(T0 + 1) });
    expect(item?.features.M?.txn_count).toEqual({ N: '4' });
    // Rounded up: DynamoDB's TTL deletion must never come before the read-time TTL.
    expect(item?.expires_at).toEqual({ N: String(T0 / 1000 + TTL_SECONDS + 1) });
  });

  test('a row DynamoDB can never store is refused with its reason; other errors are thrown', async () => {
    const tooLarge = await write(customer, { customer_id: 'w2', event_time: T0, notes: 'x'.repeat(410 * 1024) });
    expect(tooLarge.outcome).toBe('refused');
    expect(tooLarge.reason).toMatch(/Item size has exceeded the maximum allowed size/);
    const longKey = await write(customer, { customer_id: 'k'.repeat(2100), event_time: T0 });
    expect(longKey.outcome).toBe('refused');
    expect(longKey.reason).toMatch(/exceeded the maximum size limit/);
    await expect(write(customer, { customer_id: 'w3', event_time: T0 }, dynamo, 'no_such_table')).rejects.toThrow(/ResourceNotFound|not found/i);
  });

  test('a row whose item cannot even be built is refused (dead-lettered by the materializer), not thrown', async () => {
    // Validation rules such rows out first; this is the per-record guard behind it, for a row that gets past it.
    const valid = row(customer, { customer_id: 'w4', event_time: T0 });
    const unencodable = await putOnlineRow(dynamo, TABLE, customer, { ...valid, values: { ...valid.values, embedding: 7 } }, { ingestedAtMs: T0 + 1 });
    expect(unencodable.outcome).toBe('refused');
    expect(unencodable.reason).toMatch(/cannot be encoded as a DynamoDB item: .*size/);
    expect(await storedItem(onlineKey(customer, valid.entityKey))).toBeUndefined();
  });
});

describe('OnlineFeatureClient.getOnlineFeatures', () => {
  test('serves each value with its status: present, null, missing, fallback, and the TTL boundary', async () => {
    await write(customer, {
      customer_id: 'r1', event_time: T0, txn_count: 2 ** 53 - 1, avg_amount: 12.5, segment: '', is_new: false, embedding: [0.1, -2.5, 1e-3],
    });
    await write(customer, { customer_id: 'r2', event_time: T0, txn_count: 7 });
    const client = new OnlineFeatureClient({ client: dynamo, tableName: TABLE });
    const entities = [{ customer_id: 'r1' }, { customer_id: 'r2' }, { customer_id: 'r3' }];
    const refs = ['customer_profile:txn_count', 'customer_profile:avg_amount', 'customer_profile:segment', 'customer_profile:is_new', 'customer_profile:embedding'];

    const fresh = await client.getOnlineFeatures({ views: [customer], entities, featureRefs: refs, nowMs: T0 + TTL_SECONDS * 1000 });
    expect(fresh.roundTrips).toBe(1);
    const [r1, r2, r3] = fresh.entities;
    expect(r1.values).toEqual({
      'customer_profile:txn_count': 2 ** 53 - 1, 'customer_profile:avg_amount': 12.5, 'customer_profile:segment': '',
      'customer_profile:is_new': false, 'customer_profile:embedding': [Math.fround(0.1), -2.5, Math.fround(1e-3)],
    });
    expect(new Set(Object.values(r1.statuses))).toEqual(new Set([FeatureStatus.PRESENT]));
    expect(r1.eventTimes['customer_profile:txn_count']).toBe(T0);
    // r2's row carries nulls: the fallback where one is declared, NOT_FOUND otherwise.
    expect(r2.values).toEqual({
      'customer_profile:txn_count': 7, 'customer_profile:avg_amount': null, 'customer_profile:segment': 'unknown',
      'customer_profile:is_new': null, 'customer_profile:embedding': null,
    });
    expect(r2.statuses).toEqual({
      'customer_profile:txn_count': FeatureStatus.PRESENT, 'customer_profile:avg_amount': FeatureStatus.NOT_FOUND,
      'customer_profile:segment': FeatureStatus.FALLBACK, 'customer_profile:is_new': FeatureStatus.NOT_FOUND,
      'customer_profile:embedding': FeatureStatus.NOT_FOUND,
    });
    // r3 has no row at all.
    expect(r3.values['customer_profile:txn_count']).toBe(0);
    expect(r3.statuses['customer_profile:txn_count']).toBe(FeatureStatus.FALLBACK);
    expect(r3.statuses['customer_profile:avg_amount']).toBe(FeatureStatus.NOT_FOUND);
    expect(r3.eventTimes['customer_profile:txn_count']).toBeNull();

    // One millisecond past the TTL, stored values are withheld: fallback where declared, OUTSIDE_MAX_AGE otherwise.
    const stale = await client.getOnlineFeatures({ views: [customer], entities: entities.slice(0, 1), featureRefs: refs, nowMs: T0 + TTL_SECONDS * 1000 + 1 });
    expect(stale.entities[0].statuses).toEqual({
      'customer_profile:txn_count': FeatureStatus.FALLBACK, 'customer_profile:avg_amount': FeatureStatus.OUTSIDE_MAX_AGE,
      'customer_profile:segment': FeatureStatus.FALLBACK, 'customer_profile:is_new': FeatureStatus.OUTSIDE_MAX_AGE,
      'customer_profile:embedding': FeatureStatus.OUTSIDE_MAX_AGE,
    });
    expect(stale.entities[0].values).toEqual({
      'customer_profile:txn_count': 0, 'customer_profile:avg_amount': null, 'customer_profile:segment': 'unknown',
      'customer_profile:is_new': null, 'customer_profile:embedding': null,
    });
    expect(stale.entities[0].eventTimes['customer_profile:avg_amount']).toBe(T0);
  });

  test('250 entities cost exactly 3 BatchGetItem calls whatever the number of features, projected to what was asked', async () => {
    const ids = Array.from({ length: 250 }, (_, i) => `b${i}`);
    await Promise.all(ids.map((id, i) => write(customer, {
      customer_id: id, event_time: T0, txn_count: i, avg_amount: i / 2, segment: `s${i % 3}`, is_new: i % 2 === 0, embedding: [i, 0, 1], notes: 'n',
    })));
    const { client, calls } = recordingClient();
    const features = new OnlineFeatureClient({ client, tableName: TABLE });
    try {
      for (const refs of [['customer_profile:txn_count'], ALL_CUSTOMER_REFS]) {
        calls.length = 0;
        const answer = await features.getOnlineFeatures({ views: [customer], entities: ids.map((customer_id) => ({ customer_id })), featureRefs: refs, nowMs: T0 });
        expect(calls).toHaveLength(3);
        expect(answer.roundTrips).toBe(3);
        expect(answer.entities).toHaveLength(250);
        expect(answer.entities.map((e) => e.values['customer_profile:txn_count'])).toEqual(ids.map((_, i) => i));
        expect(answer.entities.every((e) => Object.values(e.statuses).every((s) => s === FeatureStatus.PRESENT))).toBe(true);
        const returned = new Set(calls.flat().flatMap((item) => Object.keys(item.features.M!)));
        expect(returned).toEqual(new Set(refs.map((r) => r.split(':')[1])));
      }

      // Repeated entities are read once; answers keep the request's order.
      calls.length = 0;
      const repeated = [...ids, ...ids.slice(0, 50).reverse()];
      const answer = await features.getOnlineFeatures({ views: [customer], entities: repeated.map((customer_id) => ({ customer_id })), featureRefs: ['customer_profile:txn_count'], nowMs: T0 });
      expect(calls).toHaveLength(3);
      expect(answer.entities.slice(250).map((e) => e.values['customer_profile:txn_count'])).toEqual(ids.slice(0, 50).map((_, i) => i).reverse());
    } finally {
      client.destroy();
    }
  });

  test('several views in one call share the BatchGetItem calls (one key per view and entity)', async () => {
    await Promise.all(Array.from({ length: 150 }, (_, i) => write(merchant, { merchant_id: `m${i}`, country: i % 2 ? 'FR' : 'US', ts: T0, risk_score: i / 100 })));
    await Promise.all(Array.from({ length: 150 }, (_, i) => write(customer, { customer_id: `v${i}`, event_time: T0, txn_count: i })));
    const { client, calls } = recordingClient();
    try {
      const entities = Array.from({ length: 150 }, (_, i) => ({ customer_id: `v${i}`, merchant_id: `m${i}`, country: i % 2 ? 'FR' : 'US' }));
      const answer = await new OnlineFeatureClient({ client, tableName: TABLE }).getOnlineFeatures({
        views: [customer, merchant], entities, featureRefs: ['merchant_risk:risk_score', 'customer_profile:txn_count'], nowMs: T0,
      });
      expect(calls).toHaveLength(3); // 300 keys
      expect(answer.roundTrips).toBe(3);
      expect(answer.entities[7].values).toEqual({ 'merchant_risk:risk_score': 0.07, 'customer_profile:txn_count': 7 });
      expect(answer.entities[7].statuses).toEqual({ 'merchant_risk:risk_score': FeatureStatus.PRESENT, 'customer_profile:txn_count': FeatureStatus.PRESENT });
    } finally {
      client.destroy();
    }
  });

  test('retries keys DynamoDB leaves unprocessed, with a bounded number of attempts', async () => {
    // Eight items of 300 KB exceed what one BatchGetItem answer may carry, so DynamoDB leaves some unprocessed.
    const ids = Array.from({ length: 8 }, (_, i) => `u${i}`);
    await Promise.all(ids.map((id) => write(customer, { customer_id: id, event_time: T0, notes: id.repeat(150 * 1024) })));
    const entities = ids.map((customer_id) => ({ customer_id }));
    const { client, calls } = recordingClient();
    try {
      const answer = await new OnlineFeatureClient({ client, tableName: TABLE, backoffBaseMs: 1 }).getOnlineFeatures({
        views: [customer], entities, featureRefs: ['customer_profile:notes'], nowMs: T0,
      });
      expect(answer.roundTrips).toBeGreaterThan(1);
      expect(calls).toHaveLength(answer.roundTrips);
      expect(answer.entities.map((e) => e.values['customer_profile:notes'])).toEqual(ids.map((id) => id.repeat(150 * 1024)));

      const impatient = new OnlineFeatureClient({ client, tableName: TABLE, maxAttempts: 1 });
      await expect(impatient.getOnlineFeatures({ views: [customer], entities, featureRefs: ['customer_profile:notes'], nowMs: T0 }))
        .rejects.toThrow(/left \d+ of 8 keys unprocessed after 1 attempts/);
    } finally {
      client.destroy();
    }
  });

  test('unknown references and missing join keys are refused before any call, naming each', async () => {
    const { client, calls } = recordingClient();
    const features = new OnlineFeatureClient({ client, tableName: TABLE });
    try {
      await expect(features.getOnlineFeatures({
        views: [customer], entities: [{ customer_id: 'r1' }], featureRefs: ['customer_profile:nope', 'ghost:x', 'no_separator'],
      })).rejects.toThrow(/'customer_profile:nope': view 'customer_profile' v1 has no feature 'nope'[\s\S]*'ghost:x': unknown view 'ghost'[\s\S]*'no_separator': feature references look like/);
      await expect(features.getOnlineFeatures({
        views: [customer, merchant], entities: [{ customer_id: 'r1', merchant_id: 'm1', country: 'FR' }, { customer_id: 'r1', merchant_id: 'm1' }],
        featureRefs: ['customer_profile:txn_count', 'merchant_risk:risk_score'],
      })).rejects.toThrow(/entities\[1\]\.country: view 'merchant_risk' needs join key 'country'/);
      expect(calls).toHaveLength(0);
      expect(() => new OnlineFeatureClient({ client, tableName: TABLE, maxAttempts: 0 })).toThrow(/maxAttempts must be an integer >= 1/);
    } finally {
      client.destroy();
    }
  });
});
