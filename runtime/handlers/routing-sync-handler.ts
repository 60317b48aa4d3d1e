/**
 * Lambda entry point that makes SageMaker follow the routing table (DynamoDB stream, NEW_AND_OLD_IMAGES, event source
 * mapping with ReportBatchItemFailures): for each model whose weights or endpoint changed, it calls
 * `UpdateEndpointWeightsAndCapacities` with the table's weights, so callers that bypass the gateway get the same split.
 *
 * - Only the state at the end of a batch matters: of several changes of one model, the last one is pushed, and
 *   nothing is pushed when a model ends the batch as it began it.
 * - An endpoint that is updating (SageMaker refuses a weights update meanwhile), throttling, a 5xx or a network
 *   failure is retried in the invocation with backoff for `retryForMs`, then the record is reported as a batch item
 *   failure — the first record of every model not pushed yet, so that each keeps its state before — and the mapping
 *   retries from it (the later records too, so an older change never lands after a newer one) and, after its
 *   retries, sends the batch's position to the on-failure queue.
 * - A record that cannot be read (no new image, a malformed item) or a change SageMaker refuses (an unknown variant, an
 *   endpoint that does not exist, access denied) is reported — a log line with a stable reason and the
 *   `RoutingWeightsRefused` metric — and never retried nor allowed to fail the batch.
 *
 * Environment: none of its own. Region, credentials and endpoint come from the AWS SDK's environment
 * (`AWS_REGION`, `AWS_ENDPOINT_URL_SAGEMAKER`, ...).
 */
