/**
 * The checkpoint store on s3rver (a real S3Client with an endpoint override): a save/resume round trip, keep-N,
 * a corrupted newest generation, an unreadable pointer, a tampered record, a writer SIGKILLed in the middle of
 * a save (a child process on test/runtime/fixtures/checkpoint/trainer.ts), and reads and uploads that fail the way
 * real S3 does and s3rver cannot (503 SlowDown, AccessDenied, a dropped or stalled connection), injected by a
 * loopback proxy in front of s3rver (test/runtime/fixtures/checkpoint/faulty-proxy.ts).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalService, localClientConfig, startS3rver } from '../support/local-aws';
import { Fault, FaultyProxy, startFaultyProxy } from './fixtures/checkpoint/faulty-proxy';
import { CheckpointStore } from '../../runtime/training/checkpoint-store';
import { completeKey, fileKey, generationsPrefix, pointerKey } from '../../runtime/training/checkpoint-manifest';

const BUCKET = 'checkpoints';
let s3rver: LocalService;
let client: S3Client;
let proxy: FaultyProxy;
/** A client through the proxy, without the SDK's own retries: the store's retries are the ones under test. */
let faultyClient: S3Client;
let work: string;
let run = 0;

beforeAll(async () => {
  s3rver = await startS3rver();
  client = new S3Client(localClientConfig(s3rver.endpoint));
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  proxy = await startFaultyProxy(s3rver.endpoint);
  faultyClient = new S3Client({ ...localClientConfig(proxy.endpoint), maxAttempts: 1 });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpoint-store-'));
});

afterAll(async () => {
  client.destroy();
  faultyClient.destroy();
  await proxy.stop();
  await s3rver.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** A store on a fresh prefix and local directory, collecting its log lines, and one on the same through the proxy. */
function freshStore(keep = 3) {
  run += 1;
  const logs: Array<Record<string, unknown>> = [];
  const localDir = path.join(work, `run-${run}`);
  fs.mkdirSync(localDir, { recursive: true });
  const props = { bucket: BUCKET, prefix: `jobs/run-${run}`, keep, localDir, log: (line: string) => logs.push(JSON.parse(line)) };
  const store = new CheckpointStore({ ...props, client });
  const faulty = new CheckpointStore({ ...props, client: faultyClient, timeoutMs: 400, readRetryBaseMs: 10 });
  return { store, faulty, localDir, prefix: `jobs/run-${run}`, logs };
}

/** A proxy rule failing the requests of `method` on keys ending with `key` with `faults` in turn, then passing them. */
function failInTurn(method: string, key: string, ...faults: Fault[]) {
  proxy.rule = (m, p) => (m === method && p.endsWith(`/${key}`) ? faults.shift() ?? 'pass' : 'pass');
}

function writeState(dir: string, files: Record<string, string | Buffer>) {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
}

function readState(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child); else out[child] = fs.readFileSync(path.join(dir, child), 'utf8');
    }
  };
  walk('');
  return out;
}

async function listKeys(prefix: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

async function putText(key: string, body: string) {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

test('save/resume round trip of a directory; keep-N deletes older generations after publishing', async () => {
  const { store, localDir, prefix } = freshStore(2);
  for (let step = 1; step <= 3; step++) {
    writeState(localDir, { 'model.bin': `weights at ${step}`, 'optimizer/state.bin': Buffer.alloc(300_000, step), 'meta.json': `{"step":${step}}` });
    const saved = await store.save({ step, metadata: { loss: 1 / step } });
    expect(saved.generation).toBe(step);
  }
  const pointer = JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: pointerKey(prefix) }))).Body!.transformToString());
  expect(pointer.generations.map((g: { generation: number }) => g.generation)).toEqual([3, 2]);
  expect(pointer.generations[0]).toMatchObject({ step: 3, metadata: { loss: 1 / 3 } });
  expect(pointer.generations[0].files.map((f: { path: string }) => f.path)).toEqual(['meta.json', 'model.bin', 'optimizer/state.bin']);
  const keys = await listKeys(generationsPrefix(prefix));
  expect(keys.some((k) => k.includes('/0000000001/'))).toBe(false);
  expect(keys).toContain(completeKey(prefix, 2));

  const restoreDir = path.join(work, `restore-${run}`);
  writeState(restoreDir, { 'stale.txt': 'from an earlier attempt' });
  const resumed = await store.resume(restoreDir);
  expect(resumed).toMatchObject({ generation: 3, step: 3 });
  const state = readState(restoreDir);
  expect(Object.keys(state).sort()).toEqual(['meta.json', 'model.bin', 'optimizer/state.bin']);
  expect(state['model.bin']).toBe('weights at 3');
  expect(fs.readFileSync(path.join(restoreDir, 'optimizer/state.bin')).equals(Buffer.alloc(300_000, 3))).toBe(true);
});

test('nothing saved yet: resume says start fresh', async () => {
  const { store, localDir, logs } = freshStore();
  expect(await store.resume(localDir)).toBeUndefined();
  expect(logs.at(-1)).toMatchObject({ message: 'no checkpoint to resume: starting fresh' });
});

