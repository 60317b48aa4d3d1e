import { Duration, Token } from 'aws-cdk-lib';
import {
  assertValidFeatureView, CompatibilityReport, checkCompatibility, checkContracts, ContractCheck, EntitySpec, FEATURE_SPEC_FORMAT_VERSION,
  FeatureDtype, FeatureSpec, FeatureViewSpec, featureViewProblems, RecordValidation, validateRecord,
} from './spec';

/** Properties of an `Entity`. */
export interface EntityProps {
  /** Entity name, lower snake case, e.g. `customer`. */
  readonly name: string;
  /** Join key columns that identify one entity, e.g. `['customer_id']`. */
  readonly joinKeys: string[];
  /**
   * Human description.
   * @default - none
   */
  readonly description?: string;
}

/** The thing features describe (a customer, a merchant, a device), identified by its join keys. */
export class Entity {
  /** Entity name. */
  public readonly name: string;
  /** Join key columns. */
  public readonly joinKeys: string[];
  /** Human description, if any. */
  public readonly description?: string;

  constructor(props: EntityProps) {
    this.name = props.name;
    this.joinKeys = [...props.joinKeys];
    this.description = props.description;
  }

  /** The entity as plain JSON. */
  public toSpec(): EntitySpec {
    return { name: this.name, joinKeys: [...this.joinKeys], ...(this.description ? { description: this.description } : {}) };
  }
}

/** Options shared by every feature type. */
export interface FeatureOptions {
  /**
   * Value served, marked `FALLBACK`, when the stored value is missing or older than the view's TTL.
   * Must match the feature's type.
   * @default - no fallback: such values are served as `NOT_FOUND` or `OUTSIDE_MAX_AGE` with a null value
   */
  readonly fallback?: any;
  /**
   * Human description.
   * @default - none
   */
  readonly description?: string;
}

/** One typed feature of a view. Create with the static factories, e.g. `Feature.float64('txn_count_1h')`. */
export class Feature {
  /** A 64-bit integer feature. */
  public static int64(name: string, options: FeatureOptions = {}): Feature {
    return new Feature(name, FeatureDtype.INT64, undefined, options);
  }
  /** A 64-bit float feature. */
  public static float64(name: string, options: FeatureOptions = {}): Feature {
    return new Feature(name, FeatureDtype.FLOAT64, undefined, options);
  }
  /** A fixed-dimension float32 vector feature (an embedding). */
  public static float32Vector(name: string, dimension: number, options: FeatureOptions = {}): Feature {
    return new Feature(name, FeatureDtype.FLOAT32_VECTOR, dimension, options);
  }
  /** A string feature. */
  public static string(name: string, options: FeatureOptions = {}): Feature {
    return new Feature(name, FeatureDtype.STRING, undefined, options);
  }
  /** Rebuilds a feature from its JSON spec. */
  public static fromSpec(spec: FeatureSpec): Feature {
    return new Feature(spec.name, spec.dtype, spec.dimension, { fallback: spec.fallback, description: spec.description });
  }
  /** A boolean feature. */
  public static bool(name: string, options: FeatureOptions = {}): Feature {
    return new Feature(name, FeatureDtype.BOOL, undefined, options);
  }

  private constructor(
    /** Feature name. */
    public readonly name: string,
    /** Data type. */
    public readonly dtype: FeatureDtype,
    /** Vector dimension, for vectors. */
    public readonly dimension: number | undefined,
    private readonly options: FeatureOptions,
  ) {}

  /** The feature as plain JSON. */
  public toSpec(): FeatureSpec {
    return {
      name: this.name,
      dtype: this.dtype,
      ...(this.dimension !== undefined ? { dimension: this.dimension } : {}),
      ...(this.options.fallback !== undefined ? { fallback: this.options.fallback } : {}),
      ...(this.options.description ? { description: this.options.description } : {}),
    };
  }
}

/** Properties of a `FeatureView`. */
export interface FeatureViewProps {
  /** View name, lower snake case; names the DynamoDB key prefix, the S3 prefix and the Glue table. */
  readonly name: string;
  /**
   * Schema version; bump it for a breaking change (removing, renaming or retyping a feature).
   * @default 1
   */
  readonly version?: number;
  /** Entities whose join keys identify a row. */
  readonly entities: Entity[];
  /**
   * Record field that carries the event time (ISO-8601 with a zone, or epoch milliseconds).
   * @default 'event_time'
   */
  readonly eventTimeField?: string;
  /** Features of the view. */
  readonly features: Feature[];
  /** Maximum age a value may have and still be served as `PRESENT`; also the DynamoDB TTL and the point-in-time window. */
  readonly ttl: Duration;
  /**
   * Freshness objective: how far materialization may fall behind the stream before the iterator-age alarm fires.
   * @default Duration.minutes(5)
   */
  readonly freshness?: Duration;
  /**
   * Owning team, stamped on resources as a tag.
   * @default - none
   */
  readonly owner?: string;
  /**
   * Human description.
   * @default - none
   */
  readonly description?: string;
  /**
   * Free-form tags.
   * @default - none
   */
  readonly tags?: Record<string, string>;
}

