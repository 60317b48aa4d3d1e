/**
 * Checkpoints of a training job in S3 that survive interruption and corruption (layout and records:
 * ./checkpoint-manifest.ts).
 *
 * `save` uploads every file of the local checkpoint directory, streamed from disk (never held in memory), under the
 * next generation's own keys, each with its SHA-256 (S3's `ChecksumSHA256`: S3 refuses a body that does not match),
 * checks what S3 stored (HeadObject with `ChecksumMode: ENABLED`; where the store returns no checksum, as s3rver does,
 * it re-reads the object and hashes it), writes the generation's `_complete.json`, and only then publishes it by
 * replacing the pointer `<prefix>/manifest.json` with a conditional write (`IfMatch` on the pointer's ETag, or
 * `IfNoneMatch: *` for the first one: a second writer on the same prefix fails instead of losing a generation; s3rver
 * ignores both headers, so the tests rely on one writer per prefix, which a Batch job's sequential attempts are).
 * Generations beyond `keep`, and half-written ones left by a killed writer, are deleted after the publish.
 *
 * Each upload has a deadline that grows with the file (`timeoutMs` plus its size at `minUploadBytesPerS`): a stalled
 * PutObject fails the save instead of blocking every later one.
 *
 * `resume` downloads the newest published generation into a temporary folder inside the local directory, verifies
 * every file's size and SHA-256, and moves the files into place by rename; on a missing or corrupt file it logs why
 * and falls back to the previous generation. When the pointer is missing or unreadable, the complete generations
 * (a valid `_complete.json`, written last) stand in for it, newest first. Only such verification failures make it
 * fall back (./checkpoint-reads.ts): a read that fails otherwise (throttling, 5xx, a dropped or stalled connection)
 * is retried, and thrown when it keeps failing or is denied; when generations are published and none restores,
 * resume throws naming each and why: starting fresh would let the next saves prune them.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import type { Readable } from 'stream';
import {
  DeleteObjectsCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { CheckpointDefaults, parseCheckpointEnvironment } from '../contracts/checkpoint';
import type { Environment } from '../contracts/environment';
import { chunksWithDeadline, getObjectWithDeadline } from '../aws/s3-read';
import { timerDelayMs } from '../core/routing';
import { CheckpointVerificationError, withReadRetries } from './checkpoint-reads';
import {
  CheckpointFile, CheckpointGeneration, CheckpointPointer, CHECKPOINT_MANIFEST_SCHEMA, completeKey, fileKey,
  generationOfPrefix, generationPrefix, generationsPrefix, parseGeneration, parsePointer, pathProblem, pointerKey,
} from './checkpoint-manifest';

/** Largest file one PutObject stores (5 GiB): shard larger state into several files. */
export const MAX_CHECKPOINT_FILE_BYTES = 5 * 1024 ** 3;

/** Largest pointer or completion record read, bytes. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** Names starting with this in the local directory are the helper's own temporary folders, never saved. */
export const CHECKPOINT_TEMP_MARKER = '.checkpoint-';

/** Properties of a `CheckpointStore`. */
export interface CheckpointStoreProps {
  /** The S3 client. */
  readonly client: S3Client;
  /** Bucket of the checkpoints. */
  readonly bucket: string;
  /** Key prefix of this job's checkpoints, without a trailing slash. */
  readonly prefix: string;
  /** Generations kept. @default CheckpointDefaults.KEEP */
  readonly keep?: number;
  /** Local checkpoint directory. @default CheckpointDefaults.LOCAL_DIR */
  readonly localDir?: string;
  /** Files uploaded or downloaded at once. @default 4 */
  readonly concurrency?: number;
  /**
   * Deadline of each S3 control call (pointer, listing, head, delete) and of each wait for a chunk of a download,
   * milliseconds; also the floor of each upload's deadline.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * Slowest upload accepted, bytes per second: each file's upload must finish within `timeoutMs` plus its size at
   * this rate, or the save fails (a stalled upload never blocks the next save).
   * @default 1048576 (1 MiB/s)
   */
  readonly minUploadBytesPerS?: number;
  /** Attempts of each read during resume (pointer, listing, record, file) that fails transiently. @default 4 */
  readonly readAttempts?: number;
  /** Wait before the second attempt of a read, milliseconds; doubled for each further one. @default 1000 */
  readonly readRetryBaseMs?: number;
  /** Where log lines (JSON) go. @default - stdout */
  readonly log?: (line: string) => void;
}

