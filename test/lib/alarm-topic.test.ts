import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AlarmTopic } from '../../lib';

const ENV = { account: '123456789012', region: 'us-east-1' };

/** A stack with an alarm topic and one alarm notifying it, synthesized with the AwsSolutions checks (they throw). */
function synthesized(build: (stack: Stack) => AlarmTopic) {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Stack', { env: ENV });
  const topic = build(stack);
  const alarm = new cloudwatch.Alarm(stack, 'Alarm', {
    metric: new cloudwatch.Metric({ namespace: 'Test', metricName: 'Errors', period: Duration.minutes(1) }), threshold: 0, evaluationPeriods: 1,
  });
  alarm.addAlarmAction(topic);
  const template = Template.fromJSON(app.synth().getStackByName(stack.stackName).template);
  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as any);
  return { stack, topic, template, id };
}

describe('AlarmTopic', () => {
  const { topic, template, id } = synthesized((stack) => new AlarmTopic(stack, 'Alarms', { displayName: 'Platform alarms' }));
  const cloudWatch = { Service: 'cloudwatch.amazonaws.com' };

  test('is an alarm action: the alarm publishes to the topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: id(topic.topic) }] });
  });

  test('the topic is encrypted with a rotating customer-managed key (alias/aws/sns would lock CloudWatch out)', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [id(topic.key as kms.Key), 'Arn'] }, DisplayName: 'Platform alarms' });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: cloudWatch, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Effect: 'Allow' })]) },
    });
  });

  test("refuses requests without TLS, and admits publishing by this account's alarms only", () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow', Principal: cloudWatch, Action: 'sns:Publish', Resource: { Ref: id(topic.topic) },
            Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudwatch:${ENV.region}:${ENV.account}:alarm:*`]] } } },
          }),
        ]),
      },
    });
  });

  test('a given key is used and admits CloudWatch; cdk-nag passes either way', () => {
    const { topic: given, template: withKey } = synthesized((stack) => new AlarmTopic(stack, 'Alarms', { masterKey: new kms.Key(stack, 'Own', { enableKeyRotation: true }) }));
    expect(given.key.node.id).toBe('Own');
    withKey.resourceCountIs('AWS::KMS::Key', 1);
    withKey.hasResourceProperties('AWS::KMS::Key', { KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: cloudWatch })]) } });
  });
});
