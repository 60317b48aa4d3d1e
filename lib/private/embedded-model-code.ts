/**
 * The Lambda code of a gateway with an embedded model: the gateway handler's bundle (`index.js`), onnxruntime-node
 * with only the binary the function runs on (Linux ARM64) and its one runtime dependency onnxruntime-common (the
 * handler's `require('onnxruntime-node')` finds them in `./node_modules`), and the model as `model.onnx`. Assembled
 * once per bundle and model, in a folder under the OS's temporary folder that becomes the function's asset.
 * Internal: not exported from lib/index.ts.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { handlerBundleDir } from './bundling';

/** Lambda's limit on a function's unzipped code (and layers), bytes. */
export const LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000;
/** Largest embedded model accepted: what Lambda's unzipped limit leaves beside onnxruntime (~27 MB) and the bundle. */
export const MAX_EMBEDDED_MODEL_BYTES = 200 * 1024 * 1024;
/** The model's file name in the code folder (the backend configuration's `modelPath`). */
export const EMBEDDED_MODEL_FILE = 'model.onnx';
/** The handler bundle the code is built around. */
const GATEWAY_HANDLER = 'gateway-handler';
/** Platform folder of the onnxruntime-node binary the functions run on (ARM64, lib/private/handler-function.ts). */
const BINARY_DIR = path.join('bin', 'napi-v6', 'linux', 'arm64');

/** An assembled code folder. */
export interface EmbeddedModelCode {
  /** The folder (`index.js`, `node_modules/`, `model.onnx`). */
  readonly dir: string;
  /** Its size in bytes (what Lambda counts against its unzipped limit). */
  readonly bytes: number;
}

const assembled = new Map<string, EmbeddedModelCode>();

/** SHA-256 of a file, hex. */
export function fileHash(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The code folder of the gateway handler with `modelFile` embedded; throws naming the fix when it cannot be built. */
export function embeddedModelCode(modelFile: string): EmbeddedModelCode {
  const bundle = path.join(handlerBundleDir(GATEWAY_HANDLER), 'index.js');
  // The runtime's version too: after an upgrade of onnxruntime-node, a folder with the old one is not reused.
  const key = `${fileHash(bundle)}:${fileHash(modelFile)}:${packageVersion('onnxruntime-node')}`;
  const known = assembled.get(key);
  if (known) return known;
  // One folder per bundle and model (synths and test runs reuse it), moved into place only once complete.
  const dir = path.join(os.tmpdir(), `ml-platform-embedded-model-${crypto.createHash('sha256').update(key).digest('hex').slice(0, 24)}`);
  if (!fs.existsSync(dir)) {
    const staging = fs.mkdtempSync(`${dir}-`);
    try {
      assemble(staging, bundle, modelFile);
      fs.renameSync(staging, dir);
    } catch (error) {
      fs.rmSync(staging, { recursive: true, force: true }); // a failed copy, or another process got there first
      if (!fs.existsSync(dir)) throw error;
    }
  }
  const bytes = sizeOf(dir);
  if (bytes > LAMBDA_UNZIPPED_LIMIT_BYTES) {
    throw new Error(`ModelBackend.embedded: the function's code would take ${bytes} bytes, over Lambda's ${LAMBDA_UNZIPPED_LIMIT_BYTES}-byte unzipped limit; serve this model with ModelBackend.sageMaker or ModelBackend.http`);
  }
  const code = { dir, bytes };
  assembled.set(key, code);
  return code;
}

/** Writes the code folder's files into `dir`. */
function assemble(dir: string, bundle: string, modelFile: string): void {
  const ortDir = packageDir('onnxruntime-node');
  const commonDir = packageDir('onnxruntime-common', ortDir);
  fs.copyFileSync(bundle, path.join(dir, 'index.js'));
  fs.copyFileSync(modelFile, path.join(dir, EMBEDDED_MODEL_FILE));
  const modules = path.join(dir, 'node_modules');
  copy(ortDir, path.join(modules, 'onnxruntime-node'), ['package.json', 'dist', BINARY_DIR]);
  copy(commonDir, path.join(modules, 'onnxruntime-common'), ['package.json', path.join('dist', 'cjs')]);
  if (!fs.existsSync(path.join(modules, 'onnxruntime-node', BINARY_DIR, 'onnxruntime_binding.node'))) {
    throw new Error(`ModelBackend.embedded: ${ortDir} holds no Linux ARM64 binary (${BINARY_DIR}); install an onnxruntime-node release that ships it (1.30 does)`);
  }
}

/** The folder of an installed package, resolved as Node would from `from` (its entry, then up to its package.json). */
function packageDir(name: string, from: string = __dirname): string {
  try {
    let dir = path.dirname(require.resolve(name, { paths: [from] }));
    while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== name) {
      const parent = path.dirname(dir);
      if (parent === dir) throw new Error(`no package.json of ${name} above its entry point`);
      dir = parent;
    }
    return dir;
  } catch {
    throw new Error(`ModelBackend.embedded packages onnxruntime-node into the function, and it is not installed: npm install --save-dev onnxruntime-node (with ONNXRUNTIME_NODE_INSTALL=skip, the CPU binaries are in the package)`);
  }
}

/** The installed version of a package. */
function packageVersion(name: string): string {
  return JSON.parse(fs.readFileSync(path.join(packageDir(name), 'package.json'), 'utf8')).version;
}

/** Copies `parts` (files or folders, relative to `from`) into `to`, leaving source maps and type declarations out. */
function copy(from: string, to: string, parts: readonly string[]): void {
  for (const part of parts) {
    fs.cpSync(path.join(from, part), path.join(to, part), {
      recursive: true,
      dereference: true,
      filter: (source) => !source.endsWith('.map') && !source.endsWith('.d.ts'),
    });
  }
}

/** Bytes of the files under a folder. */
function sizeOf(dir: string): number {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((total, entry) => total + fs.statSync(path.join(entry.parentPath, entry.name)).size, 0);
}
