import { Template } from 'aws-cdk-lib/assertions';

/** Logical ids of the alarms (metric and composite) of a template that notify nobody: no AlarmActions. */
export function alarmsWithoutActions(template: Template): string[] {
  const alarms = { ...template.findResources('AWS::CloudWatch::Alarm'), ...template.findResources('AWS::CloudWatch::CompositeAlarm') };
  return Object.entries(alarms).filter(([, alarm]) => !(alarm.Properties.AlarmActions?.length > 0)).map(([id]) => id);
}
