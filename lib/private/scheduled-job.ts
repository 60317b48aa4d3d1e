/**
 * A handler run on a schedule, as the drift checks and the label join are: the function (createHandlerFunction), an
 * EventBridge rate rule, two retries of a failed run then a dead-letter queue (for the rule's undeliverable events
 * too), and two alarms with an action: the function failed, and runs were given up. Internal: not exported from
 * lib/index.ts.
 */
import { Duration, Size, SizeRoundingBehavior } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AlarmActionProps } from '../monitoring/alarm-actions';
import type { AlarmTopic } from '../monitoring/alarm-topic';
import { alarmActionOf, anyFailureAlarm, notifyOnStateChanges } from './alarm-actions';
import { createDeadLetterQueue, sendOnlyDestination } from './dead-letter';
import { createHandlerFunction, HandlerFunctionProps } from './handler-function';
import { concreteSeconds, rangeProblems, wholeSecondsProblems } from './validation';

/** Attempts after a failed run (Lambda's asynchronous retries, and EventBridge's delivery retries). */
const RETRIES = 2;
/** Oldest a run's event may get while retried: past the next runs, a late one measures nothing new. */
const MAX_EVENT_AGE = Duration.hours(1);

/** What a scheduled job runs, how often, and how its failures are told. */
export interface ScheduledJobProps extends HandlerFunctionProps, AlarmActionProps {
  /** How often it runs. */
  readonly schedule: Duration;
  /** The job, for descriptions: e.g. `drift check of model fraud`. */
  readonly job: string;
  /** What a failed run leaves missing, for the alarm: e.g. `its metrics are missing for this window`. */
  readonly missing: string;
  /** What runs given up mean, for the alarm: e.g. `drift is not being checked`. */
  readonly stopped: string;
}

/** The parts of a scheduled job. */
export interface ScheduledJob {
  readonly function: lambda.Function;
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;
  /** The function failed; the dead-letter queue is not empty. */
  readonly alarms: cloudwatch.Alarm[];
  readonly alarmAction: cloudwatch.IAlarmAction;
  readonly alarmTopic?: AlarmTopic;
}

/** The props of a scheduled job's construct that size and time it, as given (undefined: the construct's default). */
export interface ScheduledJobSizing {
  readonly schedule?: Duration;
  readonly timeout?: Duration;
  readonly memorySize?: Size;
}

/**
 * Problems of a scheduled job's `schedule` (whole minutes from a minute to a day: an EventBridge rate, and the period of
 * its alarm), `timeout` (Lambda's 30 s to 15 min) and `memorySize` (256 MiB to 10 GiB).
 */
export function scheduledJobProblems(props: ScheduledJobSizing): string[] {
  const problems = wholeSecondsProblems('schedule', props.schedule, { min: Duration.minutes(1), max: Duration.days(1), why: 'an EventBridge rate in whole minutes, at most a day so the alarm period fits CloudWatch' });
  const scheduleSeconds = concreteSeconds(props.schedule);
  if (scheduleSeconds !== undefined && scheduleSeconds % 60 !== 0) {
    problems.push(`schedule: ${props.schedule!.toHumanString()} must be whole minutes (an EventBridge rate and a CloudWatch period)`);
  }
  problems.push(...wholeSecondsProblems('timeout', props.timeout, { min: Duration.seconds(30), max: Duration.minutes(15), why: "Lambda's limit, and time to read a window" }));
  problems.push(...rangeProblems('memorySize (MiB)', props.memorySize?.toMebibytes({ rounding: SizeRoundingBehavior.FLOOR }), { min: 256, max: 10_240, integer: true }));
  return problems;
}

/** Creates the job in `scope`: `Function`, `DeadLetterQueue`, `Schedule`, `ErrorsAlarm`, `DeadLetterAlarm` (and `AlarmTopic`). */
export function createScheduledJob(scope: Construct, props: ScheduledJobProps): ScheduledJob {
  const fn = createHandlerFunction(scope, 'Function', props);
  const deadLetterQueue = createDeadLetterQueue(scope, 'DeadLetterQueue', `of the ${props.job}'s scheduled invocations`);
  fn.configureAsyncInvoke({ retryAttempts: RETRIES, maxEventAge: MAX_EVENT_AGE, onFailure: sendOnlyDestination(deadLetterQueue) });
  const rule = new events.Rule(scope, 'Schedule', {
    description: `Runs the ${props.job}`,
    schedule: events.Schedule.rate(props.schedule),
    targets: [new targets.LambdaFunction(fn, { deadLetterQueue, retryAttempts: RETRIES, maxEventAge: MAX_EVENT_AGE })],
  });
  const notifications = alarmActionOf(scope, props);
  const alarms = [
    anyFailureAlarm(scope, 'ErrorsAlarm', fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: props.schedule }),
      `The ${props.job} failed (S3 unreachable, a deadline passed, or the function timed out): ${props.missing}; see the function's log`),
    anyFailureAlarm(scope, 'DeadLetterAlarm', deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5) }),
      `Runs of the ${props.job} failed after their retries (the events are in the dead-letter queue): ${props.stopped}; see the function's log`),
  ];
  notifyOnStateChanges(notifications.action, alarms);
  return { function: fn, rule, deadLetterQueue, alarms, alarmAction: notifications.action, alarmTopic: notifications.topic };
}
