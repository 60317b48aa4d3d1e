/**
 * Least privilege, checked both ways: for every role the library creates, the IAM actions the synthesized reference
 * platform grants are exactly the actions its code sends (read from the code the role runs), plus the actions the
 * platform performs with the role on the code's behalf (Lambda's logs and traces, the Kinesis event source,
 * SageMaker pulling images and model data) and the KMS actions implied by the encrypted resources the code touches.
 * A granted action nothing sends fails the test (drop it); a sent action nothing grants fails it too (grant it).
 */
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as esbuild from 'esbuild';
import { buildGpuPlatform, buildReferencePlatform } from '../../bin/platform';
import { handlerBuildOptions } from '../../build/bundle-handlers';
import { packageRoot } from '../../lib/private/bundling';
import { GatewayVariables } from '../../runtime/contracts/gateway';
import { TrainingHandlers, TrainingJobVariables, TrainingStepVariables } from '../../runtime/contracts/training-pipeline';

/** IAM service prefix of each AWS SDK v3 client package the runtime uses. */
const SERVICE_OF_CLIENT: Record<string, string> = {
  '@aws-sdk/client-athena': 'athena',
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/client-kinesis': 'kinesis',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-sagemaker-runtime': 'sagemaker',
  '@aws-sdk/client-sagemaker': 'sagemaker',
  '@aws-sdk/client-application-auto-scaling': 'application-autoscaling',
  '@aws-sdk/client-sqs': 'sqs',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-sns': 'sns',
};
/** SDK commands whose IAM action is named differently. */
const ACTION_OF_COMMAND: Record<string, string> = {
  's3:HeadObject': 's3:GetObject', 's3:ListObjectsV2': 's3:ListBucket', 's3:DeleteObjects': 's3:DeleteObject', 'sqs:SendMessageBatch': 'sqs:SendMessage',
};

/**
 * Code that is bundled but never runs in the role's process, by the source file esbuild names in the bundle. Each
 * entry says why; everything else in a bundle counts, our code and libraries alike.
 */
const NEVER_RUN: Record<string, string> = {
  'node_modules/@dsnp/parquetjs/dist/lib/reader.js': 'ParquetReader.openS3: the materializer writes Parquet, it never reads Parquet from S3',
};

/**
 * KMS use the SDK does not show: every resource our code reaches is encrypted with a customer-managed key (the
 * feature store's), which the service uses on the caller's behalf. Written `action@service` (the `kms:ViaService`).
 */
const KMS_IMPLIED_BY: Record<string, string[]> = {
  'dynamodb:BatchGetItem': ['kms:Decrypt@dynamodb'],
  // A conditional put reads the stored item (decrypt) and writes the new one (data key, encrypt).
  'dynamodb:PutItem': ['kms:Decrypt@dynamodb', 'kms:Encrypt@dynamodb', 'kms:GenerateDataKey@dynamodb'],
  's3:PutObject': ['kms:GenerateDataKey@s3'],
  's3:GetObject': ['kms:Decrypt@s3'],
  'kinesis:PutRecords': ['kms:GenerateDataKey@kinesis'],
  'kinesis:GetRecords': ['kms:Decrypt@kinesis'],
};

