import * as fs from 'fs';
import * as path from 'path';
import { Annotations, Aws, Token } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { packageRoot } from '../private/bundling';
import { InferenceAccelerator } from './instance-type';

/**
 * Docker build context of our inference server: `assets/inference-server/` (the bundled `serve.js` and `worker.js`,
 * the image's package.json and both Dockerfiles), written by `build/bundle-inference-server.ts`. Only what the
 * image is built from is in it, so editing constructs, tests or docs leaves the image hash, and the endpoint, as is.
 */
function serverBuildContext(dockerfile: string): string {
  const directory = path.join(packageRoot(), 'assets', 'inference-server');
  if (!fs.existsSync(path.join(directory, dockerfile))) {
    // A fresh checkout: bundle once (a published package ships the context prebuilt). Build-time code, loaded lazily.
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { bundleInferenceServer } = require('../../build/bundle-inference-server') as { bundleInferenceServer(outDir: string): string };
      bundleInferenceServer(directory);
    } catch (error) {
      throw new Error(`InferenceImage.fromServer: the server's build context ${directory} lacks ${dockerfile} and cannot be bundled here (${(error as Error).message}); run 'npm run bundle'`);
    }
  }
  return directory;
}

/** What an image gives the endpoint that runs it. */
export interface InferenceImageConfig {
  /** The image URI SageMaker pulls. */
  readonly imageUri: string;
  /** ARN of the ECR repository holding the image (the execution role may pull from it, nothing else). */
  readonly repositoryArn: string;
  /** Version of the image stamped on the models: asset hash, digest or tag. */
  readonly version: string;
}

/** Options of `InferenceImage.fromServer`. */
export interface ServerImageOptions {
  /**
   * Build the GPU image (CUDA runtime base, onnxruntime's CUDA execution provider) instead of the CPU one.
   * @default false
   */
  readonly gpu?: boolean;
}

/** Options of `InferenceImage.fromDockerfile`. */
export interface DockerfileImageOptions {
  /**
   * Dockerfile path, relative to the build context directory.
   * @default 'Dockerfile'
   */
  readonly file?: string;
  /**
   * The accelerator the image is built for; must match the instance types it runs on.
   * @default InferenceAccelerator.NONE
   */
  readonly accelerator?: InferenceAccelerator;
  /**
   * Paths to leave out of the build context (Docker ignore syntax; `!` re-includes).
   * @default - nothing beyond the directory's .dockerignore
   */
  readonly exclude?: string[];
  /**
   * Docker build arguments.
   * @default - none
   */
  readonly buildArgs?: Record<string, string>;
}

/** Options of `InferenceImage.fromEcr`. */
export interface EcrImageOptions {
  /**
   * Image digest (`sha256:...`): immutable, the recommended way to pin a model server version.
   * @default - `tag` is used
   */
  readonly digest?: string;
  /**
   * Image tag. Tags are mutable: pushing a new image under the same tag does not roll the endpoint.
   * @default - `digest` is used; one of the two is required
   */
  readonly tag?: string;
  /**
   * The accelerator the image is built for; must match the instance types it runs on.
   * @default InferenceAccelerator.NONE
   */
  readonly accelerator?: InferenceAccelerator;
}

/** Options of `InferenceImage.fromImageUri`. */
export interface ImageUriOptions {
  /**
   * The accelerator the image is built for; must match the instance types it runs on.
   * @default InferenceAccelerator.NONE
   */
  readonly accelerator?: InferenceAccelerator;
}

/** Matches a private ECR image URI: account, region, domain suffix, repository, then `:tag` or `@sha256:digest`. */
const ECR_IMAGE_URI = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*)(?::([\w][\w.-]{0,127})|@(sha256:[a-f0-9]{64}))$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * The container image an endpoint runs: our inference server built from this package's Dockerfiles as a CDK Docker
 * image asset (synthesizing needs no Docker engine; `cdk deploy` builds and pushes it), or an existing image in ECR.
 * SageMaker pulls only from ECR, so every image here lives in an ECR repository.
 */
export abstract class InferenceImage {
  /**
   * Our inference server (Open Inference Protocol + the SageMaker container contract, ONNX Runtime): the GPU image
   * (`Dockerfile`, CUDA runtime base) or the CPU one (`Dockerfile.cpu`), built from `assets/inference-server/`.
   */
  public static fromServer(options: ServerImageOptions = {}): InferenceImage {
    const gpu = options.gpu ?? false;
    const file = gpu ? 'Dockerfile' : 'Dockerfile.cpu';
    return new DockerfileImage(serverBuildContext(file), {
      file,
      accelerator: gpu ? InferenceAccelerator.NVIDIA_GPU : InferenceAccelerator.NONE,
    });
  }

