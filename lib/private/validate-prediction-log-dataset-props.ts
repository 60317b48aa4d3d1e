/**
 * Validation of `PredictionLogDataset` props and of its delivery settings: every problem, each naming the prop and the
 * fix, thrown once by the caller (`throwIfProblems`). Internal: not exported from lib/index.ts.
 */
import { Duration, SizeRoundingBehavior } from 'aws-cdk-lib';
import type { PredictionLogDatasetProps } from '../monitoring/prediction-log-dataset';
import { concreteDays, concreteSeconds, wholeSecondsProblems } from './validation';

/** Firehose's buffering interval range with dynamic partitioning on (seconds). */
export const DYNAMIC_PARTITIONING_INTERVAL = { min: Duration.seconds(60), max: Duration.seconds(900) };
/** Firehose's buffering size range with dynamic partitioning on (MiB). */
export const DYNAMIC_PARTITIONING_SIZE_MIB = { min: 64, max: 128 };

/** Every problem of a dataset's props. */
export function validatePredictionLogDatasetProps(props: PredictionLogDatasetProps): string[] {
  const problems: string[] = [];
  for (const [name, duration] of [['retention', props.retention], ['errorRetention', props.errorRetention], ['accessLogsRetention', props.accessLogsRetention]] as const) {
    const days = concreteDays(duration);
    if (days !== undefined && (days < 1 || !Number.isInteger(days))) {
      problems.push(`${name}: S3 lifecycle rules count whole days; use a whole number of days of at least 1 (got ${days})`);
    }
  }
  problems.push(...wholeSecondsProblems('bufferingInterval', props.bufferingInterval, { ...DYNAMIC_PARTITIONING_INTERVAL, why: "Firehose's range with dynamic partitioning" }));
  const size = props.bufferingSize;
  if (size && !size.isUnresolved()) {
    const mib = size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!Number.isInteger(mib) || mib < DYNAMIC_PARTITIONING_SIZE_MIB.min || mib > DYNAMIC_PARTITIONING_SIZE_MIB.max) {
      problems.push(`bufferingSize: ${mib} MiB must be whole MiB between ${DYNAMIC_PARTITIONING_SIZE_MIB.min} and ${DYNAMIC_PARTITIONING_SIZE_MIB.max} (Firehose's range with dynamic partitioning)`);
    }
  }
  const interval = concreteSeconds(props.bufferingInterval ?? DYNAMIC_PARTITIONING_INTERVAL.min);
  const freshness = concreteSeconds(props.maxDeliveryDelay);
  // Firehose's multi-stage buffering can hold a batch up to 1.5 × the interval before delivery.
  if (interval !== undefined && freshness !== undefined && freshness < interval * 2) {
    problems.push(`maxDeliveryDelay: ${props.maxDeliveryDelay!.toHumanString()} must be at least twice bufferingInterval (${interval} seconds): a healthy stream holds records up to 1.5 × the interval`);
  }
  if (props.databaseName !== undefined && !/^[a-z0-9_]{1,255}$/.test(props.databaseName)) {
    problems.push(`databaseName: '${props.databaseName}' must be lower case letters, digits and underscores (Athena identifiers)`);
  }
  return problems;
}
