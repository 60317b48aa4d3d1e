/**
 * Checkpoints on interruption, on s3rver: a spot termination notice served by a fake instance metadata service
 * (IMDSv2, on loopback) makes the watcher fire and a checkpoint be published before the notice's deadline, after which
 * the run waits to be reclaimed; a notice already present at the start means no resume and no training, only the
 * wait, which SIGTERM ends with exit 143; a training process receiving SIGTERM saves and exits 143; periodic saves
 * never overlap.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalService, localClientConfig, startS3rver } from '../support/local-aws';
import { CheckpointStore, SpotInterruptionWatcher, pointerKey, runWithCheckpoints } from '../../runtime/training';
import { INTERRUPTED_EXIT_CODE } from '../../runtime/contracts/checkpoint';

const BUCKET = 'checkpoints';
let s3rver: LocalService;
let client: S3Client;
let work: string;

/** A fake IMDSv2: a token for a PUT with the TTL header; instance-action 404 until `notice` is set, 401 without the token. */
const imds = { notice: undefined as string | undefined, tokenRequests: 0, unauthorized: 0 };
const metadata = http.createServer((req, res) => {
  if (req.method === 'PUT' && req.url === '/latest/api/token' && req.headers['x-aws-ec2-metadata-token-ttl-seconds']) {
    imds.tokenRequests += 1;
    return res.end('token-1');
  }
  if (req.method === 'GET' && req.url === '/latest/meta-data/spot/instance-action') {
    if (req.headers['x-aws-ec2-metadata-token'] !== 'token-1') {
      imds.unauthorized += 1;
      res.statusCode = 401;
      return res.end();
    }
    res.statusCode = imds.notice ? 200 : 404;
    return res.end(imds.notice ?? '');
  }
  res.statusCode = 400;
  return res.end();
});
let metadataEndpoint: string;

