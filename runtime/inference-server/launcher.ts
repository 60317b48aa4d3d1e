/**
 * Runs the bundled server as a child process — the `serve` entry point, exactly as the image runs it — and follows its
 * JSON log lines. Used by the tests, the benchmarks and local tooling.
 */
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { INFERENCE_SERVER_ASSET_DIR } from './asset-dir';

/** A structured log line of the server (or a prediction-log record when the sink is stdout). */
export interface LogLine {
  readonly msg?: string;
  readonly level?: string;
  readonly [field: string]: unknown;
}

/** How to launch the server. */
export interface LaunchOptions {
  /** Environment of the process (configuration variables); PATH is inherited unless given. */
  readonly env: Readonly<Record<string, string>>;
  /** Folder holding `serve`. @default assets/inference-server/ */
  readonly serveDir?: string;
  /** Resolve once the server is ready rather than once it listens. @default true */
  readonly waitReady?: boolean;
}

/** A running server process. */
export interface ServerProcess {
  /** `http://<host>:<port>` it listens on. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Every JSON line printed so far. */
  readonly lines: LogLine[];
  /** Resolves with the first line (already printed or to come) that matches; rejects if the process exits first. */
  waitForLine(match: (line: LogLine) => boolean): Promise<LogLine>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Sends SIGTERM (the way SageMaker and Kubernetes stop it) and waits for the exit code. */
  stop(): Promise<number | null>;
}

/** Launches `serve`; resolves once it listens (reporting its port), or once ready. */
export async function launchServer(options: LaunchOptions): Promise<ServerProcess> {
  const serveDir = options.serveDir ?? INFERENCE_SERVER_ASSET_DIR;
  const child = spawn(path.join(serveDir, 'serve'), [], {
    cwd: serveDir,
    env: { PATH: process.env.PATH, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  let stderr = '';
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const complete = pending.split('\n');
    pending = complete.pop()!;
    for (const text of complete.filter((t) => t.trim() !== '')) {
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.match(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // A server launched from here never outlives the process that launched it.
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    process.removeListener('exit', killChild);
    resolve(code);
  }));
  const waitForLine = (match: (line: LogLine) => boolean): Promise<LogLine> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiters.push({ match, resolve });
      void exited.then((code) => reject(new Error(`server exited (${code}) first; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${stderr}`)));
    });
  };
  const listening = await waitForLine((l) => l.msg === 'listening');
  if (options.waitReady ?? true) await waitForLine((l) => l.msg === 'ready');
  const host = listening.host === '0.0.0.0' ? '127.0.0.1' : listening.host;
  return {
    url: `http://${host}:${listening.port}`,
    child,
    lines,
    waitForLine,
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
