/**
 * Dead-letter queues as every construct of ours makes them: SSE-SQS (their messages hold stream positions or
 * notifications, never feature values), TLS only, kept 14 days; and the on-failure destination that grants Lambda
 * `sqs:SendMessage` only (aws-cdk-lib's SqsDlq also grants GetQueueAttributes and GetQueueUrl, which Lambda does not
 * call). Internal: not exported from lib/index.ts.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** A dead-letter queue; `deadLetterOf` says of what, for the cdk-nag acknowledgement (a DLQ needs no DLQ). */
export function createDeadLetterQueue(scope: Construct, id: string, deadLetterOf: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: `This queue is itself a dead-letter destination: ${deadLetterOf}` });
  return queue;
}

/** `queue` as an event source mapping's on-failure destination, granting Lambda `sqs:SendMessage` only. */
export function sendOnlyDestination(queue: sqs.IQueue): lambda.IEventSourceDlq {
  return {
    bind: (_mapping, handler) => {
      queue.grant(handler, 'sqs:SendMessage');
      return { destination: queue.queueArn };
    },
  };
}
