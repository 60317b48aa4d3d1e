/**
 * Structured logging: one JSON object per line on stdout (`ts`, `level`, `msg`, then fields), which CloudWatch Logs
 * and Kubernetes log collectors ingest as is. The first line a server writes once bound is `{"msg":"listening","port":N}`.
 */

/** Log levels. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Writes structured log lines. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /** Writes a line that is already a JSON object, as is: an Embedded Metric Format line (`toEmf`) CloudWatch reads. */
  emf(line: string): void;
}

/** The process logger: JSON lines on stdout. */
export const STDOUT_LOGGER: Logger = {
  log(level, msg, fields) {
    process.stdout.write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }) + '\n');
  },
  emf(line) {
    process.stdout.write(line + '\n');
  },
};