import { setTimeout as sleep } from 'timers/promises';
import { SageMakerClient, UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { MetricDimensions, METRICS_NAMESPACE, toEmf } from '../core/metrics';
import { backoffDelayMs } from '../core/retry';
import { decodeRoutingItem, DynamoItem, RoutingAttributes, RoutingEntry, RoutingSyncMetrics, timerDelayMs } from '../core/routing';

/** Default deadline of one SageMaker call (SDK retries included), milliseconds. */
export const DEFAULT_SYNC_CALL_TIMEOUT_MS = 5000;
/** Default time the handler keeps retrying a retryable failure before handing the record back to the mapping, milliseconds. */
export const DEFAULT_SYNC_RETRY_FOR_MS = 60_000;
/** Time kept free before the function's timeout when retrying, milliseconds. */
const TIMEOUT_MARGIN_MS = 10_000;

/** Why a change was not pushed (stable codes, in the log's `reason`). */
export type RoutingSyncRefusal = 'invalid-record' | 'unknown-variant' | 'endpoint-not-found' | 'access-denied' | 'refused-by-sagemaker';

/** Properties of `createRoutingSync`. */
export interface RoutingSyncProps {
  /** The SageMaker client. */
  readonly sagemaker: SageMakerClient;
  /**
   * Deadline of each SageMaker call, milliseconds.
   * @default DEFAULT_SYNC_CALL_TIMEOUT_MS
   */
  readonly callTimeoutMs?: number;
  /**
   * How long a retryable failure is retried in the invocation (bounded by the function's remaining time), milliseconds.
   * @default DEFAULT_SYNC_RETRY_FOR_MS
   */
  readonly retryForMs?: number;
  /**
   * First backoff between retries, milliseconds (full jitter, doubling, at most 10 s).
   * @default 1000
   */
  readonly retryBaseMs?: number;
  /**
   * Where log lines (EMF metrics, refusals) go.
   * @default - stdout, one raw line each
   */
  readonly log?: (line: string) => void;
  /**
   * CloudWatch namespace of the metrics.
   * @default METRICS_NAMESPACE
   */
  readonly metricsNamespace?: string;
}

/** A DynamoDB stream batch handler answering with a partial batch response. */
export type RoutingSyncHandler = (event: DynamoDBStreamEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<DynamoDBBatchResponse>;

/** What became of one model's change. */
type Outcome =
  | { readonly kind: 'applied' | 'skipped' }
  | { readonly kind: 'refused'; readonly reason: RoutingSyncRefusal; readonly detail: string }
  | { readonly kind: 'retry'; readonly detail: string };

/** The model a record is about; '' when its key cannot be read. */
function modelOf(record: DynamoDBRecord): string {
  const key = record.dynamodb?.Keys?.[RoutingAttributes.MODEL]?.S;
  return typeof key === 'string' ? key : '';
}

/** The endpoint and weights SageMaker should have after an image; undefined without an endpoint. */
function target(entry: RoutingEntry | undefined): string | undefined {
  return entry?.endpointName === undefined ? undefined : JSON.stringify([entry.endpointName, entry.variants]);
}

/** Is a SageMaker failure worth retrying? An updating endpoint, throttling, a 5xx, a timeout or no answer at all. */
function isRetryable(error: Error & { $metadata?: { httpStatusCode?: number }; $retryable?: unknown }): boolean {
  if (error.name === 'ValidationException') return /in-progress|is (updating|creating)|status (updating|creating|systemupdating)/i.test(error.message);
  const status = error.$metadata?.httpStatusCode;
  return status === undefined || status >= 500 || status === 429 || Boolean(error.$retryable)
    || ['ThrottlingException', 'TimeoutError', 'AbortError'].includes(error.name);
}

/** The stable reason of a refused change. */
function refusalOf(error: Error): RoutingSyncRefusal {
  if (error.name === 'AccessDeniedException') return 'access-denied';
  if (/variant/i.test(error.message)) return 'unknown-variant';
  if (/could not find|not found|does not exist/i.test(error.message)) return 'endpoint-not-found';
  return 'refused-by-sagemaker';
}

/** Builds the sync's batch handler over a SageMaker client. */
export function createRoutingSync(props: RoutingSyncProps): RoutingSyncHandler {
  const log = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const callTimeoutMs = props.callTimeoutMs ?? DEFAULT_SYNC_CALL_TIMEOUT_MS;
  const retryBaseMs = props.retryBaseMs ?? 1000;
  const metric = (model: string, name: string) => log(toEmf(
    { [MetricDimensions.MODEL]: model || '_unknown' }, [{ name, value: 1, unit: 'Count' }], { namespace: props.metricsNamespace ?? METRICS_NAMESPACE },
  ));

  /** Pushes `entry`'s weights to its endpoint, retrying retryable failures until `retryUntil` (epoch ms). */
  async function push(entry: RoutingEntry & { endpointName: string }, retryUntil: number): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        await props.sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({
          EndpointName: entry.endpointName,
          DesiredWeightsAndCapacities: entry.variants.map((v) => ({ VariantName: v.name, DesiredWeight: v.weight })),
        }), { abortSignal: AbortSignal.timeout(timerDelayMs(callTimeoutMs)) });
        return { kind: 'applied' };
      } catch (caught) {
        const error = caught instanceof Error ? caught : new Error(String(caught));
        if (!isRetryable(error)) return { kind: 'refused', reason: refusalOf(error), detail: `${error.name}: ${error.message}` };
        const delay = Math.ceil(backoffDelayMs(attempt, retryBaseMs, 10_000));
        if (Date.now() + delay >= retryUntil) return { kind: 'retry', detail: `${error.name}: ${error.message}` };
        await sleep(delay);
      }
    }
  }

  /** The outcome of a model's last record in the batch; `first` is the model's first record (its state before). */
  async function sync(first: DynamoDBRecord, last: DynamoDBRecord, retryUntil: number): Promise<Outcome> {
    if (last.eventName === 'REMOVE') return { kind: 'skipped' };
    const image = last.dynamodb?.NewImage;
    if (!image) return { kind: 'refused', reason: 'invalid-record', detail: 'the record has no new image: the table stream must be NEW_AND_OLD_IMAGES' };
    let entry: RoutingEntry;
    try {
      entry = decodeRoutingItem(image as DynamoItem);
    } catch (error) {
      return { kind: 'refused', reason: 'invalid-record', detail: `the item is malformed: ${(error as Error).message}` };
    }
    const before = first.dynamodb?.OldImage;
    let previous: RoutingEntry | undefined;
    try {
      previous = before ? decodeRoutingItem(before as DynamoItem) : undefined;
    } catch {
      previous = undefined; // an unreadable old state: push the new one
    }
    if (entry.endpointName === undefined || target(entry) === target(previous)) return { kind: 'skipped' };
    return push(entry as RoutingEntry & { endpointName: string }, retryUntil);
  }

  return async (event, context) => {
    const started = Date.now();
    const remaining = context?.getRemainingTimeInMillis?.() ?? Infinity;
    const retryUntil = Math.min(started + (props.retryForMs ?? DEFAULT_SYNC_RETRY_FOR_MS), started + remaining - TIMEOUT_MARGIN_MS);
    const records = event.Records;
    const models = records.map(modelOf);
    // Each model's first record (its state before the batch, in the old image) and last one (its state after).
    const firsts = new Map<string, number>();
    const lasts = new Map<string, number>();
    models.forEach((model, i) => {
      if (model === '') return;
      if (!firsts.has(model)) firsts.set(model, i);
      lasts.set(model, i);
    });
    for (let i = 0; i < records.length; i++) {
      const model = models[i];
      // Only the last record of a model in the batch is pushed: it holds the weights the model ends the batch with.
      if (model !== '' && lasts.get(model) !== i) continue;
      const first = model === '' ? i : firsts.get(model)!;
      let outcome: Outcome;
      try {
        outcome = model === ''
          ? { kind: 'refused', reason: 'invalid-record', detail: `the record's key has no string '${RoutingAttributes.MODEL}'` }
          : await sync(records[first], records[i], retryUntil);
      } catch (error) {
        // A defect must not fail the batch (and block the stream): the record is reported like a refused one.
        outcome = { kind: 'refused', reason: 'invalid-record', detail: `unexpected: ${String((error as Error)?.message ?? error)}` };
      }
      if (outcome.kind === 'applied') metric(model, RoutingSyncMetrics.APPLIED);
      if (outcome.kind === 'refused') {
        metric(model, RoutingSyncMetrics.REFUSED);
        log(JSON.stringify({
          level: 'ERROR', message: 'routing weights not pushed to SageMaker; the endpoint does not follow the table until the next change',
          model: model.slice(0, 256), reason: outcome.reason, detail: outcome.detail.slice(0, 1000), sequenceNumber: records[i].dynamodb?.SequenceNumber,
        }));
      }
      if (outcome.kind === 'retry') {
        log(JSON.stringify({
          level: 'WARN', message: 'SageMaker did not take the weights yet; the stream retries from the first change of every model not pushed yet',
          model: model.slice(0, 256), detail: outcome.detail.slice(0, 1000), sequenceNumber: records[i].dynamodb?.SequenceNumber,
        }));
        // Retried from the first record of every model not pushed yet (this one and those whose last record comes
        // later), so the retried batch still holds each one's state before (its old image): a model left out would be
        // compared with a state SageMaker never had and could be skipped. Models pushed again change nothing.
        const from = Math.min(...[...lasts].filter(([, last]) => last >= i).map(([pending]) => firsts.get(pending)!));
        return { batchItemFailures: [{ itemIdentifier: records[from].dynamodb?.SequenceNumber ?? '' }] };
      }
    }
    return { batchItemFailures: [] };
  };
}

/** The Lambda handler. */
export const handler: RoutingSyncHandler = createRoutingSync({ sagemaker: new SageMakerClient({}) });
