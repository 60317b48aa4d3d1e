/**
 * Fuzz test of the materializer: a few hundred generated records — valid ones at the edges of their types mixed
 * with hostile ones (random JSON, deep nesting, lone surrogates, huge strings, numbers at and past type edges, wrong
 * types, missing fields, bad envelopes, bytes that are not JSON or not UTF-8) — through the real Lambda handler
 * against dynalite and s3rver. The accounting must be exact: every valid record stored online and offline, every
 * other one dead-lettered with a reason and its data, received = stored + dead-lettered, and the batch never fails.
 * Seeded (runtime/core/random.ts): a failure reproduces with the seed in the test name.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { assertValidFeatureView, FeatureDtype, FeatureStatus, FeatureViewSpec, joinKeysOf, MAX_FUTURE_SKEW_LIMIT_MS } from '../../lib/features/spec';
import { getObjectBytes, listObjectKeys, readOfflineRows } from '../../runtime/aws/offline-store';
import { OnlineFeatureClient } from '../../runtime/aws/online-store';
import { MAX_DEAD_LETTER_DATA_BYTES } from '../../runtime/core/materialize';
import { seededRandom } from '../../runtime/core/random';
import { createMaterializer } from '../../runtime/handlers/materializer-handler';
import { FeatureStoreStandIns, startFeatureStoreStandIns } from '../support/local-aws';

const SEED = 20261130;
const RECORDS = 300;
const TABLE = 'fuzz_online';
const BUCKET = 'fuzz-offline';
const SHARD = 'shardId-000000000007';
const FLOAT32_MAX = 3.4028234663852886e38;
const NOW = Date.now();

const view: FeatureViewSpec = assertValidFeatureView({
  specFormat: 1, name: 'fuzz_view', version: 3, eventTimeField: 'ts', ttlSeconds: 86_400, freshnessSeconds: 60,
  entities: [{ name: 'account', joinKeys: ['account_id'] }, { name: 'region', joinKeys: ['region'] }],
  features: [
    { name: 'n', dtype: FeatureDtype.INT64 },
    { name: 'x', dtype: FeatureDtype.FLOAT64 },
    { name: 's', dtype: FeatureDtype.STRING },
    { name: 'b', dtype: FeatureDtype.BOOL },
    { name: 'v', dtype: FeatureDtype.FLOAT32_VECTOR, dimension: 3 },
  ],
});
const FEATURES = view.features.map((f) => f.name);

/** What the test expects of a generated record. */
interface Generated {
  readonly data: Buffer;
  /** The record as the view should store it; undefined for a record that must be dead-lettered. */
  readonly valid?: { readonly joinKeys: Record<string, string | number>; readonly eventTimeMs: number; readonly values: Record<string, unknown> };
  /** What kind of record it is, for failure messages. */
  readonly kind: string;
}

let standIns: FeatureStoreStandIns;
let dynamo: DynamoDBClient;
let s3: S3Client;

beforeAll(async () => {
  standIns = await startFeatureStoreStandIns(TABLE, BUCKET);
  ({ dynamo, s3 } = standIns);
});

afterAll(() => standIns?.stop());

