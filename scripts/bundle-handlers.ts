/** Bundles every Lambda handler in runtime/handlers/ into assets/handlers/ (run by `npm run bundle`). */
import { bundleHandlers, handlersAssetRoot } from '../lib/bundling';

const started = Date.now();
const names = bundleHandlers();
console.log(`bundled ${names.length} handler(s) into ${handlersAssetRoot()} in ${Date.now() - started} ms: ${names.join(', ')}`);
