/**
 * `npm run bundle`: bundles every Lambda handler of runtime/handlers/ into assets/handlers/ and the inference server
 * into assets/inference-server/ (the image's build context), as the constructs deploy them.
 */
import { bundleHandlers } from '../build/bundle-handlers';
import { bundleInferenceServer } from '../build/bundle-inference-server';
import { handlersAssetRoot } from '../lib/private/bundling';

const started = Date.now();
const names = bundleHandlers();
const server = bundleInferenceServer();
console.log(`bundled ${names.length} handler(s) into ${handlersAssetRoot()} (${names.join(', ')}) and the inference server into ${server} in ${Date.now() - started} ms`);
