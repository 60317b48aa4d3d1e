/**
 * Open Inference Protocol v2 (KServe, Triton) REST bodies: the inference request and response, server and model
 * metadata. Errors are answered as `{"error": "..."}` by the HTTP layer.
 */
import type { IncomingHttpHeaders } from 'http';
import type { ServerConfig } from './config';
import { invalid, preview } from './errors';
import type { InferenceRequest, InferenceResponse } from './inference-service';
import { checkInputs, ModelInfo, oipShape } from './model';
import { headerOptions, newRequestId, OptionSource, resolveOptions } from './request-options';
import { encodeTensorData, oipDatatype } from './tensors';

/** Name and version in `GET /v2`. */
export const SERVER_NAME = 'ml-platform-inference-server';
/** Server version reported by `GET /v2`. */
export const SERVER_VERSION = '0.1.0';

/** `GET /v2` */
export function serverMetadata(): object {
  return { name: SERVER_NAME, version: SERVER_VERSION, extensions: [] };
}

/** `GET /v2/models/{m}`: inputs and outputs from the session, plus how the model is served. */
export function modelMetadata(model: ModelInfo, config: ServerConfig): object {
  const tensor = (s: ModelInfo['inputs'][number]) => ({ name: s.name, datatype: oipDatatype(s.type), shape: oipShape(s) });
  return {
    name: model.name,
    versions: [model.version],
    platform: 'onnxruntime_onnx',
    inputs: model.inputs.map(tensor),
    outputs: model.outputs.map(tensor),
    parameters: {
      execution_provider: model.executionProvider,
      requested_execution_provider: config.executionProvider,
      ...(model.providerFallbackReason ? { execution_provider_fallback_reason: model.providerFallbackReason } : {}),
      max_batch_size: model.batchable ? config.maxBatchSize : 0,
      max_queue_delay_ms: config.maxQueueDelayMs,
      workers: config.workers,
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Decodes an inference request body (`{id?, parameters?: {priority?, timeout_ms?}, inputs, outputs?: [{name}]}`)
 * against the model; throws INVALID naming the field. Options come from `preferred` sources (e.g. SageMaker custom
 * attributes), then `parameters`, then headers.
 */
export function decodeInferRequest(
  body: unknown, model: ModelInfo, config: ServerConfig, headers: IncomingHttpHeaders, receivedAt: number, preferred: readonly OptionSource[] = [],
): InferenceRequest {
  if (!isObject(body)) throw invalid('request body must be a JSON object {"id"?, "parameters"?, "inputs": [...], "outputs"?: [...]}');
  if (body.id !== undefined && typeof body.id !== 'string') throw invalid(`'id' must be a string, got ${preview(body.id)}`);
  if (body.parameters !== undefined && !isObject(body.parameters)) throw invalid("'parameters' must be an object");
  const parameters = (body.parameters ?? {}) as Record<string, unknown>;
  const options = resolveOptions(config, [
    ...preferred,
    { priority: parameters.priority, timeoutMs: parameters.timeout_ms, where: 'parameters' },
    headerOptions(headers),
  ], headers);
  return {
    id: body.id ?? newRequestId(),
    inputs: checkInputs(model, body.inputs, config.nonFinite),
    outputs: decodeRequestedOutputs(body.outputs, model),
    receivedAt,
    ...options,
  };
}

function decodeRequestedOutputs(outputs: unknown, model: ModelInfo): string[] | undefined {
  if (outputs === undefined) return undefined;
  const known = model.outputs.map((o) => o.name);
  if (!Array.isArray(outputs)) throw invalid(`'outputs' must be an array of {"name": ...}; the model's outputs are ${known.join(', ')}`);
  return outputs.map((o, i) => {
    const name = isObject(o) ? o.name : undefined;
    if (typeof name !== 'string' || !known.includes(name)) {
      throw invalid(`outputs[${i}]: unknown output ${preview(name)}; the model's outputs are ${known.join(', ')}`);
    }
    return name;
  });
}

/** The inference response body. */
export function encodeInferResponse(model: ModelInfo, response: InferenceResponse): object {
  return {
    model_name: model.name,
    model_version: model.version,
    id: response.id,
    outputs: response.outputs.map((t) => ({ name: t.name, datatype: oipDatatype(t.type), shape: [...t.dims], data: encodeTensorData(t.type, t.data) })),
  };
}
