/**
 * The routing table over DynamoDB (layout and rules: runtime/core/routing.ts): `RoutingTableClient` reads, seeds and
 * changes a model's weights with optimistic concurrency; `CachedRoutingSource` is the gateway's cached read of them.
 */
import { AttributeValue, DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  applyWeightChange, decodeRoutingItem, DynamoItem, RoutingEntry, RoutingNotFoundError, RoutingSeed, RoutingSource, RoutingUpdate,
  RoutingVersionConflictError, routingKey, seedUpdate, VariantWeights, weightChangeUpdate, WeightedVariant,
} from '../core/routing';

/** Default deadline of one call of `RoutingTableClient` (SDK retries included), milliseconds. */
export const DEFAULT_ROUTING_TIMEOUT_MS = 2000;

/** Options of `RoutingTableClient`. */
export interface RoutingTableClientProps {
  /** The DynamoDB client. */
  readonly client: DynamoDBClient;
  /** The routing table's name. */
  readonly tableName: string;
  /**
   * Deadline of each call (SDK retries included), milliseconds; `get` may be given a shorter one.
   * @default DEFAULT_ROUTING_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
  /**
   * Clock, epoch milliseconds: the `at` of each recorded change.
   * @default Date.now
   */
  readonly now?: () => number;
}

/** Options of `RoutingTableClient.get`. */
export interface RoutingReadOptions {
  /**
   * Read the latest write (a strongly consistent read, twice the cost): what a change must start from.
   * @default false
   */
  readonly consistentRead?: boolean;
  /**
   * Deadline of this read, milliseconds (whole milliseconds; at least 1).
   * @default - the client's timeoutMs
   */
  readonly timeoutMs?: number;
}

/** Who changes weights, why, and against which version. */
export interface SetWeightsOptions {
  /** The version the change was decided on: the change fails with `RoutingVersionConflictError` if it moved on. */
  readonly expectedVersion: number;
  /** Who: a user, a role, a rollout controller (at most 128 characters). */
  readonly by: string;
  /** Why (at most 512 characters). */
  readonly reason: string;
}

/** Reads a model's routing entry: what `CachedRoutingSource` needs of the table. */
export interface RoutingReader {
  /** The model's entry; undefined when there is none. Throws when the table cannot be read or the item is malformed. */
  get(model: string, options?: RoutingReadOptions): Promise<RoutingEntry | undefined>;
}

/** Reads and changes the routing table. */
export class RoutingTableClient implements RoutingReader {
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly props: RoutingTableClientProps) {
    this.timeoutMs = props.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS;
    this.now = props.now ?? Date.now;
  }

  /** The model's entry; undefined when there is none. Throws when the table cannot be read or the item is malformed. */
  public async get(model: string, options: RoutingReadOptions = {}): Promise<RoutingEntry | undefined> {
    const { Item } = await this.props.client.send(new GetItemCommand({
      TableName: this.props.tableName,
      Key: routingKey(model) as Record<string, AttributeValue>,
      ConsistentRead: options.consistentRead ?? false,
    }), { abortSignal: AbortSignal.timeout(Math.max(1, Math.ceil(options.timeoutMs ?? this.timeoutMs))) });
    return Item ? decodeRoutingItem(Item as DynamoItem) : undefined;
  }

  /**
   * Seeds a model's entry (version 1, the seed as the first change of its trail) unless it has one: live weights are
   * never overwritten. The endpoint name is set (or removed) either way (`seedUpdate`). Returns whether the entry was
   * created. Throws `RoutingValidationError` listing every problem of the seed.
   */
  public async seed(seed: Omit<RoutingSeed, 'at'>): Promise<boolean> {
    const { Attributes } = await this.update(seedUpdate({ ...seed, at: new Date(this.now()).toISOString() }), 'UPDATED_OLD');
    return Attributes?.version === undefined;
  }

  /**
   * Sets a model's weights (every variant, none other; any non-negative scale, at least one positive), one version
   * later, recording who, when, why, from and to in its trail, if the entry is still at `expectedVersion`. Returns
   * the new entry. Throws `RoutingValidationError` (every problem of the weights, by and reason),
   * `RoutingNotFoundError` (no entry) or `RoutingVersionConflictError` (naming the current version).
   */
  public async setWeights(model: string, weights: VariantWeights, options: SetWeightsOptions): Promise<RoutingEntry> {
    const current = await this.get(model, { consistentRead: true });
    if (!current) throw new RoutingNotFoundError(model);
    if (current.version !== options.expectedVersion) throw new RoutingVersionConflictError(model, options.expectedVersion, current.version);
    const next = applyWeightChange(current, weights, { by: options.by, reason: options.reason, at: new Date(this.now()).toISOString() });
    try {
      await this.update(weightChangeUpdate(current, next));
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      const now = await this.get(model, { consistentRead: true });
      throw new RoutingVersionConflictError(model, options.expectedVersion, now?.version);
    }
    return next;
  }

  private update(update: RoutingUpdate, returnValues?: 'UPDATED_OLD') {
    return this.props.client.send(new UpdateItemCommand({
      TableName: this.props.tableName,
      Key: update.Key as Record<string, AttributeValue>,
      UpdateExpression: update.UpdateExpression,
      ConditionExpression: update.ConditionExpression,
      ExpressionAttributeNames: { ...update.ExpressionAttributeNames },
      ExpressionAttributeValues: update.ExpressionAttributeValues as Record<string, AttributeValue>,
      ReturnValues: returnValues,
    }), { abortSignal: AbortSignal.timeout(this.timeoutMs) });
  }
}

