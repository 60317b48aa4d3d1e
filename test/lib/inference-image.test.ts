import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnWaitConditionHandle, Lazy, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  InferenceAccelerator, InferenceImage, InferenceInstanceType, ModelArtifact,
} from '../../lib/serving';

const ENV = { account: '123456789012', region: 'us-east-1' };
const DIGEST = `sha256:${'ab'.repeat(32)}`;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inference-image-test-'));
  fs.writeFileSync(path.join(tmp, 'fraud.onnx'), 'onnx bytes v1');
  fs.writeFileSync(path.join(tmp, 'model.tar.gz'), 'tarball bytes');
  fs.mkdirSync(path.join(tmp, 'model-dir'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A stack with a resource: CloudFormation validation warns about empty templates. */
function nonEmptyStack(id: string): Stack {
  const result = new Stack(new App(), id, { env: ENV });
  new CfnWaitConditionHandle(result, 'Placeholder');
  return result;
}

/** A fresh scope in one shared stack, for binding images and artifacts. */
let counter = 0;
const stack = new Stack(new App(), 'Bind', { env: ENV });
function scope(): Construct {
  return new Construct(stack, `Scope${counter++}`);
}

describe('InferenceInstanceType', () => {
  test('knows the accelerator, burstable, instance storage and GPU count of its constants', () => {
    const facts = (t: InferenceInstanceType) => [t.name, t.accelerator, t.gpu, t.burstable, t.instanceStorage, t.gpuCount];
    expect(facts(InferenceInstanceType.G5_XLARGE)).toEqual(['ml.g5.xlarge', InferenceAccelerator.NVIDIA_GPU, true, false, true, 1]);
    expect(facts(InferenceInstanceType.G5_12XLARGE)).toEqual(['ml.g5.12xlarge', InferenceAccelerator.NVIDIA_GPU, true, false, true, 4]);
    expect(facts(InferenceInstanceType.G4DN_XLARGE)).toEqual(['ml.g4dn.xlarge', InferenceAccelerator.NVIDIA_GPU, true, false, true, 1]);
    expect(facts(InferenceInstanceType.P4D_24XLARGE)).toEqual(['ml.p4d.24xlarge', InferenceAccelerator.NVIDIA_GPU, true, false, true, 8]);
    expect(facts(InferenceInstanceType.P3_2XLARGE)).toEqual(['ml.p3.2xlarge', InferenceAccelerator.NVIDIA_GPU, true, false, false, 1]);
    expect(facts(InferenceInstanceType.INF2_XLARGE)).toEqual(['ml.inf2.xlarge', InferenceAccelerator.AWS_NEURON, false, false, false, 0]);
    expect(facts(InferenceInstanceType.C6I_XLARGE)).toEqual(['ml.c6i.xlarge', InferenceAccelerator.NONE, false, false, false, 0]);
    expect(facts(InferenceInstanceType.T2_MEDIUM)).toEqual(['ml.t2.medium', InferenceAccelerator.NONE, false, true, false, 0]);
  });

  test('of() derives the same facts for any type, with a GPU count override', () => {
    const g6e = InferenceInstanceType.of('ml.g6e.12xlarge');
    expect([g6e.gpu, g6e.instanceStorage, g6e.gpuCount]).toEqual([true, true, 4]);
    expect(InferenceInstanceType.of('ml.m5d.large').instanceStorage).toBe(true);
    expect(InferenceInstanceType.of('ml.m5.large').instanceStorage).toBe(false);
    expect(InferenceInstanceType.of('ml.t3.large').burstable).toBe(true);
    const trn = InferenceInstanceType.of('ml.trn1.2xlarge');
    expect([trn.accelerator, trn.instanceStorage]).toEqual([InferenceAccelerator.AWS_NEURON, true]);
    expect(InferenceInstanceType.of('ml.g6.8xlarge', { gpuCount: 2 }).gpuCount).toBe(2);
    expect(`${InferenceInstanceType.of('ml.c7i.2xlarge')}`).toBe('ml.c7i.2xlarge');
  });

  test('of() refuses names that are not ml.<family>.<size>, and bad GPU counts', () => {
    for (const bad of ['g5.xlarge', 'ml.g5', 'ML.G5.XLARGE', 'ml..xlarge', 'ml.g5.xlarge ']) {
      expect(() => InferenceInstanceType.of(bad)).toThrow(/not a SageMaker instance type; use 'ml.<family>.<size>'/);
    }
    expect(() => InferenceInstanceType.of('ml.g5.xlarge', { gpuCount: -1 })).toThrow(/gpuCount -1 must be a non-negative integer/);
  });

  test('of() accepts a token, marking the type unresolved', () => {
    const type = InferenceInstanceType.of(Lazy.string({ produce: () => 'ml.g5.xlarge' }));
    expect(type.unresolved).toBe(true);
    expect(InferenceInstanceType.G5_XLARGE.unresolved).toBe(false);
  });
});

describe('InferenceImage', () => {
  test.each([
    [true, 'Dockerfile', InferenceAccelerator.NVIDIA_GPU],
    [false, 'Dockerfile.cpu', InferenceAccelerator.NONE],
  ])('fromServer({ gpu: %s }) is a linux/amd64 Docker asset of %s from the server\'s bundled build context', (gpu, dockerfile, accelerator) => {
    const serverStack = nonEmptyStack('Server');
    const app = serverStack.node.root as App;
    const image = InferenceImage.fromServer({ gpu });
    expect(image.accelerator).toBe(accelerator);
    expect(image.gpu).toBe(gpu);
    const config = image.bind(serverStack);

    const assembly = app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'Server.assets.json'), 'utf8'));
    const [hash, asset] = Object.entries<any>(manifest.dockerImages)[0];
    expect(asset.source).toEqual(expect.objectContaining({ dockerFile: dockerfile, platform: 'linux/amd64' }));
    expect(config.version).toBe(hash);
    expect(serverStack.resolve(config.imageUri)).toEqual({ 'Fn::Sub': expect.stringContaining(`:${hash}`) });
    // The context is the server bundle only: a change to constructs or tests does not rebuild (or roll) the image.
    const context = fs.readdirSync(path.join(assembly.directory, asset.source.directory)).sort();
    expect(context).toEqual(expect.arrayContaining(['Dockerfile', 'Dockerfile.cpu', 'package.json', 'serve', 'serve.js', 'worker.js']));
    expect(context).not.toContain('node_modules');
    expect(context).not.toContain('lib');
  });

  test('fromDockerfile fails clearly when the Dockerfile is missing', () => {
    const image = InferenceImage.fromDockerfile(tmp, { file: 'Dockerfile.gpu', accelerator: InferenceAccelerator.NVIDIA_GPU });
    expect(image.gpu).toBe(true);
    expect(() => image.bind(scope())).toThrow(/no Dockerfile at .*Dockerfile\.gpu; create it, or pass the right 'file'/);
  });

  test('fromEcr pins a digest: URI, version and the repository the role may pull from', () => {
    const repo = ecr.Repository.fromRepositoryName(stack, 'Repo', 'fraud-server');
    const config = InferenceImage.fromEcr(repo, { digest: DIGEST }).bind(scope());
    expect(stack.resolve(config.imageUri)).toEqual({ 'Fn::Join': ['', expect.arrayContaining([expect.stringMatching(new RegExp(`/fraud-server@${DIGEST}$`))])] });
    expect(config.version).toBe(DIGEST);
    expect(stack.resolve(config.repositoryArn)).toEqual(stack.resolve(repo.repositoryArn));
  });

  test('fromEcr with a tag works but warns that tags are mutable', () => {
    const repoStack = nonEmptyStack('Tagged');
    const repo = ecr.Repository.fromRepositoryName(repoStack, 'Repo', 'fraud-server');
    const config = InferenceImage.fromEcr(repo, { tag: '1.4.2' }).bind(repoStack);
    expect(config.version).toBe('1.4.2');
    Annotations.fromStack(repoStack).hasWarning('/Tagged', Match.stringLikeRegexp('mutable.*pin a digest'));
  });

  test('fromEcr needs exactly one well-formed digest or tag', () => {
    const repo = ecr.Repository.fromRepositoryName(stack, 'Repo2', 'fraud-server');
    expect(() => InferenceImage.fromEcr(repo, {})).toThrow(/exactly one of digest .* or tag/);
    expect(() => InferenceImage.fromEcr(repo, { digest: DIGEST, tag: 'x' })).toThrow(/exactly one of digest/);
    expect(() => InferenceImage.fromEcr(repo, { digest: 'abc' })).toThrow(/digest 'abc' must look like 'sha256:<64 hex digits>'/);
  });

  test('fromImageUri parses an ECR URI into the repository ARN and version', () => {
    const tagged = InferenceImage.fromImageUri('111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/fraud-server:2026.05.1', {
      accelerator: InferenceAccelerator.NVIDIA_GPU,
    }).bind(scope());
    expect(stack.resolve(tagged.repositoryArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:eu-west-1:111122223333:repository/team/fraud-server']],
    });
    expect(tagged.version).toBe('2026.05.1');
    const pinned = InferenceImage.fromImageUri(`111122223333.dkr.ecr.eu-west-1.amazonaws.com/fraud@${DIGEST}`);
    expect(pinned.accelerator).toBe(InferenceAccelerator.NONE);
    expect(pinned.bind(scope()).version).toBe(DIGEST);
  });

  test('fromImageUri refuses non-ECR images and tokens', () => {
    expect(() => InferenceImage.fromImageUri('nginx:latest')).toThrow(/not a private ECR image URI; SageMaker pulls from ECR/);
    expect(() => InferenceImage.fromImageUri('111122223333.dkr.ecr.eu-west-1.amazonaws.com/fraud')).toThrow(/not a private ECR image URI/);
    expect(() => InferenceImage.fromImageUri(Lazy.string({ produce: () => 'x' }))).toThrow(/token.*use InferenceImage.fromEcr/);
  });
});

