import { spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordCommand,
  ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { assertValidFeatureView, FeatureDtype, FeatureStatus, FeatureViewSpec, offlinePartitionPrefix } from '../../lib/features/spec';
import { putFeatureRecords } from '../../runtime/aws/feature-producer';
import { getObjectBytes, listObjectKeys, readOfflineRows } from '../../runtime/aws/offline-store';
import { OnlineFeatureClient } from '../../runtime/aws/online-store';
import { parseOnFailureMessages, replayFailedBatches } from '../../runtime/aws/stream-replay';
import { MaterializerMetrics } from '../../runtime/core/metrics';
import type { OfflineRow } from '../../runtime/core/offline-parquet';
import { createMaterializer, materializerFromEnvironment } from '../../runtime/handlers/materializer-handler';
import { LocalService, localClientConfig, startDynalite, startKinesalite, startS3rver, createOnlineTable } from '../support/local-aws';

const TABLE = 'features_online';
const BUCKET = 'features-offline';
const STREAM = 'feature-records';
/** Event times an hour ago: valid (not in the future), well within the TTL. */
const T = Date.now() - 3_600_000;

const customer: FeatureViewSpec = assertValidFeatureView({
  specFormat: 1, name: 'customer_txn_stats', version: 1, eventTimeField: 'event_time', ttlSeconds: 86_400, freshnessSeconds: 300,
  entities: [{ name: 'customer', joinKeys: ['customer_id'] }],
  features: [
    { name: 'txn_count', dtype: FeatureDtype.INT64, fallback: 0 },
    { name: 'device_type', dtype: FeatureDtype.STRING },
    { name: 'embedding', dtype: FeatureDtype.FLOAT32_VECTOR, dimension: 2 },
    { name: 'notes', dtype: FeatureDtype.STRING },
  ],
});
const merchant: FeatureViewSpec = assertValidFeatureView({
  specFormat: 1, name: 'merchant_risk', version: 2, eventTimeField: 'ts', ttlSeconds: 86_400, freshnessSeconds: 300,
  entities: [{ name: 'merchant', joinKeys: ['merchant_id', 'country'] }],
  features: [{ name: 'risk_score', dtype: FeatureDtype.FLOAT64 }],
});
const VIEWS = [customer, merchant];

let dynalite: LocalService;
let kinesalite: LocalService;
let s3rver: LocalService;
let dynamo: DynamoDBClient;
let kinesis: KinesisClient;
let s3: S3Client;
let streamArn: string;
let shardId: string;
/** Sequence number of the last record read from the stream. */
let readUpTo: string | undefined;

beforeAll(async () => {
  [dynalite, kinesalite, s3rver] = await Promise.all([startDynalite(), startKinesalite(), startS3rver()]);
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  kinesis = new KinesisClient(localClientConfig(kinesalite.endpoint));
  s3 = new S3Client(localClientConfig(s3rver.endpoint));
  await createTable();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await kinesis.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
  for (;;) {
    const { StreamDescription: stream } = await kinesis.send(new DescribeStreamCommand({ StreamName: STREAM }));
    if (stream?.StreamStatus === 'ACTIVE') {
      streamArn = stream.StreamARN!;
      shardId = stream.Shards![0].ShardId!;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
});

afterAll(async () => {
  for (const client of [dynamo, kinesis, s3]) client?.destroy();
  await Promise.all([dynalite?.stop(), kinesalite?.stop(), s3rver?.stop()]);
});

async function createTable(): Promise<void> {
  await createOnlineTable(dynamo, TABLE);
}

/** Puts raw bytes on the stream, as a producer that ignores the envelope contract would. */
async function putRaw(data: string | Buffer): Promise<void> {
  await kinesis.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: 'raw', Data: Buffer.from(data) }));
}

/**
 * Reads records from the shard and shapes them exactly as Lambda's event source mapping delivers them.
 * Without `atSequenceNumber`, reads what was put since the last read.
 */
async function readEvent(atSequenceNumber?: string): Promise<KinesisStreamEvent> {
  const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({
    StreamName: STREAM, ShardId: shardId,
    ...(atSequenceNumber ? { ShardIteratorType: ShardIteratorType.AT_SEQUENCE_NUMBER, StartingSequenceNumber: atSequenceNumber }
      : readUpTo ? { ShardIteratorType: ShardIteratorType.AFTER_SEQUENCE_NUMBER, StartingSequenceNumber: readUpTo }
        : { ShardIteratorType: ShardIteratorType.TRIM_HORIZON }),
  }));
  const { Records = [] } = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 10_000 }));
  if (Records.length > 0) readUpTo = Records[Records.length - 1].SequenceNumber;
  return {
    Records: Records.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.PartitionKey!,
        sequenceNumber: r.SequenceNumber!,
        data: Buffer.from(r.Data!).toString('base64'),
        approximateArrivalTimestamp: r.ApproximateArrivalTimestamp!.getTime() / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${r.SequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/feature-materializer',
      awsRegion: 'us-east-1',
      eventSourceARN: streamArn,
    })),
  };
}

/** Decoded envelope of an event record, to find records by content. */
function envelopeOf(event: KinesisStreamEvent, i: number): string {
  return Buffer.from(event.Records[i].kinesis.data, 'base64').toString('utf8');
}

function sequenceOf(event: KinesisStreamEvent, predicate: (envelope: string) => boolean): string {
  const i = event.Records.findIndex((_, j) => predicate(envelopeOf(event, j)));
  if (i < 0) throw new Error('no such record in the event');
  return event.Records[i].kinesis.sequenceNumber;
}

/** A materializer over the loopback clients, collecting its log lines. */
function materializer(bucketName = BUCKET) {
  const logs: string[] = [];
  const handle = createMaterializer({ views: VIEWS, dynamo, s3, tableName: TABLE, bucketName, log: (line) => logs.push(line) });
  return { handle, logs };
}

/** Asserts a view's `NewestEventAgeMs` is the write time (within `window`) less `newestEventTimeMs`. */
function expectAgeOf(viewMetrics: Record<string, number>, newestEventTimeMs: number, window: { from: number; to: number }): void {
  expect(viewMetrics[MaterializerMetrics.NEWEST_EVENT_AGE_MS]).toBeGreaterThanOrEqual(window.from - newestEventTimeMs);
  expect(viewMetrics[MaterializerMetrics.NEWEST_EVENT_AGE_MS]).toBeLessThanOrEqual(window.to - newestEventTimeMs);
}

