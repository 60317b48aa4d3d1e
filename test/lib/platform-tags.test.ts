import * as path from 'path';
import { App, CfnResource, Stack, TagManager, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { fraudFeatureViews, fraudRealtimeInputs, transaction } from '../../examples/fraud-features';
import {
  AlarmTopic, CostGuard, Fallback, FeatureIngestion, FeatureStore, InferenceGateway, InferenceImage, InferenceInstanceType,
  ModelArtifact, ModelBackend, ModelEndpoint, ModelMonitoring, ModelRouting, PlatformTags,
} from '../../lib';
import { BudgetDegrade } from '../../lib/monitoring/cost-degrade';

const MODELS = path.join(__dirname, '..', '..', 'examples', 'models');
const TAGS = { platform: 'ml-platform', team: 'fraud-ml', environment: 'prod' };

/**
 * Resource types of the platform that CloudFormation cannot tag, each with why no cost goes untracked. A new type here
 * fails the test below until someone checks whether it bills.
 */
const UNTAGGABLE = {
  'AWS::ApiGateway::Account': 'account setting, free',
  'AWS::ApiGateway::Deployment': 'free; requests bill on the stage, which is tagged',
  'AWS::ApiGateway::Method': 'free (configuration of the tagged API)',
  'AWS::ApiGateway::Model': 'free (configuration of the tagged API)',
  'AWS::ApiGateway::RequestValidator': 'free (configuration of the tagged API)',
  'AWS::ApiGateway::Resource': 'free (configuration of the tagged API)',
  'AWS::ApiGateway::UsagePlanKey': 'free',
  'AWS::ApplicationAutoScaling::ScalingPolicy': 'free; its CloudWatch alarms are managed by the service',
  'AWS::Glue::Database': 'Data Catalog objects: the first million are free, no tags in CloudFormation',
  'AWS::Glue::Table': 'Data Catalog objects: the first million are free, no tags in CloudFormation',
  'AWS::IAM::Policy': 'free',
  'AWS::Lambda::EventInvokeConfig': 'free (retry settings of a tagged function)',
  'AWS::Lambda::Permission': 'free',
  'AWS::S3::BucketPolicy': 'free',
  'AWS::SNS::Subscription': 'free; deliveries bill on the tagged topic',
  'AWS::SNS::TopicPolicy': 'free',
  'AWS::SQS::QueuePolicy': 'free',
  'Custom::ModelRoutingSeed': 'a call made at deploy time by a tagged Lambda function',
  'Custom::ModelRoutingVariants': 'a call made at deploy time by a tagged Lambda function',
} as const;

/** The library's constructs wired as in the reference platform, tagged; the fraud model's resources carry model=fraud. */
function platform() {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  PlatformTags.apply(app, TAGS);
  const stack = new Stack(app, 'Tagged', { env: { account: '123456789012', region: 'us-east-1' } });
  const alarms = new AlarmTopic(stack, 'Alarms');
  const store = new FeatureStore(stack, 'Features', { views: fraudFeatureViews });
  const ingestion = new FeatureIngestion(stack, 'Ingest', { store, views: fraudFeatureViews, alarmAction: alarms });
  const endpoint = new ModelEndpoint(stack, 'FraudEndpoint', {
    modelName: 'fraud',
    image: InferenceImage.fromServer({ gpu: true }),
    variants: [{
      name: 'champion', model: ModelArtifact.fromAsset(path.join(MODELS, 'fraud-realtime.onnx')),
      instanceType: InferenceInstanceType.G5_XLARGE, autoScaling: { maxCapacity: 4, targetInvocationsPerInstance: 3000 },
    }],
  });
  const routing = new ModelRouting(stack, 'Routing', { alarmAction: alarms });
  routing.addModel({ model: 'fraud', variantWeights: endpoint.productionVariantWeights, endpoint });
  const gateway = new InferenceGateway(stack, 'FraudGateway', {
    backend: ModelBackend.sageMaker(endpoint), store, features: fraudFeatureViews, requestSource: transaction,
    featureRefs: fraudRealtimeInputs, routing, fallback: Fallback.constant({ probability: [0.01] }),
  });
  const cost = new CostGuard(stack, 'Cost', { monthlyLimit: 5000, alarmAction: alarms });
  cost.addCostPerPredictionAlarm(endpoint, 'champion', { pricePerInstanceHour: 1.41, threshold: 0.5 });
  // Monitoring (alarm topics, composites, dashboard) and the degrade action (ledger table, function, DLQ) are tagged too.
  new ModelMonitoring(stack, 'FraudMonitoring', { endpoint, gateway, ingestion, routing, views: fraudFeatureViews });
  new BudgetDegrade(stack, 'CostDegrade', { topic: cost.topic, alarmAction: alarms })
    .routeTo(routing, 'fraud', { champion: 100 }).scaleToMinimum(endpoint, 'champion');
  PlatformTags.model(endpoint, 'fraud');
  PlatformTags.model(gateway, 'fraud');
  const template = Template.fromJSON(app.synth().getStackByName(stack.stackName).template);
  return { stack, template, endpoint, gateway };
}

/**
 * Tags of a synthesized resource as a map, whatever the format (list of Key/Value, or a map). `propertyName` is the
 * L1's (`tags`, `resourceTags`): CloudFormation's is the same capitalized.
 */
function tagsOf(properties: Record<string, any> | undefined, propertyName: string): Record<string, string> {
  const tags = properties?.[propertyName.charAt(0).toUpperCase() + propertyName.slice(1)];
  if (Array.isArray(tags)) return Object.fromEntries(tags.map((t: { Key: string; Value: string }) => [t.Key, t.Value]));
  return { ...tags };
}

/** Every CloudFormation resource under `root`. */
function cfnResources(root: IConstruct): CfnResource[] {
  return root.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c));
}

