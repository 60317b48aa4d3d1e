/**
 * Runs the bundled inference server the way its image does — the `serve` entry point of assets/inference-server/
 * (bundled by Jest's global setup) — as a child process on a free loopback port, and talks to it over HTTP.
 */
import * as path from 'path';
import { request } from 'undici';
import { INFERENCE_SERVER_ASSET_DIR } from '../../runtime/inference-server/asset-dir';
import { launchServer, ServerProcess } from '../../runtime/inference-server/launcher';
import { parseExposition } from '../../runtime/inference-server/prometheus';

export type { ServerProcess } from '../../runtime/inference-server/launcher';

/** The bundled server folder (the image's build context). */
export const SERVER_DIR = INFERENCE_SERVER_ASSET_DIR;
/** The committed test models. */
export const MODELS_DIR = path.join(__dirname, '..', 'fixtures', 'models');

/**
 * Starts `serve` with `env` on top of test defaults (PORT=0, HOST=127.0.0.1, one warm-up run, a 50 ms drain grace);
 * resolves once it listens, or once ready (`waitReady`, default true). `serveDir`: where `serve` is.
 */
export function startServer(env: Record<string, string>, options: { waitReady?: boolean; serveDir?: string } = {}): Promise<ServerProcess> {
  return launchServer({
    env: { PORT: '0', HOST: '127.0.0.1', INFERENCE_WARMUP_RUNS: '1', INFERENCE_DRAIN_GRACE_MS: '50', ...env },
    serveDir: options.serveDir,
    waitReady: options.waitReady,
  });
}

/**
 * One server per variant of `model` (each its own process, one worker), as SageMaker runs variants: `MODEL_VARIANT`
 * is the variant's name, so every answer says which variant it came from. Resolves once all are ready.
 */
export async function startVariantServers(model: string, modelFiles: Readonly<Record<string, string>>): Promise<Record<string, ServerProcess>> {
  const entries = await Promise.all(Object.entries(modelFiles).map(async ([variant, file]) => [variant, await startServer({
    MODEL_URI: file, MODEL_NAME: model, MODEL_VARIANT: variant, ENDPOINT_NAME: model, INFERENCE_WORKERS: '1',
  })] as const));
  return Object.fromEntries(entries);
}

/** An HTTP answer. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: any;
}

/** Sends a request; `body` objects are sent as JSON; `signal` aborts it. */
export async function call(url: string, options: { method?: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Answer> {
  const body = options.body === undefined || typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body as string | Buffer | undefined : JSON.stringify(options.body);
  const response = await request(url, {
    method: (options.method ?? (body === undefined ? 'GET' : 'POST')) as 'GET',
    body,
    headers: { ...(body !== undefined && typeof options.body === 'object' && !Buffer.isBuffer(options.body) ? { 'content-type': 'application/json' } : {}), ...options.headers },
    signal: options.signal,
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

/** An Open Inference Protocol input. */
export function oipInput(name: string, datatype: string, shape: number[], data: unknown): object {
  return { name, datatype, shape, data };
}

/** The server's metrics now. */
export async function metrics(server: ServerProcess): Promise<Map<string, number>> {
  return parseExposition((await call(`${server.url}/metrics`)).text);
}

/** Polls the metrics until `predicate` holds (for states the test cannot await directly, e.g. "3 requests queued"). */
export async function waitForMetrics(server: ServerProcess, predicate: (m: Map<string, number>) => boolean): Promise<Map<string, number>> {
  for (;;) {
    const m = await metrics(server);
    if (predicate(m)) return m;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
