/**
 * The online store over DynamoDB: the materializer's conditional writes and THE online feature client (the
 * inference path reuses `OnlineFeatureClient`). Item layout: `OnlineAttributes` in lib/features/spec/layout.ts.
 */
import { setTimeout as sleep } from 'timers/promises';
import { AttributeValue, BatchGetItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  entityKeyOf, FeatureDtype, FeatureRow, FeatureSpec, FeatureStatus, FeatureViewSpec, FEATURE_REF_SEPARATOR,
  joinKeysOf, joinKeyValue, onlineKey, OnlineAttributes, resolveFeatureRefs, ResolvedFeatureRefs, serveValue,
} from '../../lib/features/spec';
import type { OnlineWriteResult } from '../core/materialize';
import { backoffDelayMs } from '../core/retry';

/** Default deadline of one DynamoDB call (SDK retries included), milliseconds. */
export const DEFAULT_DYNAMODB_TIMEOUT_MS = 2000;

/** Most keys one BatchGetItem call may carry (a DynamoDB limit). */
export const BATCH_GET_MAX_KEYS = 100;

/** The condition of every online write: a row is written only over an older event time (or no row). */
export const NEWER_EVENT_CONDITION = `attribute_not_exists(${OnlineAttributes.PARTITION_KEY}) OR ${OnlineAttributes.EVENT_TIME} < :t`;

/** A feature value as a DynamoDB attribute. Vectors are packed little-endian float32 (4 bytes per element). */
function toAttribute(feature: FeatureSpec, value: unknown): AttributeValue {
  if (value === null || value === undefined) return { NULL: true };
  switch (feature.dtype) {
    case FeatureDtype.INT64:
    case FeatureDtype.FLOAT64:
      return { N: String(value) };
    case FeatureDtype.STRING:
      return { S: value as string };
    case FeatureDtype.BOOL:
      return { BOOL: value as boolean };
    case FeatureDtype.FLOAT32_VECTOR: {
      const elements = value as number[];
      const bytes = Buffer.alloc(4 * elements.length);
      elements.forEach((element, i) => bytes.writeFloatLE(element, 4 * i));
      return { B: bytes };
    }
  }
}

/** A DynamoDB attribute back to a feature value; null where the row holds none. */
function fromAttribute(feature: FeatureSpec, attribute: AttributeValue | undefined): unknown {
  if (!attribute || attribute.NULL) return null;
  switch (feature.dtype) {
    case FeatureDtype.INT64:
    case FeatureDtype.FLOAT64:
      return Number(attribute.N);
    case FeatureDtype.STRING:
      return attribute.S;
    case FeatureDtype.BOOL:
      return attribute.BOOL;
    case FeatureDtype.FLOAT32_VECTOR: {
      const bytes = Buffer.from(attribute.B!);
      return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(4 * i));
    }
  }
}

/** Options of `putOnlineRow`. */
export interface OnlineWriteOptions {
  /** When the materializer wrote the row, epoch milliseconds (`ingested_at_ms`). */
  readonly ingestedAtMs: number;
  /**
   * Deadline of the PutItem call, milliseconds.
   * @default DEFAULT_DYNAMODB_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
}

/**
 * Writes one validated row as the online value of its entity, only if the stored row has an older event time (or
 * there is none): a newer event wins, an older or equal (replayed) one never overwrites and comes back `stale`.
 * A row DynamoDB can never store (a ValidationException: an item over 400 KB, a key over 2048 bytes, a float64
 * beyond DynamoDB's number range such as 1e300) comes back `refused` with DynamoDB's reason, so the caller can
 * dead-letter it instead of retrying it forever. Any other error is thrown (transient).
 */
export async function putOnlineRow(
  client: DynamoDBClient, tableName: string, spec: FeatureViewSpec, row: FeatureRow, options: OnlineWriteOptions,
): Promise<OnlineWriteResult> {
  let command: PutItemCommand;
  try {
    command = putRowCommand(tableName, spec, row, options.ingestedAtMs);
  } catch (error) {
    // Building the item is per-record work: a row it cannot encode is refused (dead-lettered), never a failed batch.
    return { outcome: 'refused', reason: `the row cannot be encoded as a DynamoDB item: ${(error as Error).message}` };
  }
  try {
    await client.send(command, { abortSignal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_DYNAMODB_TIMEOUT_MS) });
    return { outcome: 'applied' };
  } catch (error) {
    const { name, message } = error as Error;
    if (name === 'ConditionalCheckFailedException') return { outcome: 'stale' };
    // With our fixed key and expression, a ValidationException is about the row's content; the table's own
    // misconfiguration (a wrong key schema) would refuse every row, which the dead-letter alarm reports.
    if (name === 'ValidationException') return { outcome: 'refused', reason: message };
    throw error;
  }
}

