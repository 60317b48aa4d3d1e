/**
 * Lambda entry point of the cost guard's degrade action (BudgetDegrade), subscribed to the SNS topic AWS Budgets
 * notifies: on a notification its trigger accepts (by default ACTUAL spend at or above 100 % of the budget), it
 * applies the configured actions (runtime/aws/degrade-actions.ts) and records each one's state before and after in
 * the ledger, so that `npm run degrade -- revert` restores them.
 *
 * - Once per budget and month (`degradeId`): the ledger claim is a conditional write, so a repeated delivery, a
 *   higher threshold or a concurrent invocation does not degrade twice.
 * - Anything else on the topic (another budget, a warning threshold, a message that is not a budget notification, not
 *   text, or 1 MB of it) is logged with a stable reason and ignored: never thrown, so never retried.
 * - An action that fails (an endpoint updating, throttling, a routing table unreachable) is recorded as failed and the
 *   others still run; the invocation then fails, so Lambda retries it (twice, asynchronous invocation) and each retry
 *   resumes only the actions still pending; after the retries the event goes to the function's dead-letter queue,
 *   whose alarm pages someone.
 *
 * Environment: the contract in runtime/contracts/degrade.ts. Region, credentials and endpoints come from the AWS SDK's
 * environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, ...).
 */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { SNSEvent } from 'aws-lambda';
import { DegradeSettings, parseDegradeEnvironment } from '../contracts/degrade';
import { DEFAULT_DEGRADE_TRIGGER, degradeId, degradeReason, ignoredReason, parseBudgetNotification, pendingActions } from '../core/degrade';
import { applyDegradeAction, DegradeClients } from '../aws/degrade-actions';
import { claimDegrade, finishDegrade, recordAction } from '../aws/degrade-ledger';

/** An `applying` degrade untouched for this long is taken over by the next delivery: its invocation died (ms). */
export const DEFAULT_STALE_AFTER_MS = 10 * 60_000;

/** Properties of `createDegradeHandler`. */
export interface DegradeHandlerProps {
  /** What to degrade, on which notifications, and where the ledger is. */
  readonly settings: DegradeSettings;
  /** The clients the actions and the ledger call (the ledger uses `dynamodb`). */
  readonly clients: DegradeClients;
  /**
   * How long an `applying` degrade may go untouched before a later delivery takes it over, milliseconds; longer than
   * the function's timeout.
   * @default DEFAULT_STALE_AFTER_MS
   */
  readonly staleAfterMs?: number;
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

/** Builds the handler over its settings and clients. */
export function createDegradeHandler(props: DegradeHandlerProps): DegradeHandler {
  const { settings, clients } = props;
  const trigger = settings.trigger ?? DEFAULT_DEGRADE_TRIGGER;
  const ledger = { client: clients.dynamodb, tableName: settings.ledgerTableName };
  const now = clients.now ?? Date.now;
  const write = props.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = (level: string, message: string, fields: Record<string, unknown>) => write(JSON.stringify({ level, message, ...fields }));

  /** Applies the degrade a notification triggers, unless it was applied already. */
  async function degrade(message: string, messageId: string, notifiedAt: Date): Promise<void> {
    const notification = parseBudgetNotification(message)!;
    const id = degradeId(notification.budgetName, notifiedAt);
    const at = new Date(now());
    const claim = await claimDegrade(ledger, {
      id, notification, messageId, plan: settings.actions, at: at.toISOString(),
      staleBefore: new Date(at.getTime() - (props.staleAfterMs ?? DEFAULT_STALE_AFTER_MS)).toISOString(),
    });
    if (claim.kind === 'duplicate') {
      log('INFO', 'budget notification ignored: this budget was degraded already this month (or is being degraded now)', { reason: 'already-degraded', id, messageId });
      return;
    }
    const { record } = claim;
    const reason = degradeReason(record);
    let failed = 0;
    for (const index of pendingActions(record)) {
      const done = await applyDegradeAction(clients, record.plan[index], reason);
      await recordAction(ledger, id, index, done);
      if (done.outcome === 'failed') failed++;
      log(done.outcome === 'failed' ? 'ERROR' : 'INFO', `degrade action ${done.outcome}`, { id, action: index, spec: record.plan[index], before: done.before, after: done.after, error: done.error });
    }
    await finishDegrade(ledger, id, failed > 0 ? 'failed' : 'applied');
    if (failed > 0) throw new DegradeIncompleteError(id, failed);
    log('WARN', `degraded: every action applied; revert with npm run degrade -- revert --id '${id}'`, { id, notification, attempt: record.attempts });
  }

  return async (event) => {
    const records: unknown = (event as Partial<SNSEvent> | undefined)?.Records;
    if (!Array.isArray(records)) {
      log('WARN', 'event ignored: not an SNS event', { reason: 'not-a-budget-notification' });
      return;
    }
    for (const record of records) {
      const sns = (record as Partial<SNSEvent['Records'][number]> | undefined)?.Sns;
      const message: unknown = sns?.Message;
      const messageId = typeof sns?.MessageId === 'string' ? sns.MessageId.slice(0, 128) : '';
      const ignored = ignoredReason(parseBudgetNotification(message), trigger);
      if (ignored) {
        log('INFO', 'budget notification ignored', { reason: ignored, messageId, messageChars: typeof message === 'string' ? message.length : undefined });
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
