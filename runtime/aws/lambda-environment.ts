/** Reading a handler's configuration from its Lambda environment, with errors that name the variable and the fix. */
export class LambdaEnvironment {
  /**
   * @param handler the handler's name, prefixed to every error
   * @param construct the construct that deploys the handler and sets its environment
   */
  constructor(private readonly env: NodeJS.ProcessEnv, private readonly handler: string, private readonly construct: string) {}

  /** A variable that must be set. */
  public required(name: string): string {
    const value = this.env[name];
    if (!value) throw new Error(`${this.handler}: environment variable ${name} is not set; deploy it with the ${this.construct} construct`);
    return value;
  }

  /** A variable that must hold JSON (`what` describes the expected document). */
  public json<T>(name: string, what: string): T {
    const text = this.required(name);
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new Error(`${this.handler}: ${name} must be ${what} (${(error as Error).message})`);
    }
  }

  /** An optional variable; undefined when unset or empty. */
  public optional(name: string): string | undefined {
    return this.env[name] || undefined;
  }
}
