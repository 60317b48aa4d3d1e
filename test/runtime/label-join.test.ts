/**
 * The label join (runtime/core/label-join.ts): which prediction a label is for, the latest label winning, fallbacks
 * left out, per-variant quality, delay and coverage, the drop against a baseline and the EMF lines — against values
 * worked out by hand here.
 */
import { gzipSync } from 'zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { serializeBaseline } from '../../runtime/aws/baseline-store';
import { baselineKey, labelDayPrefix, LabelRecord, partitionDate, predictionLogDayPrefix } from '../../runtime/core/datasets';
import { ProfileBuilder } from '../../runtime/core/drift/profile';
import { LabelJoin, labelJoinEmf, LabelJoinOptions, qualityDropPercent } from '../../runtime/core/label-join';
import type { LoggedPrediction } from '../../runtime/core/logged-predictions';
import { DEFAULT_VARIANT, ModelQualityMetrics as M } from '../../runtime/core/metrics';
import { PREDICTION_LOG_SCHEMA, PredictionLogRecord, toJsonLine } from '../../runtime/core/prediction-log';
import { seededRandom } from '../../runtime/core/random';
import { createLabelJoinHandler } from '../../runtime/handlers/label-join-handler';
import { S3StandIn, startS3StandIn } from '../support/local-aws';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 2, 10, 12);
const iso = (ms: number) => new Date(ms).toISOString();
const EVENT = NOW - 30 * HOUR; // the entity label's event time

const OPTIONS: LabelJoinOptions = {
  model: 'fraud', problem: 'classification', scoreOutput: 'score',
  labelWindow: { fromMs: NOW - DAY, toMs: NOW }, predictionWindow: { fromMs: NOW - 7 * DAY, toMs: NOW }, lookbackMs: 7 * DAY,
};

function prediction(requestId: string, variant: string | undefined, ts: number, score: number, extra: Partial<LoggedPrediction> = {}): LoggedPrediction {
  return {
    ts, requestId, model: 'fraud', modelVersion: variant === 'challenger' ? 'v2' : 'v1', ...(variant ? { variant } : {}),
    features: {}, outputs: { score }, fallback: false, ...extra,
  };
}

const label = (fields: Partial<LabelRecord> & Pick<LabelRecord, 'label' | 'labelTime'>): LabelRecord => ({ schema: 1, model: 'fraud', ...fields });

/** The scenario of the file: two variants, labels by request and by entity, late, unknown, fallback, stale labels. */
const PREDICTIONS: LoggedPrediction[] = [
  prediction('r1', 'champion', NOW - 50 * HOUR, 0.9),
  prediction('r2', 'champion', NOW - 48 * HOUR, 0.2),
  prediction('r3', 'challenger', NOW - 40 * HOUR, 0.7),
  prediction('r4', 'challenger', NOW - 36 * HOUR, 0.4),
  prediction('r5', 'champion', NOW - 35 * HOUR, 0.95, { fallback: true }), // a fallback: not the model's answer
  prediction('r6', 'champion', NOW - 34 * HOUR, 0.6), // never labelled
  prediction('r7', 'champion', EVENT - 3 * HOUR, 0.3, { entity: { customer_id: 'c-1' } }), // older than r8
  prediction('r8', 'champion', EVENT - 1 * HOUR, 0.8, { entity: { customer_id: 'c-1' } }), // the latest before EVENT
  prediction('r9', 'champion', EVENT + 1 * HOUR, 0.1, { entity: { customer_id: 'c-1' } }), // after EVENT: not this label's
  prediction('old', 'champion', NOW - 8 * DAY, 0.5), // outside the prediction window
];

const LABELS: LabelRecord[] = [
  label({ requestId: 'r1', label: 1, labelTime: iso(NOW - 2 * HOUR) }), // delay 48 h
  label({ requestId: 'r2', label: 1, labelTime: iso(NOW - 20 * HOUR) }), // superseded by the later label below
  label({ requestId: 'r2', label: 0, labelTime: iso(NOW - 1 * HOUR) }), // delay 47 h: the latest label wins
  label({ requestId: 'r3', label: false, labelTime: iso(NOW - 4 * HOUR) }), // delay 36 h
  label({ requestId: 'r4', label: true, labelTime: iso(NOW - 6 * HOUR) }), // delay 30 h
  label({ requestId: 'r5', label: 1, labelTime: iso(NOW - 3 * HOUR) }), // names only a fallback
  label({ requestId: 'nobody', label: 1, labelTime: iso(NOW - 3 * HOUR) }), // an unknown request
  label({ entity: { customer_id: 'c-1' }, eventTime: iso(EVENT), label: 1, labelTime: iso(NOW - 5 * HOUR) }), // r8, delay 26 h
  label({ requestId: 'r6', label: 1, labelTime: iso(NOW - 2 * DAY) }), // arrived before the label window: in the coverage only
  label({ requestId: 'r6', label: 1, labelTime: iso(NOW - 8 * DAY) }), // arrived before the lookback: skipped
  label({ model: 'other', requestId: 'r6', label: 1, labelTime: iso(NOW - 2 * HOUR) }), // another model's
];

