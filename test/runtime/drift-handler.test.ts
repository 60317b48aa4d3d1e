/**
 * The drift Lambda end to end on s3rver: prediction logs in our format (plain and gzipped) and SageMaker data capture
 * (OIP JSON, gzipped), a baseline written as the baseline builder writes it, the real handler with a real S3 client,
 * and the EMF it prints.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { gzipSync } from 'zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { driftEnvironment, DriftModelSettings } from '../../runtime/contracts/drift';
import { predictionLogDayPrefix, partitionDate, partitionHour } from '../../runtime/core/datasets';
import { ProfileBuilder } from '../../runtime/core/drift/profile';
import { DriftMetrics, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { PREDICTION_LOG_SCHEMA, toJsonLine } from '../../runtime/core/prediction-log';
import { seededRandom } from '../../runtime/core/random';
import { writeBaseline } from '../../runtime/aws/baseline-store';
import { createDriftHandler, handler, MAX_BASELINE_LOOKUPS_PER_WINDOW, MAX_VERSIONS_PER_WINDOW } from '../../runtime/handlers/drift-handler';
import { predictionLogWindow, readWindowLines, splitLines, WindowReadStats } from '../../runtime/aws/s3-window';
import { localClientConfig, S3StandIn, startS3StandIn } from '../support/local-aws';

const BUCKET = 'datasets';
const CAPTURE_BUCKET = 'capture';
const HOUR = 3_600_000;
let s3rver: S3StandIn;
let s3: S3Client;

beforeAll(async () => {
  s3rver = await startS3StandIn(BUCKET, CAPTURE_BUCKET);
  s3 = s3rver.s3;
});

afterAll(() => s3rver.stop());

/** A row of the generated traffic: amount ~ N(100 + shift, 15), country from a fixed mix, a score from the amount. */
interface Row { amount: number; country: string; score: number }

function traffic(n: number, seed: number, shift = 0): Row[] {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: n }, () => {
    const amount = 100 + shift + 15 * normal();
    const u = random();
    return { amount, country: u < 0.5 ? 'FR' : u < 0.8 ? 'DE' : 'ES', score: 1 / (1 + Math.exp(-(amount - 100) / 15)) };
  });
}

/** Writes the baseline of `model` `version` from rows, as the baseline builder does (a profile under the served names). */
async function baseline(model: string, version: string, rows: Row[]): Promise<void> {
  const builder = new ProfileBuilder();
  for (const r of rows) builder.addRow({ 'txn:amount': r.amount, 'txn:country': r.country }, { probability: [r.score] });
  await writeBaseline(s3, BUCKET, builder.build({ model, modelVersion: version, source: 'test training set' }));
}

/** Spreads rows over the last 50 minutes (all inside a one-hour window ending now). */
const timeOf = (i: number, n: number, now: number) => now - 50 * 60_000 + Math.floor((i * 49 * 60_000) / n);

/** Our gateway's lines for rows, written into the dataset's hour partitions (gzipped when `gzip`), plus `extra` lines. */
async function predictionLogs(model: string, version: string, rows: Row[], now: number, options: { gzip?: boolean; extra?: string[] } = {}): Promise<void> {
  const byKey = new Map<string, string[]>();
  rows.forEach((r, i) => {
    const ts = timeOf(i, rows.length, now);
    const key = `${predictionLogDayPrefix(model, partitionDate(ts))}hour=${partitionHour(ts)}/part-${i % 2}.jsonl${options.gzip ? '.gz' : ''}`;
    const line = toJsonLine({
      schema: PREDICTION_LOG_SCHEMA, ts: new Date(ts).toISOString(), requestId: `r-${i}`, model, modelVersion: version, variant: 'champion',
      features: { 'txn:amount': r.amount, 'txn:country': r.country }, outputs: { probability: [r.score] }, latencyMs: 3, fallback: false,
    });
    byKey.set(key, [...byKey.get(key) ?? [], line]);
  });
  const keys = [...byKey.keys()];
  byKey.get(keys[0])!.push(...(options.extra ?? []).map((l) => `${l}\n`));
  for (const [key, lines] of byKey) {
    const body = Buffer.from(lines.join(''));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: options.gzip ? gzipSync(body) : body }));
  }
}

