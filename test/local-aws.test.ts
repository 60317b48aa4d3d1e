import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { localClientConfig, startDynalite, startKinesalite, startS3rver } from './support/local-aws';

test('the loopback stand-ins answer the real SDK v3 clients and stop cleanly', async () => {
  const [ddb, kinesis, s3] = await Promise.all([startDynalite(), startKinesalite(), startS3rver()]);
  try {
    for (const s of [ddb, kinesis, s3]) expect(s.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const dynamo = new DynamoDBClient(localClientConfig(ddb.endpoint));
    await dynamo.send(new CreateTableCommand({
      TableName: 'features', BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    }));
    expect((await dynamo.send(new ListTablesCommand({}))).TableNames).toEqual(['features']);

    const kin = new KinesisClient(localClientConfig(kinesis.endpoint));
    await kin.send(new CreateStreamCommand({ StreamName: 'records', ShardCount: 1 }));
    expect((await kin.send(new ListStreamsCommand({}))).StreamNames).toEqual(['records']);

    const bucket = new S3Client(localClientConfig(s3.endpoint));
    await bucket.send(new CreateBucketCommand({ Bucket: 'offline' }));
    await bucket.send(new PutObjectCommand({ Bucket: 'offline', Key: 'k', Body: 'hello' }));
    const got = await bucket.send(new GetObjectCommand({ Bucket: 'offline', Key: 'k' }));
    expect(await got.Body!.transformToString()).toBe('hello');
    dynamo.destroy(); kin.destroy(); bucket.destroy();
  } finally {
    await Promise.all([ddb.stop(), kinesis.stop(), s3.stop()]);
  }
});