/** Options of one `save`. */
export interface SaveCheckpointOptions {
  /** The training step the checkpoint holds. @default - none recorded */
  readonly step?: number;
  /** Facts recorded with the generation (JSON-serializable). @default - none */
  readonly metadata?: Record<string, unknown>;
  /** Aborts the save (e.g. at the interruption deadline); nothing is published then. @default - none */
  readonly signal?: AbortSignal;
}

/** The generations a prefix holds and where the list came from. */
interface Published {
  readonly generations: readonly CheckpointGeneration[];
  /** ETag of the pointer; undefined when there is none. */
  readonly etag?: string;
  /** 'pointer', or 'scan' when the pointer was missing or unreadable. */
  readonly source: 'pointer' | 'scan';
}

/** Reads and writes the checkpoints of one training job. */
export class CheckpointStore {
  /** A store configured from the checkpoint environment the SpotTrainingFleet sets (runtime/contracts/checkpoint.ts). */
  public static fromEnvironment(client: S3Client, env: Environment = process.env, props: Partial<CheckpointStoreProps> = {}): CheckpointStore {
    const settings = parseCheckpointEnvironment(env);
    return new CheckpointStore({ ...props, client, bucket: settings.bucket, prefix: settings.prefix, keep: settings.keep, localDir: settings.localDir });
  }

  /** The local checkpoint directory. */
  public readonly localDir: string;
  private readonly keep: number;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly minUploadBytesPerS: number;
  private readonly readAttempts: number;
  private readonly readRetryBaseMs: number;
  private readonly write: (line: string) => void;

  constructor(private readonly props: CheckpointStoreProps) {
    this.keep = props.keep ?? CheckpointDefaults.KEEP;
    this.concurrency = props.concurrency ?? 4;
    this.timeoutMs = props.timeoutMs ?? 30_000;
    this.minUploadBytesPerS = props.minUploadBytesPerS ?? 1024 * 1024;
    this.readAttempts = props.readAttempts ?? 4;
    this.readRetryBaseMs = props.readRetryBaseMs ?? 1000;
    this.localDir = props.localDir ?? CheckpointDefaults.LOCAL_DIR;
    this.write = props.log ?? ((line) => process.stdout.write(`${line}\n`));
    const problems = [
      ...(Number.isInteger(this.keep) && this.keep >= 1 ? [] : [`keep: ${props.keep} must be an integer >= 1`]),
      ...(Number.isInteger(this.concurrency) && this.concurrency >= 1 ? [] : [`concurrency: ${props.concurrency} must be an integer >= 1`]),
      ...(this.timeoutMs > 0 ? [] : [`timeoutMs: ${props.timeoutMs} must be > 0`]),
      ...(this.minUploadBytesPerS > 0 ? [] : [`minUploadBytesPerS: ${props.minUploadBytesPerS} must be > 0`]),
      ...(Number.isInteger(this.readAttempts) && this.readAttempts >= 1 ? [] : [`readAttempts: ${props.readAttempts} must be an integer >= 1`]),
      ...(this.readRetryBaseMs >= 0 ? [] : [`readRetryBaseMs: ${props.readRetryBaseMs} must be >= 0`]),
      ...(props.prefix && !props.prefix.startsWith('/') && !props.prefix.endsWith('/') ? [] : [`prefix: '${props.prefix}' must be non-empty, without leading or trailing '/'`]),
    ];
    if (problems.length > 0) throw new Error(`CheckpointStore: ${problems.join('; ')}`);
  }