/**
 * SageMaker data-capture lines (OIP JSON bodies, batches of 2) for rows, gzipped, in `<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/`,
 * `extra` lines appended to the first object.
 */
async function dataCapture(prefix: string, endpoint: string, variant: string, rows: Row[], now: number, extra: string[] = []): Promise<void> {
  const byKey = new Map<string, string[]>();
  for (let i = 0; i < rows.length; i += 2) {
    const batch = rows.slice(i, i + 2);
    const ts = timeOf(i, rows.length, now);
    const iso = new Date(ts).toISOString();
    const key = `${prefix}/${endpoint}/${variant}/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/capture.jsonl.gz`;
    const input = { inputs: [{ name: 'features', shape: [batch.length, 1], datatype: 'FP32', data: batch.map((r) => r.amount) }] };
    const output = { outputs: [{ name: 'probability', shape: [batch.length, 1], datatype: 'FP32', data: batch.map((r) => r.score) }] };
    const line = JSON.stringify({
      captureData: {
        endpointInput: { observedContentType: 'application/json', mode: 'INPUT', data: JSON.stringify(input), encoding: 'JSON' },
        endpointOutput: { observedContentType: 'application/json', mode: 'OUTPUT', data: Buffer.from(JSON.stringify(output)).toString('base64'), encoding: 'BASE64' },
      },
      eventMetadata: { eventId: `e-${i}`, inferenceTime: iso },
      eventVersion: '0',
    });
    byKey.set(key, [...byKey.get(key) ?? [], line]);
  }
  byKey.values().next().value!.push(...extra);
  for (const [key, lines] of byKey) await s3.send(new PutObjectCommand({ Bucket: CAPTURE_BUCKET, Key: key, Body: gzipSync(lines.join('\n') + '\n') }));
}

/** The EMF lines printed, parsed, keyed by `Model` (+ `/Feature`). */
function emf(lines: string[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const line of lines) {
    const parsed = JSON.parse(line);
    if (!parsed._aws) continue;
    expect(parsed._aws.CloudWatchMetrics[0].Namespace).toBe(METRICS_NAMESPACE);
    out.set(parsed.Feature ? `${parsed.Model}/${parsed.Feature}` : parsed.Model, parsed);
  }
  return out;
}

async function run(models: DriftModelSettings[], now = Date.now()) {
  const lines: string[] = [];
  const drift = createDriftHandler({ settings: { models, datasetBucketName: BUCKET, windowMs: HOUR }, s3, now: () => now, log: (l) => lines.push(l) });
  const summaries = await drift({}, { getRemainingTimeInMillis: () => 60_000 });
  return { metrics: emf(lines), summaries, lines };
}

const BASELINE = traffic(4000, 1);

test('same distribution: nothing drifts; rows counted; the unreadable lines (not JSON, nested 5,000 deep, over 1 MiB) counted', async () => {
  const now = Date.now();
  await baseline('same', 'v1', BASELINE);
  const record = toJsonLine({
    schema: PREDICTION_LOG_SCHEMA, ts: new Date(now - 60_000).toISOString(), requestId: 'r', model: 'same', modelVersion: 'v1',
    features: { 'txn:amount': 'DEEP' }, outputs: {}, latencyMs: 1, fallback: false,
  }).trimEnd();
  const hostile = ['not json', record.replace('"DEEP"', '['.repeat(5000) + ']'.repeat(5000)), `{"x":"${'a'.repeat(1_100_000)}"}`];
  await predictionLogs('same', 'v1', traffic(3000, 2), now, { extra: hostile });

  const { metrics, summaries } = await run([{ model: 'same' }], now);

  const model = metrics.get('same')!;
  expect(model[DriftMetrics.WINDOW_ROWS]).toBe(3000);
  expect(model[DriftMetrics.UNREADABLE_RECORDS]).toBe(3);
  expect(model[DriftMetrics.DRIFTED_FEATURE_SHARE]).toBe(0);
  expect(model[DriftMetrics.PREDICTION_DRIFTED]).toBe(0);
  expect(metrics.get('same/txn:amount')![DriftMetrics.DRIFTED]).toBe(0);
  expect(metrics.get('same/txn:country')![DriftMetrics.DRIFTED]).toBe(0);
  expect(summaries[0].unreadable).toEqual({ 'not-json': 1, 'invalid-value': 1, 'line-too-long': 1 });
});