/** The generators, all drawing from one seeded PRNG. */
function generator(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const text = (length: number, alphabet = ['a', 'Z', '0', ' ', '|', '=', '%', '#', ':', 'é', '😀', '\u0000', '"', '\\']) => Array.from({ length }, () => pick(alphabet)).join('');
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const randomJson = (depth = 0): unknown => {
    const kind = int(depth > 3 ? 4 : 6);
    if (kind === 0) return null;
    if (kind === 1) return random() < 0.5;
    if (kind === 2) return pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, 5e-324, int(1e6)]);
    if (kind === 3) return text(int(12));
    if (kind === 4) return Array.from({ length: int(4) }, () => randomJson(depth + 1));
    return Object.fromEntries(Array.from({ length: int(4) }, () => [text(int(6)), randomJson(depth + 1)]));
  };

  /** A valid record, its values at the edges of their types. */
  const validRecord = (i: number) => {
    const account_id = random() < 0.3 ? pick([1, -1, Number.MAX_SAFE_INTEGER]) * (1_000_000 + i) % Number.MAX_SAFE_INTEGER : `${i}${text(1 + int(20))}`;
    const region = pick(['eu', 'us|1', 'ap=2', '🌏', 'x'.repeat(200)]);
    const eventTimeMs = NOW - int(3_600_000);
    const values: Record<string, unknown> = {
      n: pick([0, 1, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, int(1e9)]),
      x: pick([0, 1e-130, -1e-130, 9.99e125, -1e125, 0.1, random() * 1e6]),
      s: pick(['', 'plain', text(int(50)), text(5000)]),
      b: random() < 0.5,
      v: [pick([FLOAT32_MAX, -FLOAT32_MAX, 1e-45, 0]), random(), -random()],
    };
    for (const f of FEATURES) if (random() < 0.15) delete values[f];
    const ts = pick([eventTimeMs, new Date(eventTimeMs).toISOString(), new Date(eventTimeMs).toISOString().replace('Z', '+00:00')]);
    return { joinKeys: { account_id, region }, eventTimeMs, values, record: { account_id, region, ts, ...values } };
  };

  const envelope = (record: unknown, overrides: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ view: view.name, version: view.version, record, ...overrides }));
  const raw = (textValue: string) => Buffer.from(textValue);

  /** Hostile records, each invalid for a known reason. */
  const hostile: Array<[string, (i: number) => Buffer]> = [
    ['random JSON', () => raw(JSON.stringify(randomJson()))],
    ['random JSON record', () => envelope(randomJson())],
    ['non-JSON bytes', () => Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)))],
    ['invalid UTF-8', () => Buffer.concat([raw('{"view": "fuzz_view", "version": 3, "record": {"s": "'), Buffer.from([0xc3, 0x28, 0xff]), raw('"}}')])],
    ['truncated JSON', (i) => envelope(validRecord(i).record).subarray(0, 20 + int(30))],
    ['deep view', () => raw(`{"view": ${nested(2000 + int(20_000))}, "version": 3, "record": {}}`)],
    ['deep version', () => raw(`{"view": "fuzz_view", "version": ${nested(5000)}, "record": {}}`)],
    ['deep record', () => raw(`{"view": "fuzz_view", "version": 3, "record": ${nested(5000)}}`)],
    ['deep join key', () => raw(`{"view": "fuzz_view", "version": 3, "record": {"account_id": ${nested(5000)}, "region": "eu", "ts": ${NOW}}}`)],
    ['deep event time', () => raw(`{"view": "fuzz_view", "version": 3, "record": {"account_id": "a", "region": "eu", "ts": ${nested(5000)}}}`)],
    ['deep feature', () => raw(`{"view": "fuzz_view", "version": 3, "record": {"account_id": "a", "region": "eu", "ts": ${NOW}, "v": ${nested(5000)}}}`)],
    ['lone surrogate join key', (i) => envelope({ ...validRecord(i).record, account_id: `a\ud800${i}` })],
    ['lone surrogate feature', (i) => envelope({ ...validRecord(i).record, s: `\udc00${i}` })],
    ['lone surrogate view', () => envelope({}, { view: 'fuzz_view\ud83d' })],
    ['huge string over the online item limit', (i) => envelope({ ...validRecord(i).record, s: 'h'.repeat(450 * 1024) })],
    ['data over the dead-letter cap', () => Buffer.concat([raw('{"view": "fuzz_view", "junk": "'), Buffer.alloc(MAX_DEAD_LETTER_DATA_BYTES + 1000, 'j'), raw('"')])],
    ['int64 past 2^53', (i) => envelope({ ...validRecord(i).record, n: 2 ** 53 })],
    ['int64 fraction', (i) => envelope({ ...validRecord(i).record, n: 1.5 })],
    ['float64 infinite', (i) => raw(envelope({ ...validRecord(i).record, x: 0 }).toString().replace('"x":0', '"x":1e999'))],
    ['float64 below the online range', (i) => envelope({ ...validRecord(i).record, x: 5e-324 })],
    ['float32 element past its range', (i) => envelope({ ...validRecord(i).record, v: [3.5e38, 0, 0] })],
    ['vector of the wrong dimension', (i) => envelope({ ...validRecord(i).record, v: [1, 2] })],
    ['wrong types', (i) => envelope({ ...validRecord(i).record, ...pick([{ b: 'true' }, { n: '1' }, { s: 7 }, { v: 'v' }, { x: false }]) })],
    ['join key of the wrong type', (i) => envelope({ ...validRecord(i).record, region: pick([null, true, 1.5, '', [], {}]) })],
    ['missing join key', (i) => { const { region: _, ...rest } = validRecord(i).record; return envelope(rest); }],
    ['missing event time', (i) => { const { ts: _, ...rest } = validRecord(i).record; return envelope(rest); }],
    ['event time in epoch seconds', (i) => envelope({ ...validRecord(i).record, ts: Math.floor(NOW / 1000) })],
    ['event time in microseconds', (i) => envelope({ ...validRecord(i).record, ts: NOW * 1000 })],
    ['event time past what a Date holds', (i) => envelope({ ...validRecord(i).record, ts: pick([8.7e15, 8.64e15 + 1, Number.MAX_SAFE_INTEGER]) })],
    ['event time before the projection', (i) => envelope({ ...validRecord(i).record, ts: pick([0, '1969-12-31T23:59:59Z', '2019-12-31T23:59:59.999Z']) })],
    ['event time in the future', (i) => envelope({ ...validRecord(i).record, ts: NOW + MAX_FUTURE_SKEW_LIMIT_MS })],
    ['event time malformed', (i) => envelope({ ...validRecord(i).record, ts: pick([-1, 1.5, '2026-01-01', '2026-13-45T99:99:99Z', 'now']) })],
    ['unknown field', (i) => envelope({ ...validRecord(i).record, [text(1 + int(300))]: 1 })],
    ['bad envelope', () => pick([raw('null'), raw('42'), raw('"s"'), raw('[]'), envelope({}, { view: undefined }), envelope({}, { version: '3' }), envelope({}, { version: 2 }), envelope({}, { view: 'ghost' }), envelope(undefined)])],
  ];

  return (i: number): Generated => {
    if (random() < 0.4) {
      const { joinKeys, eventTimeMs, values, record } = validRecord(i);
      return { data: envelope(record), valid: { joinKeys, eventTimeMs, values }, kind: 'valid' };
    }
    const [kind, make] = pick(hostile);
    return { data: make(i), kind };
  };
}

