/**
 * Every protocol route of the inference server, against the bundled server run as its image runs it: Open Inference
 * Protocol v2, the SageMaker container contract, the SageMaker Runtime path through the real AWS SDK client, and
 * Prometheus metrics.
 */
import * as path from 'path';
import {
  InvokeEndpointCommand, ModelError, SageMakerRuntimeClient, ValidationError,
} from '@aws-sdk/client-sagemaker-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { parseJsonLines } from '../../runtime/core/prediction-log';
import { fraudProbability, multiInputScores, rows } from './reference';
import { call, metrics, MODELS_DIR, oipInput, ServerProcess, startServer } from './server-process';

let fraud: ServerProcess;
let multi: ServerProcess;

beforeAll(async () => {
  [fraud, multi] = await Promise.all([
    startServer({
      MODEL_URI: path.join(MODELS_DIR, 'fraud-mlp.onnx'),
      MODEL_NAME: 'fraud',
      MODEL_VERSION: '3',
      MODEL_VARIANT: 'champion',
      PREDICTION_LOG_SINK: 'stdout',
      PREDICTION_LOG_SAMPLE_RATE: '1',
      PREDICTION_LOG_FLUSH_MS: '5',
    }),
    startServer({ MODEL_URI: MODELS_DIR + '/multi-input.onnx', INFERENCE_MAX_QUEUE_DELAY_MS: '0' }),
  ]);
});

afterAll(async () => {
  expect(await fraud.stop()).toBe(0);
  expect(await multi.stop()).toBe(0);
});

function sagemakerClient(server: ServerProcess): SageMakerRuntimeClient {
  return new SageMakerRuntimeClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
}

const [ROW_A, ROW_B] = rows(2, 16);

describe('Open Inference Protocol v2', () => {
  test('health: live and ready', async () => {
    expect(await call(`${fraud.url}/v2/health/live`)).toMatchObject({ status: 200, json: { live: true } });
    expect(await call(`${fraud.url}/v2/health/ready`)).toMatchObject({ status: 200, json: { ready: true } });
    expect(await call(`${fraud.url}/v2/models/fraud/ready`)).toMatchObject({ status: 200, json: { name: 'fraud', ready: true } });
    expect(await call(`${fraud.url}/v2/models/fraud/versions/3/ready`)).toMatchObject({ status: 200 });
  });

  test('server metadata', async () => {
    const answer = await call(`${fraud.url}/v2`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ name: 'ml-platform-inference-server', extensions: [] });
  });

  test('model metadata comes from the session, with the execution provider in use', async () => {
    const answer = await call(`${multi.url}/v2/models/multi-input`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      name: 'multi-input',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }, { name: 'tokens', datatype: 'INT64', shape: [-1, -1] }],
      outputs: [{ name: 'scores', datatype: 'FP32', shape: [-1, 3] }, { name: 'label', datatype: 'INT64', shape: [-1] }],
      parameters: { execution_provider: 'cpu', requested_execution_provider: 'cpu', max_batch_size: 32 },
    });
  });

  test('infer: the id is echoed and the outputs are the model\'s', async () => {
    const answer = await call(`${fraud.url}/v2/models/fraud/infer`, {
      body: { id: 'req-1', inputs: [oipInput('features', 'FP32', [2, 16], [ROW_A, ROW_B])] },
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ model_name: 'fraud', model_version: '3', id: 'req-1' });
    const [output] = answer.json.outputs;
    expect(output).toMatchObject({ name: 'probability', datatype: 'FP32', shape: [2, 1] });
    expect(output.data[0]).toBeCloseTo(fraudProbability(ROW_A), 5);
    expect(output.data[1]).toBeCloseTo(fraudProbability(ROW_B), 5);
  });

  test('infer with the version in the path', async () => {
    const answer = await call(`${fraud.url}/v2/models/fraud/versions/3/infer`, { body: { inputs: [oipInput('features', 'FP32', [1, 16], ROW_A)] } });
    expect(answer.status).toBe(200);
    expect(typeof answer.json.id).toBe('string');
  });

  test('several inputs of different dtypes (float32 and int64), int64 outputs, and an output subset', async () => {
    const tokens = [[3, 4, 5], [10, 0, 2]];
    const features = [[0.5, -1, 2, 0], [1, 1, 1, 1]];
    const all = await call(`${multi.url}/v2/models/multi-input/infer`, {
      body: { inputs: [oipInput('tokens', 'INT64', [2, 3], tokens), oipInput('features', 'FP32', [2, 4], features)] },
    });
    expect(all.status).toBe(200);
    const [scores, label] = all.json.outputs;
    expect(label).toMatchObject({ name: 'label', datatype: 'INT64', shape: [2] });
    features.forEach((f, i) => {
      const expected = multiInputScores(f, tokens[i]);
      expected.scores.forEach((s, j) => expect(scores.data[i * 3 + j]).toBeCloseTo(s, 4));
      expect(label.data[i]).toBe(expected.label);
    });
    const subset = await call(`${multi.url}/v2/models/multi-input/infer`, {
      body: { inputs: [oipInput('tokens', 'INT64', [2, 3], tokens), oipInput('features', 'FP32', [2, 4], features)], outputs: [{ name: 'label' }] },
    });
    expect(subset.json.outputs.map((o: { name: string }) => o.name)).toEqual(['label']);
    expect(subset.json.outputs[0].data).toEqual(label.data);
  });

  test('unknown model, wrong version, unknown route and wrong method answer {"error"} with 404/405', async () => {
    const body = { inputs: [oipInput('features', 'FP32', [1, 16], ROW_A)] };
    const unknown = await call(`${fraud.url}/v2/models/nope/infer`, { body });
    expect(unknown).toMatchObject({ status: 404, json: { error: "unknown model 'nope'; this server serves 'fraud'" } });
    expect(await call(`${fraud.url}/v2/models/nope`)).toMatchObject({ status: 404 });
    expect(await call(`${fraud.url}/v2/models/fraud/versions/9/infer`, { body })).toMatchObject({ status: 404, json: { error: expect.stringMatching(/no version '9'.*serves version '3'/) } });
    expect(await call(`${fraud.url}/v3/anything`)).toMatchObject({ status: 404, json: { error: 'no route for GET /v3/anything' } });
    expect(await call(`${fraud.url}/v2/models/fraud/infer`)).toMatchObject({ status: 405, json: { error: expect.stringMatching(/GET is not allowed.*use POST/) } });
  });

  test('a path that is not valid percent-encoding is a 404, and the server keeps serving', async () => {
    expect(await call(`${fraud.url}/v2/models/%E0%A4%A`)).toMatchObject({ status: 404, json: { error: expect.stringMatching(/not valid percent-encoding/) } });
    expect(await call(`${fraud.url}/v2/health/live`)).toMatchObject({ status: 200 });
  });
});

