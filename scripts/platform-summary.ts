/**
 * `npm start`: synthesizes the reference platform (bin/) into cdk.out/ with the AwsSolutions checks on, then prints
 * what it produced: stacks, resources by type, Lambda bundles and templates written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildGpuPlatform, buildReferencePlatform } from '../bin/platform';
import type { InferenceGateway } from '../lib';
import { resolvePlan } from '../runtime/core/rollout';

const outdir = path.join(__dirname, '..', 'cdk.out');
const started = Date.now();
const app = new App({ outdir });
const [platform] = buildReferencePlatform(app);
const gpu = buildGpuPlatform(app);
const assembly = app.synth();

console.log(`\nReference platform synthesized into ${path.relative(process.cwd(), outdir)}/ in ${Date.now() - started} ms (cdk-nag AwsSolutions: passed)\n`);
for (const stack of assembly.stacks) {
  const resources = Object.values<{ Type: string }>(stack.template.Resources ?? {});
  const byType = new Map<string, number>();
  for (const r of resources) byType.set(r.Type, (byType.get(r.Type) ?? 0) + 1);
  const size = fs.statSync(path.join(outdir, stack.templateFile)).size;
  console.log(`${stack.stackName}: ${resources.length} resources, template ${stack.templateFile} (${(size / 1024).toFixed(1)} KiB)`);
  for (const [type, count] of [...byType].sort((a, b) => a[0].localeCompare(b[0]))) {
    console.log(`  ${String(count).padStart(3)}  ${type}`);
  }
  const outputs = Object.entries<{ Description?: string }>(stack.template.Outputs ?? {});
  if (outputs.length > 0) console.log(`  outputs: ${outputs.map(([k]) => k).join(', ')}`);
}

console.log('\nWhat it runs:');
for (const view of platform.featureStore.views) {
  const spec = view.toSpec();
  console.log(`  feature view ${spec.name} v${spec.version}: ${spec.features.length} features, TTL ${spec.ttlSeconds} s, freshness ${spec.freshnessSeconds} s (online table + Glue table ${platform.featureStore.glueTableName(view)})`);
}
console.log(`  streaming ingestion: Kinesis → materializer Lambda (${platform.featureIngestion.alarms.length} alarms → the platform's alarm topic)`);
const weights = Object.entries(platform.fraudEndpoint.productionVariantWeights).map(([name, weight]) => `${name} ${weight}`).join(', ');
console.log(`  model endpoint: variants ${platform.fraudEndpoint.productionVariantNames.join(', ')} on the inference server image (typed server settings)`);
console.log(`  routing table: live weights of ${platform.routing.models.join(', ')} (seeded ${weights}; npm run route -- show fraud --table <table>), SageMaker weights follow it`);
const gateways: [InferenceGateway, string][] = [
  [platform.fraudGateway, 'SageMaker backend, stored + request-time features, weights from the routing table'],
  [platform.prescreenGateway, 'model embedded in the function, request-time features only'],
];
for (const [gateway, what] of gateways) {
  console.log(`  inference gateway: POST /predict/${gateway.modelName}, tiers ${Object.keys(gateway.apiKeys).join(' > ')}: ${what}`);
}
for (const monitoring of [platform.fraudMonitoring, platform.prescreenMonitoring]) {
  console.log(`  monitoring of ${monitoring.modelName}: ${monitoring.criticalAlarms.length} critical and ${monitoring.warningAlarms.length} warning alarms, SLOs ${Object.keys(monitoring.slos).join(', ')}, a guardrail, a dashboard`);
}
console.log(`  prediction logs: both gateways' streams → Firehose → s3://…/prediction-logs/model=<m>/dt=<date>/hour=<h>/ (Glue database ${platform.predictionLogs.databaseName}: prediction_logs, labels; ${platform.predictionLogs.alarms.length} delivery alarms)`);
console.log(`  labels: Kinesis records or S3 drops of {model, requestId | entity + eventTime, label, labelTime} for ${platform.labels.models.join(', ')}, validated into labels/ (refused ones dead-lettered)`);
for (const drift of [platform.fraudDrift, platform.prescreenDrift]) {
  console.log(`  drift of ${drift.modelName}: every ${drift.schedule.toHumanString()} against each version's baseline (npm run baseline): Evidently's methods, data quality, prediction drift and collapse`);
}
console.log(`  model quality of ${platform.fraudQuality.modelName}: labels joined with logged predictions every ${platform.fraudQuality.schedule.toHumanString()}, per variant, against the baseline's quality`);
const rolloutPlan = resolvePlan(platform.fraudRollout.plan);
console.log(`  canary rollout of ${rolloutPlan.model}: shadow ${rolloutPlan.shadow?.percent} % until its exit criteria, then ${rolloutPlan.steps.map((s) => `${s.percent} %`).join(' → ')}, rolled back on the fraud guardrail or the challenger's metrics (npm run rollout -- status --model fraud …); also started by a model approval`);
console.log(`  cost guard: a monthly budget over the platform tag, cost per 1,000 predictions per fraud variant; on a breach: ${platform.degrade.actions.map((a) => a.kind).join(', ')} (npm run degrade -- revert --last)`);
const { gpuNodes, loadBalancer, gateway: eksGateway } = gpu.eksGpuInference;
console.log(`  EKS GPU serving: ${gpuNodes.instanceTypes.join(' / ')} node group (${gpuNodes.gpuSharing.label}: ${gpuNodes.gpuSlotsPerNode} GPU slots per node), the inference server chart (cdk8s) behind an internal NLB on port ${loadBalancer.port}, POST /predict/${eksGateway.modelName} through the gateway in the cluster's VPC`);
const { fleet, pipeline } = gpu.spotTraining;
console.log(`  spot training: Batch on ${fleet.instanceTypes.join(' / ')} spot (production queue falls back to on-demand), checkpoints to s3://…/${fleet.checkpointPrefix}/<job id>; retraining pipeline of ${pipeline.modelPackageGroupName} (training set → data gate → train → evaluate → model gate → model package; an approval starts the fraud canary)`);
const report = path.join(outdir, 'validation-report.json');
if (fs.existsSync(report)) {
  const plugins = JSON.parse(fs.readFileSync(report, 'utf8')).pluginReports as { pluginName: string; violations: unknown[] }[];
  // aws-cdk-lib leaves out the plugins that found nothing: an empty list is a clean run.
  console.log(`\nValidation: ${plugins.map((p) => `${p.pluginName} ${p.violations.length} finding(s)`).join(', ') || 'no findings (cdk-nag AwsSolutions, CloudFormation Validate)'}`);
}
