/**
 * The routing sync handler (runtime/handlers/routing-sync-handler.ts) with the real `@aws-sdk/client-sagemaker`
 * client. There is no local SageMaker control plane (no stand-in on npm like dynalite for DynamoDB), so this file
 * starts a small loopback HTTP server that speaks SageMaker's JSON protocol (awsJson1_1) for the one operation the
 * handler sends, `UpdateEndpointWeightsAndCapacities`: it records each call, refuses unknown endpoints and variants
 * with a ValidationException as SageMaker does, and answers "in-progress" for an endpoint the test marks as updating.
 * The stream records carry real images: the items are written by `RoutingTableClient` on dynalite and read back before
 * and after each change, as DynamoDB Streams (NEW_AND_OLD_IMAGES) would deliver them.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { AttributeValue, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { DynamoDBRecord } from 'aws-lambda';
import { RoutingTableClient } from '../../runtime/aws/routing-table';
import { RoutingAttributes, routingKey, RoutingSyncMetrics } from '../../runtime/core/routing';
import { createRoutingSync, RoutingSyncHandler } from '../../runtime/handlers/routing-sync-handler';
import { createRoutingTable, LocalService, localClientConfig, startDynalite } from '../support/local-aws';

/** A SageMaker control-plane stand-in for UpdateEndpointWeightsAndCapacities. */
interface SageMakerStandIn {
  readonly endpoint: string;
  /** Accepted calls, in order. */
  readonly calls: { endpointName: string; weights: [string, number][] }[];
  /** Variants of each existing endpoint. */
  readonly endpoints: Map<string, string[]>;
  /** Endpoints answering "in-progress" (updating) for this many more calls. */
  readonly updating: Map<string, number>;
  stop(): Promise<void>;
}

