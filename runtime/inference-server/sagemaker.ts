/**
 * SageMaker bodies and errors: the container contract (`POST /invocations`, which SageMaker calls with the caller's
 * body, content type and custom attributes) and the SageMaker Runtime InvokeEndpoint API
 * (`POST /endpoints/{name}/invocations`, what `@aws-sdk/client-sagemaker-runtime` calls), whose errors carry the
 * `x-amzn-ErrorType` the SDK maps to its modeled exceptions.
 *
 * Bodies, by Content-Type:
 * - `application/json` with `inputs`: an Open Inference Protocol request; answered as an OIP response.
 * - `application/json` with `instances`: rows for a single-input model (`{"instances": [[...], ...]}`); answered as
 *   `{"predictions": [...]}` — per row, the output's values, or `{output: values}` when the model has several.
 * - `text/csv`: one row per line for a single-input model with one non-batch dimension; answered as JSON
 *   predictions, or CSV (one line per row, every output's values) when `Accept: text/csv`.
 * Priority and deadline come from `X-Amzn-SageMaker-Custom-Attributes` (`priority=1,timeout_ms=50`) or our headers.
 */
import type { IncomingHttpHeaders } from 'http';
import type { ServerConfig } from './config';
import { ErrorKind, InferenceError, invalid } from './errors';
import type { InferenceRequest, InferenceResponse } from './inference-service';
import { checkInputs, ModelInfo, RawInput } from './model';
import { decodeInferRequest, encodeInferResponse } from './oip';
import { headerOptions, newRequestId, OptionSource, resolveOptions } from './request-options';
import { encodeTensorData, MAX_DATA_DEPTH, oipDatatype, parseJson, Tensor, tooDeep } from './tensors';

/** Header SageMaker passes custom attributes in. */
export const CUSTOM_ATTRIBUTES_HEADER = 'x-amzn-sagemaker-custom-attributes';
/** Header naming the production variant an InvokeEndpoint call must reach. */
export const TARGET_VARIANT_HEADER = 'x-amzn-sagemaker-target-variant';
/** Header SageMaker passes the caller's inference id in. */
export const INFERENCE_ID_HEADER = 'x-amzn-sagemaker-inference-id';

/** How the response must be encoded. */
export type ResponseFormat = 'oip' | 'predictions-json' | 'predictions-csv';

/** A decoded SageMaker invocation. */
export interface Invocation {
  readonly request: InferenceRequest;
  readonly format: ResponseFormat;
}

function mediaType(header: string | undefined): string {
  return (header ?? 'application/json').split(';')[0].trim().toLowerCase();
}

/** Options from `X-Amzn-SageMaker-Custom-Attributes`: `key=value` pairs separated by `,` or `;`. */
function customAttributeOptions(headers: IncomingHttpHeaders): OptionSource {
  const raw = headers[CUSTOM_ATTRIBUTES_HEADER];
  const attributes = new Map<string, string>();
  for (const pair of (typeof raw === 'string' ? raw : '').split(/[,;]/)) {
    const [key, ...value] = pair.split('=');
    if (value.length > 0) attributes.set(key.trim().toLowerCase(), value.join('=').trim());
  }
  return { priority: attributes.get('priority'), timeoutMs: attributes.get('timeout_ms'), where: 'custom attribute' };
}

/** The single input of a model that `instances` and CSV bodies can feed, or an INVALID error saying why not. */
function singleInput(model: ModelInfo, format: string): ModelInfo['inputs'][number] {
  if (model.inputs.length !== 1) {
    throw invalid(`${format} bodies feed single-input models; this model has inputs ${model.inputs.map((i) => i.name).join(', ')}: send an Open Inference Protocol body {"inputs": [...]}`);
  }
  return model.inputs[0];
}