  /**
   * Uploads the local directory as the next generation and publishes it; returns its record. Nothing is published
   * when any file fails to upload or verify, or `signal` aborts: the previous generation stays the newest.
   */
  public async save(options: SaveCheckpointOptions = {}): Promise<CheckpointGeneration> {
    const signal = options.signal;
    const local = await listLocalFiles(this.localDir);
    const published = await this.published(signal);
    const generation = Math.max(0, ...published.generations.map((g) => g.generation), ...(await this.listedGenerations(signal))) + 1;
    const files = await this.mapLimit(local, async (relative) => this.uploadFile(generation, relative, signal));
    const record: CheckpointGeneration = {
      generation,
      createdAt: new Date().toISOString(),
      ...(options.step !== undefined ? { step: options.step } : {}),
      ...(options.metadata ? { metadata: options.metadata } : {}),
      files,
    };
    await this.props.client.send(new PutObjectCommand({
      Bucket: this.props.bucket, Key: completeKey(this.props.prefix, generation), Body: JSON.stringify(record), ContentType: 'application/json',
    }), this.callOptions(signal));
    const pointer: CheckpointPointer = { schema: CHECKPOINT_MANIFEST_SCHEMA, generations: [record, ...published.generations].slice(0, this.keep) };
    try {
      await this.props.client.send(new PutObjectCommand({
        Bucket: this.props.bucket, Key: pointerKey(this.props.prefix), Body: JSON.stringify(pointer), ContentType: 'application/json',
        ...(published.etag ? { IfMatch: published.etag } : { IfNoneMatch: '*' }),
      }), this.callOptions(signal));
    } catch (error) {
      if ((error as Error).name === 'PreconditionFailed' || (error as Error).name === 'ConditionalRequestConflict') {
        throw new Error(`checkpoint pointer ${pointerKey(this.props.prefix)} changed while generation ${generation} was written: another writer uses this prefix; give each training run its own prefix`);
      }
      throw error;
    }
    this.log('INFO', 'checkpoint published', { generation, files: files.length, bytes: files.reduce((s, f) => s + f.size, 0), step: options.step });
    await this.prune(pointer, generation);
    return record;
  }

  /**
   * Restores the newest generation that verifies into `localDir` (its previous content is replaced); returns its
   * record, or undefined when none is published (start fresh). Every generation passed over (missing or corrupt
   * file) is logged with the reason. Throws when a read keeps failing or is denied (nothing proves the checkpoint
   * bad), and when generations are published but none verifies (the message names each and why).
   */
  public async resume(localDir: string = this.localDir, signal?: AbortSignal): Promise<CheckpointGeneration | undefined> {
    const published = await this.published(signal);
    await fs.promises.mkdir(localDir, { recursive: true });
    const rejected: string[] = [];
    for (const generation of published.generations) {
      const temp = await fs.promises.mkdtemp(path.join(localDir, `${CHECKPOINT_TEMP_MARKER}resume-`));
      try {
        await this.mapLimit(generation.files, (file) => this.reading(`checkpoint generation ${generation.generation} file ${file.path}`,
          () => this.downloadFile(generation.generation, file, temp, signal), signal));
      } catch (error) {
        await fs.promises.rm(temp, { recursive: true, force: true });
        signal?.throwIfAborted();
        if (!(error instanceof CheckpointVerificationError)) throw error;
        rejected.push(`generation ${generation.generation}: ${error.message}`);
        this.log('WARN', 'checkpoint generation rejected; falling back to the previous one', { generation: generation.generation, reason: error.message });
        continue;
      }
      await installDirectory(temp, localDir);
      this.log('INFO', 'checkpoint restored', { generation: generation.generation, step: generation.step, files: generation.files.length, source: published.source });
      return generation;
    }
    if (rejected.length > 0) {
      throw new Error(`no published checkpoint of s3://${this.props.bucket}/${this.props.prefix} verifies (${rejected.join('; ')}): `
        + 'not starting fresh, whose saves would prune them; restore earlier object versions (the bucket is versioned) or give the run a new prefix');
    }
    this.log('INFO', 'no checkpoint to resume: starting fresh', { generationsTried: 0 });
    return undefined;
  }