/** The conditional PutItem of one row (newer event time wins). Throws when a value cannot be encoded. */
function putRowCommand(tableName: string, spec: FeatureViewSpec, row: FeatureRow, ingestedAtMs: number): PutItemCommand {
  const features: Record<string, AttributeValue> = {};
  for (const feature of spec.features) features[feature.name] = toAttribute(feature, row.values[feature.name]);
  return new PutItemCommand({
    TableName: tableName,
    Item: {
      [OnlineAttributes.PARTITION_KEY]: { S: onlineKey(spec, row.entityKey) },
      [OnlineAttributes.EVENT_TIME]: { N: String(row.eventTimeMs) },
      [OnlineAttributes.INGESTED_AT]: { N: String(ingestedAtMs) },
      // Rounded up so that DynamoDB's lazy TTL deletion never removes a value reads would still serve.
      [OnlineAttributes.EXPIRES_AT]: { N: String(Math.ceil(row.eventTimeMs / 1000 + spec.ttlSeconds)) },
      [OnlineAttributes.FEATURES]: { M: features },
    },
    ConditionExpression: NEWER_EVENT_CONDITION,
    ExpressionAttributeValues: { ':t': { N: String(row.eventTimeMs) } },
  });
}

/** Join-key values of one entity: strings or integers. */
export type EntityKeys = Readonly<Record<string, string | number>>;

/** A request for online features. */
export interface OnlineFeatureRequest {
  /** The views the references point into (one version of each). */
  readonly views: readonly FeatureViewSpec[];
  /** Entities as join-key objects, e.g. `{ customer_id: 'c1' }`; one object may carry the keys of several views. */
  readonly entities: readonly EntityKeys[];
  /** Feature references `view_name:feature_name`. */
  readonly featureRefs: readonly string[];
  /**
   * Read instant, epoch milliseconds, against which the views' TTLs are enforced.
   * @default Date.now()
   */
  readonly nowMs?: number;
  /**
   * Budget for the whole read, retries included, milliseconds: no call outlives it and no retry starts after it.
   * @default - each call has the client's `timeoutMs`; attempts are bounded by `maxAttempts`
   */
  readonly deadlineMs?: number;
}

/** The served features of one entity, keyed by feature reference (`view:feature`). */
export interface OnlineFeatureVector {
  /** Served value: the stored value (PRESENT), the declared fallback (FALLBACK) or null. Never a silent zero. */
  readonly values: Record<string, unknown>;
  /** Why each value is what it is. */
  readonly statuses: Record<string, FeatureStatus>;
  /** Event time of the stored row each value came from, epoch milliseconds; null when no row is stored. */
  readonly eventTimes: Record<string, number | null>;
}

/** Answer to `getOnlineFeatures`. */
export interface OnlineFeatureResponse {
  /** One vector per requested entity, in request order. */
  readonly entities: OnlineFeatureVector[];
  /** BatchGetItem calls made, retries of unprocessed keys included: one per 100 distinct keys when unthrottled. */
  readonly roundTrips: number;
}

/** Properties of an `OnlineFeatureClient`. */
export interface OnlineFeatureClientProps {
  /** DynamoDB client (its region, credentials and endpoint are used as they are). */
  readonly client: DynamoDBClient;
  /** Online table name. */
  readonly tableName: string;
  /**
   * BatchGetItem attempts per chunk of keys before giving up on keys DynamoDB left unprocessed.
   * @default 5
   */
  readonly maxAttempts?: number;
  /**
   * Base of the exponential backoff (with full jitter) between attempts, milliseconds.
   * @default 25
   */
  readonly backoffBaseMs?: number;
  /**
   * Deadline of one BatchGetItem call, milliseconds.
   * @default DEFAULT_DYNAMODB_TIMEOUT_MS
   */
  readonly timeoutMs?: number;
}

type Item = Record<string, AttributeValue>;

/**
 * Reads online features: one BatchGetItem per 100 distinct (view, entity) keys whatever the number of features
 * (one item holds every feature of a view for an entity), projected to the requested features, eventually
 * consistent. Unprocessed keys are retried with backoff and a bounded number of attempts. The TTL is enforced at
 * read time and every value comes with its status (`serveValue`).
 */
