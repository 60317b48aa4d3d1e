/**
 * The TrainingPipeline's training set step on real loopback servers: s3rver (the pipeline's bucket, a real S3Client
 * with an endpoint override) and the feature store's local point-in-time retrieval (DuckDB over Parquet files laid out
 * like the offline bucket) in the place of Athena, which has no local stand-in: the step receives the retrieval as a
 * port, the Lambda passes the Athena adapter.
 */
import { createHash } from 'crypto';
import { createServer } from 'http';
import type { AddressInfo } from 'net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { entityKeyOf, FeatureDtype, FeatureViewSpec, offlinePartitionPrefix } from '../../lib/features/spec';
import { getObjectBytes, listObjectKeys } from '../../runtime/aws/offline-store';
import { TRAINING_STEP_TRANSIENT_ERROR, TrainingLayout } from '../../runtime/contracts/training-pipeline';
import { encodeParquet, OfflineRow } from '../../runtime/core/offline-parquet';
import { buildTrainingSet, TrainingSetPorts } from '../../runtime/handlers/training-set-handler';
import { EntityRow, getHistoricalFeatures } from '../../runtime/offline/historical';
import { localClientConfig, S3StandIn, startS3StandIn } from '../support/local-aws';

const BUCKET = 'training-bucket';
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 1);

const stats: FeatureViewSpec = {
  specFormat: 1, name: 'customer_stats', version: 1, entities: [{ name: 'customer', joinKeys: ['customer_id'] }],
  eventTimeField: 'event_time', ttlSeconds: 86_400, freshnessSeconds: 60,
  features: [{ name: 'txn_count', dtype: FeatureDtype.INT64 }, { name: 'avg_amount', dtype: FeatureDtype.FLOAT64 }],
};
const REFS = ['customer_stats:txn_count', 'customer_stats:avg_amount'];

/** c1's count was 1 at T0 and 5 from T0 + 2 h: a row at T0 + 1 h must see 1 (what serving served then), not 5. */
const OFFLINE: [string, number, number, number][] = [['c1', T0, 1, 10.5], ['c1', T0 + 2 * HOUR, 5, 12], ['c2', T0, 7, 3.25]];
const ENTITY_ROWS: EntityRow[] = [
  { customer_id: 'c1', event_timestamp: new Date(T0 + HOUR).toISOString(), label: 0 },
  { customer_id: 'c1', event_timestamp: new Date(T0 + 3 * HOUR).toISOString(), label: 1 },
  { customer_id: 'c2', event_timestamp: new Date(T0 + 30 * 60_000).toISOString(), label: 1 },
];

const INPUT = { codeVersion: '0123abc', imageDigest: `sha256:${'a'.repeat(64)}` };

let s3rver: S3StandIn;
let s3: S3Client;
let offlineRoot: string;

beforeAll(async () => {
  s3rver = await startS3StandIn(BUCKET);
  s3 = s3rver.s3;
  offlineRoot = mkdtempSync(join(tmpdir(), 'training-set-'));
  const rows: OfflineRow[] = OFFLINE.map(([id, t, count, amount], i) => ({
    view: stats.name, version: stats.version, entityKey: entityKeyOf(stats, { customer_id: id }), joinKeys: { customer_id: id },
    eventTimeMs: t, ingestedAtMs: t + 1000, ingestSeq: `shardId-000000000000:${i + 1}`, values: { txn_count: count, avg_amount: amount },
  }));
  const prefix = offlinePartitionPrefix(stats, T0);
  mkdirSync(join(offlineRoot, prefix), { recursive: true });
  writeFileSync(join(offlineRoot, prefix, 'part-0.parquet'), await encodeParquet(stats, rows));
});

afterAll(async () => {
  await s3rver?.stop();
  rmSync(offlineRoot, { recursive: true, force: true });
});

