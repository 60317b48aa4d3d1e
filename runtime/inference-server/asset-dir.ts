/**
 * Where the bundled server lives: `assets/inference-server/` at the package root (written by `npm run bundle`;
 * prebuilt in a published package), found from this module's folder in the sources (runtime/inference-server/) and in
 * the compiled package (dist/runtime/inference-server/) alike.
 */
import * as path from 'path';

const above = path.resolve(__dirname, '..', '..');

/** The server's build context: `serve`, `serve.js`, `worker.js`, the image's package.json and Dockerfiles. */
export const INFERENCE_SERVER_ASSET_DIR = path.join(path.basename(above) === 'dist' ? path.dirname(above) : above, 'assets', 'inference-server');
