/**
 * Bundles the Lambda handlers: every file in `runtime/handlers/` is one Lambda entry point, bundled by esbuild into
 * `assets/handlers/<name>/index.js` once per build or test run (`npm run bundle`, Jest's global setup), never once
 * per synth. Build-time only (needs esbuild): not part of the published package, which ships the bundles prebuilt.
 */
import * as path from 'path';
import type { BuildOptions } from 'esbuild';
import { handlerNames, handlersAssetRoot, packageRoot } from '../lib/private/bundling';

/**
 * Packages the bundles leave out: the AWS SDK v3 (in the Lambda Node.js runtime), and onnxruntime-node (native: the
 * embedded model backend ships it beside the bundle, lib/private/embedded-model-code.ts).
 */
export const HANDLER_EXTERNALS = ['@aws-sdk/*', 'onnxruntime-node'];

/**
 * esbuild options of one handler's bundle (Node 22, CommonJS, minified). Also what the tests build to read which AWS
 * SDK commands a handler sends (test/lib/iam-actions.test.ts).
 */
export function handlerBuildOptions(name: string): BuildOptions & { entryPoints: string[]; external: string[] } {
  return {
    entryPoints: [path.join(packageRoot(), 'runtime', 'handlers', `${name}.ts`)],
    outfile: path.join(handlersAssetRoot(), name, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    external: [...HANDLER_EXTERNALS],
    logLevel: 'error',
  };
}

/** Bundles every handler in `runtime/handlers/`. Returns the names bundled. */
export function bundleHandlers(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const names = handlerNames();
  for (const name of names) esbuild.buildSync(handlerBuildOptions(name));
  return names;
}