/** Ports over s3rver and the local retrieval, counting the retrievals. */
function ports(client = s3): TrainingSetPorts & { retrievals: () => number } {
  let retrievals = 0;
  return {
    s3: client,
    bucket: BUCKET,
    retrieve: () => { retrievals++; return getHistoricalFeatures({ views: [stats], entityRows: ENTITY_ROWS, featureRefs: REFS, offlineRoot }); },
    now: () => T0 + 10 * HOUR,
    retrievals: () => retrievals,
  };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const read = (key: string) => getObjectBytes(s3, BUCKET, key);

describe('training set step', () => {
  test('builds the point-in-time set: data.jsonl, then a manifest whose row count and SHA-256 match it', async () => {
    const p = ports();
    const result = await buildTrainingSet(p, { execution: 'run-1', input: INPUT });
    const prefix = TrainingLayout.trainingSetPrefix('run-1');
    const data = await read(`${prefix}${TrainingLayout.DATA_FILE}`);
    const manifest = await read(`${prefix}${TrainingLayout.MANIFEST_FILE}`);
    const lines = data.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l));

    expect(result).toEqual({
      uri: `s3://${BUCKET}/${prefix}data.jsonl`,
      rowCount: 3,
      sha256: sha256(data),
      fromTime: new Date(T0 + 30 * 60_000).toISOString(),
      toTime: new Date(T0 + 3 * HOUR).toISOString(),
      rejectedRows: 0,
      createdAt: new Date(T0 + 10 * HOUR).toISOString(),
      manifestSha256: sha256(manifest),
    });
    const { manifestSha256, ...stored } = result;
    expect(JSON.parse(manifest.toString('utf8'))).toEqual(stored);
    expect(lines).toHaveLength(result.rowCount);
    // Point-in-time: what serving served at each row's time, not the latest value.
    expect(lines.map((r) => [r.customer_id, r.customer_stats__txn_count, r.customer_stats__avg_amount, r.label])).toEqual([
      ['c1', 1, 10.5, 0], ['c1', 5, 12, 1], ['c2', 7, 3.25, 1],
    ]);
    expect(p.retrievals()).toBe(1);
  });

  test('a retried step returns the same manifest without retrieving again', async () => {
    const first = await buildTrainingSet(ports(), { execution: 'run-2', input: INPUT });
    const retry = { ...ports(), now: () => T0 + 20 * HOUR };
    expect(await buildTrainingSet(retry, { execution: 'run-2', input: INPUT })).toEqual(first);
    expect(retry.retrievals()).toBe(0);
  });

  test('a stored manifest that is not the step\'s fails naming the fix', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${TrainingLayout.trainingSetPrefix('run-3')}manifest.json`, Body: '{"uri":' }));
    await expect(buildTrainingSet(ports(), { execution: 'run-3', input: INPUT })).rejects.toThrow(/manifest\.json is not a training set manifest .* start a new execution/);
  });

  test.each([undefined, '', 'a/b', '../x', 'x'.repeat(81)])('execution %p is refused, naming the field', async (execution) => {
    await expect(buildTrainingSet(ports(), { execution, input: INPUT } as never)).rejects.toThrow(/^execution: expected the execution name/);
  });

  test.each([
    ['a tag as the code version', { ...INPUT, codeVersion: 'v1.4.2' }, /codeVersion must be a git commit: 7–40 lower-case hex characters \(got the string "v1\.4\.2"/],
    ['a short digest', { ...INPUT, imageDigest: 'sha256:abc' }, /imageDigest must be sha256: followed by 64 lower-case hex characters/],
    ['no input', undefined, /codeVersion must be .*; imageDigest must be .*Start the execution with \{ "codeVersion"/],
  ])('an execution input with %s fails at once, before anything is built', async (_name, input, message) => {
    const p = ports();
    await expect(buildTrainingSet(p, { execution: 'run-5', input } as never)).rejects.toThrow(message);
    expect(p.retrievals()).toBe(0);
    expect(await listObjectKeys(s3, BUCKET, TrainingLayout.trainingSetPrefix('run-5'))).toEqual([]);
  });

  test('rows whose event_timestamp is no event time (8.7e15, epoch seconds, text) are left out and counted, never crashing the step', async () => {
    const good = { customer_id: 'c1', event_timestamp: new Date(T0).toISOString(), label: 1 };
    const rows = [good, { ...good, event_timestamp: 8.7e15 }, { ...good, event_timestamp: 1767225600 }, { ...good, event_timestamp: 'yesterday' }, { ...good, event_timestamp: T0 + HOUR }];
    const result = await buildTrainingSet({ s3, bucket: BUCKET, retrieve: async () => rows, now: () => T0 + 10 * HOUR }, { execution: 'run-6', input: INPUT });
    expect(result).toMatchObject({ rowCount: 2, rejectedRows: 3, fromTime: new Date(T0).toISOString(), toTime: new Date(T0 + HOUR).toISOString() });
    expect(result.rejectedReasons).toEqual([
      expect.stringMatching(/^row 2: event_timestamp: event time 8700000000000000 ms since the epoch is more than 300000 ms in the future/),
      expect.stringMatching(/^row 3: event_timestamp: 1767225600 looks like epoch seconds .*send epoch milliseconds \(1767225600000\)/),
      expect.stringMatching(/^row 4: event_timestamp: event time must be ISO-8601 with a zone/),
    ]);
    const lines = (await read(`${TrainingLayout.trainingSetPrefix('run-6')}${TrainingLayout.DATA_FILE}`)).toString('utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
  });

  test('a set left with no usable rows fails at once, naming why (it has no time range to record)', async () => {
    const rows = [{ customer_id: 'c1', event_timestamp: 1767225600, label: 1 }];
    await expect(buildTrainingSet({ s3, bucket: BUCKET, retrieve: async () => rows }, { execution: 'run-7', input: INPUT }))
      .rejects.toThrow(/^The training set is empty: all 1 rows were left out \(row 1: event_timestamp: 1767225600 looks like epoch seconds/);
  });

  test('S3 answering 503 SlowDown is a transient error the state machine retries', async () => {
    // A loopback server that throttles every call: a real S3 client and a real HTTP 503, no mock.
    const throttling = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    });
    await new Promise<void>((resolve) => throttling.listen(0, '127.0.0.1', resolve));
    const client = new S3Client({ ...localClientConfig(`http://127.0.0.1:${(throttling.address() as AddressInfo).port}`), maxAttempts: 1 });
    try {
      const error = await buildTrainingSet(ports(client), { execution: 'run-4', input: INPUT }).catch((e: Error) => e);
      expect(error).toMatchObject({ name: TRAINING_STEP_TRANSIENT_ERROR, message: 'listing the training set failed transiently (SlowDown); retried by the state machine' });
    } finally {
      client.destroy();
      await new Promise((resolve) => throttling.close(resolve));
    }
  });
});