test('a shifted feature (0.5σ) drifts, gzipped logs read; its score output drifts too (prediction drift)', async () => {
  const now = Date.now();
  await baseline('shifted', 'v1', BASELINE);
  await predictionLogs('shifted', 'v1', traffic(3000, 3, 7.5), now, { gzip: true });

  const { metrics, summaries } = await run([{ model: 'shifted' }], now);

  expect(metrics.get('shifted')![DriftMetrics.WINDOW_ROWS]).toBe(3000);
  expect(metrics.get('shifted/txn:amount')![DriftMetrics.DRIFTED]).toBe(1);
  expect(metrics.get('shifted/txn:country')![DriftMetrics.DRIFTED]).toBe(0);
  expect(metrics.get('shifted')![DriftMetrics.DRIFTED_FEATURE_SHARE]).toBe(50);
  expect(metrics.get('shifted')![DriftMetrics.PREDICTION_DRIFTED]).toBe(1);
  expect(summaries[0].versions[0].driftedColumns).toEqual(['txn:amount', 'output:probability']);
});

test('data capture (OIP JSON and BASE64, batches of 2, gzipped): rows named by inputColumns, version from the variant', async () => {
  const now = Date.now();
  const rows = traffic(2000, 4, 7.5);
  await baseline('captured', 'v7', BASELINE);
  await dataCapture('data-capture', 'fraud-endpoint', 'AllTraffic', rows, now);

  const { metrics, summaries } = await run([{
    model: 'captured', predictionLogs: false, inputColumns: ['txn:amount'],
    dataCapture: { bucket: CAPTURE_BUCKET, prefix: 'data-capture', endpointName: 'fraud-endpoint', modelVersions: { AllTraffic: 'v7' } },
  }], now);

  expect(metrics.get('captured')![DriftMetrics.WINDOW_ROWS]).toBe(2000);
  expect(metrics.get('captured/txn:amount')![DriftMetrics.DRIFTED]).toBe(1);
  expect(summaries[0].versions.map((v) => v.modelVersion)).toEqual(['v7']);
  expect(summaries[0].unreadable).toEqual({});
});

test('data-capture lines declaring 2^32 or a million empty rows ([n, 0], no data) are counted, the run goes on', async () => {
  const now = Date.now();
  await baseline('hostile-shape', 'v1', BASELINE);
  const hostile = (shape: number[]) => JSON.stringify({
    captureData: {
      endpointInput: { observedContentType: 'application/json', mode: 'INPUT', encoding: 'JSON', data: JSON.stringify({ inputs: [{ name: 'features', shape, datatype: 'FP32', data: [] }] }) },
    },
    eventMetadata: { eventId: 'e-hostile', inferenceTime: new Date(now - 60_000).toISOString() },
    eventVersion: '0',
  });
  await dataCapture('data-capture', 'hostile-endpoint', 'AllTraffic', traffic(200, 8), now, [hostile([2 ** 32, 0]), hostile([1e6, 0])]);

  const { summaries } = await run([{
    model: 'hostile-shape', predictionLogs: false, inputColumns: ['txn:amount'],
    dataCapture: { bucket: CAPTURE_BUCKET, prefix: 'data-capture', endpointName: 'hostile-endpoint', modelVersions: { AllTraffic: 'v1' } },
  }], now);

  expect(summaries[0].rowsChecked).toBe(200);
  expect(summaries[0].unreadable).toEqual({ 'too-many-rows': 2 });
});

test('a line whose parsing or profiling throws is counted (parser-error) and logged once; the other lines are checked', async () => {
  const now = Date.now();
  await baseline('throws', 'v1', BASELINE);
  const rows = traffic(300, 9);
  rows[10].amount = -12_345;
  rows[20].amount = -12_345;
  await predictionLogs('throws', 'v1', rows, now);
  // No input makes the parser or the profile throw today (that is the point of the guard): the fault is injected.
  const addRow = ProfileBuilder.prototype.addRow;
  const spy = jest.spyOn(ProfileBuilder.prototype, 'addRow').mockImplementation(function (this: ProfileBuilder, features, outputs) {
    if (features['txn:amount'] === -12_345) throw new RangeError('Invalid array length');
    addRow.call(this, features, outputs);
  });
  try {
    const { summaries, lines } = await run([{ model: 'throws' }], now);
    expect(summaries[0].rowsChecked).toBe(298);
    expect(summaries[0].unreadable).toEqual({ 'parser-error': 2 });
    const errors = lines.filter((l) => l.includes('"reason":"parser-error"'));
    expect(errors).toHaveLength(1);
    expect(JSON.parse(errors[0])).toMatchObject({ level: 'ERROR', model: 'throws', key: expect.stringContaining('model=throws/'), error: 'RangeError: Invalid array length' });
  } finally {
    spy.mockRestore();
  }
});

