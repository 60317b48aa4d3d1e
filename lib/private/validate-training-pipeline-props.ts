/**
 * Validation of `TrainingPipeline` props: every problem at once, each naming the prop and the fix; tokens are skipped
 * (checked at deploy). The gate specs are checked by the gates' own validators (runtime/core/training), the same code
 * the steps run. Internal: not exported from lib/index.ts.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { resolveFeatureRefs } from '../features/spec';
import { dataGateSpecProblems } from '../../runtime/core/training/data-gate';
import { modelGateSpecProblems } from '../../runtime/core/training/model-gate';
import { dataGateSettings } from '../training/data-gate-settings';
import type { TrainingPipelineProps } from '../training/training-pipeline';

/** Names a SageMaker model package group takes. */
const PACKAGE_GROUP_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** Glue table names (`table` or `database.table`). */
const SPINE_TABLE = /^[a-z0-9_]{1,255}(\.[a-z0-9_]{1,255})?$/;

/** Longest an execution of the pipeline runs (its state machine's timeout). */
export const PIPELINE_TIMEOUT = Duration.days(5);

/**
 * Problems of a Batch trainer: every attempt at its timeout must fit the execution's timeout, or a job still retrying
 * spot reclaims is cut off by the state machine instead of by its own limits.
 */
export function batchTrainerProblems(attempts: number, attemptTimeout: Duration): string[] {
  if (Token.isUnresolved(attempts) || Token.isUnresolved(attemptTimeout.toSeconds())) return [];
  const total = attempts * attemptTimeout.toSeconds();
  if (total <= PIPELINE_TIMEOUT.toSeconds()) return [];
  return [`trainer: ${attempts} attempts × ${attemptTimeout.toHumanString()} per attempt = ${Duration.seconds(total).toHumanString()} exceeds the pipeline's `
    + `${PIPELINE_TIMEOUT.toHumanString()} (its state machine timeout): lower Trainer.batch's timeout (one attempt's limit) to at most `
    + `${Duration.seconds(Math.floor(PIPELINE_TIMEOUT.toSeconds() / attempts)).toHumanString()}, or the fleet's attempts`];
}

/** Every problem of `props`. */
export function validateTrainingPipelineProps(props: TrainingPipelineProps): string[] {
  const problems: string[] = [];
  if (!Token.isUnresolved(props.modelName) && !PACKAGE_GROUP_NAME.test(props.modelName)) {
    problems.push(`modelName: '${props.modelName}' is not a model package group name: 1-63 letters, digits and single hyphens, starting and ending with a letter or digit`);
  }
  if (props.views.length === 0) problems.push('views: give the feature views the training set reads');
  if (props.featureRefs.length === 0) problems.push("featureRefs: give the features of the training set, 'view:feature'");
  else {
    try {
      resolveFeatureRefs(props.views.map((v) => v.toSpec()), props.featureRefs);
    } catch (e) {
      problems.push(`featureRefs: ${(e as Error).message}`);
    }
  }
  if (!SPINE_TABLE.test(props.spineTable)) problems.push(`spineTable: '${props.spineTable}' is not 'table' or 'database.table' (lower case letters, digits, '_')`);
  problems.push(...dataGateSpecProblems(dataGateSettings(props)).map((p) => `dataGate: ${p}`));
  problems.push(...modelGateSpecProblems(props.modelGate).map((p) => `modelGate: ${p}`));
  const price = props.modelGate.servingPricePerHour;
  if (price !== undefined && (!Number.isFinite(price) || price <= 0)) problems.push(`modelGate.servingPricePerHour: ${price} is not a positive price per hour`);
  if (props.modelGate.serving?.maxCostPer1000 !== undefined && price === undefined) {
    problems.push('modelGate.servingPricePerHour: required with serving.maxCostPer1000 (the cost is the price over the measured throughput)');
  }
  if (props.schedule && !props.scheduledRunInput) {
    problems.push('scheduledRunInput: a schedule needs the lineage its runs record: pass { codeVersion: \'<git sha>\', imageDigest: \'sha256:<64 hex>\' } of the deployed training image');
  }
  const runInput = props.scheduledRunInput;
  if (runInput && !Token.isUnresolved(runInput.imageDigest ?? '') && !/^sha256:[a-f0-9]{64}$/.test(runInput.imageDigest ?? '')) {
    problems.push(`scheduledRunInput.imageDigest: '${runInput.imageDigest}' must look like 'sha256:<64 hex digits>'`);
  }
  if (runInput && !Token.isUnresolved(runInput.codeVersion ?? '') && !runInput.codeVersion) {
    problems.push('scheduledRunInput.codeVersion: give the training code\'s version (a git SHA)');
  }
  if (props.schedule && !Token.isUnresolved(props.schedule.toSeconds()) && props.schedule.toHours({ integral: false }) < 1) {
    problems.push(`schedule: ${props.schedule.toHumanString()} is shorter than an hour; a retraining takes longer, give at least Duration.hours(1)`);
  }
  if (!props.inferenceImageUri) problems.push('inferenceImageUri: give the serving image recorded in the model package');
  return problems;
}
