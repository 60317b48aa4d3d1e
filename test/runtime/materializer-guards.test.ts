/**
 * The materializer's guards at the edges of a batch, through the real handler against dynalite and s3rver: the
 * event-time window follows the store's projection start (carried in EARLIEST_EVENT_DATE), a row the offline Parquet
 * encoder refuses is dead-lettered before any write, a file that fails to encode dead-letters its rows instead of
 * failing the batch, dead-letter keys never throw, and cut data keeps whole characters; and what a retry over part of
 * a batch leaves offline.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { ParquetShredder } from '@dsnp/parquetjs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { assertValidFeatureView, FeatureDtype, FeatureStatus, FeatureViewSpec } from '../../lib/features/spec';
import { MaterializerVariables } from '../../runtime/contracts/materializer';
import { getObjectBytes, listObjectKeys, readOfflineRows } from '../../runtime/aws/offline-store';
import { OnlineFeatureClient } from '../../runtime/aws/online-store';
import { Materializer, MAX_DEAD_LETTER_DATA_BYTES } from '../../runtime/core/materialize';
import { createMaterializer, materializerFromEnvironment } from '../../runtime/handlers/materializer-handler';
import { getHistoricalFeatures } from '../../runtime/offline/historical';
import { FeatureStoreStandIns, startFeatureStoreStandIns } from '../support/local-aws';

const TABLE = 'guards_online';
const BUCKET = 'guards-offline';
const SHARD = 'shardId-000000000003';
const DAY = 86_400_000;
const NOW = Date.now();

/** A long TTL, so that backfilled rows of past years are still served online. */
const view: FeatureViewSpec = assertValidFeatureView({
  specFormat: 1, name: 'guard_view', version: 1, eventTimeField: 'ts', ttlSeconds: 20 * 365 * 86_400, freshnessSeconds: 60,
  entities: [{ name: 'account', joinKeys: ['account_id'] }],
  features: [{ name: 'n', dtype: FeatureDtype.INT64 }, { name: 's', dtype: FeatureDtype.STRING }],
});

let standIns: FeatureStoreStandIns;
let dynamo: DynamoDBClient;
let s3: S3Client;
let nextSequence = 10n ** 40n;

beforeAll(async () => {
  standIns = await startFeatureStoreStandIns(TABLE, BUCKET);
  ({ dynamo, s3 } = standIns);
});

afterAll(() => standIns?.stop());

afterEach(() => jest.restoreAllMocks());

/** A Kinesis event of the given payloads (records of `view` or raw data), shaped as Lambda delivers it. */
function event(payloads: ReadonlyArray<Record<string, unknown> | Buffer>, arrivalSeconds = NOW / 1000): KinesisStreamEvent {
  return {
    Records: payloads.map((payload) => {
      const sequenceNumber = String(nextSequence++);
      const data = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify({ view: view.name, version: view.version, record: payload }));
      return {
        kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'k', sequenceNumber, data: data.toString('base64'), approximateArrivalTimestamp: arrivalSeconds },
        eventSource: 'aws:kinesis', eventVersion: '1.0', eventID: `${SHARD}:${sequenceNumber}`, eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/guards', awsRegion: 'us-east-1', eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/guards',
      };
    }),
  };
}

async function deadLetterOf(sequenceNumber: string): Promise<{ key: string; body: any }> {
  const key = (await listObjectKeys(s3, BUCKET, 'dead-letter/')).find((k) => k.endsWith(`-${sequenceNumber}.json`));
  if (!key) throw new Error(`no dead letter for ${sequenceNumber}`);
  return { key, body: JSON.parse((await getObjectBytes(s3, BUCKET, key)).toString('utf8')) };
}

const offlineCounts = async (prefix: string) => (await readOfflineRows(s3, BUCKET, view)).filter((r) => r.joinKeys.account_id.startsWith(prefix)).map((r) => r.values.n).sort();

