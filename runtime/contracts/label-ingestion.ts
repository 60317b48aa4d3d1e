/**
 * The label ingestion's contract, defined once: the Lambda environment the LabelIngestion construct writes
 * (`labelIngestionEnvironment`) and the label ingestion handler reads (`parseLabelIngestionEnvironment`), and the
 * dead letter it sends for each label it refuses. The label itself is validated by ../core/labels.ts and stored as
 * ../core/datasets.ts says. Pure: imports only other pure modules.
 */
import { isPartitionValue } from '../core/datasets';
import { METRICS_NAMESPACE } from '../core/metrics';
import { Environment, EnvironmentReader } from './environment';
import { SharedVariables } from './shared';

/** Bundle name of the label ingestion's Lambda handler (runtime/handlers/label-ingestion-handler.ts). */
export const LABEL_INGESTION_HANDLER = 'label-ingestion-handler';

/** Names of the label ingestion's environment variables. */
export const LabelIngestionVariables = {
  /** S3 bucket of the label dataset: labels are written under `labels/`. */
  DATASET_BUCKET_NAME: 'LABEL_DATASET_BUCKET_NAME',
  /** JSON array of the model names labels are accepted for. */
  MODELS: 'LABEL_MODELS',
  /** URL of the SQS queue refused labels are sent to, each with its reason. */
  DEAD_LETTER_QUEUE_URL: 'LABEL_DEAD_LETTER_QUEUE_URL',
  /** CloudWatch namespace of the metrics (optional). */
  METRICS_NAMESPACE: SharedVariables.METRICS_NAMESPACE,
} as const;

/** The label ingestion's settings, as the construct writes them and the handler reads them. */
export interface LabelIngestionSettings {
  /** The label dataset's bucket name (a CloudFormation token on the construct side). */
  readonly datasetBucketName: string;
  /** The models labels are accepted for. */
  readonly models: readonly string[];
  /** The dead-letter queue's URL (a CloudFormation token on the construct side). */
  readonly deadLetterQueueUrl: string;
  /**
   * CloudWatch namespace of the metrics.
   * @default METRICS_NAMESPACE of runtime/core/metrics.ts
   */
  readonly metricsNamespace?: string;
}

const V = LabelIngestionVariables;

/** The label ingestion's Lambda environment for `settings` (the metrics namespace always written, its default when unset). */
export function labelIngestionEnvironment(settings: LabelIngestionSettings): Record<string, string> {
  return {
    [V.DATASET_BUCKET_NAME]: settings.datasetBucketName,
    [V.MODELS]: JSON.stringify(settings.models),
    [V.DEAD_LETTER_QUEUE_URL]: settings.deadLetterQueueUrl,
    [V.METRICS_NAMESPACE]: settings.metricsNamespace ?? METRICS_NAMESPACE,
  };
}

/** Reads the label ingestion's settings from its environment; throws one error listing every problem. */
export function parseLabelIngestionEnvironment(env: Environment): Required<LabelIngestionSettings> {
  const read = new EnvironmentReader(env, LABEL_INGESTION_HANDLER, 'the LabelIngestion construct');
  const datasetBucketName = read.required(V.DATASET_BUCKET_NAME);
  const deadLetterQueueUrl = read.required(V.DEAD_LETTER_QUEUE_URL);
  const models = read.json<unknown>(V.MODELS, 'a JSON array of model names');
  if (models !== undefined && (!Array.isArray(models) || models.length === 0 || !models.every(isPartitionValue))) {
    read.problem(`${V.MODELS} must be a non-empty JSON array of model names (1–128 letters, digits, '.', '_' or '-')`);
  }
  read.throwIfProblems();
  return {
    datasetBucketName,
    models: models as string[],
    deadLetterQueueUrl,
    metricsNamespace: read.optional(V.METRICS_NAMESPACE) ?? METRICS_NAMESPACE,
  };
}


/** Where a refused label came from. */
export type LabelSource =
  | { readonly kind: 'kinesis'; readonly shardId: string; readonly sequenceNumber: string }
  /** A line of a dropped file: `line` counts from 1; 0 stands for the whole file (refused unread, e.g. too large). */
  | { readonly kind: 's3'; readonly bucket: string; readonly key: string; readonly line: number };

/**
 * The body of a dead letter (one SQS message per refused label, JSON): why it was refused, where it came from, and
 * its text (cut to `DEAD_LETTER_DATA_BYTES` once escaped, `truncated` then set), so a fix can be re-sent.
 */
export interface LabelDeadLetter {
  /** Why the label was refused: every problem, each naming the field and the fix. */
  readonly reason: string;
  /** Where it came from: a Kinesis record (shard, sequence number) or a line of a dropped file (bucket, key, 1-based line). */
  readonly source: LabelSource;
  /** The label's text as received (UTF-8 decoded), possibly cut: at most `DEAD_LETTER_DATA_BYTES` as escaped in the body. */
  readonly data: string;
  /** Whether `data` was cut. */
  readonly truncated: boolean;
  /** When it was refused, ISO-8601 UTC. */
  readonly refusedAt: string;
}

/**
 * Most bytes of a label's text kept in its dead letter, counted as the text is escaped in the message body (UTF-8 of
 * its JSON string: a control character or a lone surrogate takes 6 bytes there), so a letter stays small whatever
 * the text holds.
 */
export const DEAD_LETTER_DATA_BYTES = 8192;

/**
 * Most refused lines of one dropped file dead-lettered one by one (`LabelDeadLetter`, the first ones in the file); the
 * others are summed up in one `LabelDropSummary`, so a file of bad lines costs a bounded number of messages.
 */
export const MAX_DEAD_LETTERS_PER_DROP = 1000;

/**
 * The one dead letter of a dropped file with more than `MAX_DEAD_LETTERS_PER_DROP` refused lines (sent with their
 * letters, once per delivery of the file): how many lines were refused, by reason.
 */
export interface LabelDropSummary {
  /** What happened and the fix. */
  readonly reason: string;
  /** The file (`line` 0: the whole file). */
  readonly source: Extract<LabelSource, { kind: 's3' }>;
  /** Lines of the file refused. */
  readonly refusedLines: number;
  /** Of those, the ones dead-lettered one by one (the first in the file). */
  readonly deadLetteredLines: number;
  /**
   * Refused lines by reason: each line's first problem, its field and leading words (e.g. `label: not JSON`,
   * `labelTime: expected ISO`), most frequent first; at most 20, the rest under `other reasons`.
   */
  readonly reasons: Readonly<Record<string, number>>;
  /** When the file was read, ISO-8601 UTC. */
  readonly refusedAt: string;
}
