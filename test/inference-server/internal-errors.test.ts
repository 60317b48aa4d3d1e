/**
 * A failure inside the server reaches the caller as a stable message naming a request id, never its detail (file
 * paths, stack traces, onnxruntime internals); the detail is in the server log under that id. The fault is real: the
 * audio model reflect-pads its samples, and onnxruntime refuses a run on fewer samples than the padding needs.
 */
import * as path from 'path';
import { rows } from './reference';
import { Answer, call, MODELS_DIR, oipInput, ServerProcess, startServer } from './server-process';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ MODEL_URI: path.join(MODELS_DIR, 'audio-energy.onnx'), MODEL_NAME: 'audio', INFERENCE_WORKERS: '1' });
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

/** Four samples: too few for the model's reflection padding, so the run fails inside onnxruntime. */
const [TOO_SHORT] = rows(1, 4);
const INTERNAL = /^internal error \(request id ([\w-]+)\); retry the request, and if it keeps failing, look for the request id in the server log$/;

/** The error message a caller is given, whatever the protocol (SageMaker Runtime wraps it in a ModelError). */
function callerMessage(answer: Answer): string {
  return answer.headers['x-amzn-errortype'] === 'ModelError' ? answer.json.OriginalMessage : answer.json.error;
}

const ROUTES: { name: string; send: () => Promise<Answer> }[] = [
  { name: 'Open Inference Protocol', send: () => call(`${server.url}/v2/models/audio/infer`, { body: { inputs: [oipInput('audio', 'FP32', [1, 4], TOO_SHORT)] } }) },
  { name: 'SageMaker container (/invocations)', send: () => call(`${server.url}/invocations`, { body: { instances: [TOO_SHORT] } }) },
  { name: 'SageMaker Runtime (/endpoints/{name}/invocations)', send: () => call(`${server.url}/endpoints/audio/invocations`, { body: { instances: [TOO_SHORT] } }) },
];

test.each(ROUTES)('$name: a model run that fails is answered without internals; the log has the detail under the request id', async ({ send }) => {
  const answer = await send();
  const message = callerMessage(answer);
  expect(message).toMatch(INTERNAL);
  expect(answer.text).not.toMatch(/Pad|onnxruntime|\/|\.onnx|\.js|at /);
  if (answer.headers['x-amzn-errortype'] === 'ModelError') {
    expect(answer.status).toBe(424);
    expect(answer.json.OriginalStatusCode).toBe(500);
    expect(answer.headers['x-amzn-requestid']).toBe(INTERNAL.exec(message)![1]);
  } else {
    expect(answer.status).toBe(500);
  }
  const requestId = INTERNAL.exec(message)![1];
  // The log line is written as the answer is sent: it may reach the test's pipe after the answer does.
  await server.waitForLine((l) => l.requestId === requestId);
  expect(server.lines.filter((l) => l.requestId === requestId)).toEqual([
    expect.objectContaining({ level: 'error', msg: 'internal error', error: expect.stringMatching(/^model run failed: .*Pad reflect/) }),
  ]);
});
