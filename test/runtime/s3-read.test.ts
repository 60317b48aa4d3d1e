/**
 * The S3 read deadlines (runtime/aws/s3-read.ts, runtime/aws/s3-window.ts) over the ranges of Node's timers: a deadline
 * past 2^31−1 ms (what a setting in seconds typed as milliseconds gives) is the longest timer, not a 1 ms one, and not a
 * RangeError from AbortSignal.timeout.
 */
import { Readable } from 'stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { chunksWithDeadline, getObjectWithDeadline } from '../../runtime/aws/s3-read';
import { readWindowLines } from '../../runtime/aws/s3-window';

const OVER_TIMER_RANGE_MS = 2 ** 32;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An S3 client answering every call after `ms`, or failing with the call's abort reason. */
function slowS3(ms: number, answer: (input: any) => unknown): S3Client {
  return {
    send: (command: { input: unknown }, options?: { abortSignal?: AbortSignal }) => new Promise((resolve, reject) => {
      options?.abortSignal?.throwIfAborted();
      const timer = setTimeout(() => resolve(answer(command.input)), ms);
      options?.abortSignal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(options.abortSignal!.reason);
      });
    }),
  } as unknown as S3Client;
}

/** A stream whose single chunk comes after `ms`. */
function slowStream(ms: number, text: string): Readable {
  return Readable.from((async function* () {
    await delay(ms);
    yield Buffer.from(text);
  })());
}

test('a GetObject deadline over 2^31−1 ms waits for the answer (Node would fire it after 1 ms)', async () => {
  const s3 = slowS3(30, () => ({ Body: 'body' }));
  await expect(getObjectWithDeadline(s3, 'bucket', 'key', OVER_TIMER_RANGE_MS)).resolves.toEqual({ Body: 'body' });
});

test('a per-chunk deadline over 2^31−1 ms waits for the chunk', async () => {
  const chunks: string[] = [];
  for await (const chunk of chunksWithDeadline(slowStream(30, 'a line\n'), 'key', OVER_TIMER_RANGE_MS)) chunks.push(chunk.toString());
  expect(chunks).toEqual(['a line\n']);
});

test('a window read with a call deadline over 2^31−1 ms lists and reads (AbortSignal.timeout would throw a RangeError)', async () => {
  const s3 = slowS3(10, (input) => (input.Key === undefined ? { Contents: [{ Key: 'p/a.jsonl' }], IsTruncated: false } : { Body: slowStream(10, '{"x":1}\n') }));
  const lines: (string | undefined)[] = [];
  for await (const { line } of readWindowLines(s3, { bucket: 'bucket', prefixes: ['p/'] }, { callTimeoutMs: OVER_TIMER_RANGE_MS })) lines.push(line);
  expect(lines).toEqual(['{"x":1}']);
});
