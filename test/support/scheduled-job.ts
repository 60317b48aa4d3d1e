import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

/** The parts of a scheduled job (lib/private/scheduled-job.ts) that its constructs expose. */
export interface ScheduledJobParts {
  readonly function: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * Asserts a scheduled job's wiring in `template`: an EventBridge rule at `scheduleExpression` runs the function, two
 * retries then the dead-letter queue for EventBridge's deliveries and for Lambda's asynchronous invocations.
 */
export function expectScheduledJob(stack: Stack, template: Template, job: ScheduledJobParts, scheduleExpression: string): void {
  const arn = (c: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [stack.getLogicalId(c.node.defaultChild as any), 'Arn'] });
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: scheduleExpression,
    Targets: [{ Arn: arn(job.function), RetryPolicy: { MaximumRetryAttempts: 2 }, DeadLetterConfig: { Arn: arn(job.deadLetterQueue) } }],
  });
  template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
    MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: arn(job.deadLetterQueue) } },
  });
}