/** The tag manager of an L1, when CloudFormation can tag its type (as aws-cdk-lib generates it from the schema). */
function tagManagerOf(resource: CfnResource): TagManager | undefined {
  if (TagManager.isTaggableV2(resource)) return resource.cdkTagManager;
  if (TagManager.isTaggable(resource)) return resource.tags;
  return undefined;
}

describe('PlatformTags', () => {
  const { stack, template, endpoint, gateway } = platform();
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, any> }>;
  const all = cfnResources(stack);
  const inSubtree = (scope: IConstruct) => new Set(cfnResources(scope).map((r) => stack.getLogicalId(r)));
  const fraudIds = new Set([...inSubtree(endpoint), ...inSubtree(gateway)]);

  test('every resource CloudFormation can tag carries platform, model, team and environment', () => {
    const taggable = all.filter((r) => tagManagerOf(r) !== undefined);
    expect(taggable.length).toBeGreaterThan(40);
    const missing = taggable.flatMap((resource) => {
      const id = stack.getLogicalId(resource);
      const tags = tagsOf(resources[id].Properties, tagManagerOf(resource)!.tagPropertyName);
      const expected = { ...TAGS, model: fraudIds.has(id) ? 'fraud' : PlatformTags.SHARED_MODEL };
      const wrong = Object.entries(expected).filter(([key, value]) => tags[key] !== value);
      return wrong.length === 0 ? [] : [`${id} (${resource.cfnResourceType}): ${wrong.map(([k, v]) => `${k}=${tags[k]} (expected ${v})`).join(', ')}`];
    });
    expect(missing).toEqual([]);
    // The billed resources of the platform are among them.
    const taggedTypes = new Set(taggable.map((r) => r.cfnResourceType));
    for (const type of ['AWS::SageMaker::Endpoint', 'AWS::SageMaker::Model', 'AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::Kinesis::Stream',
      'AWS::Lambda::Function', 'AWS::ApiGateway::RestApi', 'AWS::ApiGateway::Stage', 'AWS::Logs::LogGroup', 'AWS::KMS::Key', 'AWS::SQS::Queue',
      'AWS::SNS::Topic', 'AWS::Athena::WorkGroup', 'AWS::CloudWatch::Alarm', 'AWS::Budgets::Budget', 'AWS::CloudWatch::CompositeAlarm',
      'AWS::CloudWatch::Dashboard']) {
      expect([type, taggedTypes.has(type)]).toEqual([type, true]);
    }
  });

  test('the model override tags the endpoint and the gateway with model=fraud, the rest model=shared', () => {
    const [endpointResource] = Object.values(template.findResources('AWS::SageMaker::Endpoint'));
    expect(tagsOf(endpointResource.Properties, 'tags')).toEqual({ ...TAGS, model: 'fraud' });
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table'));
    expect(tables.map((table) => tagsOf(table.Properties, 'tags').model)).toEqual(tables.map(() => 'shared'));
  });

  test('the resource types that cannot be tagged are known, and none of them bills on its own', () => {
    const untaggable = [...new Set(all.filter((r) => tagManagerOf(r) === undefined).map((r) => r.cfnResourceType))].sort();
    expect(untaggable).toEqual(Object.keys(UNTAGGABLE).sort());
  });

  test('invalid tag values: every problem at once, naming the fix', () => {
    expect(() => PlatformTags.apply(new App(), { platform: '', team: 'a$b', environment: ' prod', model: 'x'.repeat(257) })).toThrow([
      'invalid props:',
      '  - platform: a tag value is required (a non-empty string)',
      "  - team: 'a$b' may hold only letters, digits, spaces and _ . : / = + - @ (AWS tag values)",
      "  - environment: ' prod' has leading or trailing spaces; AWS budgets and reports match tag values exactly: remove them",
      '  - model: 257 characters; AWS allows at most 256 in a tag value',
    ].join('\n'));
  });
});