  /** An image built from any Dockerfile as a CDK Docker image asset (linux/amd64). */
  public static fromDockerfile(directory: string, options: DockerfileImageOptions = {}): InferenceImage {
    return new DockerfileImage(directory, options);
  }

  /** An existing image in an ECR repository, pinned by digest (recommended) or tag. */
  public static fromEcr(repository: ecr.IRepository, options: EcrImageOptions): InferenceImage {
    return new EcrImage(repository, options);
  }

  /**
   * An existing image by its full ECR URI, `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>` or
   * `...@sha256:<digest>`. The execution role is allowed to pull from that repository only.
   */
  public static fromImageUri(imageUri: string, options: ImageUriOptions = {}): InferenceImage {
    return new UriImage(imageUri, options.accelerator ?? InferenceAccelerator.NONE);
  }

  /** The accelerator the image is built for. */
  public abstract readonly accelerator: InferenceAccelerator;

  /** Whether the image is built for NVIDIA GPUs. */
  public get gpu(): boolean {
    return this.accelerator === InferenceAccelerator.NVIDIA_GPU;
  }

  /** Materializes the image for an endpoint; `scope` owns any asset created. */
  public abstract bind(scope: Construct): InferenceImageConfig;
}

class DockerfileImage extends InferenceImage {
  public readonly accelerator: InferenceAccelerator;

  constructor(private readonly directory: string, private readonly options: DockerfileImageOptions) {
    super();
    this.accelerator = options.accelerator ?? InferenceAccelerator.NONE;
  }

  public bind(scope: Construct): InferenceImageConfig {
    const file = this.options.file ?? 'Dockerfile';
    const dockerfile = path.join(this.directory, file);
    if (!fs.existsSync(dockerfile)) {
      throw new Error(`InferenceImage: no Dockerfile at ${dockerfile}; create it, or pass the right 'file' (relative to ${this.directory})`);
    }
    const asset = new ecrAssets.DockerImageAsset(scope, 'Image', {
      directory: this.directory,
      file,
      exclude: this.options.exclude,
      buildArgs: this.options.buildArgs,
      platform: ecrAssets.Platform.LINUX_AMD64,
    });
    return { imageUri: asset.imageUri, repositoryArn: asset.repository.repositoryArn, version: asset.assetHash };
  }
}

class EcrImage extends InferenceImage {
  public readonly accelerator: InferenceAccelerator;

  constructor(private readonly repository: ecr.IRepository, private readonly options: EcrImageOptions) {
    super();
    this.accelerator = options.accelerator ?? InferenceAccelerator.NONE;
    const { digest, tag } = options;
    if ((digest === undefined) === (tag === undefined)) {
      throw new Error('InferenceImage.fromEcr: pass exactly one of digest (recommended: immutable) or tag');
    }
    if (digest !== undefined && !Token.isUnresolved(digest) && !DIGEST.test(digest)) {
      throw new Error(`InferenceImage.fromEcr: digest '${digest}' must look like 'sha256:<64 hex digits>'`);
    }
  }

  public bind(scope: Construct): InferenceImageConfig {
    const { digest, tag } = this.options;
    if (tag !== undefined) {
      Annotations.of(scope).addWarningV2('ml-platform:mutableImageTag',
        `Image tag '${tag}' is mutable: pushing a new image under it does not roll the endpoint; pin a digest instead`);
    }
    const reference = digest ?? tag!;
    return {
      imageUri: digest !== undefined ? this.repository.repositoryUriForDigest(digest) : this.repository.repositoryUriForTag(tag),
      repositoryArn: this.repository.repositoryArn,
      version: reference,
    };
  }
}

class UriImage extends InferenceImage {
  private readonly repositoryArn: string;
  private readonly version: string;

  constructor(private readonly imageUri: string, public readonly accelerator: InferenceAccelerator) {
    super();
    if (Token.isUnresolved(imageUri)) {
      throw new Error('InferenceImage.fromImageUri: the URI is a token, so the execution role cannot be scoped to its repository; use InferenceImage.fromEcr(repository, { digest }) instead');
    }
    const match = ECR_IMAGE_URI.exec(imageUri);
    if (!match) {
      throw new Error(`InferenceImage.fromImageUri: '${imageUri}' is not a private ECR image URI; SageMaker pulls from ECR: use '<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>' or '...@sha256:<digest>'`);
    }
    const [, account, region, repository, tag, digest] = match;
    this.repositoryArn = `arn:${Aws.PARTITION}:ecr:${region}:${account}:repository/${repository}`;
    this.version = digest ?? tag;
  }

  public bind(): InferenceImageConfig {
    return { imageUri: this.imageUri, repositoryArn: this.repositoryArn, version: this.version };
  }
}
