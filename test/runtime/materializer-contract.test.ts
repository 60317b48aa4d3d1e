/**
 * The materializer's contract (runtime/contracts/materializer.ts, runtime/contracts/feature-record.ts): what the
 * FeatureIngestion construct writes the handler reads, every problem of an environment is reported at once, and what
 * a producer puts on the stream the materializer reads back. Pure: no servers (the kinesalite round trip through the
 * real handler is in materializer.test.ts).
 */
import { createHash } from 'crypto';
import { assertValidFeatureView, FeatureDtype, FeatureViewSpec } from '../../lib/features/spec';
import { partitionKeyOf as producerPartitionKeyOf } from '../../runtime/aws/feature-producer';
import {
  decodeFeatureRecord, encodeFeatureRecord, FEATURE_RECORD_HINT, MAX_PARTITION_KEY_LENGTH, partitionKeyOf,
} from '../../runtime/contracts/feature-record';
import { materializerEnvironment, MaterializerSettings, MaterializerVariables, parseMaterializerEnvironment } from '../../runtime/contracts/materializer';
import { METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { materializerFromEnvironment } from '../../runtime/handlers/materializer-handler';

const view: FeatureViewSpec = assertValidFeatureView({
  specFormat: 1, name: 'customer_txn_stats', version: 3, eventTimeField: 'event_time', ttlSeconds: 86_400, freshnessSeconds: 300,
  entities: [{ name: 'customer', joinKeys: ['customer_id', 'region'] }],
  features: [{ name: 'txn_count', dtype: FeatureDtype.INT64 }, { name: 'note', dtype: FeatureDtype.STRING }],
});

describe('the materializer environment', () => {
  test('what the construct writes the handler reads, defaults included', () => {
    const full: MaterializerSettings = {
      views: [view], onlineTableName: 'online', offlineBucketName: 'offline', metricsNamespace: 'Team/Features',
      maxFutureSkewMs: 60_000, earliestEventDate: 'NOW-30DAYS', s3ForcePathStyle: true,
    };
    expect(parseMaterializerEnvironment(materializerEnvironment(full))).toEqual(full);
    const minimal: MaterializerSettings = { views: [view], onlineTableName: 'online', offlineBucketName: 'offline' };
    expect(parseMaterializerEnvironment(materializerEnvironment(minimal))).toEqual({ ...minimal, metricsNamespace: METRICS_NAMESPACE, s3ForcePathStyle: false });
    expect(Object.keys(materializerEnvironment(minimal))).toEqual([
      MaterializerVariables.FEATURE_VIEWS, MaterializerVariables.ONLINE_TABLE_NAME, MaterializerVariables.OFFLINE_BUCKET_NAME, MaterializerVariables.METRICS_NAMESPACE,
    ]);
  });

  test('the handler reports every problem of its environment at once, each naming the variable', () => {
    const V = MaterializerVariables;
    let message = '';
    try {
      materializerFromEnvironment({
        [V.FEATURE_VIEWS]: JSON.stringify([{ ...view, ttlSeconds: 0 }]), [V.MAX_FUTURE_SKEW_MS]: 'soon',
        [V.EARLIEST_EVENT_DATE]: '2024-13-01', [V.S3_FORCE_PATH_STYLE]: 'yes',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^materializer-handler: invalid environment:/);
    expect(message).toMatch(/FEATURE_VIEWS\[0\]: view 'customer_txn_stats'.*ttl.*must be positive/);
    expect(message).toMatch(/ONLINE_TABLE_NAME is not set; deploy it with the FeatureIngestion construct/);
    expect(message).toMatch(/OFFLINE_BUCKET_NAME is not set/);
    expect(message).toMatch(/MAX_FUTURE_SKEW_MS must be a number of milliseconds from 0 to 86400000 .*, got 'soon'/);
    expect(message).toMatch(/EARLIEST_EVENT_DATE '2024-13-01' is not a date/);
    expect(message).toMatch(/S3_FORCE_PATH_STYLE=yes: expected one of true, false, 1, 0/);
  });

  test('FEATURE_VIEWS must be an array', () => {
    expect(() => parseMaterializerEnvironment({ FEATURE_VIEWS: '{}', ONLINE_TABLE_NAME: 't', OFFLINE_BUCKET_NAME: 'b' }))
      .toThrow(/FEATURE_VIEWS must be a JSON array of feature view specs/);
  });
});

describe('the stream record envelope', () => {
  const records = [
    { customer_id: 'c-1', region: 'eu', event_time: '2026-05-31T23:00:00Z', txn_count: 3, note: 'naïve ☃ 𝄞' },
    { customer_id: 'c-2', region: 'us', event_time: 1_767_225_600_000, txn_count: Number.MAX_SAFE_INTEGER, note: null },
    { customer_id: 'c-3', region: 'ap', event_time: 1, nested: { deep: [1, { x: 'y' }] } },
  ];

  test.each(records.map((r, i) => [i, r]))('what the producer writes the materializer reads (record %i)', (_, record) => {
    const data = encodeFeatureRecord(view, record);
    expect(decodeFeatureRecord(data)).toEqual({ ok: true, envelope: { view: view.name, version: view.version, record } });
  });

  test('data that holds no envelope is a problem, never a throw', () => {
    expect(decodeFeatureRecord(new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false, problem: 'not UTF-8 JSON' });
    expect(decodeFeatureRecord(new TextEncoder().encode('{"view":'))).toMatchObject({ ok: false, problem: 'not UTF-8 JSON' });
    for (const text of ['[]', 'null', '42', '"x"']) {
      expect(decodeFeatureRecord(new TextEncoder().encode(text))).toEqual({ ok: false, problem: 'expected a JSON object envelope' });
    }
    expect(FEATURE_RECORD_HINT).toMatch(/"view".*"version".*"record"/);
  });

  test('the partition key is the entity key, hashed by the producer when Kinesis would refuse it', () => {
    const short = { customer_id: 'c-1', region: 'eu' };
    const long = { customer_id: 'q'.repeat(MAX_PARTITION_KEY_LENGTH), region: 'eu' };
    expect(partitionKeyOf(view, short, () => 'unused')).toBe('customer_id=c-1|region=eu');
    expect(partitionKeyOf(view, long, (key) => `hash(${key.length})`)).toBe(`hash(${MAX_PARTITION_KEY_LENGTH + 22})`);
    expect(producerPartitionKeyOf(view, short)).toBe('customer_id=c-1|region=eu');
    expect(producerPartitionKeyOf(view, long)).toBe(createHash('sha256').update(`customer_id=${long.customer_id}|region=eu`).digest('hex'));
  });

  test('a record whose join keys cannot be keyed still gets a partition key (the materializer dead-letters it), never a throw', () => {
    // A lone surrogate (encodeURIComponent throws on it) and a missing key: one such record must not fail the batch it is sent in.
    for (const bad of [{ customer_id: 'c\ud800', region: 'eu' }, { region: 'eu' }]) {
      expect(producerPartitionKeyOf(view, bad)).toBe(createHash('sha256').update(`${view.name}:unkeyable`).digest('hex'));
    }
  });
});