describe('ModelArtifact', () => {
  test('fromAsset of an .onnx file deploys it uncompressed as one object, named after its key', () => {
    const config = ModelArtifact.fromAsset(path.join(tmp, 'fraud.onnx')).bind(scope());
    expect(config).toEqual(expect.objectContaining({ s3DataType: 'S3Object', compressionType: 'None' }));
    expect(config.version).toMatch(/^[0-9a-f]{64}$/);
    expect(config.fileName).toBe(`${config.version}.onnx`);
    expect(config.s3Uri).toBe(`s3://cdk-hnb659fds-assets-123456789012-us-east-1/${config.version}.onnx`);
    expect(stack.resolve(config.objectsArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::cdk-hnb659fds-assets-123456789012-us-east-1/${config.version}.onnx`]],
    });
    expect(config.listPrefix).toBeUndefined();
  });

  test('fromAsset takes a version, and the version follows the file bytes', () => {
    expect(ModelArtifact.fromAsset(path.join(tmp, 'fraud.onnx'), { version: '2026-05-01' }).bind(scope()).version).toBe('2026-05-01');
    const before = ModelArtifact.fromAsset(path.join(tmp, 'fraud.onnx')).bind(scope()).version;
    const other = path.join(tmp, 'fraud-v2.onnx');
    fs.writeFileSync(other, 'onnx bytes v2');
    expect(ModelArtifact.fromAsset(other).bind(scope()).version).not.toBe(before);
  });

  test('fromAsset of a model.tar.gz lets SageMaker extract it', () => {
    const config = ModelArtifact.fromAsset(path.join(tmp, 'model.tar.gz')).bind(scope());
    expect(config).toEqual(expect.objectContaining({ s3DataType: 'S3Object', compressionType: 'Gzip' }));
    expect(config.fileName).toBeUndefined();
  });

  test('fromAsset refuses directories and missing files', () => {
    expect(() => ModelArtifact.fromAsset(path.join(tmp, 'model-dir'))).toThrow(/is a directory; CDK uploads directories as zip archives.*fromBucket/);
    expect(() => ModelArtifact.fromAsset(path.join(tmp, 'missing.onnx'))).toThrow(/no file at .*missing\.onnx/);
  });

  test('fromBucket lays out keys by their ending: prefix, tarball or one file', () => {
    const key = new kms.Key(stack, 'ModelKey', { enableKeyRotation: true });
    const bucket = new s3.Bucket(stack, 'Models', { encryptionKey: key });

    const prefix = ModelArtifact.fromBucket(bucket, 'fraud/v7/').bind(scope());
    expect(prefix).toEqual(expect.objectContaining({ s3DataType: 'S3Prefix', compressionType: 'None', listPrefix: 'fraud/v7/', version: 'fraud/v7/' }));
    expect(prefix.fileName).toBeUndefined();
    expect(stack.resolve(prefix.objectsArn)).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^Models/), 'Arn'] }, '/fraud/v7/*']] });
    expect(prefix.encryptionKey).toBe(key);

    const tarball = ModelArtifact.fromBucket(bucket, 'fraud/v7/model.tar.gz', { version: '7' }).bind(scope());
    expect(tarball).toEqual(expect.objectContaining({ s3DataType: 'S3Object', compressionType: 'Gzip', version: '7' }));

    const file = ModelArtifact.fromBucket(bucket, 'fraud/v7/model.onnx').bind(scope());
    expect(file).toEqual(expect.objectContaining({ s3DataType: 'S3Object', compressionType: 'None', fileName: 'model.onnx' }));
    expect(stack.resolve(file.s3Uri)).toEqual({ 'Fn::Join': ['', ['s3://', { Ref: expect.stringMatching(/^Models/) }, '/fraud/v7/model.onnx']] });
  });

  test('fromBucket refuses token keys and absolute keys', () => {
    const bucket = s3.Bucket.fromBucketName(stack, 'Imported', 'models');
    expect(() => ModelArtifact.fromBucket(bucket, Lazy.string({ produce: () => 'k' }))).toThrow(/key must be a literal string/);
    expect(() => ModelArtifact.fromBucket(bucket, '/fraud/model.onnx')).toThrow(/without a leading '\/'/);
  });
});
