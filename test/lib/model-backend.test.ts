import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createHandlerFunction } from '../../lib/private/handler-function';
import { LAMBDA_UNZIPPED_LIMIT_BYTES } from '../../lib/private/embedded-model-code';
import { ModelBackend, ModelEndpoint } from '../../lib/serving';
import { EMBEDDED_VARIANT, modelBackendProblems } from '../../runtime/contracts/model-backend';

const FRAUD = path.join(__dirname, '..', 'fixtures', 'models', 'fraud-mlp.onnx');

function stack(): Stack {
  return new Stack(new App(), 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
}

/** Every file under a folder, relative to it. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('ModelBackend.sageMaker', () => {
  test('binds the endpoint: its name in the config, its model facts, InvokeEndpoint granted on that endpoint only', () => {
    const s = stack();
    const endpoint = ModelEndpoint.fromEndpointAttributes(s, 'Endpoint', {
      endpointName: 'fraud', variantNames: ['champion', 'challenger'], modelName: 'fraud_mlp',
      productionVariantWeights: { champion: 9, challenger: 1 }, modelVersions: { champion: 'v1', challenger: 'v2' },
    } as any);
    const binding = ModelBackend.sageMaker(endpoint).bind(s);
    expect(binding).toMatchObject({
      config: { kind: 'sagemaker', endpointName: 'fraud' }, modelName: 'fraud_mlp',
      variantWeights: { champion: 9, challenger: 1 }, modelVersions: { champion: 'v1', challenger: 'v2' },
    });
    expect(binding.vpc).toBeUndefined();
    expect(binding.code).toBeUndefined();
    const role = new iam.Role(s, 'Gateway', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    binding.grantInvoke(role);
    const statements = Template.fromStack(s).findResources('AWS::IAM::Policy');
    const granted = Object.values(statements).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(granted).toEqual([{
      Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:123456789012:endpoint/fraud']] },
    }]);
  });
});

describe('ModelBackend.http', () => {
  const vpc = () => new ec2.Vpc(stack(), 'Vpc');

  test('binds the URL and model into the config, the VPC placement, equal weights for the declared variants', () => {
    const v = vpc();
    const securityGroups = [new ec2.SecurityGroup(v, 'Sg', { vpc: v })];
    const binding = ModelBackend.http({ url: 'http://fraud.models.internal:8080', vpc: v, securityGroups, modelName: 'fraud_mlp', variantNames: ['blue', 'green'] }).bind(v);
    expect(binding.config).toEqual({ kind: 'http', url: 'http://fraud.models.internal:8080', model: 'fraud_mlp' });
    expect(modelBackendProblems(binding.config)).toEqual([]);
    expect(binding).toMatchObject({ modelName: 'fraud_mlp', variantNames: ['blue', 'green'], variantWeights: { blue: 1, green: 1 } });
    expect(binding.vpc).toEqual({ vpc: v, vpcSubnets: undefined, securityGroups });
    expect(binding.code).toBeUndefined();
  });

  test('a URL built from a load balancer\'s DNS name (a token) is accepted when its scheme is written out', () => {
    const s = stack();
    const v = new ec2.Vpc(s, 'Vpc');
    const dns = new ec2.CfnEIP(s, 'Stand-in').attrPublicIp;
    expect(ModelBackend.http({ url: `http://${dns}:8080`, vpc: v }).bind(s).config).toMatchObject({ kind: 'http' });
    expect(() => ModelBackend.http({ url: dns, vpc: v })).toThrow(/url: start it with http:\/\/ or https:\/\//);
  });

  test('every problem is listed at once, naming the prop and the fix', () => {
    const v = vpc();
    expect(() => ModelBackend.http({
      url: 'ftp://user:secret@host/x?y=1', vpc: v, modelName: 'fraud/mlp', variantNames: ['blue', 'blue'],
      variantWeights: { green: 1 }, modelVersions: { red: '1' },
    })).toThrow(new RegExp([
      'ModelBackend.http: invalid props:',
      'url: must start with http:// or https:// \\(got ftp://\\)',
      'url: must not carry credentials',
      'url: must not have a query or fragment',
      "modelName: 'fraud/mlp' must be 1-63 letters",
      'variantNames: each variant at most once',
      'variantWeights.green: not one of variantNames \\(blue, blue\\)',
      'modelVersions.red: not one of variantNames',
    ].join('[\\s\\S]*')));
    expect(() => ModelBackend.http({ url: 'not a url', vpc: v })).toThrow(/url: 'not a url' is not a URL; give http\(s\):\/\/host\[:port\]\[\/prefix\]/);
    expect(() => ModelBackend.http({ url: 'https://x', vpc: undefined as any })).toThrow(/vpc: the gateway function runs in the VPC/);
  });
});

describe('ModelBackend.embedded', () => {
  test('the code folder holds the handler bundle, onnxruntime-node with only the Linux ARM64 binary, its dependency and the model', () => {
    const s = stack();
    const binding = ModelBackend.embedded({ modelPath: FRAUD }).bind(s);
    const hash = require('crypto').createHash('sha256').update(fs.readFileSync(FRAUD)).digest('hex') as string;
    expect(binding).toMatchObject({
      config: { kind: 'embedded', modelPath: 'model.onnx' }, modelName: 'fraud-mlp',
      variantNames: [EMBEDDED_VARIANT], modelVersions: { [EMBEDDED_VARIANT]: hash.slice(0, 16) },
    });
    const dir = (binding.code as any).path as string;
    const files = filesUnder(dir);
    expect(files).toEqual(expect.arrayContaining([
      'index.js', 'model.onnx', 'node_modules/onnxruntime-node/package.json', 'node_modules/onnxruntime-node/dist/index.js',
      'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node', 'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1',
      'node_modules/onnxruntime-common/package.json', 'node_modules/onnxruntime-common/dist/cjs/index.js',
    ]));
    expect(files.filter((f) => /x64|darwin|win32|\.map$|\.d\.ts$/.test(f))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'model.onnx'))).toEqual(fs.readFileSync(FRAUD));
    // A require('onnxruntime-node') from index.js (the bundle leaves it external) resolves inside the folder, and so does its dependency.
    expect(require.resolve('onnxruntime-node', { paths: [dir] })).toBe(path.join(dir, 'node_modules', 'onnxruntime-node', 'dist', 'index.js'));
    expect(require.resolve('onnxruntime-common', { paths: [path.join(dir, 'node_modules', 'onnxruntime-node')] }))
      .toBe(path.join(dir, 'node_modules', 'onnxruntime-common', 'dist', 'cjs', 'index.js'));
    const bytes = filesUnder(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    expect(bytes).toBeLessThan(LAMBDA_UNZIPPED_LIMIT_BYTES);
    // Assembled once per process per model.
    expect((ModelBackend.embedded({ modelPath: FRAUD, version: 'v3' }).bind(s).code as any).path).toBe(dir);
  });

  test('every problem is listed at once: a missing file, a file that is not .onnx, a model over the size bound', () => {
    expect(() => ModelBackend.embedded({ modelPath: '/no/such/model.onnx', modelName: 'a b', intraOpThreads: 0, version: 'x y' })).toThrow(new RegExp([
      'ModelBackend.embedded: invalid props:', "modelName: 'a b' must be", 'intraOpThreads: must be an integer from 1 to 64',
      'modelPath: no file at /no/such/model.onnx', "version: 'x y' must be",
    ].join('[\\s\\S]*')));
    expect(() => ModelBackend.embedded({ modelPath: 'model.tar.gz' })).toThrow(/modelPath: 'model.tar.gz' must be a local .onnx file/);
    const big = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'big-model-')), 'big.onnx');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, 201 * 1024 * 1024); // sparse: no disk used
    expect(() => ModelBackend.embedded({ modelPath: big })).toThrow(/is 210763776 bytes, over the 209715200 bytes an embedded model may take .*serve it with ModelBackend.sageMaker or ModelBackend.http/);
  });
});

describe('handler functions in a VPC', () => {
  test('the role gets the network interface actions (no managed policy), acknowledged with a reason; cdk-nag passes', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const s = new Stack(app, 'Vpc', { env: { account: '123456789012', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    Validations.of(vpc).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'test VPC: no flow logs needed' });
    createHandlerFunction(s, 'Fn', { handler: 'gateway-handler', description: 'test', environment: {}, vpc });
    const template = Template.fromStack(s);
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() } });
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface']), Resource: '*' })]) },
    });
    expect(() => app.synth()).not.toThrow();
  });
});
