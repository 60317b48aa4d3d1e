/**
 * Reading the routing table over DynamoDB (layout and rules: runtime/core/routing.ts): `RoutingTableReader` reads a
 * model's entry, `CachedRoutingSource` is the gateway's cached read of it. Read-only on purpose: the gateway's bundle
 * holds no write to the table (least privilege, checked in test/lib/iam-actions.test.ts); changes are
 * `RoutingTableClient`'s (routing-table.ts).
 */
import { AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { decodeRoutingItem, DynamoItem, LiveRoute, RoutingEntry, RoutingSource, routingKey, timerDelayMs, WeightedVariant } from '../core/routing';

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

/** Reads a model's routing entry: what `CachedRoutingSource` needs of the table. */
export interface RoutingReader {
  /** The model's entry; undefined when there is none. Throws when the table cannot be read or the item is malformed. */
  get(model: string, options?: RoutingReadOptions): Promise<RoutingEntry | undefined>;
}

/** Reads the routing table. */
export class RoutingTableReader implements RoutingReader {
  protected readonly timeoutMs: number;
  protected readonly now: () => number;

  constructor(protected readonly props: RoutingTableClientProps) {
    this.timeoutMs = props.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS;
    this.now = props.now ?? Date.now;
  }

  /** The model's entry; undefined when there is none. Throws when the table cannot be read or the item is malformed. */
  public async get(model: string, options: RoutingReadOptions = {}): Promise<RoutingEntry | undefined> {
    const { Item } = await this.props.client.send(new GetItemCommand({
      TableName: this.props.tableName,
      Key: routingKey(model) as Record<string, AttributeValue>,
      ConsistentRead: options.consistentRead ?? false,
    }), { abortSignal: AbortSignal.timeout(timerDelayMs(options.timeoutMs ?? this.timeoutMs)) });
    return Item ? decodeRoutingItem(Item as DynamoItem) : undefined;
  }
}


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
   * the last weights it read (or none) and reads again `FAILED_READ_RETRY_MS` later (at most a TTL).
   * @default - ignored
   */
  readonly onError?: (model: string, error: Error) => void;
}

interface Cached {
  readonly route: LiveRoute | undefined;
  /** When the entry was read; after a failed read, when it is due to be read again, less a TTL. */
  readonly readAt: number;
}

/**
 * How soon a failed read is tried again, milliseconds (or a TTL, when shorter): soon enough that a cold container
 * whose first read failed picks the weights up within a second, rarely enough that a table that is down costs each
 * request nothing.
 */
export const FAILED_READ_RETRY_MS = 1000;

/**
 * The gateway's view of the routing table, per Lambda container: each model's weights (and shadow) are read at most once per TTL
 * (a read absence too), one read in flight per model whatever the concurrency, each read bounded by its own deadline
 * (the longer of `deadlineMs` and the caller's). A caller waits no longer than its own deadline; when it gives up, the
 * read goes on and fills the cache for the next callers. A failed read serves the last weights read (stale beats
 * static: they are what the rollout last set) until the next read `FAILED_READ_RETRY_MS` later, and is reported
 * through `onError`; with nothing read yet, it answers undefined (the caller's static weights). Never throws.
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
    return (await this.routeOf(model, options))?.variants;
  }

  /** The model's weights and shadow, read as `variantsOf` reads the weights (the shadow comes with them, same cache). */
  public async routeOf(model: string, options: { deadlineMs?: number } = {}): Promise<LiveRoute | undefined> {
    const cached = this.cache.get(model);
    if (cached && this.now() - cached.readAt < this.ttlMs) return cached.route;
    // Whole milliseconds (AbortSignal.timeout refuses fractions), below Node's timer limit (longer ones fire at once).
    const requested = options.deadlineMs ?? this.deadlineMs;
    const waitMs = requested > 0 ? timerDelayMs(requested) : 0;
    let read = this.inFlight.get(model);
    if (!read) {
      // The read gets at least the source's own deadline: a caller with little time left must not starve it (it would
      // fail on every cold connection and leave the cache empty).
      read = this.read(model, Math.max(waitMs, timerDelayMs(this.deadlineMs))).finally(() => this.inFlight.delete(model));
      this.inFlight.set(model, read);
    }
    if (!(waitMs >= 1)) return cached?.route;
    // Each caller waits no longer than its own deadline; the read goes on for the next ones.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([read, new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); })]);
    clearTimeout(timer);
    return this.cache.get(model)?.route;
  }

  /** Reads the model's entry into the cache; on failure keeps what the cache holds and reports the error. */
  private async read(model: string, deadlineMs: number): Promise<void> {
    try {
      const entry = await this.props.table.get(model, { timeoutMs: deadlineMs });
      const route = entry && { variants: entry.variants, ...(entry.shadow ? { shadow: entry.shadow } : {}) };
      this.cache.set(model, { route, readAt: this.now() });
    } catch (error) {
      // Served stale (or static) until the next read, FAILED_READ_RETRY_MS later (at most a TTL).
      this.cache.set(model, { route: this.cache.get(model)?.route, readAt: this.now() - this.ttlMs + Math.min(this.ttlMs, FAILED_READ_RETRY_MS) });
      try {
        this.props.onError?.(model, error instanceof Error ? error : new Error(String(error)));
      } catch {
        // A failing error callback must not make the source throw.
      }
    }
  }
}
