/**
 * The always-valid test under continuous peeking, by simulation (seeded): across many A/A experiments checked after
 * every batch, the mSPRT's false-positive rate stays at or below α, while a fixed-horizon z-test checked at every
 * peek declares far more false winners; with a real effect the mSPRT still finds it.
 */
import { differenceOfProportions, SEQUENTIAL_START, updateSequentialTest } from '../../runtime/core/experiments';
import { twoProportionZTest } from '../../runtime/core/drift/statistics';
import { seededRandom } from '../../runtime/core/random';

const ALPHA = 0.05;
const BATCHES = 100;
const USERS_PER_BATCH = 100; // per arm
const BASELINE = 0.1;
const TAU = 0.02; // the plan's minimum detectable effect (absolute)

/** Conversions among `n` users converting with probability `p`. */
function conversions(random: () => number, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (random() < p) k++;
  return k;
}

/** Runs one experiment, peeking after every batch; reports at which batch each test first rejected (or undefined). */
function runExperiment(random: () => number, treatmentRate: number): { msprt?: number; naive?: number } {
  let control = 0;
  let treatment = 0;
  let state = SEQUENTIAL_START;
  const out: { msprt?: number; naive?: number } = {};
  for (let batch = 1; batch <= BATCHES; batch++) {
    control += conversions(random, USERS_PER_BATCH, BASELINE);
    treatment += conversions(random, USERS_PER_BATCH, treatmentRate);
    const n = batch * USERS_PER_BATCH;
    state = updateSequentialTest(state, differenceOfProportions({ successes: control, trials: n }, { successes: treatment, trials: n }), { mixingStandardDeviation: TAU });
    if (out.msprt === undefined && state.pValue <= ALPHA) out.msprt = batch;
    if (out.naive === undefined && twoProportionZTest([n - control, control], [n - treatment, treatment]).pValue <= ALPHA) out.naive = batch;
    if (out.msprt !== undefined && out.naive !== undefined) break;
  }
  return out;
}

test('A/A: peeking after each of 100 batches keeps the mSPRT at α, the naive z-test far above it', () => {
  const experiments = 500;
  const random = seededRandom(11);
  let msprtFalse = 0;
  let naiveFalse = 0;
  for (let e = 0; e < experiments; e++) {
    const r = runExperiment(random, BASELINE);
    if (r.msprt !== undefined) msprtFalse++;
    if (r.naive !== undefined) naiveFalse++;
  }
  const msprtRate = msprtFalse / experiments;
  const naiveRate = naiveFalse / experiments;
  // 3 standard errors of a rate of α over 500 experiments: 3·√(0.05·0.95/500) = 0.029.
  const bound = ALPHA + 3 * Math.sqrt((ALPHA * (1 - ALPHA)) / experiments);
  expect(msprtRate).toBeLessThanOrEqual(bound);
  expect(naiveRate).toBeGreaterThan(0.15);
});

test('a real effect (+0.03 on 0.10) is still found, most often well before the last batch', () => {
  const experiments = 100;
  const random = seededRandom(12);
  const detectedAt: number[] = [];
  for (let e = 0; e < experiments; e++) {
    const r = runExperiment(random, BASELINE + 0.03);
    if (r.msprt !== undefined) detectedAt.push(r.msprt);
  }
  detectedAt.sort((a, b) => a - b);
  expect(detectedAt.length).toBeGreaterThanOrEqual(90);
  expect(detectedAt[detectedAt.length >> 1]).toBeLessThan(BATCHES / 2);
});
