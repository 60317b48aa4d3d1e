/**
 * Routing weights owned at runtime: one item per model in a DynamoDB routing table, holding the model's current
 * variant weights, a version that every change increments (optimistic concurrency), the SageMaker endpoint the
 * weights are pushed to (when there is one) and the audit trail of every change: who, when, why, from which weights
 * to which, at which version.
 *
 * This module is the table's contract, shared by the construct that creates and seeds it (lib/serving/model-routing.ts),
 * the adapter that reads and changes it (runtime/aws/routing-table.ts), the stream handler that makes SageMaker follow
 * it (runtime/handlers/routing-sync-handler.ts) and the CLI (`npm run route`). It holds the item layout and its
 * DynamoDB encoding, the validation of a weight change and the port the gateway reads weights through. It decides
 * nothing: which weights to set is the caller's business (an operator, a rollout controller).
 * Pure TypeScript: no AWS SDK, no CDK.
 */
import { MAX_TIMER_MS } from '../contracts/inference-server';
import type { WeightedVariant } from './variant-assignment';

export type { WeightedVariant } from './variant-assignment';

export { RoutingVariables } from '../contracts/routing';

/** Attribute names of a routing item. The table's partition key is `MODEL` (a string). */
export const RoutingAttributes = {
  /** Partition key: the model's name. */
  MODEL: 'model',
  /** The variants in assignment order: a list of `{ name, weight }` maps. */
  VARIANTS: 'variants',
  /** Version of the weights, incremented by every change (1 when seeded). */
  VERSION: 'version',
  /** SageMaker endpoint the weights are pushed to; absent when the model has none. */
  ENDPOINT: 'endpointName',
  /** The audit trail, oldest change first. */
  TRAIL: 'trail',
  /**
   * The variant names as a set (`variantSetOf`): what a deploy compares with its own to tell whether the endpoint's
   * variants changed (then the deploy replaces the variants; otherwise it never touches the live weights).
   */
  VARIANT_SET: 'variantSet',
  /**
   * The shadow (`ShadowRouting`), a map `{ variant, percent }`; absent when shadowing is off. The gateway reads it; the
   * routing sync ignores it (SageMaker's weights are the production variants' only).
   */
  SHADOW: 'shadow',
} as const;

/**
 * Metrics of the routing sync (runtime/handlers/routing-sync-handler.ts), emitted as EMF in `METRICS_NAMESPACE`
 * (runtime/core/metrics.ts) with the dimension `Model`.
 */
export const RoutingSyncMetrics = {
  /** Weight changes pushed to the model's SageMaker endpoint. */
  APPLIED: 'RoutingWeightsApplied',
  /** Weight changes SageMaker refused or that could not be read (reported, not retried): the endpoint no longer follows the table. */
  REFUSED: 'RoutingWeightsRefused',
} as const;

/** Bounds that keep a routing item far below DynamoDB's 400 KB item limit. */
export const RoutingLimits = {
  /** Most changes kept in the audit trail: older ones are dropped, oldest first. */
  TRAIL_ENTRIES: 500,
  /** Most bytes the audit trail may take (UTF-8 JSON, an over-estimate of DynamoDB's size): older changes are dropped. */
  TRAIL_BYTES: 256 * 1024,
  /** Longest model name, characters. */
  MODEL_CHARS: 256,
  /** Most variants of a model (SageMaker's limit on production variants). */
  VARIANTS: 10,
  /** Longest variant name, characters (SageMaker's limit). */
  VARIANT_NAME_CHARS: 63,
  /** Longest `by` of a change, characters. */
  BY_CHARS: 128,
  /** Longest `reason` of a change, characters. */
  REASON_CHARS: 512,
  /** Largest shadow percent: every request also goes to the shadow variant. */
  SHADOW_PERCENT_MAX: 100,
} as const;

/**
 * A shadow: a copy of a share of the requests goes to `variant` as well, whose answers are logged and never returned.
 * The shadow variant is one of the entry's variants with weight 0 (it serves no one): a variant that answers users
 * is compared by its own metrics, not shadowed, and a weight change that gives the shadow variant traffic is refused
 * until the shadow is turned off (`RoutingTableClient.setShadow(model, null, …)`).
 */
