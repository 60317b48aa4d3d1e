/** ml-platform-constructs: the public API. */
export * from './compute';
export * from './features';
export * from './kubernetes';
export * from './monitoring';
export * from './rollout';
export * from './serving';
export * from './training';
