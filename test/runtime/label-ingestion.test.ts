/**
 * The label ingestion handler end to end on loopback: s3rver plays the dataset and drop buckets, fauxqs the SQS
 * dead-letter queue (real AWS SDK v3 clients for both). Kinesis events are built as Lambda delivers them (base64 data).
 */
import * as http from 'http';
import * as net from 'net';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent, S3Event } from 'aws-lambda';
import { LabelDeadLetter, LabelDropSummary, MAX_DEAD_LETTERS_PER_DROP, parseLabelIngestionEnvironment } from '../../runtime/contracts/label-ingestion';
import { getObjectBytes, listObjectKeys } from '../../runtime/aws/offline-store';
import { LabelRecord } from '../../runtime/core/datasets';
import { LabelMetrics } from '../../runtime/core/metrics';
import { createLabelIngestion, LabelIngestionProps } from '../../runtime/handlers/label-ingestion-handler';
import { LocalService, localClientConfig, startS3rver, startSqsStandIn } from '../support/local-aws';

const MODELS = ['fraud', 'churn'];
const SHARD = 'shardId-000000000000';
/** Label times an hour ago (and a day before), valid. */
const NOW = Date.now();
const T1 = NOW - 3_600_000;
const T0 = T1 - 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

let s3rver: LocalService;
let sqsServer: LocalService;
let s3: S3Client;
let sqs: SQSClient;
let run = 0;

beforeAll(async () => {
  [s3rver, sqsServer] = await Promise.all([startS3rver(), startSqsStandIn()]);
  s3 = new S3Client(localClientConfig(s3rver.endpoint));
  sqs = new SQSClient(localClientConfig(sqsServer.endpoint));
});

afterAll(async () => {
  s3?.destroy();
  sqs?.destroy();
  await Promise.all([s3rver?.stop(), sqsServer?.stop()]);
});