export interface ShadowRouting {
  /** The variant that gets the copies: one of the entry's variants, with weight 0. */
  readonly variant: string;
  /**
   * Share of requests copied to it, percent, in (0, 100]: chosen by a consistent hash of the request id, so a retried
   * request id is shadowed alike.
   */
  readonly percent: number;
}

/** Weights by variant name, as an operator writes them (`{ champion: 90, challenger: 10 }`). */
export type VariantWeights = Readonly<Record<string, number>>;

/** One change of a model's weights, as the audit trail records it. */
export interface RoutingChange {
  /**
   * The version the change produced. (A deploy that replaces the variants cannot know it when it writes the change:
   * it is stored without one and read as its place in the trail implies, every change being one version.)
   */
  readonly version: number;
  /**
   * When, ISO-8601.
   * @default - absent for the deploy's seed: CloudFormation gives a template no clock (the stack's events tell when)
   */
  readonly at?: string;
  /** Who: a user, a role, a rollout controller. */
  readonly by: string;
  /** Why. */
  readonly reason: string;
  /**
   * The weights before (empty for the seed). (A deploy that replaces the variants stores none: read as the previous
   * change's `to`.)
   */
  readonly from: VariantWeights;
  /** The weights after. */
  readonly to: VariantWeights;
  /**
   * A change of the shadow (`RoutingTableClient.setShadow`; its `from` and `to` weights are then equal): the shadow
   * before and after, each absent when shadowing was (or is now) off.
   * @default - the change left the shadow as it was
   */
  readonly shadow?: ShadowChange;
}

/** The shadow before and after a change; each absent when shadowing was, or is now, off. */
export interface ShadowChange {
  /** @default - shadowing was off */
  readonly from?: ShadowRouting;
  /** @default - shadowing is now off */
  readonly to?: ShadowRouting;
}

/** A model's routing item. */
export interface RoutingEntry {
  /** The model's name (the partition key). */
  readonly model: string;
  /** Version of the weights: 1 when seeded, incremented by every change. */
  readonly version: number;
  /** The variants and their current weights, in assignment order (the order they were seeded in). */
  readonly variants: readonly WeightedVariant[];
  /**
   * The SageMaker endpoint the weights are pushed to.
   * @default - none: only the gateway follows the weights
   */
  readonly endpointName?: string;
  /**
   * The shadow: a share of requests copied to a variant that serves no one, its answers logged, never returned.
   * @default - none: no request is copied
   */
  readonly shadow?: ShadowRouting;
  /**
   * The last changes, oldest first: at most `RoutingLimits.TRAIL_ENTRIES` entries and `RoutingLimits.TRAIL_BYTES`
   * bytes; older changes are dropped.
   */
  readonly trail: readonly RoutingChange[];
}

/** What the gateway routes by: a model's current weights and its shadow. */
export interface LiveRoute {
  /** The variants and their weights, in assignment order. */
  readonly variants: readonly WeightedVariant[];
  /** @default - no shadow */
  readonly shadow?: ShadowRouting;
}

/**
 * Where the gateway reads a model's current weights (and shadow). Never throws.
 */
export interface RoutingSource {
  /**
   * The current weights of `model`'s variants, in assignment order; undefined when the table has no entry for the
   * model or it cannot be read in time: the caller then uses its static weights.
   * @param options.deadlineMs longest wait for a read of the table, milliseconds (the implementation's default when absent)
   */
  variantsOf(model: string, options?: { deadlineMs?: number }): Promise<readonly WeightedVariant[] | undefined>;
  /**
   * The current weights and shadow of `model`, on the terms of `variantsOf`.
   * @default - `variantsOf`: the source knows no shadow
   */
  routeOf?(model: string, options?: { deadlineMs?: number }): Promise<LiveRoute | undefined>;
}

