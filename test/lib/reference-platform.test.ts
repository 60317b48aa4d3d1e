import * as fs from 'fs';
import * as path from 'path';
import { App, CfnElement, CfnResource, TagManager } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { buildReferencePlatform, ReferencePlatformStack } from '../../bin/platform';
import { fraudFeatureViews } from '../../examples/fraud-features';
import { GatewayVariables } from '../../runtime/contracts/gateway';
import { ServerVariables } from '../../runtime/contracts/inference-server';
import { alarmsWithoutActions } from '../support/alarms';

/** The template with asset hashes (content hashes of the Lambda bundles) masked, so the snapshot shows structure. */
function withMaskedAssetHashes(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template).replace(/\b[0-9a-f]{64}\b/g, '<asset-hash>'));
}

describe('reference platform', () => {
  const app = new App();
  const [platform] = buildReferencePlatform(app);
  let synthError: unknown;
  let template: Template;
  let assemblyDir = '';
  try {
    const assembly = app.synth();
    assemblyDir = assembly.directory;
    template = Template.fromJSON(assembly.getStackByName(platform.stackName).template);
  } catch (error) {
    synthError = error;
  }

  test('synthesizes with the cdk-nag AwsSolutions checks passing', () => {
    expect(synthError).toBeUndefined();
  });

  test('every validation plugin (cdk-nag, CloudFormation Validate: circular references and more) reports nothing', () => {
    // aws-cdk-lib leaves a plugin out of the report when it found nothing (no violation, nothing acknowledged): a clean
    // platform has an empty list. That the plugins run at all is shown by the liveness tests below.
    const report = JSON.parse(fs.readFileSync(path.join(assemblyDir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.map((plugin: any) => ({ plugin: plugin.pluginName, violations: plugin.violations })))
      .toEqual(report.pluginReports.map((plugin: any) => ({ plugin: plugin.pluginName, violations: [] })));
  });

  test('serves the fraud model: endpoint on the server image, gateway reading the same feature store and the routing table', () => {
    expect(platform.fraudGateway.modelName).toBe('fraud');
    template.resourceCountIs('AWS::SageMaker::Endpoint', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 5); // fraud: 3 tiers; prescreen: 2
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [GatewayVariables.MODEL_BACKEND]: JSON.stringify({ kind: 'sagemaker', endpointName: platform.fraudEndpoint.endpointName }),
          [GatewayVariables.ONLINE_TABLE_NAME]: platform.resolve(platform.featureStore.table.tableName),
          [GatewayVariables.ROUTING_TABLE_NAME]: platform.resolve(platform.routing.tableName),
        }),
      },
    });
    // Typed server settings reach the containers as the server's variables.
    template.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: { Environment: Match.objectLike({ [ServerVariables.MAX_BATCH_SIZE]: '64', [ServerVariables.MODEL_NAME]: 'fraud' }) },
    });
    // Live weights survive a redeploy: the routing table owns them.
    template.hasResourceProperties('AWS::SageMaker::Endpoint', { RetainAllVariantProperties: true });
    expect(platform.routing.models).toEqual(['fraud']);
  });

  test('the pre-screening gateway embeds its model: request-time features only, no store, no endpoint', () => {
    const fnId = platform.getLogicalId(platform.prescreenGateway.function.node.defaultChild as CfnElement);
    const variables = template.toJSON().Resources[fnId].Properties.Environment.Variables;
    expect(JSON.parse(variables[GatewayVariables.MODEL_BACKEND])).toMatchObject({ kind: 'embedded' });
    expect(variables[GatewayVariables.ONLINE_TABLE_NAME]).toBeUndefined();
    expect(platform.prescreenGateway.modelName).toBe('prescreen');
  });

  test('holds the feature store and its ingestion for every fraud view', () => {
    expect(platform).toBeInstanceOf(ReferencePlatformStack);
    expect(platform.featureStore.views.map((v) => v.name)).toEqual(fraudFeatureViews.map((v) => v.name));
    expect(platform.featureIngestion.store).toBe(platform.featureStore);
    template.resourceCountIs('AWS::DynamoDB::Table', 4); // the online store, the routing table, the cost guard's degrade ledger, the rollouts
    template.resourceCountIs('AWS::Glue::Table', fraudFeatureViews.length + 2); // + the prediction logs' and the labels'
    template.resourceCountIs('AWS::Athena::WorkGroup', 1);
    template.resourceCountIs('AWS::Kinesis::Stream', 4); // ingestion + each gateway's prediction log + labels
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3); // the materializer + the routing sync + the label ingestion
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', Runtime: 'nodejs22.x' });
    for (const view of fraudFeatureViews) template.hasResourceProperties('AWS::Glue::Table', { TableInput: { Name: view.name } });
  });

  test('every alarm notifies: operator alarms the platform alarm topic (on ALARM and OK), scaling alarms their policy', () => {
    expect(alarmsWithoutActions(template)).toEqual([]);
    const topicRef = { Ref: platform.getLogicalId(platform.alarms.topic.node.defaultChild as CfnElement) };
    for (const alarm of platform.featureIngestion.alarms) {
      expect(template.toJSON().Resources[platform.getLogicalId(alarm.node.defaultChild as CfnElement)].Properties)
        .toMatchObject({ AlarmActions: [topicRef], OKActions: [topicRef] });
    }
  });

  test('monitors both models: severity alarms, SLO burn-rate pairs, a guardrail per model, dashboards', () => {
    const resources = template.toJSON().Resources as Record<string, any>;
    const guardrails = [platform.fraudMonitoring, platform.prescreenMonitoring].map((m) => resources[platform.getLogicalId(m.guardrail.node.defaultChild as CfnElement)]);
    for (const guardrail of guardrails) {
      expect(guardrail.Type).toBe('AWS::CloudWatch::CompositeAlarm');
      expect(guardrail.Properties.AlarmActions).toEqual([{ Ref: platform.getLogicalId(platform.pager.topic.node.defaultChild as CfnElement) }]);
    }
    // The ingestion's alarms are gathered into the fraud guardrail, not duplicated.
    const rule = JSON.stringify(guardrails[0].Properties.AlarmRule);
    for (const alarm of platform.featureIngestion.alarms) expect(rule).toContain(platform.getLogicalId(alarm.node.defaultChild as CfnElement));
    expect(Object.keys(platform.fraudMonitoring.slos).sort()).toEqual(['Availability', 'FeatureAvailability-customer_txn_stats', 'FeatureAvailability-merchant_risk', 'Latency']);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 2);
  });

  test('prediction logs land in S3 as a dataset; drift, labels and quality watch them; monitoring alarms on them', () => {
    // One Firehose per gateway, partitioned by model and event time.
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    for (const gateway of [platform.fraudGateway, platform.prescreenGateway]) {
      template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
        KinesisStreamSourceConfiguration: { KinesisStreamARN: platform.resolve(gateway.predictionLog.streamArn) },
      });
    }
    expect(platform.fraudDrift.modelName).toBe('fraud');
    expect(platform.prescreenDrift.modelName).toBe('prescreen');
    expect(platform.fraudQuality.modelName).toBe('fraud');
    expect(platform.labels.models).toEqual(['fraud', 'prescreen']);
    // Drift checks and the label join run hourly.
    const schedules = Object.values(template.findResources('AWS::Events::Rule')).map((r: any) => r.Properties.ScheduleExpression);
    expect(schedules.filter((e) => e === 'rate(1 hour)')).toHaveLength(3);
    // The critical drift and quality alarms trip the fraud guardrail; the warnings reach the alarm topic.
    const critical = platform.fraudMonitoring.criticalAlarms.map((a) => a.node.id);
    expect(critical).toEqual(expect.arrayContaining(['DriftedFeatures-Critical', 'QualityDrop-Critical']));
    expect(platform.prescreenMonitoring.criticalAlarms.map((a) => a.node.id)).toContain('DriftedFeatures-Critical');
    expect(platform.fraudMonitoring.warningAlarms.map((a) => a.node.id)).toEqual(expect.arrayContaining(['PredictionDrift', 'DataQuality', 'PredictionCollapse', 'QualityDrop-Warning']));
    // The dataset's, the labels' and the checks' own alarms notify the platform's alarm topic.
    const topicRef = { Ref: platform.getLogicalId(platform.alarms.topic.node.defaultChild as CfnElement) };
    for (const alarm of [...platform.predictionLogs.alarms, ...platform.labels.alarms, ...platform.fraudDrift.alarms, ...platform.fraudQuality.alarms]) {
      expect(template.toJSON().Resources[platform.getLogicalId(alarm.node.defaultChild as CfnElement)].Properties).toMatchObject({ AlarmActions: [topicRef] });
    }
  });

  test('a canary rollout of fraud: shadow, then steps, guarded by the fraud guardrail; started by a model approval too', () => {
    const rollout = platform.fraudRollout;
    expect(rollout.plan).toMatchObject({ model: 'fraud', champion: 'champion', challenger: 'challenger', shadow: { percent: 10 } });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
    // Its guardrail is the monitoring's composite alarm; its notifications and alarms reach the platform's alarm topic.
    expect(rollout.plan.guardrails.alarms).toEqual([platform.fraudMonitoring.guardrail.alarmName]);
    const topicRef = { Ref: platform.getLogicalId(platform.alarms.topic.node.defaultChild as CfnElement) };
    for (const alarm of rollout.alarms) {
      expect(template.toJSON().Resources[platform.getLogicalId(alarm.node.defaultChild as CfnElement)].Properties).toMatchObject({ AlarmActions: [topicRef] });
    }
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.sagemaker'], detail: Match.objectLike({ ModelPackageGroupName: ['fraud'] }) }),
    });
  });

  test('the cost guard: a monthly budget over the platform tag, cost per 1,000 predictions at declared prices, a degrade action', () => {
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: Match.objectLike({ BudgetType: 'COST', TimeUnit: 'MONTHLY', CostFilters: { TagKeyValue: ['user:platform$ml-platform'] } }),
    });
    const costAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a: any) => JSON.stringify(a.Properties.Metrics ?? []).includes('InvocationsPerInstance'));
    expect(costAlarms).toHaveLength(2); // champion and challenger
    // Budget notifications reach people (the platform's warning topic) and the degrade function listens there too.
    expect(platform.cost.topic).toBe(platform.alarms.topic);
    template.hasResourceProperties('AWS::Budgets::Budget', {
      NotificationsWithSubscribers: Match.arrayWith([Match.objectLike({
        Notification: Match.objectLike({ NotificationType: 'ACTUAL', Threshold: 100 }),
        Subscribers: [{ SubscriptionType: 'SNS', Address: platform.resolve(platform.alarms.topic.topicArn) }],
      })]),
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'lambda', TopicArn: platform.resolve(platform.cost.topic.topicArn) });
  });

  test('every taggable resource carries platform, model, team and environment', () => {
    // Taggable as aws-cdk-lib's schema-generated tag managers say, not "has a Tags array": an untagged resource counts.
    const taggable = platform.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c) && TagManager.isTaggable(c));
    expect(taggable.length).toBeGreaterThan(50);
    const resources = template.toJSON().Resources as Record<string, any>;
    const tagsOf = (r: any): { Key: string }[] => (Array.isArray(r.Properties?.Tags) ? r.Properties.Tags : Object.entries(r.Properties?.Tags ?? {}).map(([Key]) => ({ Key })));
    const untagged = taggable.map((c) => platform.getLogicalId(c))
      .filter((id) => !['platform', 'model', 'team', 'environment'].every((k) => tagsOf(resources[id]).some((t) => t.Key === k)));
    expect(untagged).toEqual([]);
    const endpointTags = template.toJSON().Resources[platform.getLogicalId(platform.fraudEndpoint.cfnEndpoint)].Properties.Tags;
    expect(endpointTags).toContainEqual({ Key: 'model', Value: 'fraud' });
  });

  test('template snapshot (asset hashes masked)', () => {
    expect(withMaskedAssetHashes(template.toJSON())).toMatchSnapshot();
  });
});

test('CloudFormation Validate is live: a template error added to the platform is in the validation report', () => {
  const app = new App();
  const [platform] = buildReferencePlatform(app);
  new CfnResource(platform, 'Broken', { type: 'AWS::Logs::LogGroup', properties: { RetentionInDays: 'seven' } });
  const printed = jest.spyOn(console, 'error').mockImplementation(() => undefined); // synth prints the warnings too
  const report = JSON.parse(fs.readFileSync(path.join(app.synth().directory, 'validation-report.json'), 'utf8'));
  printed.mockRestore();
  const violations = report.pluginReports.filter((p: any) => p.pluginName === 'CloudFormation Validate').flatMap((p: any) => p.violations);
  expect(violations.flatMap((v: any) => v.violatingConstructs.map((c: any) => c.constructPath))).toContain('MlPlatform/Broken');
});

test('the checks are live: an unencrypted, unlogged bucket added to the platform fails synthesis', () => {
  const app = new App();
  const [platform] = buildReferencePlatform(app);
  new s3.Bucket(platform, 'Careless');
  expect(() => app.synth()).toThrow(/AwsSolutions-S1|AwsSolutions-S10/);
});
