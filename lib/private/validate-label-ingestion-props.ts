/**
 * Validation of `LabelIngestion` props: every problem, each naming the prop and the fix, thrown once by the construct
 * (`throwIfProblems`). Internal: not exported from lib/index.ts.
 */
import { LabelIngestionVariables } from '../../runtime/contracts/label-ingestion';
import { isPartitionValue } from '../../runtime/core/datasets';
import type { LabelIngestionProps } from '../monitoring/label-ingestion';
import { concreteSeconds, environmentBytes, integerOutOfRange, LAMBDA_ENVIRONMENT_LIMIT_BYTES } from './validation';

/** Longest values the deploy-time names can take (S3 bucket names, SQS queue URLs); other tokens count as 255 bytes. */
const MAX_NAME_LENGTH: Readonly<Record<string, number>> = {
  [LabelIngestionVariables.DATASET_BUCKET_NAME]: 63,
  [LabelIngestionVariables.DEAD_LETTER_QUEUE_URL]: 200,
};

/** Every problem of a label ingestion's props; `environment` is the function's (checked against Lambda's size limit). */
export function validateLabelIngestionProps(props: LabelIngestionProps, environment: Record<string, string>): string[] {
  const problems: string[] = [];
  const models = props.models ?? [];
  if (models.length === 0) problems.push('models: name at least one model whose labels this ingestion accepts');
  const seen = new Set<string>();
  models.forEach((model, i) => {
    if (!isPartitionValue(model)) problems.push(`models[${i}]: '${String(model).slice(0, 64)}' is not a model name; use 1–128 letters, digits, '.', '_' or '-' (the name the model is served under)`);
    else if (seen.has(model)) problems.push(`models[${i}]: '${model}' is given twice; list each model once`);
    seen.add(model);
  });
  if (integerOutOfRange(props.batchSize, 1, 10_000)) problems.push(`batchSize: ${props.batchSize} must be an integer from 1 to 10000 (Kinesis event source limit)`);
  const maxAge = concreteSeconds(props.maxIteratorAge);
  if (maxAge !== undefined && (maxAge < 60 || maxAge > 86_400)) {
    problems.push(`maxIteratorAge: ${maxAge} s must be from 1 minute to 1 day (the stream keeps records 24 hours by default)`);
  }
  const bytes = environmentBytes(environment, (name) => MAX_NAME_LENGTH[name] ?? 255);
  if (bytes > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    problems.push(`models: the function's environment would take ${bytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}; split the models over several LabelIngestions`);
  }
  return problems;
}