/** A weight change (or a seed) that breaks the rules; `problems` lists every problem found. */
export class RoutingValidationError extends Error {
  constructor(public readonly model: string, public readonly problems: readonly string[]) {
    super(`routing of '${model}': ${problems.join('; ')}`);
    this.name = 'RoutingValidationError';
  }
}

/** A change made against another version than the current one: someone changed the weights in between. */
export class RoutingVersionConflictError extends Error {
  /**
   * @param currentVersion the version the table holds now (undefined when the entry has gone)
   */
  constructor(public readonly model: string, public readonly expectedVersion: number, public readonly currentVersion: number | undefined) {
    super(currentVersion === undefined
      ? `routing of '${model}' has no entry any more (expected version ${expectedVersion})`
      : `routing of '${model}' is at version ${currentVersion}, not ${expectedVersion}: it changed since it was read; read it again and retry with expected version ${currentVersion}`);
    this.name = 'RoutingVersionConflictError';
  }
}

/** A change to a model the table has no entry for. */
export class RoutingNotFoundError extends Error {
  constructor(public readonly model: string) {
    super(`routing table has no entry for model '${model}': seed it first (ModelRouting.addModel)`);
    this.name = 'RoutingNotFoundError';
  }
}

/**
 * A deadline as `AbortSignal.timeout` and Node's timers take it: whole milliseconds (fractions are refused), at least
 * 1, at most `MAX_TIMER_MS` (a longer one would fire after 1 ms); not a number: 1.
 */
export function timerDelayMs(ms: number): number {
  const whole = Math.ceil(ms);
  return whole >= 1 ? Math.min(whole, MAX_TIMER_MS) : 1;
}

/** The weights of `variants` by name. */
export function weightsOf(variants: readonly WeightedVariant[]): Record<string, number> {
  return Object.fromEntries(variants.map((v) => [v.name, v.weight]));
}

/** Quotes a caller's text in a message, cut at 64 characters. */
function quote(text: string): string {
  return `'${text.length > 64 ? `${text.slice(0, 64)}…` : text}'`;
}

/** Problems of a model name. */
export function modelNameProblems(model: unknown): string[] {
  if (typeof model !== 'string' || model.length === 0) return ['the model name is empty'];
  if (model.length > RoutingLimits.MODEL_CHARS) return [`the model name has ${model.length} characters; at most ${RoutingLimits.MODEL_CHARS}`];
  return [];
}

/**
 * Every problem of `weights` as a model's new weights: a weight that is not a finite number or is negative, all
 * weights 0, too many variants or a name too long; and, when the model's `currentVariants` are given, a variant it
 * does not have (unknown) or one left out (missing: every variant gets a weight, 0 to send it no traffic).
 */
export function weightChangeProblems(weights: VariantWeights, currentVariants?: readonly string[]): string[] {
  const problems: string[] = [];
  const names = Object.keys(weights);
  if (names.length === 0) return ['no weights given: give each variant a weight, e.g. champion=90 challenger=10'];
  if (names.length > RoutingLimits.VARIANTS) problems.push(`${names.length} variants; at most ${RoutingLimits.VARIANTS}`);
  for (const name of names) {
    const weight: unknown = weights[name];
    if (name.length === 0 || name.length > RoutingLimits.VARIANT_NAME_CHARS) {
      problems.push(`variant name ${quote(name)} must have 1 to ${RoutingLimits.VARIANT_NAME_CHARS} characters`);
    }
    if (currentVariants && !currentVariants.includes(name)) {
      problems.push(`unknown variant ${quote(name)}: the model's variants are ${currentVariants.join(', ')}`);
    }
    if (typeof weight !== 'number' || !Number.isFinite(weight)) problems.push(`weight of ${quote(name)} is not a finite number (${quote(String(weight))})`);
    else if (weight < 0) problems.push(`weight of ${quote(name)} is negative (${weight}); weights are 0 or more`);
  }
  for (const name of currentVariants ?? []) {
    if (!names.includes(name)) problems.push(`missing variant '${name}': give every variant a weight (0 sends it no traffic)`);
  }
  const finite = names.map((n) => weights[n]).filter((w) => typeof w === 'number' && Number.isFinite(w) && w >= 0);
  if (finite.length === names.length && finite.every((w) => w === 0)) {
    problems.push('every weight is 0: at least one variant needs a positive weight');
  }
  return problems;
}

