/**
 * Layered assignment: the same user always gets the same experiment and arm; within a surface the experiments'
 * users do not overlap and take their shares; the arm is split by weight inside each experiment; and assignments on
 * two surfaces are independent (a chi-square test of the cross-tab).
 */
import { assignExperiment, ExperimentLayout } from '../../runtime/core/experiments';
import { chiSquareSurvival } from '../../runtime/core/drift/statistics';

const USERS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
const HALF = [{ name: 'control', weight: 50 }, { name: 'treatment', weight: 50 }];
const EXPERIMENTS: ExperimentLayout[] = [
  { id: 'ranker-v2', surface: 'home-feed', trafficPercent: 30, arms: HALF },
  { id: 'ranker-v3', surface: 'home-feed', trafficPercent: 20, arms: [{ name: 'control', weight: 1 }, { name: 'a', weight: 1 }, { name: 'b', weight: 2 }] },
  { id: 'search-bm25', surface: 'search', trafficPercent: 50, arms: HALF },
  { id: 'search-dense', surface: 'search', trafficPercent: 50, arms: HALF },
];

/** Counts of each key. */
function tally(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}

const label = (a: ReturnType<typeof assignExperiment>) => a === undefined ? 'none' : a.experimentId;

test('the same user gets the same experiment and arm every time, whatever the order of other surfaces', () => {
  const reordered = [EXPERIMENTS[2], EXPERIMENTS[0], EXPERIMENTS[3], EXPERIMENTS[1]];
  for (const userId of USERS.slice(0, 2_000)) {
    const first = assignExperiment({ userId, surface: 'home-feed', experiments: EXPERIMENTS });
    expect(assignExperiment({ userId, surface: 'home-feed', experiments: EXPERIMENTS })).toEqual(first);
    expect(assignExperiment({ userId, surface: 'home-feed', experiments: reordered })).toEqual(first);
  }
});

test('within a surface each user is in at most one experiment, in the experiments\' shares', () => {
  const counts = tally(USERS.map((userId) => label(assignExperiment({ userId, surface: 'home-feed', experiments: EXPERIMENTS }))));
  // 30 % / 20 % / 50 % of 20,000 = 6,000 / 4,000 / 10,000; a binomial SE is at most √(20,000·0.25) = 71, allow ~5 SE.
  expect(Math.abs(counts.get('ranker-v2')! - 6_000)).toBeLessThan(350);
  expect(Math.abs(counts.get('ranker-v3')! - 4_000)).toBeLessThan(350);
  expect(Math.abs(counts.get('none')! - 10_000)).toBeLessThan(350);
  // A surface with 100 % taken leaves nobody out, and nobody is in both of its experiments (one answer per user).
  const search = tally(USERS.map((userId) => label(assignExperiment({ userId, surface: 'search', experiments: EXPERIMENTS }))));
  expect(search.get('none')).toBeUndefined();
  expect(search.get('search-bm25')! + search.get('search-dense')!).toBe(USERS.length);
});

test('adding an experiment to the free range moves nobody already assigned', () => {
  const added = [...EXPERIMENTS, { id: 'ranker-v4', surface: 'home-feed', trafficPercent: 25, arms: HALF }];
  let moved = 0;
  let joined = 0;
  for (const userId of USERS) {
    const before = assignExperiment({ userId, surface: 'home-feed', experiments: EXPERIMENTS });
    const after = assignExperiment({ userId, surface: 'home-feed', experiments: added });
    if (before !== undefined && JSON.stringify(before) !== JSON.stringify(after)) moved++;
    if (before === undefined && after !== undefined) joined++;
  }
  expect(moved).toBe(0);
  expect(Math.abs(joined - 5_000)).toBeLessThan(350);
});

test('arms follow their weights inside an experiment', () => {
  const arms = USERS.map((userId) => assignExperiment({ userId, surface: 'home-feed', experiments: EXPERIMENTS }))
    .filter((a) => a?.experimentId === 'ranker-v3').map((a) => a!.arm);
  const counts = tally(arms);
  // Weights 1:1:2 of about 4,000 users → 1,000 / 1,000 / 2,000; SE ≤ √(4,000·0.25) = 32, allow ~5 SE.
  expect(Math.abs(counts.get('control')! / arms.length - 0.25)).toBeLessThan(0.04);
  expect(Math.abs(counts.get('a')! / arms.length - 0.25)).toBeLessThan(0.04);
  expect(Math.abs(counts.get('b')! / arms.length - 0.5)).toBeLessThan(0.04);
});

test('assignments on two surfaces are independent: the cross-tab passes a chi-square test of independence', () => {
  const cells = new Map<string, number>();
  const rows = new Map<string, number>();
  const cols = new Map<string, number>();
  for (const userId of USERS) {
    const home = assignExperiment({ userId, surface: 'home-feed', experiments: EXPERIMENTS });
    const search = assignExperiment({ userId, surface: 'search', experiments: EXPERIMENTS })!;
    const row = home === undefined ? 'none' : `${home.experimentId}/${home.arm}`;
    const col = `${search.experimentId}/${search.arm}`;
    cells.set(`${row}|${col}`, (cells.get(`${row}|${col}`) ?? 0) + 1);
    rows.set(row, (rows.get(row) ?? 0) + 1);
    cols.set(col, (cols.get(col) ?? 0) + 1);
  }
  // Pearson's X² = Σ (O − E)²/E with E = row·col/N, (r − 1)(c − 1) degrees of freedom: 6 home cells × 4 search cells.
  let x2 = 0;
  for (const [row, r] of rows) {
    for (const [col, c] of cols) {
      const expected = (r * c) / USERS.length;
      x2 += ((cells.get(`${row}|${col}`) ?? 0) - expected) ** 2 / expected;
    }
  }
  expect(rows.size).toBe(6);
  expect(cols.size).toBe(4);
  expect(chiSquareSurvival(x2, (rows.size - 1) * (cols.size - 1))).toBeGreaterThan(0.001);
});

test('a bad layout is refused with every problem named', () => {
  const bad: ExperimentLayout[] = [
    { id: 'x', surface: 's', trafficPercent: 80, arms: HALF },
    { id: 'x', surface: 's', trafficPercent: 40, arms: HALF },
    { id: 'y', surface: 's', trafficPercent: NaN, arms: [{ name: 'control', weight: 0 }] },
  ];
  expect(() => assignExperiment({ userId: 'u', surface: 's', experiments: bad })).toThrow(
    /'x' appears twice.*'y': trafficPercent must be between 0 and 100.*'y': needs at least one arm.*take 120 %/);
  // Another surface's bad layout does not break this one.
  expect(assignExperiment({ userId: 'u', surface: 'search', experiments: [...EXPERIMENTS, ...bad] })).toBeDefined();
  expect(() => assignExperiment({ userId: '', surface: 'search', experiments: EXPERIMENTS })).toThrow(/userId is empty/);
});
