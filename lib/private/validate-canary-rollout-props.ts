/**
 * Validation of `CanaryRollout` props: every problem at once, each naming the prop and the fix; the plan's rules are
 * the runtime's own (`validatePlan`, runtime/core/rollout/plan.ts), their field names translated to the props'.
 * Tokens are skipped (checked at deploy). Internal: not exported from lib/index.ts.
 */
import { Duration, Token, Tokenization } from 'aws-cdk-lib';
import { RolloutVariables } from '../../runtime/contracts/rollout';
import { validatePlan } from '../../runtime/core/rollout/plan';
import type { RolloutPlan } from '../../runtime/core/rollout/types';
import type { CanaryRolloutProps } from '../rollout/canary-rollout';
import { environmentBytes, LAMBDA_ENVIRONMENT_LIMIT_BYTES, wholeSecondsProblems } from './validation';

/** Longest a name resolved at deploy may be (table, alarm and topic names): every token counts this much. */
const MAX_TOKEN_BYTES = 256;

/** Bytes of a value at most, each token in it (a table name, an alarm name inside the plan's JSON) counted as the longest name. */
function valueBytes(value: string): number {
  const longest = Tokenization.reverseString(value).mapTokens({ mapToken: () => 'x'.repeat(MAX_TOKEN_BYTES) });
  return Buffer.byteLength(String(longest.join({ join: (left, right) => `${left}${right}` })));
}

/**
 * The problem of the function's environment over Lambda's 4 KB, if it is: `RolloutVariables.PLAN` holds the whole plan
 * (steps and alarm names grow it).
 */
function environmentSizeProblem(environment: Record<string, string>): string | undefined {
  const bytes = environmentBytes(environment, (name) => valueBytes(environment[name]));
  if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return undefined;
  const planBytes = valueBytes(environment[RolloutVariables.PLAN] ?? '');
  return `steps/alarms: the rollout function's environment would take up to ${bytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit `
    + `(${RolloutVariables.PLAN} holds the plan: ${planBytes} B, each alarm name counted as up to ${MAX_TOKEN_BYTES} B when named at deploy): `
    + 'give fewer steps, or fewer alarms (combine business alarms into one composite alarm)';
}

/** Plan field names (most specific first) and the props they come from. */
const PROP_OF_FIELD: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bsteps\[(\d+)\]\.bakeMs\b/g, 'steps[$1].bake'],
  [/\bevaluation\.intervalMs\b/g, 'evaluationInterval'],
  [/\bevaluation\./g, 'thresholds.'],
  [/\bguardrails\.maxLatencyP99Ms\b/g, 'thresholds.maxLatencyP99'],
  [/\bguardrails\.alarms(\[\d+\])?/g, 'guardrail/alarms'],
  [/\bguardrails\./g, 'thresholds.'],
  [/\bshadow\.exitCriteria\.maxLatencyP99Ms\b/g, 'shadow.maxLatencyP99'],
  [/\bshadow\.exitCriteria\.maxDurationMs\b/g, 'shadow.maxDuration'],
  [/\bshadow\.exitCriteria\./g, 'shadow.'],
];

/** A plan problem worded with the props it comes from (durations in it are milliseconds). */
function asProp(problem: string): string {
  const worded = PROP_OF_FIELD.reduce((text, [field, prop]) => text.replace(field, prop), problem);
  return /Ms\b/.test(problem) ? `${worded} (durations in milliseconds)` : worded;
}

/** Every problem of `props`, given the plan built from them and the function's `environment` (checked against Lambda's size limit). */
export function canaryRolloutProblems(props: CanaryRolloutProps, plan: RolloutPlan, environment: Record<string, string>): string[] {
  const problems: string[] = [];
  if (props.thresholds?.maxLatencyP99 === undefined) problems.push('thresholds.maxLatencyP99: required (the challenger\'s latency budget, e.g. Duration.millis(250))');
  if (Token.isUnresolved(props.model)) {
    problems.push('model: must be a name known at synth (the routing table\'s key), not a token');
  } else if (!props.routing.models.includes(props.model)) {
    problems.push(`model: '${props.model}' is not in the routing table: add it first (routing.addModel({ model: '${props.model}', variantWeights: { ${props.champion}: 100, ${props.challenger}: 0 } }))`);
  }
  problems.push(...wholeSecondsProblems('evaluationInterval', props.evaluationInterval, { min: Duration.minutes(1), max: Duration.days(1), why: 'the metrics have one-minute resolution' }));
  const interval = props.evaluationInterval?.toSeconds({ integral: false });
  if (interval !== undefined && interval % 60 !== 0) problems.push(`evaluationInterval: ${props.evaluationInterval!.toHumanString()} must be whole minutes (the metrics' periods)`);
  if (props.predictionDrift !== undefined && props.thresholds?.maxPredictionDrift === undefined) {
    problems.push('predictionDrift: read for nothing without thresholds.maxPredictionDrift: set it, or leave predictionDrift out');
  }
  if (props.thresholds?.maxPredictionDrift !== undefined && props.predictionDrift === undefined) {
    problems.push('thresholds.maxPredictionDrift: never checked without predictionDrift (where the drift detector reports the challenger): set predictionDrift, or leave maxPredictionDrift out');
  }
  problems.push(...wholeSecondsProblems('predictionDrift.lookback', props.predictionDrift?.lookback, { min: Duration.minutes(1), max: Duration.days(7), why: 'how far back the drift detector\'s last run may be' }));
  if (props.startOnModelApproval && !Token.isUnresolved(props.startOnModelApproval.modelPackageGroupName)
    && !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(props.startOnModelApproval.modelPackageGroupName)) {
    problems.push(`startOnModelApproval.modelPackageGroupName: '${props.startOnModelApproval.modelPackageGroupName}' is not a model package group name (1–63 letters, digits and hyphens)`);
  }
  const sizeProblem = environmentSizeProblem(environment);
  if (sizeProblem !== undefined) problems.push(sizeProblem);
  problems.push(...validatePlan(plan).filter((p) => !p.startsWith('guardrails.maxLatencyP99Ms is missing')).map(asProp));
  return problems;
}