/**
 * Every problem of `shadow` as the shadow of a model whose variants are `variants`: the variant is not one of them,
 * or serves users (weight > 0); the percent is not a number in (0, 100].
 */
export function shadowProblems(shadow: ShadowRouting, variants: readonly WeightedVariant[]): string[] {
  const problems: string[] = [];
  const name: unknown = shadow?.variant;
  const percent: unknown = shadow?.percent;
  const current = variants.find((v) => v.name === name);
  if (typeof name !== 'string' || name.length === 0) problems.push('the shadow variant is not named: give --variant <name>, one of the model\'s variants');
  else if (!current) problems.push(`shadow variant ${quote(name)} is not one of the model's variants (${variants.map((v) => v.name).join(', ')})`);
  else if (current.weight > 0) {
    problems.push(`shadow variant ${quote(name)} serves users (weight ${current.weight}): a shadow serves no one; set its weight to 0 first, or compare it by its own metrics`);
  }
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent <= 0 || percent > RoutingLimits.SHADOW_PERCENT_MAX) {
    problems.push(`shadow percent ${quote(String(percent))} is not a number in (0, ${RoutingLimits.SHADOW_PERCENT_MAX}]: the share of requests copied to the shadow, e.g. 10`);
  }
  return problems;
}

/** Problems of the who and why of a change. */
export function changeAuthorProblems(by: string, reason: string): string[] {
  const problems: string[] = [];
  if (by.trim().length === 0) problems.push('who made the change (by) is empty');
  if (by.length > RoutingLimits.BY_CHARS) problems.push(`by has ${by.length} characters; at most ${RoutingLimits.BY_CHARS}`);
  if (reason.trim().length === 0) problems.push('the reason is empty: say why the weights change');
  if (reason.length > RoutingLimits.REASON_CHARS) problems.push(`the reason has ${reason.length} characters; at most ${RoutingLimits.REASON_CHARS}`);
  return problems;
}

/** Who and why of a change, and when. */
export interface ChangeAuthor {
  /** Who. */
  readonly by: string;
  /** Why. */
  readonly reason: string;
  /**
   * When, ISO-8601.
   * @default - not recorded (the deploy's seed)
   */
  readonly at?: string;
}

/** Size of a trail change as UTF-8 JSON: an over-estimate of its DynamoDB size. */
function sizeOf(change: RoutingChange): number {
  return new TextEncoder().encode(JSON.stringify(change)).length;
}

/** `trail` with `change` appended, its oldest changes dropped to stay within `RoutingLimits`. */
export function appendToTrail(trail: readonly RoutingChange[], change: RoutingChange): RoutingChange[] {
  const kept: RoutingChange[] = [change];
  let bytes = sizeOf(change);
  for (let i = trail.length - 1; i >= 0 && kept.length < RoutingLimits.TRAIL_ENTRIES; i--) {
    bytes += sizeOf(trail[i]);
    if (bytes > RoutingLimits.TRAIL_BYTES) break;
    kept.push(trail[i]);
  }
  return kept.reverse();
}

/** Options of `applyWeightChange`. */
export interface WeightChangeOptions {
  /**
   * Replace the variants: `weights` names the model's new variants (in assignment order), whatever they were. For a
   * deliberate repair when the endpoint's variants changed and the table does not know it yet.
   * @default false - `weights` gives every current variant a weight, and none other
   */
  readonly replaceVariants?: boolean;
}

/**
 * The entry after changing `entry`'s weights to `weights` (same variants, kept in their order; or, with
 * `replaceVariants`, the variants `weights` names in its order), one version later, with the change appended to its
 * trail. Throws `RoutingValidationError` listing every problem.
 */