async function onlineStatuses(ids: string[]): Promise<string[]> {
  const answer = await new OnlineFeatureClient({ client: dynamo, tableName: TABLE }).getOnlineFeatures({
    views: [view], entities: ids.map((account_id) => ({ account_id })), featureRefs: ['guard_view:n'],
  });
  return answer.entities.map((e) => e.statuses['guard_view:n']);
}

function handler(options: { earliestEventDate?: string } = {}) {
  const logs: string[] = [];
  return { handle: createMaterializer({ views: [view], dynamo, s3, tableName: TABLE, bucketName: BUCKET, log: (l) => logs.push(l), ...options }), logs };
}

describe("event-time window: the store's projection start", () => {
  test('earliestEventDate 2018-01-01 (from the environment FeatureIngestion sets): a 2019 backfill is stored, 2017 is refused', async () => {
    const batch = event([
      { account_id: 'a2019', ts: '2019-03-01T00:00:00Z', n: 1 },
      { account_id: 'a2017', ts: '2017-12-31T23:59:59Z', n: 2 },
    ]);
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: standIns.dynalite.endpoint, AWS_ENDPOINT_URL_S3: standIns.s3rver.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1', AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED', AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    });
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const handle = materializerFromEnvironment({
        ...process.env, FEATURE_VIEWS: JSON.stringify([view]), ONLINE_TABLE_NAME: TABLE, OFFLINE_BUCKET_NAME: BUCKET, S3_FORCE_PATH_STYLE: 'true',
        [MaterializerVariables.EARLIEST_EVENT_DATE]: '2018-01-01',
      });
      expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    } finally {
      stdout.mockRestore();
      process.env = saved;
    }
    expect(await offlineCounts('a20')).toEqual([1]);
    expect(await onlineStatuses(['a2019', 'a2017'])).toEqual([FeatureStatus.PRESENT, FeatureStatus.NOT_FOUND]);
    expect((await deadLetterOf(batch.Records[1].kinesis.sequenceNumber)).body.reasons).toEqual([
      expect.stringMatching(/^record\.ts: event time 2017-12-31T23:59:59\.000Z is before 2018-01-01, the first date of the offline tables' partition projection/),
    ]);
  });

  test('earliestEventDate 2024-06-01: rows the projection would never show are dead-lettered, not stored', async () => {
    const batch = event([{ account_id: 'b2022', ts: '2022-01-01T00:00:00Z', n: 1 }, { account_id: 'b2025', ts: '2025-01-01T00:00:00Z', n: 2 }]);
    const { handle } = handler({ earliestEventDate: '2024-06-01' });
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(await offlineCounts('b20')).toEqual([2]);
    expect(await onlineStatuses(['b2022', 'b2025'])).toEqual([FeatureStatus.NOT_FOUND, FeatureStatus.PRESENT]);
    expect((await deadLetterOf(batch.Records[0].kinesis.sequenceNumber)).body.reasons[0]).toMatch(/is before 2024-06-01/);
  });

  test('NOW-<n>DAYS (offline history expiring after n days): events older than n days are refused', async () => {
    const batch = event([{ account_id: 'c-old', ts: NOW - 31 * DAY, n: 1 }, { account_id: 'c-new', ts: NOW - 29 * DAY, n: 2 }]);
    const { handle } = handler({ earliestEventDate: 'NOW-30DAYS' });
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(await offlineCounts('c-')).toEqual([2]);
    expect((await deadLetterOf(batch.Records[0].kinesis.sequenceNumber)).body.reasons[0]).toMatch(/\(NOW-30DAYS: the offline history is kept for that long\)/);
  });

  test('a bad projection start is refused at start-up, naming the variable', () => {
    const env = { FEATURE_VIEWS: JSON.stringify([view]), ONLINE_TABLE_NAME: TABLE, OFFLINE_BUCKET_NAME: BUCKET };
    expect(() => materializerFromEnvironment({ ...env, [MaterializerVariables.EARLIEST_EVENT_DATE]: '2024-13-01' })).toThrow(/EARLIEST_EVENT_DATE '2024-13-01' is not a date/);
    expect(() => new Materializer({ views: [view], ports: { writeOnline: async () => ({ outcome: 'applied' }), putObject: async () => undefined }, earliestEventDate: '1969-07-20' }))
      .toThrow(/earliestEventDate: '1969-07-20' is before 1971-01-01/);
  });
});

