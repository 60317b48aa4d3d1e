/**
 * Bad input never crashes the server and is never computed: each case gets a 4xx with a JSON error naming the problem.
 */
import * as path from 'path';
import { Readable } from 'stream';
import { request } from 'undici';
import { rows } from './reference';
import { call, metrics, MODELS_DIR, oipInput, ServerProcess, startServer } from './server-process';

let fraud: ServerProcess;
let multi: ServerProcess;
let batchesBefore: number;

beforeAll(async () => {
  [fraud, multi] = await Promise.all([
    startServer({ MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'), MODEL_NAME: 'fraud' }),
    startServer({ MODEL_URI: path.join(MODELS_DIR, 'multi-input.onnx'), MODEL_NAME: 'multi' }),
  ]);
  batchesBefore = (await metrics(fraud)).get('inference_batch_size_count')!;
});

afterAll(async () => {
  expect(await fraud.stop()).toBe(0);
  expect(await multi.stop()).toBe(0);
});

const [ROW] = rows(1, 16);
const features = (data: unknown = ROW, shape = [1, 16], datatype = 'FP32') => oipInput('features', datatype, shape, data);
const tokens = (data: unknown = [[1, 2, 3]], shape = [1, 3], datatype = 'INT64') => oipInput('tokens', datatype, shape, data);
const multiFeatures = (shape = [1, 4]) => oipInput('features', 'FP32', shape, Array(shape[0] * 4).fill(0.5));

interface Case {
  readonly name: string;
  readonly server?: 'fraud' | 'multi';
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  readonly error: RegExp;
}

const CASES: Case[] = [
  { name: 'malformed JSON', body: '{"inputs": [', error: /^request body is not valid JSON: / },
  { name: 'a body that is not an object', body: '[1, 2]', error: /request body must be a JSON object/ },
  { name: 'no inputs', body: {}, error: /'inputs' must be a non-empty array .* the model's inputs are features \(FP32 \[-1,16\]\)/ },
  { name: 'an unknown input name', body: { inputs: [oipInput('feature', 'FP32', [1, 16], ROW)] }, error: /inputs\[0\]: unknown input "feature"; the model's inputs are features \(FP32 \[-1,16\]\)/ },
  { name: 'a missing input', server: 'multi', body: { inputs: [multiFeatures()] }, error: /missing input\(s\): tokens \(INT64 \[-1,-1\]\)/ },
  { name: 'an input given twice', body: { inputs: [features(), features()] }, error: /inputs\[1\] 'features': input given twice/ },
  { name: 'a wrong datatype', body: { inputs: [features(ROW, [1, 16], 'FP64')] }, error: /inputs\[0\] 'features': datatype "FP64" does not match the model's FP32/ },
  { name: 'float data for an int64 input', server: 'multi', body: { inputs: [multiFeatures(), tokens([[1, 2, 3]], [1, 3], 'FP32')] }, error: /'tokens': datatype "FP32" does not match the model's INT64/ },
  { name: 'a shape of the wrong rank', body: { inputs: [features(ROW, [16])] }, error: /shape \[16\] has 1 dimensions; the model expects 2: \[-1,16\]/ },
  { name: 'a wrong fixed dimension', body: { inputs: [features(ROW.slice(1), [1, 15])] }, error: /shape \[1,15\] does not match the model's \[-1,16\] \(dimension 1 must be 16\)/ },
  { name: 'a negative dimension', body: { inputs: [features(ROW, [1, -16])] }, error: /shape must be an array of non-negative integers, got \[1,-16\]/ },
  { name: 'data that does not fill the shape', body: { inputs: [features(ROW, [2, 16])] }, error: /'features': data has 16 elements but its shape needs 32/ },
  { name: 'a string where a number belongs', body: { inputs: [features([...ROW.slice(0, 3), 'abc', ...ROW.slice(4)])] }, error: /data\[3\] = "abc" is not a number \(datatype FP32\)/ },
  { name: 'a bare NaN token', body: JSON.stringify({ inputs: [features(ROW)] }).replace(String(ROW[0]), 'NaN'), error: /data\[0\] = "NaN" is not finite; NaN and Infinity are refused \(set INFERENCE_NON_FINITE=allow/ },
  { name: 'Infinity', body: { inputs: [features(['Infinity', ...ROW.slice(1)])] }, error: /data\[0\] = "Infinity" is not finite/ },
  { name: 'a fraction for int64', server: 'multi', body: { inputs: [multiFeatures(), tokens([[1, 2.5, 3]])] }, error: /'tokens': data\[1\] = 2.5 is not an integer \(datatype INT64/ },
  { name: 'an int64 out of range', server: 'multi', body: { inputs: [multiFeatures(), tokens([['99999999999999999999', 1, 2]])] }, error: /data\[0\] = "99999999999999999999" is outside the INT64 range/ },
  { name: 'inputs disagreeing on the batch dimension', server: 'multi', body: { inputs: [multiFeatures([2, 4]), tokens()] }, error: /inputs disagree on the batch dimension: features has 2, tokens has 1/ },
  { name: 'an empty batch', body: { inputs: [features([], [0, 16])] }, error: /the batch dimension \(dimension 0\) is 0/ },
  { name: 'a priority out of range', body: { inputs: [features()], parameters: { priority: 7 } }, error: /parameters priority 7 is not a priority: use a level 1..3 \(1 highest\) or one of critical, standard, batch/ },
  { name: 'an unknown priority header', body: { inputs: [features()] }, headers: { 'x-inference-priority': 'urgent' }, error: /header priority "urgent" is not a priority/ },
  { name: 'a negative deadline', body: { inputs: [features()], parameters: { timeout_ms: -5 } }, error: /parameters timeout_ms -5 is not a deadline/ },
  { name: 'an unknown output', body: { inputs: [features()], outputs: [{ name: 'score' }] }, error: /outputs\[0\]: unknown output "score"; the model's outputs are probability/ },
  { name: 'a non-string id', body: { id: 5, inputs: [features()] }, error: /'id' must be a string, got 5/ },
];

describe('bad input on /v2/models/{m}/infer gets 400 with an error naming the problem', () => {
  test.each(CASES)('$name', async ({ server, body, headers, error }) => {
    const target = server === 'multi' ? multi : fraud;
    const answer = await call(`${target.url}/v2/models/${server ?? 'fraud'}/infer`, {
      body, headers: { 'content-type': 'application/json', ...headers },
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatch(error);
  });
});

describe('payload size', () => {
  test('a declared Content-Length over the limit (6 MB by default) is refused with 413 before the body is read', async () => {
    const answer = await call(`${fraud.url}/v2/models/fraud/infer`, { body: Buffer.alloc(6 * 1024 * 1024 + 1, 0x20) });
    expect(answer.status).toBe(413);
    expect(answer.json.error).toMatch(/payload of 6291457 bytes is over the 6291456 byte limit \(INFERENCE_MAX_PAYLOAD_BYTES\)/);
  });

  test('a chunked body that grows past the limit is refused with 413', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const response = await request(`${fraud.url}/v2/models/fraud/infer`, {
      method: 'POST',
      body: Readable.from(Array(7).fill(chunk)),
    });
    const body = await response.body.json() as { error: string };
    expect(response.statusCode).toBe(413);
    expect(body.error).toMatch(/payload of more than 6291456 bytes is over the 6291456 byte limit/);
  });
});

describe('bad input on the SageMaker routes', () => {
  test('an unsupported Content-Type is 415', async () => {
    const answer = await call(`${fraud.url}/invocations`, { body: 'x', headers: { 'content-type': 'application/x-protobuf' } });
    expect(answer.status).toBe(415);
    expect(answer.json.error).toMatch(/Content-Type application\/x-protobuf is not supported; send application\/json .* or text\/csv/);
  });

  test('ragged CSV rows', async () => {
    const answer = await call(`${fraud.url}/invocations`, { body: `${ROW.join(',')}\n1,2,3\n`, headers: { 'content-type': 'text/csv' } });
    expect(answer).toMatchObject({ status: 400, json: { error: 'text/csv row 2 has 3 fields, row 1 has 16' } });
  });

  test('a CSV field that is not a number', async () => {
    const answer = await call(`${fraud.url}/invocations`, { body: ['1', '2', 'x', ...ROW.slice(3)].join(','), headers: { 'content-type': 'text/csv' } });
    expect(answer).toMatchObject({ status: 400, json: { error: expect.stringMatching(/data\[2\] = "x" is not a number/) } });
  });

  test('JSON that is neither an OIP request nor instances', async () => {
    const answer = await call(`${fraud.url}/invocations`, { body: { instances: [] } });
    expect(answer).toMatchObject({ status: 400, json: { error: expect.stringMatching(/must be an Open Inference Protocol request .* or \{"instances": \[row, ...\]\} with at least one row/) } });
  });
});

test('after all that, nothing bad was computed and the server still serves', async () => {
  const m = await metrics(fraud);
  expect(m.get('inference_batch_size_count')).toBe(batchesBefore);
  expect(m.get('inference_requests_total{model="fraud",priority="2",outcome="invalid"}')).toBeGreaterThanOrEqual(CASES.filter((c) => c.server !== 'multi').length);
  const answer = await call(`${fraud.url}/v2/models/fraud/infer`, { body: { inputs: [features()] } });
  expect(answer.status).toBe(200);
  expect(fraud.child.exitCode).toBeNull();
});

test('with INFERENCE_NON_FINITE=allow, NaN reaches the model and comes back as "NaN"', async () => {
  const lenient = await startServer({ MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'), INFERENCE_NON_FINITE: 'allow' });
  try {
    const body = JSON.stringify({ inputs: [features(ROW)] }).replace(String(ROW[0]), 'NaN');
    const answer = await call(`${lenient.url}/v2/models/fraud-mlp/infer`, { body, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(200);
    expect(answer.json.outputs[0].data).toEqual(['NaN']);
  } finally {
    expect(await lenient.stop()).toBe(0);
  }
});