/** Longest delay Node's timers honour, milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Default time a read weight stays fresh in `CachedRoutingSource`, milliseconds. */
export const DEFAULT_ROUTING_CACHE_TTL_MS = 5000;

/** Default deadline of `CachedRoutingSource`'s reads, milliseconds. */
export const DEFAULT_ROUTING_READ_DEADLINE_MS = 100;

/** Options of `CachedRoutingSource`. */
export interface CachedRoutingSourceProps {
  /** Where the entries are read (a `RoutingTableClient`). */
  readonly table: RoutingReader;
  /**
   * How long a read entry (or a read absence) is served before it is read again, milliseconds.
   * @default DEFAULT_ROUTING_CACHE_TTL_MS (5 s)
   */
  readonly ttlMs?: number;
  /**
   * Deadline of a read when the caller gives none, milliseconds.
   * @default DEFAULT_ROUTING_READ_DEADLINE_MS (100 ms)
   */
  readonly deadlineMs?: number;
  /**
   * Clock, epoch milliseconds.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Told of every failed read (the table unreachable, a deadline passed, a malformed item): the source keeps serving
   * the last weights it read (or none) and reads again a TTL later.
   * @default - ignored
   */
  readonly onError?: (model: string, error: Error) => void;
}

interface Cached {
  readonly variants: readonly WeightedVariant[] | undefined;
  readonly readAt: number;
}

/**
 * The gateway's view of the routing table, per Lambda container: each model's weights are read at most once per TTL
 * (a read absence too), one read in flight per model whatever the concurrency, each read bounded by a deadline. A
 * failed read serves the last weights read (stale beats static: they are what the rollout last set) until the next
 * read a TTL later, and is reported through `onError`; with nothing read yet, it answers undefined (the caller's static
 * weights). A caller whose deadline passes before the read ends gets the same answer. Never throws.
 * It keeps one entry per model asked for: ask only for models the caller serves (never a name taken unchecked from a
 * request), so neither its memory nor its reads grow with what callers send.
 */
export class CachedRoutingSource implements RoutingSource {
  private readonly cache = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly ttlMs: number;
  private readonly deadlineMs: number;
  private readonly now: () => number;

  constructor(private readonly props: CachedRoutingSourceProps) {
    this.ttlMs = props.ttlMs ?? DEFAULT_ROUTING_CACHE_TTL_MS;
    this.deadlineMs = props.deadlineMs ?? DEFAULT_ROUTING_READ_DEADLINE_MS;
    this.now = props.now ?? Date.now;
    if (!(this.ttlMs >= 0) || !(this.deadlineMs > 0)) throw new Error('CachedRoutingSource: ttlMs must be ≥ 0 and deadlineMs > 0');
  }

  public async variantsOf(model: string, options: { deadlineMs?: number } = {}): Promise<readonly WeightedVariant[] | undefined> {
    const cached = this.cache.get(model);
    if (cached && this.now() - cached.readAt < this.ttlMs) return cached.variants;
    // Whole milliseconds (AbortSignal.timeout refuses fractions), below Node's timer limit (longer ones fire at once).
    const deadlineMs = Math.min(Math.ceil(options.deadlineMs ?? this.deadlineMs), MAX_TIMER_MS);
    if (!(deadlineMs >= 1)) return cached?.variants;
    let read = this.inFlight.get(model);
    if (!read) {
      read = this.read(model, deadlineMs).finally(() => this.inFlight.delete(model));
      this.inFlight.set(model, read);
    }
    // A caller joining a read started with a longer deadline still waits no longer than its own.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([read, new Promise<void>((resolve) => { timer = setTimeout(resolve, deadlineMs); })]);
    clearTimeout(timer);
    return this.cache.get(model)?.variants;
  }

  /** Reads the model's entry into the cache; on failure keeps what the cache holds and reports the error. */
  private async read(model: string, deadlineMs: number): Promise<void> {
    try {
      const entry = await this.props.table.get(model, { timeoutMs: deadlineMs });
      this.cache.set(model, { variants: entry?.variants, readAt: this.now() });
    } catch (error) {
      // Served stale (or static) until the next read, a TTL later: a table that is down costs each request nothing.
      this.cache.set(model, { variants: this.cache.get(model)?.variants, readAt: this.now() });
      try {
        this.props.onError?.(model, error instanceof Error ? error : new Error(String(error)));
      } catch {
        // A failing error callback must not make the source throw.
      }
    }
  }
}
