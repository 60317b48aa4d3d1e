/**
 * The pure feature-spec module: types, validation, record validation, compatibility and storage layout.
 * Imports nothing from CDK or the AWS SDK; the runtime and training code import it directly.
 */
export * from './types';
export * from './naming';
export * from './values';
export * from './validate';
export * from './event-time';
export * from './record';
export * from './compatibility';
export * from './layout';
export * from './serving';
export * from './refs';
export * from './request-source';
