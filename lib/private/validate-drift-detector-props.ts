/**
 * Validation of `DriftDetector` props: every problem at once, each naming the prop and the fix; tokens are skipped
 * (checked at deploy). Internal: not exported from lib/index.ts.
 */
import { Duration, Token, Tokenization } from 'aws-cdk-lib';
import { DriftModelSettings, DriftVariables, MAX_DRIFT_WINDOW_MS, MIN_DRIFT_WINDOW_MS } from '../../runtime/contracts/drift';
import { isPartitionValue } from '../../runtime/core/datasets';
import type { DriftDetectorProps } from '../monitoring/drift-detector';
import { scheduledJobProblems } from './scheduled-job';
import { environmentBytes, LAMBDA_ENVIRONMENT_LIMIT_BYTES, wholeSecondsProblems } from './validation';

/** Longest value of a deploy-time name in the environment (an S3 bucket name, a SageMaker endpoint name), bytes. */
const MAX_NAME_BYTES = 63;

/** Bytes of a value at most, each token in it (e.g. the capture bucket's name inside the models JSON) counted as a name. */
function valueBytes(value: string): number {
  const longest = Tokenization.reverseString(value).mapTokens({ mapToken: () => 'x'.repeat(MAX_NAME_BYTES) });
  return Buffer.byteLength(String(longest.join({ join: (left, right) => `${left}${right}` })));
}

/**
 * The problem of an environment over Lambda's 4 KB, if it is: the models JSON carries the input column names (by
 * default the gateway's `featureRefs`) and the detection options, which grow with the model.
 */
function environmentSizeProblem(props: DriftDetectorProps, environment: Record<string, string>, model: DriftModelSettings): string | undefined {
  const bytes = environmentBytes(environment, (name) => valueBytes(environment[name]));
  if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return undefined;
  const columns = model.inputColumns ?? [];
  const columnBytes = Buffer.byteLength(JSON.stringify(columns));
  const detectionBytes = model.detection ? Buffer.byteLength(JSON.stringify(model.detection)) : 0;
  const source = props.inputColumns === undefined && props.gateway ? ", by default the gateway's featureRefs" : '';
  return `${columnBytes >= detectionBytes ? 'inputColumns' : 'detection'}: the drift function's environment would take ${bytes} bytes, over Lambda's `
    + `${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit (${DriftVariables.MODELS} holds the ${columns.length} input column names${source}: ${columnBytes} B, `
    + `and the detection options: ${detectionBytes} B); pass inputColumns: [] when the model's predictions reach the dataset only through the gateway `
    + '(its lines name their features: the column names only name raw tensors of the server\'s own log and data capture), or give fewer per-column detection options';
}

/**
 * Every problem of `props`; `modelName` is the resolved model name (from `modelName` or the gateway), `environment`
 * the function's (checked against Lambda's size limit) and `model` the settings in it.
 */
export function driftDetectorProblems(props: DriftDetectorProps, modelName: string | undefined, environment: Record<string, string>, model: DriftModelSettings): string[] {
  const problems: string[] = [];
  if (props.modelName !== undefined && props.gateway !== undefined) {
    problems.push('modelName and gateway: give one (the gateway names its model)');
  }
  if (modelName === undefined) {
    problems.push('modelName: required without a gateway (the model=<name> partition of the prediction logs and baselines)');
  } else if (!Token.isUnresolved(modelName) && !isPartitionValue(modelName)) {
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
  problems.push(...scheduledJobProblems(props));
  problems.push(...wholeSecondsProblems('window', props.window, {
    min: Duration.millis(MIN_DRIFT_WINDOW_MS), max: Duration.millis(MAX_DRIFT_WINDOW_MS), why: 'the days of partitions the function lists grow with it',
  }));
  const environmentProblem = environmentSizeProblem(props, environment, model);
  if (environmentProblem) problems.push(environmentProblem);
  return problems;
}