export function applyWeightChange(entry: RoutingEntry, weights: VariantWeights, author: ChangeAuthor, options: WeightChangeOptions = {}): RoutingEntry {
  const names = options.replaceVariants ? Object.keys(weights) : entry.variants.map((v) => v.name);
  const problems = [...weightChangeProblems(weights, options.replaceVariants ? undefined : names), ...changeAuthorProblems(author.by, author.reason)];
  if (problems.length > 0) throw new RoutingValidationError(entry.model, problems);
  const variants = names.map((name) => ({ name, weight: weights[name] }));
  if (entry.shadow) {
    const kept = shadowProblems(entry.shadow, variants);
    if (kept.length > 0) {
      throw new RoutingValidationError(entry.model, [...kept.map((p) => `with the shadow on, ${p}`),
        'turn the shadow off first (npm run route -- shadow <model> --off), then change the weights']);
    }
  }
  const version = entry.version + 1;
  const change: RoutingChange = { version, at: author.at, by: author.by, reason: author.reason, from: weightsOf(entry.variants), to: weightsOf(variants) };
  return { ...entry, version, variants, trail: appendToTrail(entry.trail, change) };
}

/**
 * The entry after setting its shadow to `shadow` (null: off), one version later, the change in its trail (weights
 * unchanged: `from` and `to` equal, `shadow` says what changed). Throws `RoutingValidationError` listing every problem
 * (`shadowProblems`, by and reason).
 */
export function applyShadowChange(entry: RoutingEntry, shadow: ShadowRouting | null, author: ChangeAuthor): RoutingEntry {
  const problems = [...(shadow === null ? [] : shadowProblems(shadow, entry.variants)), ...changeAuthorProblems(author.by, author.reason)];
  if (problems.length > 0) throw new RoutingValidationError(entry.model, problems);
  const version = entry.version + 1;
  const to = shadow === null ? undefined : { variant: shadow.variant, percent: shadow.percent };
  const weights = weightsOf(entry.variants);
  const change: RoutingChange = {
    version, at: author.at, by: author.by, reason: author.reason, from: weights, to: weights,
    shadow: { ...(entry.shadow ? { from: entry.shadow } : {}), ...(to ? { to } : {}) },
  };
  const { shadow: _previous, ...rest } = entry;
  return { ...rest, version, ...(to ? { shadow: to } : {}), trail: appendToTrail(entry.trail, change) };
}

/** What a new entry is seeded with. */
export interface RoutingSeed extends ChangeAuthor {
  /** The model. */
  readonly model: string;
  /** Its initial weights; their order is the assignment order. */
  readonly weights: VariantWeights;
  /**
   * The SageMaker endpoint the weights are pushed to. A seed sets it on an existing entry too (a replaced endpoint
   * gets a new name), and removes it when absent.
   * @default - none
   */
  readonly endpointName?: string;
}

/** Throws `RoutingValidationError` listing every problem of a seed. */
export function validateSeed(seed: RoutingSeed): void {
  const problems = [...modelNameProblems(seed.model), ...weightChangeProblems(seed.weights), ...changeAuthorProblems(seed.by, seed.reason)];
  if (problems.length > 0) throw new RoutingValidationError(String(seed.model), problems);
}

// ---- DynamoDB encoding ----------------------------------------------------------------------------------------

/** A DynamoDB attribute value in its wire form (what the SDK sends, a stream image holds, a custom resource writes). */
export interface DynamoValue {
  readonly S?: string;
  readonly N?: string;
  readonly L?: readonly DynamoValue[];
  readonly M?: Readonly<Record<string, DynamoValue>>;
}

/** A DynamoDB item in its wire form. */
export type DynamoItem = Readonly<Record<string, DynamoValue>>;

const number = (n: number): DynamoValue => ({ N: String(n) });
const weightsMap = (weights: VariantWeights): DynamoValue => ({ M: Object.fromEntries(Object.entries(weights).map(([k, w]) => [k, number(w)])) });

/** A shadow as stored. */
export function encodeShadow(shadow: ShadowRouting): DynamoValue {
  return { M: { variant: { S: shadow.variant }, percent: number(shadow.percent) } };
}

