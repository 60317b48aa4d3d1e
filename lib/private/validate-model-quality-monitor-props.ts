/**
 * Validation of `ModelQualityMonitor` props: every problem at once, each naming the prop and the fix; tokens are
 * skipped (checked at deploy). Internal: not exported from lib/index.ts.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { labelJoinWindowProblems, MAX_LOOKBACK_MS, MIN_LABEL_WINDOW_MS, PROBLEM_TYPES } from '../../runtime/contracts/label-join';
import { predictionLogModelPrefix } from '../../runtime/core/datasets';
import type { ModelQualityMonitorProps } from '../monitoring/model-quality-monitor';
import { scheduledJobProblems } from './scheduled-job';
import { concreteSeconds, rangeProblems, wholeSecondsProblems } from './validation';

/** The props the construct resolves before validation (defaults applied; the model name from `modelName` or the gateway). */
export interface ResolvedQualityMonitorProps {
  readonly modelName: string | undefined;
  readonly schedule: Duration;
  readonly labelWindow: Duration;
  readonly lookback: Duration;
}

/** Every problem of `props`, with `resolved` its values after defaults. */
export function modelQualityMonitorProblems(props: ModelQualityMonitorProps, resolved: ResolvedQualityMonitorProps): string[] {
  const { modelName } = resolved;
  const problems: string[] = [];
  if (props.modelName !== undefined && props.gateway !== undefined) problems.push('modelName and gateway: give one (the gateway names its model)');
  if (modelName === undefined) {
    problems.push('modelName: required without a gateway (the model=<name> partition of the prediction logs, labels and baselines)');
  } else if (Token.isUnresolved(modelName)) {
    problems.push('modelName: must be known at synth (it is the S3 prefix the function may read); pass the model name as a string');
  } else {
    try {
      predictionLogModelPrefix(modelName);
    } catch (error) {
      problems.push(`modelName: ${(error as Error).message}`);
    }
  }
  if (!PROBLEM_TYPES.includes(props.problem)) problems.push(`problem: '${String(props.problem)}' must be one of ${PROBLEM_TYPES.join(', ')}`);
  if (props.problem === 'regression') {
    if (props.threshold !== undefined) problems.push('threshold: applies to classification only; remove it (regression quality is MAE and RMSE)');
    if (props.positiveLabel !== undefined) problems.push('positiveLabel: applies to classification only; remove it');
  }
  problems.push(...rangeProblems('threshold', props.threshold, { min: 0, max: 1 }));
  if (props.positiveLabel !== undefined && !Token.isUnresolved(props.positiveLabel) && props.positiveLabel.length === 0) {
    problems.push("positiveLabel: empty; give the class name labels use for the positive class (e.g. 'fraud') or leave it out");
  }
  if (typeof props.scoreOutput !== 'string' || props.scoreOutput.length === 0) {
    problems.push("scoreOutput: name the model output that is the score, e.g. 'score' or 'probabilities[1]'");
  }
  problems.push(...scheduledJobProblems(props));
  const windowRange = { min: Duration.millis(MIN_LABEL_WINDOW_MS), max: Duration.millis(MAX_LOOKBACK_MS), why: 'the days of partitions the function lists grow with it' };
  problems.push(...wholeSecondsProblems('labelWindow', props.labelWindow, windowRange));
  problems.push(...wholeSecondsProblems('lookback', props.lookback, windowRange));
  const labelWindowS = concreteSeconds(resolved.labelWindow);
  const lookbackS = concreteSeconds(resolved.lookback);
  const scheduleS = concreteSeconds(resolved.schedule);
  if (labelWindowS !== undefined && lookbackS !== undefined) {
    problems.push(...labelJoinWindowProblems(labelWindowS * 1000, lookbackS * 1000, { labelWindow: 'labelWindow', lookback: 'lookback' }));
  }
  if (labelWindowS !== undefined && scheduleS !== undefined && labelWindowS < scheduleS) {
    problems.push('labelWindow: shorter than the schedule; labels arriving between two runs would never be joined, so make it at least the schedule');
  }
  return problems;
}