  /** The published generations, newest first: the pointer's, or, when it is missing or unreadable, the complete ones found by listing. */
  public async published(signal?: AbortSignal): Promise<Published> {
    const key = pointerKey(this.props.prefix);
    let etag: string | undefined;
    try {
      const read = await this.reading(`checkpoint pointer ${key}`, () => this.readSmall(key, signal), signal);
      etag = read.etag;
      return { generations: parsePointer(read.text).generations, etag, source: 'pointer' };
    } catch (error) {
      if (isMissing(error)) return { generations: await this.scanComplete(signal), source: 'scan' };
      if (!(error instanceof CheckpointVerificationError)) throw error;
      this.log('WARN', 'checkpoint pointer unreadable: using the complete generations found by listing', { key, reason: (error as Error).message });
      return { generations: await this.scanComplete(signal), etag, source: 'scan' };
    }
  }

  private async scanComplete(signal?: AbortSignal): Promise<CheckpointGeneration[]> {
    const found: CheckpointGeneration[] = [];
    for (const generation of (await this.listedGenerations(signal)).sort((a, b) => b - a)) {
      const key = completeKey(this.props.prefix, generation);
      try {
        const text = (await this.reading(`checkpoint record ${key}`, () => this.readSmall(key, signal), signal)).text;
        found.push(parseGeneration(text, generation));
      } catch (error) {
        // Only a missing or invalid record proves the generation unusable; a failed read leaves its state unknown.
        if (!isMissing(error) && !(error instanceof CheckpointVerificationError)) throw error;
        this.log('INFO', 'checkpoint generation incomplete: skipped', { generation, reason: isMissing(error) ? 'no _complete.json (half-written)' : (error as Error).message });
      }
    }
    return found;
  }

