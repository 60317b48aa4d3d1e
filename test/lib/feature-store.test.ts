import { App, CfnParameter, Duration, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { customer, customerTxnStats, fraudFeatureViews, merchantRisk } from '../../examples/fraud-features';
import { Feature, FeatureStore, FeatureStoreProps, FeatureView } from '../../lib';
import { OnlineAttributes } from '../../lib/features/spec';
import { MaterializerMetrics, METRICS_NAMESPACE } from '../../runtime/core/metrics';

const ENV = { account: '123456789012', region: 'us-east-1' };

/** The condition limiting a key grant to requests a service makes for the grantee. */
const viaService = (service: string) => ({ StringEquals: { 'kms:ViaService': `${service}.${ENV.region}.amazonaws.com` } });

/** A store in a fresh stack. */
function storeIn(props: Partial<FeatureStoreProps> = {}, app = new App()): { stack: Stack; store: FeatureStore } {
  const stack = new Stack(app, 'Stack', { env: ENV });
  const store = new FeatureStore(stack, 'Store', { views: fraudFeatureViews, ...props });
  return { stack, store };
}

/** Every policy statement attached to a role in the template. */
function statementsOf(template: Template, stack: Stack, role: iam.Role): any[] {
  const roleId = stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

function actionsOf(statement: any): string[] {
  return [statement.Action].flat();
}

function resourcesOf(statement: any): any[] {
  return [statement.Resource].flat();
}

/** The one statement granting `action` (fails if there is not exactly one). */
function statementWith(statements: any[], action: string): any {
  const found = statements.filter((s) => actionsOf(s).includes(action));
  expect(found).toHaveLength(1);
  return found[0];
}

/** An object ARN under the offline bucket, as CloudFormation renders it. */
function objectArn(stack: Stack, store: FeatureStore, key: string): unknown {
  return { 'Fn::Join': ['', [{ 'Fn::GetAtt': [stack.getLogicalId(store.bucket.node.defaultChild as s3.CfnBucket), 'Arn'] }, `/${key}`]] };
}

describe('FeatureStore', () => {
  const { stack, store } = storeIn({ bytesScannedCutoffPerQuery: Size.gibibytes(5), offlineExpiration: Duration.days(730) });
  const onlineReader = new iam.Role(stack, 'OnlineReader', { assumedBy: new iam.AccountRootPrincipal() });
  const trainer = new iam.Role(stack, 'Trainer', { assumedBy: new iam.AccountRootPrincipal() });
  const writer = new iam.Role(stack, 'Writer', { assumedBy: new iam.AccountRootPrincipal() });
  store.grantReadOnline(onlineReader);
  store.grantReadOffline(trainer, [customerTxnStats]);
  store.grantWriteOnline(writer);
  store.grantWriteOffline(writer);
  const template = Template.fromStack(stack);
  const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(store.key.node.defaultChild as any), 'Arn'] };
  const tableArn = { 'Fn::GetAtt': [stack.getLogicalId(store.table.node.defaultChild as any), 'Arn'] };
  const bucketRef = { Ref: stack.getLogicalId(store.bucket.node.defaultChild as s3.CfnBucket) };

  test('online table: on-demand, point-in-time recovery, customer-managed KMS, TTL, one string partition key', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      DeletionProtectionEnabled: true,
    });
    expect([OnlineAttributes.PARTITION_KEY, OnlineAttributes.EXPIRES_AT]).toEqual(['pk', 'expires_at']);
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('the key rotates', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('offline bucket: KMS, public access blocked, versioned, access-logged, lifecycle per prefix', () => {
    const logsBucketId = stack.getLogicalId(store.node.findChild('AccessLogs').node.defaultChild as s3.CfnBucket);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } }],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: logsBucketId } },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'offline/', ExpirationInDays: 730, Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 90 }] }),
          Match.objectLike({ Prefix: 'dead-letter/', ExpirationInDays: 90 }),
          Match.objectLike({ Prefix: 'athena-results/', ExpirationInDays: 30 }),
          Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365 })] },
    });
  });

  test('both buckets refuse requests without TLS; logs arrive by bucket policy, not ACL', () => {
    const denyInsecure = Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    template.hasResourceProperties('AWS::S3::BucketPolicy', { Bucket: bucketRef, PolicyDocument: { Statement: Match.arrayWith([denyInsecure]) } });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([denyInsecure, Match.objectLike({ Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' })]),
      },
    });
    expect(JSON.stringify(template.findResources('AWS::S3::Bucket'))).not.toContain('LogDeliveryWrite');
  });

  test('one Glue table per view, named after it, with columns typed from the spec', () => {
    template.resourceCountIs('AWS::Glue::Table', 2);
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: store.databaseName,
      TableInput: {
        Name: 'customer_txn_stats',
        TableType: 'EXTERNAL_TABLE',
        StorageDescriptor: {
          Location: { 'Fn::Join': ['', ['s3://', bucketRef, '/offline/customer_txn_stats/']] },
          InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          Columns: [
            { Name: 'customer_id', Type: 'string' },
            { Name: 'entity_key', Type: 'string' },
            { Name: 'event_time', Type: 'timestamp' },
            { Name: 'ingested_at', Type: 'timestamp' },
            { Name: 'ingest_seq', Type: 'string' },
            Match.objectLike({ Name: 'txn_count_1h', Type: 'bigint', Comment: 'Transactions in the last hour' }),
            Match.objectLike({ Name: 'txn_amount_avg_24h', Type: 'double' }),
            Match.objectLike({ Name: 'last_device_type', Type: 'string' }),
            Match.objectLike({ Name: 'is_new_device', Type: 'boolean' }),
            Match.objectLike({ Name: 'spend_embedding', Type: 'array<float>' }),
          ],
        },
        PartitionKeys: [{ Name: 'version', Type: 'bigint' }, { Name: 'event_date', Type: 'string' }],
      },
    });
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({ Name: 'merchant_risk', StorageDescriptor: Match.objectLike({ Columns: Match.arrayWith([{ Name: 'merchant_id', Type: 'string' }]) }) }),
    });
  });

  test('partitions are projected (version integer, event_date daily), so no crawler is needed', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'customer_txn_stats',
        Parameters: Match.objectLike({
          'classification': 'parquet',
          'projection.enabled': 'true',
          'projection.version.type': 'integer',
          'projection.version.range': '1,1',
          'projection.event_date.type': 'date',
          'projection.event_date.format': 'yyyy-MM-dd',
          // offlineExpiration is 730 days: nothing older can exist
          'projection.event_date.range': 'NOW-730DAYS,NOW+1DAYS',
          'projection.event_date.interval.unit': 'DAYS',
          'storage.location.template': {
            'Fn::Join': ['', ['s3://', bucketRef, '/offline/customer_txn_stats/version=${version}/event_date=${event_date}/']],
          },
        }),
      }),
    });
    template.resourceCountIs('AWS::Glue::Crawler', 0);
  });

  test('the Glue tables depend on their database', () => {
    const databaseId = stack.getLogicalId(store.database);
    for (const table of Object.values(template.findResources('AWS::Glue::Table'))) expect(table.DependsOn).toContain(databaseId);
    template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: store.databaseName } });
    expect(store.databaseName).toMatch(/^[a-z0-9_]+$/);
  });

  test('Athena workgroup: enforced, KMS-encrypted results in the bucket, scan cutoff from the prop, engine v3', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: store.workgroupName,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 5 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', bucketRef, '/athena-results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: keyArn },
        },
      },
    });
  });

  test('grantReadOnline: BatchGetItem on the table and decryption through DynamoDB, nothing else', () => {
    const statements = statementsOf(template, stack, onlineReader);
    const read = statementWith(statements, 'dynamodb:BatchGetItem');
    expect(actionsOf(read)).toEqual(['dynamodb:BatchGetItem']);
    expect(resourcesOf(read)).toEqual([tableArn]);
    expect(statementWith(statements, 'kms:Decrypt')).toEqual({ Action: 'kms:Decrypt', Effect: 'Allow', Resource: keyArn, Condition: viaService('dynamodb') });
    expect(statements.flatMap(actionsOf).sort()).toEqual(['dynamodb:BatchGetItem', 'kms:Decrypt']);
  });

  test('grantWriteOnline/grantWriteOffline: conditional item writes, Parquet and dead letters under their prefixes', () => {
    const statements = statementsOf(template, stack, writer);
    expect(resourcesOf(statementWith(statements, 'dynamodb:PutItem'))).toEqual([tableArn]);
    expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:PutItem']); // no BatchWriteItem: it cannot carry the newer-wins condition
    expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:'))).map((s) => ({ actions: actionsOf(s), condition: s.Condition }))).toEqual([
      { actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], condition: viaService('dynamodb') },
      { actions: ['kms:GenerateDataKey'], condition: viaService('s3') },
    ]);
    expect(resourcesOf(statementWith(statements, 's3:PutObject'))).toEqual([
      objectArn(stack, store, 'offline/customer_txn_stats/*'), objectArn(stack, store, 'offline/merchant_risk/*'), objectArn(stack, store, 'dead-letter/*'),
    ]);
    expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('s3:'))).toEqual(['s3:PutObject']);
  });

  test('grantReadOffline scoped to one view: its Glue table and files, the workgroup, query results', () => {
    const statements = statementsOf(template, stack, trainer);
    const athena = statementWith(statements, 'athena:StartQueryExecution');
    // What the Athena adapter (runtime/aws/athena-historical.ts) sends, nothing more.
    expect(actionsOf(athena)).toEqual(['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution']);
    expect(athena.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:athena:us-east-1:123456789012:workgroup/${store.workgroupName}`]] });
    const glue = statementWith(statements, 'glue:GetPartitions');
    expect(actionsOf(glue)).toEqual(expect.arrayContaining(['glue:GetTable', 'glue:GetDatabase']));
    const glueArns = JSON.stringify(glue.Resource);
    expect(glueArns).toContain(`:table/${store.databaseName}/customer_txn_stats`);
    expect(glueArns).not.toContain('merchant_risk');
    const reads = statements.filter((s) => actionsOf(s).includes('s3:GetObject'));
    expect(reads.flatMap(resourcesOf)).toEqual(expect.arrayContaining([objectArn(stack, store, 'offline/customer_txn_stats/*'), objectArn(stack, store, 'athena-results/*')]));
    expect(JSON.stringify(reads)).not.toContain('merchant_risk');
    expect(resourcesOf(statementWith(statements, 's3:ListBucket'))).toEqual([{ 'Fn::GetAtt': [bucketRef.Ref, 'Arn'] }]);
    expect(statementWith(statements, 'kms:GenerateDataKey')).toMatchObject({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Condition: viaService('s3') });
  });

  test('no grant uses a * resource or a wildcard action', () => {
    for (const role of [onlineReader, trainer, writer]) {
      const statements = statementsOf(template, stack, role);
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        expect(resourcesOf(statement)).not.toContain('*');
        expect(actionsOf(statement).filter((a) => a.includes('*'))).toEqual([]);
      }
    }
  });

  test('metric helpers: our namespace with the FeatureView dimension, DynamoDB metrics on the table', () => {
    const deadLettered = store.metricDeadLettered(customerTxnStats);
    expect(deadLettered).toMatchObject({ namespace: METRICS_NAMESPACE, metricName: MaterializerMetrics.DEAD_LETTERED, statistic: 'Sum', dimensions: { FeatureView: 'customer_txn_stats' } });
    expect(deadLettered.period.toSeconds()).toBe(60);
    expect(store.metricRowsStored(merchantRisk)).toMatchObject({ metricName: MaterializerMetrics.ROWS_STORED, dimensions: { FeatureView: 'merchant_risk' } });
    expect(store.metricFreshnessLag(customerTxnStats).statistic).toBe('Maximum');
    expect(store.metricOnlineReadThrottles()).toMatchObject({ namespace: 'AWS/DynamoDB', metricName: 'ReadThrottleEvents', statistic: 'Sum' });
    expect(store.metricOnlineWriteThrottles().metricName).toBe('WriteThrottleEvents');
    expect(store.metricOnlineLatency('BatchGetItem')).toMatchObject({ metricName: 'SuccessfulRequestLatency', dimensions: { Operation: 'BatchGetItem' }, statistic: 'Average' });
    expect(store.metricOfflineBytesScanned()).toMatchObject({ namespace: 'AWS/Athena', metricName: 'ProcessedBytes', dimensions: { WorkGroup: store.workgroupName } });
    expect(store.metricDeadLettered(customerTxnStats, { period: Duration.minutes(5) }).period.toSeconds()).toBe(300);
  });

  test('glueTableName, metrics and grants refuse a view the store does not hold', () => {
    expect(store.glueTableName(merchantRisk)).toBe('merchant_risk');
    const stranger = new FeatureView({ name: 'card_stats', entities: [customer], ttl: Duration.days(1), features: [Feature.int64('n')] });
    expect(() => store.glueTableName(stranger)).toThrow(/view 'card_stats' is not in the feature store \(it holds: customer_txn_stats, merchant_risk\)/);
    expect(() => store.metricRowsStored(stranger)).toThrow(/card_stats/);
    const redefined = new FeatureView({ name: 'merchant_risk', version: 2, entities: [customer], ttl: Duration.days(1), features: [Feature.int64('n')] });
    expect(() => store.grantWriteOffline(writer, [redefined])).toThrow(/'merchant_risk' v2 differs from the store's definition \(v1\)/);
  });
});

describe('FeatureStore options', () => {
  test('a central access-log bucket is used instead of a new one, under a prefix', () => {
    const app = new App();
    const logsStack = new Stack(app, 'Logs', { env: ENV });
    const { stack } = storeIn({ accessLogsBucket: s3.Bucket.fromBucketName(logsStack, 'Imported', 'central-logs') }, app);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', { LoggingConfiguration: { DestinationBucketName: 'central-logs', LogFilePrefix: Match.stringLikeRegexp('^feature-store/') } });
  });

  test('RemovalPolicy.DESTROY drops deletion protection and warns', () => {
    const { stack } = storeIn({ removalPolicy: RemovalPolicy.DESTROY });
    const template = Template.fromStack(stack);
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ DeletionProtectionEnabled: false }) });
    template.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: true });
    Annotations.fromStack(stack).hasWarning('/Stack/Store', Match.stringLikeRegexp('removalPolicy is DESTROY'));
  });

  test('a given key and names are used as is; the projection starts at earliestEventDate', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: ENV });
    const key = new kms.Key(stack, 'MyKey');
    const store = new FeatureStore(stack, 'Store', {
      views: [customerTxnStats], encryptionKey: key, databaseName: 'fraud_features', workgroupName: 'fraud-features', earliestEventDate: '2025-06-01',
    });
    expect(store.key).toBe(key);
    expect(store.earliestEventDate).toBe('2025-06-01');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'fraud_features' } });
    template.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'fraud-features' });
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'fraud_features',
      TableInput: Match.objectLike({ Parameters: Match.objectLike({ 'projection.event_date.range': '2025-06-01,NOW+1DAYS' }) }),
    });
  });

  test('a granted offline reader passes cdk-nag: the prefix wildcards are acknowledged with a reason, nothing more', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const { stack, store } = storeIn({}, app);
    const trainer = new iam.Role(stack, 'Trainer', { assumedBy: new iam.AccountRootPrincipal() });
    store.grantReadOffline(trainer);
    store.grantWriteOffline(trainer);
    expect(() => app.synth()).not.toThrow();
    const acknowledged = trainer.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).flatMap((m) => Object.keys(m.data));
    expect(acknowledged.every((id) => /AwsSolutions-IAM5\[Resource::<StoreOfflineBucket\w+\.Arn>\/(offline\/\w+|dead-letter|athena-results)\/\*\]$/.test(id))).toBe(true);
    expect(acknowledged.length).toBeGreaterThanOrEqual(5);
  });

  test('cdk-nag still fails a grantee with a wildcard of its own', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const { stack, store } = storeIn({}, app);
    const trainer = new iam.Role(stack, 'Trainer', { assumedBy: new iam.AccountRootPrincipal() });
    store.grantReadOffline(trainer);
    trainer.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [store.bucket.arnForObjects('*')] }));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Resource::<StoreOfflineBucket\w+\.Arn>\/\*\]/);
  });
});

describe('FeatureStore validation', () => {
  test('lists every problem at once, naming the prop and the fix', () => {
    const attempt = () => storeIn({
      views: [customerTxnStats, customerTxnStats],
      offlineInfrequentAccessAfter: Duration.days(7),
      offlineExpiration: Duration.days(5),
      bytesScannedCutoffPerQuery: Size.mebibytes(1),
      earliestEventDate: '2025-02-30',
      databaseName: 'Fraud-Features',
    });
    expect(attempt).toThrow(/Stack\/Store: invalid props/);
    expect(attempt).toThrow(/views: 'customer_txn_stats' is given twice/);
    expect(attempt).toThrow(/offlineInfrequentAccessAfter: 7 days is below the 30 days S3 requires/);
    expect(attempt).toThrow(/offlineExpiration: 5 days must be later than offlineInfrequentAccessAfter/);
    expect(attempt).toThrow(/bytesScannedCutoffPerQuery: 1048576 bytes is below Athena's minimum of 10 MB/);
    expect(attempt).toThrow(/earliestEventDate: '2025-02-30' is not a date; use 'yyyy-mm-dd'/);
    expect(attempt).toThrow(/databaseName: 'Fraud-Features' must be lower case/);
  });

  test('the projection start is exposed (the materializer validates against it) and is not before 1971', () => {
    expect(storeIn({}).store.earliestEventDate).toBe('2020-01-01');
    expect(storeIn({ offlineExpiration: Duration.days(400) }).store.earliestEventDate).toBe('NOW-400DAYS');
    expect(() => storeIn({ earliestEventDate: '1970-01-01' })).toThrow(/earliestEventDate: '1970-01-01' is before 1971-01-01; event times in epoch seconds would then pass as 1970 milliseconds/);
  });

  test('an empty store is refused', () => {
    expect(() => storeIn({ views: [] })).toThrow(/views: pass at least one FeatureView/);
  });

  test('retention durations must be whole days', () => {
    expect(() => storeIn({ deadLetterRetention: Duration.hours(12) })).toThrow(/deadLetterRetention: S3 lifecycle rules count whole days/);
  });

  test('unresolved tokens are left to deployment', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: ENV });
    const days = new CfnParameter(stack, 'Days', { type: 'Number' }).valueAsNumber;
    expect(Token.isUnresolved(days)).toBe(true);
    expect(() => new FeatureStore(stack, 'Store', {
      views: fraudFeatureViews, offlineInfrequentAccessAfter: Duration.days(days), bytesScannedCutoffPerQuery: Size.bytes(days),
    })).not.toThrow();
  });
});

describe('FeatureStore.fromFeatureStoreAttributes', () => {
  const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const attrs = { tableName: 'features-online', bucketName: 'features-offline', keyArn: KEY_ARN, views: fraudFeatureViews };

  test("an imported store holds its views and serves online reads from the named table, decrypting through DynamoDB only", () => {
    const stack = new Stack(new App(), 'Consumer', { env: ENV });
    const store = FeatureStore.fromFeatureStoreAttributes(stack, 'Store', attrs);
    expect(store.earliestEventDate).toBe('2020-01-01');
    expect(store.membershipProblem(customerTxnStats)).toBeUndefined();
    expect(store.views.map((v) => v.name)).toEqual(['customer_txn_stats', 'merchant_risk']);
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    store.grantReadOnline(reader);
    const template = Template.fromStack(stack);
    const statements = statementsOf(template, stack, reader);
    expect(JSON.stringify(statementWith(statements, 'dynamodb:BatchGetItem').Resource)).toContain(':table/features-online');
    expect(statementWith(statements, 'kms:Decrypt')).toMatchObject({ Resource: KEY_ARN, Condition: viaService('dynamodb') });
    expect(statements.flatMap(actionsOf).sort()).toEqual(['dynamodb:BatchGetItem', 'kms:Decrypt']);
    expect(resolvedMetric(stack, store.metricDeadLettered(merchantRisk))).toMatchObject({ dimensions: [{ name: 'FeatureView', value: 'merchant_risk' }] });
  });

  test('attributes are checked like props: views, the projection start (NOW-<n>DAYS too), names', () => {
    const stack = new Stack(new App(), 'Consumer', { env: ENV });
    expect(FeatureStore.fromFeatureStoreAttributes(stack, 'Expiring', { ...attrs, earliestEventDate: 'NOW-730DAYS' }).earliestEventDate).toBe('NOW-730DAYS');
    const attempt = () => FeatureStore.fromFeatureStoreAttributes(new Stack(new App(), 'Consumer', { env: ENV }), 'Bad', {
      ...attrs, views: [customerTxnStats, customerTxnStats], earliestEventDate: '1970-01-01', tableName: '',
    });
    expect(attempt).toThrow(/Consumer\/Bad: invalid props/);
    expect(attempt).toThrow(/views: 'customer_txn_stats' is given twice/);
    expect(attempt).toThrow(/earliestEventDate: '1970-01-01' is before 1971-01-01/);
    expect(attempt).toThrow(/tableName: required/);
  });
});

/** A metric's statistic as CloudFormation would render it. */
function resolvedMetric(stack: Stack, metric: { toMetricConfig(): { metricStat?: unknown } }): any {
  return stack.resolve(metric.toMetricConfig().metricStat);
}