/** What AWS services do with a role on behalf of the code, by feature (each from the service's documentation). */
const PLATFORM = {
  /** Lambda writes the function's logs to its log group. */
  lambdaLogs: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  /** Active X-Ray tracing. */
  lambdaTracing: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
  /** A Kinesis event source mapping polling with a standard iterator, and its SQS on-failure destination. */
  kinesisEventSource: [
    'kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords',
    'sqs:SendMessage',
  ],
  /** A DynamoDB stream event source mapping, and its SQS on-failure destination. */
  dynamoDbStreamEventSource: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams', 'sqs:SendMessage'],
  /** SageMaker pulls the container image from ECR. */
  sageMakerImage: ['ecr:GetAuthorizationToken', 'ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
  /** SageMaker copies the model data from S3 (an uncompressed file here). */
  sageMakerModelData: ['s3:GetObject'],
  /** SageMaker writes the containers' output to the endpoint's log group. */
  sageMakerLogs: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
  /** Lambda sends an asynchronous invocation that failed its retries to the function's dead-letter queue. */
  lambdaAsyncDeadLetter: ['sqs:SendMessage'],
  /** SageMaker writes captured requests and responses, encrypted with the capture key (not shared: no ViaService). */
  sageMakerDataCapture: ['s3:PutObject', 'kms:Encrypt@*', 'kms:GenerateDataKey@*'],
  /** Step Functions delivering a state machine's logs to CloudWatch Logs (the vended-logs actions it documents). */
  stepFunctionsLogs: [
    'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries',
    'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
  ],
  /** Step Functions' X-Ray tracing. */
  stepFunctionsTracing: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
  /**
   * Kinesis Data Firehose reading an encrypted Kinesis stream into an S3 bucket encrypted with a customer-managed key,
   * logging delivery errors (the Firehose developer guide's S3 destination policy, without s3:GetObject: it only writes).
   */
  firehoseKinesisToS3: [
    'kinesis:DescribeStream', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:ListShards', 'kms:Decrypt@kinesis',
    's3:AbortMultipartUpload', 's3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads', 's3:PutObject',
    'kms:GenerateDataKey@s3', 'kms:Decrypt@s3', 'logs:PutLogEvents',
  ],
  /**
   * Lambda creating and removing the network interfaces of a function in a VPC (the actions of AWS's
   * AWSLambdaVPCAccessExecutionRole, Lambda developer guide "Giving Lambda functions access to resources in a VPC").
   */
  lambdaVpc: [
    'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface',
    'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
  ],
  /**
   * Athena running a query with the caller's credentials over the feature store's offline tables (the actions
   * `FeatureStore.grantReadOffline` grants besides the caller's own athena calls, each from the Athena user guide):
   * - "Fine-grained access to databases and tables in the AWS Glue Data Catalog": a SELECT reads the database, the
   *   table and its partitions (glue:GetDatabase, GetTable, GetPartition, GetPartitions);
   * - "Control access to Amazon S3 from Athena": reading the tables' objects (s3:GetObject, s3:ListBucket,
   *   s3:GetBucketLocation), and writing the query results (s3:PutObject, s3:GetObject, s3:AbortMultipartUpload,
   *   s3:ListMultipartUploadParts, s3:ListBucketMultipartUploads: results are uploaded in parts);
   * - "Permissions to encrypted data in Amazon S3": the store's key through S3, Decrypt for the data and the results
   *   read back, GenerateDataKey for the SSE-KMS results it writes.
   */
  athenaQueries: [
    'glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions',
    's3:GetObject', 's3:ListBucket', 's3:GetBucketLocation',
    's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:ListBucketMultipartUploads',
    'kms:Decrypt@s3', 'kms:GenerateDataKey@s3',
  ],
  /**
   * Step Functions' `batch:submitJob.sync` (Run a Job): it submits the job, follows it through the EventBridge rule it
   * manages and by DescribeJobs, and terminates it when the task times out or the execution stops (Step Functions
   * developer guide, "IAM policies for AWS Batch", Run a Job (.sync)).
   */
  stepFunctionsBatchSync: [
    'batch:SubmitJob', 'batch:DescribeJobs', 'batch:TerminateJob', 'events:PutTargets', 'events:PutRule', 'events:DescribeRule',
  ],
  /** Step Functions' `lambda:invoke` (Request Response): it invokes the function (Step Functions guide, "IAM policies for Lambda"). */
  stepFunctionsLambdaInvoke: ['lambda:InvokeFunction'],
};

/**
 * What a training or evaluation image does with its job role, by the contract of runtime/contracts/training-pipeline.ts
 * `TrainingJobVariables` (user code: documented, not bundled here). An object written to S3 may be uploaded in parts
 * (`aws s3 cp`, lib-storage's Upload above 8 MiB): AbortMultipartUpload cleans up a failed upload; the pipeline's
 * bucket is encrypted with its own key, used through S3.
 */
const JOB_CONTRACT = {
  /** Reads TRAINING_SET_URI, writes MODEL_ARTIFACT_URI. */
  training: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 'kms:Decrypt@s3', 'kms:GenerateDataKey@s3'],
  /** Reads TRAINING_SET_URI and MODEL_ARTIFACT_URI, writes EVALUATION_URI. */
  evaluation: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 'kms:Decrypt@s3', 'kms:GenerateDataKey@s3'],
};

/**
 * SDK calls of the inference server that happen only when its environment asks for them
 * (runtime/inference-server/config.ts), and the setting that does.
 */
