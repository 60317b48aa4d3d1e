/**
 * Builds the ONNX models used by the inference-server tests and benchmarks, without Python: the protobuf is written
 * from Node with `onnx-proto`. Weights come from a seeded generator, so every run writes the same bytes.
 *
 * - `fraudMlp()`: tabular fraud scoring, `features` float32 [batch, 16] → `probability` float32 [batch, 1]
 * - `multiInputModel()`: `features` float32 [batch, 4] and `tokens` int64 [batch, seq] → `scores` float32
 *   [batch, 3] and `label` int64 [batch] (several inputs of different dtypes, a dynamic non-batch dimension)
 * - `audioEnergyModel()`: `audio` float32 [batch, samples] → `energy` float32 [batch, 1], the mean square of the
 *   signal reflect-padded by `AUDIO_REFLECT_PAD` samples on each side, as an STFT pads its frames: a dynamic non-batch
 *   dimension that cannot be 1 (the model rejects `samples <= AUDIO_REFLECT_PAD`)
 * - `largeMlp(...)`: a wider MLP for benchmarks, generated at bench time (never committed)
 * - `fraudRealtimeMlp()`: the reference platform's fraud model, `features` float32 [batch, 18]: the 16 stored
 *   features of `fraudModelFeatureRefs` and the 2 request-time features of the example's `transaction` source
 * - `fraudPrescreenMlp()`: a small model on request-time features only (`features` float32 [batch, 3]), embedded in
 *   a gateway Lambda by the reference platform
 *
 * `npx tsx scripts/make-models.ts` writes the small ones into test/fixtures/models/ and the examples' models into
 * examples/models/.
 */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { seededRandom } from '../runtime/core/random';

const OPSET = 17;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** A dense layer's parameters, row-major: `weights[i * outputs + o]`. */
export interface DenseLayer {
  readonly inputs: number;
  readonly outputs: number;
  readonly weights: Float32Array;
  readonly bias: Float32Array;
}

/** Deterministic uniform numbers in [-1, 1). */
function seededSigned(seed: number): () => number {
  const random = seededRandom(seed);
  return () => random() * 2 - 1;
}

/** Dense layers of the given widths with Xavier-uniform weights from `seed`. */
export function denseLayers(widths: readonly number[], seed: number): DenseLayer[] {
  const random = seededSigned(seed);
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const inputs = widths[l];
    const outputs = widths[l + 1];
    const scale = Math.sqrt(6 / (inputs + outputs));
    const weights = new Float32Array(inputs * outputs).map(() => random() * scale);
    const bias = new Float32Array(outputs).map(() => random() * 0.1);
    layers.push({ inputs, outputs, weights, bias });
  }
  return layers;
}

function floatTensor(name: string, dims: number[], values: Float32Array): onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

function tensorInfo(name: string, elemType: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

function intAttribute(name: string, value: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function stringAttribute(name: string, value: string): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(value, 'utf8') };
}

function intsAttribute(name: string, values: number[]): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}

function encodeModel(graph: onnx.IGraphProto, docString: string): Buffer {
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'ml-platform-constructs/scripts/make-models.ts',
    docString,
    graph,
  };
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/** Gemm nodes (+ Relu between layers) for an MLP; returns the nodes, initializers and the last output's name. */
function mlpNodes(layers: readonly DenseLayer[], input: string): { nodes: onnx.INodeProto[]; initializers: onnx.ITensorProto[]; output: string } {
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  let current = input;
  layers.forEach((layer, l) => {
    initializers.push(floatTensor(`W${l}`, [layer.inputs, layer.outputs], layer.weights), floatTensor(`B${l}`, [layer.outputs], layer.bias));
    nodes.push({ opType: 'Gemm', name: `dense${l}`, input: [current, `W${l}`, `B${l}`], output: [`dense${l}`] });
    current = `dense${l}`;
    if (l + 1 < layers.length) {
      nodes.push({ opType: 'Relu', name: `relu${l}`, input: [current], output: [`relu${l}`] });
      current = `relu${l}`;
    }
  });
  return { nodes, initializers, output: current };
}

/** An MLP `features` float32 [batch, widths[0]] → `probability` float32 [batch, 1] (sigmoid of the last layer). */
export function mlpModel(name: string, layers: readonly DenseLayer[]): Buffer {
  const mlp = mlpNodes(layers, 'features');
  return encodeModel({
    name,
    node: [...mlp.nodes, { opType: 'Sigmoid', name: 'sigmoid', input: [mlp.output], output: ['probability'] }],
    initializer: mlp.initializers,
    input: [tensorInfo('features', FLOAT, ['batch', layers[0].inputs])],
    output: [tensorInfo('probability', FLOAT, ['batch', 1])],
  }, `MLP ${[layers[0].inputs, ...layers.map((l) => l.outputs)].join('-')}, sigmoid output`);
}

/** Layers of the fraud-scoring MLP (16 → 32 → 1). */
export function fraudMlpLayers(): DenseLayer[] {
  return denseLayers([16, 32, 1], 7);
}

/** The tabular fraud-scoring MLP: `features` float32 [batch, 16] → `probability` float32 [batch, 1]. */
export function fraudMlp(): Buffer {
  return mlpModel('fraud_mlp', fraudMlpLayers());
}