/** A list of variants as stored. */
export function encodeVariants(variants: readonly WeightedVariant[]): DynamoValue {
  return { L: variants.map((v) => ({ M: { name: { S: v.name }, weight: number(v.weight) } })) };
}

/**
 * A change as stored: a deploy that replaces the variants stores it without `version` and `from` (it cannot know
 * them), which `decodeRoutingItem` then reads from the change's place in the trail.
 */
type StoredChange = Omit<RoutingChange, 'version' | 'from'> & { readonly version?: number; readonly from?: VariantWeights };

function encodeChange(c: StoredChange): DynamoValue {
  return {
    M: {
      by: { S: c.by }, reason: { S: c.reason }, to: weightsMap(c.to),
      ...(c.version === undefined ? {} : { version: number(c.version) }),
      ...(c.from === undefined ? {} : { from: weightsMap(c.from) }),
      ...(c.at === undefined ? {} : { at: { S: c.at } }),
      ...(c.shadow === undefined ? {} : {
        shadow: { M: { ...(c.shadow.from ? { from: encodeShadow(c.shadow.from) } : {}), ...(c.shadow.to ? { to: encodeShadow(c.shadow.to) } : {}) } },
      }),
    },
  };
}

/** A trail as stored. */
export function encodeTrail(trail: readonly RoutingChange[]): DynamoValue {
  return { L: trail.map(encodeChange) };
}

/** The stored set of variant names (`RoutingAttributes.VARIANT_SET`): the names sorted, as JSON. */
export function variantSetOf(names: readonly string[]): string {
  return JSON.stringify([...names].sort());
}

/** Reads a number attribute; throws naming `what` when it is not one. */
function readNumber(value: DynamoValue | undefined, what: string): number {
  const n = value?.N === undefined ? NaN : Number(value.N);
  if (!Number.isFinite(n)) throw new Error(`${what} is not a number`);
  return n;
}

function readString(value: DynamoValue | undefined, what: string): string {
  if (typeof value?.S !== 'string') throw new Error(`${what} is not a string`);
  return value.S;
}

function readWeights(value: DynamoValue | undefined, what: string): Record<string, number> {
  if (!value?.M) throw new Error(`${what} is not a map`);
  return Object.fromEntries(Object.entries(value.M).map(([name, w]) => [name, readNumber(w, `${what}.${name}`)]));
}

function readShadow(value: DynamoValue, what: string): ShadowRouting {
  if (!value.M) throw new Error(`${what} is not a map`);
  return { variant: readString(value.M.variant, `${what}.variant`), percent: readNumber(value.M.percent, `${what}.percent`) };
}

/**
 * Decodes a stored routing item (a GetItem result or a stream image). Throws naming the first malformed attribute;
 * an entry whose weights break the rules (none positive, negative) is malformed too, so readers never serve it.
 */
