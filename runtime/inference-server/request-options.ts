/**
 * Per-request options every protocol shares: priority level, deadline and (when enabled) an injected fault, read
 * from request parameters first, then headers, then the server defaults.
 */
import type { IncomingHttpHeaders } from 'http';
import { PRIORITY_TIERS } from '../core/tiers';
import { MAX_TIMER_MS, parsePriority, PRIORITY_LEVELS, ServerConfig } from './config';
import { invalid, preview } from './errors';
import type { Fault } from './worker-protocol';

/** Header carrying the priority level (1 … 3) or tier name. */
export const PRIORITY_HEADER = 'x-inference-priority';
/** Header carrying the deadline in milliseconds (at most `MAX_TIMER_MS`). */
export const TIMEOUT_HEADER = 'x-inference-timeout-ms';
/**
 * Header naming the variant a call is for (a load balancer in front of several variants routes on it): a server
 * refuses a call for another variant, and answers with its own variant in the same header.
 */
export const VARIANT_HEADER = 'x-inference-variant';
/** Header asking for an injected fault: `delay=<ms>` or `exit` (only with INFERENCE_FAULT_INJECTION=true). */
export const FAULT_HEADER = 'x-inference-fault';

/** The longest deadline, as error messages state it. */
const MAX_TIMEOUT = `the longest deadline, ${MAX_TIMER_MS} ms (about 24.8 days; Node's timers cannot wait longer)`;

let requestCount = 0;
const instancePrefix = Math.floor(Math.random() * 2 ** 32).toString(36);

/** A request id unique to this server process (`<random instance prefix>-<sequence>`), for requests that bring none. */
export function newRequestId(): string {
  return `${instancePrefix}-${(++requestCount).toString(36)}`;
}

/** Resolved options of one request. */
export interface RequestOptions {
  readonly priority: number;
  readonly timeoutMs: number;
  readonly fault?: Fault;
}

/** A value for an option and where it came from (for error messages). */
export interface OptionSource {
  readonly priority?: unknown;
  readonly timeoutMs?: unknown;
  /** e.g. `parameters` or `headers` */
  readonly where: string;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The options given in our headers. */
export function headerOptions(headers: IncomingHttpHeaders): OptionSource {
  return { priority: header(headers, PRIORITY_HEADER), timeoutMs: header(headers, TIMEOUT_HEADER), where: 'header' };
}

/** The priority named in the headers, if any (checked before the body is read). */
export function headerPriority(headers: IncomingHttpHeaders): number | undefined {
  return parsePriority(header(headers, PRIORITY_HEADER));
}

/** Resolves options from the first source that sets each one, else the server defaults; throws INVALID on bad values. */
export function resolveOptions(config: ServerConfig, sources: readonly OptionSource[], headers: IncomingHttpHeaders): RequestOptions {
  let priority = config.defaultPriority;
  const p = sources.find((s) => s.priority !== undefined);
  if (p) {
    const parsed = parsePriority(p.priority);
    if (parsed === undefined) {
      throw invalid(`${p.where} priority ${preview(p.priority)} is not a priority: use a level 1..${PRIORITY_LEVELS} (1 highest) or one of ${PRIORITY_TIERS.join(', ')}`);
    }
    priority = parsed;
  }
  let timeoutMs = config.defaultTimeoutMs;
  const t = sources.find((s) => s.timeoutMs !== undefined);
  if (t) {
    const parsed = typeof t.timeoutMs === 'string' && t.timeoutMs.trim() !== '' ? Number(t.timeoutMs) : t.timeoutMs;
    if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed <= 0) {
      throw invalid(`${t.where} timeout_ms ${preview(t.timeoutMs)} is not a deadline: use a positive number of milliseconds`);
    }
    if (parsed > MAX_TIMER_MS) throw invalid(`${t.where} timeout_ms ${preview(t.timeoutMs)} is over ${MAX_TIMEOUT}`);
    timeoutMs = parsed;
  }
  return { priority, timeoutMs, fault: config.faultInjection ? parseFault(header(headers, FAULT_HEADER)) : undefined };
}

function parseFault(value: string | undefined): Fault | undefined {
  if (value === undefined) return undefined;
  if (value === 'exit') return { kind: 'exit' };
  const delay = /^delay=(\d+)$/.exec(value);
  if (delay && Number(delay[1]) <= MAX_TIMER_MS) return { kind: 'delay', ms: Number(delay[1]) };
  throw invalid(`${FAULT_HEADER}: ${preview(value)} is not a fault; use delay=<ms> (at most ${MAX_TIMER_MS}) or exit`);
}
