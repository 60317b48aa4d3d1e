/**
 * Reading one S3 object with deadlines that fit long reads: GetObject's deadline covers the call until the body
 * starts, then each chunk of the body has its own (the time the consumer spends between chunks does not count). The
 * monitoring readers (runtime/aws/s3-window.ts) and the label ingestion's drops read through it.
 */
import type { Readable } from 'stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { timerDelayMs } from '../core/routing';

/** An error of a read that waited on S3 past its deadline. */
export class S3ReadTimeoutError extends Error {
  constructor(key: string, timeoutMs: number) {
    super(`reading s3 object ${key}: no data for ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * GetObject whose deadline covers the call until the body starts (the body's reading has its own, per chunk): the
 * SDK keeps a call's abort signal on the response stream, so a plain timeout signal would cut a long read short.
 */
export async function getObjectWithDeadline(s3: S3Client, bucket: string, key: string, timeoutMs: number, overall?: AbortSignal) {
  const call = new AbortController();
  const timer = setTimeout(() => call.abort(new S3ReadTimeoutError(key, timeoutMs)), timerDelayMs(timeoutMs));
  try {
    return await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: overall ? AbortSignal.any([call.signal, overall]) : call.signal });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The chunks of `stream`, failing when one takes longer than `timeoutMs` to arrive or `signal` aborts: time spent by
 * the consumer between chunks does not count, only waiting on S3.
 */
export async function* chunksWithDeadline(stream: Readable, key: string, timeoutMs: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      signal?.throwIfAborted();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new S3ReadTimeoutError(key, timeoutMs)), timerDelayMs(timeoutMs));
      });
      try {
        const next = await Promise.race([iterator.next(), timeout]);
        if (next.done) return;
        yield next.value;
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    stream.destroy();
  }
}
