import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** Where the alarms of a construct send their notifications. Every construct that creates alarms accepts these. */
export interface AlarmActionProps {
  /**
   * Where every alarm of the construct sends its ALARM and OK transitions: an `AlarmTopic` (or `SnsAction` of your
   * own topic), a Lambda action, any `IAlarmAction`. Pass one action to several constructs to hear them in one place.
   * @default - a new `AlarmTopic` in the construct (its `alarmTopic`), with no subscribers until you add them. Each
   *   such topic has its own customer-managed key (about 1 USD a month): pass one `AlarmTopic` to every construct of
   *   an app to hear them in one place and pay for one key.
   */
  readonly alarmAction?: cloudwatch.IAlarmAction;
}