/** A fresh dataset bucket and dead-letter queue, and a handler over them logging into `lines`. */
async function setup(overrides: Partial<LabelIngestionProps> = {}) {
  run += 1;
  const bucketName = `labels-${run}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucketName }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `label-dead-letters-${run}` }));
  const lines: string[] = [];
  const handler = createLabelIngestion({
    s3, sqs, bucketName, deadLetterQueueUrl: QueueUrl!, models: MODELS, log: (line) => lines.push(line), ...overrides,
  });
  return { handler, bucketName, queueUrl: QueueUrl!, lines };
}

/** A Kinesis event as Lambda delivers it: each record's data base64, sequence numbers 1, 2, … */
function kinesisEvent(records: (string | Buffer | object)[]): KinesisStreamEvent {
  return {
    Records: records.map((data, i) => {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
      const sequenceNumber = String(1000 + i);
      return {
        eventSource: 'aws:kinesis', eventID: `${SHARD}:${sequenceNumber}`, eventName: 'aws:kinesis:record', eventVersion: '1.0',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/x', awsRegion: 'us-east-1', eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/labels',
        kinesis: {
          kinesisSchemaVersion: '1.0', partitionKey: 'p', sequenceNumber, data: bytes.toString('base64'), approximateArrivalTimestamp: NOW / 1000,
        },
      };
    }),
  };
}

/** An ObjectCreated notification of `key` in `bucket` (the key URL-encoded as S3 sends it). */
function s3Event(bucket: string, key: string): S3Event {
  return {
    Records: [{
      eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventTime: new Date(NOW).toISOString(), eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'x' }, requestParameters: { sourceIPAddress: '127.0.0.1' }, responseElements: { 'x-amz-request-id': 'x', 'x-amz-id-2': 'x' },
      s3: {
        s3SchemaVersion: '1.0', configurationId: 'labels',
        bucket: { name: bucket, ownerIdentity: { principalId: 'x' }, arn: `arn:aws:s3:::${bucket}` },
        object: { key: encodeURIComponent(key).replace(/%20/g, '+'), size: 1, eTag: 'x', sequencer: '0055AED6DCD90281E5' },
      },
    }],
  };
}

/** Every label stored in `bucket`, by object key. */
async function storedLabels(bucket: string): Promise<Record<string, LabelRecord[]>> {
  const stored: Record<string, LabelRecord[]> = {};
  for (const key of await listObjectKeys(s3, bucket, 'labels/')) {
    const text = (await getObjectBytes(s3, bucket, key)).toString('utf8');
    stored[key] = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LabelRecord);
  }
  return stored;
}

/** Every dead letter in the queue (received and deleted). */
async function deadLetters(queueUrl: string): Promise<LabelDeadLetter[]> {
  const letters: LabelDeadLetter[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (Messages.length === 0) return letters;
    letters.push(...Messages.map((m) => JSON.parse(m.Body!) as LabelDeadLetter));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  }
}

/** The label metrics of a model in the EMF lines. */
function metricsOf(lines: readonly string[], model: string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const line of lines) {
    const emf = JSON.parse(line) as Record<string, unknown>;
    if (!emf._aws || emf.Model !== model) continue;
    for (const name of Object.values(LabelMetrics)) totals[name] = (totals[name] ?? 0) + ((emf[name] as number) ?? 0);
  }
  return totals;
}

/** UTF-8 bytes of `text` as a dead letter's body holds it: a JSON string, U+FFFE, U+FFFF and surrogates escaped too. */
const escapedBytes = (text: string) => Buffer.byteLength(JSON.stringify(text).replace(/[\uFFFE\uFFFF\uD800-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)) - 2;

const good = (id: string, labelTime = T1, model = 'fraud') => ({ model, requestId: id, label: 1, labelTime });

describe('Kinesis records', () => {
  test('valid labels are stored per model and arrival date (receivedAt: the record\'s arrival), late ones too, with normalized times; one object per group, named by shard and first record', async () => {
    const { handler, bucketName, queueUrl, lines } = await setup();
    const offset = new Date(T1).toISOString().replace('Z', '+00:00');
    const WEEK_AGO = NOW - 8 * 86_400_000; // a weekly backfill: labelTime long before the delivery
    const event = kinesisEvent([
      { model: 'fraud', requestId: 'r-1', label: 1, labelTime: offset },
      { model: 'fraud', entity: { customer_id: 'c-9', region: 7 }, eventTime: T0, label: false, labelTime: T1 },
      { model: 'churn', requestId: 'r-3', label: 'stayed', labelTime: T0 },
      { model: 'fraud', requestId: 'r-4', label: 0.5, labelTime: new Date(WEEK_AGO).toISOString() },
    ]);
    const ARRIVAL = NOW - 60_000;
    for (const record of event.Records) record.kinesis.approximateArrivalTimestamp = ARRIVAL / 1000;
    const response = await handler(event);
    expect(response).toEqual({ batchItemFailures: [] });
    const iso = (ms: number) => new Date(ms).toISOString();
    const receivedAt = iso(ARRIVAL);
    expect(await storedLabels(bucketName)).toEqual({
      [`labels/model=churn/dt=${day(ARRIVAL)}/kinesis-${SHARD}-1002.jsonl`]: [{ schema: 1, model: 'churn', requestId: 'r-3', label: 'stayed', labelTime: iso(T0), receivedAt }],
      [`labels/model=fraud/dt=${day(ARRIVAL)}/kinesis-${SHARD}-1000.jsonl`]: [
        { schema: 1, model: 'fraud', requestId: 'r-1', label: 1, labelTime: iso(T1), receivedAt },
        { schema: 1, model: 'fraud', entity: { customer_id: 'c-9', region: 7 }, eventTime: iso(T0), label: false, labelTime: iso(T1), receivedAt },
        { schema: 1, model: 'fraud', requestId: 'r-4', label: 0.5, labelTime: iso(WEEK_AGO), receivedAt },
      ],
    });
    expect(await deadLetters(queueUrl)).toEqual([]);
    expect(metricsOf(lines, 'fraud')).toEqual({ [LabelMetrics.RECEIVED]: 3, [LabelMetrics.STORED]: 3, [LabelMetrics.DEAD_LETTERED]: 0 });
    expect(metricsOf(lines, 'churn')).toEqual({ [LabelMetrics.RECEIVED]: 1, [LabelMetrics.STORED]: 1, [LabelMetrics.DEAD_LETTERED]: 0 });
  });

  test('a retried batch overwrites what it stored before instead of storing it twice', async () => {
    const { handler, bucketName } = await setup();
    const event = kinesisEvent([good('a'), good('b')]);
    await handler(event);
    await handler(event);
    expect(Object.values(await storedLabels(bucketName)).flat().map((l) => l.requestId)).toEqual(['a', 'b']);
  });

  const huge = 'x'.repeat(1024 * 1024);
  let nestedLabel = '1';
  for (let i = 0; i < 5000; i++) nestedLabel = `[${nestedLabel}]`;
  test.each([
    ['a lone UTF-16 surrogate in a join key', `{"model":"fraud","entity":{"id":"a\\ud800"},"eventTime":${T0},"label":1,"labelTime":${T1}}`, /entity.id: join key contains a lone UTF-16 surrogate/],
    ['a value nested 5,000 deep', `{"model":"fraud","requestId":"n","label":${nestedLabel},"labelTime":${T1}}`, /label: expected the outcome .* got an array of 1/],
    ['a 1 MB field', JSON.stringify({ ...good('x'), requestId: huge }), /label: \d+ bytes; a label takes at most 65536 bytes/],
    ['a 60 KB field', JSON.stringify({ ...good('x'), requestId: huge.slice(0, 60_000) }), /requestId: 60000 characters; a request id has at most 256/],
    ['labelTime in seconds', JSON.stringify(good('s', Math.floor(T1 / 1000))), /labelTime: \d+ looks like epoch seconds/],
    ['eventTime 8.7e15', JSON.stringify({ model: 'fraud', entity: { id: 'a' }, eventTime: 8.7e15, label: 1, labelTime: T1 }), /eventTime: 8700000000000000 ms since the epoch is more than/],
    ['a model not accepted', JSON.stringify(good('m', T1, 'unknown-model')), /model: the string "unknown-model" is not a model this ingestion accepts/],
    ['text that is not JSON', '{"model": "fraud", ', /label: not JSON/],
    ['bytes that are not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /label: not JSON/],
    ['characters SQS refuses in a message (U+FFFF)', JSON.stringify({ ...good('u'), label: 'a\uffff', extra: '\u0000' }), /extra: unknown field/],
  ])('%s: dead-lettered with its reason, the good records around it stored, the batch not failed', async (_name, bad, reason) => {
    const { handler, bucketName, queueUrl, lines } = await setup();
    const response = await handler(kinesisEvent([good('before'), bad, good('after')]));
    expect(response).toEqual({ batchItemFailures: [] });
    expect(Object.values(await storedLabels(bucketName)).flat().map((l) => l.requestId)).toEqual(['before', 'after']);
    const letters = await deadLetters(queueUrl);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ source: { kind: 'kinesis', shardId: SHARD, sequenceNumber: '1001' } });
    expect(letters[0].reason).toMatch(reason);
    expect(letters[0].reason.length).toBeLessThanOrEqual(2000);
    expect(escapedBytes(letters[0].data)).toBeLessThanOrEqual(8192);
    const dataBytes = Buffer.isBuffer(bad) ? bad.length : Buffer.byteLength(bad);
    expect(letters[0].truncated).toBe(dataBytes > 8192);
    const all = [...MODELS, '_unknown'].map((m) => metricsOf(lines, m));
    expect(all.reduce((n, m) => n + (m[LabelMetrics.DEAD_LETTERED] ?? 0), 0)).toBe(1);
    expect(metricsOf(lines, 'fraud')[LabelMetrics.STORED]).toBe(2);
  });

  test('letters of escaped text: each data cut to 8192 bytes as escaped, batches under 256 KiB of bodies, all sent', async () => {
    // fauxqs accepts batches up to 1 MiB (SQS's newer limit); the dead-letter queue is held to 256 KiB, so the
    // requests sent are measured on the real client's middleware stack.
    const client = new SQSClient(localClientConfig(sqsServer.endpoint));
    const batchBytes: number[] = [];
    client.middlewareStack.add((next) => async (args) => {
      const input = args.input as SendMessageBatchCommandInput;
      if (input.Entries) batchBytes.push(input.Entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody ?? ''), 0));
      return next(args);
    }, { step: 'initialize', name: 'batchBytes' });
    const { handler, queueUrl } = await setup({ sqs: client });
    // Each 9,000 characters (UTF-8 on the stream: a lone surrogate cannot arrive): control characters (6 bytes escaped),
    // U+FFFF (6), quotes (2), é (2), emoji (12 per pair).
    const texts = Array.from({ length: 10 }, (_, i) => ['\u0001', '\uffff', '"', 'é', '😀'][i % 5].repeat(9000).slice(0, 9000));
    const response = await handler(kinesisEvent(texts));
    client.destroy();
    expect(response).toEqual({ batchItemFailures: [] });
    expect(Math.max(...batchBytes)).toBeLessThanOrEqual(256 * 1024);
    const letters = await deadLetters(queueUrl);
    expect(letters).toHaveLength(10);
    for (const letter of letters) {
      const text = texts[Number(letter.source.kind === 'kinesis' ? letter.source.sequenceNumber : 0) - 1000];
      expect(escapedBytes(letter.data)).toBeLessThanOrEqual(8192);
      expect(text.startsWith(letter.data)).toBe(true);
      expect(letter.truncated).toBe(true);
      // The longest such start: one more character (a pair for the emoji) would pass 8192.
      const next = text.slice(0, letter.data.length + (text.codePointAt(letter.data.length)! > 0xffff ? 2 : 1));
      expect(escapedBytes(next)).toBeGreaterThan(8192);
    }
  });

  test('S3 down: the records it could not store are the batch item failures; refused ones are still dead-lettered', async () => {
    const down = await startS3rver();
    const downS3 = new S3Client({ ...localClientConfig(down.endpoint), maxAttempts: 1 });
    await down.stop();
    const { handler, queueUrl } = await setup({ s3: downS3 });
    const response = await handler(kinesisEvent([good('a'), good('b', T0, 'churn'), '{not json', good('c')]));
    downS3.destroy();
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '1000' }, { itemIdentifier: '1001' }, { itemIdentifier: '1003' }] });
    expect((await deadLetters(queueUrl)).map((l) => l.source)).toEqual([{ kind: 'kinesis', shardId: SHARD, sequenceNumber: '1002' }]);
  });

  test('an S3 that never answers: the deadline ends the call and the records are retried', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentS3 = new S3Client({ ...localClientConfig(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`), maxAttempts: 1 });
    try {
      const { handler } = await setup({ s3: silentS3, timeoutMs: 200 });
      expect(await handler(kinesisEvent([good('a')]))).toEqual({ batchItemFailures: [{ itemIdentifier: '1000' }] });
    } finally {
      silentS3.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('the dead-letter queue unreachable: the refused records are retried, not lost', async () => {
    const { handler, bucketName } = await setup({ deadLetterQueueUrl: 'http://127.0.0.1:1/000000000000/missing' });
    const response = await handler(kinesisEvent([good('a'), '{not json']));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '1001' }]);
    expect(Object.values(await storedLabels(bucketName)).flat().map((l) => l.requestId)).toEqual(['a']);
  });
});