const SERVER_CALLS_ENABLED_BY: Record<string, string> = {
  's3:GetObject': 'MODEL_URI=s3://…',
  'kinesis:PutRecords': 'PREDICTION_LOG_SINK=kinesis://…',
  's3:PutObject': 'PREDICTION_LOG_SINK=s3://…',
};

/**
 * SDK calls of the gateway handler that happen only when its environment asks for them (runtime/contracts/gateway.ts),
 * and the setting that does.
 */
const GATEWAY_CALLS_ENABLED_BY: Record<string, string> = {
  'dynamodb:BatchGetItem': GatewayVariables.ONLINE_TABLE_NAME,
  'dynamodb:GetItem': GatewayVariables.ROUTING_TABLE_NAME,
  'sagemaker:InvokeEndpoint': `${GatewayVariables.MODEL_BACKEND} of kind 'sagemaker'`,
  'kinesis:PutRecords': GatewayVariables.PREDICTION_LOG_STREAM,
};

/**
 * The IAM actions of the AWS SDK commands a bundle constructs (`new <client>.XxxCommand(` → service:Xxx), outside
 * the `NEVER_RUN` sources. esbuild, unminified, starts each bundled module with a `// <source path>` line.
 */
function sdkActionsIn(bundle: string): string[] {
  const clients = new Map<string, string>();
  // `var x = require(...)`, or `x = require(...)` inside a lazily initialized module (a backend loaded on demand).
  for (const m of bundle.matchAll(/(?:(?:var|const|let) )?([\w$]+) = (?:__toESM\()?require\("(@aws-sdk\/[^"]+)"\)/g)) clients.set(m[1], m[2]);
  const actions = new Set<string>();
  let source = '';
  for (const line of bundle.split('\n')) {
    const marker = /^\/\/ (\S+\.[cm]?[jt]s)$/.exec(line);
    if (marker) source = marker[1];
    if (NEVER_RUN[source]) continue;
    for (const m of line.matchAll(/new (?:\(0, )?([\w$]+)\.(\w+)Command\)?\(/g)) {
      const client = clients.get(m[1]);
      const service = client && SERVICE_OF_CLIENT[client];
      if (!service) throw new Error(`${source}: 'new ${m[1]}.${m[2]}Command(' is not from a known AWS SDK client (${client}); add it to SERVICE_OF_CLIENT`);
      const action = `${service}:${m[2]}`;
      actions.add(ACTION_OF_COMMAND[action] ?? action);
    }
  }
  return [...actions].sort();
}

/** The bundles of an esbuild build, as text, built in memory (unminified, tree-shaken like the real bundle). */
function bundled(options: esbuild.BuildOptions): string {
  return esbuild.buildSync({ ...options, minify: false, write: false, logLevel: 'error' }).outputFiles.map((f) => f.text).join('\n');
}

/** What a Lambda handler's code sends, with the KMS use it implies. */
function handlerNeeds(name: string): string[] {
  const sent = sdkActionsIn(bundled(handlerBuildOptions(name)));
  return [...sent, ...sent.flatMap((a) => KMS_IMPLIED_BY[a] ?? [])];
}

/** Actions a statement allows; KMS actions as `action@service` from its `kms:ViaService` condition (`@*` without). */
function allowedBy(statement: any): string[] {
  expect(statement.Effect).toBe('Allow');
  const via = statement.Condition?.StringEquals?.['kms:ViaService'];
  const service = typeof via === 'string' ? via.split('.')[0] : '*';
  return [statement.Action].flat().map((a: string) => (a.startsWith('kms:') ? `${a}@${service}` : a));
}

// One app, one synth, as bin/app.ts builds it: the reference platform and the GPU stacks.
const app = new App();
const [platform] = buildReferencePlatform(app);
const gpu = buildGpuPlatform(app);
const assembly = app.synth();
const template = assembly.getStackByName(platform.stackName).template;
const resources: Record<string, any> = template.Resources;
const logicalId = (construct: { node: { defaultChild?: unknown } }) => platform.getLogicalId(construct.node.defaultChild as any);
const training = gpu.spotTraining;
const trainingResources: Record<string, any> = assembly.getStackByName(training.stackName).template.Resources;
const trainingId = (construct: { node: { defaultChild?: unknown } }) => training.getLogicalId(construct.node.defaultChild as any);
const eks = gpu.eksGpuInference;
const eksResources: Record<string, any> = assembly.getStackByName(eks.stackName).template.Resources;
const eksId = (construct: { node: { defaultChild?: unknown } }) => eks.getLogicalId(construct.node.defaultChild as any);

/** A CloudFormation string value as text, each token (Ref, GetAtt…) replaced by `<token>`. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as any)?.['Fn::Join'];
  if (!join) return '<token>';
  return join[1].map(text).join(join[0]);
}

/** A Lambda function's environment variables, as text. */
function environmentOf(resourcesOfStack: Record<string, any>, functionId: string): Record<string, string> {
  const variables = resourcesOfStack[functionId].Properties.Environment?.Variables ?? {};
  return Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, text(v)]));
}