beforeAll(async () => {
  s3rver = await startS3rver();
  client = new S3Client(localClientConfig(s3rver.endpoint));
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpoint-interruption-'));
  await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', resolve));
  metadataEndpoint = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}`;
});

afterAll(async () => {
  client.destroy();
  await new Promise((resolve) => metadata.close(resolve));
  await s3rver.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function store(name: string, logs: string[] = []) {
  return new CheckpointStore({ client, bucket: BUCKET, prefix: `jobs/${name}`, localDir: path.join(work, name), log: (l) => logs.push(l) });
}

async function pointer(name: string) {
  const body = await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: pointerKey(`jobs/${name}`) }))).Body!.transformToString();
  return JSON.parse(body) as { generations: Array<{ generation: number; step: number; createdAt: string }> };
}

/**
 * Starts test/runtime/fixtures/checkpoint/trainer.ts in `mode` against s3rver and resolves once its stdout shows
 * `marker`; `output()` is all it wrote so far, `exited` its exit code.
 */
async function startTrainer(mode: string, marker: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures/checkpoint/trainer.ts'), mode], {
    env: { ...process.env, S3_ENDPOINT: s3rver.endpoint, CHECKPOINT_BUCKET: BUCKET, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(marker)) resolve();
    });
    child.once('exit', () => reject(new Error(`trainer exited before ${marker}:\n${out}`)));
  });
  return { child, exited, output: () => out };
}

test('a spot termination notice from the metadata service: the watcher fires once, a checkpoint is published before the deadline, training stops and the run waits to be reclaimed', async () => {
  let step = 0;
  const logs: string[] = [];
  const watcher = new SpotInterruptionWatcher({ endpoint: metadataEndpoint, intervalMs: 50, log: (l) => logs.push(l) });
  let noticeTime = 0;
  const outcome = await runWithCheckpoints({
    store: store('spot'), watcher, intervalS: 3600, noticeMarginMs: 1000, reclaimWaitMs: 200, log: (l) => logs.push(l),
    checkpoint: async (dir) => {
      fs.writeFileSync(path.join(dir, 'step.txt'), String(step));
      return { step };
    },
    train: async ({ signal, resumed }) => {
      expect(resumed).toBeUndefined();
      while (!signal.aborted) {
        step += 1;
        if (step === 5) { // EC2 schedules the interruption two minutes out; here, three seconds
          noticeTime = Date.now() + 3000;
          imds.notice = JSON.stringify({ action: 'terminate', time: new Date(noticeTime).toISOString() });
        }
        await sleep(10);
      }
      return step;
    },
  });
  const returnedAt = Date.now();
  imds.notice = undefined;
  expect(outcome).toMatchObject({ status: 'interrupted', reason: 'spot-interruption', checkpoint: { generation: 1 } });
  // Not returned (the container would exit and Batch could retry on this doomed host) before the reclaim time.
  expect(returnedAt).toBeGreaterThanOrEqual(noticeTime);
  expect(logs.filter((l) => l.includes('waiting for EC2 to reclaim the instance'))).toHaveLength(1);
  const published = (await pointer('spot')).generations;
  expect(published.map((g) => g.generation)).toEqual([1]);
  expect(published[0].step).toBeGreaterThanOrEqual(5);
  expect(Date.parse(published[0].createdAt)).toBeLessThan(noticeTime - 1000);
  expect(logs.filter((l) => l.includes('"message":"spot interruption notice"'))).toHaveLength(1);
  expect(imds.tokenRequests).toBe(1); // one IMDSv2 token, reused by every poll
});

test('the watcher asks for a new token when the old one is refused, and logs an unreachable metadata service once', async () => {
  const logs: string[] = [];
  const watcher = new SpotInterruptionWatcher({ endpoint: metadataEndpoint, log: (l) => logs.push(l) });
  expect(await watcher.check()).toBeUndefined();
  (watcher as unknown as { token: { value: string; expires: number } }).token = { value: 'revoked', expires: Date.now() + 60_000 };
  imds.notice = JSON.stringify({ action: 'stop', time: '2026-12-01T00:02:00Z' });
  expect(await watcher.check()).toEqual({ action: 'stop', time: new Date('2026-12-01T00:02:00Z') });
  imds.notice = undefined;
  expect(imds.unauthorized).toBeGreaterThanOrEqual(1);

  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadEndpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((resolve) => closed.close(resolve));
  const unreachable = new SpotInterruptionWatcher({ endpoint: deadEndpoint, requestTimeoutMs: 200, log: (l) => logs.push(l) });
  expect(await unreachable.check()).toBeUndefined();
  expect(await unreachable.check()).toBeUndefined();
  expect(logs.filter((l) => l.includes('instance metadata unreachable'))).toHaveLength(1);
});

test('periodic checkpoints never overlap; requests during a save are served by one more save', async () => {
  let active = 0;
  let most = 0;
  let saves = 0;
  const outcome = await runWithCheckpoints({
    store: store('periodic'), watcher: false, intervalS: 0.03, log: () => undefined,
    checkpoint: async (dir) => {
      active += 1;
      most = Math.max(most, active);
      await sleep(120); // slower than the interval: requests pile up while one save runs
      fs.writeFileSync(path.join(dir, 'n.txt'), String(saves));
      active -= 1;
      saves += 1;
    },
    train: async ({ requestCheckpoint }) => {
      await sleep(500);
      await requestCheckpoint();
      return 'done';
    },
  });
  expect(outcome).toEqual({ status: 'completed', result: 'done' });
  expect(most).toBe(1);
  expect(saves).toBeGreaterThanOrEqual(2);
  expect(saves).toBeLessThan(500 / 30); // coalesced: fewer saves than interval ticks
  expect((await pointer('periodic')).generations[0].generation).toBe(saves);
});

test('a notice already present when the run starts (a retry placed on the doomed host): no resume, no training, no save; it waits to be reclaimed', async () => {
  const calls: string[] = [];
  const real = store('early');
  const counting = {
    localDir: real.localDir,
    resume: async () => { calls.push('resume'); return undefined; },
    save: async () => { calls.push('save'); return real.save(); },
  };
  imds.notice = JSON.stringify({ action: 'terminate', time: new Date(Date.now() - 30_000).toISOString() }); // deadline already past
  const started = Date.now();
  const logs: string[] = [];
  const outcome = await runWithCheckpoints({
    store: counting, watcher: new SpotInterruptionWatcher({ endpoint: metadataEndpoint, log: (l) => logs.push(l) }), reclaimWaitMs: 300, log: (l) => logs.push(l),
    checkpoint: async () => { calls.push('checkpoint'); },
    train: async () => { calls.push('train'); return 'trained'; },
  });
  imds.notice = undefined;
  expect(outcome).toEqual({ status: 'interrupted', reason: 'spot-interruption' });
  expect(calls).toEqual([]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(300); // waited reclaimWaitMs past now, the notice's time being past
  expect(logs.some((l) => l.includes('spot interruption notice before the run started'))).toBe(true);
});

test('SIGTERM ends the wait for the reclaim: a training process that found a notice at the start exits 143 without training', async () => {
  imds.notice = JSON.stringify({ action: 'terminate', time: new Date().toISOString() });
  const { child, exited, output } = await startTrainer('train-spot', 'waiting for EC2 to reclaim the instance', {
    CHECKPOINT_PREFIX: 'jobs/early-sigterm', CHECKPOINT_LOCAL_DIR: path.join(work, 'early-sigterm'), AWS_EC2_METADATA_SERVICE_ENDPOINT: metadataEndpoint,
  });
  imds.notice = undefined;
  child.kill('SIGTERM');
  expect(await exited).toBe(INTERRUPTED_EXIT_CODE);
  expect(output()).not.toContain('training started');
  expect(output()).not.toContain('checkpoint saved');
});

test('SIGTERM: the training process saves a checkpoint, stops training and exits 143; the next attempt resumes from it', async () => {
  const localDir = path.join(work, 'sigterm');
  const { child, exited, output } = await startTrainer('train', '"training started"', { CHECKPOINT_PREFIX: 'jobs/sigterm', CHECKPOINT_LOCAL_DIR: localDir });
  await sleep(100);
  child.kill('SIGTERM');
  // Interrupted, not succeeded: Batch retries exit code 143 (the fleet's retry strategy) and the next attempt resumes.
  expect(await exited).toBe(INTERRUPTED_EXIT_CODE);
  const outcome = output().split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.message === 'outcome').outcome;
  expect(outcome).toMatchObject({ status: 'interrupted', reason: 'sigterm', checkpoint: { generation: 1 } });

  fs.rmSync(localDir, { recursive: true, force: true }); // the next attempt runs on another host
  const resumed = await store('sigterm').resume();
  expect(resumed).toMatchObject({ generation: 1, step: outcome.checkpoint.step });
  expect(fs.readFileSync(path.join(localDir, 'step.txt'), 'utf8')).toBe(String(outcome.checkpoint.step));
});
