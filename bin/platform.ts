import { App, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Validations } from 'aws-cdk-lib';
import { fraudFeatureViews } from '../examples/fraud-features';
import { FeatureIngestion, FeatureStore } from '../lib';

/**
 * The reference platform: every capability of the library wired together the way a platform engineer would.
 * `bin/app.ts` synthesizes it (`npm start`); the tests synthesize the same code and run cdk-nag over it.
 */
export class ReferencePlatformStack extends Stack {
  /** Online and offline feature store holding the fraud example's views. */
  public readonly featureStore: FeatureStore;
  /** Streaming materialization of those views. */
  public readonly featureIngestion: FeatureIngestion;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, { description: 'ml-platform-constructs reference platform', ...props });
    this.featureStore = new FeatureStore(this, 'Features', { views: fraudFeatureViews });
    this.featureIngestion = new FeatureIngestion(this, 'FeatureIngestion', { store: this.featureStore, views: fraudFeatureViews });
  }
}

/** Builds the reference platform into `app`, with the AwsSolutions checks enabled. */
export function buildReferencePlatform(app: App): ReferencePlatformStack[] {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return [new ReferencePlatformStack(app, 'MlPlatform', { env: { account: '123456789012', region: 'us-east-1' } })];
}
