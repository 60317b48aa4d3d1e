/** ml-platform-constructs: the public API. */
export * from './features';
export * from './monitoring';
export * from './rollout';
export * from './serving';
