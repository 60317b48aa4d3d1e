/**
 * The server's configuration, read from its environment by the contract (runtime/contracts/inference-server.ts: the
 * variables, their defaults, bounds and meanings). This module gives the server's modules one place to import it
 * from, with the machine's core count filled in.
 */
import * as os from 'os';
import { Environment } from '../contracts/environment';
import { parseInferenceServerEnvironment, ServerConfig } from '../contracts/inference-server';

export { MAX_TIMER_MS, parsePriority, PRIORITY_LEVELS } from '../contracts/inference-server';
export type { ServerConfig } from '../contracts/inference-server';

/** Builds the configuration from environment variables; throws listing every invalid one. */
export function loadConfig(env: Environment = process.env, cpus: number = os.cpus().length): ServerConfig {
  return parseInferenceServerEnvironment(env, cpus);
}