  /**
   * The generation numbers that have objects, complete or not. Lists every key rather than the common prefixes of a
   * '/' delimiter: s3rver reports a common prefix only when an object lies directly under it (real S3 has no such
   * gap), and a half-written generation may hold only nested files. One page per 1,000 objects.
   */
  private async listedGenerations(signal?: AbortSignal): Promise<number[]> {
    const numbers = new Set<number>();
    const under = generationsPrefix(this.props.prefix);
    let token: string | undefined;
    do {
      const page = await this.reading(`checkpoint listing ${under}`, () => this.props.client.send(new ListObjectsV2Command({
        Bucket: this.props.bucket, Prefix: under, ContinuationToken: token,
      }), this.callOptions(signal)), signal);
      for (const object of page.Contents ?? []) {
        const slash = object.Key ? object.Key.indexOf('/', under.length) : -1;
        const n = slash > 0 ? generationOfPrefix(this.props.prefix, object.Key!.slice(0, slash + 1)) : undefined;
        if (n !== undefined) numbers.add(n);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return [...numbers];
  }

  private async uploadFile(generation: number, relative: string, signal?: AbortSignal): Promise<CheckpointFile> {
    const absolute = path.join(this.localDir, ...relative.split('/'));
    const { size, sha256 } = await hashFile(absolute);
    if (size > MAX_CHECKPOINT_FILE_BYTES) {
      throw new Error(`checkpoint file ${relative} is ${size} bytes, over the ${MAX_CHECKPOINT_FILE_BYTES} one upload stores: write the state as several files (shards)`);
    }
    const key = fileKey(this.props.prefix, generation, relative);
    const checksum = Buffer.from(sha256, 'hex').toString('base64');
    const deadlineMs = timerDelayMs(this.timeoutMs + (size / this.minUploadBytesPerS) * 1000);
    const deadline = AbortSignal.timeout(deadlineMs);
    try {
      await this.props.client.send(new PutObjectCommand({
        Bucket: this.props.bucket, Key: key, Body: fs.createReadStream(absolute), ContentLength: size, ChecksumSHA256: checksum,
      }), { abortSignal: signal ? AbortSignal.any([deadline, signal]) : deadline });
    } catch (error) {
      if (!deadline.aborted || signal?.aborted) throw error;
      throw new Error(`checkpoint file ${relative}: upload of ${size} bytes did not finish within ${deadlineMs} ms (minUploadBytesPerS ${this.minUploadBytesPerS}); nothing was published`, { cause: error });
    }
    const head = await this.props.client.send(new HeadObjectCommand({ Bucket: this.props.bucket, Key: key, ChecksumMode: 'ENABLED' }), this.callOptions(signal));
    const stored = head.ChecksumSHA256 && !head.ChecksumSHA256.includes('-')
      ? { size: head.ContentLength ?? -1, matches: head.ChecksumSHA256 === checksum }
      : await this.rehash(key, sha256, signal);
    if (stored.size !== size || !stored.matches) {
      throw new Error(`checkpoint file ${relative}: S3 stored ${stored.size} bytes that do not match the ${size} bytes written (sha256 ${sha256}); nothing was published`);
    }
    this.log('DEBUG', 'checkpoint file stored', { generation, path: relative, size });
    return { path: relative, size, sha256 };
  }

  private async rehash(key: string, sha256: string, signal?: AbortSignal): Promise<{ size: number; matches: boolean }> {
    const object = await getObjectWithDeadline(this.props.client, this.props.bucket, key, this.timeoutMs, signal);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of chunksWithDeadline(object.Body as Readable, key, this.timeoutMs, signal)) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { size, matches: hash.digest('hex') === sha256 };
  }

  private async downloadFile(generation: number, file: CheckpointFile, dir: string, signal?: AbortSignal): Promise<void> {
    const problem = pathProblem(file.path);
    if (problem) throw new CheckpointVerificationError(`file path ${JSON.stringify(file.path)} ${problem}`);
    const key = fileKey(this.props.prefix, generation, file.path);
    const target = path.join(dir, ...file.path.split('/'));
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    let object;
    try {
      object = await getObjectWithDeadline(this.props.client, this.props.bucket, key, this.timeoutMs, signal);
    } catch (error) {
      if (isMissing(error)) throw new CheckpointVerificationError(`file ${file.path}: missing`);
      throw error;
    }
    const hash = createHash('sha256');
    let size = 0;
    const body = chunksWithDeadline(object.Body as Readable, key, this.timeoutMs, signal);
    await pipeline(async function* () {
      for await (const chunk of body) {
        hash.update(chunk);
        size += chunk.length;
        if (size > file.size) throw new CheckpointVerificationError(`file ${file.path}: more than the ${file.size} bytes recorded`);
        yield chunk;
      }
    }, fs.createWriteStream(target));
    if (size !== file.size) throw new CheckpointVerificationError(`file ${file.path}: ${size} bytes, ${file.size} recorded`);
    const digest = hash.digest('hex');
    if (digest !== file.sha256) throw new CheckpointVerificationError(`file ${file.path}: sha256 ${digest} does not match the ${file.sha256} recorded`);
  }

  /** Deletes the generations the new pointer no longer names, half-written ones included; failures are only logged. */
  private async prune(pointer: CheckpointPointer, newest: number): Promise<void> {
    const kept = new Set(pointer.generations.map((g) => g.generation));
    try {
      for (const generation of await this.listedGenerations()) {
        if (kept.has(generation) || generation > newest) continue;
        await this.deletePrefix(generationPrefix(this.props.prefix, generation));
        this.log('INFO', 'checkpoint generation deleted', { generation });
      }
    } catch (error) {
      this.log('WARN', 'old checkpoint generations not deleted; the next save retries', { reason: (error as Error).name });
    }
  }

  private async deletePrefix(prefix: string): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.props.client.send(new ListObjectsV2Command({ Bucket: this.props.bucket, Prefix: prefix, ContinuationToken: token }), this.callOptions());
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length > 0) await this.props.client.send(new DeleteObjectsCommand({ Bucket: this.props.bucket, Delete: { Objects: keys, Quiet: true } }), this.callOptions());
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async readSmall(key: string, signal?: AbortSignal): Promise<{ text: string; etag?: string }> {
    const object = await getObjectWithDeadline(this.props.client, this.props.bucket, key, this.timeoutMs, signal);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of chunksWithDeadline(object.Body as Readable, key, this.timeoutMs, signal)) {
      size += chunk.length;
      if (size > MAX_RECORD_BYTES) throw new CheckpointVerificationError(`${key} is over ${MAX_RECORD_BYTES} bytes`);
      chunks.push(chunk);
    }
    return { text: Buffer.concat(chunks).toString('utf8'), etag: object.ETag };
  }

  /** `read` with this store's retries of transient failures, each retry logged. */
  private reading<T>(what: string, read: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withReadRetries(what, read, {
      attempts: this.readAttempts, baseMs: this.readRetryBaseMs, signal,
      onRetry: (attempt, error) => this.log('WARN', 'checkpoint read failed; retrying', { what, attempt, reason: error.name }),
    });
  }

  /** Call options: this store's deadline, and the caller's signal when given. */
  private callOptions(signal?: AbortSignal) {
    const deadline = AbortSignal.timeout(timerDelayMs(this.timeoutMs));
    return { abortSignal: signal ? AbortSignal.any([deadline, signal]) : deadline };
  }

  /**
   * `work` on every item, `concurrency` at a time. After a failure no further item starts, and the first error is
   * thrown once the items in flight have settled: nothing keeps writing into a folder the caller then removes.
   */
  private async mapLimit<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (next < items.length && !failure) {
        const i = next++;
        try {
          results[i] = await work(items[i]);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
    if (failure) throw failure.error;
    return results;
  }

  private log(level: string, message: string, fields: Record<string, unknown>): void {
    this.write(JSON.stringify({ level, message, bucket: this.props.bucket, prefix: this.props.prefix, ...fields }));
  }
}