describe('offline encoding inside the per-record guard', () => {
  // No row that passes validation fails the Parquet conversion any more: the last real one (event times before 1970,
  // which Parquet's TIMESTAMP_MILLIS refuses) is now outside the event-time window, whose start is never before 1971.
  // The fault is injected at the encoder's own per-row step (parquetjs' shredder, used by the writer and by the
  // materializer's check alike), as a refusal of one marked row: what a validator/encoder mismatch would do.
  const shred = ParquetShredder.shredRecord;

  test('a row the encoder refuses is dead-lettered before any write; the rest of its partition commits', async () => {
    jest.spyOn(ParquetShredder, 'shredRecord').mockImplementation((schema, record, buffer) => {
      if ((record as Record<string, unknown>).account_id === 'p-poison') throw new Error('invalid value for INT64: 1e999');
      return shred(schema, record, buffer);
    });
    const batch = event([{ account_id: 'p-ok1', ts: NOW - DAY, n: 1 }, { account_id: 'p-poison', ts: NOW - DAY, n: 2 }, { account_id: 'p-ok2', ts: NOW - DAY, n: 3 }]);
    const { handle } = handler();
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(await offlineCounts('p-')).toEqual([1, 3]);
    // Never written online either: no training/serving skew.
    expect(await onlineStatuses(['p-ok1', 'p-poison', 'p-ok2'])).toEqual([FeatureStatus.PRESENT, FeatureStatus.NOT_FOUND, FeatureStatus.PRESENT]);
    expect((await deadLetterOf(batch.Records[1].kinesis.sequenceNumber)).body.reasons).toEqual([
      'record: converting the row to its offline Parquet record failed (Error: invalid value for INT64: 1e999); the record is kept here as received',
    ]);
  });

  test("a file that fails to encode dead-letters its rows with the reason; the batch's other files commit", async () => {
    // Each row encodes alone, but the file holding the marked row after another row does not.
    jest.spyOn(ParquetShredder, 'shredRecord').mockImplementation((schema, record, buffer) => {
      if ((record as Record<string, unknown>).account_id === 'f-late' && (buffer as { rowCount?: number }).rowCount) throw new Error('page too large');
      return shred(schema, record, buffer);
    });
    const batch = event([
      { account_id: 'f-first', ts: NOW - 2 * DAY, n: 1 }, { account_id: 'f-late', ts: NOW - 2 * DAY, n: 2 }, { account_id: 'f-other-day', ts: NOW - 3 * DAY, n: 3 },
    ]);
    const { handle } = handler();
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect(await offlineCounts('f-')).toEqual([3]);
    for (const record of batch.Records.slice(0, 2)) {
      expect((await deadLetterOf(record.kinesis.sequenceNumber)).body.reasons).toEqual([
        expect.stringMatching(/^record: the offline file offline\/guard_view\/version=1\/event_date=[\d-]+\/shardId-000000000003-\d+\.parquet failed to encode \(Error: page too large\) although each of its rows encodes alone; the row may be the online value but is not in the offline history$/),
      ]);
    }
  });
});

describe('dead letters never fail the batch', () => {
  test('an arrival time no date holds files the letter under unknown-date', async () => {
    const batch = event([Buffer.from('not json')], NaN);
    const { handle } = handler();
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect((await deadLetterOf(batch.Records[0].kinesis.sequenceNumber)).key).toMatch(/^dead-letter\/_unknown\/unknown-date\/shardId-000000000003-\d+\.json$/);
  });

  test('data cut at 1 MiB keeps whole characters: the letter stays text, not base64', async () => {
    // A 3-byte character straddles the 1 MiB mark.
    const data = Buffer.from(`${'a'.repeat(MAX_DEAD_LETTER_DATA_BYTES - 1)}€${'b'.repeat(100)}`);
    const batch = event([data]);
    const { handle } = handler();
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    const { body } = await deadLetterOf(batch.Records[0].kinesis.sequenceNumber);
    expect(body).toMatchObject({ truncated: true, dataBytes: data.length });
    expect(body.dataBase64).toBeUndefined();
    expect(body.data).toBe('a'.repeat(MAX_DEAD_LETTER_DATA_BYTES - 1));
  });
});

