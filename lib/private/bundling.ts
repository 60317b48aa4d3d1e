import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * Lambda handler bundles. Every file in `runtime/handlers/` is one Lambda entry point, bundled by esbuild into
 * `assets/handlers/<name>/index.js`: once per build or test run (`npm run bundle`, Jest's global setup), never once
 * per synth. A published package ships the bundles prebuilt, so users need neither esbuild nor the runtime sources.
 */

/** Root of this package (the folder holding its package.json). */
export function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`ml-platform-constructs: cannot find package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** Folder of the bundled handlers. */
export function handlersAssetRoot(): string {
  return path.join(packageRoot(), 'assets', 'handlers');
}

/** Names of the Lambda handlers: the files of `runtime/handlers/` without `.ts`. */
export function handlerNames(): string[] {
  const sourceDir = path.join(packageRoot(), 'runtime', 'handlers');
  if (!fs.existsSync(sourceDir)) return [];
  return fs.readdirSync(sourceDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => f.slice(0, -3));
}

/**
 * esbuild options of one handler's bundle (Node 22, CommonJS, AWS SDK v3 left to the Lambda runtime). Also what the
 * tests build to read which AWS SDK commands a handler sends (test/lib/iam-actions.test.ts).
 */
export function handlerBuildOptions(name: string): import('esbuild').BuildOptions & { entryPoints: string[]; external: string[] } {
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
    // onnxruntime-node is native: the embedded model backend ships it beside the bundle (lib/private/embedded-model-code.ts).
    external: ['@aws-sdk/*', 'onnxruntime-node'],
    logLevel: 'error',
  };
}

/** Bundles every handler in `runtime/handlers/` with esbuild. Returns the names bundled. */
export function bundleHandlers(): string[] {
  const names = handlerNames();
  // esbuild is a build-time tool: required lazily so that synthesizing with prebuilt bundles does not need it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  for (const name of names) esbuild.buildSync(handlerBuildOptions(name));
  return names;
}

let bundledThisProcess = false;

/** Lambda code of one bundled handler; bundles all handlers first (once per process) when the bundle is missing. */
export function handlerCode(name: string): lambda.Code {
  return lambda.Code.fromAsset(handlerBundleDir(name));
}

/** Folder of one bundled handler (its `index.js`); bundles all handlers first (once per process) when it is missing. */
export function handlerBundleDir(name: string): string {
  const dir = path.join(handlersAssetRoot(), name);
  if (!fs.existsSync(path.join(dir, 'index.js'))) {
    if (bundledThisProcess) throw new Error(`No Lambda handler named '${name}' in runtime/handlers/`);
    bundleHandlers();
    bundledThisProcess = true;
    if (!fs.existsSync(path.join(dir, 'index.js'))) throw new Error(`No Lambda handler named '${name}' in runtime/handlers/`);
  }
  return dir;
}
