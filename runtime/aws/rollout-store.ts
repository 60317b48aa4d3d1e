/**
 * The rollout store over DynamoDB (names: runtime/contracts/rollout.ts): one item per rollout (partition `model`, sort
 * `rolloutId`) holding its plan, its state (with its history: who did what, when and why) and a version every save
 * increments, plus one lock item per model naming the rollout that runs, so that a second rollout of the same model
 * cannot start while one runs. Every call has a deadline (SDK retries included).
 *
 * Functions, not a class, so that a bundle carries only the calls it makes: the handler's holds GetItem, PutItem,
 * UpdateItem and DeleteItem; listing a model's rollouts (Query) is the CLI's.
 */
import { createHash } from 'node:crypto';
import { AttributeValue, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { LOCK_ID, RolloutAttributes, RolloutErrorNames } from '../contracts/rollout';
import { timerDelayMs } from '../core/routing';
import { RolloutLimits, type RolloutPlan, type RolloutState } from '../core/rollout/types';

export { LOCK_ID, RolloutAttributes } from '../contracts/rollout';

const A = RolloutAttributes;

/** Default deadline of one store call (SDK retries included), milliseconds. */
export const DEFAULT_ROLLOUT_STORE_TIMEOUT_MS = 5000;

/** Largest JSON of a plan and a state together, bytes: far below DynamoDB's 400 KB item limit. */
export const MAX_ROLLOUT_ITEM_BYTES = 300 * 1024;

/** Where the rollouts are. */
export interface RolloutTable {
  /** The DynamoDB client. */
  readonly client: DynamoDBClient;
  /** The rollout table's name. */
  readonly tableName: string;
  /**
   * Deadline of each call (SDK retries included), milliseconds.
   * @default DEFAULT_ROLLOUT_STORE_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
}

/** A stored rollout. */
export interface StoredRollout {
  /** The plan it runs. */
  readonly plan: RolloutPlan;
  /** Its state (`state.id` is the rollout id, `state.model` the model). */
  readonly state: RolloutState;
  /** Version of the item: 1 when created, incremented by every save. */
  readonly version: number;
  /** Who started it. */
  readonly by: string;
  /** When it started, ISO-8601. */
  readonly since: string;
  /** When it was last saved, ISO-8601. */
  readonly updatedAt: string;
}

/** The model's lock: which rollout runs, who started it, since when. */
export interface RolloutLock {
  readonly model: string;
  readonly rolloutId: string;
  readonly by: string;
  /** ISO-8601. */
  readonly since: string;
}

/** A start refused because another rollout of the model runs. */
export class RolloutRunningError extends Error {
  constructor(public readonly running: RolloutLock) {
    super(`a rollout of model '${running.model}' is running: ${running.rolloutId}, started by ${running.by} at ${running.since}; `
      + `wait for it to finish or roll it back (npm run rollout -- rollback --model ${running.model})`);
    this.name = RolloutErrorNames.RUNNING;
  }
}

/** A save against a version that is no longer the stored one: another evaluation saved in between. */
export class RolloutVersionConflictError extends Error {
  constructor(public readonly model: string, public readonly rolloutId: string, public readonly expectedVersion: number) {
    super(`rollout ${rolloutId} of model '${model}' is no longer at version ${expectedVersion}: another evaluation saved it in between; load it again`);
    this.name = RolloutErrorNames.VERSION_CONFLICT;
  }
}

/** A rollout id that breaks the rules (characters, length). */
export class RolloutIdError extends Error {
  constructor(public readonly rolloutId: string) {
    super(`invalid rollout id '${String(rolloutId).slice(0, 64)}': 1 to ${RolloutLimits.ID_CHARS} characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit`);
    this.name = RolloutErrorNames.ID;
  }
}

/** A rollout item too large for the table. */
export class RolloutTooLargeError extends Error {
  constructor(public readonly rolloutId: string, public readonly bytes: number) {
    super(`rollout ${rolloutId}: its plan and state take ${bytes} bytes; at most ${MAX_ROLLOUT_ITEM_BYTES}`);
    this.name = RolloutErrorNames.TOO_LARGE;
  }
}

/** Rollout ids: a letter or digit first (so every id sorts after `LOCK_ID`), then letters, digits and `._:-`. */
const ROLLOUT_ID = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,${RolloutLimits.ID_CHARS - 1}}$`);

/** Whether `id` is a valid rollout id. */
export function isRolloutId(id: unknown): id is string {
  return typeof id === 'string' && ROLLOUT_ID.test(id);
}

/**
 * A rollout id that sorts by start time: the start as ISO-8601, a dash and `name` (what tells two starts in one
 * millisecond apart, e.g. a Step Functions execution name), its characters outside the id alphabet replaced by `_`,
 * cut to the id length. The state machine builds the same from its execution (`States.Format('{}-{}', StartTime, Name)`).
 */
export function rolloutIdOf(startMs: number, name: string): string {
  return `${new Date(startMs).toISOString()}-${name.replace(/[^A-Za-z0-9._:-]/g, '_')}`.slice(0, RolloutLimits.ID_CHARS);
}

/** Length of the hash that `toRolloutId` appends, hex characters. */
const ID_HASH_CHARS = 16;

/**
 * `text` when it is a valid rollout id; otherwise a valid id derived from it, the same for the same text and distinct
 * for distinct texts (its readable characters, a dash and a SHA-256 prefix): an execution name such as 'é' or '#1'
 * starts a rollout instead of failing for good.
 */
export function toRolloutId(text: string): string {
  if (isRolloutId(text)) return text;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, ID_HASH_CHARS);
  const readable = String(text).replace(/[^A-Za-z0-9._:-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, RolloutLimits.ID_CHARS - ID_HASH_CHARS - 1);
  return readable ? `${readable}-${hash}` : hash;
}

const isConditionFailed = (error: unknown) => (error as Error)?.name === 'ConditionalCheckFailedException';
const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(value) });
const options = (table: RolloutTable) => ({ abortSignal: AbortSignal.timeout(timerDelayMs(table.timeoutMs ?? DEFAULT_ROLLOUT_STORE_TIMEOUT_MS)) });
const key = (model: string, rolloutId: string) => ({ [A.MODEL]: s(model), [A.ROLLOUT_ID]: s(rolloutId) });
const iso = (ms: number) => new Date(ms).toISOString();

function checkId(rolloutId: string): void {
  if (!isRolloutId(rolloutId)) throw new RolloutIdError(rolloutId);
}

/**
 * Takes the model's lock for `rolloutId`: a conditional write that succeeds only when no rollout of the model runs.
 * When `rolloutId` holds it already (a retried start) it is kept as it is. Throws `RolloutRunningError` naming the
 * running one otherwise.
 */
export async function acquire(table: RolloutTable, lock: { model: string; rolloutId: string; by: string; atMs: number }, retried = false): Promise<void> {
  checkId(lock.rolloutId);
  try {
    await table.client.send(new PutItemCommand({
      TableName: table.tableName,
      Item: { ...key(lock.model, LOCK_ID), [A.HOLDER]: s(lock.rolloutId), [A.BY]: s(lock.by), [A.SINCE]: s(iso(lock.atMs)) },
      ConditionExpression: 'attribute_not_exists(#m)',
      ExpressionAttributeNames: { '#m': A.MODEL },
    }), options(table));
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    const running = await lockOf(table, lock.model);
    if (running?.rolloutId === lock.rolloutId) return;
    // Released in between: the lock is free now; one more try settles it.
    if (!running && !retried) return acquire(table, lock, true);
    if (!running) throw error;
    throw new RolloutRunningError(running);
  }
}

/** Releases the model's lock if `rolloutId` holds it. Returns false when it did not (released already, or another holds it). */
export async function release(table: RolloutTable, model: string, rolloutId: string): Promise<boolean> {
  try {
    await table.client.send(new DeleteItemCommand({
      TableName: table.tableName,
      Key: key(model, LOCK_ID),
      ConditionExpression: '#h = :id',
      ExpressionAttributeNames: { '#h': A.HOLDER },
      ExpressionAttributeValues: { ':id': s(rolloutId) },
    }), options(table));
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** The model's lock; undefined when no rollout of the model runs. */
export async function lockOf(table: RolloutTable, model: string): Promise<RolloutLock | undefined> {
  const { Item } = await table.client.send(new GetItemCommand({ TableName: table.tableName, Key: key(model, LOCK_ID), ConsistentRead: true }), options(table));
  if (!Item) return undefined;
  return { model, rolloutId: str(Item, A.HOLDER), by: str(Item, A.BY), since: str(Item, A.SINCE) };
}

/** Stores a new rollout at version 1 (its id `state.id`, its model `state.model`). Throws `RolloutVersionConflictError` if it exists. */
export async function create(table: RolloutTable, plan: RolloutPlan, state: RolloutState, atMs: number): Promise<StoredRollout> {
  checkId(state.id);
  const at = iso(atMs);
  const stored: StoredRollout = { plan, state, version: 1, by: state.startedBy, since: at, updatedAt: at };
  try {
    await table.client.send(new PutItemCommand({
      TableName: table.tableName,
      Item: encode(stored),
      ConditionExpression: 'attribute_not_exists(#m)',
      ExpressionAttributeNames: { '#m': A.MODEL },
    }), options(table));
  } catch (error) {
    if (isConditionFailed(error)) throw new RolloutVersionConflictError(state.model, state.id, 0);
    throw error;
  }
  return stored;
}

/**
 * Saves a rollout's new state if the item is still at `stored.version` (a conditional write: of two evaluations that
 * loaded the same version, exactly one saves). Returns the rollout one version later; throws
 * `RolloutVersionConflictError` when it moved on.
 */
export async function save(table: RolloutTable, stored: StoredRollout, state: RolloutState, atMs: number): Promise<StoredRollout> {
  const next: StoredRollout = { ...stored, state, version: stored.version + 1, updatedAt: iso(atMs) };
  const json = stateJson(next);
  try {
    await table.client.send(new UpdateItemCommand({
      TableName: table.tableName,
      Key: key(state.model, state.id),
      UpdateExpression: 'SET #st = :st, #p = :p, #v = :next, #u = :u',
      ConditionExpression: '#v = :expected',
      ExpressionAttributeNames: { '#st': A.STATE, '#p': A.PHASE, '#v': A.VERSION, '#u': A.UPDATED_AT },
      ExpressionAttributeValues: { ':st': s(json.state), ':p': s(state.phase), ':next': n(next.version), ':u': s(next.updatedAt), ':expected': n(stored.version) },
    }), options(table));
  } catch (error) {
    if (isConditionFailed(error)) throw new RolloutVersionConflictError(state.model, state.id, stored.version);
    throw error;
  }
  return next;
}

/** A rollout (a strongly consistent read); undefined when there is none. */
export async function load(table: RolloutTable, model: string, rolloutId: string): Promise<StoredRollout | undefined> {
  if (!isRolloutId(rolloutId)) return undefined;
  const { Item } = await table.client.send(new GetItemCommand({ TableName: table.tableName, Key: key(model, rolloutId), ConsistentRead: true }), options(table));
  return Item ? decode(Item) : undefined;
}

/**
 * The model's running rollout: its lock and, when stored already, the rollout (a start that died between the lock and
 * the first save leaves a lock without one: roll it back to release it). Undefined when none runs.
 */
export async function current(table: RolloutTable, model: string): Promise<{ lock: RolloutLock; rollout?: StoredRollout } | undefined> {
  const lock = await lockOf(table, model);
  if (!lock) return undefined;
  const rollout = await load(table, model, lock.rolloutId);
  return { lock, ...(rollout ? { rollout } : {}) };
}

/** The model's last `limit` rollouts, newest first (ids sort by start time), each with its history. */
export async function history(table: RolloutTable, model: string, limit: number): Promise<StoredRollout[]> {
  const rollouts: StoredRollout[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await table.client.send(new QueryCommand({
      TableName: table.tableName,
      KeyConditionExpression: '#m = :m AND #r > :lock',
      ExpressionAttributeNames: { '#m': A.MODEL, '#r': A.ROLLOUT_ID },
      ExpressionAttributeValues: { ':m': s(model), ':lock': s(LOCK_ID) },
      ScanIndexForward: false,
      ConsistentRead: true,
      Limit: limit - rollouts.length,
      ExclusiveStartKey: start,
    }), options(table));
    rollouts.push(...(page.Items ?? []).map(decode));
    start = page.LastEvaluatedKey;
  } while (start && rollouts.length < limit);
  return rollouts;
}

/** The plan's and the state's JSON, checked against `MAX_ROLLOUT_ITEM_BYTES`. */
function stateJson(stored: StoredRollout): { plan: string; state: string } {
  const json = { plan: JSON.stringify(stored.plan), state: JSON.stringify(stored.state) };
  const bytes = Buffer.byteLength(json.plan) + Buffer.byteLength(json.state);
  if (bytes > MAX_ROLLOUT_ITEM_BYTES) throw new RolloutTooLargeError(stored.state.id, bytes);
  return json;
}

function encode(stored: StoredRollout): Record<string, AttributeValue> {
  const json = stateJson(stored);
  return {
    ...key(stored.state.model, stored.state.id),
    [A.VERSION]: n(stored.version),
    [A.PHASE]: s(stored.state.phase),
    [A.PLAN]: s(json.plan),
    [A.STATE]: s(json.state),
    [A.BY]: s(stored.by),
    [A.SINCE]: s(stored.since),
    [A.UPDATED_AT]: s(stored.updatedAt),
  };
}

function str(item: Record<string, AttributeValue>, name: string): string {
  const value = item[name]?.S;
  if (typeof value !== 'string') throw new Error(`rollout item: ${name} is not a string`);
  return value;
}

function json<T>(item: Record<string, AttributeValue>, name: string): T {
  try {
    return JSON.parse(str(item, name)) as T;
  } catch (error) {
    throw new Error(`rollout item: ${name} is not JSON (${(error as Error).message})`);
  }
}

/** Decodes a stored rollout item. Throws naming the first malformed attribute. */
function decode(item: Record<string, AttributeValue>): StoredRollout {
  const version = Number(item[A.VERSION]?.N);
  if (!Number.isSafeInteger(version)) throw new Error(`rollout item: ${A.VERSION} is not a number`);
  return {
    plan: json<RolloutPlan>(item, A.PLAN),
    state: json<RolloutState>(item, A.STATE),
    version,
    by: str(item, A.BY),
    since: str(item, A.SINCE),
    updatedAt: str(item, A.UPDATED_AT),
  };
}