describe('offline idempotency when a retry covers part of a batch', () => {
  /** Six events of two entities, one minute apart, all in yesterday's partition. */
  const base = Math.floor((NOW - DAY) / DAY) * DAY + 12 * 3_600_000;
  const records = (prefix: string) => [1, 2, 3].flatMap((i) => [
    { account_id: `${prefix}1`, ts: base + (2 * i - 2) * 60_000, n: i }, { account_id: `${prefix}2`, ts: base + (2 * i - 1) * 60_000, n: 10 * i },
  ]);
  const rawRows = async (prefix: string) => (await readOfflineRows(s3, BUCKET, view)).filter((r) => r.joinKeys.account_id.startsWith(prefix));

  /** Point-in-time reads over the offline files as they are in the bucket (DuckDB, the query Athena runs). */
  async function pointInTime(prefix: string): Promise<unknown[]> {
    const root = mkdtempSync(join(tmpdir(), 'guards-offline-'));
    try {
      for (const key of await listObjectKeys(s3, BUCKET, 'offline/')) {
        mkdirSync(dirname(join(root, key)), { recursive: true });
        writeFileSync(join(root, key), await getObjectBytes(s3, BUCKET, key));
      }
      const entityRows = [0.5, 1.5, 2.5, 3.5, 4.5, 5.5].flatMap((m) => [1, 2].map((e) => ({ account_id: `${prefix}${e}`, event_timestamp: base + m * 60_000 })));
      return (await getHistoricalFeatures({ views: [view], featureRefs: ['guard_view:n'], offlineRoot: root, entityRows })).map((r) => r.guard_view__n);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  /** What a store holding each record once serves at those points: the latest event at or before each. */
  const served = [1, null, 1, 10, 2, 10, 2, 20, 3, 20, 3, 30];

  test('a retry of the first half, then of the whole batch, rewrites the same files: no copies', async () => {
    const batch = event(records('h'));
    const { handle } = handler();
    expect(await handle({ Records: batch.Records.slice(0, 3) })).toEqual({ batchItemFailures: [] });
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    expect((await rawRows('h')).map((r) => r.values.n).sort((a, b) => a - b)).toEqual([1, 2, 3, 10, 20, 30]);
    expect(await pointInTime('h')).toEqual(served);
  });

  test('a whole-batch attempt that wrote its files and then failed, its first half given up, its second half committed: copies that point-in-time reads never serve twice, gone after the replay', async () => {
    const batch = event(records('w'));
    const { handle } = handler();
    // The attempt that wrote every file and then timed out (Lambda bisects it): its files are named after record 0.
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    // The second half commits on its own (the first half's retries are exhausted): files named after record 3.
    expect(await handle({ Records: batch.Records.slice(3) })).toEqual({ batchItemFailures: [] });
    const rows = await rawRows('w');
    expect(rows).toHaveLength(9);
    // The copies are the same records: same ingest_seq, event time and values (only ingested_at may differ).
    const bySeq = new Map<string, Set<string>>();
    for (const r of rows) bySeq.set(r.ingestSeq, (bySeq.get(r.ingestSeq) ?? new Set()).add(JSON.stringify([r.entityKey, r.eventTimeMs, r.values])));
    expect(bySeq.size).toBe(6);
    expect([...bySeq.values()].every((variants) => variants.size === 1)).toBe(true);
    expect(await pointInTime('w')).toEqual(served);
    // Replaying the given-up first half rewrites the attempt's files with its own records only: the copies are gone.
    expect(await handle({ Records: batch.Records.slice(0, 3) })).toEqual({ batchItemFailures: [] });
    expect((await rawRows('w')).map((r) => r.values.n).sort((a, b) => a - b)).toEqual([1, 2, 3, 10, 20, 30]);
    expect(await pointInTime('w')).toEqual(served);
  });
});