/** Every action granted to a role: its inline policies and every AWS::IAM::Policy attached to it (no managed ones). */
function grantedTo(roleId: string, inResources: Record<string, any> = resources): string[] {
  const role = inResources[roleId];
  expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  const statements = [
    ...(role.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement),
    ...Object.values(inResources).filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement),
  ];
  return [...new Set(statements.flatMap(allowedBy))].sort();
}

const sorted = (actions: string[]) => [...new Set(actions)].sort();

describe('each role is granted exactly what its code and its platform send', () => {
  test('the materializer: PutItem online, PutObject offline, the store key through each service, the stream it polls', () => {
    const needed = handlerNeeds('materializer-handler');
    expect(needed).toEqual(expect.arrayContaining(['dynamodb:PutItem', 's3:PutObject']));
    const role = logicalId(platform.featureIngestion.function.role as any);
    expect(grantedTo(role)).toEqual(sorted([
      ...needed, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing, ...PLATFORM.kinesisEventSource, ...KMS_IMPLIED_BY['kinesis:GetRecords'],
    ]));
  });

  test('the gateway: BatchGetItem, InvokeEndpoint, PutRecords on the prediction log, the store key through each service', () => {
    const needed = handlerNeeds('gateway-handler');
    expect(needed).toEqual(expect.arrayContaining(['dynamodb:BatchGetItem', 'sagemaker:InvokeEndpoint', 'kinesis:PutRecords']));
    const role = logicalId(platform.fraudGateway.function.role as any);
    expect(grantedTo(role)).toEqual(sorted([...needed, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing]));
  });

  test("the SageMaker execution role: what SageMaker does for the endpoint; the server's own calls are off there", () => {
    const server = path.join(packageRoot(), 'runtime', 'inference-server');
    const serverActions = sdkActionsIn(bundled({
      entryPoints: [path.join(server, 'serve.ts'), path.join(server, 'worker.ts')], outdir: 'unused', bundle: true, platform: 'node', format: 'cjs',
      external: ['@aws-sdk/*', 'onnxruntime-node'],
    }));
    // Every call the server can send needs a setting the endpoint does not make: MODEL_URI is the local model file.
    expect(serverActions).toEqual(Object.keys(SERVER_CALLS_ENABLED_BY).sort());
    for (const model of Object.values(resources).filter((r) => r.Type === 'AWS::SageMaker::Model')) {
      const environment = model.Properties.PrimaryContainer.Environment;
      expect(environment.MODEL_URI).toMatch(/^\/opt\/ml\/model\//);
      expect(environment.PREDICTION_LOG_SINK).toBeUndefined();
    }
    expect(grantedTo(logicalId(platform.fraudEndpoint.role as any))).toEqual(sorted([
      ...PLATFORM.sageMakerImage, ...PLATFORM.sageMakerModelData, ...PLATFORM.sageMakerLogs, ...PLATFORM.sageMakerDataCapture,
    ]));
  });

  test("the embedded pre-screening gateway: only the prediction log; the bundle's other calls need settings it lacks", () => {
    // Same bundle as the fraud gateway; without ONLINE_TABLE_NAME, ROUTING_TABLE_NAME and a SageMaker backend in its
    // environment it reads no table and calls no endpoint, so it is granted none of those.
    const needed = ['kinesis:PutRecords', ...KMS_IMPLIED_BY['kinesis:PutRecords']];
    expect(handlerNeeds('gateway-handler')).toEqual(expect.arrayContaining(needed));
    const role = logicalId(platform.prescreenGateway.function.role as any);
    expect(grantedTo(role)).toEqual(sorted([...needed, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing]));
  });

  test('the routing sync: UpdateEndpointWeightsAndCapacities on the fraud endpoint, the routing table stream it reads', () => {
    const needed = handlerNeeds('routing-sync-handler');
    expect(needed).toEqual(['sagemaker:UpdateEndpointWeightsAndCapacities']);
    const role = logicalId(platform.routing.syncFunction!.role as any);
    expect(grantedTo(role)).toEqual(sorted([...needed, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing, ...PLATFORM.dynamoDbStreamEventSource]));
  });

  test('the cost degrade: its ledger, the fraud routing weights, the champion\'s capacity; nothing else', () => {
    const needed = handlerNeeds('degrade-handler');
    expect(needed).toEqual(expect.arrayContaining([
      'dynamodb:PutItem', 'dynamodb:UpdateItem', 'sagemaker:UpdateEndpointWeightsAndCapacities', 'application-autoscaling:RegisterScalableTarget',
    ]));
    const role = logicalId(platform.degrade.function.role as any);
    // The ledger and the routing table are encrypted with AWS owned keys: no KMS grant is implied by their writes.
    const sent = needed.filter((a) => !a.startsWith('kms:'));
    expect(grantedTo(role)).toEqual(sorted([...sent, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing, ...PLATFORM.lambdaAsyncDeadLetter]));
  });

  test('the drift checks and the label join: list and read the dataset (its key through S3); failed runs to their queue', () => {
    for (const [handler, fn] of [['drift-handler', platform.fraudDrift.function], ['drift-handler', platform.prescreenDrift.function], ['label-join-handler', platform.fraudQuality.function]] as const) {
      const needed = handlerNeeds(handler);
      expect(sorted(needed)).toEqual(sorted(['s3:GetObject', 's3:ListBucket', 'kms:Decrypt@s3']));
      expect(grantedTo(logicalId(fn.role as any))).toEqual(sorted([...needed, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing, ...PLATFORM.lambdaAsyncDeadLetter]));
    }
  });

  test('the label ingestion: reads drops and its stream, writes labels, dead-letters refused ones', () => {
    const needed = handlerNeeds('label-ingestion-handler');
    expect(needed).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 'sqs:SendMessage']));
    expect(grantedTo(logicalId(platform.labels.function.role as any))).toEqual(sorted([
      ...needed, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing, ...PLATFORM.kinesisEventSource, ...KMS_IMPLIED_BY['kinesis:GetRecords'],
    ]));
  });

  test('the prediction-log delivery streams: what Firehose does from the gateway\'s stream to the dataset', () => {
    const roles = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::IAM::Role' && id.startsWith('PredictionLogsSource'));
    expect(roles).toHaveLength(2);
    for (const role of roles) expect(grantedTo(role)).toEqual(sorted(PLATFORM.firehoseKinesisToS3));
  });

  test('the canary rollout: its table, the routing table, the alarms and metrics it reads, its notifications', () => {
    const needed = handlerNeeds('rollout-handler');
    expect(needed).toEqual(expect.arrayContaining([
      'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'cloudwatch:DescribeAlarms', 'cloudwatch:GetMetricData', 'sns:Publish',
    ]));
    // The rollout and routing tables use AWS owned keys (no KMS implied by their writes); the topic is the platform's
    // encrypted alarm topic: publishing needs its key (SNS uses it on the publisher's behalf; no ViaService condition).
    const sent = needed.filter((a) => !a.startsWith('kms:'));
    expect(grantedTo(logicalId(platform.fraudRollout.function.role as any))).toEqual(sorted([
      ...sent, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing, 'kms:Decrypt@*', 'kms:GenerateDataKey@*',
    ]));
    // Step Functions invokes the function and delivers its logs and traces; the registry rule only starts executions.
    const stateMachineRole = logicalId(platform.fraudRollout.stateMachine.role as any);
    expect(grantedTo(stateMachineRole)).toEqual(sorted(['lambda:InvokeFunction', ...PLATFORM.stepFunctionsLogs, ...PLATFORM.stepFunctionsTracing]));
    const eventsRole = Object.keys(resources).find((id) => id.startsWith('FraudRolloutStateMachineEventsRole'))!;
    expect(grantedTo(eventsRole)).toEqual(['states:StartExecution']);
  });

  test('every role of the platform is one of those, the routing seed\'s, or API Gateway\'s account logging role (AWS\'s service-role policy)', () => {
    const roles = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::IAM::Role');
    const apiGatewayLogging = Object.keys(resources).find((id) => id.startsWith('ApiGatewayAccountLoggingRole'))!;
    const seed = Object.keys(resources).find((id) => id.startsWith('RoutingSeedProviderRole'))!;
    const firehose = roles.filter((id) => id.startsWith('PredictionLogsSource'));
    // aws-cdk-lib's own handler that sets the label drop bucket's notification (one per stack).
    const bucketNotifications = Object.keys(resources).find((id) => id.startsWith('BucketNotificationsHandler') && resources[id].Type === 'AWS::IAM::Role')!;
    expect(roles.sort()).toEqual([
      logicalId(platform.featureIngestion.function.role as any), logicalId(platform.fraudGateway.function.role as any),
      logicalId(platform.prescreenGateway.function.role as any), logicalId(platform.routing.syncFunction!.role as any),
      logicalId(platform.fraudEndpoint.role as any), logicalId(platform.degrade.function.role as any), seed, apiGatewayLogging,
      ...[platform.fraudDrift, platform.prescreenDrift, platform.fraudQuality, platform.labels].map((c) => logicalId(c.function.role as any)),
      ...firehose, bucketNotifications, logicalId(platform.fraudRollout.function.role as any), logicalId(platform.fraudRollout.stateMachine.role as any),
      Object.keys(resources).find((id) => id.startsWith('FraudRolloutStateMachineEventsRole'))!,
    ].sort());
    expect(resources[bucketNotifications].Properties.Policies ?? []).toEqual([]);
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === bucketNotifications))
      .flatMap((p) => p.Properties.PolicyDocument.Statement.map((st: any) => st.Action))).toEqual(['s3:PutBucketNotification']);
    // The seed's custom resource updates the routing table, nothing else.
    expect(grantedTo(seed)).toEqual(sorted(['dynamodb:UpdateItem', ...PLATFORM.lambdaLogs]));
    expect(resources[apiGatewayLogging].Properties).toMatchObject({
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs']] }],
    });
    expect(resources[apiGatewayLogging].Properties.Policies).toBeUndefined();
    // One account logging setting for both gateways.
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::ApiGateway::Account')).toHaveLength(1);
  });

  test('a key shared by services is only ever granted through one of them', () => {
    const storeKey = { 'Fn::GetAtt': [logicalId(platform.featureStore.key as any), 'Arn'] };
    const statements = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy').flatMap((p) => p.Properties.PolicyDocument.Statement);
    const onStoreKey = statements.filter((s: any) => JSON.stringify(s.Resource) === JSON.stringify(storeKey));
    expect(onStoreKey.length).toBeGreaterThan(0);
    for (const statement of onStoreKey) expect(statement.Condition).toEqual({ StringEquals: { 'kms:ViaService': expect.stringMatching(/^(dynamodb|s3|kinesis)\.us-east-1\.amazonaws\.com$/) } });
  });
});

