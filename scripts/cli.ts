/**
 * What the operator CLIs (`npm run route`, `npm run degrade`) share: the usage error, the default author of a change
 * and the exit codes (0 done, 1 refused by the table or the service, 2 a malformed command line).
 */
import * as os from 'os';

/** A malformed command line (exit 2, with the usage). */
export class UsageError extends Error {}

/** The OS user: who a change is recorded as by default. */
export function osUser(): string {
  try {
    return process.env.USER || process.env.USERNAME || os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Runs a CLI's `main`, printing errors prefixed with `name` and exiting 0, 1 or 2 (with `usage`). */
export function runCli(name: string, usage: string, main: () => Promise<void>): void {
  main().then(() => process.exit(0), (error: Error) => {
    if (error instanceof UsageError) {
      console.error(`${name}: ${error.message}\n${usage}`);
      process.exit(2);
    }
    console.error(`${name}: ${error.message}`);
    process.exit(1);
  });
}