/** Shape of nested rows: [rows, ...dimensions of the first row]; INVALID past `MAX_DATA_DEPTH` levels. */
function nestedShape(rows: unknown[]): number[] {
  const shape = [rows.length];
  for (let v: unknown = rows[0]; Array.isArray(v); v = v[0]) {
    if (shape.length === MAX_DATA_DEPTH) throw tooDeep('{"instances"}');
    shape.push(v.length);
  }
  return shape;
}

/** CSV spellings of non-finite numbers (lower case) and the strings JSON bodies use for them. */
const CSV_NON_FINITE = new Map([['nan', 'NaN'], ['inf', 'Infinity'], ['+inf', 'Infinity'], ['infinity', 'Infinity'], ['-inf', '-Infinity'], ['-infinity', '-Infinity']]);
/** Longest spelling in `CSV_NON_FINITE`. */
const CSV_NON_FINITE_CHARS = 9;

/** Index of the first character at or after `from` that is not a decimal digit. */
function skipDigits(text: string, from: number): number {
  let i = from;
  while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
  return i;
}

/**
 * Whether text is a decimal number: `[+-]digits[.digits][(e|E)[+-]digits]`, with digits before or after the point.
 * One pass, no regular expression: linear in the length whatever the text (a backtracking pattern was quadratic).
 */
function isDecimal(text: string): boolean {
  const start = text[0] === '+' || text[0] === '-' ? 1 : 0;
  let end = skipDigits(text, start);
  let digits = end - start;
  if (text[end] === '.') {
    const fractionStart = end + 1;
    end = skipDigits(text, fractionStart);
    digits += end - fractionStart;
  }
  if (digits === 0) return false;
  if (text[end] === 'e' || text[end] === 'E') {
    const exponent = text[end + 1] === '+' || text[end + 1] === '-' ? end + 2 : end + 1;
    end = skipDigits(text, exponent);
    if (end === exponent) return false;
  }
  return end === text.length;
}

/** A CSV field as a JSON value: a number, a non-finite spelling (`nan`, `inf`, …) as the string JSON uses, or the text. */
function csvValue(field: string): unknown {
  const f = field.trim();
  if (isDecimal(f)) return Number(f);
  return (f.length <= CSV_NON_FINITE_CHARS ? CSV_NON_FINITE.get(f.toLowerCase()) : undefined) ?? f;
}

function parseCsv(text: string): unknown[][] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw invalid('text/csv body has no rows');
  const rows = lines.map((line) => line.split(',').map(csvValue));
  const width = rows[0].length;
  const ragged = rows.findIndex((r) => r.length !== width);
  if (ragged >= 0) throw invalid(`text/csv row ${ragged + 1} has ${rows[ragged].length} fields, row 1 has ${width}`);
  return rows;
}

/** Decodes an invocation body by its Content-Type; throws INVALID or UNSUPPORTED_MEDIA_TYPE naming the problem. */
export function decodeInvocation(body: Buffer, model: ModelInfo, config: ServerConfig, headers: IncomingHttpHeaders, receivedAt: number): Invocation {
  const type = mediaType(headers['content-type']);
  const id = (headers[INFERENCE_ID_HEADER] as string | undefined) ?? newRequestId();
  let rows: unknown[];
  if (type === 'application/json') {
    const json = parseJson(body.toString('utf8'));
    if (typeof json === 'object' && json !== null && 'inputs' in json) {
      return { request: decodeInferRequest(json, model, config, headers, receivedAt, [customAttributeOptions(headers)]), format: 'oip' };
    }
    const instances = (json as { instances?: unknown } | null)?.instances;
    if (!Array.isArray(instances) || instances.length === 0) {
      throw invalid('application/json body must be an Open Inference Protocol request {"inputs": [...]} or {"instances": [row, ...]} with at least one row');
    }
    rows = instances;
  } else if (type === 'text/csv') {
    rows = parseCsv(body.toString('utf8'));
  } else {
    throw new InferenceError(ErrorKind.UNSUPPORTED_MEDIA_TYPE, `Content-Type ${type} is not supported; send application/json (an Open Inference Protocol request or {"instances": [...]}) or text/csv`);
  }
  const spec = singleInput(model, type === 'text/csv' ? 'text/csv' : '{"instances"}');
  const input: RawInput = { name: spec.name, datatype: oipDatatype(spec.type), shape: nestedShape(rows), data: rows };
  const accept = mediaType(headers.accept === '*/*' ? undefined : headers.accept);
  return {
    request: {
      id,
      inputs: checkInputs(model, [input], config.nonFinite),
      receivedAt,
      ...resolveOptions(config, [customAttributeOptions(headers), headerOptions(headers)], headers),
    },
    format: accept === 'text/csv' ? 'predictions-csv' : 'predictions-json',
  };
}

