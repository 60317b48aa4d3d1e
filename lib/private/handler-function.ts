/**
 * The Lambda function every construct of ours deploys a runtime handler in: Node.js 22 on ARM64, one of the
 * bundles in assets/handlers/ (lib/bundling.ts), its own log group with a retention, its own role that writes to that
 * log group only (no AWSLambdaBasicExecutionRole managed policy), and X-Ray tracing by default.
 * Internal: not exported from lib/index.ts.
 */
import { Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { handlerCode } from './bundling';

/** Settings of a handler function. */
export interface HandlerFunctionProps {
  /** Bundle name: a file of runtime/handlers/ without `.ts`. */
  readonly handler: string;
  readonly description: string;
  readonly environment: Record<string, string>;
  /** @default Size.mebibytes(512) */
  readonly memorySize?: Size;
  /** @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** @default lambda.Tracing.ACTIVE */
  readonly tracing?: lambda.Tracing;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default - no reservation */
  readonly reservedConcurrentExecutions?: number;
  /** The function's code. @default - the bundle `handler` (lib/private/bundling.ts) */
  readonly code?: lambda.Code;
  /** VPC to run the function in (to reach private services). @default - not in a VPC */
  readonly vpc?: ec2.IVpc;
  /** Subnets of `vpc`. @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Security groups of the function in `vpc`. @default - one created for the function, all outbound allowed */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * What Lambda needs to give a function network interfaces in a VPC: the actions of AWS's
 * AWSLambdaVPCAccessExecutionRole, without its log permissions on every log group (the role writes to its own).
 */
const VPC_ACCESS_ACTIONS = [
  'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
];

/** Creates the function as `scope/<id>` with its log group (`<id>Logs`) and role (`<id>Role`). */
export function createHandlerFunction(scope: Construct, id: string, props: HandlerFunctionProps): lambda.Function {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `${props.description} (${scope.node.path})`.slice(0, 1000),
  });
  logGroup.grantWrite(role);
  const tracing = props.tracing ?? lambda.Tracing.ACTIVE;
  // Lambda attaches its VPC access policy only to roles it creates itself: ours gets the actions, inline.
  if (props.vpc) role.addToPolicy(new iam.PolicyStatement({ actions: VPC_ACCESS_ACTIONS, resources: ['*'] }));
  const unscoped = [
    ...(tracing !== lambda.Tracing.DISABLED ? ['xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions'] : []),
    ...(props.vpc ? ["the network interface actions Lambda needs to run the function in a VPC (AWSLambdaVPCAccessExecutionRole's, without its logs:*) are granted on '*', as AWS documents them: the interfaces do not exist before Lambda creates them, and the Describe actions support no resource-level permissions"] : []),
  ];
  if (unscoped.length > 0) {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `${unscoped.join('; ')}; every other statement of this role is scoped`,
    });
  }
  const fn = new lambda.Function(scope, id, {
    description: props.description.slice(0, 256), // Lambda's limit
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: props.code ?? handlerCode(props.handler),
    role,
    logGroup,
    tracing,
    memorySize: (props.memorySize ?? Size.mebibytes(512)).toMebibytes(),
    timeout: props.timeout ?? Duration.minutes(1),
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    environment: props.environment,
    vpc: props.vpc,
    vpcSubnets: props.vpcSubnets,
    securityGroups: props.securityGroups,
  });
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Node.js 22 (LTS) on purpose: the handler bundles are built for it (esbuild target node22 in lib/bundling.ts) and tested on it; the runtime and the bundling target move together',
  });
  return fn;
}