export function decodeRoutingItem(item: DynamoItem): RoutingEntry {
  const A = RoutingAttributes;
  const model = readString(item[A.MODEL], A.MODEL);
  const variantList = item[A.VARIANTS]?.L;
  if (!variantList) throw new Error(`${A.VARIANTS} is not a list`);
  const variants = variantList.map((v, i) => ({
    name: readString(v.M?.name, `${A.VARIANTS}[${i}].name`),
    weight: readNumber(v.M?.weight, `${A.VARIANTS}[${i}].weight`),
  }));
  const problems = weightChangeProblems(weightsOf(variants));
  if (problems.length > 0) throw new Error(`${A.VARIANTS}: ${problems.join('; ')}`);
  const version = readNumber(item[A.VERSION], A.VERSION);
  const stored = item[A.TRAIL]?.L ?? [];
  const trail: RoutingChange[] = [];
  for (const [i, c] of stored.entries()) {
    const at = c.M?.at;
    const to = readWeights(c.M?.to, `${A.TRAIL}[${i}].to`);
    const shadow = c.M?.shadow;
    const shadowFrom = shadow?.M?.from;
    const shadowTo = shadow?.M?.to;
    trail.push({
      // Every change is one version: a change stored without one (a deploy's) is the one its place implies.
      version: c.M?.version === undefined ? version - (stored.length - 1 - i) : readNumber(c.M.version, `${A.TRAIL}[${i}].version`),
      ...(at === undefined ? {} : { at: readString(at, `${A.TRAIL}[${i}].at`) }),
      by: readString(c.M?.by, `${A.TRAIL}[${i}].by`),
      reason: readString(c.M?.reason, `${A.TRAIL}[${i}].reason`),
      from: c.M?.from === undefined ? { ...trail.at(-1)?.to } : readWeights(c.M.from, `${A.TRAIL}[${i}].from`),
      to,
      ...(shadow === undefined ? {} : {
        shadow: {
          ...(shadowFrom === undefined ? {} : { from: readShadow(shadowFrom, `${A.TRAIL}[${i}].shadow.from`) }),
          ...(shadowTo === undefined ? {} : { to: readShadow(shadowTo, `${A.TRAIL}[${i}].shadow.to`) }),
        },
      }),
    });
  }
  const endpoint = item[A.ENDPOINT];
  const storedShadow = item[A.SHADOW];
  const shadow = storedShadow === undefined ? undefined : readShadow(storedShadow, A.SHADOW);
  const shadowIssues = shadow ? shadowProblems(shadow, variants) : [];
  if (shadowIssues.length > 0) throw new Error(`${A.SHADOW}: ${shadowIssues.join('; ')}`);
  return {
    model,
    version,
    variants,
    ...(endpoint === undefined ? {} : { endpointName: readString(endpoint, A.ENDPOINT) }),
    ...(shadow === undefined ? {} : { shadow }),
    trail,
  };
}

/** The key of a model's item. */
export function routingKey(model: string): DynamoItem {
  return { [RoutingAttributes.MODEL]: { S: model } };
}

/** An UpdateItem request without the table name, in its wire form. */
export interface RoutingUpdate {
  readonly Key: DynamoItem;
  readonly UpdateExpression: string;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames: Readonly<Record<string, string>>;
  readonly ExpressionAttributeValues: DynamoItem;
}

/** A seed's UpdateItems, to be run in this order (`seedUpdates`). */
export interface RoutingSeedUpdates {
  /**
   * Replaces the variants with the seed's, one version later with the change in the trail, and sets the endpoint name,
   * only where the entry's set of variant names differs from the seed's: it fails with `ConditionalCheckFailedException`
   * otherwise (and when there is no entry yet), which the caller ignores.
   */
  readonly replaceVariants: RoutingUpdate;
  /**
   * Creates the entry (version 1, the seed as the first change of its trail) where there is none; on an existing
   * entry it only sets (or removes) the endpoint name, so a replaced endpoint is followed.
   */
  readonly create: RoutingUpdate;
}

/**
 * The seed of a model's entry as two UpdateItems, each atomic, run in order (`RoutingSeedUpdates`):
 * - when the entry's variants are another set of names than the seed's (the endpoint's variants changed), the seed's
 *   weights replace them as a new version, audited as a change by the seed's author;
 * - otherwise live weights are never overwritten: the seed creates the entry where there is none (`if_not_exists`)
 *   and keeps the endpoint name current.
 * Idempotent: re-seeding an unchanged entry changes nothing (and DynamoDB Streams then records nothing). The
 * replacement sets variants and endpoint in one write, so the sync never sees the new endpoint with the old variants.
 * The ModelRouting construct runs them on deploy (two custom resources); `RoutingTableClient.seed` at runtime.
 * The replacement appends to the trail without trimming it (an UpdateItem cannot): one change, trimmed by the next
 * `applyWeightChange`.
 */