test('a corrupt .gz and a truncated .gz among good objects: each logged and counted, the other objects checked', async () => {
  const now = Date.now();
  await baseline('corrupt', 'v1', BASELINE);
  await predictionLogs('corrupt', 'v1', traffic(3000, 10), now, { gzip: true });
  const ts = timeOf(0, 3000, now);
  const partition = `${predictionLogDayPrefix('corrupt', partitionDate(ts))}hour=${partitionHour(ts)}/`;
  const other = Buffer.from(Array.from({ length: 400 }, (_, i) => toJsonLine({
    schema: PREDICTION_LOG_SCHEMA, ts: new Date(ts).toISOString(), requestId: `o-${i}`, model: 'another', modelVersion: 'v1',
    features: { 'txn:amount': Math.sin(i) * 100, 'txn:country': 'FR' }, outputs: { probability: [0.5] }, latencyMs: 1, fallback: false,
  })).join(''));
  const gz = gzipSync(other);
  const corrupt = Buffer.from(gz);
  corrupt[12] ^= 0x5a; // inside the first deflate block's header: zlib answers 'invalid code lengths set'
  const keys = [`${partition}part-0-corrupt.jsonl.gz`, `${partition}part-0-truncated.jsonl.gz`];
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: keys[0], Body: corrupt }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: keys[1], Body: gz.subarray(0, gz.length >> 1) }));

  const { metrics, summaries, lines } = await run([{ model: 'corrupt' }], now);

  expect(metrics.get('corrupt')![DriftMetrics.WINDOW_ROWS]).toBe(3000);
  expect(summaries[0].rowsChecked).toBe(3000);
  expect(summaries[0].read.unreadableObjects).toBe(2);
  const logged = lines.filter((l) => l.includes('"reason":"unreadable-object"')).map((l) => JSON.parse(l));
  expect(logged.map((l) => [l.level, l.key])).toEqual([['ERROR', keys[0]], ['ERROR', keys[1]]]);
  expect(logged[0].error).toMatch(/invalid code lengths set/);
  expect(logged[1].error).toMatch(/unexpected end of file/);
});

test('an empty window emits WINDOW_ROWS 0; a version without a baseline is counted and named, not checked', async () => {
  const now = Date.now();
  await predictionLogs('nobaseline', 'v9', traffic(10, 5), now);
  const { metrics, summaries, lines } = await run([{ model: 'empty' }, { model: 'nobaseline' }], now);

  expect(metrics.get('empty')![DriftMetrics.WINDOW_ROWS]).toBe(0);
  expect(metrics.get('nobaseline')![DriftMetrics.WINDOW_ROWS]).toBe(0);
  expect(summaries[1].skipped).toEqual({ 'no-baseline': 10 });
  expect(summaries[1].versionsWithoutBaseline).toEqual(['v9']);
  expect(lines.some((l) => l.includes('"reason":"no-baseline"') && l.includes('baselines/model=nobaseline/version=v9/baseline.json'))).toBe(true);
});