describe('SageMaker container contract', () => {
  test('GET /ping is 200 when ready', async () => {
    expect((await call(`${fraud.url}/ping`)).status).toBe(200);
  });

  test('POST /invocations with {"instances"} rows answers predictions', async () => {
    const answer = await call(`${fraud.url}/invocations`, { body: { instances: [ROW_A, ROW_B] } });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.json.predictions).toHaveLength(2);
    expect(answer.json.predictions[0][0]).toBeCloseTo(fraudProbability(ROW_A), 5);
    expect(answer.json.predictions[1][0]).toBeCloseTo(fraudProbability(ROW_B), 5);
  });

  test('POST /invocations with an Open Inference Protocol body answers an OIP response', async () => {
    const answer = await call(`${fraud.url}/invocations`, { body: { id: 'oip', inputs: [oipInput('features', 'FP32', [1, 16], ROW_A)] } });
    expect(answer.json).toMatchObject({ id: 'oip', outputs: [{ name: 'probability', shape: [1, 1] }] });
  });

  test('POST /invocations with text/csv, answered as CSV when Accept is text/csv', async () => {
    const answer = await call(`${fraud.url}/invocations`, {
      body: `${ROW_A.join(',')}\n${ROW_B.join(',')}\n`,
      headers: { 'content-type': 'text/csv', accept: 'text/csv' },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/csv');
    const values = answer.text.trim().split('\n').map(Number);
    expect(values[0]).toBeCloseTo(fraudProbability(ROW_A), 5);
    expect(values[1]).toBeCloseTo(fraudProbability(ROW_B), 5);
  });

  test('a multi-input model answers several outputs per prediction', async () => {
    const answer = await call(`${multi.url}/invocations`, {
      body: { inputs: [oipInput('features', 'FP32', [1, 4], [1, 2, 3, 4]), oipInput('tokens', 'INT64', [1, 2], [1, 2])] },
    });
    expect(answer.status).toBe(200);
    expect(answer.json.outputs.map((o: { name: string }) => o.name)).toEqual(['scores', 'label']);
    const rowsOnly = await call(`${multi.url}/invocations`, { body: { instances: [[1, 2, 3, 4]] } });
    expect(rowsOnly).toMatchObject({ status: 400, json: { error: expect.stringMatching(/feed single-input models; this model has inputs features, tokens/) } });
  });
});

describe('SageMaker Runtime InvokeEndpoint through @aws-sdk/client-sagemaker-runtime', () => {
  test('InvokeEndpoint answers the body, content type and invoked variant', async () => {
    const result = await sagemakerClient(fraud).send(new InvokeEndpointCommand({
      EndpointName: 'fraud',
      ContentType: 'application/json',
      Accept: 'application/json',
      CustomAttributes: 'priority=critical,timeout_ms=2000',
      Body: Buffer.from(JSON.stringify({ instances: [ROW_A] })),
    }));
    expect(result.ContentType).toBe('application/json');
    expect(result.InvokedProductionVariant).toBe('champion');
    expect(result.$metadata.requestId).toEqual(expect.any(String));
    const body = JSON.parse(Buffer.from(result.Body!).toString('utf8'));
    expect(body.predictions[0][0]).toBeCloseTo(fraudProbability(ROW_A), 5);
  });

  test('an unknown endpoint is a ValidationError', async () => {
    const error = await sagemakerClient(fraud).send(new InvokeEndpointCommand({
      EndpointName: 'other', ContentType: 'application/json', Body: Buffer.from('{"instances":[[1]]}'),
    })).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toMatch(/Endpoint other not found/);
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  test('an unknown target variant is a ValidationError', async () => {
    const error = await sagemakerClient(fraud).send(new InvokeEndpointCommand({
      EndpointName: 'fraud', TargetVariant: 'challenger', ContentType: 'application/json', Body: Buffer.from(JSON.stringify({ instances: [ROW_A] })),
    })).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe('Variant challenger not found for endpoint fraud; it serves variant champion');
  });

  test('input the model refuses is a ModelError carrying the container status and message', async () => {
    const error = await sagemakerClient(fraud).send(new InvokeEndpointCommand({
      EndpointName: 'fraud', ContentType: 'application/json', Body: Buffer.from(JSON.stringify({ instances: [[1, 2, 3]] })),
    })).catch((e) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect(error.OriginalStatusCode).toBe(400);
    expect(error.OriginalMessage).toMatch(/shape \[1,3\] does not match the model's \[-1,16\] \(dimension 1 must be 16\)/);
    expect(error.$metadata.httpStatusCode).toBe(424);
  });

  test('a payload over the limit is a ValidationError', async () => {
    const error = await sagemakerClient(fraud).send(new InvokeEndpointCommand({
      EndpointName: 'fraud', ContentType: 'application/json', Body: Buffer.alloc(6 * 1024 * 1024 + 1, 0x20),
    })).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toMatch(/over the 6291456 byte limit/);
  });
});

describe('observability', () => {
  test('Prometheus metrics: requests by outcome, queue depth per priority, histograms, provider, load time', async () => {
    await call(`${fraud.url}/v2/models/fraud/infer`, { body: { inputs: [oipInput('features', 'FP32', [1, 16], ROW_A)] }, headers: { 'x-inference-priority': '1' } });
    await call(`${fraud.url}/v2/models/fraud/infer`, { body: { inputs: [] } });
    const m = await metrics(fraud);
    expect(m.get('inference_requests_total{model="fraud",priority="1",outcome="success"}')).toBeGreaterThanOrEqual(1);
    expect(m.get('inference_requests_total{model="fraud",priority="2",outcome="invalid"}')).toBeGreaterThanOrEqual(1);
    for (const level of [1, 2, 3]) expect(m.get(`inference_queue_depth{priority="${level}"}`)).toBe(0);
    expect(m.get('inference_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(m.get('inference_queue_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(m.get('inference_compute_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(m.get('inference_request_duration_seconds_count{priority="1",outcome="success"}')).toBeGreaterThanOrEqual(1);
    expect(m.get('inference_request_duration_seconds_count{priority="2",outcome="invalid"}')).toBeGreaterThanOrEqual(1);
    expect(m.get('inference_model_load_seconds')).toBeGreaterThan(0);
    expect(m.get('inference_execution_provider{provider="cpu",requested="cpu"}')).toBe(1);
    expect(m.get('inference_ready')).toBe(1);
  });

  test('predictions are logged in the shared prediction-log format', async () => {
    await call(`${fraud.url}/v2/models/fraud/infer`, {
      body: { id: 'logged-1', inputs: [oipInput('features', 'FP32', [1, 16], ROW_B)] },
      headers: { 'x-inference-priority': 'batch' },
    });
    const line = await fraud.waitForLine((l) => l.requestId === 'logged-1');
    const [record] = parseJsonLines(JSON.stringify(line));
    expect(record).toMatchObject({
      requestId: 'logged-1', model: 'fraud', modelVersion: '3', variant: 'champion', fallback: false, tier: 'batch',
      inputs: { features: [ROW_B.map((v) => expect.closeTo(v, 5))] },
      outputs: { probability: [[expect.closeTo(fraudProbability(ROW_B), 5)]] },
    });
    expect(Date.parse(record.ts)).not.toBeNaN();
    expect(record.latencyMs).toBeGreaterThan(0);
  });
});
