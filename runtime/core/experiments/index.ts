/**
 * A/B experiment statistics: sample sizes, an always-valid sequential test (mSPRT), Benjamini–Hochberg, guardrails,
 * the experiment decision and layered assignment. Pure TypeScript, no dependencies.
 */
export * from './normal';
export * from './sample-size';
export * from './sequential';
export * from './multiple-testing';
export * from './decision';
export * from './assignment';
