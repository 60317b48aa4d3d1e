import { bundleHandlers } from '../build/bundle-handlers';
import { bundleInferenceServer } from '../build/bundle-inference-server';

/**
 * Bundles the Lambda handlers once per test run (every synth in every test file reuses the bundles), and the
 * inference server, which the tests run as the image does (`assets/inference-server/serve`).
 */
export default function globalSetup(): void {
  bundleHandlers();
  bundleInferenceServer();
}
