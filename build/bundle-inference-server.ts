/**
 * Builds the inference server's Docker build context, `assets/inference-server/`: `serve.js` and `worker.js` bundled
 * by esbuild (onnxruntime-node left external: it is native, and the image installs it with the right execution
 * provider), the `serve` entry point, the image's package.json and its lockfile, and both Dockerfiles. Tests and
 * benchmarks run this very folder, exactly as the image does. Build-time only (needs esbuild): not part of the
 * published package, which ships the build context prebuilt.
 */
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../lib/private/bundling';
import { INFERENCE_SERVER_ASSET_DIR } from '../runtime/inference-server/asset-dir';

/**
 * Modules the bundled AWS SDK loads only when asked to (the CRT signer is for S3 multi-region access points); left
 * out of the bundle and of the image.
 */
export const OPTIONAL_MODULES = ['@aws-sdk/signature-v4-crt'];

/** Files copied as they are into the build context (the images install package-lock.json with `npm ci`). */
const STATIC_FILES = ['serve', 'package.json', 'package-lock.json', 'Dockerfile', 'Dockerfile.cpu'];

/** Bundles the server into `outDir`; returns `outDir`. */
export function bundleInferenceServer(outDir: string = INFERENCE_SERVER_ASSET_DIR): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const source = path.join(packageRoot(), 'runtime', 'inference-server');
  fs.mkdirSync(outDir, { recursive: true });
  esbuild.buildSync({
    entryPoints: { serve: path.join(source, 'serve.ts'), worker: path.join(source, 'worker.ts') },
    outdir: outDir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    legalComments: 'none',
    external: ['onnxruntime-node', ...OPTIONAL_MODULES],
    logLevel: 'error',
  });
  for (const file of STATIC_FILES) {
    fs.copyFileSync(path.join(source, file), path.join(outDir, file));
  }
  fs.chmodSync(path.join(outDir, 'serve'), 0o755);
  return outDir;
}
