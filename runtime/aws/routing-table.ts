/**
 * The routing table over DynamoDB (layout and rules: runtime/core/routing.ts): `RoutingTableClient` reads, seeds and
 * changes a model's weights with optimistic concurrency (the CLI's and a rollout controller's client). The gateway
 * reads through routing-reader.ts, which holds no write.
 */
import { AttributeValue, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  applyShadowChange, applyWeightChange, RoutingEntry, RoutingNotFoundError, RoutingSeed, RoutingUpdate, RoutingVersionConflictError, seedUpdates,
  shadowChangeUpdate, ShadowRouting, timerDelayMs, VariantWeights, weightChangeUpdate,
} from '../core/routing';
import { RoutingTableReader } from './routing-reader';

export * from './routing-reader';

/** Who changes weights, why, and against which version. */
export interface SetWeightsOptions {
  /** The version the change was decided on: the change fails with `RoutingVersionConflictError` if it moved on. */
  readonly expectedVersion: number;
  /** Who: a user, a role, a rollout controller (at most 128 characters). */
  readonly by: string;
  /** Why (at most 512 characters). */
  readonly reason: string;
  /**
   * Replace the variants: the weights name the model's new variants, whatever they were (a deliberate repair when an
   * endpoint's variants changed and the table does not know it yet).
   * @default false - every current variant gets a weight, and none other
   */
  readonly replaceVariants?: boolean;
}

/** Who changes the shadow, why, and against which version. */
export interface SetShadowOptions {
  /**
   * The version the change was decided on: the change fails with `RoutingVersionConflictError` if it moved on.
   * @default - the version read at the call: still optimistic (a change between that read and the write is refused)
   */
  readonly expectedVersion?: number;
  /** Who: a user, a role, a rollout controller (at most 128 characters). */
  readonly by: string;
  /** Why (at most 512 characters). */
  readonly reason: string;
}

/**
 * What a seed did: created the entry, replaced its variants (their set of names differed from the seed's), or kept
 * the live weights (only the endpoint name may have changed).
 */
export type SeedOutcome = 'created' | 'variants-replaced' | 'kept';

/** Is this the error of a conditional write whose condition did not hold? */
const isConditionFailed = (error: unknown) => (error as Error)?.name === 'ConditionalCheckFailedException';

/** Reads and changes the routing table. */
export class RoutingTableClient extends RoutingTableReader {
  /**
   * Seeds a model's entry as a deploy does (`seedUpdates`): creates it (version 1, the seed as the first change of its
   * trail) where there is none; replaces its variants with the seed's weights, one version later and audited, when
   * their set of names differs from the seed's; otherwise never overwrites live weights. The endpoint name is set (or
   * removed) either way. Throws `RoutingValidationError` listing every problem of the seed.
   */
  public async seed(seed: Omit<RoutingSeed, 'at'>): Promise<SeedOutcome> {
    const updates = seedUpdates({ ...seed, at: new Date(this.now()).toISOString() });
    try {
      await this.update(updates.replaceVariants);
      return 'variants-replaced';
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const { Attributes } = await this.update(updates.create, 'UPDATED_OLD');
    return Attributes?.version === undefined ? 'created' : 'kept';
  }

  /**
   * Sets a model's weights (every variant, none other — or, with `replaceVariants`, the new variants; any non-negative
   * scale, at least one positive), one version later, recording who, when, why, from and to in its trail, if the entry is still at `expectedVersion`. Returns
   * the new entry. Throws `RoutingValidationError` (every problem of the weights, by and reason),
   * `RoutingNotFoundError` (no entry) or `RoutingVersionConflictError` (naming the current version).
   */
  public async setWeights(model: string, weights: VariantWeights, options: SetWeightsOptions): Promise<RoutingEntry> {
    return this.change(model, options.expectedVersion, (current) => {
      const next = applyWeightChange(current, weights, { by: options.by, reason: options.reason, at: new Date(this.now()).toISOString() }, options);
      return { next, update: weightChangeUpdate(current, next) };
    });
  }

  /**
   * Sets a model's shadow (`shadow`: a variant with weight 0 and the percent of requests copied to it; null turns it
   * off), one version later, recording who, when, why and the shadow before and after in its trail (the weights stay
   * as they are; the routing sync pushes nothing to SageMaker for it). Returns the new entry. Throws
   * `RoutingValidationError` (every problem: the variant is not the model's or serves users, the percent is not in
   * (0, 100], by, reason), `RoutingNotFoundError` or `RoutingVersionConflictError` (naming the current version).
   */
  public async setShadow(model: string, shadow: ShadowRouting | null, options: SetShadowOptions): Promise<RoutingEntry> {
    return this.change(model, options.expectedVersion, (current) => {
      const next = applyShadowChange(current, shadow, { by: options.by, reason: options.reason, at: new Date(this.now()).toISOString() });
      return { next, update: shadowChangeUpdate(current, next) };
    });
  }

  /**
   * Reads the entry, checks it is at `expectedVersion` (the version read when absent), and writes the change `make`
   * builds from it on the condition that the version has not moved since.
   */
  private async change(model: string, expectedVersion: number | undefined, make: (current: RoutingEntry) => { next: RoutingEntry; update: RoutingUpdate }): Promise<RoutingEntry> {
    const current = await this.get(model, { consistentRead: true });
    if (!current) throw new RoutingNotFoundError(model);
    const expected = expectedVersion ?? current.version;
    if (current.version !== expected) throw new RoutingVersionConflictError(model, expected, current.version);
    const { next, update } = make(current);
    try {
      await this.update(update);
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const now = await this.get(model, { consistentRead: true });
      throw new RoutingVersionConflictError(model, expected, now?.version);
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
    }), { abortSignal: AbortSignal.timeout(timerDelayMs(this.timeoutMs)) });
  }
}

