import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { createAccessLogsBucket, createDataBucket } from '../private/access-logs';

/** Data capture of requests and responses to S3, for drift detection and model monitoring. */
export interface DataCaptureProps {
  /** Percentage of requests captured (0–100). */
  readonly samplingPercentage: number;
  /**
   * Capture request payloads.
   * @default true
   */
  readonly captureInput?: boolean;
  /**
   * Capture response payloads.
   * @default true
   */
  readonly captureOutput?: boolean;
  /**
   * Destination bucket.
   * @default - a bucket created here: KMS-encrypted with `encryptionKey`, TLS 1.2 or later only, public access
   *   blocked, ACLs disabled, versioned (overwritten or expired versions kept 30 days), server access logs delivered
   *   by bucket policy to a log bucket kept 90 days, objects expiring after `retention`
   */
  readonly bucket?: s3.IBucket;
  /**
   * Key prefix. SageMaker writes `<prefix>/<endpoint name>/<variant name>/yyyy/mm/dd/hh/<id>.jsonl`.
   * @default 'data-capture'
   */
  readonly prefix?: string;
  /**
   * KMS key SageMaker encrypts the captured objects with.
   * @default - a key created here (rotation on) when the bucket is created here; otherwise the bucket's key, if any
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long captured objects are kept (created bucket only).
   * @default Duration.days(90)
   */
  readonly retention?: Duration;
  /**
   * Where the created bucket's server access logs go (created bucket only).
   * @default - a log bucket created here
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * Content types captured as JSON text instead of base64.
   * @default ['application/json']
   */
  readonly jsonContentTypes?: string[];
}

/** How long captured objects are kept in the bucket created here. */
const DEFAULT_CAPTURE_RETENTION = Duration.days(90);
/** How long overwritten or expired versions of captured objects are kept in the capture bucket created here. */
const NONCURRENT_CAPTURE_RETENTION = Duration.days(30);
/** How long the server access logs of the capture bucket created here are kept. */
const CAPTURE_ACCESS_LOG_RETENTION = Duration.days(90);

/**
 * The data capture of one endpoint: its destination (the given bucket or one created in `scope`), the statements the
 * endpoint's execution role needs to write there, the endpoint config's `DataCaptureConfig`, and read grants.
 * Internal: not exported from lib/index.ts.
 */
export class EndpointDataCapture {
  /** Bucket receiving the captured data. */
  public readonly bucket: s3.IBucket;
  /** Key prefix of the captured data. */
  public readonly prefix: string;
  /** Key the captured objects are encrypted with, if any. */
  public readonly encryptionKey?: kms.IKey;
  /** `s3://bucket/prefix` of the captured data. */
  public readonly s3Uri: string;

  /**
   * @param scope where the bucket, its key and its log bucket are created (when `props.bucket` is not given)
   * @param endpointName named in the created key's description
   */
  constructor(scope: Construct, endpointName: string, private readonly props: DataCaptureProps) {
    this.prefix = props.prefix ?? 'data-capture';
    this.bucket = props.bucket ?? createCaptureBucket(scope, endpointName, props);
    this.encryptionKey = props.encryptionKey ?? this.bucket.encryptionKey;
    this.s3Uri = this.bucket.s3UrlForObject(this.prefix);
  }

  /**
   * What SageMaker needs to write the captured objects: `s3:PutObject` under the prefix (a wildcard: SageMaker
   * generates the keys, `wildcardReason` says so for cdk-nag) and, with a key, `kms:Encrypt`/`kms:GenerateDataKey`.
   */
  public writeStatements(): { objects: iam.PolicyStatement; wildcardReason: string; key?: iam.PolicyStatement } {
    return {
      objects: new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${this.prefix}/*`)] }),
      wildcardReason: 'SageMaker writes data capture files under keys it generates (endpoint/variant/date/uuid); limited to the capture prefix',
      key: this.encryptionKey && new iam.PolicyStatement({
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [this.encryptionKey.keyArn],
      }),
    };
  }

  /** The endpoint config's `DataCaptureConfig`. */
  public config(): sagemaker.CfnEndpointConfig.DataCaptureConfigProperty {
    const props = this.props;
    return {
      enableCapture: true,
      initialSamplingPercentage: props.samplingPercentage,
      destinationS3Uri: this.s3Uri,
      kmsKeyId: this.encryptionKey?.keyArn,
      captureOptions: [
        ...(props.captureInput ?? true ? [{ captureMode: 'Input' }] : []),
        ...(props.captureOutput ?? true ? [{ captureMode: 'Output' }] : []),
      ],
      captureContentTypeHeader: { jsonContentTypes: props.jsonContentTypes ?? ['application/json'] },
    };
  }

  /** Allows `grantee` to read the captured objects (under the prefix) and decrypt them. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const grant = this.bucket.grantRead(grantee, `${this.prefix}/*`);
    const keyGrant = this.encryptionKey?.grantDecrypt(grantee);
    return keyGrant ? grant.combine(keyGrant) : grant;
  }
}

function createCaptureBucket(scope: Construct, endpointName: string, props: DataCaptureProps): s3.Bucket {
  const encryptionKey = props.encryptionKey ?? new kms.Key(scope, 'DataCaptureKey', {
    enableKeyRotation: true,
    description: `Encrypts data captured from SageMaker endpoint ${endpointName}`,
  });
  // Versioned (createDataBucket): an overwrite or delete of captured data stays recoverable for a while, it is the
  // record monitoring audits.
  return createDataBucket(scope, 'DataCapture', {
    encryptionKey,
    serverAccessLogsBucket: props.accessLogsBucket ?? createAccessLogsBucket(scope, 'DataCaptureAccessLogs', {
      logsOf: 'the data capture bucket', retention: CAPTURE_ACCESS_LOG_RETENTION,
    }),
    serverAccessLogsPrefix: 'data-capture/',
    lifecycleRules: [
      { id: 'captured-data', expiration: props.retention ?? DEFAULT_CAPTURE_RETENTION },
      {
        id: 'old-versions-and-uploads',
        noncurrentVersionExpiration: NONCURRENT_CAPTURE_RETENTION,
        abortIncompleteMultipartUploadAfter: Duration.days(7),
        expiredObjectDeleteMarker: true,
      },
    ],
  });
}