/** Metric values by view from the EMF lines of a run. */
function metricsOf(logs: readonly string[]): Record<string, Record<string, number>> {
  const byView: Record<string, Record<string, number>> = {};
  for (const line of logs.map((l) => JSON.parse(l)).filter((l) => l._aws)) {
    const names: string[] = line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
    byView[line.FeatureView] = Object.fromEntries(names.map((n) => [n, line[n]]));
  }
  return byView;
}

async function deadLetters(bucket = BUCKET): Promise<Map<string, any>> {
  const letters = new Map<string, any>();
  for (const key of await listObjectKeys(s3, bucket, 'dead-letter/')) letters.set(key, JSON.parse((await getObjectBytes(s3, bucket, key)).toString('utf8')));
  return letters;
}

function byEntity(rows: readonly OfflineRow[], entityKey: string): OfflineRow[] {
  return rows.filter((r) => r.entityKey === entityKey);
}

const reader = () => new OnlineFeatureClient({ client: dynamo, tableName: TABLE });

/** Runs a command from the repository root with `input` on its stdin; resolves with its exit status and output. */
function run(command: string, args: string[], input: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: path.join(__dirname, '../..'), env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk; });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

/**
 * A real network fault for one partition: an HTTP proxy in front of dynalite that drops the connection of every
 * request mentioning the poisoned key (as a hot partition that cannot be reached) and forwards everything else.
 */
