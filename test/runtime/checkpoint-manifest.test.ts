/**
 * The checkpoint records parsed from S3 (pure): a pointer or `_complete.json` that is hostile (a tampered or corrupt
 * object) is a CheckpointVerificationError, so resume falls back, never another error that resume rethrows.
 */
import { CheckpointVerificationError } from '../../runtime/training/checkpoint-reads';
import { parseGeneration, parsePointer } from '../../runtime/training/checkpoint-manifest';

/** JSON text of a value nested `depth` arrays deep: JSON.parse takes it, a recursive JSON.stringify overflows. */
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const record = (path: string) => `{"generation":1,"createdAt":"2026-12-01T00:00:00.000Z","files":[{"path":${path},"size":1,"sha256":"${'a'.repeat(64)}"}]}`;

test('a record nested 100,000 levels deep where a path or the schema should be: a verification failure naming the field, not a stack overflow', () => {
  expect(() => parseGeneration(record(deep(100_000)), 1)).toThrow(CheckpointVerificationError);
  expect(() => parseGeneration(record(deep(100_000)), 1)).toThrow(/file path an array of 1 is empty/);
  expect(() => parsePointer(`{"schema":1,"generations":[${record(deep(100_000))}]}`)).toThrow(CheckpointVerificationError);
  expect(() => parsePointer(`{"schema":${deep(100_000)},"generations":[]}`)).toThrow(CheckpointVerificationError);
  expect(() => parsePointer(`{"schema":${deep(100_000)},"generations":[]}`)).toThrow(/pointer schema an array of 1 is not 1/);
  // Ordinary values are still quoted as they are.
  expect(() => parsePointer('{"schema":2,"generations":[]}')).toThrow('pointer schema 2 is not 1');
  expect(() => parseGeneration(record('"../x"'), 1)).toThrow('file path "../x" has an empty, \'.\' or \'..\' segment');
});