async function startSageMakerStandIn(): Promise<SageMakerStandIn> {
  const calls: SageMakerStandIn['calls'] = [];
  const endpoints = new Map<string, string[]>();
  const updating = new Map<string, number>();
  const arn = (name: string) => `arn:aws:sagemaker:us-east-1:123456789012:endpoint/${name.toLowerCase()}`;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body: object) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      const refuse = (message: string) => answer(400, { __type: 'ValidationException', message });
      if (req.headers['x-amz-target'] !== 'SageMaker.UpdateEndpointWeightsAndCapacities') {
        return answer(400, { __type: 'UnknownOperationException', message: `not served by this stand-in: ${req.headers['x-amz-target']}` });
      }
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const name: string = input.EndpointName;
      const variants = endpoints.get(name);
      if (!variants) return refuse(`Could not find endpoint "${arn(name)}".`);
      const left = updating.get(name) ?? 0;
      if (left > 0) {
        updating.set(name, left - 1);
        return refuse(`Cannot update in-progress endpoint "${arn(name)}".`);
      }
      const unknown = input.DesiredWeightsAndCapacities.map((d: any) => d.VariantName).filter((v: string) => !variants.includes(v));
      if (unknown.length > 0) return refuse(`The variant(s) "[${unknown.join(', ')}]" is/are not present in endpoint "${arn(name)}".`);
      calls.push({ endpointName: name, weights: input.DesiredWeightsAndCapacities.map((d: any) => [d.VariantName, d.DesiredWeight]) });
      answer(200, { EndpointArn: arn(name) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, endpoints, updating,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const TABLE = 'routing';
let dynalite: LocalService;
let dynamo: DynamoDBClient;
let table: RoutingTableClient;
let standIn: SageMakerStandIn;
let sagemaker: SageMakerClient;
let lines: string[];
let sync: RoutingSyncHandler;

beforeAll(async () => {
  [dynalite, standIn] = await Promise.all([startDynalite(), startSageMakerStandIn()]);
  dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await createRoutingTable(dynamo, TABLE);
  table = new RoutingTableClient({ client: dynamo, tableName: TABLE });
  // One attempt per call: the handler's own retries are under test, not the SDK's.
  sagemaker = new SageMakerClient({ ...localClientConfig(standIn.endpoint), maxAttempts: 1 });
});

afterAll(async () => {
  dynamo.destroy();
  sagemaker.destroy();
  await Promise.all([dynalite.stop(), standIn.stop()]);
});

beforeEach(() => {
  standIn.calls.length = 0;
  lines = [];
  sync = createRoutingSync({ sagemaker, log: (line) => lines.push(line), retryBaseMs: 5, retryForMs: 2000 });
});

let sequence = 0;
let modelCount = 0;

const rawItem = async (model: string) => (await dynamo.send(new GetItemCommand({
  TableName: TABLE, Key: routingKey(model) as Record<string, AttributeValue>, ConsistentRead: true,
}))).Item;

/** Runs `write` and returns the stream record DynamoDB Streams would deliver for it (NEW_AND_OLD_IMAGES). */
async function change(model: string, write: () => Promise<unknown>): Promise<DynamoDBRecord> {
  const before = await rawItem(model);
  await write();
  const after = await rawItem(model);
  return {
    eventName: !after ? 'REMOVE' : before ? 'MODIFY' : 'INSERT',
    dynamodb: {
      Keys: routingKey(model) as any, OldImage: before as any, NewImage: after as any,
      SequenceNumber: String(++sequence).padStart(21, '0'), StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** A new model with an endpoint of its own (variants champion, challenger), and the record of its seed. */
async function seeded(weights: Record<string, number> = { champion: 90, challenger: 10 }): Promise<{ model: string; endpointName: string; record: DynamoDBRecord }> {
  const model = `model-${++modelCount}`;
  const endpointName = `endpoint-${modelCount}`;
  standIn.endpoints.set(endpointName, ['champion', 'challenger']);
  const record = await change(model, () => table.seed({ model, weights, endpointName, by: 'deploy', reason: 'seed' }));
  return { model, endpointName, record };
}

const setWeights = (model: string, weights: Record<string, number>, expectedVersion: number) => change(model, () =>
  table.setWeights(model, weights, { expectedVersion, by: 'alice', reason: 'test' }));

const metrics = (name: string) => lines.map((l) => JSON.parse(l)).filter((l) => l._aws && l[name] !== undefined).map((l) => l.Model);
const refusals = () => lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'ERROR').map((l) => [l.model, l.reason]);

test('a seeded model\'s weights are pushed to its endpoint, in the table\'s order', async () => {
  const { model, endpointName, record } = await seeded({ challenger: 5, champion: 95 });
  expect(await sync({ Records: [record] })).toEqual({ batchItemFailures: [] });
  expect(standIn.calls).toEqual([{ endpointName, weights: [['challenger', 5], ['champion', 95]] }]);
  expect(metrics(RoutingSyncMetrics.APPLIED)).toEqual([model]);
});

test('only the last change of a model in a batch is pushed; nothing when a model ends the batch as it began it', async () => {
  const a = await seeded();
  const b = await seeded();
  const changes = [
    await setWeights(a.model, { champion: 80, challenger: 20 }, 1),
    await setWeights(b.model, { champion: 50, challenger: 50 }, 1),
    await setWeights(a.model, { champion: 70, challenger: 30 }, 2),
    await setWeights(b.model, { champion: 90, challenger: 10 }, 2), // back to where b began
  ];
  expect(await sync({ Records: changes })).toEqual({ batchItemFailures: [] });
  expect(standIn.calls).toEqual([{ endpointName: a.endpointName, weights: [['champion', 70], ['challenger', 30]] }]);
});

test('a model without an endpoint and a removed item push nothing', async () => {
  const model = `model-${++modelCount}`;
  const records = [
    await change(model, () => table.seed({ model, weights: { only: 1 }, by: 'deploy', reason: 'seed' })),
    await setWeights(model, { only: 2 }, 1),
  ];
  const removed = { ...records[1], eventName: 'REMOVE' as const, dynamodb: { ...records[1].dynamodb, NewImage: undefined, SequenceNumber: String(++sequence).padStart(21, '0') } };
  expect(await sync({ Records: [...records, removed] })).toEqual({ batchItemFailures: [] });
  expect(standIn.calls).toEqual([]);
  expect(refusals()).toEqual([]);
});

test('a replaced endpoint (a deploy seeds the new name) gets the live weights', async () => {
  const { model } = await seeded();
  await table.setWeights(model, { champion: 60, challenger: 40 }, { expectedVersion: 1, by: 'alice', reason: 'canary' });
  standIn.endpoints.set('endpoint-replaced', ['champion', 'challenger']);
  const record = await change(model, () => table.seed({ model, weights: { champion: 100, challenger: 0 }, endpointName: 'endpoint-replaced', by: 'deploy', reason: 'redeploy' }));
  await sync({ Records: [record] });
  expect(standIn.calls).toEqual([{ endpointName: 'endpoint-replaced', weights: [['champion', 60], ['challenger', 40]] }]);
});

test('an updating endpoint (SageMaker refuses meanwhile) is retried in the invocation until it takes the weights', async () => {
  const { endpointName, record } = await seeded();
  standIn.updating.set(endpointName, 2);
  expect(await sync({ Records: [record] })).toEqual({ batchItemFailures: [] });
  expect(standIn.calls).toEqual([{ endpointName, weights: [['champion', 90], ['challenger', 10]] }]);
  expect(standIn.updating.get(endpointName)).toBe(0);
});

test('still updating after the retry time: the batch is handed back from that model\'s first record, earlier models done', async () => {
  const done = await seeded();
  const busy = await seeded();
  const later = await seeded();
  const busyChange = await setWeights(busy.model, { champion: 1, challenger: 1 }, 1);
  standIn.updating.set(busy.endpointName, 1_000_000);
  const handler = createRoutingSync({ sagemaker, log: (line) => lines.push(line), retryBaseMs: 5, retryForMs: 100 });
  const response = await handler({ Records: [done.record, busy.record, busyChange, later.record] });
  expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: busy.record.dynamodb!.SequenceNumber }] });
  expect(standIn.calls.map((c) => c.endpointName)).toEqual([done.endpointName]);
  expect(lines.some((l) => JSON.parse(l).level === 'WARN' && /in-progress/.test(JSON.parse(l).detail))).toBe(true);

  // The mapping retries from there once the endpoint is in service: the model's last state lands, then the rest.
  standIn.updating.set(busy.endpointName, 0);
  expect(await handler({ Records: [busy.record, busyChange, later.record] })).toEqual({ batchItemFailures: [] });
  expect(standIn.calls.slice(1)).toEqual([
    { endpointName: busy.endpointName, weights: [['champion', 1], ['challenger', 1]] },
    { endpointName: later.endpointName, weights: [['champion', 90], ['challenger', 10]] },
  ]);
});

