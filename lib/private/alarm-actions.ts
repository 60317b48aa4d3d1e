/**
 * How our constructs wire their alarms: every alarm (metric or composite) notifies one action of both its ALARM and
 * its OK transitions, so that whoever is paged also hears the recovery. Internal: not exported from lib/index.ts.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { AlarmActionProps } from '../monitoring/alarm-actions';
import { AlarmTopic } from '../monitoring/alarm-topic';

/** The action a construct's alarms notify: the one given in its props, else an `AlarmTopic` created as `scope/id`. */
export function alarmActionOf(scope: Construct, props: AlarmActionProps, id = 'AlarmTopic'): { action: cloudwatch.IAlarmAction; topic?: AlarmTopic } {
  if (props.alarmAction) return { action: props.alarmAction };
  const topic = new AlarmTopic(scope, id);
  return { action: topic, topic };
}

/** Makes each alarm notify `action` when it enters ALARM and when it returns to OK. */
export function notifyOnStateChanges(action: cloudwatch.IAlarmAction, alarms: readonly cloudwatch.AlarmBase[]): void {
  for (const alarm of alarms) {
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
  }
}

/**
 * An alarm when `metric` is above 0 in one period (a failure counter, a dead-letter queue's visible messages); missing
 * data is "nothing failed". Wire its action with `notifyOnStateChanges`.
 */
export function anyFailureAlarm(scope: Construct, id: string, metric: cloudwatch.IMetric, description: string): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    metric,
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: description.slice(0, 1024), // CloudWatch's limit
  });
}