describe('the GPU stacks: each role that runs our code, or that our constructs create, is granted exactly what it needs', () => {
  const step = (id: string) => training.pipeline.node.findChild(id) as lambda.Function;
  const roleOf = (fn: lambda.IFunction) => trainingId(fn.role as any);

  test('the training set step: its Athena query (and what Athena does with its credentials), the set it writes', () => {
    const needed = handlerNeeds(TrainingHandlers.TRAINING_SET);
    expect(needed).toEqual(expect.arrayContaining([
      'athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 's3:GetObject', 's3:PutObject', 's3:ListBucket',
    ]));
    expect(environmentOf(trainingResources, trainingId(training.pipeline.trainingSetFunction))).toHaveProperty(TrainingStepVariables.ATHENA_WORKGROUP);
    expect(grantedTo(roleOf(training.pipeline.trainingSetFunction), trainingResources)).toEqual(sorted([
      ...needed, ...PLATFORM.athenaQueries, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing,
    ]));
  });

  test('the data gate: reads the training set; the baseline listing needs a baseline the example does not name', () => {
    const fn = step('DataGateFunction');
    // runtime/aws/baseline-store.ts readBaseline lists the baseline prefix, only with TRAINING_BASELINE_BUCKET set.
    const baselineOnly = ['s3:ListBucket'];
    const needed = handlerNeeds(TrainingHandlers.DATA_GATE);
    expect(needed).toEqual(expect.arrayContaining([...baselineOnly, 's3:GetObject', 'kms:Decrypt@s3']));
    expect(environmentOf(trainingResources, trainingId(fn))).not.toHaveProperty(TrainingStepVariables.BASELINE_BUCKET);
    expect(grantedTo(roleOf(fn), trainingResources)).toEqual(sorted([
      ...needed.filter((a) => !baselineOnly.includes(a)), ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing,
    ]));
  });

  test('the model gate: reads the evaluation (champion metrics included), asks whether an approved champion exists', () => {
    const fn = step('ModelGateFunction');
    const needed = handlerNeeds(TrainingHandlers.MODEL_GATE);
    expect(sorted(needed)).toEqual(sorted(['s3:GetObject', 'kms:Decrypt@s3', 'sagemaker:ListModelPackages']));
    expect(grantedTo(roleOf(fn), trainingResources)).toEqual(sorted([...needed, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing]));
  });

  test("the fleet's job role: the checkpoint helper's calls plus the training image's contract; the evaluation image's", () => {
    const helper = sdkActionsIn(bundled({ ...handlerBuildOptions('checkpoint'), entryPoints: [path.join(packageRoot(), 'runtime', 'training', 'index.ts')] }));
    expect(helper).toEqual(sorted(['s3:GetObject', 's3:PutObject', 's3:ListBucket', 's3:DeleteObject']));
    const helperNeeds = [...helper, ...helper.flatMap((a) => KMS_IMPLIED_BY[a] ?? [])];
    // The training job's environment names the contract's variables (set per execution by the Train step).
    expect(Object.values(TrainingJobVariables)).toEqual(expect.arrayContaining(['TRAINING_SET_URI', 'MODEL_ARTIFACT_URI', 'EVALUATION_URI']));
    expect(grantedTo(trainingId(training.fleet.jobRole), trainingResources)).toEqual(sorted([...helperNeeds, ...JOB_CONTRACT.training]));
    const evaluationRole = Object.keys(trainingResources).find((id) => id.startsWith('EvaluationRole'))!;
    expect(grantedTo(evaluationRole, trainingResources)).toEqual(sorted(JOB_CONTRACT.evaluation));
  });

  test("the state machine: the Lambda steps, Batch's Run a Job for training and evaluation, createModelPackage; its logs and traces", () => {
    const role = trainingId(training.pipeline.stateMachine.role as any);
    expect(grantedTo(role, trainingResources)).toEqual(sorted([
      ...PLATFORM.stepFunctionsLambdaInvoke, ...PLATFORM.stepFunctionsBatchSync,
      // AWS SDK integrations (arn:aws:states:::aws-sdk:sagemaker:<api>) need the API's own action: registering the
      // package, and finding the champion whose artifact the evaluation job scores.
      'sagemaker:CreateModelPackage', 'sagemaker:ListModelPackages', 'sagemaker:DescribeModelPackage',
      ...PLATFORM.stepFunctionsLogs, ...PLATFORM.stepFunctionsTracing,
    ]));
    const eventsRole = Object.keys(trainingResources).find((id) => id.startsWith('PipelineStateMachineEventsRole'))!;
    expect(grantedTo(eventsRole, trainingResources)).toEqual(['states:StartExecution']);
  });

  test("the EKS gateway: an HTTP backend (no AWS call for the model), no store, no routing table: only the prediction log", () => {
    const gatewayCalls = sdkActionsIn(bundled(handlerBuildOptions('gateway-handler')));
    expect(gatewayCalls).toEqual(Object.keys(GATEWAY_CALLS_ENABLED_BY).sort());
    const environment = environmentOf(eksResources, eksId(eks.gateway.function));
    expect(JSON.parse(environment[GatewayVariables.MODEL_BACKEND].replace(/<token>/g, 'x'))).toMatchObject({ kind: 'http' });
    expect(environment).not.toHaveProperty(GatewayVariables.ONLINE_TABLE_NAME);
    expect(environment).not.toHaveProperty(GatewayVariables.ROUTING_TABLE_NAME);
    expect(environment).toHaveProperty(GatewayVariables.PREDICTION_LOG_STREAM);
    const needed = ['kinesis:PutRecords', ...KMS_IMPLIED_BY['kinesis:PutRecords']];
    // In the cluster's VPC: Lambda manages the function's network interfaces with its role.
    expect(grantedTo(eksId(eks.gateway.function.role as any), eksResources)).toEqual(sorted([
      ...needed, ...PLATFORM.lambdaLogs, ...PLATFORM.lambdaTracing, ...PLATFORM.lambdaVpc,
    ]));
  });

  test("the IRSA model reader: s3:GetObject of the model, for the init container's `aws s3 cp`; the server reads the local copy", () => {
    const manifest = JSON.parse(text(eksResources[eksId(eks.chartManifest)].Properties.Manifest)) as any[];
    const pod = manifest.find((m) => m.kind === 'Deployment').spec.template.spec;
    expect(pod.serviceAccountName).toBe(eks.modelReader.serviceAccountName);
    // `aws s3 cp` of one object: HeadObject and GetObject (ranged parts for a large one), both s3:GetObject. The CDK
    // asset bucket is encrypted with the aws/s3 managed key, whose key policy lets the account use it through S3.
    expect(pod.initContainers.map((c: any) => c.command.slice(0, 3))).toEqual([['aws', 's3', 'cp']]);
    const model: string = pod.initContainers[0].command.at(-1);
    expect(model).toMatch(/^\/models\//);
    // The server's own S3 and Kinesis calls are off: MODEL_URI is the init container's local copy, no log sink.
    const environments = pod.containers.map((c: any) => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value])));
    expect(environments.filter((env: any) => env.MODEL_URI !== undefined).map((env: any) => env.MODEL_URI)).toEqual([model]);
    for (const env of environments) expect(env.PREDICTION_LOG_SINK).toBeUndefined();
    expect(grantedTo(eksId(eks.modelReader.role as any), eksResources)).toEqual(['s3:GetObject']);
  });

  test("every other role of the GPU stacks is aws-cdk-lib's (EKS, Batch, VPC flow logs, custom resources) or a node role", () => {
    const roles = (inResources: Record<string, any>) => Object.keys(inResources).filter((id) => inResources[id].Type === 'AWS::IAM::Role').sort();
    const byPrefix = (inResources: Record<string, any>, prefixes: string[]) => roles(inResources).filter((id) => prefixes.some((p) => id.startsWith(p)));
    const checkedTraining = [
      training.pipeline.trainingSetFunction, step('DataGateFunction'), step('ModelGateFunction'),
    ].map(roleOf).concat(trainingId(training.fleet.jobRole), trainingId(training.pipeline.stateMachine.role as any));
    // Batch's: the instances' ECS agent (AmazonEC2ContainerServiceforEC2Role) and the containers' log writers.
    const trainingOthers = byPrefix(trainingResources, [
      'EvaluationRole', 'PipelineStateMachineEventsRole', 'VpcallIAMRole', 'FleetSpotInstanceProfileRole', 'FleetOnDemandInstanceProfileRole',
      'FleetContainerExecutionRole', 'EvaluationContainerExecutionRole',
    ]);
    expect(roles(trainingResources)).toEqual([...checkedTraining, ...trainingOthers].sort());
    for (const id of trainingOthers.filter((r) => r.includes('ContainerExecutionRole'))) {
      expect(grantedTo(id, trainingResources)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    }
    const checkedEks = [eksId(eks.gateway.function.role as any), eksId(eks.modelReader.role as any)];
    const eksOthers = byPrefix(eksResources, [
      'VpcallIAMRole', 'ClusterRole', 'ClusterKubectlProvider', 'ClusterNodegroupDefaultCapacity', `${eks.stackName}Cluster`,
      'CustomAWSCDKOpenIdConnectProvider', 'AWSCDKCfnUtilsProvider', 'ApiGatewayAccountLoggingRole', 'GpuNodesNodeRole',
    ]);
    expect(eksOthers.filter((id) => id.startsWith(`${eks.stackName}Cluster`))).toEqual([expect.stringMatching(/AlbController/)]);
    expect(roles(eksResources)).toEqual([...checkedEks, ...eksOthers].sort());
    // The GPU nodes' role (GpuNodeGroup): the AWS managed policies EKS documents for a node role, nothing inline.
    const nodeRole = eksResources[eksOthers.find((id) => id.startsWith('GpuNodesNodeRole'))!].Properties;
    expect(nodeRole.ManagedPolicyArns.map((arn: unknown) => text(arn).split('/').pop()).sort())
      .toEqual(['AmazonEC2ContainerRegistryPullOnly', 'AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy']);
    expect(nodeRole.Policies).toBeUndefined();
  });
});