test('handed back from the first record of every model not pushed yet: a model changing around the stuck one is not lost', async () => {
  const a = await seeded();
  const b = await seeded();
  await sync({ Records: [a.record, b.record] }); // both endpoints at their seed (b at state 1: 90/10)
  standIn.calls.length = 0;
  const batch = [
    await setWeights(b.model, { champion: 80, challenger: 20 }, 1), // b 1 → 2
    await setWeights(a.model, { champion: 1, challenger: 1 }, 1), // a: its endpoint is updating
    await setWeights(b.model, { champion: 70, challenger: 30 }, 2), // b 2 → 3
    await setWeights(b.model, { champion: 80, challenger: 20 }, 3), // b 3 → 2
  ];
  standIn.updating.set(a.endpointName, 1_000_000);
  const handler = createRoutingSync({ sagemaker, log: (line) => lines.push(line), retryBaseMs: 5, retryForMs: 100 });
  const response = await handler({ Records: batch });
  // b's last record comes after a's: b is not pushed yet, so the retry must still hold b's state before (state 1).
  expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: batch[0].dynamodb!.SequenceNumber }] });
  expect(standIn.calls).toEqual([]);

  // The mapping retries from the reported record once a's endpoint is in service: b lands on 80/20, not left at 90/10.
  standIn.updating.set(a.endpointName, 0);
  const reported = batch.findIndex((r) => r.dynamodb!.SequenceNumber === response.batchItemFailures[0].itemIdentifier);
  expect(await handler({ Records: batch.slice(reported) })).toEqual({ batchItemFailures: [] });
  expect(standIn.calls).toEqual([
    { endpointName: a.endpointName, weights: [['champion', 1], ['challenger', 1]] },
    { endpointName: b.endpointName, weights: [['champion', 80], ['challenger', 20]] },
  ]);
});

test('a deploy that changes the endpoint\'s variants: the sync pushes the new variants to the new endpoint, once', async () => {
  const { model } = await seeded();
  await table.setWeights(model, { champion: 60, challenger: 40 }, { expectedVersion: 1, by: 'alice', reason: 'canary' });
  standIn.endpoints.set('endpoint-v2', ['champion', 'challenger2']);
  const record = await change(model, () => table.seed({ model, weights: { champion: 90, challenger2: 10 }, endpointName: 'endpoint-v2', by: 'deploy', reason: 'redeploy' }));
  expect(await sync({ Records: [record] })).toEqual({ batchItemFailures: [] });
  expect(standIn.calls).toEqual([{ endpointName: 'endpoint-v2', weights: [['champion', 90], ['challenger2', 10]] }]);
  expect(refusals()).toEqual([]);
});

