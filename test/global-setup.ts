import { bundleHandlers } from '../lib/bundling';

/** Bundles the Lambda handlers once per test run; every synth in every test file reuses the bundles. */
export default function globalSetup(): void {
  bundleHandlers();
}