describe('S3 drops', () => {
  test('each line is validated: valid ones stored, a bad line dead-lettered with the key, line number and reason; a redelivery stores nothing twice', async () => {
    const { handler, bucketName, queueUrl, lines } = await setup();
    const drops = `drops-${run}`;
    await s3.send(new CreateBucketCommand({ Bucket: drops }));
    const key = 'from crm/2026 labels.jsonl';
    const body = [JSON.stringify(good('a')), '{"model":"fraud","requestId":"b","label":1}', '', JSON.stringify(good('c', T0, 'churn')) + '\r', ''].join('\n');
    await s3.send(new PutObjectCommand({ Bucket: drops, Key: key, Body: body }));

    await handler(s3Event(drops, key));
    await handler(s3Event(drops, key));

    const stored = await storedLabels(bucketName);
    // By arrival: the drop's event time.
    expect(Object.keys(stored)).toEqual([
      expect.stringMatching(new RegExp(`^labels/model=churn/dt=${day(NOW)}/s3-[0-9a-f]{32}\\.jsonl$`)),
      expect.stringMatching(new RegExp(`^labels/model=fraud/dt=${day(NOW)}/s3-[0-9a-f]{32}\\.jsonl$`)),
    ]);
    expect(Object.values(stored).flat().map((l) => [l.requestId, l.receivedAt]).sort()).toEqual([['a', new Date(NOW).toISOString()], ['c', new Date(NOW).toISOString()]]);
    const letters = await deadLetters(queueUrl);
    expect(letters).toHaveLength(2); // one per delivery
    expect(letters[0]).toMatchObject({ source: { kind: 's3', bucket: drops, key, line: 2 }, data: '{"model":"fraud","requestId":"b","label":1}', truncated: false });
    expect(letters[0].reason).toMatch(/^labelTime: expected ISO-8601 with a zone .* got nothing$/);
    expect(metricsOf(lines, 'fraud')).toEqual({ [LabelMetrics.RECEIVED]: 4, [LabelMetrics.STORED]: 2, [LabelMetrics.DEAD_LETTERED]: 2 });
  });

  test('labels that cannot be stored fail the invocation, so Lambda retries it', async () => {
    const { handler, queueUrl } = await setup({ bucketName: 'no-such-bucket' });
    const drops = `drops-${run}`;
    await s3.send(new CreateBucketCommand({ Bucket: drops }));
    await s3.send(new PutObjectCommand({ Bucket: drops, Key: 'l.jsonl', Body: `${JSON.stringify(good('a'))}\nnot json\n` }));
    await expect(handler(s3Event(drops, 'l.jsonl'))).rejects.toThrow('label ingestion: 1 dropped files not fully ingested (see the log); retrying');
    expect((await deadLetters(queueUrl)).map((l) => l.source)).toEqual([{ kind: 's3', bucket: drops, key: 'l.jsonl', line: 2 }]);
  });
});