test('the function\'s remaining time bounds the retries', async () => {
  const { endpointName, record } = await seeded();
  standIn.updating.set(endpointName, 1_000_000);
  const handler = createRoutingSync({ sagemaker, log: (line) => lines.push(line), retryBaseMs: 5, retryForMs: 60_000 });
  // 10 s left: all of it is the margin kept before the timeout, so the first failure hands the record back.
  const response = await handler({ Records: [record] }, { getRemainingTimeInMillis: () => 10_000 });
  expect(response.batchItemFailures).toHaveLength(1);
  expect(1_000_000 - standIn.updating.get(endpointName)!).toBe(1);
});

test('an unknown variant and a missing endpoint are reported (reason, metric), not retried; the batch goes on', async () => {
  const unknown = await seeded();
  standIn.endpoints.set(unknown.endpointName, ['champion', 'blue']);
  const gone = await seeded();
  standIn.endpoints.delete(gone.endpointName);
  const fine = await seeded();
  expect(await sync({ Records: [unknown.record, gone.record, fine.record] })).toEqual({ batchItemFailures: [] });
  expect(refusals()).toEqual([[unknown.model, 'unknown-variant'], [gone.model, 'endpoint-not-found']]);
  expect(metrics(RoutingSyncMetrics.REFUSED)).toEqual([unknown.model, gone.model]);
  expect(standIn.calls.map((c) => c.endpointName)).toEqual([fine.endpointName]);
});

test('records that cannot be read are reported and never fail the batch', async () => {
  const fine = await seeded();
  const model = `model-${++modelCount}`;
  await dynamo.send(new PutItemCommand({
    TableName: TABLE,
    Item: { ...routingKey(model), [RoutingAttributes.VERSION]: { N: '1' }, [RoutingAttributes.VARIANTS]: { S: 'champion=1' }, [RoutingAttributes.ENDPOINT]: { S: fine.endpointName } } as Record<string, AttributeValue>,
  }));
  const malformed = await change(model, async () => undefined);
  const seq = () => String(++sequence).padStart(21, '0');
  let deep: any = { S: 'x' };
  for (let i = 0; i < 10_000; i++) deep = { M: { weight: deep } };
  const hostile: DynamoDBRecord[] = [
    { eventName: 'MODIFY', dynamodb: { Keys: routingKey('keys-only') as any, SequenceNumber: seq(), StreamViewType: 'KEYS_ONLY' } },
    { eventName: 'MODIFY', dynamodb: { Keys: { id: { N: '1' } }, NewImage: { id: { N: '1' } }, SequenceNumber: seq() } },
    { eventName: 'INSERT', dynamodb: { Keys: routingKey('\ud800lone') as any, NewImage: { ...routingKey('\ud800lone'), [RoutingAttributes.VARIANTS]: { L: [deep] } } as any, SequenceNumber: seq() } },
    { eventName: 'INSERT' } as DynamoDBRecord,
  ];
  expect(await sync({ Records: [malformed, ...hostile, fine.record] })).toEqual({ batchItemFailures: [] });
  expect(refusals()).toEqual([
    [model, 'invalid-record'], ['keys-only', 'invalid-record'], ['', 'invalid-record'], ['\ud800lone', 'invalid-record'], ['', 'invalid-record'],
  ]);
  expect(standIn.calls.map((c) => c.endpointName)).toEqual([fine.endpointName]);
});

test('SageMaker unreachable: retried, then handed back to the mapping', async () => {
  const { record } = await seeded();
  const closed = await startSageMakerStandIn();
  await closed.stop();
  const unreachable = new SageMakerClient({ ...localClientConfig(closed.endpoint), maxAttempts: 1 });
  try {
    const handler = createRoutingSync({ sagemaker: unreachable, log: (line) => lines.push(line), retryBaseMs: 5, retryForMs: 100 });
    expect(await handler({ Records: [record] })).toEqual({ batchItemFailures: [{ itemIdentifier: record.dynamodb!.SequenceNumber }] });
    expect(refusals()).toEqual([]);
  } finally {
    unreachable.destroy();
  }
});
