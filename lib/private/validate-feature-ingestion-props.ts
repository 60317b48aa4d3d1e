/**
 * Validation of `FeatureIngestion` props: every problem, each naming the prop and the fix, thrown once by the
 * construct (`throwIfProblems`). Internal: not exported from lib/index.ts.
 */
import { Duration, SizeRoundingBehavior } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { MaterializerVariables } from '../../runtime/contracts/materializer';
import type { FeatureIngestionProps } from '../features/feature-ingestion';
import type { FeatureView } from '../features/feature-view';
import { concreteSeconds, environmentBytes, integerOutOfRange, LAMBDA_ENVIRONMENT_LIMIT_BYTES } from './validation';

/** Longest values the deploy-time names can take (DynamoDB table and S3 bucket name limits); other tokens count as 255 bytes. */
const MAX_NAME_LENGTH: Readonly<Record<string, number>> = {
  [MaterializerVariables.ONLINE_TABLE_NAME]: 255,
  [MaterializerVariables.OFFLINE_BUCKET_NAME]: 63,
};

/**
 * Every problem of an ingestion's props; `environment` is the materializer's environment the props make
 * (`materializerEnvironment`), checked against Lambda's size limit.
 */
export function validateFeatureIngestionProps(props: FeatureIngestionProps, environment: Record<string, string>): string[] {
  const problems: string[] = [];
  const views = props.views ?? [];
  if (views.length === 0) problems.push('views: pass at least one FeatureView of the store');
  const seen = new Set<string>();
  views.forEach((view, i) => {
    if (seen.has(view.name)) problems.push(`views[${i}]: '${view.name}' is given twice; list each view once`);
    seen.add(view.name);
    const notInStore = props.store.membershipProblem(view);
    if (notInStore) problems.push(`views[${i}]: ${notInStore}`);
  });

  const window = concreteSeconds(props.maxBatchingWindow ?? Duration.seconds(1));
  if (window !== undefined && window > 300) problems.push(`maxBatchingWindow: ${window} s exceeds Lambda's 300 s limit; use Duration.minutes(5) or less`);
  for (const view of views) {
    const freshness = view.freshness.toSeconds({ integral: false });
    if (window !== undefined && freshness <= window) {
      problems.push(`maxBatchingWindow: ${window} s makes view '${view.name}''s freshness objective of ${freshness} s unachievable (records wait up to the window before processing); lower maxBatchingWindow below ${freshness} s or raise the view's freshness`);
    }
  }
  if (integerOutOfRange(props.batchSize, 1, 10_000)) problems.push(`batchSize: ${props.batchSize} must be an integer from 1 to 10000 (Kinesis event source limit)`);
  if (integerOutOfRange(props.parallelizationFactor, 1, 10)) problems.push(`parallelizationFactor: ${props.parallelizationFactor} must be an integer from 1 to 10`);
  if (integerOutOfRange(props.retryAttempts, 0, 10_000)) {
    problems.push(`retryAttempts: ${props.retryAttempts} must be an integer from 0 to 10000; unbounded retries (-1) would let one failing batch block its shard`);
  }
  const maxRecordAge = concreteSeconds(props.maxRecordAge);
  if (maxRecordAge !== undefined && (maxRecordAge < 60 || maxRecordAge > 604_800)) {
    problems.push(`maxRecordAge: ${maxRecordAge} s must be from 60 s to 7 days (604800 s); unbounded ages would let one failing batch block its shard`);
  }
  if (integerOutOfRange(props.reservedConcurrentExecutions, 1, Number.MAX_SAFE_INTEGER)) {
    problems.push(`reservedConcurrentExecutions: ${props.reservedConcurrentExecutions} must be a positive integer (0 would stop materialization); leave it unset for unreserved`);
  }
  const memory = props.memorySize && !props.memorySize.isUnresolved() ? props.memorySize.toMebibytes({ rounding: SizeRoundingBehavior.NONE }) : undefined;
  if (integerOutOfRange(memory, 128, 10_240)) problems.push(`memorySize: ${memory} MiB must be a whole number of MiB from 128 to 10240`);
  const timeout = concreteSeconds(props.timeout);
  if (timeout !== undefined && (timeout < 1 || timeout > 900)) problems.push(`timeout: ${timeout} s must be from 1 s to 15 minutes`);

  const streamProps = (['streamMode', 'shardCount', 'streamRetention'] as const).filter((p) => props[p] !== undefined);
  if (props.stream && streamProps.length > 0) {
    problems.push(`${streamProps.join(', ')}: configure only the stream this construct creates; drop them or drop stream`);
  }
  if (props.shardCount !== undefined && props.streamMode !== kinesis.StreamMode.PROVISIONED) {
    problems.push('shardCount: applies to provisioned streams only; set streamMode: StreamMode.PROVISIONED or drop shardCount');
  }
  if (integerOutOfRange(props.shardCount, 1, 100_000)) problems.push(`shardCount: ${props.shardCount} must be a positive integer`);
  const retention = concreteSeconds(props.streamRetention);
  if (retention !== undefined && (retention < 24 * 3600 || retention > 8760 * 3600)) {
    problems.push(`streamRetention: ${retention / 3600} hours must be from 24 hours to 365 days`);
  }

  const environmentProblem = environmentSizeProblem(views, environment);
  if (environmentProblem) problems.push(environmentProblem);
  return problems;
}

/** Lambda caps the environment at 4 KB; the view specs travel in it. */
function environmentSizeProblem(views: readonly FeatureView[], environment: Record<string, string>): string | undefined {
  const size = environmentBytes(environment, (name) => MAX_NAME_LENGTH[name] ?? 255);
  if (size <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return undefined;
  const perView = views.map((v) => `${v.name} ${Buffer.byteLength(JSON.stringify(v.toSpec()))} B`).join(', ');
  return `views: the materializer's environment would take up to ${size} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit `
    + `(${MaterializerVariables.FEATURE_VIEWS} holds every view spec: ${perView}); split the views across several FeatureIngestion constructs or shorten their descriptions`;
}