test('a corrupted newest generation falls back to the previous one and says why', async () => {
  const { store, localDir, prefix, logs } = freshStore();
  writeState(localDir, { 'model.bin': 'good weights', 'step.txt': '100' });
  await store.save({ step: 100 });
  writeState(localDir, { 'model.bin': 'newer weights', 'step.txt': '200' });
  await store.save({ step: 200 });
  await putText(fileKey(prefix, 2, 'model.bin'), 'bit-rotted bytes'); // same path, other bytes

  const restoreDir = path.join(work, `restore-${run}`);
  expect(await store.resume(restoreDir)).toMatchObject({ generation: 1, step: 100 });
  expect(readState(restoreDir)).toEqual({ 'model.bin': 'good weights', 'step.txt': '100' });
  const rejected = logs.find((l) => l.message === 'checkpoint generation rejected; falling back to the previous one');
  expect(rejected).toMatchObject({ level: 'WARN', generation: 2 });
  expect(rejected!.reason).toMatch(/file model\.bin: more than the 13 bytes recorded/);
});

test('a missing file and a same-size corruption are both caught', async () => {
  const { store, localDir, prefix, logs } = freshStore();
  writeState(localDir, { a: 'aaaa', b: 'bbbb' });
  await store.save();
  writeState(localDir, { a: 'AAAA', b: 'BBBB' });
  await store.save();
  writeState(localDir, { a: '1111', b: '2222' });
  await store.save();
  await putText(fileKey(prefix, 3, 'a'), 'XXXX');
  await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: fileKey(prefix, 2, 'b') }));
  expect(await store.resume(path.join(work, `restore-${run}`))).toMatchObject({ generation: 1 });
  const reasons = logs.filter((l) => l.level === 'WARN').map((l) => l.reason);
  expect(reasons).toEqual([expect.stringMatching(/file a: sha256 \w+ does not match/), 'file b: missing']);
});

test('an unreadable pointer: the complete generations found by listing stand in for it; half-written ones are skipped', async () => {
  const { store, localDir, prefix, logs } = freshStore();
  writeState(localDir, { w: 'one' });
  await store.save();
  writeState(localDir, { w: 'two' });
  await store.save();
  await putText(pointerKey(prefix), '{"schema":1,"generations":[');
  await putText(fileKey(prefix, 3, 'w'), 'half-written: no _complete.json');

  expect(await store.resume(path.join(work, `restore-${run}`))).toMatchObject({ generation: 2 });
  expect(logs).toEqual(expect.arrayContaining([
    expect.objectContaining({ level: 'WARN', message: expect.stringMatching(/pointer unreadable/), reason: 'pointer is not JSON' }),
    expect.objectContaining({ generation: 3, reason: 'no _complete.json (half-written)' }),
  ]));
  // The next save takes a number past the half-written one, republishes the pointer and deletes the leftover.
  writeState(localDir, { w: 'four' });
  expect((await store.save()).generation).toBe(4);
  expect((await listKeys(generationsPrefix(prefix))).some((k) => k.includes('/0000000003/'))).toBe(false);
});

test('a tampered pointer naming a path outside the directory is refused: nothing written outside, the complete generations stand in', async () => {
  const { store, localDir, prefix, logs } = freshStore();
  writeState(localDir, { w: 'safe' });
  await store.save();
  const evil = { generation: 2, createdAt: new Date().toISOString(), files: [{ path: '../../escape', size: 1, sha256: 'a'.repeat(64) }] };
  await putText(pointerKey(prefix), JSON.stringify({ schema: 1, generations: [evil] }));
  const restoreDir = path.join(work, `restore-${run}`);
  expect(await store.resume(restoreDir)).toMatchObject({ generation: 1 });
  expect(logs).toContainEqual(expect.objectContaining({ reason: "pointer lists an invalid generation: file path \"../../escape\" has an empty, '.' or '..' segment" }));
  expect(readState(restoreDir)).toEqual({ w: 'safe' });
  expect(fs.existsSync(path.join(work, 'escape'))).toBe(false);
});

test('a writer SIGKILLed in the middle of a save: the pointer still names the previous generation, resume restores it', async () => {
  const { store, localDir, prefix } = freshStore();
  writeState(localDir, { 'model.bin': 'generation one' });
  await store.save({ step: 1 });

  // The child saves 40 files of 256 KiB as generation 2; it is killed once its first file is stored.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures/checkpoint/trainer.ts'), 'save-large'], {
    env: { ...process.env, S3_ENDPOINT: s3rver.endpoint, CHECKPOINT_BUCKET: BUCKET, CHECKPOINT_PREFIX: prefix, CHECKPOINT_LOCAL_DIR: path.join(work, `large-${run}`) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"checkpoint file stored"')) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`writer exited before storing a file:\n${out}`)));
  });
  expect(await exited).toBe('SIGKILL');

  const written = (await listKeys(`${generationsPrefix(prefix)}0000000002/`));
  expect(written.length).toBeGreaterThan(0);
  expect(written.length).toBeLessThan(40);
  expect(written).not.toContain(completeKey(prefix, 2));
  const pointer = JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: pointerKey(prefix) }))).Body!.transformToString());
  expect(pointer.generations.map((g: { generation: number }) => g.generation)).toEqual([1]);
  const restoreDir = path.join(work, `restore-${run}`);
  expect(await store.resume(restoreDir)).toMatchObject({ generation: 1, step: 1 });
  expect(readState(restoreDir)).toEqual({ 'model.bin': 'generation one' });
});

