import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * Where the bundled runtime lives, and the Lambda code of a handler. Every file in `runtime/handlers/` is one Lambda
 * entry point, bundled into `assets/handlers/<name>/index.js` by build/bundle-handlers.ts (`npm run bundle`, Jest's
 * global setup): once per build or test run, never once per synth. A published package ships the bundles prebuilt,
 * so users need neither esbuild nor the runtime sources.
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

let bundledThisProcess = false;

/** Lambda code of one bundled handler. */
export function handlerCode(name: string): lambda.Code {
  return lambda.Code.fromAsset(handlerBundleDir(name));
}

/**
 * Folder of one bundled handler (its `index.js`). In a checkout without bundles, bundles all handlers first (once per
 * process) with the build code (build/, required lazily: not in a published package, which ships the bundles).
 */
export function handlerBundleDir(name: string): string {
  const dir = path.join(handlersAssetRoot(), name);
  if (!fs.existsSync(path.join(dir, 'index.js'))) {
    if (bundledThisProcess) throw new Error(`No Lambda handler named '${name}' in runtime/handlers/`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { bundleHandlers } = require('../../build/bundle-handlers') as typeof import('../../build/bundle-handlers');
    bundleHandlers();
    bundledThisProcess = true;
    if (!fs.existsSync(path.join(dir, 'index.js'))) throw new Error(`No Lambda handler named '${name}' in runtime/handlers/`);
  }
  return dir;
}
