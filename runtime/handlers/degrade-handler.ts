/**
 * Lambda entry point of the cost guard's degrade action (BudgetDegrade), subscribed to the SNS topic AWS Budgets
 * notifies: on a notification its trigger accepts (by default ACTUAL spend at or above 100 % of the budget), it
 * applies the configured actions (runtime/aws/degrade-actions.ts) and records each one's state before and after in
 * the ledger, so that `npm run degrade -- revert` restores them.
 *
 * - Once per budget and month (`degradeId`): the ledger claim is a conditional write, so a repeated delivery, a
 *   higher threshold or a concurrent invocation does not degrade twice.
 * - Anything else on the topic is logged with a stable reason and ignored, never thrown: another budget or a warning
 *   threshold (INFO), a CloudWatch alarm notification (INFO: the topic may be shared with alarms), and anything else —
 *   not text, 1 MB of it, or a Budgets message in a format this code cannot read — at WARN and counted as the EMF
 *   metric `DegradeMetrics.UNPARSED_NOTIFICATIONS`, which the construct alarms on: a changed format must not
 *   silently disable the degrade.
 * - Each action's BEFORE is recorded (`applying`) before its change, so a crash between the change and its record
 *   loses nothing: the retry keeps that BEFORE and a revert restores it.
 * - An action that fails (an endpoint updating, throttling, a routing table unreachable) is recorded as failed and the
 *   others still run; any failure (an action, the ledger) marks the degrade `failed` and is thrown, so Lambda retries
 *   it (twice, asynchronous invocation) and each retry resumes only the actions still pending. A retry that finds the
 *   degrade `applying` (another invocation, or one that died less than the stale cut-off ago: the function's timeout
 *   plus a margin, `DegradeVariables.STALE_AFTER_MS`) throws too, so it is retried again and never reported done;
 *   after the retries the event goes to the function's dead-letter queue, whose alarm pages someone.
 *
 * Environment: the contract in runtime/contracts/degrade.ts. Region, credentials and endpoints come from the AWS SDK's
 * environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...).
 */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { SNSEvent } from 'aws-lambda';
import { DEGRADE_FUNCTION_TIMEOUT_S, DegradeSettings, degradeStaleAfterMs, parseDegradeEnvironment } from '../contracts/degrade';
import {
  DEFAULT_DEGRADE_TRIGGER, degradeId, degradeReason, DegradeRecord, ignoredReason, parseBudgetNotification, pendingActions, unrecognisedKind,
} from '../core/degrade';
import { DegradeMetricDimensions, DegradeMetrics, toEmf } from '../core/metrics';
import { applyDegradeAction, DegradeClients } from '../aws/degrade-actions';
import { claimDegrade, finishDegrade, recordAction } from '../aws/degrade-ledger';

/** Properties of `createDegradeHandler`. */
export interface DegradeHandlerProps {
  /** What to degrade, on which notifications, and where the ledger is. */
  readonly settings: DegradeSettings;
  /** The clients the actions and the ledger call (the ledger uses `dynamodb`). */
  readonly clients: DegradeClients;
  /**
   * Where log lines go.
   * @default - stdout, one JSON line each
   */
  readonly log?: (line: string) => void;
}

/** An SNS event handler. */
export type DegradeHandler = (event: SNSEvent) => Promise<void>;

/** A degrade with actions that failed: thrown after the ledger has them, so Lambda retries the invocation. */
export class DegradeIncompleteError extends Error {
  constructor(public readonly id: string, public readonly failed: number) {
    super(`degrade ${id}: ${failed} action(s) failed (see the ledger and the log); the retry resumes them`);
    this.name = 'DegradeIncompleteError';
  }
}

/**
 * A degrade another invocation is applying (or one that died, not stale yet): thrown so that Lambda retries the
 * notification later (a retry past the stale cut-off resumes it) and, after the retries, it reaches the dead-letter
 * queue: never reported as done while it is not.
 */
export class DegradeBusyError extends Error {
  constructor(public readonly id: string, public readonly staleAfterMs: number) {
    super(`degrade ${id} is being applied by another invocation (or one that died less than ${staleAfterMs} ms ago): retried later`);
    this.name = 'DegradeBusyError';
  }
}