/** Writes, in an object read before the model's other logs, one line of `model` per version in `versions`. */
async function versionLines(model: string, versions: string[], now: number): Promise<void> {
  const ts = timeOf(0, 1, now);
  const body = versions.map((modelVersion, i) => toJsonLine({
    schema: PREDICTION_LOG_SCHEMA, ts: new Date(ts).toISOString(), requestId: `j-${i}`, model, modelVersion,
    features: { 'txn:amount': 100 }, outputs: { probability: [0.5] }, latencyMs: 1, fallback: false,
  })).join('');
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${predictionLogDayPrefix(model, partitionDate(ts))}hour=${partitionHour(ts)}/a-first.jsonl`, Body: body }));
}

test('versions without a baseline or with an invalid name, seen first, do not use up the profiled versions\' slots', async () => {
  const now = Date.now();
  await baseline('junk', 'v1', BASELINE);
  const junk = [...Array.from({ length: 10 }, (_, i) => `bad version ${i}`), ...Array.from({ length: MAX_VERSIONS_PER_WINDOW }, (_, i) => `nb-${i}`)];
  await versionLines('junk', junk, now);
  await predictionLogs('junk', 'v1', traffic(200, 11), now);

  const { summaries } = await run([{ model: 'junk' }], now);

  expect(summaries[0].versions.map((v) => [v.modelVersion, v.rows])).toEqual([['v1', 200]]);
  expect(summaries[0].skipped).toEqual({ 'invalid-version': 10, 'no-baseline': MAX_VERSIONS_PER_WINDOW });
  expect(summaries[0].versionsWithoutBaseline).toHaveLength(MAX_VERSIONS_PER_WINDOW);
});

test('baseline lookups are bounded on their own: versions first seen after MAX_BASELINE_LOOKUPS_PER_WINDOW are skipped unread', async () => {
  const now = Date.now();
  await baseline('lookups', 'v1', BASELINE);
  await versionLines('lookups', Array.from({ length: MAX_BASELINE_LOOKUPS_PER_WINDOW + 5 }, (_, i) => `nb-${i}`), now);
  await predictionLogs('lookups', 'v1', traffic(50, 12), now);

  const { summaries } = await run([{ model: 'lookups' }], now);

  expect(summaries[0].versions).toEqual([]);
  expect(summaries[0].versionsWithoutBaseline).toHaveLength(MAX_BASELINE_LOOKUPS_PER_WINDOW);
  expect(summaries[0].skipped).toEqual({ 'no-baseline': MAX_BASELINE_LOOKUPS_PER_WINDOW, 'too-many-versions': 5 + 50 });
});

test('rows outside the window and fallback answers are skipped, counted', async () => {
  const now = Date.now();
  await baseline('edges', 'v1', BASELINE);
  const line = (ts: number, fallback: boolean) => toJsonLine({
    schema: PREDICTION_LOG_SCHEMA, ts: new Date(ts).toISOString(), requestId: 'r', model: 'edges', modelVersion: 'v1',
    features: { 'txn:amount': 1 }, outputs: { probability: [0.5] }, latencyMs: 1, fallback,
  }).trimEnd();
  const extra = [...Array(5).fill(line(now - 60_000, true)), ...Array(4).fill(line(now + 60_000, false)), line(now - 2 * HOUR, false)];
  await predictionLogs('edges', 'v1', traffic(100, 6), now, { extra });

  const { summaries } = await run([{ model: 'edges' }], now);
  expect(summaries[0].rowsChecked).toBe(100);
  expect(summaries[0].skipped).toEqual({ fallback: 5, 'outside-window': 5 });
});

test('the deployed handler: settings from the contract environment, the S3 endpoint from the SDK environment', async () => {
  const now = Date.now();
  await baseline('deployed', 'v1', BASELINE);
  await predictionLogs('deployed', 'v1', traffic(500, 7), now);
  const saved = { ...process.env };
  Object.assign(process.env, {
    ...driftEnvironment({ models: [{ model: 'deployed' }], datasetBucketName: BUCKET, windowMs: HOUR, s3ForcePathStyle: true }),
    AWS_ENDPOINT_URL_S3: s3rver.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER',
  });
  const printed: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk).trimEnd());
    return true;
  });
  try {
    const summaries = await handler({}, { getRemainingTimeInMillis: () => 60_000 });
    expect(summaries[0].rowsChecked).toBe(500);
  } finally {
    spy.mockRestore();
    process.env = saved;
  }
  expect(emf(printed).get('deployed')![DriftMetrics.WINDOW_ROWS]).toBe(500);
});

describe('the S3 window reader', () => {
  async function lines(chunks: string[], max: number): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = [];
    async function* source() {
      for (const c of chunks) yield Buffer.from(c);
    }
    for await (const line of splitLines(source(), max)) out.push(line);
    return out;
  }

  test('lines split across chunks, CRLF, empty lines dropped, a line over the cap skipped unbuffered, a last line without newline', async () => {
    expect(await lines(['ab', 'c\r\nde\n\n', 'x'.repeat(6), 'y'.repeat(6), '\nf', 'g'], 8)).toEqual(['abc', 'de', undefined, 'fg']);
    expect(await lines(['12345678\n123456789'], 8)).toEqual(['12345678', undefined]);
  });

  test('only the hour partitions the window touches are read, and the hour after it (the server sink partitions by write time)', async () => {
    const window = { fromMs: Date.UTC(2026, 10, 30, 22, 30), toMs: Date.UTC(2026, 10, 30, 23, 30) };
    const source = predictionLogWindow(BUCKET, 'fraud', window);
    expect(source.prefixes).toEqual(['prediction-logs/model=fraud/dt=2026-11-30/', 'prediction-logs/model=fraud/dt=2026-12-01/']);
    expect(source.keep!('prediction-logs/model=fraud/dt=2026-11-30/hour=21/a.jsonl')).toBe(false);
    expect(source.keep!('prediction-logs/model=fraud/dt=2026-11-30/hour=22/a.jsonl')).toBe(true);
    expect(source.keep!('prediction-logs/model=fraud/dt=2026-11-30/hour=23/a.jsonl')).toBe(true);
    // A prediction of 23:29 written at 00:00:30 by the server's S3 sink.
    expect(source.keep!('prediction-logs/model=fraud/dt=2026-12-01/hour=00/a.jsonl')).toBe(true);
    expect(source.keep!('prediction-logs/model=fraud/dt=2026-12-01/hour=01/a.jsonl')).toBe(false);
  });

  /** A loopback S3 stand-in that lists one object and answers its GetObject with `send(res)` (s3rver cannot stall or trickle). */
  async function withObjectServer(send: (res: http.ServerResponse) => void, body: (client: S3Client) => Promise<void>): Promise<void> {
    const server = http.createServer((req, res) => {
      if (req.url!.includes('list-type=2')) {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>prediction-logs/model=m/dt=2026-11-30/hour=10/a.jsonl</Key><Size>100</Size></Contents></ListBucketResult>');
        return;
      }
      send(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new S3Client(localClientConfig(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    try {
      await body(client);
    } finally {
      client.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
  const window = { fromMs: Date.UTC(2026, 10, 30, 10), toMs: Date.UTC(2026, 10, 30, 11) };

  test('an S3 that stops sending mid-object fails the read at the call deadline', async () => {
    const read: (string | undefined)[] = [];
    await withObjectServer((res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': '100' });
      res.write('{"first":"line"}\n{"second":');
    }, async (client) => {
      await expect((async () => {
        for await (const { line } of readWindowLines(client, predictionLogWindow('b', 'm', window), { callTimeoutMs: 300 })) read.push(line);
      })()).rejects.toThrow(/no data for 300 ms/);
    });
    expect(read).toEqual(['{"first":"line"}']);
  });

  test('a gzipped body cut by the connection still fails the read (S3 failing, retried), unlike a corrupt object', async () => {
    const gz = gzipSync(Array.from({ length: 2000 }, (_, n) => `{"n":${n},"pad":"${'x'.repeat(n % 50)}"}\n`).join(''));
    const stats: WindowReadStats = { objects: 0, bytes: 0 };
    await withObjectServer((res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip', 'content-length': String(gz.length) });
      res.write(gz.subarray(0, gz.length >> 1), () => setTimeout(() => res.socket!.destroy(), 50));
    }, async (client) => {
      await expect((async () => {
        for await (const _ of readWindowLines(client, predictionLogWindow('b', 'm', window), { callTimeoutMs: 2000, stats }));
      })()).rejects.toThrow();
    });
    expect(stats.unreadableObjects).toBeUndefined();
  });

  test('an object that keeps arriving is read whole, however long past the call deadline it takes', async () => {
    const read: (string | undefined)[] = [];
    await withObjectServer((res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(`{"n":${sent}}\n`);
        if (++sent === 8) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
    }, async (client) => {
      for await (const { line } of readWindowLines(client, predictionLogWindow('b', 'm', window), { callTimeoutMs: 300 })) read.push(line);
    });
    expect(read).toEqual(Array.from({ length: 8 }, (_, n) => `{"n":${n}}`));
  });
});
