/** The test models are built by scripts/make-models.ts (no Python) and the committed files are exactly its output. */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { fixtureModels, FIXTURE_MODELS_DIR, largeMlp } from '../../scripts/make-models';
import { audioEnergy, fraudProbability, rows } from './reference';

test.each(Object.entries(fixtureModels()))('%s is what the generator writes (regenerate with `npx tsx scripts/make-models.ts`)', (name, bytes) => {
  expect(Buffer.compare(fs.readFileSync(path.join(FIXTURE_MODELS_DIR, name)), bytes)).toBe(0);
});

test('onnxruntime runs the generated fraud MLP as its plain-JavaScript forward pass computes it', async () => {
  const session = await ort.InferenceSession.create(fixtureModels()['fraud-mlp.onnx']);
  const batch = rows(3, 16, 42);
  const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(batch.flat()), [3, 16]) });
  expect(out.probability.dims).toEqual([3, 1]);
  batch.forEach((row, i) => expect((out.probability.data as Float32Array)[i]).toBeCloseTo(fraudProbability(row), 5));
  await session.release();
});

test('the benchmark MLP is generated with the requested widths', async () => {
  const session = await ort.InferenceSession.create(largeMlp([8, 32, 16, 1]));
  expect(session.inputMetadata[0]).toMatchObject({ name: 'features', type: 'float32', shape: ['batch', 8] });
  const out = await session.run({ features: new ort.Tensor('float32', new Float32Array(2 * 8).fill(0.5), [2, 8]) });
  expect(out.probability.dims).toEqual([2, 1]);
  for (const p of out.probability.data as Float32Array) expect(p > 0 && p < 1).toBe(true);
  await session.release();
});

test('the audio model computes the reflect-padded energy, and rejects rows of 1 sample (what a synthesized warm-up sends)', async () => {
  const session = await ort.InferenceSession.create(fixtureModels()['audio-energy.onnx']);
  expect(session.inputMetadata[0]).toMatchObject({ name: 'audio', type: 'float32', shape: ['batch', 'samples'] });
  const batch = rows(2, 40, 5);
  const out = await session.run({ audio: new ort.Tensor('float32', Float32Array.from(batch.flat()), [2, 40]) });
  batch.forEach((row, i) => expect((out.energy.data as Float32Array)[i]).toBeCloseTo(audioEnergy(row), 4));
  await expect(session.run({ audio: new ort.Tensor('float32', new Float32Array(2), [2, 1]) })).rejects.toThrow(/Pad reflect/);
  await session.release();
});
