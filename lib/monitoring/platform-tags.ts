import { AspectPriority, Aspects, IAspect, Tag, Tags } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { modelTagProblems, platformTagsProblems } from '../private/validate-cost-guard-props';
import { throwIfProblems } from '../private/validation';

/** Keys of the tags `PlatformTags` puts on every taggable resource (activate them as cost allocation tags). */
export const PlatformTagKeys = {
  /** The platform the resource belongs to: what a `CostGuard` budget counts by default. */
  PLATFORM: 'platform',
  /** The model the resource serves, or `PlatformTags.SHARED_MODEL` for resources several models share. */
  MODEL: 'model',
  /** The team that owns the resource. */
  TEAM: 'team',
  /** The deployment environment (e.g. `dev`, `prod`). */
  ENVIRONMENT: 'environment',
} as const;

/** Properties of `PlatformTags`. */
export interface PlatformTagsProps {
  /** Value of the `platform` tag, e.g. `ml-platform`. */
  readonly platform: string;
  /** Value of the `team` tag, e.g. `fraud-ml`. */
  readonly team: string;
  /** Value of the `environment` tag, e.g. `prod`. */
  readonly environment: string;
  /**
   * Value of the `model` tag where no `PlatformTags.model(construct, name)` names the model of a subtree.
   * @default PlatformTags.SHARED_MODEL ('shared'): feature store, routing table, alarm topics serve every model
   */
  readonly model?: string;
}

/** Priority of the tags of `PlatformTags` (the priority `Tags.of(...).add` uses by default). */
const PLATFORM_TAG_PRIORITY = 100;
/** Priority of a `PlatformTags.model` override: above the scope-wide default, whatever the order aspects run in. */
const MODEL_TAG_PRIORITY = 150;

/**
 * An aspect that tags every taggable resource under the scope it is applied to with `platform`, `model`, `team` and
 * `environment` (`PlatformTagKeys`), so that cost reports and `CostGuard` budgets can count the platform's spend per
 * model and team. Taggable means what CloudFormation can tag: every L1 that aws-cdk-lib marks taggable
 * (`TagManager.isTaggable` or `isTaggableV2`), the same rule as `Tags.of(scope).add(...)`.
 *
 * AWS counts a tag in budgets and Cost Explorer only once it is activated as a user-defined cost allocation tag
 * (Billing console, Cost allocation tags, by the management account) and only for costs incurred after that.
 *
 * @example
 * PlatformTags.apply(app, { platform: 'ml-platform', team: 'fraud-ml', environment: 'prod' });
 * PlatformTags.model(fraudEndpoint, 'fraud'); // the endpoint's resources carry model=fraud, the rest model=shared
 */
export class PlatformTags implements IAspect {
  /** `model` tag value of resources that no single model owns. */
  public static readonly SHARED_MODEL = 'shared';

  /** Validates `props` (every problem at once) and applies the tags to every taggable resource under `scope`. */
  public static apply(scope: IConstruct, props: PlatformTagsProps): PlatformTags {
    throwIfProblems(scope, platformTagsProblems(props));
    const tags = new PlatformTags(props);
    Aspects.of(scope).add(tags, { priority: AspectPriority.MUTATING });
    return tags;
  }

  /** Tags the resources under `construct` with `model` = `model`, over the scope-wide default. */
  public static model(construct: IConstruct, model: string): void {
    throwIfProblems(construct, modelTagProblems('model', model));
    Tags.of(construct).add(PlatformTagKeys.MODEL, model, { priority: MODEL_TAG_PRIORITY });
  }

  /** The `PlatformTags` applied to `scope` or the nearest of its ancestors; undefined when there is none. */
  public static of(scope: IConstruct): PlatformTags | undefined {
    for (const node of [...scope.node.scopes].reverse()) {
      const found = Aspects.of(node).all.find((aspect): aspect is PlatformTags => aspect instanceof PlatformTags);
      if (found) return found;
    }
    return undefined;
  }

  /** Value of the `platform` tag. */
  public readonly platform: string;
  /** Value of the `team` tag. */
  public readonly team: string;
  /** Value of the `environment` tag. */
  public readonly environment: string;
  /** Default value of the `model` tag. */
  public readonly model: string;
  private readonly tags: Tag[];

  private constructor(props: PlatformTagsProps) {
    this.platform = props.platform;
    this.team = props.team;
    this.environment = props.environment;
    this.model = props.model ?? PlatformTags.SHARED_MODEL;
    this.tags = [
      [PlatformTagKeys.PLATFORM, this.platform], [PlatformTagKeys.MODEL, this.model],
      [PlatformTagKeys.TEAM, this.team], [PlatformTagKeys.ENVIRONMENT, this.environment],
    ].map(([key, value]) => new Tag(key, value, { priority: PLATFORM_TAG_PRIORITY }));
  }

  /** Tags `node` when CloudFormation can tag it. */
  public visit(node: IConstruct): void {
    for (const tag of this.tags) tag.visit(node);
  }
}