describe('reads that fail without proving the checkpoint bad', () => {
  afterEach(() => {
    proxy.rule = () => 'pass';
  });

  /** Two published generations of `store`; returns every key of them. */
  async function twoGenerations(store: CheckpointStore, localDir: string, prefix: string) {
    writeState(localDir, { 'model.bin': 'older weights' });
    await store.save({ step: 1 });
    writeState(localDir, { 'model.bin': 'newest weights' });
    await store.save({ step: 2 });
    return listKeys(generationsPrefix(prefix));
  }

  test('SlowDown, a dropped and a stalled connection are retried: the newest generation is restored, not an older one', async () => {
    const { store, faulty, localDir, prefix, logs } = freshStore();
    await twoGenerations(store, localDir, prefix);
    failInTurn('GET', fileKey(prefix, 2, 'model.bin'), 'slow-down', 'drop', 'stall');
    const restoreDir = path.join(work, `restore-${run}`);
    expect(await faulty.resume(restoreDir)).toMatchObject({ generation: 2, step: 2 });
    expect(readState(restoreDir)).toEqual({ 'model.bin': 'newest weights' });
    expect(logs.filter((l) => l.message === 'checkpoint read failed; retrying').map((l) => l.reason)).toEqual(['SlowDown', expect.any(String), expect.any(String)]);
    expect(logs.some((l) => l.message === 'checkpoint generation rejected; falling back to the previous one')).toBe(false);
  });

  test('a read that keeps failing, or is denied, throws: no fall back, no fresh start, nothing pruned', async () => {
    const { store, faulty, localDir, prefix } = freshStore();
    const keys = await twoGenerations(store, localDir, prefix);
    const restoreDir = path.join(work, `restore-${run}`);
    failInTurn('GET', fileKey(prefix, 2, 'model.bin'), 'slow-down', 'slow-down', 'slow-down', 'slow-down');
    await expect(faulty.resume(restoreDir)).rejects.toThrow(/generation 2 file model\.bin: read failed 4 times, last with SlowDown/);
    proxy.requests.length = 0;
    failInTurn('GET', fileKey(prefix, 2, 'model.bin'), 'deny');
    await expect(faulty.resume(restoreDir)).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(proxy.requests.filter((r) => r.endsWith(fileKey(prefix, 2, 'model.bin')))).toHaveLength(1); // not retried
    expect(await listKeys(generationsPrefix(prefix))).toEqual(keys);
  });

  test('published generations that all fail to verify: resume throws naming each and why instead of starting fresh', async () => {
    const { store, localDir, prefix } = freshStore();
    await twoGenerations(store, localDir, prefix);
    await putText(fileKey(prefix, 2, 'model.bin'), 'bit-rotted weight');
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: fileKey(prefix, 1, 'model.bin') }));
    await expect(store.resume(path.join(work, `restore-${run}`))).rejects.toThrow(
      /no published checkpoint of s3:\/\/checkpoints\/jobs\/run-\d+ verifies \(generation 2: file model\.bin: more than the 14 bytes recorded.*; generation 1: file model\.bin: missing\): not starting fresh/,
    );
  });

  test('scan mode: a record that cannot be read leaves its generation unknown: resume and save throw, it is not pruned', async () => {
    const { store, faulty, localDir, prefix } = freshStore();
    await twoGenerations(store, localDir, prefix);
    await putText(pointerKey(prefix), 'not json');
    proxy.rule = (m, p) => (m === 'GET' && p.endsWith(`/${completeKey(prefix, 2)}`) ? 'slow-down' : 'pass');
    await expect(faulty.resume(path.join(work, `restore-${run}`))).rejects.toThrow(/_complete\.json: read failed 4 times/);
    await expect(faulty.save()).rejects.toThrow(/read failed 4 times/);
    expect(await listKeys(generationsPrefix(prefix))).toContain(completeKey(prefix, 2));
  });

  test('a stalled upload fails the save within its deadline; the next save works', async () => {
    const { faulty, localDir, prefix } = freshStore();
    writeState(localDir, { 'model.bin': 'weights' });
    failInTurn('PUT', fileKey(prefix, 1, 'model.bin'), 'stall');
    await expect(faulty.save()).rejects.toThrow(/checkpoint file model\.bin: upload of 7 bytes did not finish within 401 ms/);
    expect(await faulty.save({ step: 2 })).toMatchObject({ generation: 1, step: 2 }); // the stalled one stored nothing
  });
});