/** The reference platform's fraud model: 16 stored + 2 request-time features (18 → 32 → 1). */
export function fraudRealtimeMlp(): Buffer {
  return mlpModel('fraud_realtime', denseLayers([18, 32, 1], 17));
}

/** A pre-screening model on request-time features only (3 → 8 → 1). */
export function fraudPrescreenMlp(): Buffer {
  return mlpModel('fraud_prescreen', denseLayers([3, 8, 1], 19));
}

/** The benchmark MLP (`features` float32 [batch, inputs] → hidden layers → `probability`). */
export function largeMlp(widths: readonly number[] = [256, 1024, 1024, 1]): Buffer {
  return mlpModel('large_mlp', denseLayers(widths, 11));
}

/** The multi-input model's dense layer (5 → 3): 4 features plus the mean token id. */
export function multiInputLayer(): DenseLayer {
  return denseLayers([5, 3], 13)[0];
}

/**
 * Two inputs of different dtypes and a dynamic non-batch dimension:
 * `scores = Gemm(concat(features, mean(float(tokens), axis 1)))`, `label = argmax(scores, axis 1)`.
 */
export function multiInputModel(): Buffer {
  const layer = multiInputLayer();
  return encodeModel({
    name: 'multi_input',
    node: [
      { opType: 'Cast', name: 'cast', input: ['tokens'], output: ['tokens_float'], attribute: [intAttribute('to', FLOAT)] },
      { opType: 'ReduceMean', name: 'mean', input: ['tokens_float'], output: ['token_mean'], attribute: [intsAttribute('axes', [1]), intAttribute('keepdims', 1)] },
      { opType: 'Concat', name: 'concat', input: ['features', 'token_mean'], output: ['joined'], attribute: [intAttribute('axis', 1)] },
      { opType: 'Gemm', name: 'dense', input: ['joined', 'W', 'B'], output: ['scores'] },
      { opType: 'ArgMax', name: 'argmax', input: ['scores'], output: ['label'], attribute: [intAttribute('axis', 1), intAttribute('keepdims', 0)] },
    ],
    initializer: [floatTensor('W', [layer.inputs, layer.outputs], layer.weights), floatTensor('B', [layer.outputs], layer.bias)],
    input: [tensorInfo('features', FLOAT, ['batch', 4]), tensorInfo('tokens', INT64, ['batch', 'seq'])],
    output: [tensorInfo('scores', FLOAT, ['batch', 3]), tensorInfo('label', INT64, ['batch'])],
  }, 'float32 features + int64 tokens (dynamic length) → scores, label');
}

/** Samples the audio model pads on each side by reflection; it needs more samples than this per row. */
export const AUDIO_REFLECT_PAD = 8;

/**
 * `energy = mean(pad_reflect(audio, AUDIO_REFLECT_PAD)^2, axis 1)`: a reflect Pad on a dynamic dimension, the
 * operation that makes a real audio model (STFT centre padding) reject a synthesized input of 1 sample.
 */
export function audioEnergyModel(): Buffer {
  const pads = BigInt64Array.from([0, AUDIO_REFLECT_PAD, 0, AUDIO_REFLECT_PAD].map(BigInt));
  return encodeModel({
    name: 'audio_energy',
    node: [
      { opType: 'Pad', name: 'reflect', input: ['audio', 'pads'], output: ['padded'], attribute: [stringAttribute('mode', 'reflect')] },
      { opType: 'Mul', name: 'square', input: ['padded', 'padded'], output: ['squared'] },
      { opType: 'ReduceMean', name: 'mean', input: ['squared'], output: ['energy'], attribute: [intsAttribute('axes', [1]), intAttribute('keepdims', 1)] },
    ],
    initializer: [{ name: 'pads', dims: [4], dataType: INT64, rawData: new Uint8Array(pads.buffer) }],
    input: [tensorInfo('audio', FLOAT, ['batch', 'samples'])],
    output: [tensorInfo('energy', FLOAT, ['batch', 1])],
  }, `float32 audio [batch, samples] → mean energy of the signal reflect-padded by ${AUDIO_REFLECT_PAD} (needs samples > ${AUDIO_REFLECT_PAD})`);
}

/** The committed test models, by file name. */
export function fixtureModels(): Record<string, Buffer> {
  return { 'fraud-mlp.onnx': fraudMlp(), 'multi-input.onnx': multiInputModel(), 'audio-energy.onnx': audioEnergyModel() };
}

/** The committed models of the examples and the reference platform, by file name. */
export function exampleModels(): Record<string, Buffer> {
  return { 'fraud-mlp.onnx': fraudMlp(), 'fraud-realtime.onnx': fraudRealtimeMlp(), 'fraud-prescreen.onnx': fraudPrescreenMlp() };
}

/** Folder of the committed test models. */
export const FIXTURE_MODELS_DIR = path.join(__dirname, '..', 'test', 'fixtures', 'models');
/** Folder of the examples' models. */
export const EXAMPLE_MODELS_DIR = path.join(__dirname, '..', 'examples', 'models');

if (require.main === module) {
  for (const [dir, models] of [[FIXTURE_MODELS_DIR, fixtureModels()], [EXAMPLE_MODELS_DIR, exampleModels()]] as const) {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(models)) {
      fs.writeFileSync(path.join(dir, name), bytes);
      console.log(`wrote ${path.join(dir, name)} (${bytes.length} bytes)`);
    }
  }
}
