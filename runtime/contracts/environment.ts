/**
 * Reading a deployable's environment (a Lambda handler's, the inference server's), collecting every problem and
 * reporting them at once, each naming the variable and what it accepts. The contract modules beside this one build
 * their `fromEnvironment` parsers on it; their `toEnvironment` builders write the same names. Pure: no imports.
 */

/** Environment variables as a process sees them. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Bounds of a numeric variable. */
export interface NumberBounds {
  /** Least value accepted. */
  readonly min: number;
  /** Greatest value accepted. @default Infinity */
  readonly max?: number;
  /** Only whole numbers. @default true */
  readonly integer?: boolean;
}

/** Reads variables by name, collecting problems instead of throwing at the first one. */
export class EnvironmentReader {
  /** Every problem found so far, each naming its variable. */
  public readonly problems: string[] = [];

  /**
   * @param env the variables
   * @param deployable what reads them, e.g. `gateway-handler`: the first words of the error
   * @param deployedBy what sets them, e.g. `the InferenceGateway construct`: named in the fix of a missing variable
   */
  constructor(private readonly env: Environment, private readonly deployable: string, private readonly deployedBy: string) {}

  /** A variable that may be absent; undefined when unset or empty. */
  public optional(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  /** A variable that must be set; '' (and a problem) when it is not. */
  public required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) this.problems.push(`${name} is not set; deploy it with ${this.deployedBy}`);
    return value ?? '';
  }

  /** A variable holding JSON (`what` describes the document); undefined (and a problem) when absent or malformed. */
  public json<T>(name: string, what: string, options: { optional?: boolean } = {}): T | undefined {
    const text = options.optional ? this.optional(name) : this.required(name);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      this.problems.push(`${name} must be ${what} (${(error as Error).message})`);
      return undefined;
    }
  }

  /** A number within `bounds`; `fallback` when unset, and when invalid (with a problem). */
  public number(name: string, fallback: number, bounds: NumberBounds): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    const { min, max = Infinity, integer = true } = bounds;
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      this.problems.push(`${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} from ${min}${max === Infinity ? ' up' : ` to ${max}`}`);
      return fallback;
    }
    return value;
  }

  /** One of `choices`; `fallback` when unset, and when invalid (with a problem). */
  public choice<T extends string>(name: string, fallback: T, choices: readonly T[]): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(choices as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${raw}: expected one of ${choices.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  /** `true`/`1` or `false`/`0`; false when unset. */
  public bool(name: string): boolean {
    return ['true', '1'].includes(this.choice(name, 'false', ['true', 'false', '1', '0']));
  }

  /** Adds a problem found by the caller (a rule across variables). */
  public problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws one error listing every problem (no-op when there are none). */
  public throwIfProblems(): void {
    if (this.problems.length > 0) {
      throw new Error(`${this.deployable}: invalid environment:\n  - ${this.problems.join('\n  - ')}`);
    }
  }
}
