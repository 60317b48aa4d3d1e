export * from './canary-rollout';
