import { bundleHandlers } from '../lib/private/bundling';
import { bundleInferenceServer } from '../runtime/inference-server/bundle';

/**
 * Bundles the Lambda handlers once per test run (every synth in every test file reuses the bundles), and the
 * inference server, which the tests run as the image does (`assets/inference-server/serve`).
 */
export default function globalSetup(): void {
  bundleHandlers();
  bundleInferenceServer();
}
