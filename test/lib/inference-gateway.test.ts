import * as path from 'path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { customerTxnStats, fraudFeatureViews, fraudModelFeatureRefs, fraudPrescreenInputs, merchantRisk, transaction } from '../../examples/fraud-features';
import { requestValueProblem } from '../../lib/features/spec';
import {
  Fallback, FeatureStore, InferenceGateway, InferenceGatewayProps, InferenceImage, InferenceInstanceType, ModelArtifact,
  ModelBackend, ModelEndpoint, PriorityTier,
} from '../../lib';
import { PREDICT_REQUEST_LIMITS } from '../../lib/private/predict-request';
import { GatewayVariables } from '../../runtime/contracts/gateway';
import { GatewayMetrics, MetricDimensions, toEmf } from '../../runtime/core/metrics';
import { alarmsWithoutActions } from '../support/alarms';

const ENV = { account: '123456789012', region: 'us-east-1' };
const MODEL = path.join(__dirname, '..', '..', 'examples', 'models', 'fraud-mlp.onnx');

function platform(stackId: string) {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, stackId, { env: ENV });
  const store = new FeatureStore(stack, 'Features', { views: fraudFeatureViews });
  const endpoint = new ModelEndpoint(stack, 'Fraud', {
    image: InferenceImage.fromServer({ gpu: false }),
    variants: [
      { name: 'champion', model: ModelArtifact.fromAsset(MODEL), instanceType: InferenceInstanceType.C6I_XLARGE, initialWeight: 9 },
      { name: 'challenger', model: ModelArtifact.fromAsset(MODEL), instanceType: InferenceInstanceType.C6I_XLARGE, initialWeight: 1 },
    ],
  });
  return { app, stack, store, endpoint };
}

function gatewayProps(p: ReturnType<typeof platform>, overrides: Partial<InferenceGatewayProps> = {}): InferenceGatewayProps {
  return {
    backend: ModelBackend.sageMaker(p.endpoint), store: p.store, features: fraudFeatureViews, featureRefs: fraudModelFeatureRefs, modelName: 'fraud',
    fallback: Fallback.constant({ probability: [0.01] }), deadline: Duration.millis(40), predictionCacheTtl: Duration.seconds(30),
    tiers: [PriorityTier.CRITICAL, PriorityTier.standard({ rateLimit: 100, quotaPerDay: 500_000 }), PriorityTier.BATCH],
    ...overrides,
  };
}

