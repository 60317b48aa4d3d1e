import * as fs from 'fs';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

/** Where SageMaker finds model data and how it lays it out under /opt/ml/model (`S3ModelDataSource`). */
export interface ModelArtifactConfig {
  /** `s3://bucket/key`, or `s3://bucket/prefix/` for a prefix. */
  readonly s3Uri: string;
  /** `S3Object` (one object) or `S3Prefix` (every object under a prefix). */
  readonly s3DataType: string;
  /** `None` (copied as is) or `Gzip` (a model.tar.gz SageMaker extracts). */
  readonly compressionType: string;
  /** Version stamped on the model (environment `MODEL_VERSION` and tags): asset hash or the user's version. */
  readonly version: string;
  /**
   * Name of the file under /opt/ml/model, for one uncompressed object (SageMaker names it after the key's last part).
   * @default - the artifact is a tarball or a prefix: its own layout
   */
  readonly fileName?: string;
  /** ARN of the bucket. */
  readonly bucketArn: string;
  /** What the execution role reads: the object ARN, or `<bucket ARN>/<prefix>*` for a prefix. */
  readonly objectsArn: string;
  /**
   * Key prefix the execution role may list, for prefixes.
   * @default - one object: no listing
   */
  readonly listPrefix?: string;
  /**
   * KMS key encrypting the objects, which the execution role may decrypt with.
   * @default - none (SSE-S3 or the AWS managed key)
   */
  readonly encryptionKey?: kms.IKey;
}

/** Options of `ModelArtifact.fromAsset`. */
export interface ModelAssetOptions {
  /**
   * Model version stamped on the model.
   * @default - the asset hash (changes whenever the file's bytes change)
   */
  readonly version?: string;
}

/** Options of `ModelArtifact.fromBucket`. */
export interface ModelBucketOptions {
  /**
   * Model version stamped on the model. Bump it when you overwrite the same key: the model (and the endpoint config)
   * is replaced only when the key or the version changes.
   * @default - the key
   */
  readonly version?: string;
}

const TARBALL = /\.(tar\.gz|tgz)$/;

/**
 * Model data for a SageMaker model. SageMaker copies it to /opt/ml/model before the container starts, where our
 * inference server loads it:
 * - a single file (e.g. `fraud.onnx`) is deployed uncompressed (`S3Object`, `CompressionType: None`, no tarball to
 *   build or unpack) and lands as /opt/ml/model/<last part of its key>; the endpoint passes that path to the
 *   container as `MODEL_URI`;
 * - a `model.tar.gz` (or `.tgz`) is extracted into /opt/ml/model (`Gzip`);
 * - a key prefix ending in `/` (in `fromBucket`) copies every object under it, keeping the relative paths.
 */
export abstract class ModelArtifact {
  /**
   * A local file uploaded as a CDK asset: an `.onnx` file (deployed uncompressed) or a prepacked `model.tar.gz`.
   * Directories are refused: CDK uploads them as zip archives, which SageMaker cannot read; pack them into a
   * model.tar.gz first, or upload them under a prefix and use `fromBucket(bucket, 'prefix/')`.
   */
  public static fromAsset(filePath: string, options: ModelAssetOptions = {}): ModelArtifact {
    return new AssetArtifact(filePath, options);
  }

  /**
   * Model data already in S3: a key (one file, or a `.tar.gz`/`.tgz` SageMaker extracts) or a prefix ending in `/`.
   */
  public static fromBucket(bucket: s3.IBucket, key: string, options: ModelBucketOptions = {}): ModelArtifact {
    return new BucketArtifact(bucket, key, options);
  }

  /** Materializes the artifact for a model; `scope` owns any asset created. */
  public abstract bind(scope: Construct): ModelArtifactConfig;
}

/**
 * The SageMaker data type and compression of a key, and the file name it gets under /opt/ml/model.
 * `tarball` defaults to what the key's ending says.
 */
function layoutOf(key: string, tarball = TARBALL.test(key)): { s3DataType: string; compressionType: string; fileName?: string } {
  if (key.endsWith('/')) return { s3DataType: 'S3Prefix', compressionType: 'None' };
  if (tarball) return { s3DataType: 'S3Object', compressionType: 'Gzip' };
  return { s3DataType: 'S3Object', compressionType: 'None', fileName: key.split('/').pop() };
}

class AssetArtifact extends ModelArtifact {
  private readonly filePath: string;

  constructor(filePath: string, private readonly options: ModelAssetOptions) {
    super();
    this.filePath = path.resolve(filePath);
    if (!fs.existsSync(this.filePath)) {
      throw new Error(`ModelArtifact.fromAsset: no file at ${this.filePath}; pass the path of the .onnx file or model.tar.gz`);
    }
    if (fs.statSync(this.filePath).isDirectory()) {
      throw new Error(`ModelArtifact.fromAsset: ${this.filePath} is a directory; CDK uploads directories as zip archives, which SageMaker cannot read. Pass a single .onnx file, pack the directory into a model.tar.gz, or upload it and use ModelArtifact.fromBucket(bucket, 'prefix/')`);
    }
  }

  public bind(scope: Construct): ModelArtifactConfig {
    const asset = new s3assets.Asset(scope, 'ModelData', { path: this.filePath });
    return {
      s3Uri: asset.s3ObjectUrl,
      // The asset key is '<hash><extension>' ('<hash>.onnx'; '<hash>.gz' for a model.tar.gz).
      ...layoutOf(asset.s3ObjectKey, TARBALL.test(this.filePath)),
      version: this.options.version ?? asset.assetHash,
      bucketArn: asset.bucket.bucketArn,
      objectsArn: asset.bucket.arnForObjects(asset.s3ObjectKey),
    };
  }
}

class BucketArtifact extends ModelArtifact {
  constructor(private readonly bucket: s3.IBucket, private readonly key: string, private readonly options: ModelBucketOptions) {
    super();
    if (Token.isUnresolved(key)) {
      throw new Error('ModelArtifact.fromBucket: the key must be a literal string: its ending decides how SageMaker lays the model out (prefix/, .tar.gz, single file)');
    }
    if (key.startsWith('/') || key === '') {
      throw new Error(`ModelArtifact.fromBucket: key '${key}' must be an S3 key without a leading '/', e.g. 'models/fraud/v3/model.onnx' or 'models/fraud/v3/'`);
    }
  }

  public bind(): ModelArtifactConfig {
    const layout = layoutOf(this.key);
    const prefix = layout.s3DataType === 'S3Prefix';
    return {
      s3Uri: this.bucket.s3UrlForObject(this.key),
      ...layout,
      version: this.options.version ?? this.key,
      bucketArn: this.bucket.bucketArn,
      objectsArn: this.bucket.arnForObjects(prefix ? `${this.key}*` : this.key),
      listPrefix: prefix ? this.key : undefined,
      encryptionKey: this.bucket.encryptionKey,
    };
  }
}