function join(predictions: LoggedPrediction[], labels: LabelRecord[] = LABELS, options: Partial<LabelJoinOptions> = {}) {
  const j = new LabelJoin({ ...OPTIONS, ...options });
  for (const l of labels) j.addLabel(l);
  for (const p of predictions) j.addPrediction(p);
  return j.result();
}

describe('LabelJoin', () => {
  const result = join(PREDICTIONS);
  const champion = result.variants.find((v) => v.variant === 'champion')!;
  const challenger = result.variants.find((v) => v.variant === 'challenger')!;

  test('per variant: labelled, coverage, delay and quality', () => {
    // champion: non-fallback predictions in the window r1, r2, r6, r7, r8, r9 = 6; labelled in the label window r1
    // (0.9, 1), r2 (0.2, 0: the later label), r8 (0.8, 1: the entity's latest prediction before its event) = 3; and in
    // the lookback also r6 (its label arrived two days ago) = 4 → coverage 4/6.
    expect(champion).toMatchObject({ predictions: 6, labelled: 3, labelledInLookback: 4, coverage: 4 / 6, modelVersion: 'v1' });
    // Delays: 48 h, 47 h, 26 h → mean 121/3 h, max 48 h.
    expect(champion.labelDelayAvgSeconds).toBeCloseTo((121 / 3) * 3600, 6);
    expect(champion.labelDelayMaxSeconds).toBe(48 * 3600);
    // At 0.5 all three are right; the positives 0.9, 0.8 both outrank the negative 0.2: AUC 2/2 = 1.
    expect(champion.quality).toMatchObject({ count: 3, accuracy: 1, precision: 1, recall: 1, auc: 1 });
    // Brier: (0.1² + 0.2² + 0.2²) / 3 = 0.09 / 3 = 0.03.
    expect(champion.quality.brier).toBeCloseTo(0.03, 12);
    // challenger: r3 (0.7, negative) and r4 (0.4, positive): both wrong at 0.5; the one positive ranks below the
    // one negative: AUC 0; precision 0/1; recall 0/1; delays 36 h and 30 h → mean 33 h.
    expect(challenger).toMatchObject({ predictions: 2, labelled: 2, labelledInLookback: 2, coverage: 1, modelVersion: 'v2', labelDelayMaxSeconds: 36 * 3600 });
    expect(challenger.labelDelayAvgSeconds).toBe(33 * 3600);
    expect(challenger.quality).toMatchObject({ count: 2, accuracy: 0, precision: 0, recall: 0, auc: 0 });
  });

  test('what became of the labels and predictions', () => {
    expect(result.labels).toEqual({
      read: 11, matched: 6, // r1, r2, r3, r4, r6 by request, c-1 by entity
      unmatched: 1, fallbackOnly: 1, superseded: 1,
      skipped: { 'outside-label-window': 1, 'other-model': 1 },
    });
    expect(result.predictions).toEqual({ read: 10, fallbacks: 1, skipped: 1, unusable: {} });
  });

  test('the order of the logs does not matter', () => {
    expect(join([...PREDICTIONS].reverse())).toEqual(result);
  });

  test('labels are kept by their arrival (receivedAt; without one, labelTime): the label window\'s make the metrics, the lookback\'s the coverage', () => {
    const r = join([
      prediction('p1', 'champion', NOW - 6 * DAY, 0.8),
      prediction('p2', 'champion', NOW - 5 * DAY, 0.3),
      prediction('p3', 'champion', NOW - 4 * HOUR, 0.6),
    ], [
      // A late delivery of an old outcome: in the label window by its arrival; its delay is from labelTime (1 h).
      label({ requestId: 'p1', label: 1, labelTime: iso(NOW - 6 * DAY + HOUR), receivedAt: iso(NOW - HOUR) }),
      // Arrived two days ago: in the lookback (the coverage), not in the label window (the metrics).
      label({ requestId: 'p2', label: 0, labelTime: iso(NOW - 5 * DAY + HOUR), receivedAt: iso(NOW - 2 * DAY) }),
      // Stored without receivedAt: by labelTime — before the lookback (skipped), and in the label window (delay 2 h).
      label({ requestId: 'p3', label: 0, labelTime: iso(NOW - 8 * DAY) }),
      label({ requestId: 'p3', label: 1, labelTime: iso(NOW - 2 * HOUR) }),
    ]);
    expect(r.labels.skipped).toEqual({ 'outside-label-window': 1 });
    // Every prediction labelled: coverage 3/3, though only two labels arrived in the label window.
    expect(r.variants[0]).toMatchObject({ predictions: 3, labelled: 2, labelledInLookback: 3, coverage: 1, labelDelayAvgSeconds: 1.5 * 3600, quality: { count: 2, accuracy: 1 } });
  });

  test('an entity label finds the latest prediction at or before its event time, within the lookback', () => {
    const c1 = (requestId: string, ts: number, score: number) => prediction(requestId, undefined, ts, score, { entity: { customer_id: 'c-1' } });
    const byEntity = [label({ entity: { customer_id: 'c-1' }, eventTime: iso(EVENT), label: 0, labelTime: iso(NOW - HOUR) })];
    // Join keys compare as strings: a label naming 42 finds a prediction logged with '42'.
    const numeric = join([prediction('n1', undefined, EVENT - HOUR, 0.1, { entity: { customer_id: '42' } })],
      [label({ entity: { customer_id: 42 }, eventTime: iso(EVENT), label: 0, labelTime: iso(NOW - HOUR) })]);
    expect(numeric.variants[0]).toMatchObject({ variant: DEFAULT_VARIANT, labelled: 1 });
    // The only prediction before the event is older than the lookback: unmatched.
    const stale = join([c1('a', EVENT - 3 * HOUR, 0.3), c1('b', EVENT + HOUR, 0.4)], byEntity, { lookbackMs: 2 * HOUR });
    expect(stale.labels).toMatchObject({ matched: 0, unmatched: 1 });
    // One at exactly the event time counts (at or before).
    const exact = join([c1('a', EVENT - 3 * HOUR, 0.3), c1('b', EVENT, 0.4)], byEntity);
    expect(exact.variants[0].quality.brier).toBeCloseTo(0.16, 12); // (0.4 − 0)²: b, not a
  });

  test('a request answered by two variants (shadow) is labelled in both; duplicate records of one count once', () => {
    const shadow = join([
      prediction('s1', 'champion', NOW - 10 * HOUR, 0.9),
      prediction('s1', 'shadow', NOW - 10 * HOUR, 0.3),
      prediction('s1', 'shadow', NOW - 10 * HOUR, 0.3),
    ], [label({ requestId: 's1', label: 1, labelTime: iso(NOW - HOUR) })]);
    expect(shadow.variants.map((v) => [v.variant, v.labelled, v.quality.accuracy])).toEqual([['champion', 1, 1], ['shadow', 1, 0]]);
    expect(shadow.labels).toMatchObject({ matched: 1, unmatched: 0 });
  });

  test('the score from a vector output, and predictions without a usable score counted by reason', () => {
    const vector = (id: string, outputs: LoggedPrediction['outputs']) => prediction(id, 'champion', NOW - 10 * HOUR, 0, { outputs });
    const labels = ['p1', 'p2', 'p3', 'p4'].map((id) => label({ requestId: id, label: 1, labelTime: iso(NOW - HOUR) }));
    const r = join([
      vector('p1', { probabilities: [0.25, 0.75] }),
      vector('p2', { probabilities: ['a', 'b'] }),
      vector('p3', { other: 1 }),
      vector('p4', { probabilities: [0.5, 1.5] }), // outside 0–1: not a probability
    ], labels, { scoreOutput: 'probabilities[1]' });
    expect(r.variants[0].quality.brier).toBeCloseTo(0.0625, 12); // (0.75 − 1)²
    expect(r.predictions.unusable).toEqual({ 'score-not-a-number': 1, 'no-score-output': 1, 'unusable-pair': 1 });
  });
});

