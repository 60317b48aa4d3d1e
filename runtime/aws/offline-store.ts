/**
 * The offline store over S3: writes the materializer's Parquet files and dead letters, and reads a view's offline
 * rows back (local tools, tests). Layout: `offlinePartitionPrefix` / `DEAD_LETTER_PREFIX` in lib/features/spec.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { FeatureViewSpec, offlineVersionPrefix } from '../../lib/features/spec';
import { decodeParquet, OfflineRow } from '../core/offline-parquet';

/** Default deadline of one S3 call (SDK retries included), milliseconds. */
export const DEFAULT_S3_TIMEOUT_MS = 10_000;

/** Options of the S3 helpers. */
export interface S3CallOptions {
  /**
   * Deadline of each S3 call, milliseconds.
   * @default DEFAULT_S3_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
}

/** A function that stores one object in a bucket, overwriting any object with the same key. */
export type ObjectWriter = (key: string, body: Buffer, contentType: string) => Promise<void>;

/**
 * Writes objects into `bucket` (the materializer's `putObject` port). Encryption at rest is the bucket's default
 * encryption (the FeatureStore construct configures it), so no per-object header is sent.
 */
export function s3ObjectWriter(s3: S3Client, bucket: string, options: S3CallOptions = {}): ObjectWriter {
  const timeoutMs = options.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS;
  return async (key, body, contentType) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }), { abortSignal: AbortSignal.timeout(timeoutMs) });
  };
}

/** Every object key under `prefix`, in key order (all pages). */
export async function listObjectKeys(s3: S3Client, bucket: string, prefix: string, options: S3CallOptions = {}): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), {
      abortSignal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS),
    });
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** The bytes of one object. */
export async function getObjectBytes(s3: S3Client, bucket: string, key: string, options: S3CallOptions = {}): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS) });
  return Buffer.from(await object.Body!.transformToByteArray());
}

/** Every offline row of one view version, file by file in key order. */
export async function readOfflineRows(s3: S3Client, bucket: string, spec: FeatureViewSpec, options: S3CallOptions = {}): Promise<OfflineRow[]> {
  const keys = await listObjectKeys(s3, bucket, offlineVersionPrefix(spec), options);
  const rows: OfflineRow[] = [];
  for (const key of keys) rows.push(...await decodeParquet(spec, await getObjectBytes(s3, bucket, key, options)));
  return rows;
}
