/**
 * decideExperiment: maturity (minimum duration and sample) first, then guardrails, then the primary metric after
 * Benjamini–Hochberg, with the sign deciding ship or revert.
 */
import { decideExperiment, ExperimentSnapshot, GuardrailState, ONE_WEEK_MS } from '../../runtime/core/experiments';

const DAY = 86_400_000;
const START = Date.UTC(2026, 10, 2);
const mature: ExperimentSnapshot = {
  startedAtMs: START,
  nowMs: START + 8 * DAY,
  requiredSamplesPerArm: 3841,
  samplesPerArm: [4000, 4100],
  primary: { name: 'conversion', pValue: 0.01, difference: 0.02 },
};
const guardrail = (name: string, degraded: boolean): GuardrailState => ({ name, degraded, pValue: degraded ? 0.01 : 0.8, likelihoodRatio: 1, looks: 3 });

test('a significant improvement on a mature experiment ships; a significant degradation reverts', () => {
  expect(decideExperiment(mature)).toMatchObject({ action: 'ship', adjustedPValues: { conversion: 0.01 }, degradedGuardrails: [] });
  expect(decideExperiment({ ...mature, primary: { ...mature.primary, difference: -0.02 } }).action).toBe('revert');
  // Lower is better (latency): a decrease ships, an increase reverts.
  expect(decideExperiment({ ...mature, primary: { name: 'latency', pValue: 0.01, difference: -3, higherIsBetter: false } }).action).toBe('ship');
  expect(decideExperiment({ ...mature, primary: { name: 'latency', pValue: 0.01, difference: 3, higherIsBetter: false } }).action).toBe('revert');
});

test('nothing is decided before a full week, nor before every arm has its sample', () => {
  const sixDays = decideExperiment({ ...mature, nowMs: START + 6 * DAY });
  expect(sixDays).toMatchObject({ action: 'continue', adjustedPValues: {} });
  expect(sixDays.reason).toMatch(/6\.0 of 7\.0 days/);
  expect(decideExperiment({ ...mature, nowMs: START + ONE_WEEK_MS }).action).toBe('ship');
  expect(decideExperiment({ ...mature, samplesPerArm: [4000, 3840] }).reason).toMatch(/smallest arm 3840 of 3841/);
  // The minimum duration is overridable.
  expect(decideExperiment({ ...mature, nowMs: START + 3 * DAY, minimumDurationMs: 2 * DAY }).action).toBe('ship');
  // A clock behind the start is not mature.
  expect(decideExperiment({ ...mature, nowMs: START - DAY }).action).toBe('continue');
});

test('a degraded guardrail stops the experiment, even on the look where the primary became significant', () => {
  const decision = decideExperiment({ ...mature, guardrails: [guardrail('latency', false), guardrail('errors', true)] });
  expect(decision).toMatchObject({ action: 'stop-guardrail', degradedGuardrails: ['errors'] });
  expect(decision.reason).toMatch(/errors/);
  expect(decideExperiment({ ...mature, guardrails: [guardrail('latency', false)] }).action).toBe('ship');
});

test('before maturity a degraded guardrail waits, unless stopEarlyOnGuardrail', () => {
  const early = { ...mature, nowMs: START + DAY, guardrails: [guardrail('errors', true)] };
  expect(decideExperiment(early).action).toBe('continue');
  expect(decideExperiment({ ...early, stopEarlyOnGuardrail: true }).action).toBe('stop-guardrail');
  expect(decideExperiment({ ...early, stopEarlyOnGuardrail: true, guardrails: [guardrail('errors', false)] }).action).toBe('continue');
});

test('the primary must survive Benjamini–Hochberg across primary and secondary metrics', () => {
  // m = 3: sorted 0.03 (rank 1) → 3·0.03/1 = 0.09; 0.5 (2) → 0.75; 0.6 (3) → 0.6; running minimum from the top:
  // 0.6, 0.6, 0.09 → the primary's adjusted p is 0.09 > 0.05: continue (alone, 0.03 would have shipped).
  const primary = { name: 'conversion', pValue: 0.03, difference: 0.02 };
  expect(decideExperiment({ ...mature, primary }).action).toBe('ship');
  const withSecondary = decideExperiment({ ...mature, primary, secondary: [{ name: 'revenue', pValue: 0.5 }, { name: 'retention', pValue: 0.6 }] });
  expect(withSecondary.action).toBe('continue');
  expect(withSecondary.adjustedPValues.conversion).toBeCloseTo(0.09, 12);
  expect(withSecondary.adjustedPValues.revenue).toBeCloseTo(0.6, 12);
  // With strong secondaries the step-up lets the primary through: 0.03 (rank 3) → 3·0.03/3 = 0.03 ≤ 0.05.
  expect(decideExperiment({ ...mature, primary, secondary: [{ name: 'revenue', pValue: 0.001 }, { name: 'retention', pValue: 0.002 }] }).action).toBe('ship');
  // A stricter q.
  expect(decideExperiment({ ...mature, falseDiscoveryRate: 0.005 }).action).toBe('continue');
});

test('bad snapshots are refused with the problem named', () => {
  expect(() => decideExperiment({ ...mature, samplesPerArm: [4000] })).toThrow(/at least 2 arms/);
  expect(() => decideExperiment({ ...mature, secondary: [{ name: 'conversion', pValue: 0.5 }] })).toThrow(/names must be unique/);
  expect(() => decideExperiment({ ...mature, falseDiscoveryRate: 0 })).toThrow(/falseDiscoveryRate/);
  expect(() => decideExperiment({ ...mature, minimumDurationMs: -1 })).toThrow(/minimumDurationMs/);
  // Caught up front, not only once mature: a NaN would otherwise compare as "old enough" or "large enough".
  const young = { ...mature, nowMs: START + DAY };
  expect(() => decideExperiment({ ...young, primary: { ...mature.primary, pValue: NaN } })).toThrow(/conversion.pValue must be between 0 and 1/);
  expect(() => decideExperiment({ ...mature, nowMs: NaN })).toThrow(/nowMs must be a finite number/);
  expect(() => decideExperiment({ ...mature, samplesPerArm: [4000, NaN] })).toThrow(/samplesPerArm\[1\]/);
  expect(() => decideExperiment({ ...young, primary: { ...mature.primary, difference: Infinity } })).toThrow(/primary.difference/);
});