describe('large drops', () => {
  test('a file of many bad lines: the first 1,000 dead-lettered one by one, the rest in one summary by reason; a bounded number of SQS calls', async () => {
    const client = new SQSClient(localClientConfig(sqsServer.endpoint));
    let sqsCalls = 0;
    client.middlewareStack.add((next) => async (args) => { sqsCalls++; return next(args); }, { step: 'initialize', name: 'countCalls' });
    const { handler, bucketName, queueUrl, lines } = await setup({ sqs: client });
    const drops = `drops-${run}`;
    await s3.send(new CreateBucketCommand({ Bucket: drops }));
    // 1,500 bad lines (1,000 not JSON, 300 without labelTime, 200 not an object) around two good ones.
    const bad = (i: number) => (i % 5 < 2 ? 'a,b,c' : i % 5 === 2 ? '{"model":"fraud","requestId":"x","label":1}' : i % 5 === 3 ? '{"model": fraud}' : '[1]');
    const body = [JSON.stringify(good('first')), ...Array.from({ length: 1500 }, (_, i) => bad(i)), JSON.stringify(good('last'))].join('\n');
    await s3.send(new PutObjectCommand({ Bucket: drops, Key: 'backfill.jsonl', Body: body }));
    await handler(s3Event(drops, 'backfill.jsonl'));
    client.destroy();

    expect(Object.values(await storedLabels(bucketName)).flat().map((l) => l.requestId)).toEqual(['first', 'last']);
    expect(sqsCalls).toBe(Math.ceil((MAX_DEAD_LETTERS_PER_DROP + 1) / 10));
    const letters = await deadLetters(queueUrl) as (LabelDeadLetter | LabelDropSummary)[];
    expect(letters).toHaveLength(MAX_DEAD_LETTERS_PER_DROP + 1);
    const single = letters.filter((l): l is LabelDeadLetter => 'data' in l);
    expect(single.map((l) => l.source.kind === 's3' && l.source.line).sort((a, b) => Number(a) - Number(b)))
      .toEqual(Array.from({ length: MAX_DEAD_LETTERS_PER_DROP }, (_, i) => i + 2));
    const summary = letters.find((l): l is LabelDropSummary => 'refusedLines' in l)!;
    expect(summary).toMatchObject({
      source: { kind: 's3', bucket: drops, key: 'backfill.jsonl', line: 0 }, refusedLines: 1500, deadLetteredLines: MAX_DEAD_LETTERS_PER_DROP,
      reasons: { 'label: not a JSON object': 900, 'labelTime: expected ISO': 300, 'label: not JSON': 300 },
    });
    expect(summary.reason).toMatch(/^1500 lines of this file were refused; the first 1000 are dead-lettered one by one .*: fix the file and drop it again$/);
    expect(metricsOf(lines, 'fraud')).toEqual({ [LabelMetrics.RECEIVED]: 302, [LabelMetrics.STORED]: 2, [LabelMetrics.DEAD_LETTERED]: 300 });
    expect(metricsOf(lines, '_unknown')).toEqual({ [LabelMetrics.RECEIVED]: 1200, [LabelMetrics.STORED]: 0, [LabelMetrics.DEAD_LETTERED]: 1200 });
  });

  /** A loopback S3 stand-in for the drop (s3rver cannot stall or trickle): GetObject answered by `send`, writes accepted and kept. */
  async function withDropServer(send: (res: http.ServerResponse) => void, body: (client: S3Client, written: string[]) => Promise<void>): Promise<void> {
    const written: string[] = [];
    const server = http.createServer((req, res) => {
      if (req.method === 'PUT') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
          written.push(Buffer.concat(chunks).toString('utf8'));
          res.writeHead(200, { etag: '"x"' }).end();
        });
        return;
      }
      send(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new S3Client({ ...localClientConfig(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`), maxAttempts: 1 });
    try {
      await body(client, written);
    } finally {
      client.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  test('the body has its own deadline: a file trickling in past the call deadline is read whole; one that stops sending fails the invocation', async () => {
    const labels = [good('a'), good('b'), good('c')].map((l) => `${JSON.stringify(l)}\n`);
    await withDropServer((res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': String(Buffer.byteLength(labels.join(''))) });
      labels.forEach((line, i) => setTimeout(() => res.write(line), 150 * (i + 1)));
      setTimeout(() => res.end(), 150 * (labels.length + 1));
    }, async (client, written) => {
      const { handler } = await setup({ s3: client, timeoutMs: 300 });
      await handler(s3Event('drops', 'slow.jsonl'));
      expect(written.join('').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as LabelRecord).requestId)).toEqual(['a', 'b', 'c']);
    });
    await withDropServer((res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': '1000' });
      res.write(labels[0]);
    }, async (client) => {
      const { handler, lines } = await setup({ s3: client, timeoutMs: 300 });
      await expect(handler(s3Event('drops', 'stalled.jsonl'))).rejects.toThrow('label ingestion: 1 dropped files not fully ingested');
      expect(lines.join('\n')).toMatch(/stalled.jsonl: TimeoutError: reading s3 object stalled.jsonl: no data for 300 ms/);
    });
  });
});

describe('environment', () => {
  test('every problem at once, each naming the variable', () => {
    expect(() => parseLabelIngestionEnvironment({ LABEL_MODELS: '["ok", "../bad"]' })).toThrow(
      'label-ingestion-handler: invalid environment:\n  - LABEL_DATASET_BUCKET_NAME is not set; deploy it with the LabelIngestion construct\n'
      + '  - LABEL_DEAD_LETTER_QUEUE_URL is not set; deploy it with the LabelIngestion construct\n'
      + "  - LABEL_MODELS must be a non-empty JSON array of model names (1–128 letters, digits, '.', '_' or '-')",
    );
  });
});
