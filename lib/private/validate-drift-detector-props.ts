/**
 * Validation of `DriftDetector` props: every problem at once, each naming the prop and the fix; tokens are skipped
 * (checked at deploy). Internal: not exported from lib/index.ts.
 */
import { Duration, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import { MAX_DRIFT_WINDOW_MS, MIN_DRIFT_WINDOW_MS } from '../../runtime/contracts/drift';
import type { DriftDetectorProps } from '../monitoring/drift-detector';
import { concreteSeconds, rangeProblems, wholeSecondsProblems } from './validation';

/** Model names a dataset partition takes (runtime/core/datasets.ts). */
const MODEL_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** Every problem of `props`; `modelName` is the resolved model name (from `modelName` or the gateway). */
export function driftDetectorProblems(props: DriftDetectorProps, modelName: string | undefined): string[] {
  const problems: string[] = [];
  if (props.modelName !== undefined && props.gateway !== undefined) {
    problems.push('modelName and gateway: give one (the gateway names its model)');
  }
  if (modelName === undefined) {
    problems.push('modelName: required without a gateway (the model=<name> partition of the prediction logs and baselines)');
  } else if (!Token.isUnresolved(modelName) && (!MODEL_NAME.test(modelName) || modelName === '.' || modelName === '..')) {
    problems.push(`modelName: '${modelName}' must be 1–128 letters, digits, '.', '_' or '-' (a dataset partition value)`);
  } else if (Token.isUnresolved(modelName)) {
    problems.push('modelName: must be known at synth (it is the S3 prefix the function may read); pass the model name as a string');
  }
  if (props.predictionLogs === false && props.dataCapture === undefined) {
    problems.push('predictionLogs: false leaves nothing to read; keep the prediction logs or add a dataCapture source');
  }
  const endpoint = props.dataCapture;
  const capture = endpoint?.dataCapture;
  if (endpoint && !capture) {
    problems.push(`dataCapture: endpoint ${endpoint.node.path} captures nothing; turn on its dataCapture (ModelEndpointProps.dataCapture, or the dataCapture attribute of fromEndpointAttributes)`);
  }
  if (endpoint && Object.keys(endpoint.modelVersions).length === 0) {
    problems.push(`dataCapture: endpoint ${endpoint.node.path} lists no modelVersions; the captured lines do not carry the version, so it must`);
  }
  if (capture && !Token.isUnresolved(capture.prefix) && (capture.prefix === '' || capture.prefix.startsWith('/') || capture.prefix.endsWith('/'))) {
    problems.push(`dataCapture: the capture prefix '${capture.prefix}' must be non-empty, without a leading or trailing '/' (as DataCaptureProps.prefix)`);
  }
  problems.push(...wholeSecondsProblems('schedule', props.schedule, { min: Duration.minutes(1), max: Duration.days(1), why: 'an EventBridge rate in whole minutes, at most a day so the alarm period fits CloudWatch' }));
  const scheduleSeconds = concreteSeconds(props.schedule);
  if (scheduleSeconds !== undefined && scheduleSeconds % 60 !== 0) {
    problems.push(`schedule: ${props.schedule!.toHumanString()} must be whole minutes (an EventBridge rate and a CloudWatch period)`);
  }
  problems.push(...wholeSecondsProblems('window', props.window, {
    min: Duration.millis(MIN_DRIFT_WINDOW_MS), max: Duration.millis(MAX_DRIFT_WINDOW_MS), why: 'the days of partitions the function lists grow with it',
  }));
  problems.push(...wholeSecondsProblems('timeout', props.timeout, { min: Duration.seconds(30), max: Duration.minutes(15), why: "Lambda's limit, and time to read a window" }));
  problems.push(...rangeProblems('memorySize (MiB)', props.memorySize?.toMebibytes({ rounding: SizeRoundingBehavior.FLOOR }), { min: 256, max: 10_240, integer: true }));
  return problems;
}