describe('quality drop against the baseline', () => {
  test('AUC for classification, RMSE for regression, 0 when better, absent without a baseline value', () => {
    // AUC 0.9 → 0.72: (0.9 − 0.72) / 0.9 = 20 %.
    expect(qualityDropPercent({ problem: 'classification', count: 1, auc: 0.72 }, { problem: 'classification', count: 1, auc: 0.9 })).toBeCloseTo(20, 10);
    expect(qualityDropPercent({ problem: 'classification', count: 1, auc: 0.95 }, { problem: 'classification', count: 1, auc: 0.9 })).toBe(0);
    // RMSE 2 → 2.5: (2.5 − 2) / 2 = 25 %.
    expect(qualityDropPercent({ problem: 'regression', count: 1, rmse: 2.5 }, { problem: 'regression', count: 1, rmse: 2 })).toBe(25);
    expect(qualityDropPercent({ problem: 'regression', count: 1, rmse: 2.5 }, { problem: 'classification', count: 1, auc: 0.9 })).toBeUndefined();
    expect(qualityDropPercent({ problem: 'classification', count: 1, auc: 0.5 }, undefined)).toBeUndefined();
  });

  test('EMF: one line per variant, dimensions Model + Variant, the drop against its model version\'s baseline', () => {
    const result = join(PREDICTIONS);
    const baselines = new Map([['v1', { problem: 'classification' as const, count: 100, auc: 0.8 }], ['v2', { problem: 'classification' as const, count: 100, auc: 0.8 }]]);
    const lines = labelJoinEmf(result, { baselines, timestampMs: NOW }).map((l) => JSON.parse(l));
    const [challenger, champion] = lines;
    expect(champion._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Model', 'Variant'], ['Model']]);
    expect(champion).toMatchObject({ Model: 'fraud', Variant: 'champion', [M.LABELLED]: 3, [M.AUC]: 1, [M.ACCURACY]: 100, [M.QUALITY_DROP]: 0 });
    expect(champion[M.COVERAGE]).toBeCloseTo(400 / 6, 12);
    // challenger AUC 0 against 0.8: a 100 % drop.
    expect(challenger).toMatchObject({ Variant: 'challenger', [M.LABELLED]: 2, [M.COVERAGE]: 100, [M.AUC]: 0, [M.QUALITY_DROP]: 100, [M.LABEL_DELAY_AVG_S]: 33 * 3600 });
    expect(champion).not.toHaveProperty(M.RMSE);
    // No baselines: no drop metric.
    expect(JSON.parse(labelJoinEmf(result)[0])).not.toHaveProperty(M.QUALITY_DROP);
  });
});

/**
 * End to end on s3rver: the real handler and a real S3 client over generated prediction logs (our format, two
 * variants, one gzip object and one plain object) and labels (by request and by entity + time, a late label, an
 * unknown request, a label outside the window, an invalid line), with a baseline for the champion's version. The
 * expected values are computed here from the generated pairs, by pair counting and the textbook formulas.
 */
describe('label-join handler on s3rver', () => {
  const BUCKET = 'dataset';
  let s3rver: S3StandIn;
  let s3: S3Client;
  beforeAll(async () => {
    s3rver = await startS3StandIn(BUCKET);
    s3 = s3rver.s3;
  });
  afterAll(() => s3rver.stop());

  const put = (Key: string, Body: string | Buffer) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body }));
  const record = (requestId: string, variant: string, ts: number, score: number, extra: Partial<PredictionLogRecord> = {}): PredictionLogRecord => ({
    schema: PREDICTION_LOG_SCHEMA, ts: iso(ts), requestId, model: 'fraud', modelVersion: variant === 'champion' ? 'v1' : 'v2', variant,
    features: { 'txn:amount': 10 }, outputs: { score: [score] }, latencyMs: 5, fallback: false, ...extra,
  });

  test('EMF per variant matches the values computed from the generated pairs', async () => {
    const random = seededRandom(11);
    const records: PredictionLogRecord[] = [];
    const labels: object[] = [];
    /** The (score, label, delay seconds) pairs each variant must be measured on. */
    const expected: Record<string, { score: number; label: number; delayS: number }[]> = { champion: [], challenger: [] };
    const counts: Record<string, number> = { champion: 0, challenger: 0 };
    for (let i = 0; i < 200; i++) {
      const variant = i % 5 < 3 ? 'champion' : 'challenger';
      const ts = NOW - 3 * DAY + i * 20 * 60_000; // every 20 minutes over 3 days (to NOW − 6.3 h)
      const score = Math.round(random() * 1000) / 1000;
      const requestId = `r-${i}`;
      records.push(record(requestId, variant, ts, score));
      counts[variant]++;
      if (i % 2 === 0) { // every other prediction gets a label, 2 to 20 hours after the window's end minus a day
        const y = random() < score ? 1 : 0;
        const labelMs = NOW - 20 * HOUR + (i % 18) * HOUR;
        if (labelMs <= ts) continue;
        labels.push({ model: 'fraud', requestId, label: y === 1, labelTime: iso(labelMs) });
        expected[variant].push({ score, label: y, delayS: (labelMs - ts) / 1000 });
      }
    }
    // A late correction: r-0's first label (wrong) is replaced by a later one.
    const r0 = expected[records[0].variant!].find((p) => p.score === (records[0].outputs.score as number[])[0])!;
    labels.unshift({ model: 'fraud', requestId: 'r-0', label: r0.label === 0, labelTime: iso(NOW - 23 * HOUR) });
    // By entity + event time: c-7's latest prediction before the event (0.85, champion) is the one labelled.
    const event = NOW - 10 * HOUR;
    records.push(record('e-1', 'champion', event - 2 * HOUR, 0.2, { entity: { customer_id: 'c-7' } }));
    records.push(record('e-2', 'champion', event - 1 * HOUR, 0.85, { entity: { customer_id: 'c-7' } }));
    counts.champion += 2;
    labels.push({ model: 'fraud', entity: { customer_id: 'c-7' }, eventTime: iso(event), label: 1, labelTime: iso(NOW - 2 * HOUR) });
    expected.champion.push({ score: 0.85, label: 1, delayS: 9 * 3600 }); // labelled at NOW − 2 h, predicted at NOW − 11 h
    // A fallback (labelled, but not the model's answer), an unknown request, a label before the window, an invalid line.
    records.push(record('f-1', 'champion', NOW - 5 * HOUR, 0.99, { fallback: true }));
    labels.push({ model: 'fraud', requestId: 'f-1', label: 1, labelTime: iso(NOW - HOUR) });
    labels.push({ model: 'fraud', requestId: 'nobody', label: 1, labelTime: iso(NOW - HOUR) });
    labels.push({ model: 'fraud', requestId: 'r-5', label: 1, labelTime: iso(NOW - 7 * DAY - HOUR) }); // before the lookback
    // Arrived before the label window (r-3's, unlabelled otherwise): in the coverage, not in the metrics.
    labels.push({ model: 'fraud', requestId: 'r-3', label: 1, labelTime: iso(NOW - 30 * HOUR) });
    const coveredOnly: Record<string, number> = { champion: 0, challenger: 0 };
    coveredOnly[records[3].variant!]++;
    // A late delivery: r-1's outcome known an hour after it (three days ago), delivered 3 hours ago — stored under
    // its arrival's date and joined; its delay is still from labelTime.
    const r1 = records[1];
    labels.push({ model: 'fraud', requestId: 'r-1', label: true, labelTime: iso(Date.parse(r1.ts) + HOUR), receivedAt: iso(NOW - 3 * HOUR) });
    expected[r1.variant!].push({ score: (r1.outputs.score as number[])[0], label: 1, delayS: 3600 });

    const hourKey = (ms: number, name: string) => `${predictionLogDayPrefix('fraud', new Date(ms).toISOString().slice(0, 10))}hour=${new Date(ms).toISOString().slice(11, 13)}/${name}`;
    await put(hourKey(NOW - 7 * HOUR, 'part-0.jsonl.gz'), gzipSync(records.slice(0, 150).map(toJsonLine).join('')));
    await put(hourKey(NOW - 3 * HOUR, 'part-1.jsonl'), records.slice(150).map(toJsonLine).join('') + 'not json\n');
    const labelLines = (list: object[]) => list.map((l) => JSON.stringify(l)).join('\n') + '\n';
    // The label dataset's layout: dt is the arrival's date (receivedAt; labelTime for labels stored without one); the
    // window [NOW − 1 day, NOW) touches two days.
    const byDay = new Map<string, object[]>();
    for (const l of labels as { receivedAt?: string; labelTime: string }[]) {
      const date = partitionDate(Date.parse(l.receivedAt ?? l.labelTime));
      byDay.set(date, [...(byDay.get(date) ?? []), l]);
    }
    for (const [date, list] of byDay) await put(`${labelDayPrefix('fraud', date)}labels-0.jsonl`, labelLines(list) + (date === '2026-03-09' ? '{"model":"fraud","label":1}\n' : ''));
    const baseline = new ProfileBuilder().build({ model: 'fraud', modelVersion: 'v1', source: 'test', quality: { problem: 'classification', count: 1000, auc: 0.95 } });
    await put(baselineKey('fraud', 'v1'), serializeBaseline(baseline));

    const lines: string[] = [];
    const handler = createLabelJoinHandler({
      s3, now: () => NOW, log: (line) => lines.push(line),
      settings: { model: 'fraud', problem: 'classification', scoreOutput: 'score', datasetBucketName: BUCKET, labelWindowMs: DAY, lookbackMs: 7 * DAY, callTimeoutMs: 5000 },
    });
    const summary = await handler({}, { getRemainingTimeInMillis: () => 60_000 });

    const emf = lines.map((l) => JSON.parse(l)).filter((l) => l._aws);
    expect(emf.map((l) => l.Variant)).toEqual(['challenger', 'champion']);
    for (const line of emf) {
      const pairs = expected[line.Variant];
      const n = pairs.length;
      const pos = pairs.filter((p) => p.label === 1);
      const neg = pairs.filter((p) => p.label === 0);
      // AUC: each (positive, negative) pair ordered right counts 1, a tie 1/2.
      let wins = 0;
      for (const p of pos) for (const q of neg) wins += p.score > q.score ? 1 : p.score === q.score ? 0.5 : 0;
      const tp = pos.filter((p) => p.score >= 0.5).length;
      const fp = neg.filter((p) => p.score >= 0.5).length;
      const tn = neg.length - fp;
      const bins = Array.from({ length: 10 }, (_, b) => pairs.filter((p) => Math.min(9, Math.floor(p.score * 10)) === b));
      const ece = bins.reduce((sum, bin) => sum + (bin.length === 0 ? 0
        : (bin.length / n) * Math.abs(bin.reduce((s, p) => s + p.label, 0) / bin.length - bin.reduce((s, p) => s + p.score, 0) / bin.length)), 0);
      expect(line[M.LABELLED]).toBe(n);
      expect(line[M.COVERAGE]).toBeCloseTo((100 * (n + coveredOnly[line.Variant])) / counts[line.Variant], 9);
      expect(line[M.AUC]).toBeCloseTo(wins / (pos.length * neg.length), 9);
      expect(line[M.ACCURACY]).toBeCloseTo((100 * (tp + tn)) / n, 9);
      expect(line[M.PRECISION]).toBeCloseTo((100 * tp) / (tp + fp), 9);
      expect(line[M.RECALL]).toBeCloseTo((100 * tp) / pos.length, 9);
      expect(line[M.BRIER]).toBeCloseTo(pairs.reduce((s, p) => s + (p.score - p.label) ** 2, 0) / n, 9);
      expect(line[M.ECE]).toBeCloseTo(ece, 9);
      expect(line[M.LABEL_DELAY_AVG_S]).toBeCloseTo(pairs.reduce((s, p) => s + p.delayS, 0) / n, 6);
      expect(line[M.LABEL_DELAY_MAX_S]).toBe(Math.max(...pairs.map((p) => p.delayS)));
      // The champion (v1) against its baseline AUC of 0.95; the challenger's version (v2) has no baseline.
      if (line.Variant === 'champion') expect(line[M.QUALITY_DROP]).toBeCloseTo(Math.max(0, ((0.95 - line[M.AUC]) / 0.95) * 100), 9);
      else expect(line).not.toHaveProperty(M.QUALITY_DROP);
    }
    expect(summary.labels).toMatchObject({ unmatched: 1, fallbackOnly: 1, superseded: 1, skipped: { 'outside-label-window': 1 } });
    expect(summary.unreadableLabels).toEqual({ 'invalid-label': 1 });
    expect(summary.unreadablePredictions).toEqual({ 'not-json': 1 });
    expect(summary.read.predictions.objects).toBe(2);
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ level: 'INFO', message: 'label join', model: 'fraud' });
  });

  test('an S3 call past its deadline fails the run (no metrics of a partial window)', async () => {
    const lines: string[] = [];
    const handler = createLabelJoinHandler({
      s3, now: () => NOW, log: (line) => lines.push(line),
      settings: { model: 'fraud', problem: 'classification', scoreOutput: 'score', datasetBucketName: BUCKET, labelWindowMs: DAY, lookbackMs: 7 * DAY, callTimeoutMs: 1 },
    });
    await expect(handler({}, { getRemainingTimeInMillis: () => 60_000 })).rejects.toMatchObject({ name: expect.stringMatching(/Abort|Timeout/) });
    expect(lines.filter((l) => l.includes('_aws'))).toEqual([]);
  });
});