async function partitionFault(target: string): Promise<{ endpoint: string; poison(key?: string): void; close(): Promise<void> }> {
  let poisoned: string | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (poisoned !== undefined && body.includes(poisoned)) {
        req.socket.destroy();
        return;
      }
      http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upstream) => {
        res.writeHead(upstream.statusCode!, upstream.headers);
        upstream.pipe(res);
      }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    poison: (key) => { poisoned = key; },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('feature materializer (Kinesis → DynamoDB + S3 on loopback)', () => {
  let firstBatch: KinesisStreamEvent;

  test('stores the newest event online, every valid row offline as Parquet, and dead-letters invalid records', async () => {
    await putFeatureRecords(kinesis, STREAM, customer, [
      { customer_id: 'c1', event_time: T, txn_count: 1 },
      { customer_id: 'c1', event_time: T + 2000, txn_count: 3, device_type: 'ios' }, // newest of c1
      { customer_id: 'c1', event_time: T + 1000, txn_count: 2 }, // out of order
      { customer_id: 'c2', event_time: new Date(T).toISOString(), txn_count: 5, embedding: [0.5, 1.5] },
      { customer_id: 'c2', event_time: T, txn_count: 6 }, // replay of c2's event time: must not overwrite
    ]);
    await putFeatureRecords(kinesis, STREAM, merchant, [
      { merchant_id: 'm1', country: 'FR', ts: T, risk_score: 0.25 },
      { merchant_id: 'm9', country: 'FR', ts: T, risk_score: 1e300 }, // finite, but beyond what the online store holds: refused at validation
    ]);
    await putRaw('{"view": "customer_txn_stats", not json');
    await putRaw(JSON.stringify({ view: 'ghost', version: 1, record: { customer_id: 'c9' } }));
    await putRaw(JSON.stringify({ view: 'customer_txn_stats', version: 9, record: { customer_id: 'c9', event_time: T } }));
    await putRaw(JSON.stringify({ view: 'customer_txn_stats', version: 1, record: { event_time: T, txn_count: '3', colour: 'red' } }));
    await putRaw(JSON.stringify({ view: 'customer_txn_stats', version: 1, record: { customer_id: 'c9', event_time: Date.now() + 3_600_000 } }));
    await putRaw(JSON.stringify([1, 2]));
    await putRaw(Buffer.from([0xff, 0xfe, 0x7b]));
    // Valid for the view, but over DynamoDB's 400 KB item limit: refused online, so dead-lettered, not retried forever.
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'c3', event_time: T, notes: 'n'.repeat(420 * 1024) }]);

    firstBatch = await readEvent();
    expect(firstBatch.Records).toHaveLength(15);
    const { handle, logs } = materializer();
    const writeWindow = { from: Date.now(), to: 0 };
    expect(await handle(firstBatch)).toEqual<KinesisStreamBatchResponse>({ batchItemFailures: [] });
    writeWindow.to = Date.now();

    // Online: the newest event of each entity, whatever the arrival order; a replayed event time never overwrites.
    const online = await reader().getOnlineFeatures({
      views: VIEWS,
      entities: [{ customer_id: 'c1', merchant_id: 'm1', country: 'FR' }, { customer_id: 'c2', merchant_id: 'm2', country: 'FR' }, { customer_id: 'c3', merchant_id: 'm1', country: 'US' }],
      featureRefs: ['customer_txn_stats:txn_count', 'customer_txn_stats:device_type', 'customer_txn_stats:embedding', 'merchant_risk:risk_score'],
    });
    expect(online.entities.map((e) => e.values)).toEqual([
      { 'customer_txn_stats:txn_count': 3, 'customer_txn_stats:device_type': 'ios', 'customer_txn_stats:embedding': null, 'merchant_risk:risk_score': 0.25 },
      { 'customer_txn_stats:txn_count': 5, 'customer_txn_stats:device_type': null, 'customer_txn_stats:embedding': [0.5, 1.5], 'merchant_risk:risk_score': null },
      { 'customer_txn_stats:txn_count': 0, 'customer_txn_stats:device_type': null, 'customer_txn_stats:embedding': null, 'merchant_risk:risk_score': null },
    ]);
    expect(online.entities[0].eventTimes['customer_txn_stats:txn_count']).toBe(T + 2000);
    expect(online.entities[2].statuses['customer_txn_stats:txn_count']).toBe(FeatureStatus.FALLBACK);

    // Offline: exactly the rows offered online (out-of-order and replayed ones included: it is the full history).
    const rows = await readOfflineRows(s3, BUCKET, customer);
    expect(rows.map((r) => [r.entityKey, r.eventTimeMs, r.values.txn_count]).sort()).toEqual([
      ['customer_id=c1', T, 1], ['customer_id=c1', T + 1000, 2], ['customer_id=c1', T + 2000, 3], ['customer_id=c2', T, 5], ['customer_id=c2', T, 6],
    ].sort());
    const c2 = byEntity(rows, 'customer_id=c2').find((r) => r.values.txn_count === 5)!;
    expect(c2).toMatchObject({ view: 'customer_txn_stats', version: 1, joinKeys: { customer_id: 'c2' }, values: { embedding: [0.5, 1.5], device_type: null, notes: null } });
    expect(c2.ingestSeq).toBe(`${shardId}:${sequenceOf(firstBatch, (e) => e.includes('"txn_count":5'))}`);
    expect(new Set(rows.map((r) => r.ingestedAtMs)).size).toBe(1);
    const firstCustomerSeq = firstBatch.Records[0].kinesis.sequenceNumber;
    const customerKeys = await listObjectKeys(s3, BUCKET, 'offline/customer_txn_stats/');
    expect(customerKeys).toContain(`${offlinePartitionPrefix(customer, T)}${shardId}-${firstCustomerSeq}.parquet`);
    expect(await readOfflineRows(s3, BUCKET, merchant)).toEqual([expect.objectContaining({
      entityKey: 'merchant_id=m1|country=FR', joinKeys: { merchant_id: 'm1', country: 'FR' }, eventTimeMs: T, values: { risk_score: 0.25 },
    })]);

    // Dead letters: one per invalid record, under a deterministic key, with every reason and the raw data.
    const letters = await deadLetters();
    expect(letters.size).toBe(9);
    const letterOf = (predicate: (body: any) => boolean) => [...letters.entries()].find(([, body]) => predicate(body))!;
    for (const [key, body] of letters) {
      expect(key).toBe(`dead-letter/${key.split('/')[1]}/${body.approximateArrivalTimestamp.slice(0, 10)}/${shardId}-${body.sequenceNumber}.json`);
      expect(body.shardId).toBe(shardId);
    }
    const notJson = letterOf((b) => b.data === '{"view": "customer_txn_stats", not json');
    expect(notJson[0]).toMatch(/^dead-letter\/_unknown\//);
    expect(notJson[1].reasons).toEqual([expect.stringMatching(/^data: not UTF-8 JSON .*records must be UTF-8 JSON envelopes/)]);
    const ghost = letterOf((b) => b.view === 'ghost');
    expect(ghost[0]).toMatch(/^dead-letter\/_unknown\//);
    expect(ghost[1].reasons).toEqual([expect.stringMatching(/^view: "ghost" is not a view this materializer serves \(customer_txn_stats, merchant_risk\)/)]);
    const version = letterOf((b) => b.version === 9);
    expect(version[0]).toMatch(/^dead-letter\/customer_txn_stats\//);
    expect(version[1].reasons).toEqual([expect.stringMatching(/^version: view 'customer_txn_stats' is served at version 1, not 9/)]);
    expect(letterOf((b) => b.data?.includes('colour'))[1].reasons).toEqual([
      expect.stringMatching(/^record\.customer_id: join key must be/), expect.stringMatching(/^record\.txn_count: expected an int64/),
      expect.stringMatching(/^record\.colour: unknown field/),
    ]);
    expect(letterOf((b) => b.data?.includes('c9') && b.version === 1 && b.view === 'customer_txn_stats')[1].reasons)
      .toEqual([expect.stringMatching(/^record\.event_time: .* in the future/)]);
    expect(letterOf((b) => b.data === '[1,2]')[1].reasons).toEqual([expect.stringMatching(/^data: expected a JSON object envelope/)]);
    expect(letterOf((b) => b.dataBase64 !== undefined)[1]).toMatchObject({ dataBase64: Buffer.from([0xff, 0xfe, 0x7b]).toString('base64') });
    const refused = letterOf((b) => b.data?.includes('"c3"'));
    expect(refused[0]).toMatch(/^dead-letter\/customer_txn_stats\//);
    expect(refused[1].reasons).toEqual([expect.stringMatching(/^online store refused the row: Item size has exceeded the maximum allowed size/)]);

    expect(letterOf((b) => b.view === 'merchant_risk')[1].reasons).toEqual([expect.stringMatching(/^record\.risk_score: 1e\+300 is outside the range the online store holds/)]);

    // Accounting, from the EMF metrics: records in = rows stored + dead-lettered; applied + stale = stored.
    const metrics = metricsOf(logs);
    expect(metrics.customer_txn_stats).toMatchObject({
      [MaterializerMetrics.RECORDS_RECEIVED]: 9, [MaterializerMetrics.ROWS_STORED]: 5, [MaterializerMetrics.ONLINE_APPLIED]: 2,
      [MaterializerMetrics.ONLINE_STALE]: 3, [MaterializerMetrics.DEAD_LETTERED]: 4,
    });
    expect(metrics.merchant_risk).toMatchObject({ RecordsReceived: 2, RowsStored: 1, OnlineRowsApplied: 1, OnlineRowsStale: 0, RecordsDeadLettered: 1 });
    expect(metrics._unknown).toMatchObject({ RecordsReceived: 4, RowsStored: 0, RecordsDeadLettered: 4 });
    expect(metrics._unknown[MaterializerMetrics.FRESHNESS_LAG_MS]).toBeUndefined();
    expect(metrics.customer_txn_stats[MaterializerMetrics.FRESHNESS_LAG_MS]).toBeGreaterThanOrEqual(3_600_000 - 2000);
    // How old the freshest stored value is: the write time less the newest event time stored (c1's T + 2000; the
    // future-dated c9 was dead-lettered), where the freshness lag is the oldest applied row's.
    expectAgeOf(metrics.customer_txn_stats, T + 2000, writeWindow);
    expectAgeOf(metrics.merchant_risk, T, writeWindow);
    expect(metrics._unknown[MaterializerMetrics.NEWEST_EVENT_AGE_MS]).toBeUndefined();
    expect(Object.values(metrics).reduce((sum, m) => sum + m.RecordsReceived, 0)).toBe(firstBatch.Records.length);
  });

  test('a redelivered batch changes nothing: stale online, offline files rewritten in place, dead letters not duplicated', async () => {
    const before = { customer: await readOfflineRows(s3, BUCKET, customer), keys: await listObjectKeys(s3, BUCKET, ''), letters: await deadLetters() };
    const { handle, logs } = materializer();
    expect(await handle(firstBatch)).toEqual({ batchItemFailures: [] });
    expect(await listObjectKeys(s3, BUCKET, '')).toEqual(before.keys);
    const after = await readOfflineRows(s3, BUCKET, customer);
    expect(after.map((r) => [r.entityKey, r.eventTimeMs, r.values.txn_count, r.ingestSeq]))
      .toEqual(before.customer.map((r) => [r.entityKey, r.eventTimeMs, r.values.txn_count, r.ingestSeq]));
    expect(metricsOf(logs).customer_txn_stats).toMatchObject({ RecordsReceived: 9, RowsStored: 5, OnlineRowsApplied: 0, OnlineRowsStale: 5, RecordsDeadLettered: 4 });
    // Stale rows are stored rows too: the newest event time stored is still T + 2000, only older now.
    expect(metricsOf(logs).customer_txn_stats[MaterializerMetrics.NEWEST_EVENT_AGE_MS]).toBeGreaterThanOrEqual(3_600_000 - 2000);
    const online = await reader().getOnlineFeatures({ views: VIEWS, entities: [{ customer_id: 'c1' }], featureRefs: ['customer_txn_stats:txn_count'] });
    expect(online.entities[0].values['customer_txn_stats:txn_count']).toBe(3);
  });

  test('a DynamoDB outage stops the batch at the first valid record; the retry from it stores each row once', async () => {
    await putRaw(JSON.stringify({ view: 'ghost', version: 1, record: { n: 'before' } }));
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'd1', event_time: T, txn_count: 10 }, { customer_id: 'd2', event_time: T, txn_count: 20 }]);
    await putRaw(JSON.stringify({ view: 'ghost', version: 1, record: { n: 'after' } }));
    const batch = await readEvent();
    expect(batch.Records).toHaveLength(4);

    await dynamo.send(new DeleteTableCommand({ TableName: TABLE })); // a real fault: every online write now fails
    const { handle, logs } = materializer();
    const response = await handle(batch);
    const firstValid = batch.Records[1].kinesis.sequenceNumber;
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: firstValid }] });
    expect(logs.map((l) => JSON.parse(l)).find((l) => l.level === 'WARN').failures[0]).toMatch(/online write of customer_txn_stats#1#customer_id=d1: ResourceNotFoundException/);
    // Only the record before the failure is committed: its dead letter is written, nothing after it.
    expect(metricsOf(logs)).toEqual({ _unknown: expect.objectContaining({ RecordsReceived: 1, RecordsDeadLettered: 1 }) });
    const letters = [...(await deadLetters()).values()];
    expect(letters.filter((b) => b.data?.includes('"before"'))).toHaveLength(1);
    expect(letters.filter((b) => b.data?.includes('"after"'))).toHaveLength(0);
    expect(byEntity(await readOfflineRows(s3, BUCKET, customer), 'customer_id=d1')).toHaveLength(0);

    await createTable();
    const retry = await readEvent(firstValid);
    expect(retry.Records.map((r) => r.kinesis.sequenceNumber)).toEqual(batch.Records.slice(1).map((r) => r.kinesis.sequenceNumber));
    const again = materializer();
    expect(await again.handle(retry)).toEqual({ batchItemFailures: [] });
    const rows = await readOfflineRows(s3, BUCKET, customer);
    expect(byEntity(rows, 'customer_id=d1').map((r) => r.values.txn_count)).toEqual([10]);
    expect(byEntity(rows, 'customer_id=d2').map((r) => r.values.txn_count)).toEqual([20]);
    expect([...(await deadLetters()).values()].filter((b) => b.data?.includes('"after"'))).toHaveLength(1);
    expect(metricsOf(again.logs).customer_txn_stats).toMatchObject({ RecordsReceived: 2, RowsStored: 2, OnlineRowsApplied: 2 });
    const online = await reader().getOnlineFeatures({ views: VIEWS, entities: [{ customer_id: 'd1' }, { customer_id: 'd2' }], featureRefs: ['customer_txn_stats:txn_count'] });
    expect(online.entities.map((e) => e.values['customer_txn_stats:txn_count'])).toEqual([10, 20]);
  });

  test('a failure mid-batch commits only the records before it; rows written online after it reach offline once, by the retry', async () => {
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'g1', event_time: T, txn_count: 1 }]);
    await putRaw(JSON.stringify({ view: 'ghost', version: 1, record: { g: 'x' } }));
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'g2', event_time: T, txn_count: 2 }, { customer_id: 'g3', event_time: T, txn_count: 3 }]);
    await putRaw(JSON.stringify({ view: 'ghost', version: 1, record: { g: 'y' } }));
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'g1', event_time: T + 1, txn_count: 11 }]);
    const batch = await readEvent();
    const fault = await partitionFault(dynalite.endpoint);
    const faulty = new DynamoDBClient(localClientConfig(fault.endpoint));
    try {
      fault.poison('customer_txn_stats#1#customer_id=g2');
      const logs: string[] = [];
      const handle = createMaterializer({ views: VIEWS, dynamo: faulty, s3, tableName: TABLE, bucketName: BUCKET, log: (line) => logs.push(line) });
      const g2 = batch.Records[2].kinesis.sequenceNumber;
      expect(await handle(batch)).toEqual({ batchItemFailures: [{ itemIdentifier: g2 }] });
      // g3 and g1's newer event reached the online store in this attempt...
      const online = await reader().getOnlineFeatures({ views: VIEWS, entities: [{ customer_id: 'g1' }, { customer_id: 'g2' }, { customer_id: 'g3' }], featureRefs: ['customer_txn_stats:txn_count'] });
      expect(online.entities.map((e) => e.statuses['customer_txn_stats:txn_count'])).toEqual([FeatureStatus.PRESENT, FeatureStatus.FALLBACK, FeatureStatus.PRESENT]);
      // ...but only the records before g2 are committed: g1's first event offline, the first dead letter.
      expect(metricsOf(logs)).toEqual({
        customer_txn_stats: expect.objectContaining({ RecordsReceived: 1, RowsStored: 1, OnlineRowsApplied: 0, OnlineRowsStale: 1 }),
        _unknown: expect.objectContaining({ RecordsReceived: 1, RecordsDeadLettered: 1 }),
      });
      const offline = async () => (await readOfflineRows(s3, BUCKET, customer)).filter((r) => r.entityKey.startsWith('customer_id=g')).map((r) => r.values.txn_count);
      expect(await offline()).toEqual([1]);
      const ghostLetters = async () => [...(await deadLetters()).values()].filter((b) => b.view === 'ghost' && b.data.includes('"g"')).map((b) => JSON.parse(b.data).record.g);
      expect(await ghostLetters()).toEqual(['x']);

      fault.poison(undefined);
      const retry = await readEvent(g2);
      expect(await handle(retry)).toEqual({ batchItemFailures: [] });
      expect((await offline()).sort((a, b) => a - b)).toEqual([1, 2, 3, 11]);
      expect((await ghostLetters()).sort()).toEqual(['x', 'y']);
      expect(metricsOf(logs.slice(2)).customer_txn_stats).toMatchObject({ RecordsReceived: 3, RowsStored: 3, OnlineRowsApplied: 1, OnlineRowsStale: 2 });
    } finally {
      faulty.destroy();
      await fault.close();
    }
  });

  test('an S3 outage after the online writes: the retry replays them as stale and writes each offline row once', async () => {
    const bucket = 'features-offline-late'; // does not exist yet: a real NoSuchBucket fault
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'e1', event_time: T, txn_count: 1 }]);
    await putRaw('not json either');
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'e2', event_time: T, txn_count: 2 }, { customer_id: 'e1', event_time: T + 5, txn_count: 3 }]);
    const batch = await readEvent();

    const failed = materializer(bucket);
    expect(await failed.handle(batch)).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0].kinesis.sequenceNumber }] });
    expect(metricsOf(failed.logs)).toEqual({});
    const warning = failed.logs.map((l) => JSON.parse(l)).find((l) => l.level === 'WARN');
    expect(warning.failures).toEqual(expect.arrayContaining([
      expect.stringMatching(/dead letter dead-letter\/_unknown\/.*NoSuchBucket/), expect.stringMatching(/offline file offline\/customer_txn_stats\/version=1\/.*NoSuchBucket/),
    ]));
    // The online writes happened before S3 failed...
    const online = await reader().getOnlineFeatures({ views: VIEWS, entities: [{ customer_id: 'e1' }, { customer_id: 'e2' }], featureRefs: ['customer_txn_stats:txn_count'] });
    expect(online.entities.map((e) => e.values['customer_txn_stats:txn_count'])).toEqual([3, 2]);

    // ...so the retry finds them stale, and still stores every row offline exactly once.
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const retried = materializer(bucket);
    expect(await retried.handle(await readEvent(batch.Records[0].kinesis.sequenceNumber))).toEqual({ batchItemFailures: [] });
    expect(metricsOf(retried.logs).customer_txn_stats).toMatchObject({ RecordsReceived: 3, RowsStored: 3, OnlineRowsApplied: 0, OnlineRowsStale: 3 });
    const rows = await readOfflineRows(s3, bucket, customer);
    expect(rows.map((r) => [r.entityKey, r.values.txn_count]).sort()).toEqual([['customer_id=e1', 1], ['customer_id=e1', 3], ['customer_id=e2', 2]]);
    expect((await deadLetters(bucket)).size).toBe(1);
  });

  test('the bundled Lambda handler runs from its environment against the loopback services', async () => {
    await putFeatureRecords(kinesis, STREAM, merchant, [{ merchant_id: 'm7', country: 'DE', ts: T, risk_score: 0.7 }]);
    await putRaw(JSON.stringify({ view: 'merchant_risk', version: 2, record: { merchant_id: 'm8', ts: T } }));
    const event = await readEvent();
    const env = {
      FEATURE_VIEWS: JSON.stringify(VIEWS), ONLINE_TABLE_NAME: TABLE, OFFLINE_BUCKET_NAME: BUCKET, METRICS_NAMESPACE: 'MaterializerTest',
      AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint, AWS_ENDPOINT_URL_S3: s3rver.endpoint, S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED', AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const output: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => { output.push(String(chunk)); return true; });
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { handler } = require(path.join(__dirname, '../../assets/handlers/materializer-handler/index.js'));
      expect(await handler(event)).toEqual({ batchItemFailures: [] });
    } finally {
      stdout.mockRestore();
      process.env = saved;
    }
    const emf = output.map((l) => JSON.parse(l)).find((l) => l.FeatureView === 'merchant_risk');
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('MaterializerTest');
    expect(emf).toMatchObject({ RecordsReceived: 2, RowsStored: 1, RecordsDeadLettered: 1 });
    const online = await reader().getOnlineFeatures({ views: VIEWS, entities: [{ merchant_id: 'm7', country: 'DE' }], featureRefs: ['merchant_risk:risk_score'] });
    expect(online.entities[0].values).toEqual({ 'merchant_risk:risk_score': 0.7 });
    expect((await readOfflineRows(s3, BUCKET, merchant)).map((r) => r.entityKey)).toContain('merchant_id=m7|country=DE');
    expect([...(await deadLetters()).values()].filter((b) => b.data?.includes('"m8"'))[0].reasons).toEqual([expect.stringMatching(/^record\.country: join key must be/)]);
  });

  test('records that made whole batches throw are dead-lettered one by one; the rest of the batch is stored', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const envelope = (record: object) => JSON.stringify({ view: 'customer_txn_stats', version: 1, record });
    const killers: Array<[string, string | RegExp]> = [
      // encodeURIComponent throws on a lone surrogate (JSON.stringify escapes it as \ud800; JSON.parse restores it).
      [envelope({ customer_id: 'k\ud800', event_time: T }), 'record.customer_id: join key contains a lone UTF-16 surrogate at index 1 (not valid Unicode); send well-formed text'],
      // JSON.stringify inside an error message overflowed the stack on 5,000 levels.
      [`{"view": ${nested(5000)}, "version": 1, "record": {}}`, /^view: an array of 1 is not a view this materializer serves/],
      [`{"view": "customer_txn_stats", "version": ${nested(5000)}, "record": {}}`, /^version: view 'customer_txn_stats' is served at version 1, not an array of 1/],
      [`{"view": "customer_txn_stats", "version": 1, "record": {"customer_id": ${nested(5000)}, "event_time": ${T}}}`, 'record.customer_id: join key must be a non-empty string or an integer, got an array of 1'],
      [`{"view": "customer_txn_stats", "version": 1, "record": {"customer_id": "k2", "event_time": ${nested(5000)}}}`, /^record\.event_time: event time must be ISO-8601 .* got an array of 1$/],
      // toISOString throws beyond ±8.64e15 ms.
      [envelope({ customer_id: 'k3', event_time: 8.7e15 }), "record.event_time: event time 8700000000000000 ms since the epoch is more than 300000 ms in the future; check the producer's clock"],
      // Epoch seconds: 2026-01-01 was stored as 1970-01-21.
      [envelope({ customer_id: 'k4', event_time: 1767225600 }), /^record\.event_time: 1767225600 looks like epoch seconds .*send epoch milliseconds \(1767225600000\)/],
      // Before 1970: the Parquet encoder refused it after the online write, failing the batch at every retry.
      [envelope({ customer_id: 'k5', event_time: '1969-12-31T23:00:00Z' }), /^record\.event_time: event time 1969-12-31T23:00:00\.000Z is before 2020-01-01/],
    ];
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'ok1', event_time: T, txn_count: 1 }]);
    for (const [data] of killers) await putRaw(data);
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'ok2', event_time: T, txn_count: 2 }]);
    const batch = await readEvent();
    expect(batch.Records).toHaveLength(killers.length + 2);

    const { handle, logs } = materializer();
    expect(await handle(batch)).toEqual({ batchItemFailures: [] });
    const online = await reader().getOnlineFeatures({ views: VIEWS, entities: [{ customer_id: 'ok1' }, { customer_id: 'ok2' }], featureRefs: ['customer_txn_stats:txn_count'] });
    expect(online.entities.map((e) => e.statuses['customer_txn_stats:txn_count'])).toEqual([FeatureStatus.PRESENT, FeatureStatus.PRESENT]);
    expect(byEntity(await readOfflineRows(s3, BUCKET, customer), 'customer_id=ok2').map((r) => r.values.txn_count)).toEqual([2]);
    const letters = await deadLetters();
    killers.forEach(([, reason], i) => {
      const sequenceNumber = batch.Records[i + 1].kinesis.sequenceNumber;
      const letter = [...letters.values()].find((b) => b.sequenceNumber === sequenceNumber);
      expect(letter.reasons).toEqual([typeof reason === 'string' ? reason : expect.stringMatching(reason)]);
      expect(letter.data).toBe(killers[i][0]);
    });
    const metrics = metricsOf(logs);
    const received = Object.values(metrics).reduce((sum, m) => sum + m.RecordsReceived, 0);
    const storedOrDeadLettered = Object.values(metrics).reduce((sum, m) => sum + m.RowsStored + m.RecordsDeadLettered, 0);
    expect([received, storedOrDeadLettered]).toEqual([batch.Records.length, batch.Records.length]);
    expect(metrics.customer_txn_stats).toMatchObject({ RowsStored: 2, RecordsDeadLettered: killers.length - 1 });
  });

  test('`npm run replay` re-drives a batch Lambda gave up on from its on-failure message; replaying again changes nothing', async () => {
    await putRaw(JSON.stringify({ view: 'ghost', version: 1, record: { r: 'before' } }));
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'r1', event_time: T, txn_count: 1 }, { customer_id: 'r2', event_time: T, txn_count: 2 }]);
    await putRaw(JSON.stringify({ view: 'ghost', version: 1, record: { r: 'after' } }));
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'r1', event_time: T + 1, txn_count: 11 }]);
    const batch = await readEvent();
    await dynamo.send(new DeleteTableCommand({ TableName: TABLE })); // DynamoDB keeps failing: every retry stops at r1
    const failed = await materializer().handle(batch);
    const firstNotCommitted = batch.Records[1].kinesis.sequenceNumber;
    expect(failed).toEqual({ batchItemFailures: [{ itemIdentifier: firstNotCommitted }] });
    await createTable();

    // Retries exhausted, Lambda sends the position of what it retried (from the reported record on), not the records.
    const onFailure = {
      requestContext: { requestId: 'c9b8fa9f', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:materializer', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 6 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      version: '1.0', timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId, startSequenceNumber: firstNotCommitted, endSequenceNumber: batch.Records[4].kinesis.sequenceNumber,
        approximateArrivalOfFirstRecord: new Date().toISOString(), approximateArrivalOfLastRecord: new Date().toISOString(), batchSize: 4, streamArn,
      },
    };
    const received = { Messages: [{ MessageId: 'm-1', ReceiptHandle: 'receipt-1', MD5OfBody: 'x', Body: JSON.stringify(onFailure) }] };
    const environmentFile = path.join(os.tmpdir(), `materializer-env-${process.pid}.json`);
    fs.writeFileSync(environmentFile, JSON.stringify({ FEATURE_VIEWS: JSON.stringify(VIEWS), ONLINE_TABLE_NAME: TABLE, OFFLINE_BUCKET_NAME: BUCKET, S3_FORCE_PATH_STYLE: 'true' }));
    const keysBefore = await listObjectKeys(s3, BUCKET, '');
    try {
      // The documented command, as an operator runs it: messages on stdin (`aws sqs receive-message ... | npm run replay -- ...`).
      // Spawned asynchronously: the loopback services it talks to run in this process.
      const cli = await run(path.join(__dirname, '../../node_modules/.bin/tsx'), ['scripts/replay-failed-batches.ts', '--environment', environmentFile], JSON.stringify(received), {
        ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_ENDPOINT_URL_KINESIS: kinesalite.endpoint, AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint, AWS_ENDPOINT_URL_S3: s3rver.endpoint,
        AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED', AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      });
      expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: '' });
      const lines = cli.stdout.split('\n');
      expect(lines.filter((l) => l.startsWith('{"status"')).map((l) => JSON.parse(l))).toEqual([{
        status: 'replayed', records: 4, shardId, startSequenceNumber: firstNotCommitted, endSequenceNumber: batch.Records[4].kinesis.sequenceNumber, batchSize: 4, streamArn,
      }]);
      expect(lines).toContain("  aws sqs delete-message --queue-url <on-failure queue> --receipt-handle 'receipt-1'");
    } finally {
      fs.rmSync(environmentFile, { force: true });
    }

    const online = async () => (await reader().getOnlineFeatures({ views: VIEWS, entities: [{ customer_id: 'r1' }, { customer_id: 'r2' }], featureRefs: ['customer_txn_stats:txn_count'] }))
      .entities.map((e) => e.values['customer_txn_stats:txn_count']);
    const offline = async () => (await readOfflineRows(s3, BUCKET, customer)).filter((r) => /^customer_id=r\d$/.test(r.entityKey)).map((r) => `${r.entityKey}:${r.values.txn_count}`).sort();
    const ghostLetters = async () => [...(await deadLetters()).values()].filter((b) => b.view === 'ghost' && b.data.includes('"r"')).map((b) => JSON.parse(b.data).record.r).sort();
    expect(await online()).toEqual([11, 2]);
    expect(await offline()).toEqual(['customer_id=r1:1', 'customer_id=r1:11', 'customer_id=r2:2']);
    expect(await ghostLetters()).toEqual(['after', 'before']);
    const keysAfter = await listObjectKeys(s3, BUCKET, '');

    // A second replay of the same message (a message received twice): nothing new, nothing duplicated.
    const again = materializer();
    const [outcome] = await replayFailedBatches(parseOnFailureMessages(JSON.stringify(received)), () => kinesis, again.handle);
    expect(outcome).toMatchObject({ status: 'replayed', records: 4, message: { receiptHandle: 'receipt-1', condition: 'RetryAttemptsExhausted' } });
    expect(metricsOf(again.logs).customer_txn_stats).toMatchObject({ RecordsReceived: 3, RowsStored: 3, OnlineRowsApplied: 0, OnlineRowsStale: 3 });
    expect(await listObjectKeys(s3, BUCKET, '')).toEqual(keysAfter);
    expect(keysAfter.length).toBeGreaterThan(keysBefore.length);
    expect(await offline()).toEqual(['customer_id=r1:1', 'customer_id=r1:11', 'customer_id=r2:2']);
    expect(await online()).toEqual([11, 2]);
  });

  test('replay refuses what it cannot re-drive, naming the message, the field and what is lost', async () => {
    expect(() => parseOnFailureMessages('{"requestContext": {}}')).toThrow(/message: no KinesisBatchInfo; pass the on-failure messages/);
    expect(() => parseOnFailureMessages(JSON.stringify([{ KinesisBatchInfo: { shardId: 's', startSequenceNumber: '2', endSequenceNumber: '1', batchSize: 1, streamArn } },
      { KinesisBatchInfo: { shardId: 1, startSequenceNumber: 'x', endSequenceNumber: '1', batchSize: 0, streamArn: 'arn:aws:sqs:us-east-1:123456789012:q' } }])))
      .toThrow(/message 1\.1: KinesisBatchInfo\.startSequenceNumber is after endSequenceNumber[\s\S]*message 1\.2: KinesisBatchInfo\.shardId must be a string[\s\S]*startSequenceNumber must be a decimal[\s\S]*batchSize must be a positive integer[\s\S]*streamArn 'arn:aws:sqs:us-east-1:123456789012:q' is not a Kinesis stream ARN/);
    expect(() => parseOnFailureMessages('{"Messages": []}')).toThrow(/no on-failure messages in the input/);
    // A range the stream does not hold (as after its retention): reported as lost, and the next message still runs.
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'r3', event_time: T, txn_count: 3 }]);
    const [record] = (await readEvent()).Records;
    const info = (start: string) => ({ KinesisBatchInfo: { shardId, startSequenceNumber: start, endSequenceNumber: record.kinesis.sequenceNumber, batchSize: 1, streamArn } });
    const { handle } = materializer();
    const outcomes = await replayFailedBatches(parseOnFailureMessages(`${JSON.stringify(info('1'))}\n${JSON.stringify(info(record.kinesis.sequenceNumber))}\n`), () => kinesis, handle);
    expect(outcomes.map((o) => o.status)).toEqual(['failed', 'replayed']);
    expect(outcomes[0].error).toMatch(new RegExp(`^${shardId} 1\\.\\.${record.kinesis.sequenceNumber}: cannot read it from stream 'feature-records' .* a batch older than the stream's retention is lost$`));
    // A range whose end the shard does not hold: reported, never half-run.
    const beyond = { KinesisBatchInfo: { ...info(record.kinesis.sequenceNumber).KinesisBatchInfo, endSequenceNumber: (BigInt(record.kinesis.sequenceNumber) + 1n).toString() } };
    const [partial] = await replayFailedBatches(parseOnFailureMessages(JSON.stringify(beyond)), () => kinesis, handle);
    expect(partial).toMatchObject({ status: 'failed', records: 0, error: expect.stringMatching(/: read 1 records but not the last one; retry the replay$/) });
  });

  test('replay reads each message from its own region, and reports a range that does not hold batchSize records', async () => {
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'rg1', event_time: T, txn_count: 1 }, { customer_id: 'rg2', event_time: T, txn_count: 2 }]);
    const records = (await readEvent()).Records;
    const message = (region: string, batchSize: number) => ({ KinesisBatchInfo: {
      shardId, startSequenceNumber: records[0].kinesis.sequenceNumber, endSequenceNumber: records[1].kinesis.sequenceNumber, batchSize,
      // kinesalite serves any region: the stream is the same, the client reading it must be the message's region's.
      streamArn: streamArn.replace(/^(arn:aws:kinesis:)[a-z0-9-]+/, `$1${region}`),
    } });
    const reads: Array<[string, string]> = [];
    const clients: KinesisClient[] = [];
    const kinesisFor = (region: string) => {
      const client = new KinesisClient({ ...localClientConfig(kinesalite.endpoint), region });
      clients.push(client);
      client.middlewareStack.add((next, context) => async (args) => {
        reads.push([context.commandName!, await client.config.region()]);
        return next(args);
      }, { step: 'initialize' });
      return client;
    };
    const { handle } = materializer();
    const outcomes = await replayFailedBatches(parseOnFailureMessages([message('eu-west-1', 2), message('us-east-1', 3)].map((m) => JSON.stringify(m)).join('\n')), kinesisFor, handle);
    expect(outcomes.map((o) => [o.status, o.records, o.warning])).toEqual([
      ['replayed', 2, undefined],
      ['replayed', 2, 'the range holds 2 records but the message says batchSize 3; check that no other message covers these records'],
    ]);
    expect(reads).toEqual([
      ['GetShardIteratorCommand', 'eu-west-1'], ['GetRecordsCommand', 'eu-west-1'], ['GetShardIteratorCommand', 'us-east-1'], ['GetRecordsCommand', 'us-east-1'],
    ]);
    for (const client of clients) client.destroy();
  });

  test('replay pauses between empty reads (Kinesis allows 5 reads per second per shard)', async () => {
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'rp1', event_time: T, txn_count: 1 }]);
    const [record] = (await readEvent()).Records;
    // A stretch of the shard with no records, which real Kinesis answers with empty pages and MillisBehindLatest > 0
    // (kinesalite cannot): a proxy answers the first three GetRecords so and forwards the rest.
    const reads: number[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.headers['x-amz-target'] === 'Kinesis_20131202.GetRecords') {
          reads.push(performance.now());
          if (reads.length <= 3) {
            res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
            res.end(JSON.stringify({ Records: [], MillisBehindLatest: 60_000, NextShardIterator: JSON.parse(body.toString()).ShardIterator }));
            return;
          }
        }
        http.request(`${kinesalite.endpoint}${req.url}`, { method: req.method, headers: req.headers }, (upstream) => {
          res.writeHead(upstream.statusCode!, upstream.headers);
          upstream.pipe(res);
        }).end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxied = new KinesisClient(localClientConfig(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    try {
      const info = { KinesisBatchInfo: { shardId, startSequenceNumber: record.kinesis.sequenceNumber, endSequenceNumber: record.kinesis.sequenceNumber, batchSize: 1, streamArn } };
      const [outcome] = await replayFailedBatches(parseOnFailureMessages(JSON.stringify(info)), () => proxied, materializer().handle);
      expect(outcome).toMatchObject({ status: 'replayed', records: 1 });
      expect(reads).toHaveLength(4);
      // The default pause (200 ms) after each empty read: a lower bound, as timers never fire early.
      const gaps = reads.slice(1).map((t, i) => t - reads[i]);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(199);
    } finally {
      proxied.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('the producer puts envelopes in chunks of 500, partitioned by entity key', async () => {
    const records = Array.from({ length: 1201 }, (_, i) => ({ customer_id: `p${i}`, event_time: T, txn_count: i }));
    records[1200] = { customer_id: 'q'.repeat(300), event_time: T, txn_count: 1200 };
    expect(await putFeatureRecords(kinesis, STREAM, customer, records)).toEqual({ records: 1201, requests: 3, retriedEntries: 0 });
    const event = await readEvent();
    expect(event.Records).toHaveLength(1201);
    expect(JSON.parse(envelopeOf(event, 7))).toEqual({ view: 'customer_txn_stats', version: 1, record: records[7] });
    expect(event.Records[7].kinesis.partitionKey).toBe('customer_id=p7');
    // Kinesis takes at most 256 characters: a longer entity key is sent as its SHA-256.
    expect(event.Records[1200].kinesis.partitionKey).toBe(createHash('sha256').update(`customer_id=${'q'.repeat(300)}`).digest('hex'));
  });

  test('NewestEventAgeMs: per view, from the newest stored row; 0 for an event dated ahead within the skew; no line for a view without records', async () => {
    const ahead = Date.now() + 60_000; // within the allowed 5 minutes of future skew
    await putFeatureRecords(kinesis, STREAM, customer, [
      { customer_id: 'n1', event_time: T - 5000, txn_count: 1 },
      { customer_id: 'n2', event_time: ahead, txn_count: 1 },
      { customer_id: 'n3', event_time: T, txn_count: 1 },
    ]);
    const { handle, logs } = materializer();
    expect(await handle(await readEvent())).toEqual({ batchItemFailures: [] });
    expect(metricsOf(logs).customer_txn_stats[MaterializerMetrics.NEWEST_EVENT_AGE_MS]).toBe(0);

    // A batch of the customer view only: the merchant view, silent, gets no line (its alarm reads missing data as breaching).
    await putFeatureRecords(kinesis, STREAM, customer, [{ customer_id: 'n4', event_time: T - 7000, txn_count: 1 }]);
    const second = materializer();
    const window = { from: Date.now(), to: 0 };
    expect(await second.handle(await readEvent())).toEqual({ batchItemFailures: [] });
    window.to = Date.now();
    expect(Object.keys(metricsOf(second.logs))).toEqual(['customer_txn_stats']);
    expectAgeOf(metricsOf(second.logs).customer_txn_stats, T - 7000, window);
  });

  test('the Lambda environment is checked, naming what is missing or malformed', () => {
    const env = { FEATURE_VIEWS: JSON.stringify(VIEWS), ONLINE_TABLE_NAME: TABLE, OFFLINE_BUCKET_NAME: BUCKET };
    expect(() => materializerFromEnvironment({ ...env, FEATURE_VIEWS: '[{' })).toThrow(/FEATURE_VIEWS must be a JSON array of feature view specs/);
    expect(() => materializerFromEnvironment({ ...env, ONLINE_TABLE_NAME: '' })).toThrow(/ONLINE_TABLE_NAME is not set/);
    expect(() => materializerFromEnvironment({ ...env, MAX_FUTURE_SKEW_MS: 'soon' })).toThrow(/MAX_FUTURE_SKEW_MS must be a number of milliseconds from 0 to 86400000 .*, got 'soon'/);
    expect(() => materializerFromEnvironment({ ...env, MAX_FUTURE_SKEW_MS: '1e20' })).toThrow(/MAX_FUTURE_SKEW_MS must be .* got '1e20'/);
    expect(() => materializerFromEnvironment({ ...env, FEATURE_VIEWS: JSON.stringify([{ ...customer, ttlSeconds: 0 }]) })).toThrow(/customer_txn_stats.*ttl: must be positive/s);
    expect(() => materializerFromEnvironment({ ...env, FEATURE_VIEWS: JSON.stringify([customer, customer]) })).toThrow(/'customer_txn_stats' v1 is given twice/);
  });
});