/** Whether S3 answered that the object does not exist. */
function isMissing(error: unknown): boolean {
  return (error as Error).name === 'NoSuchKey' || (error as Error).name === 'NotFound';
}

/** The regular files under `dir`, relative and '/'-separated, sorted; the helper's temporary folders are skipped. */
async function listLocalFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (relative: string) => {
    for (const entry of await fs.promises.readdir(path.join(dir, relative), { withFileTypes: true })) {
      if (entry.name.startsWith(CHECKPOINT_TEMP_MARKER)) continue;
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) {
        const problem = pathProblem(child);
        if (problem) throw new Error(`checkpoint file ${JSON.stringify(child)} ${problem}: rename it`);
        found.push(child);
      }
    }
  };
  await walk('');
  if (found.length === 0) throw new Error(`checkpoint directory ${dir} holds no files: write the training state there before saving`);
  return found.sort();
}

async function hashFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Replaces the content of `dir` with that of `temp` (a folder inside it, so on the same file system): every entry of
 * `dir` but `temp` is removed, then each entry of `temp` is renamed into place.
 */
async function installDirectory(temp: string, dir: string): Promise<void> {
  for (const entry of await fs.promises.readdir(dir)) {
    if (path.join(dir, entry) !== temp) await fs.promises.rm(path.join(dir, entry), { recursive: true, force: true });
  }
  for (const entry of await fs.promises.readdir(temp)) await fs.promises.rename(path.join(temp, entry), path.join(dir, entry));
  await fs.promises.rm(temp, { recursive: true, force: true });
}
