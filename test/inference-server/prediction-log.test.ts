/**
 * Prediction logging: the bounded asynchronous buffer, the Kinesis and S3 sinks against kinesalite and s3rver, and the
 * server writing sampled predictions through them (dropping and counting when the buffer is full).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CreateStreamCommand, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { KinesisPredictionLogSink, S3PredictionLogSink } from '../../runtime/aws/prediction-log-sinks';
import { BufferedPredictionLogSink } from '../../runtime/core/buffered-sink';
import { parseJsonLines, PREDICTION_LOG_SCHEMA, PredictionLogRecord } from '../../runtime/core/prediction-log';
import { localClientConfig, LocalService, startKinesalite, startS3rver } from '../support/local-aws';
import { rows } from './reference';
import { call, metrics, MODELS_DIR, oipInput, startServer } from './server-process';

function record(requestId: string): PredictionLogRecord {
  return {
    schema: PREDICTION_LOG_SCHEMA, ts: new Date().toISOString(), requestId, model: 'fraud', modelVersion: '1',
    inputs: { features: [[1, 2]] }, outputs: { probability: [[0.5]] }, latencyMs: 1.5, fallback: false, tier: 'standard',
  };
}

describe('BufferedPredictionLogSink', () => {
  test('write never waits; past the buffer bound records are dropped and counted', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    const delivered: string[] = [];
    const sink = new BufferedPredictionLogSink(async (lines) => {
      await gate;
      delivered.push(...lines);
    }, { maxBufferedRecords: 3, maxBatchRecords: 2, flushIntervalMs: 5 });
    const accepted = ['a', 'b', 'c', 'd', 'e'].map((id) => sink.write(record(id)));
    expect(accepted).toEqual([true, true, true, false, false]);
    expect(sink.stats).toEqual({ delivered: 0, dropped: 2, failed: 0 });
    open();
    await sink.close();
    expect(parseJsonLines(delivered.join('')).map((r) => r.requestId)).toEqual(['a', 'b', 'c']);
    expect(sink.stats).toEqual({ delivered: 3, dropped: 2, failed: 0 });
  });

  test('failed deliveries are counted and reported, never silent', async () => {
    const errors: string[] = [];
    let calls = 0;
    const sink = new BufferedPredictionLogSink(async (lines) => {
      calls++;
      if (calls === 1) throw new Error('throttled');
      return lines.length - 1; // one line of the second batch not stored
    }, { maxBatchRecords: 2, onError: (error, records) => errors.push(`${error.message}:${records}`) });
    for (const id of ['a', 'b', 'c', 'd']) sink.write(record(id));
    await sink.close();
    expect(errors).toEqual(['throttled:2']);
    expect(sink.stats).toEqual({ delivered: 1, dropped: 0, failed: 3 });
  });
});

describe('AWS sinks', () => {
  let kinesis: LocalService;
  let s3: LocalService;
  let kinesisClient: KinesisClient;
  let s3Client: S3Client;

  beforeAll(async () => {
    [kinesis, s3] = await Promise.all([startKinesalite(), startS3rver()]);
    kinesisClient = new KinesisClient(localClientConfig(kinesis.endpoint));
    s3Client = new S3Client(localClientConfig(s3.endpoint));
    await s3Client.send(new CreateBucketCommand({ Bucket: 'logs' }));
  });

  afterAll(async () => {
    kinesisClient.destroy();
    s3Client.destroy();
    await Promise.all([kinesis.stop(), s3.stop()]);
  });

  async function createStream(name: string): Promise<void> {
    await kinesisClient.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    while ((await kinesisClient.send(new DescribeStreamCommand({ StreamName: name }))).StreamDescription?.StreamStatus !== 'ACTIVE') {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function readStream(name: string, expected: number): Promise<PredictionLogRecord[]> {
    const description = await kinesisClient.send(new DescribeStreamCommand({ StreamName: name }));
    let iterator = (await kinesisClient.send(new GetShardIteratorCommand({
      StreamName: name, ShardId: description.StreamDescription!.Shards![0].ShardId, ShardIteratorType: 'TRIM_HORIZON',
    }))).ShardIterator;
    const found: PredictionLogRecord[] = [];
    while (found.length < expected) {
      const page = await kinesisClient.send(new GetRecordsCommand({ ShardIterator: iterator }));
      for (const r of page.Records ?? []) found.push(...parseJsonLines(Buffer.from(r.Data!).toString('utf8')));
      iterator = page.NextShardIterator;
    }
    return found;
  }

  test('Kinesis: one record per prediction', async () => {
    await createStream('predictions-unit');
    const sink = new KinesisPredictionLogSink({ client: kinesisClient, streamName: 'predictions-unit', flushIntervalMs: 5 });
    for (const id of ['k1', 'k2', 'k3']) expect(sink.write(record(id))).toBe(true);
    await sink.close();
    expect(sink.stats).toEqual({ delivered: 3, dropped: 0, failed: 0 });
    expect((await readStream('predictions-unit', 3)).map((r) => r.requestId)).toEqual(['k1', 'k2', 'k3']);
  });

  test('S3: one JSON-lines object per batch, in hourly partitions', async () => {
    const sink = new S3PredictionLogSink({ client: s3Client, bucket: 'logs', prefix: 'predictions/fraud/' });
    for (const id of ['s1', 's2']) sink.write(record(id));
    await sink.close();
    const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: 'logs', Prefix: 'predictions/fraud/' }));
    expect(listed.Contents).toHaveLength(1);
    const key = listed.Contents![0].Key!;
    expect(key).toMatch(/^predictions\/fraud\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/.+\.jsonl$/);
    const object = await s3Client.send(new GetObjectCommand({ Bucket: 'logs', Key: key }));
    expect(parseJsonLines(await object.Body!.transformToString()).map((r) => r.requestId)).toEqual(['s1', 's2']);
  });

  test('the server samples predictions into Kinesis, named by PREDICTION_LOG_SINK', async () => {
    await createStream('predictions-server');
    const server = await startServer({
      MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'),
      MODEL_NAME: 'fraud',
      PREDICTION_LOG_SINK: 'kinesis://predictions-server',
      PREDICTION_LOG_SAMPLE_RATE: '1',
      PREDICTION_LOG_FLUSH_MS: '5',
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    try {
      const [a, b] = rows(2, 16);
      for (const [id, row] of [['p1', a], ['p2', b]] as const) {
        const answer = await call(`${server.url}/v2/models/fraud/infer`, { body: { id, inputs: [oipInput('features', 'FP32', [1, 16], row)] } });
        expect(answer.status).toBe(200);
      }
      const logged = await readStream('predictions-server', 2);
      expect(logged.map((r) => r.requestId)).toEqual(['p1', 'p2']);
      expect(logged[0]).toMatchObject({ model: 'fraud', modelVersion: '1', inputs: { features: [a.map((v) => expect.closeTo(v, 5))] } });
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

test('the server drops (and counts) records when the log buffer is full, never delaying answers, and flushes on shutdown', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prediction-log-'));
  const file = path.join(dir, 'log.jsonl');
  const server = await startServer({
    MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'),
    PREDICTION_LOG_SINK: `file://${file}`,
    PREDICTION_LOG_SAMPLE_RATE: '1',
    PREDICTION_LOG_BUFFER_RECORDS: '1',
    PREDICTION_LOG_FLUSH_MS: '600000',
  });
  try {
    for (const id of ['first', 'second', 'third']) {
      const answer = await call(`${server.url}/v2/models/fraud-mlp/infer`, { body: { id, inputs: [oipInput('features', 'FP32', [1, 16], rows(1, 16)[0])] } });
      expect(answer.status).toBe(200);
    }
    const m = await metrics(server);
    expect(m.get('inference_prediction_log_records_total{result="dropped"}')).toBe(2);
    expect(m.get('inference_prediction_log_records_total{result="delivered"}')).toBe(0);
  } finally {
    expect(await server.stop()).toBe(0);
  }
  expect(parseJsonLines(fs.readFileSync(file, 'utf8')).map((r) => r.requestId)).toEqual(['first']);
  fs.rmSync(dir, { recursive: true, force: true });
});
