import { Template } from 'aws-cdk-lib/assertions';

/**
 * Logical ids of the alarms (metric and composite) of a template that notify nobody: no AlarmActions, and no composite
 * with AlarmActions names them in its rule (an SLO's burn-rate windows are heard only through their composite).
 */
export function alarmsWithoutActions(template: Template): string[] {
  const alarms = { ...template.findResources('AWS::CloudWatch::Alarm'), ...template.findResources('AWS::CloudWatch::CompositeAlarm') };
  const heardRules = Object.values(template.findResources('AWS::CloudWatch::CompositeAlarm'))
    .filter((c) => c.Properties.AlarmActions?.length > 0).map((c) => JSON.stringify(c.Properties.AlarmRule));
  return Object.entries(alarms)
    .filter(([id, alarm]) => !(alarm.Properties.AlarmActions?.length > 0) && !heardRules.some((rule) => rule.includes(`"${id}"`)))
    .map(([id]) => id);
}