export function seedUpdates(seed: RoutingSeed): RoutingSeedUpdates {
  validateSeed(seed);
  const A = RoutingAttributes;
  const names = Object.keys(seed.weights);
  const variants = names.map((name) => ({ name, weight: seed.weights[name] }));
  const endpoint = seed.endpointName === undefined ? { set: '', remove: ' REMOVE #e' } : { set: ', #e = :e', remove: '' };
  const common = {
    Key: routingKey(seed.model),
    ExpressionAttributeNames: { '#v': A.VARIANTS, '#ver': A.VERSION, '#t': A.TRAIL, '#s': A.VARIANT_SET, '#e': A.ENDPOINT },
  };
  // New variants end a shadow: the shadow variant may be gone, or serve users now.
  const replaceNames = { ...common.ExpressionAttributeNames, '#sh': A.SHADOW };
  const values = {
    ':v': encodeVariants(variants), ':s': { S: variantSetOf(names) },
    ...(seed.endpointName === undefined ? {} : { ':e': { S: seed.endpointName } }),
  };
  const replaced: StoredChange = {
    at: seed.at, by: seed.by, to: seed.weights,
    reason: `variants changed by deploy: now ${names.join(', ')}; ${seed.reason}`.slice(0, RoutingLimits.REASON_CHARS),
  };
  const first: RoutingChange = { version: 1, at: seed.at, by: seed.by, reason: seed.reason, from: {}, to: seed.weights };
  return {
    replaceVariants: {
      ...common,
      ExpressionAttributeNames: replaceNames,
      UpdateExpression: `SET #v = :v, #s = :s, #ver = #ver + :one, #t = list_append(#t, :t)${endpoint.set} REMOVE #sh${endpoint.remove.replace(' REMOVE', ',')}`,
      ConditionExpression: 'attribute_exists(#s) AND #s <> :s',
      ExpressionAttributeValues: { ...values, ':one': number(1), ':t': { L: [encodeChange(replaced)] } },
    },
    create: {
      ...common,
      UpdateExpression: `SET #v = if_not_exists(#v, :v), #s = if_not_exists(#s, :s), #ver = if_not_exists(#ver, :ver), #t = if_not_exists(#t, :t)${endpoint.set}${endpoint.remove}`,
      ExpressionAttributeValues: { ...values, ':ver': number(1), ':t': encodeTrail([first]) },
    },
  };
}

/**
 * The UpdateItem that moves `current` to `next` (`applyWeightChange`): variants (and their set), version and trail,
 * on the condition that the stored version is still `current.version` — of two writers holding the same version,
 * exactly one wins. The endpoint name is left alone (a deploy may have set it since the read).
 */
export function weightChangeUpdate(current: RoutingEntry, next: RoutingEntry): RoutingUpdate {
  const A = RoutingAttributes;
  return {
    Key: routingKey(current.model),
    UpdateExpression: 'SET #v = :v, #s = :s, #ver = :next, #t = :t',
    ConditionExpression: '#ver = :expected',
    ExpressionAttributeNames: { '#v': A.VARIANTS, '#s': A.VARIANT_SET, '#ver': A.VERSION, '#t': A.TRAIL },
    ExpressionAttributeValues: {
      ':v': encodeVariants(next.variants), ':s': { S: variantSetOf(next.variants.map((v) => v.name)) }, ':next': number(next.version), ':t': encodeTrail(next.trail), ':expected': number(current.version),
    },
  };
}

/**
 * The UpdateItem that moves `current` to `next` (`applyShadowChange`): the shadow (set, or removed when off), version
 * and trail, on the condition that the stored version is still `current.version`. Weights and endpoint are left alone.
 */
export function shadowChangeUpdate(current: RoutingEntry, next: RoutingEntry): RoutingUpdate {
  const A = RoutingAttributes;
  return {
    Key: routingKey(current.model),
    UpdateExpression: next.shadow ? 'SET #sh = :sh, #ver = :next, #t = :t' : 'SET #ver = :next, #t = :t REMOVE #sh',
    ConditionExpression: '#ver = :expected',
    ExpressionAttributeNames: { '#sh': A.SHADOW, '#ver': A.VERSION, '#t': A.TRAIL },
    ExpressionAttributeValues: {
      ...(next.shadow ? { ':sh': encodeShadow(next.shadow) } : {}), ':next': number(next.version), ':t': encodeTrail(next.trail), ':expected': number(current.version),
    },
  };
}
