/**
 * Warm-up on real models: a model whose dynamic non-batch dimension cannot be 1 (the audio model reflect-pads its
 * samples, as an STFT does) rejects the synthesized warm-up inputs. The server warns, counts it and serves; a warm-up
 * sample next to the model (or named by INFERENCE_WARMUP_SAMPLE) is run instead, and a sample that fails stops it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InferenceServerMetrics, METRICS_NAMESPACE } from '../../runtime/core/metrics';
import { audioEnergy, rows } from './reference';
import { call, metrics, MODELS_DIR, oipInput, startServer } from './server-process';

const AUDIO = path.join(MODELS_DIR, 'audio-energy.onnx');
const SAMPLES = 64;

/** An inference request for `count` rows of audio of `samples` samples each. */
function audioRequest(count: number, samples: number, seed = 3): { request: object; batch: number[][] } {
  const batch = rows(count, samples, seed);
  return { request: { inputs: [oipInput('audio', 'FP32', [count, samples], batch.flat())] }, batch };
}

let scratch: string;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'warmup-'));
});

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A SageMaker-style model folder: model.onnx and, when given, warmup.json. */
function modelFolder(name: string, sample?: object): string {
  const folder = path.join(scratch, name);
  fs.mkdirSync(folder);
  fs.copyFileSync(AUDIO, path.join(folder, 'model.onnx'));
  if (sample) fs.writeFileSync(path.join(folder, 'warmup.json'), JSON.stringify(sample));
  return folder;
}

test('synthesized warm-up inputs the model rejects: a warning naming the model and the error, a metric, and the server serves', async () => {
  const server = await startServer({ MODEL_URI: AUDIO, INFERENCE_WORKERS: '2', INFERENCE_MAX_BATCH_SIZE: '8' });
  try {
    const warnings = server.lines.filter((l) => l.level === 'warn' && /synthesized warm-up/.test(String(l.msg)));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ model: 'audio-energy', error: expect.stringMatching(/Pad reflect/), fix: expect.stringMatching(/warmup\.json.*INFERENCE_WARMUP_SAMPLE/) });
    expect(new Set(warnings.map((w) => w.worker))).toEqual(new Set([0, 1]));
    // Also a CloudWatch metric (EMF on stdout, once): on SageMaker nothing scrapes /metrics.
    expect(server.lines.filter((l) => l._aws !== undefined)).toEqual([{
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [['Model', 'Variant'], ['Model']], Metrics: [{ Name: InferenceServerMetrics.WARMUP_FAILURES, Unit: 'Count' }] }],
      },
      Model: 'audio-energy',
      Variant: 'AllTraffic',
      [InferenceServerMetrics.WARMUP_FAILURES]: 2,
    }]);
    const m = await metrics(server);
    expect(m.get('inference_warmup_failures_total')).toBe(2);
    expect(m.get('inference_ready')).toBe(1);
    expect(m.get('inference_workers_ready')).toBe(2);

    const { request, batch } = audioRequest(3, SAMPLES);
    const answer = await call(`${server.url}/v2/models/audio-energy/infer`, { body: request });
    expect(answer.status).toBe(200);
    expect(answer.json.outputs[0]).toMatchObject({ name: 'energy', shape: [3, 1] });
    batch.forEach((row, i) => expect(answer.json.outputs[0].data[i]).toBeCloseTo(audioEnergy(row), 4));
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test('a warm-up sample next to the model (warmup.json in the MODEL_URI folder) is run instead of synthesized inputs', async () => {
  const folder = modelFolder('with-sample', audioRequest(2, SAMPLES, 9).request);
  const server = await startServer({ MODEL_URI: folder, INFERENCE_WARMUP_RUNS: '3' });
  try {
    expect(server.lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(server.lines.filter((l) => l._aws !== undefined)).toEqual([]);
    expect(server.lines.find((l) => l.msg === 'worker ready')).toMatchObject({ warmupRuns: 3 });
    expect((await metrics(server)).get('inference_warmup_failures_total')).toBe(0);
    const { request, batch } = audioRequest(1, SAMPLES);
    const answer = await call(`${server.url}/v2/models/model/infer`, { body: request });
    expect(answer.status).toBe(200);
    expect(answer.json.outputs[0].data[0]).toBeCloseTo(audioEnergy(batch[0]), 4);
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test('a warm-up sample next to a model file (MODEL_URI=<folder>/audio.onnx, warmup.json in that folder) is run too', async () => {
  const folder = path.join(scratch, 'file-uri');
  fs.mkdirSync(folder);
  const model = path.join(folder, 'audio.onnx');
  fs.copyFileSync(AUDIO, model);
  fs.writeFileSync(path.join(folder, 'warmup.json'), JSON.stringify(audioRequest(2, SAMPLES, 9).request));
  const server = await startServer({ MODEL_URI: model, INFERENCE_WARMUP_RUNS: '3' });
  try {
    expect(server.lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(server.lines.find((l) => l.msg === 'worker ready')).toMatchObject({ warmupRuns: 3 });
    expect((await metrics(server)).get('inference_warmup_failures_total')).toBe(0);
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

describe('a warm-up sample that fails stops the server with a one-line error naming the sample (exit 1)', () => {
  /** Starts the server, expects it to exit 1, and returns its "cannot load the model" error. */
  async function startError(env: Record<string, string>): Promise<string> {
    const server = await startServer(env, { waitReady: false });
    expect(await server.exited).toBe(1);
    expect(server.lines.some((l) => l.msg === 'ready')).toBe(false);
    const error = String(server.lines.find((l) => l.msg === 'cannot load the model')?.error);
    expect(error).not.toMatch(/\n/);
    return error;
  }

  test('one the model rejects (named by INFERENCE_WARMUP_SAMPLE, which wins over warmup.json)', async () => {
    const folder = modelFolder('rejected', audioRequest(1, SAMPLES).request);
    const sample = path.join(scratch, 'too-short.json');
    fs.writeFileSync(sample, JSON.stringify(audioRequest(1, 4).request));
    expect(await startError({ MODEL_URI: folder, INFERENCE_WARMUP_SAMPLE: sample })).toMatch(new RegExp(`^warm-up sample ${sample} failed: .*Pad reflect`));
  });

  test('one that does not fit the model\'s inputs', async () => {
    const folder = modelFolder('misfit', { inputs: [oipInput('features', 'FP32', [1, 2], [0, 0])] });
    expect(await startError({ MODEL_URI: folder })).toMatch(new RegExp(`^warm-up sample ${folder}/warmup.json failed: inputs\\[0\\]: unknown input "features"; the model's inputs are audio`));
  });

  test('one that is not a request, or is missing', async () => {
    const folder = modelFolder('not-a-request', { audio: [1, 2, 3] });
    expect(await startError({ MODEL_URI: folder })).toBe(
      `warm-up sample ${folder}/warmup.json has no "inputs" array; write an Open Inference Protocol v2 request {"inputs": [{"name", "datatype", "shape", "data"}]}`);
    const missing = path.join(scratch, 'missing.json');
    expect(await startError({ MODEL_URI: AUDIO, INFERENCE_WARMUP_SAMPLE: missing })).toBe(
      `INFERENCE_WARMUP_SAMPLE=${missing} does not exist; point it at a JSON inference request file or unset it`);
  });
});