const p = platform('Serving');
const caller = new iam.Role(p.stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
const gateway = new InferenceGateway(p.stack, 'Gateway', gatewayProps(p));
gateway.grantInvoke(caller);
const template = Template.fromJSON(p.app.synth().getStackByName(p.stack.stackName).template); // cdk-nag runs here
const fnId = p.stack.getLogicalId(gateway.function.node.defaultChild as any);
/** A JSON variable of the gateway's environment parsed, with each reference (the API key ids, the endpoint name) kept as its JSON text. */
const jsonVariable = (name: string) => {
  const value = template.toJSON().Resources[fnId].Properties.Environment.Variables[name];
  return JSON.parse(typeof value === 'string' ? value : (value['Fn::Join'][1] as unknown[])
    .map((part) => (typeof part === 'string' ? part : JSON.stringify(part).replace(/"/g, '\\"'))).join(''));
};
const config = () => jsonVariable(GatewayVariables.CONFIG);

describe('InferenceGateway', () => {
  test('POST /predict/{model}: IAM-authorized, API key required, body validated against a schema from the input contract', () => {
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST', ApiKeyRequired: true, AuthorizationType: 'AWS_IAM',
      RequestValidatorId: Match.anyValue(), RequestParameters: { 'method.request.path.model': true },
      Integration: { Type: 'AWS_PROXY' },
    });
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      ContentType: 'application/json',
      Schema: {
        required: ['entity'], additionalProperties: false,
        properties: {
          entity: { required: ['customer_id', 'merchant_id'], additionalProperties: false, properties: { customer_id: { type: ['string', 'integer'] } } },
          userId: { type: 'string', minLength: 1 },
        },
      },
    });
  });

  test('every content type is validated against the model: $default as well as application/json', () => {
    const modelRef = { Ref: p.stack.getLogicalId(gateway.node.findChild('PredictRequest').node.defaultChild as any) };
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST', RequestModels: { $default: modelRef, 'application/json': modelRef },
    });
  });

  test('the schema bounds every string, integer and object, and admits no other field or array', () => {
    const { MAX_JOIN_KEY_LENGTH, MAX_USER_ID_LENGTH } = PREDICT_REQUEST_LIMITS;
    expect([MAX_JOIN_KEY_LENGTH, MAX_USER_ID_LENGTH]).toEqual([128, 256]);
    const joinKey = { type: ['string', 'integer'], minLength: 1, maxLength: 128, minimum: -(2 ** 53 - 1), maximum: 2 ** 53 - 1 };
    const [model] = Object.values(template.findResources('AWS::ApiGateway::Model'));
    expect(model.Properties.Schema).toEqual({
      $schema: 'http://json-schema.org/draft-04/schema#',
      type: 'object', required: ['entity'], additionalProperties: false, maxProperties: 2,
      properties: {
        entity: {
          type: 'object', required: ['customer_id', 'merchant_id'], additionalProperties: false, minProperties: 2, maxProperties: 2,
          properties: { customer_id: joinKey, merchant_id: joinKey },
        },
        userId: { type: 'string', minLength: 1, maxLength: 256, description: expect.any(String) },
      },
    });
  });

  test('no alarm of the gateway stack lacks an action', () => {
    expect(alarmsWithoutActions(template)).toEqual([]);
  });

  test('one usage plan and API key per tier, with throttles and quotas, plus stage throttling, tracing and JSON access logs', () => {
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 3);
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 3);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 3);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 500, BurstLimit: 1000 }, Quota: Match.absent() });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 100, BurstLimit: 200 }, Quota: { Limit: 500_000, Period: 'DAY' } });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 50, BurstLimit: 100 } });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod', TracingEnabled: true,
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 2000, ThrottlingBurstLimit: 4000, LoggingLevel: 'ERROR', MetricsEnabled: true })],
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
    });
    expect(Object.keys(gateway.apiKeys).sort()).toEqual(['batch', 'critical', 'standard']);
  });

  test('the handler gets its whole configuration: input contract, deadline, fallback, tiers by key, variant weights, cache', () => {
    const env = template.toJSON().Resources[fnId].Properties.Environment.Variables;
    expect(jsonVariable(GatewayVariables.MODEL_BACKEND)).toEqual({ kind: 'sagemaker', endpointName: p.endpoint.endpointName });
    expect(env[GatewayVariables.ONLINE_TABLE_NAME]).toEqual(p.stack.resolve(p.store.table.tableName));
    expect(env[GatewayVariables.PREDICTION_LOG_STREAM]).toEqual(p.stack.resolve(gateway.predictionLog.streamName));
    const parsed = config();
    // The gateway logs each variant's version as its containers report it (MODEL_VERSION), so logs join.
    expect(parsed.modelVersions).toEqual(p.endpoint.modelVersions);
    expect(Object.keys(parsed.modelVersions)).toEqual(['champion', 'challenger']);
    expect(parsed).toMatchObject({
      model: 'fraud', modelVersion: '1', inputName: 'features', deadlineMs: 40, featureRefs: fraudModelFeatureRefs,
      fallbackOutputs: { probability: [0.01] }, defaultTier: 'batch', cacheTtlMs: 30000,
      variants: [{ name: 'champion', weight: 9 }, { name: 'challenger', weight: 1 }],
      views: [customerTxnStats.toSpec(), merchantRisk.toSpec()],
    });
    // The key ids are references to the three keys, each mapped to its tier.
    const keyRefs = Object.entries(gateway.apiKeys).map(([tier, key]) => [JSON.stringify(p.stack.resolve(key.keyId)), tier]);
    expect(Object.entries(parsed.tierByApiKeyId).sort()).toEqual(keyRefs.sort());
  });

  test("least privilege: the handler reads the online table, invokes the endpoint, writes the log stream; '*' only for X-Ray", () => {
    const roleId = p.stack.getLogicalId(gateway.function.role!.node.defaultChild as any);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((pol: any) => pol.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((pol: any) => pol.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s: any) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:BatchGetItem', 'sagemaker:InvokeEndpoint', 'kinesis:PutRecords']));
    expect(actions).not.toContain('dynamodb:PutItem');
    const starred = statements.filter((s: any) => [s.Resource].flat().includes('*'));
    expect(starred.flatMap((s: any) => [s.Action].flat()).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  test('grantInvoke allows execute-api:Invoke on this model\'s predict route of the stage only (no wildcard)', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: p.stack.getLogicalId(caller.node.defaultChild as any) }],
      PolicyDocument: { Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/POST/predict/fraud$')])] } }] },
    });
  });

  test("the prediction log stream is encrypted with the feature store's key", () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [p.stack.getLogicalId(p.store.key.node.defaultChild as any), 'Arn'] } },
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
    });
  });

  test('invalid props are all reported at once, naming the prop and the fix', () => {
    const q = platform('Invalid');
    let message = '';
    try {
      new InferenceGateway(q.stack, 'Gateway', gatewayProps(q, {
        featureRefs: ['customer_txn_stats:last_device_type', 'customer_txn_stats:nope'],
        tiers: [PriorityTier.BATCH, PriorityTier.BATCH],
        deadline: Duration.millis(1),
        fallback: Fallback.constant({}),
        modelName: 'fraud model',
      }));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/featureRefs: .*has no feature 'nope'/);
    expect(message).toMatch(/tiers: each tier at most once/);
    expect(message).toMatch(/deadline: 1 ms must be between 5 ms and 9 s/);
    expect(message).toMatch(/fallback: declare the answer served/);
    expect(message).toMatch(/modelName: 'fraud model' must be/);
    expect(() => new InferenceGateway(q.stack, 'Strings', gatewayProps(q, { featureRefs: ['customer_txn_stats:last_device_type'] })))
      .toThrow(/'customer_txn_stats:last_device_type' is a string; model inputs are numeric/);
  });

  test("the model name defaults to the backend's, including an imported endpoint's", () => {
    const q = platform('Names');
    const named = new ModelEndpoint(q.stack, 'Named', {
      modelName: 'scoring', image: InferenceImage.fromServer({ gpu: false }),
      variants: [{ name: 'only', model: ModelArtifact.fromAsset(MODEL), instanceType: InferenceInstanceType.C6I_XLARGE }],
    });
    expect(new InferenceGateway(q.stack, 'Default', gatewayProps(q, { backend: ModelBackend.sageMaker(named), modelName: undefined })).modelName).toBe('scoring');
    // An imported endpoint keeps its facts (today's endpoint would silently lose them: no instanceof anywhere).
    const imported = ModelEndpoint.fromEndpointAttributes(q.stack, 'Imported', {
      endpointName: 'legacy', variantNames: ['blue', 'green'], modelName: 'legacy-scoring',
      productionVariantWeights: { blue: 3, green: 1 }, modelVersions: { blue: 'b7', green: 'g2' },
    });
    const fromImport = new InferenceGateway(q.stack, 'FromImport', gatewayProps(q, { backend: ModelBackend.sageMaker(imported), modelName: undefined }));
    expect(fromImport.modelName).toBe('legacy-scoring');
    const env = Template.fromStack(q.stack).findResources('AWS::Lambda::Function');
    const fn = Object.entries(env).find(([id]) => id.startsWith('FromImport'))![1] as any;
    const text = JSON.stringify(fn.Properties.Environment.Variables);
    expect(text).toContain('\\"modelVersions\\":{\\"blue\\":\\"b7\\",\\"green\\":\\"g2\\"}');
    expect(text).toContain('{\\"name\\":\\"blue\\",\\"weight\\":3}');
    const unnamed = ModelBackend.http({ url: 'http://models.internal:8080', vpc: new ec2.Vpc(q.stack, 'Vpc', { maxAzs: 1, natGateways: 0 }) });
    expect(() => new InferenceGateway(q.stack, 'Unnamed', gatewayProps(q, { backend: unnamed, modelName: undefined })))
      .toThrow(/modelName: '' must be .*give the backend a model name/);
  });

  test('variant weights must name production variants and give one of them traffic', () => {
    const q = platform('Weights');
    expect(() => new InferenceGateway(q.stack, 'Gateway', gatewayProps(q, { variantWeights: { champion: 0, shadow: 0 } })))
      .toThrow(/variantWeights\.shadow: the backend has no variant 'shadow' \(has: champion, challenger\)[\s\S]*at least one variant needs a positive weight/);
  });

  test('request-time features: in the API schema (types, float32 range, required unless a fallback), no store needed', () => {
    const q = platform('Request');
    const embedded = ModelBackend.embedded({ modelPath: path.join(__dirname, '..', '..', 'examples', 'models', 'fraud-prescreen.onnx') });
    const prescreen = new InferenceGateway(q.stack, 'Prescreen', {
      backend: embedded, requestSource: transaction, featureRefs: fraudPrescreenInputs, fallback: Fallback.constant({ probability: [0.5] }),
    });
    expect(prescreen.modelName).toBe('fraud-prescreen');
    const t = Template.fromStack(q.stack);
    const float32 = { type: 'number', minimum: -3.4028235677973366e38, maximum: 3.4028235677973366e38, exclusiveMinimum: true, exclusiveMaximum: true };
    t.hasResourceProperties('AWS::ApiGateway::Model', {
      RestApiId: { Ref: Match.stringLikeRegexp('^PrescreenApi') },
      Schema: Match.objectLike({
        required: ['request'], additionalProperties: false, maxProperties: 2,
        properties: {
          userId: Match.anyValue(),
          request: Match.objectLike({
            type: 'object', additionalProperties: false, required: ['amount', 'hour_of_day'], maxProperties: 3,
            properties: {
              amount: Match.objectLike(float32),
              card_present: Match.objectLike({ type: 'boolean' }),
              hour_of_day: Match.objectLike({ type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
            },
          }),
        },
      }),
    });
    // The schema's float32 bound is the runtime's: the bound itself overflows, the double below it does not.
    const amount = transaction.toSpec().features[0];
    expect(requestValueProblem(amount, float32.maximum)).toMatch(/outside the float32 range/);
    expect(requestValueProblem(amount, 3.4028235677973362e38)).toBeUndefined();
    // No feature store: no table read, no table in its environment, a key of its own for the prediction log.
    const fn = t.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('model fraud-prescreen') } });
    expect(Object.values(fn)).toHaveLength(1);
    expect(Object.values(fn)[0].Properties.Environment.Variables[GatewayVariables.ONLINE_TABLE_NAME]).toBeUndefined();
    // A model reading stored features without a store is refused with the fix.
    expect(() => new InferenceGateway(q.stack, 'NoStore', { ...gatewayProps(q), store: undefined }))
      .toThrow(/store: the model reads stored features; pass the FeatureStore/);
  });

  test('views the store does not hold are refused', () => {
    const q = platform('Foreign');
    const other = new FeatureStore(q.stack, 'Other', { views: [merchantRisk] });
    expect(() => new InferenceGateway(q.stack, 'Gateway', gatewayProps(q, { store: other }))).toThrow(/features: .*customer_txn_stats/);
  });
});

test('contract: every gateway metric helper reads a dimension set the runtime publishes', () => {
  const line = JSON.parse(toEmf({ [MetricDimensions.MODEL]: 'fraud', [MetricDimensions.VARIANT]: 'champion' }, [{ name: GatewayMetrics.FALLBACKS, value: 1, unit: 'Count' }]));
  const published: string[][] = line._aws.CloudWatchMetrics[0].Dimensions;
  for (const metric of [gateway.metricFallbacks(), gateway.metricShed(), gateway.metricLatency()]) {
    const config = metric.toMetricConfig().metricStat!;
    expect(config.namespace).toBe(line._aws.CloudWatchMetrics[0].Namespace);
    expect(published).toContainEqual(Object.keys(metric.dimensions ?? {}));
  }
});