/** Builds the handler over its settings and clients. */
export function createDegradeHandler(props: DegradeHandlerProps): DegradeHandler {
  const { settings, clients } = props;
  const trigger = settings.trigger ?? DEFAULT_DEGRADE_TRIGGER;
  const ledger = { client: clients.dynamodb, tableName: settings.ledgerTableName };
  const staleAfterMs = settings.staleAfterMs ?? degradeStaleAfterMs(DEGRADE_FUNCTION_TIMEOUT_S);
  const now = clients.now ?? Date.now;
  const write = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = (level: string, message: string, fields: Record<string, unknown>) => write(JSON.stringify({ level, message, ...fields }));

  /** Applies the degrade a notification triggers, unless it was applied already. */
  async function degrade(message: string, messageId: string, notifiedAt: Date): Promise<void> {
    const notification = parseBudgetNotification(message)!;
    const id = degradeId(notification.budgetName, notifiedAt);
    const at = new Date(now());
    const claim = await claimDegrade(ledger, {
      id, notification, messageId, plan: settings.actions, at: at.toISOString(), staleBefore: new Date(at.getTime() - staleAfterMs).toISOString(),
    });
    if (claim.kind === 'busy') {
      log('WARN', 'budget notification deferred: this degrade is being applied (or its invocation died recently); thrown so Lambda retries it', { reason: 'degrade-busy', id, messageId });
      throw new DegradeBusyError(id, staleAfterMs);
    }
    if (claim.kind === 'duplicate') {
      log('INFO', 'budget notification ignored: this budget was degraded already this month', { reason: 'already-degraded', id, messageId, status: claim.status });
      return;
    }
    try {
      await applyPending(claim.record);
    } catch (error) {
      // Whatever stopped the work (an action, the ledger), the degrade must not stay `applying`: a retry resumes a `failed` one.
      await finishDegrade(ledger, id, 'failed').catch((cause: Error) => log('ERROR', 'could not mark the degrade failed; a retry past the stale cut-off resumes it', { id, error: `${cause.name}: ${cause.message}` }));
      throw error;
    }
  }

  /** Applies a claimed degrade's pending actions, each BEFORE recorded ahead of its change; marks it applied or throws. */
  async function applyPending(record: DegradeRecord): Promise<void> {
    const { id } = record;
    const reason = degradeReason(record);
    let failed = 0;
    for (const index of pendingActions(record)) {
      const stored = record.actions[String(index)];
      const done = await applyDegradeAction(clients, record.plan[index], {
        reason, stored, recordBefore: (before) => recordAction(ledger, id, index, { outcome: 'applying', at: new Date(now()).toISOString(), before }),
      });
      await recordAction(ledger, id, index, done);
      if (done.outcome === 'failed') failed++;
      log(done.outcome === 'failed' ? 'ERROR' : 'INFO', `degrade action ${done.outcome}`, { id, action: index, spec: record.plan[index], before: done.before, after: done.after, error: done.error });
    }
    if (failed > 0) throw new DegradeIncompleteError(id, failed);
    await finishDegrade(ledger, id, 'applied');
    log('WARN', `degraded: every action applied; revert with npm run degrade -- revert --id '${id}'`, { id, notification: record.notification, attempt: record.attempts });
  }

  /** A message that is not a budget notification: a CloudWatch alarm is expected on a shared topic; anything else is counted. */
  function unrecognised(message: unknown, messageId: string): void {
    const fields = { messageId, messageChars: typeof message === 'string' ? message.length : undefined };
    if (unrecognisedKind(message) === 'cloudwatch-alarm') {
      log('INFO', 'message ignored: a CloudWatch alarm notification on the shared topic', { reason: 'cloudwatch-alarm', ...fields });
      return;
    }
    log('WARN', 'message not understood: not a budget notification this function can read (a changed Budgets format would disable the degrade)', { reason: 'unparsed-notification', ...fields });
    write(toEmf({ [DegradeMetricDimensions.LEDGER]: settings.ledgerTableName }, [{ name: DegradeMetrics.UNPARSED_NOTIFICATIONS, value: 1, unit: 'Count' }], { timestampMs: now() }));
  }

  return async (event) => {
    const records: unknown = (event as Partial<SNSEvent> | undefined)?.Records;
    for (const record of Array.isArray(records) ? records : [undefined]) {
      const sns = (record as Partial<SNSEvent['Records'][number]> | undefined)?.Sns;
      const message: unknown = sns?.Message;
      const messageId = typeof sns?.MessageId === 'string' ? sns.MessageId.slice(0, 128) : '';
      const notification = parseBudgetNotification(message);
      if (!notification) {
        unrecognised(message, messageId);
        continue;
      }
      const ignored = ignoredReason(notification, trigger);
      if (ignored) {
        log('INFO', 'budget notification ignored', { reason: ignored, messageId });
        continue;
      }
      const timestamp = typeof sns?.Timestamp === 'string' ? new Date(sns.Timestamp.slice(0, 64)) : new Date(NaN);
      await degrade(message as string, messageId, Number.isFinite(timestamp.getTime()) ? timestamp : new Date(now()));
    }
  };
}

/** The handler as deployed: settings from the environment, clients from the SDK's. Built on the first event. */
let deployed: DegradeHandler | undefined;

/** The Lambda handler. */
export const handler: DegradeHandler = (event) => {
  deployed ??= createDegradeHandler({
    settings: parseDegradeEnvironment(process.env),
    clients: { dynamodb: new DynamoDBClient({}), sagemaker: new SageMakerClient({}), autoscaling: new ApplicationAutoScalingClient({}) },
  });
  return deployed(event);
};
