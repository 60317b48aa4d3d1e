/**
 * The gateway's model invoker for a backend configuration (runtime/contracts/model-backend.ts). Each backend's
 * module is loaded only when that backend is configured: the HTTP path never loads the AWS SDK's SageMaker client,
 * and only the embedded path loads onnxruntime-node.
 */
import * as path from 'path';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { ModelBackendConfig, modelBackendProblems } from '../contracts/model-backend';
import type { ModelInvoker } from '../core/model-call';

/** What the configuration leaves to the process. */
export interface ModelInvokerOptions {
  /** Model name of an HTTP backend whose configuration names none: the gateway's. @default - none (then required in the config) */
  readonly modelName?: string;
  /** Folder a relative embedded `modelPath` is resolved against. @default process.cwd() (in Lambda, the function's code folder) */
  readonly baseDir?: string;
  /** SageMaker Runtime client. @default - one with `maxAttempts: 1` (the gateway's deadline and breaker decide after a failure) */
  readonly sageMakerClient?: SageMakerRuntimeClient;
  /** Extra request headers of an HTTP backend. @default - none */
  readonly httpHeaders?: Readonly<Record<string, string>>;
}

/** Builds the invoker of a backend; throws listing every problem of the configuration. */
export function createModelInvoker(config: ModelBackendConfig, options: ModelInvokerOptions = {}): ModelInvoker {
  const problems = modelBackendProblems(config);
  if (config?.kind === 'http' && config.model === undefined && options.modelName === undefined) {
    problems.push('model must be set (or the gateway\'s model name passed as options.modelName)');
  }
  if (problems.length > 0) throw new Error(`model backend: invalid configuration:\n  - ${problems.join('\n  - ')}`);
  /* eslint-disable @typescript-eslint/no-require-imports */
  switch (config.kind) {
    case 'sagemaker': {
      const { SageMakerModelInvoker } = require('../aws/sagemaker-model-invoker') as typeof import('../aws/sagemaker-model-invoker');
      const { SageMakerRuntimeClient: Client } = require('@aws-sdk/client-sagemaker-runtime') as typeof import('@aws-sdk/client-sagemaker-runtime');
      return new SageMakerModelInvoker(options.sageMakerClient ?? new Client({ maxAttempts: 1 }), config.endpointName);
    }
    case 'http': {
      const { HttpModelInvoker } = require('./http-model-invoker') as typeof import('./http-model-invoker');
      return new HttpModelInvoker({ url: config.url, model: config.model ?? options.modelName!, headers: options.httpHeaders });
    }
    case 'embedded': {
      const { EmbeddedModelInvoker } = require('./embedded-model-invoker') as typeof import('./embedded-model-invoker');
      return new EmbeddedModelInvoker({
        modelPath: path.resolve(options.baseDir ?? process.cwd(), config.modelPath),
        intraOpThreads: config.intraOpThreads,
        maxPending: config.maxPending,
      });
    }
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
}
