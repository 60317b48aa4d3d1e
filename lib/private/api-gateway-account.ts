/**
 * API Gateway's account-level logging role: one per account and region, shared by every REST API. A `RestApi` with
 * `cloudWatchRole: true` creates its own role and `AWS::ApiGateway::Account` each time, so two gateways in one stack
 * would write the same account setting twice; every gateway of a stack shares this one instead.
 * Internal: not exported from lib/index.ts.
 */
import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IDependable } from 'constructs';

const ID = 'ApiGatewayAccountLogging';

/** The stack's API Gateway account logging setting (created on first use); make API stages depend on it. */
export function apiGatewayAccountLogging(scope: Construct): IDependable {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(ID);
  if (existing) return existing;
  const holder = new Construct(stack, ID);
  const role = new iam.Role(holder, 'Role', {
    assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
    description: 'API Gateway account-level logging role (writes REST API execution logs to CloudWatch Logs)',
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
  });
  // Shared by every API of the account and region: never deleted with this stack.
  role.applyRemovalPolicy(RemovalPolicy.RETAIN);
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    reason: "API Gateway's account-level logging role: AWS's service-role policy is the documented way to let API Gateway write execution logs",
  });
  const account = new apigateway.CfnAccount(holder, 'Account', { cloudWatchRoleArn: role.roleArn });
  account.applyRemovalPolicy(RemovalPolicy.RETAIN);
  account.node.addDependency(role);
  return holder;
}
