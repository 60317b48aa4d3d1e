/**
 * Where the model comes from: a local path (SageMaker's `/opt/ml/model`, where it extracts the model artifact) or an
 * `s3://` URI downloaded once at start; and its warm-up sample, when the operator gives one.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import type { Readable } from 'stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { WarmupSample } from './worker-protocol';
import { ServerVariables } from '../contracts/inference-server';

/** File name of the warm-up sample looked for next to the model (in a `MODEL_URI` folder, or a `MODEL_URI` file's). */
export const WARMUP_SAMPLE_FILE = 'warmup.json';

/** Options for fetching a model from S3. */
export interface ModelSourceOptions {
  /** Use path-style S3 URLs (S3-compatible stores). @default false */
  readonly s3ForcePathStyle?: boolean;
}

/** Model name a URI implies: the file name without `.onnx` (`s3://b/fraud.onnx` → `fraud`), else `model`. */
export function modelNameFromUri(uri: string): string {
  return uri.endsWith('.onnx') ? path.basename(uri, '.onnx') : 'model';
}

/** Resolves `uri` (local file, local folder, or `s3://bucket/key.onnx`) to the path of a local .onnx file. */
export async function fetchModel(uri: string, options: ModelSourceOptions = {}): Promise<string> {
  return uri.startsWith('s3://') ? downloadFromS3(uri, options) : localModelFile(uri);
}

function localModelFile(location: string): string {
  if (!fs.existsSync(location)) throw new Error(`${ServerVariables.MODEL_URI} ${location} does not exist; mount the model there or point ${ServerVariables.MODEL_URI} at a .onnx file or s3:// URI`);
  if (!fs.statSync(location).isDirectory()) return location;
  const candidates = fs.readdirSync(location).filter((f) => f.endsWith('.onnx'));
  if (candidates.includes('model.onnx')) return path.join(location, 'model.onnx');
  if (candidates.length === 1) return path.join(location, candidates[0]);
  throw new Error(candidates.length === 0
    ? `${ServerVariables.MODEL_URI} folder ${location} holds no .onnx file`
    : `${ServerVariables.MODEL_URI} folder ${location} holds several .onnx files (${candidates.join(', ')}); name one model.onnx or point ${ServerVariables.MODEL_URI} at the file`);
}

async function downloadFromS3(uri: string, options: ModelSourceOptions): Promise<string> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`${ServerVariables.MODEL_URI} ${uri}: expected s3://bucket/key`);
  const [, bucket, key] = match;
  // Deadlines: connecting, and any 60 s without data (a large model may take long in total, but never stalls).
  const client = new S3Client({
    forcePathStyle: options.s3ForcePathStyle,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 60000 }),
  });
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'model-')), path.basename(key).endsWith('.onnx') ? path.basename(key) : 'model.onnx');
    await pipeline(object.Body as Readable, fs.createWriteStream(target));
    return target;
  } catch (error) {
    throw new Error(`cannot download the model from ${uri}: ${(error as Error).name}: ${(error as Error).message}`);
  } finally {
    client.destroy();
  }
}

/**
 * Reads the warm-up sample: the file `samplePath` names (`INFERENCE_WARMUP_SAMPLE`), else `warmup.json` next to a
 * local model (in the `MODEL_URI` folder, or in the folder of a `MODEL_URI` file), else none. It is an Open Inference Protocol v2 request (`{"inputs": [{name, datatype, shape,
 * data}]}`). Throws, naming the file and the fix, when it is named but missing, or is not such a request.
 */
export function readWarmupSample(modelUri: string, samplePath?: string): WarmupSample | undefined {
  let source = samplePath;
  if (source === undefined) {
    if (modelUri.startsWith('s3://') || !fs.existsSync(modelUri)) return undefined;
    const folder = fs.statSync(modelUri).isDirectory() ? modelUri : path.dirname(modelUri);
    const nextToModel = path.join(folder, WARMUP_SAMPLE_FILE);
    if (!fs.existsSync(nextToModel)) return undefined;
    source = nextToModel;
  } else if (!fs.existsSync(source)) {
    throw new Error(`${ServerVariables.WARMUP_SAMPLE}=${source} does not exist; point it at a JSON inference request file or unset it`);
  }
  const where = `warm-up sample ${source}`;
  let request: unknown;
  try {
    request = JSON.parse(fs.readFileSync(source, 'utf8'));
  } catch (error) {
    throw new Error(`${where} is not valid JSON (${(error as Error).message}); write an Open Inference Protocol v2 request {"inputs": [{"name", "datatype", "shape", "data"}]}`);
  }
  const inputs = (request as { inputs?: unknown } | null)?.inputs;
  if (!Array.isArray(inputs)) {
    throw new Error(`${where} has no "inputs" array; write an Open Inference Protocol v2 request {"inputs": [{"name", "datatype", "shape", "data"}]}`);
  }
  return { source, inputs };
}