function event(records: readonly Generated[]): KinesisStreamEvent {
  return {
    Records: records.map((r, i) => {
      const sequenceNumber = String(10n ** 55n + BigInt(i));
      return {
        kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'fuzz', sequenceNumber, data: r.data.toString('base64'), approximateArrivalTimestamp: NOW / 1000 },
        eventSource: 'aws:kinesis', eventVersion: '1.0', eventID: `${SHARD}:${sequenceNumber}`, eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/fuzz', awsRegion: 'us-east-1', eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/fuzz',
      };
    }),
  };
}

/** Feature values as the stores give them back: vector elements as float32. */
function stored(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(FEATURES.map((f) => [f, f === 'v' && Array.isArray(values[f]) ? (values[f] as number[]).map(Math.fround) : values[f] ?? null]));
}

test(`hostile records mixed with valid ones: exact accounting, the batch never fails (seed ${SEED})`, async () => {
  const generate = generator(seededRandom(SEED));
  const records = Array.from({ length: RECORDS }, (_, i) => generate(i));
  const batch = event(records);
  const valid = records.map((r, i) => ({ ...r, sequenceNumber: batch.Records[i].kinesis.sequenceNumber })).filter((r) => r.valid);
  expect(valid.length).toBeGreaterThan(RECORDS / 4);
  expect(new Set(records.map((r) => r.kind)).size).toBeGreaterThan(30);

  const logs: string[] = [];
  // Generous deadlines: dynalite parses every item in one thread, and a slow stand-in is not what this test is about.
  const handle = createMaterializer({ views: [view], dynamo, s3, tableName: TABLE, bucketName: BUCKET, log: (line) => logs.push(line), timeoutMs: 30_000 });
  const answer = await handle(batch);
  expect({ answer, warnings: logs.filter((l) => l.includes('"WARN"')) }).toEqual({ answer: { batchItemFailures: [] }, warnings: [] });

  // Accounting, from the EMF metrics.
  const metrics = logs.map((l) => JSON.parse(l)).filter((l) => l._aws);
  const sum = (name: string) => metrics.reduce((total, m) => total + (m[name] ?? 0), 0);
  expect({ received: sum('RecordsReceived'), stored: sum('RowsStored'), deadLettered: sum('RecordsDeadLettered') })
    .toEqual({ received: RECORDS, stored: valid.length, deadLettered: RECORDS - valid.length });

  // Every valid record is the online value of its entity (each has its own entity)...
  const online = await new OnlineFeatureClient({ client: dynamo, tableName: TABLE }).getOnlineFeatures({
    views: [view], entities: valid.map((r) => r.valid!.joinKeys), featureRefs: FEATURES.map((f) => `${view.name}:${f}`),
  });
  online.entities.forEach((entity, i) => {
    const { valid: expected } = valid[i];
    expect({ i, values: entity.values, eventTime: entity.eventTimes[`${view.name}:n`] })
      .toEqual({ i, values: Object.fromEntries(Object.entries(stored(expected!.values)).map(([f, v]) => [`${view.name}:${f}`, v])), eventTime: expected!.eventTimeMs });
    expect(Object.entries(entity.statuses).every(([ref, status]) => status === (entity.values[ref] === null ? FeatureStatus.NOT_FOUND : FeatureStatus.PRESENT))).toBe(true);
  });

  // ...and stored offline exactly once, with its values.
  const rows = await readOfflineRows(s3, BUCKET, view);
  expect(rows.map((r) => r.ingestSeq).sort()).toEqual(valid.map((r) => `${SHARD}:${r.sequenceNumber}`).sort());
  const bySeq = new Map(rows.map((r) => [r.ingestSeq, r]));
  for (const r of valid) {
    const row = bySeq.get(`${SHARD}:${r.sequenceNumber}`)!;
    expect(row.values).toEqual(stored(r.valid!.values));
    expect(row.joinKeys).toEqual(Object.fromEntries(joinKeysOf(view).map((k) => [k, String(r.valid!.joinKeys[k])])));
  }

  // Every other record is dead-lettered once, with a reason and its data as received (cut past the cap).
  const keys = await listObjectKeys(s3, BUCKET, 'dead-letter/');
  const bodies = await Promise.all(keys.map((key) => getObjectBytes(s3, BUCKET, key)));
  const letters = new Map<string, any>(keys.map((key, i) => [key.slice(key.lastIndexOf('-') + 1, -'.json'.length), JSON.parse(bodies[i].toString('utf8'))]));
  expect(letters.size).toBe(RECORDS - valid.length);
  batch.Records.forEach(({ kinesis: { sequenceNumber } }, i) => {
    if (records[i].valid) return;
    const letter = letters.get(sequenceNumber);
    const data = records[i].data;
    const kept = data.subarray(0, MAX_DEAD_LETTER_DATA_BYTES);
    expect({ i, kind: records[i].kind, reasons: letter?.reasons.length > 0, dataBytes: letter?.dataBytes, truncated: letter?.truncated ?? false })
      .toEqual({ i, kind: records[i].kind, reasons: true, dataBytes: data.length, truncated: kept.length < data.length });
    const keptInLetter = letter.data !== undefined ? Buffer.from(letter.data) : Buffer.from(letter.dataBase64, 'base64');
    expect({ i, dataAsReceived: keptInLetter.equals(kept) }).toEqual({ i, dataAsReceived: true });
  });
});
