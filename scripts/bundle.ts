/**
 * `npm run bundle`: bundles every Lambda handler of runtime/handlers/ into assets/handlers/ and the inference server
 * into assets/inference-server/ (the image's build context), as the constructs deploy them.
 */
import { bundleHandlers, handlersAssetRoot } from '../lib/private/bundling';
import { bundleInferenceServer } from '../runtime/inference-server/bundle';

const started = Date.now();
const names = bundleHandlers();
const server = bundleInferenceServer();
console.log(`bundled ${names.length} handler(s) into ${handlersAssetRoot()} (${names.join(', ')}) and the inference server into ${server} in ${Date.now() - started} ms`);
