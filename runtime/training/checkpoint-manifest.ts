/**
 * The layout of checkpoints in S3 and the records that describe them. Pure: no I/O.
 *
 * Under a job's prefix:
 * - `<prefix>/generations/<10-digit number>/files/<relative path>`: the files of one generation;
 * - `<prefix>/generations/<number>/_complete.json`: that generation's record, written last, after every file was
 *   stored and verified: a generation without it is half-written and never read;
 * - `<prefix>/manifest.json`: the pointer, the published generations newest first. A generation is published when
 *   the pointer names it. When the pointer is missing or unreadable, the complete generations (those with a readable
 *   `_complete.json`) stand in for it, newest first.
 */
import { describeValue } from '../../lib/features/spec/values';
import { CheckpointVerificationError } from './checkpoint-reads';

/** Format version of the pointer and of `_complete.json`. */
export const CHECKPOINT_MANIFEST_SCHEMA = 1;

/** Digits of a generation number in its key: keys sort in generation order. */
const GENERATION_DIGITS = 10;

/** One file of a generation. */
export interface CheckpointFile {
  /** Path relative to the checkpoint directory, '/'-separated. */
  readonly path: string;
  /** Bytes. */
  readonly size: number;
  /** SHA-256 of the content, hex. */
  readonly sha256: string;
}

/** One stored generation: what `_complete.json` holds and the pointer lists. */
export interface CheckpointGeneration {
  /** Generation number, from 1, increasing. */
  readonly generation: number;
  /** When it was written, ISO 8601. */
  readonly createdAt: string;
  /** The training step it holds, when the training code said. */
  readonly step?: number;
  /** Free-form facts the training code recorded with it (epoch, loss, ...). */
  readonly metadata?: Record<string, unknown>;
  /** Its files. */
  readonly files: readonly CheckpointFile[];
}

/** The pointer object. */
export interface CheckpointPointer {
  /** `CHECKPOINT_MANIFEST_SCHEMA`. */
  readonly schema: number;
  /** Published generations, newest first. */
  readonly generations: readonly CheckpointGeneration[];
}

/** Key of the pointer. */
export function pointerKey(prefix: string): string {
  return `${prefix}/manifest.json`;
}

/** Key prefix under which every generation lies (with a trailing slash). */
export function generationsPrefix(prefix: string): string {
  return `${prefix}/generations/`;
}

/** Key prefix of one generation (with a trailing slash). */
export function generationPrefix(prefix: string, generation: number): string {
  return `${generationsPrefix(prefix)}${String(generation).padStart(GENERATION_DIGITS, '0')}/`;
}

/** Key of a generation's completion record. */
export function completeKey(prefix: string, generation: number): string {
  return `${generationPrefix(prefix, generation)}_complete.json`;
}

/** Key of one file of a generation. */
export function fileKey(prefix: string, generation: number, path: string): string {
  return `${generationPrefix(prefix, generation)}files/${path}`;
}

/** The generation number of a key prefix `<prefix>/generations/<number>/`; undefined for anything else. */
export function generationOfPrefix(prefix: string, commonPrefix: string): number | undefined {
  const rest = commonPrefix.startsWith(generationsPrefix(prefix)) ? commonPrefix.slice(generationsPrefix(prefix).length) : '';
  if (rest.length !== GENERATION_DIGITS + 1 || !rest.endsWith('/')) return undefined;
  const digits = rest.slice(0, GENERATION_DIGITS);
  if (![...digits].every((c) => c >= '0' && c <= '9')) return undefined;
  const n = Number(digits);
  return n >= 1 ? n : undefined;
}

/**
 * Why a relative path cannot be a checkpoint file's (absolute, empty segment, `.` or `..`, backslash, control
 * characters); undefined when it can. Checked on save and again on resume, so a tampered record never writes outside
 * the checkpoint directory.
 */
export function pathProblem(path: string): string | undefined {
  if (typeof path !== 'string' || path.length === 0 || path.length > 1024) return 'is empty or longer than 1024 characters';
  if (path.includes('\\') || [...path].some((c) => c.charCodeAt(0) < 0x20)) return 'contains a backslash or a control character';
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return "has an empty, '.' or '..' segment";
  return undefined;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A field's value for a message: a primitive as JSON, an object or array described, never serialized (it may nest without end). */
const quote = (value: unknown): string => (value !== null && typeof value === 'object' ? describeValue(value) : String(JSON.stringify(value)));

/** Why `value` is not a generation record; undefined when it is one. */
export function generationProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const g = value as Partial<CheckpointGeneration>;
  if (!Number.isSafeInteger(g.generation) || (g.generation as number) < 1) return 'generation is not a positive integer';
  if (typeof g.createdAt !== 'string') return 'createdAt is not a string';
  if (g.step !== undefined && !Number.isFinite(g.step)) return 'step is not a finite number';
  if (!Array.isArray(g.files)) return 'files is not a list';
  const seen = new Set<string>();
  for (const f of g.files as unknown[]) {
    const file = f as Partial<CheckpointFile> | null;
    if (file === null || typeof file !== 'object') return 'a file entry is not an object';
    const problem = pathProblem(file.path as string);
    if (problem) return `file path ${quote(file.path)} ${problem}`;
    if (seen.has(file.path as string)) return `file path ${file.path} is listed twice`;
    seen.add(file.path as string);
    if (!Number.isSafeInteger(file.size) || (file.size as number) < 0) return `file ${file.path}: size is not a non-negative integer`;
    if (typeof file.sha256 !== 'string' || !SHA256_HEX.test(file.sha256)) return `file ${file.path}: sha256 is not 64 hex digits`;
  }
  return undefined;
}

/** Parses a pointer; throws a `CheckpointVerificationError` saying what is wrong with it. */
export function parsePointer(text: string): CheckpointPointer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CheckpointVerificationError('pointer is not JSON');
  }
  const pointer = parsed as Partial<CheckpointPointer> | null;
  if (pointer === null || typeof pointer !== 'object' || Array.isArray(pointer)) throw new CheckpointVerificationError('pointer is not an object');
  if (pointer.schema !== CHECKPOINT_MANIFEST_SCHEMA) throw new CheckpointVerificationError(`pointer schema ${quote(pointer.schema)} is not ${CHECKPOINT_MANIFEST_SCHEMA}`);
  if (!Array.isArray(pointer.generations)) throw new CheckpointVerificationError('pointer generations is not a list');
  for (const g of pointer.generations) {
    const problem = generationProblem(g);
    if (problem) throw new CheckpointVerificationError(`pointer lists an invalid generation: ${problem}`);
  }
  return pointer as CheckpointPointer;
}

/** Parses a `_complete.json`; throws a `CheckpointVerificationError` saying what is wrong with it. */
export function parseGeneration(text: string, expected: number): CheckpointGeneration {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CheckpointVerificationError('completion record is not JSON');
  }
  const problem = generationProblem(parsed);
  if (problem) throw new CheckpointVerificationError(`completion record is invalid: ${problem}`);
  if ((parsed as CheckpointGeneration).generation !== expected) throw new CheckpointVerificationError(`completion record names generation ${(parsed as CheckpointGeneration).generation}, not ${expected}`);
  return parsed as CheckpointGeneration;
}
