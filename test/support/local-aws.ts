/**
 * Loopback stand-ins for AWS services, started by the tests (and benchmarks) that need them: dynalite (DynamoDB),
 * kinesalite (Kinesis), s3rver (S3) and fauxqs (SQS), each on a free port of 127.0.0.1, each stopped by its `stop()`.
 * The real AWS SDK v3 clients talk to them through `localClientConfig(endpoint)`.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import type { Server } from 'http';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { OnlineAttributes } from '../../lib/features/spec';
import { RoutingAttributes } from '../../runtime/core/routing';
import { RolloutAttributes } from '../../runtime/contracts/rollout';

/** A running local service. */
export interface LocalService {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** Client configuration for a real AWS SDK v3 client pointed at a loopback service (HTTP/1, dummy credentials). */
export function localClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    // s3rver only accepts its own well-known key; dynalite and kinesalite accept any.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // kinesalite rejects HTTP/2; HTTP/1 is fine for all three. Short timeouts: loopback answers in milliseconds.
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2000, requestTimeout: 10000 }),
    forcePathStyle: true,
    // s3rver predates S3's default CRC32 checksums on uploads.
    requestChecksumCalculation: 'WHEN_REQUIRED' as const,
    responseChecksumValidation: 'WHEN_REQUIRED' as const,
    maxAttempts: 3,
  };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Starts dynalite (in memory) on a free loopback port. */
export async function startDynalite(): Promise<LocalService> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite');
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const endpoint = await listen(server);
  return { endpoint, stop: () => close(server) };
}

/** Starts kinesalite (in memory) on a free loopback port. */
export async function startKinesalite(): Promise<LocalService> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const kinesalite = require('kinesalite');
  const server: Server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  const endpoint = await listen(server);
  return { endpoint, stop: () => close(server) };
}

/** Starts s3rver on a free loopback port with its data in a fresh temporary folder. */
export async function startS3rver(): Promise<LocalService> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 's3rver-'));
  const s3rver = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [] });
  const { port } = await s3rver.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      await s3rver.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** s3rver with a real S3 client on it and buckets created: what a test of a handler reading or writing S3 starts. */
export interface S3StandIn {
  /** s3rver's `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** A real S3 client pointed at it. */
  readonly s3: S3Client;
  /** Destroys the client and stops the server. */
  stop(): Promise<void>;
}

/** Starts s3rver and creates `buckets` through a real S3 client. */
export async function startS3StandIn(...buckets: string[]): Promise<S3StandIn> {
  const s3rver = await startS3rver();
  const s3 = new S3Client(localClientConfig(s3rver.endpoint));
  for (const bucket of buckets) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint: s3rver.endpoint, s3,
    stop: async () => {
      s3.destroy();
      await s3rver.stop();
    },
  };
}

/**
 * Starts fauxqs (SQS, in memory) on a free loopback port. fauxqs is an ES module for Node >= 22.5, so it runs in a
 * child process on this Node (the server itself, bound to 127.0.0.1), which ends with `stop()` or with this process.
 */
export async function startSqsStandIn(): Promise<LocalService> {
  const script = [
    "import { buildApp } from 'fauxqs';",
    'const app = buildApp({ logger: false });',
    "const address = await app.listen({ port: 0, host: '127.0.0.1' });",
    'process.stdout.write(JSON.stringify({ address }) + "\\n");',
    "process.stdin.on('end', () => app.close().then(() => process.exit(0)));",
    'process.stdin.resume();',
  ].join('\n');
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
    cwd: path.join(__dirname, '..', '..'), stdio: ['pipe', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`fauxqs exited (${code}) before listening`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve((JSON.parse(out.slice(0, out.indexOf('\n'))) as { address: string }).address);
    });
  });
  child.removeAllListeners('exit');
  return {
    endpoint,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.stdin!.end();
    }),
  };
}

/** Creates the online feature table as `FeatureStore` declares it (one string partition key, on demand). */
export async function createOnlineTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  const pk = OnlineAttributes.PARTITION_KEY;
  await dynamo.send(new CreateTableCommand({
    TableName: tableName, BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: pk, KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: pk, AttributeType: 'S' }],
  }));
}

/** Creates a routing table as `ModelRouting` declares it (partition key `model`, a string; on demand). */
export async function createRoutingTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  const pk = RoutingAttributes.MODEL;
  await dynamo.send(new CreateTableCommand({
    TableName: tableName, BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: pk, KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: pk, AttributeType: 'S' }],
  }));
}

/** Creates a rollout table as `CanaryRollout` declares it (partition key `model`, sort key `rolloutId`, strings; on demand). */
export async function createRolloutTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  const [pk, sk] = [RolloutAttributes.MODEL, RolloutAttributes.ROLLOUT_ID];
  await dynamo.send(new CreateTableCommand({
    TableName: tableName, BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: pk, KeyType: 'HASH' }, { AttributeName: sk, KeyType: 'RANGE' }],
    AttributeDefinitions: [{ AttributeName: pk, AttributeType: 'S' }, { AttributeName: sk, AttributeType: 'S' }],
  }));
}

/** The feature store's two stand-ins, with the online table and the offline bucket created, and clients for both. */
export interface FeatureStoreStandIns {
  readonly dynalite: LocalService;
  readonly s3rver: LocalService;
  readonly dynamo: DynamoDBClient;
  readonly s3: S3Client;
  /** Destroys the clients and stops both servers. */
  stop(): Promise<void>;
}

/** Starts dynalite and s3rver, creates the online table `tableName` and the bucket `bucket`. */
export async function startFeatureStoreStandIns(tableName: string, bucket: string): Promise<FeatureStoreStandIns> {
  const [dynalite, s3rver] = await Promise.all([startDynalite(), startS3rver()]);
  const dynamo = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  const s3 = new S3Client(localClientConfig(s3rver.endpoint));
  await createOnlineTable(dynamo, tableName);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    dynalite, s3rver, dynamo, s3,
    stop: async () => {
      dynamo.destroy();
      s3.destroy();
      await Promise.all([dynalite.stop(), s3rver.stop()]);
    },
  };
}