/** Row `r` of a tensor as JSON values (a scalar when each row holds one element). */
function row(tensor: Tensor, r: number): unknown {
  const size = tensor.data.length / tensor.dims[0];
  const values = encodeTensorData(tensor.type, tensor.data.subarray(r * size, (r + 1) * size) as Tensor['data']);
  return values.length === 1 && tensor.dims.length <= 1 ? values[0] : values;
}

/** Encodes the response body and its content type. */
export function encodeInvocationResponse(model: ModelInfo, response: InferenceResponse, format: ResponseFormat): { body: string; contentType: string } {
  if (format === 'oip') return { body: JSON.stringify(encodeInferResponse(model, response)), contentType: 'application/json' };
  const rows = response.outputs[0]?.dims[0] ?? 0;
  if (format === 'predictions-csv') {
    const lines = Array.from({ length: rows }, (_, r) => response.outputs.flatMap((t) => [row(t, r)].flat()).join(','));
    return { body: lines.join('\n') + '\n', contentType: 'text/csv' };
  }
  const predictions = Array.from({ length: rows }, (_, r) => (response.outputs.length === 1
    ? row(response.outputs[0], r)
    : Object.fromEntries(response.outputs.map((t) => [t.name, row(t, r)]))));
  return { body: JSON.stringify({ predictions }), contentType: 'application/json' };
}

/** Status code of an error on the container contract route (`/invocations`): 503 when overloaded, as SageMaker expects. */
export function containerStatus(kind: ErrorKind, oipStatus: number): number {
  return kind === ErrorKind.OVERLOADED || kind === ErrorKind.SHED ? 503 : oipStatus;
}

/** A SageMaker Runtime API error: status, `x-amzn-ErrorType`, and body fields of the SDK's modeled exception. */
export interface RuntimeApiError {
  readonly status: number;
  readonly errorType: string;
  readonly body: Record<string, unknown>;
}

/**
 * Maps an error to what SageMaker Runtime answers: the model rejecting or failing a request is a `ModelError` (424)
 * carrying the container's status and message; what SageMaker itself checks (endpoint name, payload size) is a
 * `ValidationError` (400); overload and not-ready are `ServiceUnavailable` (503).
 */
export function runtimeApiError(error: InferenceError, containerStatusCode: number, endpointName: string): RuntimeApiError {
  switch (error.kind) {
    case ErrorKind.NOT_FOUND:
    case ErrorKind.TOO_LARGE:
    case ErrorKind.METHOD_NOT_ALLOWED:
      return { status: 400, errorType: 'ValidationError', body: { Message: error.message } };
    case ErrorKind.OVERLOADED:
    case ErrorKind.SHED:
    case ErrorKind.UNAVAILABLE:
      return { status: 503, errorType: 'ServiceUnavailable', body: { Message: error.message } };
    default:
      return {
        status: 424,
        errorType: 'ModelError',
        body: {
          ErrorCode: containerStatusCode >= 500 ? 'SERVER_ERROR_FROM_MODEL' : 'CLIENT_ERROR_FROM_MODEL',
          Message: `Received ${containerStatusCode >= 500 ? 'server' : 'client'} error (${containerStatusCode}) from primary with message "${error.message}". See logs of endpoint ${endpointName}.`,
          OriginalStatusCode: containerStatusCode,
          OriginalMessage: error.message,
        },
      };
  }
}
