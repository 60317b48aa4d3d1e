/** Plain-JavaScript forward passes of the generated test models, to check what the server computes. */
import { AUDIO_REFLECT_PAD, DenseLayer, fraudMlpLayers, multiInputLayer } from '../../scripts/make-models';

function dense(layer: DenseLayer, x: readonly number[]): number[] {
  return Array.from({ length: layer.outputs }, (_, o) => x.reduce((sum, v, i) => sum + v * layer.weights[i * layer.outputs + o], layer.bias[o]));
}

/** The fraud MLP's probability for one row of 16 features. */
export function fraudProbability(features: readonly number[]): number {
  const [hidden, out] = fraudMlpLayers();
  const z = dense(out, dense(hidden, features).map((v) => Math.max(0, v)))[0];
  return 1 / (1 + Math.exp(-z));
}

/** The multi-input model's scores and label for one row. */
export function multiInputScores(features: readonly number[], tokens: readonly number[]): { scores: number[]; label: number } {
  const mean = tokens.reduce((a, b) => a + b, 0) / tokens.length;
  const scores = dense(multiInputLayer(), [...features, mean]);
  return { scores, label: scores.indexOf(Math.max(...scores)) };
}

/** Deterministic pseudo-random rows of `width` values in [-2, 2). */
export function rows(count: number, width: number, seed = 1): number[][] {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 4 - 2;
  };
  return Array.from({ length: count }, () => Array.from({ length: width }, () => Math.round(next() * 1000) / 1000));
}

/** The audio model's energy for one row: the mean square of the row reflect-padded by `AUDIO_REFLECT_PAD` each side. */
export function audioEnergy(samples: readonly number[]): number {
  const left = samples.slice(1, AUDIO_REFLECT_PAD + 1).reverse();
  const right = samples.slice(samples.length - 1 - AUDIO_REFLECT_PAD, samples.length - 1).reverse();
  const padded = [...left, ...samples, ...right];
  return padded.reduce((sum, v) => sum + v * v, 0) / padded.length;
}
