/**
 * Baselines in the dataset bucket: one JSON object per model version at `baselines/model=<m>/version=<v>/baseline.json`
 * (runtime/core/datasets.ts `baselineKey`). The bucket is versioned, so rewriting a baseline keeps the old one as a
 * noncurrent version. The drift detector and the label join read baselines through `readBaseline`, which refuses a
 * profile format it does not know rather than comparing against numbers it would misread.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { baselineKey } from '../core/datasets';
import { DatasetProfile, PROFILE_SCHEMA } from '../core/drift/profile';
import { timerDelayMs } from '../core/routing';

/** Default deadline of one S3 call (SDK retries included), milliseconds. */
export const DEFAULT_BASELINE_TIMEOUT_MS = 10_000;

/** Largest baseline read, bytes: a profile is sketches and top-k counts (kilobytes per column), never this big. */
export const MAX_BASELINE_BYTES = 64 * 1024 * 1024;

/** Options of the baseline calls. */
export interface BaselineStoreOptions {
  /**
   * Deadline of each S3 call (SDK retries included), milliseconds.
   * @default DEFAULT_BASELINE_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
}

/** Where `writeBaseline` wrote. */
export interface WrittenBaseline {
  /** Object key. */
  readonly key: string;
  /** S3 version id of the object written (absent when the bucket is not versioned). */
  readonly versionId?: string;
}

const callOptions = (options: BaselineStoreOptions) => ({ abortSignal: AbortSignal.timeout(timerDelayMs(options.timeoutMs ?? DEFAULT_BASELINE_TIMEOUT_MS)) });

/** The stored form of a profile (one line of JSON; `createdAt` is the profile's): what S3 and `--out` folders hold. */
export function serializeBaseline(profile: DatasetProfile): string {
  return `${JSON.stringify(profile)}\n`;
}

/**
 * Parses a stored baseline, refusing text that is not JSON, a profile of another `PROFILE_SCHEMA` or one for another
 * model version than `where` says (the error names the object and the fix).
 */
export function parseBaseline(text: string, where: { readonly model: string; readonly modelVersion: string; readonly location: string }): DatasetProfile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`baseline ${where.location} is not JSON; rebuild it with npm run baseline`);
  }
  const profile = parsed as Partial<DatasetProfile> | null;
  if (profile === null || typeof profile !== 'object' || Array.isArray(profile)) throw new Error(`baseline ${where.location} is not a profile object; rebuild it with npm run baseline`);
  if (profile.schema !== PROFILE_SCHEMA) {
    throw new Error(`baseline ${where.location} has profile schema ${JSON.stringify(profile.schema)}; this reader knows schema ${PROFILE_SCHEMA}: rebuild the baseline with this release's npm run baseline`);
  }
  if (profile.model !== where.model || profile.modelVersion !== where.modelVersion) {
    throw new Error(`baseline ${where.location} is for model '${profile.model}' version '${profile.modelVersion}', not '${where.model}' version '${where.modelVersion}'; rebuild it for this version`);
  }
  return profile as DatasetProfile;
}

/**
 * Writes a profile as the baseline of its model version (`profile.model`, `profile.modelVersion`; the profile
 * records when it was built, `createdAt`). An existing baseline becomes a noncurrent version of the object (the dataset bucket is versioned).
 */
export async function writeBaseline(client: S3Client, bucket: string, profile: DatasetProfile, options: BaselineStoreOptions = {}): Promise<WrittenBaseline> {
  const key = baselineKey(profile.model, profile.modelVersion);
  const written = await client.send(new PutObjectCommand({
    Bucket: bucket, Key: key, Body: serializeBaseline(profile), ContentType: 'application/json',
  }), callOptions(options));
  return { key, ...(written.VersionId ? { versionId: written.VersionId } : {}) };
}

/**
 * Reads the baseline of a model version; undefined when none was written. Throws, naming the object and the fix,
 * when it is not a profile this code can read (another `PROFILE_SCHEMA`, another model version, over
 * `MAX_BASELINE_BYTES`).
 */
/** Whether the bucket lists an object at exactly `key` (a listing scoped to the key, which prefix-scoped readers may do). */
async function baselineListed(client: S3Client, bucket: string, key: string, options: BaselineStoreOptions): Promise<boolean> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }), callOptions(options));
  return (listed.Contents ?? []).some((object) => object.Key === key);
}

export async function readBaseline(client: S3Client, bucket: string, model: string, modelVersion: string, options: BaselineStoreOptions = {}): Promise<DatasetProfile | undefined> {
  const key = baselineKey(model, modelVersion);
  const location = `s3://${bucket}/${key}`;
  let object;
  try {
    object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), callOptions(options));
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((e as Error).name === 'NoSuchKey' || status === 404) return undefined;
    // S3 answers 403, not 404, for a missing key to a reader whose s3:ListBucket is scoped by an s3:prefix condition
    // (the dataset's grantRead): a listing of exactly the key tells missing from forbidden.
    if (status === 403 && !(await baselineListed(client, bucket, key, options))) return undefined;
    throw e;
  }
  if ((object.ContentLength ?? 0) > MAX_BASELINE_BYTES) {
    object.Body?.transformToWebStream().cancel().catch(() => undefined);
    throw new Error(`baseline ${location} is ${object.ContentLength} bytes, over ${MAX_BASELINE_BYTES}: not a profile this builder writes; rebuild it with npm run baseline`);
  }
  const text = await object.Body!.transformToString('utf8');
  return parseBaseline(text, { model, modelVersion, location });
}
