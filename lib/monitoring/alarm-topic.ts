import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** Properties of an `AlarmTopic`. */
export interface AlarmTopicProps {
  /**
   * Key encrypting the topic's messages. Its key policy must let `cloudwatch.amazonaws.com` call `kms:Decrypt` and
   * `kms:GenerateDataKey*` (added here to a key of this app; an imported key's policy is yours to change). The AWS
   * managed key `alias/aws/sns` does not work: its policy cannot admit CloudWatch, so alarms could not publish.
   * @default - a new customer-managed key with yearly rotation, whose policy admits CloudWatch
   */
  readonly masterKey?: kms.IKey;
  /**
   * Display name of the topic (the sender of email notifications).
   * @default - none
   */
  readonly displayName?: string;
  /**
   * What happens to the key created here when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * An SNS topic for alarm notifications, usable wherever a CloudWatch alarm action is (`alarmAction` of our
 * constructs, `alarm.addAlarmAction(...)`): encrypted with a customer-managed key, refusing requests without TLS, and
 * open to publishing by this account's CloudWatch alarms only. Subscribe people and tools to `topic`.
 *
 * @example
 * const alarms = new AlarmTopic(stack, 'Alarms');
 * alarms.topic.addSubscription(new subscriptions.EmailSubscription('oncall@example.com'));
 * new FeatureIngestion(stack, 'Ingest', { store, views, alarmAction: alarms });
 */
export class AlarmTopic extends Construct implements cloudwatch.IAlarmAction {
  /** The topic alarms publish to. */
  public readonly topic: sns.Topic;
  /** The key encrypting the topic. */
  public readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: AlarmTopicProps = {}) {
    super(scope, id);
    const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    this.key = props.masterKey ?? new kms.Key(this, 'Key', {
      description: `Encrypts the alarm notifications of ${this.node.path}`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // CloudWatch encrypts what it publishes with the topic's key. No condition: condition keys such as
    // kms:CallerAccount are absent from these calls, and a condition would silently stop every notification. The
    // key encrypts this topic only, and who may publish is decided by the topic policy below.
    this.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublish',
      principals: [cloudWatch],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }), true);
    this.topic = new sns.Topic(this, 'Topic', { masterKey: this.key, enforceSSL: true, displayName: props.displayName });
    this.topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowThisAccountsAlarmsToPublish',
      principals: [cloudWatch],
      actions: ['sns:Publish'],
      resources: [this.topic.topicArn],
      conditions: {
        ArnLike: { 'aws:SourceArn': Stack.of(this).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
      },
    }));
  }

  /** Alarm action: publish the alarm's state change to the topic. */
  public bind(_scope: Construct, _alarm: cloudwatch.IAlarm): cloudwatch.AlarmActionConfig {
    return { alarmActionArn: this.topic.topicArn };
  }
}
