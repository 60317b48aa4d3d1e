/**
 * The degrade ledger over DynamoDB: one item per degrade (key `id`, `degradeId`: budget and month) holding the
 * notification that triggered it, its plan, each action's state BEFORE and AFTER, and who reverted it when
 * (record: runtime/core/degrade.ts). Functions, not a class, so that a bundle carries only the calls it makes: the
 * handler's holds PutItem, UpdateItem and GetItem (what a lost claim found); listing the ledger (Scan) is the CLI's.
 */
import { AttributeValue, DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ActionRecord, BudgetNotification, DegradeActionSpec, DegradeRecord, DegradeStatus, LedgerAttributes } from '../core/degrade';
import { timerDelayMs } from '../core/routing';

export { LedgerAttributes } from '../core/degrade';

const A = LedgerAttributes;

/** Default deadline of one ledger call (SDK retries included), milliseconds. */
export const DEFAULT_LEDGER_TIMEOUT_MS = 5000;

/** Where the ledger is. */
export interface LedgerTable {
  /** The DynamoDB client. */
  readonly client: DynamoDBClient;
  /** The ledger table's name. */
  readonly tableName: string;
  /**
   * Deadline of each call (SDK retries included), milliseconds.
   * @default DEFAULT_LEDGER_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
}

/** A new degrade, as the handler claims it. */
export interface DegradeClaim {
  readonly id: string;
  readonly notification: BudgetNotification;
  readonly messageId: string;
  readonly plan: readonly DegradeActionSpec[];
  /** Now, ISO-8601. */
  readonly at: string;
  /** An `applying` degrade last taken before this (ISO-8601) is stale: its invocation died; it may be resumed. */
  readonly staleBefore: string;
}

/**
 * What a claim found: `claimed` (a new degrade), `resumed` (a failed or stale one, taken over: apply what is pending),
 * `busy` (`applying`, taken less than the stale cut-off ago: another invocation may still be applying it, or one died
 * and it is not stale yet) or `duplicate` (applied, being reverted, or reverted: nothing to do).
 */
export type ClaimResult =
  | { readonly kind: 'claimed' | 'resumed'; readonly record: DegradeRecord }
  | { readonly kind: 'busy' }
  | { readonly kind: 'duplicate'; readonly status?: DegradeStatus };

const isConditionFailed = (error: unknown) => (error as Error)?.name === 'ConditionalCheckFailedException';
const s = (value: string): AttributeValue => ({ S: value });
const options = (ledger: LedgerTable) => ({ abortSignal: AbortSignal.timeout(timerDelayMs(ledger.timeoutMs ?? DEFAULT_LEDGER_TIMEOUT_MS)) });
const key = (id: string) => ({ [A.ID]: s(id) });

/**
 * Claims a degrade, exactly once per id: a conditional put that only the first delivery wins. A later one takes over
 * a `failed` degrade (or an `applying` one last taken before `staleBefore`) with a conditional update, so of two
 * concurrent retries one resumes and the other is a duplicate; anything else is a duplicate.
 */
export async function claimDegrade(ledger: LedgerTable, claim: DegradeClaim): Promise<ClaimResult> {
  const record: DegradeRecord = {
    id: claim.id, claimedAt: claim.at, status: 'applying', attempts: 1, notification: claim.notification, messageId: claim.messageId,
    plan: claim.plan, actions: {},
  };
  try {
    await ledger.client.send(new PutItemCommand({
      TableName: ledger.tableName,
      Item: { ...encodeRecord(record), [A.UPDATED_AT]: s(claim.at) },
      ConditionExpression: 'attribute_not_exists(#id)',
      ExpressionAttributeNames: { '#id': A.ID },
    }), options(ledger));
    return { kind: 'claimed', record };
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
  try {
    const { Attributes } = await ledger.client.send(new UpdateItemCommand({
      TableName: ledger.tableName,
      Key: key(claim.id),
      UpdateExpression: 'SET #s = :applying, #u = :now, #n = #n + :one',
      ConditionExpression: '#s = :failed OR (#s = :applying AND #u < :stale)',
      ExpressionAttributeNames: { '#s': A.STATUS, '#u': A.UPDATED_AT, '#n': A.ATTEMPTS },
      ExpressionAttributeValues: { ':applying': s('applying'), ':failed': s('failed'), ':now': s(claim.at), ':stale': s(claim.staleBefore), ':one': { N: '1' } },
      ReturnValues: 'ALL_NEW',
    }), options(ledger));
    return { kind: 'resumed', record: decodeRecord(Attributes!) };
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    const status = (await getDegrade(ledger, claim.id))?.status;
    return status === 'applying' ? { kind: 'busy' } : { kind: 'duplicate', status };
  }
}

/** Records what became of action `index` (its BEFORE and AFTER, its failure, or its revert). */
export async function recordAction(ledger: LedgerTable, id: string, index: number, action: ActionRecord): Promise<void> {
  await ledger.client.send(new UpdateItemCommand({
    TableName: ledger.tableName,
    Key: key(id),
    UpdateExpression: 'SET #a.#i = :a',
    ConditionExpression: 'attribute_exists(#id)',
    ExpressionAttributeNames: { '#a': A.ACTIONS, '#i': String(index), '#id': A.ID },
    ExpressionAttributeValues: { ':a': s(JSON.stringify(action)) },
  }), options(ledger));
}

/** Ends an invocation's work on a degrade: `applied` (every action done) or `failed` (a retry resumes the rest). */
export async function finishDegrade(ledger: LedgerTable, id: string, status: 'applied' | 'failed'): Promise<void> {
  await ledger.client.send(new UpdateItemCommand({
    TableName: ledger.tableName,
    Key: key(id),
    UpdateExpression: 'SET #s = :s',
    ConditionExpression: '#s = :applying',
    ExpressionAttributeNames: { '#s': A.STATUS },
    ExpressionAttributeValues: { ':s': s(status), ':applying': s('applying') },
  }), options(ledger));
}

/**
 * Takes a degrade for a revert: sets it `reverting` if it is still as `record` was read (same status, `applied`,
 * `failed` or `reverting` — a revert that stopped half way — and same attempts), so that no retry resumes it
 * meanwhile (a resume needs `failed` or a stale `applying`). Returns false when it changed since it was read.
 */
export async function beginRevert(ledger: LedgerTable, record: Pick<DegradeRecord, 'id' | 'status' | 'attempts'>): Promise<boolean> {
  if (!['applied', 'failed', 'reverting'].includes(record.status)) return false;
  return conditionalUpdate(ledger, record.id, {
    UpdateExpression: 'SET #s = :reverting',
    ConditionExpression: '#s = :read AND #n = :attempts',
    ExpressionAttributeNames: { '#s': A.STATUS, '#n': A.ATTEMPTS },
    ExpressionAttributeValues: { ':reverting': s('reverting'), ':read': s(record.status), ':attempts': { N: String(record.attempts) } },
  });
}

/** Marks a degrade taken by `beginRevert` reverted, by whom and when. Returns false when it is no longer `reverting`. */
export async function markReverted(ledger: LedgerTable, id: string, by: string, at: string): Promise<boolean> {
  return conditionalUpdate(ledger, id, {
    UpdateExpression: 'SET #s = :reverted, #at = :at, #by = :by',
    ConditionExpression: '#s = :reverting',
    ExpressionAttributeNames: { '#s': A.STATUS, '#at': A.REVERTED_AT, '#by': A.REVERTED_BY },
    ExpressionAttributeValues: { ':reverted': s('reverted'), ':at': s(at), ':by': s(by), ':reverting': s('reverting') },
  });
}

/** A conditional UpdateItem of `id`; false when its condition failed. */
async function conditionalUpdate(
  ledger: LedgerTable, id: string,
  update: Pick<ConstructorParameters<typeof UpdateItemCommand>[0], 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
): Promise<boolean> {
  try {
    await ledger.client.send(new UpdateItemCommand({ TableName: ledger.tableName, Key: key(id), ...update }), options(ledger));
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** A degrade by id (a strongly consistent read); undefined when there is none. */
export async function getDegrade(ledger: LedgerTable, id: string): Promise<DegradeRecord | undefined> {
  const { Item } = await ledger.client.send(new GetItemCommand({ TableName: ledger.tableName, Key: key(id), ConsistentRead: true }), options(ledger));
  return Item ? decodeRecord(Item) : undefined;
}

/** Every degrade, newest first (a Scan: the ledger holds one item per budget and month). */
export async function listDegrades(ledger: LedgerTable): Promise<DegradeRecord[]> {
  const records: DegradeRecord[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await ledger.client.send(new ScanCommand({ TableName: ledger.tableName, ConsistentRead: true, ExclusiveStartKey: start }), options(ledger));
    records.push(...(page.Items ?? []).map(decodeRecord));
    start = page.LastEvaluatedKey;
  } while (start);
  return records.sort((a, b) => b.claimedAt.localeCompare(a.claimedAt));
}

/** A record as stored (without `updatedAt`, which the calls set). */
function encodeRecord(record: DegradeRecord): Record<string, AttributeValue> {
  return {
    [A.ID]: s(record.id),
    [A.STATUS]: s(record.status),
    [A.CLAIMED_AT]: s(record.claimedAt),
    [A.ATTEMPTS]: { N: String(record.attempts) },
    [A.NOTIFICATION]: s(JSON.stringify(record.notification)),
    [A.MESSAGE_ID]: s(record.messageId),
    [A.PLAN]: s(JSON.stringify(record.plan)),
    [A.ACTIONS]: { M: Object.fromEntries(Object.entries(record.actions).map(([i, a]) => [i, s(JSON.stringify(a))])) },
    ...(record.revertedAt === undefined ? {} : { [A.REVERTED_AT]: s(record.revertedAt) }),
    ...(record.revertedBy === undefined ? {} : { [A.REVERTED_BY]: s(record.revertedBy) }),
  };
}

/** Decodes a stored ledger item. Throws naming the first malformed attribute. */
export function decodeRecord(item: Record<string, AttributeValue>): DegradeRecord {
  const str = (name: string): string => {
    const value = item[name]?.S;
    if (typeof value !== 'string') throw new Error(`degrade ledger item: ${name} is not a string`);
    return value;
  };
  const json = <T>(name: string): T => {
    try {
      return JSON.parse(str(name)) as T;
    } catch (error) {
      throw new Error(`degrade ledger item: ${name} is not JSON (${(error as Error).message})`);
    }
  };
  const actions = Object.fromEntries(Object.entries(item[A.ACTIONS]?.M ?? {}).map(([i, v]) => [i, JSON.parse(v.S ?? 'null') as ActionRecord]));
  return {
    id: str(A.ID),
    status: str(A.STATUS) as DegradeStatus,
    claimedAt: str(A.CLAIMED_AT),
    attempts: Number(item[A.ATTEMPTS]?.N ?? '1'),
    notification: json<BudgetNotification>(A.NOTIFICATION),
    messageId: str(A.MESSAGE_ID),
    plan: json<DegradeActionSpec[]>(A.PLAN),
    actions,
    ...(item[A.REVERTED_AT] ? { revertedAt: str(A.REVERTED_AT) } : {}),
    ...(item[A.REVERTED_BY] ? { revertedBy: str(A.REVERTED_BY) } : {}),
  };
}
