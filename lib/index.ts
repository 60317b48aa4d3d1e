/** ml-platform-constructs: the public API. */
export * from './features';
