/** Safe rollout: plan, state and observation types, the pure decisions, and the controller over ports. */
export * from './types';
export { RolloutPlanError, resolvePlan, stepLimitMs, validatePlan } from './plan';
export { decide, isFinished, rollbackNow, routingOf, startRollout } from './decide';
export { RolloutController, type RolloutPorts } from './controller';