export class OnlineFeatureClient {
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly props: OnlineFeatureClientProps) {
    this.maxAttempts = props.maxAttempts ?? 5;
    this.backoffBaseMs = props.backoffBaseMs ?? 25;
    this.timeoutMs = props.timeoutMs ?? DEFAULT_DYNAMODB_TIMEOUT_MS;
    if (!(Number.isInteger(this.maxAttempts) && this.maxAttempts >= 1)) {
      throw new Error(`OnlineFeatureClient: maxAttempts must be an integer >= 1, got ${props.maxAttempts}`);
    }
  }

  /** Serves the referenced features of each entity. Throws one error naming every unknown reference or missing join key. */
  public async getOnlineFeatures(request: OnlineFeatureRequest): Promise<OnlineFeatureResponse> {
    const groups = resolveFeatureRefs(request.views, request.featureRefs);
    const keysPerEntity = entityKeys(groups, request.entities);
    const distinct = [...new Set(keysPerEntity.flat())];
    const chunks: string[][] = [];
    for (let i = 0; i < distinct.length; i += BATCH_GET_MAX_KEYS) chunks.push(distinct.slice(i, i + BATCH_GET_MAX_KEYS));
    const projection = projectionOf(groups);
    const deadlineAt = request.deadlineMs === undefined ? Infinity : performance.now() + request.deadlineMs;
    const answers = await Promise.all(chunks.map((keys) => this.batchGet(keys, projection, deadlineAt)));
    const items = new Map<string, Item>();
    for (const answer of answers) for (const item of answer.items) items.set(item[OnlineAttributes.PARTITION_KEY].S!, item);
    const nowMs = request.nowMs ?? Date.now();
    return {
      entities: keysPerEntity.map((keys) => serveEntity(groups, keys.map((k) => items.get(k)), nowMs)),
      roundTrips: answers.reduce((sum, a) => sum + a.roundTrips, 0),
    };
  }

  /** Reads up to 100 keys, retrying unprocessed keys with backoff. */
  private async batchGet(keys: string[], projection: Projection, deadlineAt: number): Promise<{ items: Item[]; roundTrips: number }> {
    const { tableName, client } = this.props;
    const items: Item[] = [];
    let pending = keys;
    let attempts = 0;
    while (pending.length > 0) {
      if (attempts === this.maxAttempts) {
        throw new Error(`BatchGetItem on table '${tableName}' left ${pending.length} of ${keys.length} keys unprocessed after ${attempts} attempts (the table is throttled); retry later, or raise the table's read capacity`);
      }
      if (attempts > 0) await sleep(Math.min(backoffDelayMs(attempts, this.backoffBaseMs), Math.max(0, deadlineAt - performance.now())));
      const remainingMs = Math.floor(Math.min(this.timeoutMs, deadlineAt - performance.now()));
      if (remainingMs < 1) throw new Error(`BatchGetItem on table '${tableName}': the read's deadline passed with ${pending.length} of ${keys.length} keys unread`);
      attempts += 1;
      const answer = await client.send(new BatchGetItemCommand({
        RequestItems: { [tableName]: { Keys: pending.map((k) => ({ [OnlineAttributes.PARTITION_KEY]: { S: k } })), ...projection } },
      }), { abortSignal: AbortSignal.timeout(remainingMs) });
      items.push(...(answer.Responses?.[tableName] ?? []));
      // Rebuilt from the keys alone: the unprocessed request does not always carry the projection back.
      pending = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []).map((k) => k[OnlineAttributes.PARTITION_KEY].S!);
    }
    return { items, roundTrips: attempts };
  }
}

interface Projection {
  readonly ProjectionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
}

/** Projection of the key, the event time and the requested features (the union over all views). */
function projectionOf(groups: readonly ResolvedFeatureRefs[]): Projection {
  const names: Record<string, string> = { '#pk': OnlineAttributes.PARTITION_KEY, '#et': OnlineAttributes.EVENT_TIME, '#ft': OnlineAttributes.FEATURES };
  const featureNames = [...new Set(groups.flatMap((g) => g.features.map((f) => f.name)))];
  featureNames.forEach((name, i) => { names[`#f${i}`] = name; });
  return {
    ProjectionExpression: ['#pk', '#et', ...featureNames.map((_, i) => `#ft.#f${i}`)].join(', '),
    ExpressionAttributeNames: names,
  };
}

/** Online keys of every entity, one per view group; throws naming each missing or malformed join key. */
function entityKeys(groups: readonly ResolvedFeatureRefs[], entities: readonly EntityKeys[]): string[][] {
  const problems: string[] = [];
  const keys = entities.map((entity, i) => groups.map(({ view }) => {
    for (const key of joinKeysOf(view)) {
      const value = entity?.[key];
      if (joinKeyValue(value) === undefined) {
        problems.push(`entities[${i}].${key}: view '${view.name}' needs join key '${key}' as a non-empty string or an integer, got ${JSON.stringify(value) ?? 'nothing'}`);
      }
    }
    return onlineKey(view, entityKeyOf(view, entity ?? {}));
  }));
  if (problems.length > 0) throw new Error(`Invalid entities:\n  - ${[...new Set(problems)].join('\n  - ')}`);
  return keys;
}

/** Serves one entity's features from its items (one per view group, undefined where no row is stored). */
function serveEntity(groups: readonly ResolvedFeatureRefs[], items: readonly (Item | undefined)[], nowMs: number): OnlineFeatureVector {
  const vector: OnlineFeatureVector = { values: {}, statuses: {}, eventTimes: {} };
  groups.forEach(({ view, features }, i) => {
    const item = items[i];
    const eventTimeMs = item ? Number(item[OnlineAttributes.EVENT_TIME].N) : undefined;
    const stored = item?.[OnlineAttributes.FEATURES]?.M ?? {};
    for (const feature of features) {
      const ref = `${view.name}${FEATURE_REF_SEPARATOR}${feature.name}`;
      const value = item ? fromAttribute(feature, stored[feature.name]) : undefined;
      const served = serveValue(view, feature, value, eventTimeMs === undefined ? undefined : nowMs - eventTimeMs, eventTimeMs);
      vector.values[ref] = served.value;
      vector.statuses[ref] = served.status;
      vector.eventTimes[ref] = eventTimeMs ?? null;
    }
  });
  return vector;
}
