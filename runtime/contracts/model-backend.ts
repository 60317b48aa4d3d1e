/**
 * The gateway's model backend contract: where the gateway Lambda gets its model's answers — a SageMaker endpoint, an
 * HTTP service speaking our inference server's protocol (the Kubernetes path), or an ONNX model embedded in the
 * function itself. The construct side (`ModelBackend.bind`) writes one `ModelBackendConfig` as JSON into the
 * variable `ModelBackendVariables.CONFIG`; the runtime reads it back (`readModelBackendConfig`) and builds the
 * invoker (runtime/backends/create-model-invoker.ts). Pure: imports only other pure modules.
 */
import { EnvironmentReader } from './environment';

/** Names of the environment variables of a model backend. */
export const ModelBackendVariables = {
  /** JSON `ModelBackendConfig`. */
  CONFIG: 'MODEL_BACKEND',
} as const;

/** Variant name of an embedded model (one model per function: the answers, logs and metrics name it). */
export const EMBEDDED_VARIANT = 'embedded';

/** Most calls an embedded model holds at once, running or waiting, unless configured. */
export const DEFAULT_EMBEDDED_MAX_PENDING = 16;

/** A SageMaker endpoint, invoked with the SageMaker Runtime API. */
export interface SageMakerBackendConfig {
  readonly kind: 'sagemaker';
  /** Endpoint name. */
  readonly endpointName: string;
}

/** Servers speaking our inference server's Open Inference Protocol v2 route, behind one URL (a load balancer). */
export interface HttpBackendConfig {
  readonly kind: 'http';
  /** Base URL, `http(s)://host[:port][/prefix]`: calls go to `<url>/v2/models/<model>/infer`. */
  readonly url: string;
  /** Model name in the route. @default - the gateway's model name */
  readonly model?: string;
}

/** An ONNX model run inside the gateway function with onnxruntime-node. */
export interface EmbeddedBackendConfig {
  readonly kind: 'embedded';
  /** The `.onnx` file: absolute, or relative to the function's code folder (its working directory). */
  readonly modelPath: string;
  /** onnxruntime threads of the session. @default 1 */
  readonly intraOpThreads?: number;
  /** Most calls held at once (running or waiting); more are refused as overloaded. @default DEFAULT_EMBEDDED_MAX_PENDING */
  readonly maxPending?: number;
}

/** Where the gateway's model answers come from. */
export type ModelBackendConfig = SageMakerBackendConfig | HttpBackendConfig | EmbeddedBackendConfig;

/** The backend kinds. */
export const MODEL_BACKEND_KINDS = ['sagemaker', 'http', 'embedded'] as const;

/** The fields of each kind (other fields are refused: a misspelt one would be silently ignored). */
const FIELDS: Record<ModelBackendConfig['kind'], readonly string[]> = {
  sagemaker: ['kind', 'endpointName'],
  http: ['kind', 'url', 'model'],
  embedded: ['kind', 'modelPath', 'intraOpThreads', 'maxPending'],
};

/** SageMaker endpoint names: 1-63 letters, digits and hyphens, starting with a letter or digit. */
const ENDPOINT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$/;
/** Model names as a URL path segment (the gateway's rule for its `{model}`). */
export const MODEL_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Problems of an HTTP backend's base URL (empty when it is usable). */
export function httpUrlProblems(url: unknown): string[] {
  if (typeof url !== 'string' || url === '') return ['url must be the base URL of the model servers, e.g. http://fraud.internal:8080'];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [`url '${url.slice(0, 200)}' is not a URL; give http(s)://host[:port][/prefix]`];
  }
  const problems: string[] = [];
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') problems.push(`url must start with http:// or https:// (got ${parsed.protocol}//)`);
  if (parsed.username || parsed.password) {
    problems.push('url must not carry credentials: they would sit in the function\'s environment; reach the servers over the VPC and restrict them with security groups');
  }
  if (parsed.search || parsed.hash) problems.push('url must not have a query or fragment: the gateway appends /v2/models/<model>/infer to it');
  return problems;
}

/** Every problem of a backend configuration, each naming the field and the fix (empty when valid). */
export function modelBackendProblems(config: unknown): string[] {
  if (!isObject(config)) return [`must be an object {"kind": ${MODEL_BACKEND_KINDS.map((k) => `"${k}"`).join(' | ')}, ...}`];
  const kind = config.kind as ModelBackendConfig['kind'];
  if (!MODEL_BACKEND_KINDS.includes(kind)) return [`kind must be one of ${MODEL_BACKEND_KINDS.join(', ')} (got ${JSON.stringify(config.kind)})`];
  const problems = Object.keys(config).filter((f) => !FIELDS[kind].includes(f))
    .map((f) => `${f} is not a field of a ${kind} backend (fields: ${FIELDS[kind].join(', ')})`);
  switch (kind) {
    case 'sagemaker':
      if (typeof config.endpointName !== 'string' || !ENDPOINT_NAME.test(config.endpointName)) {
        problems.push('endpointName must be a SageMaker endpoint name (1-63 letters, digits and hyphens)');
      }
      break;
    case 'http':
      problems.push(...httpUrlProblems(config.url));
      if (config.model !== undefined && (typeof config.model !== 'string' || !MODEL_NAME_PATTERN.test(config.model))) {
        problems.push('model must be 1-63 letters, digits, \'_\', \'.\' or \'-\' (the server\'s MODEL_NAME)');
      }
      break;
    case 'embedded':
      if (typeof config.modelPath !== 'string' || !config.modelPath.endsWith('.onnx')) problems.push('modelPath must name a .onnx file');
      if (config.intraOpThreads !== undefined && !isIntegerIn(config.intraOpThreads, 1, 64)) problems.push('intraOpThreads must be an integer from 1 to 64');
      if (config.maxPending !== undefined && !isIntegerIn(config.maxPending, 1, 10_000)) problems.push('maxPending must be an integer from 1 to 10000');
      break;
  }
  return problems;
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Reads the backend configuration from `ModelBackendVariables.CONFIG`, adding every problem to `reader` (each
 * prefixed with the variable's name); undefined when it is missing or invalid.
 */
export function readModelBackendConfig(reader: EnvironmentReader): ModelBackendConfig | undefined {
  const name = ModelBackendVariables.CONFIG;
  const config = reader.json<unknown>(name, 'a JSON ModelBackendConfig');
  if (config === undefined) return undefined;
  const problems = modelBackendProblems(config);
  for (const problem of problems) reader.problem(`${name}: ${problem}`);
  return problems.length === 0 ? config as ModelBackendConfig : undefined;
}
