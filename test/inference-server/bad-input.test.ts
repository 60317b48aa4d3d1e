/**
 * Bad input never crashes the server and is never computed: each case gets a 4xx with a JSON error naming the problem.
 * Bad configuration (a port in use, invalid limits) stops the server with one log line naming the setting.
 */
import { spawn } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import { Readable } from 'stream';
import { request } from 'undici';
import type { LogLine } from '../../runtime/inference-server/launcher';
import { decodeTensorData, NonFinitePolicy, TensorType } from '../../runtime/inference-server/tensors';
import { fraudProbability, rows } from './reference';
import { call, metrics, MODELS_DIR, oipInput, SERVER_DIR, ServerProcess, startServer, waitForMetrics } from './server-process';

let fraud: ServerProcess;
let multi: ServerProcess;
let batchesBefore: number;

beforeAll(async () => {
  [fraud, multi] = await Promise.all([
    // One worker, and `x-inference-fault: delay=<ms>` to keep it busy.
    startServer({ MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'), MODEL_NAME: 'fraud', INFERENCE_WORKERS: '1', INFERENCE_FAULT_INJECTION: 'true' }),
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
/** `value` wrapped in `levels` more arrays. */
const nested = (value: unknown, levels: number): unknown => (levels === 0 ? value : nested([value], levels - 1));
const FP32_RANGE = '-3\\.4028234663852886e\\+38\\.\\.3\\.4028234663852886e\\+38';

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
  { name: 'an int64 out of range', server: 'multi', body: { inputs: [multiFeatures(), tokens([['99999999999999999999', 1, 2]])] }, error: /data\[0\] = "99999999999999999999" is outside the INT64 range -9223372036854775808\.\.9223372036854775807$/ },
  { name: 'an int64 as a 1 MB decimal string', server: 'multi', body: { inputs: [multiFeatures(), tokens([['7'.repeat(1 << 20), 1, 2]])] }, error: /^inputs\[1\] 'tokens': data\[0\] = "7{63}… is outside the INT64 range -9223372036854775808\.\.9223372036854775807$/ },
  { name: 'an FP32 value beyond the float32 range', body: { inputs: [features([1e300, ...ROW.slice(1)])] }, error: new RegExp(`^inputs\\[0\\] 'features': data\\[0\\] = 1e\\+300 is outside the FP32 range ${FP32_RANGE}$`) },
  { name: 'a negative FP32 value just beyond the float32 range', body: { inputs: [features([...ROW.slice(0, 5), -3.41e38, ...ROW.slice(6)])] }, error: new RegExp(`data\\[5\\] = -3\\.41e\\+38 is outside the FP32 range ${FP32_RANGE}$`) },
  { name: 'a JSON number beyond every float (read as Infinity)', body: JSON.stringify({ inputs: [features(ROW)] }).replace(String(ROW[0]), '1e400'), error: new RegExp(`data\\[0\\] = Infinity is outside the FP32 range ${FP32_RANGE}$`) },
  { name: 'data nested 33 levels (one past the cap)', body: { inputs: [features(nested(ROW, 32))] }, error: /^inputs\[0\] 'features': data is nested more than 32 levels deep \(the most the server reads\); send the data flat, or nested as its shape$/ },
  { name: 'a body nested 100,000 levels', body: `{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 16], "data": ${'['.repeat(100000)}${']'.repeat(100000)}}]}`, error: /^request body is nested more than 40 levels deep/ },
  { name: 'a deadline beyond what Node\'s timers can wait', body: { inputs: [features()], parameters: { timeout_ms: 2 ** 31 } }, error: /^parameters timeout_ms 2147483648 is over the longest deadline, 2147483647 ms \(about 24\.8 days; Node's timers cannot wait longer\)$/ },
  { name: 'a deadline header beyond what Node\'s timers can wait', body: { inputs: [features()] }, headers: { 'x-inference-timeout-ms': '1e12' }, error: /^header timeout_ms "1e12" is over the longest deadline, 2147483647 ms/ },
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

  test('a custom attribute deadline beyond what Node\'s timers can wait', async () => {
    const answer = await call(`${fraud.url}/invocations`, { body: ROW.join(','), headers: { 'content-type': 'text/csv', 'x-amzn-sagemaker-custom-attributes': 'timeout_ms=99999999999' } });
    expect(answer).toMatchObject({ status: 400, json: { error: expect.stringMatching(/^custom attribute timeout_ms "99999999999" is over the longest deadline/) } });
  });

  test('instances nested past the cap', async () => {
    const answer = await call(`${fraud.url}/invocations`, { body: { instances: nested([ROW], 32) } });
    expect(answer).toMatchObject({ status: 400, json: { error: expect.stringMatching(/^\{"instances"\} is nested more than 32 levels deep/) } });
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

test('the longest deadline Node\'s timers can wait holds while the request is queued (it is not turned into 1 ms)', async () => {
  const busy = call(`${fraud.url}/v2/models/fraud/infer`, { body: { inputs: [features()] }, headers: { 'x-inference-fault': 'delay=200' } });
  await waitForMetrics(fraud, (m) => m.get('inference_batches_in_flight') === 1);
  const answer = await call(`${fraud.url}/v2/models/fraud/infer`, { body: { inputs: [features()], parameters: { timeout_ms: 2 ** 31 - 1 } } });
  expect((await busy).status).toBe(200);
  expect(answer.status).toBe(200);
  expect(answer.json.outputs[0].data[0]).toBeCloseTo(fraudProbability(ROW), 5);
});

test('data nested 32 levels (the cap) is read', async () => {
  const answer = await call(`${fraud.url}/v2/models/fraud/infer`, { body: { inputs: [features(nested(ROW, 31))] } });
  expect(answer.status).toBe(200);
  expect(answer.json.outputs[0].data[0]).toBeCloseTo(fraudProbability(ROW), 5);
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

describe('every input type refuses values outside its range, naming the element and the range', () => {
  // The fixture models have FP32 and INT64 inputs (tested end to end above); the other types share the same check.
  const RANGES: [TensorType, string, number | string, number | string][] = [
    ['int8', 'INT8', -128, 127],
    ['uint8', 'UINT8', 0, 255],
    ['int16', 'INT16', -32768, 32767],
    ['uint16', 'UINT16', 0, 65535],
    ['int32', 'INT32', -2147483648, 2147483647],
    ['uint32', 'UINT32', 0, 4294967295],
    ['int64', 'INT64', '-9223372036854775808', '9223372036854775807'],
    ['uint64', 'UINT64', '0', '18446744073709551615'],
    ['float32', 'FP32', -3.4028234663852886e38, 3.4028234663852886e38],
  ];
  const decode = (type: TensorType, data: unknown[]) => decodeTensorData(type, data, data.length, NonFinitePolicy.REJECT, "inputs[0] 'x'");
  /** The next value past a bound `v` (upwards for 1, downwards for -1). */
  const beyond = (v: number | string, by: 1 | -1) => {
    if (typeof v === 'string') return String(BigInt(v) + BigInt(by));
    return Number.isSafeInteger(v) ? v + by : v * 1.0000001; // float bounds: v is max or min
  };

  test.each(RANGES)('%s: %s bounds are kept, one step beyond is refused', (type, oip, min, max) => {
    expect(Array.from(decode(type, [min, max]) as ArrayLike<number | bigint>, String)).toEqual([min, max].map((v) => String(typeof v === 'string' ? BigInt(v) : v)));
    const range = `is outside the ${oip} range ${min}..${max}`;
    expect(() => decode(type, [min, beyond(max, 1)])).toThrow(`inputs[0] 'x': data[1] = ${JSON.stringify(beyond(max, 1))} ${range}`);
    expect(() => decode(type, [beyond(min, -1)])).toThrow(`inputs[0] 'x': data[0] = ${JSON.stringify(beyond(min, -1))} ${range}`);
  });

  test('FP32: a number that rounds to the largest float32 fits (3.4028235e38, as numpy and Java print it); one that rounds to Infinity is refused', () => {
    expect(Math.fround(3.4028236e38)).toBe(Infinity);
    expect(Array.from(decode('float32', [3.4028235e38, -3.4028235e38]) as Float32Array)).toEqual([3.4028234663852886e38, -3.4028234663852886e38]);
    const range = 'is outside the FP32 range -3.4028234663852886e+38..3.4028234663852886e+38';
    expect(() => decode('float32', [1, 3.4028236e38])).toThrow(`inputs[0] 'x': data[1] = 3.4028236e+38 ${range}`);
    expect(() => decode('float32', [-3.4028236e38])).toThrow(`inputs[0] 'x': data[0] = -3.4028236e+38 ${range}`);
  });

  test('integers must be integral, bools boolean', () => {
    expect(() => decode('int8', [1.5])).toThrow('data[0] = 1.5 is not an integer (datatype INT8)');
    expect(() => decode('uint64', ['1e3'])).toThrow('data[0] = "1e3" is not an integer (datatype UINT64');
    expect(() => decode('bool', [1])).toThrow('data[0] = 1 is not a boolean (datatype BOOL)');
    expect(Array.from(decode('bool', [true, false]) as Uint8Array)).toEqual([1, 0]);
  });
});

/** Runs `serve` as the image does until it exits (or, if it starts listening, kills it); its code, log lines and stderr. */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; lines: LogLine[]; stderr: string }> {
  const child = spawn(path.join(SERVER_DIR, 'serve'), [], {
    cwd: SERVER_DIR,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    if (stdout.includes('"msg":"listening"')) child.kill('SIGKILL');
  });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  return new Promise((resolve) => child.once('close', (code) => resolve({
    code,
    lines: stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as LogLine),
    stderr,
  })));
}

describe('bad configuration stops the server with one line naming the setting', () => {
  test('a port already in use: one error line naming PORT and the port, exit 1, no stack trace', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const { code, lines, stderr } = await runToExit({ PORT: String(port) });
      expect(code).toBe(1);
      expect(stderr).toBe('');
      expect(lines).toEqual([expect.objectContaining({
        level: 'error',
        msg: `cannot listen on 127.0.0.1:${port}: port ${port} is already in use; stop the process holding it or set PORT to a free port`,
      })]);
    } finally {
      holder.close();
    }
  });

  test('invalid HTTP limits and timers: exit 2, naming every variable', async () => {
    const { code, lines, stderr } = await runToExit({
      PORT: '0',
      INFERENCE_HTTP_HEADERS_TIMEOUT_MS: '40000',
      INFERENCE_HTTP_REQUEST_TIMEOUT_MS: '30000',
      INFERENCE_HTTP_MAX_CONNECTIONS: '0',
      INFERENCE_HTTP_KEEP_ALIVE_TIMEOUT_MS: 'soon',
      INFERENCE_DEFAULT_TIMEOUT_MS: String(2 ** 31),
    });
    expect(code).toBe(2);
    expect(stderr).toBe('');
    expect(lines).toHaveLength(1);
    const error = lines[0].error as string;
    expect(error).toContain('INFERENCE_HTTP_MAX_CONNECTIONS=0: expected an integer from 1 up');
    expect(error).toContain('INFERENCE_HTTP_KEEP_ALIVE_TIMEOUT_MS=soon: expected an integer from 1 to 2147483647');
    expect(error).toContain('INFERENCE_DEFAULT_TIMEOUT_MS=2147483648: expected an integer from 1 to 2147483647');
    expect(error).toContain('INFERENCE_HTTP_HEADERS_TIMEOUT_MS (40000) must not be above INFERENCE_HTTP_REQUEST_TIMEOUT_MS (30000)');
  });
});