/**
 * A versioned group of features about one or more entities: declared once, compiled to the JSON spec that the
 * constructs, the Lambda handlers and training code all read. Throws at construction listing every problem.
 */
export class FeatureView {
  /** Rebuilds a view from its JSON spec (for example one loaded by training code or from a previous release). */
  public static fromSpec(spec: FeatureViewSpec): FeatureView {
    assertValidFeatureView(spec);
    return new FeatureView({
      name: spec.name,
      version: spec.version,
      entities: spec.entities.map((e) => new Entity(e)),
      eventTimeField: spec.eventTimeField,
      features: spec.features.map((f) => Feature.fromSpec(f)),
      ttl: Duration.seconds(spec.ttlSeconds),
      freshness: Duration.seconds(spec.freshnessSeconds),
      owner: spec.owner,
      description: spec.description,
      tags: spec.tags,
    });
  }

  /** View name. */
  public readonly name: string;
  /** Schema version. */
  public readonly version: number;
  private readonly spec: FeatureViewSpec;

  constructor(props: FeatureViewProps) {
    for (const [prop, duration] of [['ttl', props.ttl], ['freshness', props.freshness]] as const) {
      if (duration && Token.isUnresolved(duration.toSeconds({ integral: false }))) {
        throw new Error(`FeatureView '${props.name}': ${prop} must be a concrete Duration, not a token; the runtime reads it as data`);
      }
    }
    const spec: FeatureViewSpec = {
      specFormat: FEATURE_SPEC_FORMAT_VERSION,
      name: props.name,
      version: props.version ?? 1,
      entities: (props.entities ?? []).map((e) => e.toSpec()),
      eventTimeField: props.eventTimeField ?? 'event_time',
      features: (props.features ?? []).map((f) => f.toSpec()),
      ttlSeconds: props.ttl?.toSeconds({ integral: false }) ?? 0,
      freshnessSeconds: (props.freshness ?? Duration.minutes(5)).toSeconds({ integral: false }),
      ...(props.owner ? { owner: props.owner } : {}),
      ...(props.description ? { description: props.description } : {}),
      ...(props.tags ? { tags: { ...props.tags } } : {}),
    };
    assertValidFeatureView(spec);
    this.spec = spec;
    this.name = spec.name;
    this.version = spec.version;
  }

  /** The view as plain JSON: what the runtime and training code load. Returns a fresh copy. */
  public toSpec(): FeatureViewSpec {
    return JSON.parse(JSON.stringify(this.spec));
  }

  /** Freshness objective. */
  public get freshness(): Duration {
    return Duration.seconds(this.spec.freshnessSeconds);
  }

  /** Maximum age a value may be served. */
  public get ttl(): Duration {
    return Duration.seconds(this.spec.ttlSeconds);
  }

  /** Validates one ingestion record against this view (the same check the materializer runs). */
  public validateRecord(record: any): RecordValidation {
    return validateRecord(this.spec, record);
  }

  /** Compares this view with a previous version of it: the data-contract check for CI. */
  public checkCompatibilityWith(previous: FeatureView): CompatibilityReport {
    return checkCompatibility(previous.spec, this.spec);
  }
}

/** Static helpers over raw JSON specs (for CI checks and tooling that does not construct views). */
export class FeatureContract {
  /** Every problem of a JSON spec; empty when valid. */
  public static problems(spec: FeatureViewSpec): string[] {
    return featureViewProblems(spec);
  }
  /** Compares two JSON specs of one view. */
  public static compare(previous: FeatureViewSpec, next: FeatureViewSpec): CompatibilityReport {
    return checkCompatibility(previous, next);
  }
  /** Checks views against the contracts recorded earlier (e.g. a committed lock file): the data-contract CI gate. */
  public static check(recorded: FeatureViewSpec[], current: FeatureView[]): ContractCheck {
    return checkContracts(recorded, current.map((v) => v.toSpec()));
  }
  private constructor() {}
}
