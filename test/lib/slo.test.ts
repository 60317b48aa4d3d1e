import { Duration } from 'aws-cdk-lib';
import { AVAILABILITY_SLI, featureAvailabilitySli, LATENCY_SLI } from '../../lib/monitoring/model-monitoring';
import {
  budgetMultiplier, budgetRemainingExpression, burnRate, burnRateExpression, burnRateFactor, FAST_BURN, percentExpression, SLOW_BURN,
} from '../../lib/monitoring/slo';

/**
 * Evaluates metric-math text the way CloudWatch does for one datapoint: names bound to numbers (undefined: no datapoint,
 * which FILL replaces), IF(condition, a, b), + - * / and comparisons. Only the functions our expressions use are
 * defined, so an expression using another one fails here rather than deploy untested.
 */
function evaluate(expression: string, values: Record<string, number | undefined>): number {
  expect(expression).toMatch(/^[A-Za-z0-9_ .,()+\-*/<>]+$/);
  // JavaScript ranks comparisons below arithmetic; CloudWatch's documentation does not say. So every comparison's
  // operands must be a number, a name or a parenthesised group, for the value to be the same under either ranking.
  expect(unparenthesisedComparisons(expression)).toEqual([]);
  const names = [...new Set(expression.match(/\b[a-z][A-Za-z0-9_]*\b/g) ?? [])];
  for (const name of names) expect(values).toHaveProperty(name);
  const IF = (condition: boolean | number, a: number, b: number) => (condition ? a : b);
  const FILL = (value: number | undefined, fill: number) => value ?? fill;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('IF', 'FILL', ...names, `return ${expression};`)(IF, FILL, ...names.map((n) => values[n])) as number;
}

/** The operands of comparisons in `expression` that are neither a number, a name nor one parenthesised group. */
function unparenthesisedComparisons(expression: string): string[] {
  const problems: string[] = [];
  for (const match of expression.matchAll(/[<>]=?/g)) {
    const left = operand(expression.slice(0, match.index).trimEnd().split('').reverse().join(''), ')', '(');
    const right = operand(expression.slice(match.index! + match[0].length).trimStart(), '(', ')');
    if (!left || !right) problems.push(`${match[0]} at ${match.index}`);
  }
  return problems;
}

/**
 * Whether `text` starts with a whole operand: a parenthesised group (`open` … `close`) or a word, followed by the end
 * of its argument (`,`, the enclosing bracket) or the end of the text. For the left operand, `text` is reversed.
 */
function operand(text: string, open: string, close: string): boolean {
  let end = 0;
  if (text.startsWith(open)) {
    for (let depth = 0; end < text.length; end++) {
      depth += text[end] === open ? 1 : text[end] === close ? -1 : 0;
      if (depth === 0) break;
    }
    end++;
    // A group preceded by a name is a function call (FILL(x, 0)), one operand of an operator to its left.
    if (open === ')' && /^[A-Za-z0-9_]/.test(text.slice(end))) return false;
  } else {
    end = /^[A-Za-z0-9_.]*/.exec(text)![0].length;
    if (end === 0) return false;
  }
  const rest = text.slice(end).trimStart();
  return rest === '' || rest.startsWith(',') || rest.startsWith(close);
}

/** The comparison the burn-rate window alarms make (GreaterThanOrEqualToThreshold). */
const fires = (value: number, threshold: number) => value >= threshold;

describe('burn-rate factors (SRE workbook)', () => {
  test('2 % of a 30-day budget in 1 hour is 14.4x; 5 % in 6 hours is 6x', () => {
    expect(burnRateFactor(0.02, Duration.hours(1))).toBe(14.4);
    expect(burnRateFactor(0.05, Duration.hours(6))).toBe(6);
    expect(FAST_BURN).toMatchObject({ long: Duration.hours(1), short: Duration.minutes(5), burnRate: 14.4 });
    expect(SLOW_BURN).toMatchObject({ long: Duration.hours(6), short: Duration.minutes(30), burnRate: 6 });
    expect(FAST_BURN.short.toSeconds() * 12).toBe(FAST_BURN.long.toSeconds());
    expect(SLOW_BURN.short.toSeconds() * 12).toBe(SLOW_BURN.long.toSeconds());
  });

  test('burn rate = error ratio / (1 - objective), multiplied by an exact 1/(1 - objective)', () => {
    expect(budgetMultiplier(0.999)).toBe(1000);
    expect(budgetMultiplier(0.99)).toBe(100);
    expect(budgetMultiplier(0.9995)).toBe(2000);
    expect(burnRate(0.0144, 0.999)).toBeCloseTo(14.4, 12);
    expect(burnRate(0.001, 0.999)).toBeCloseTo(1, 12); // spending exactly the budget
  });
});

describe('availability SLI: the expression CloudWatch runs, with worked numbers', () => {
  const burn = burnRateExpression(AVAILABILITY_SLI, 0.999);

  test('99.9 %: 1.44 % bad over 1 hour is a burn rate of 14.4, so the fast window fires; 1.43 % does not', () => {
    // 10,000 requests in the hour: 9,856 predictions, 100 fallbacks, 20 overloaded, 4 internal errors, 20 shed = 144 bad.
    const hour = { predictions: 9856, fallbacks: 100, overloaded: 20, errors: 4, shed: 20 };
    expect(evaluate(burn, hour)).toBe(14.4);
    expect(fires(evaluate(burn, hour), FAST_BURN.burnRate)).toBe(true);
    const fewer = { ...hour, predictions: 9857, fallbacks: 99 }; // 143 bad
    expect(evaluate(burn, fewer)).toBeCloseTo(14.3, 9);
    expect(fires(evaluate(burn, fewer), FAST_BURN.burnRate)).toBe(false);
  });

  test('the slow pair: 0.6 % bad over 6 hours is 6x (fires), 0.5 % is 5x (does not)', () => {
    expect(fires(evaluate(burn, { predictions: 59_640, fallbacks: 360, overloaded: 0, errors: 0, shed: 0 }), SLOW_BURN.burnRate)).toBe(true);
    expect(fires(evaluate(burn, { predictions: 59_700, fallbacks: 300, overloaded: 0, errors: 0, shed: 0 }), SLOW_BURN.burnRate)).toBe(false);
  });

  test('a metric with no datapoint counts 0 (FILL), and no traffic at all burns nothing', () => {
    expect(evaluate(burn, { predictions: 9856, fallbacks: 144, overloaded: undefined, errors: undefined, shed: undefined })).toBe(14.4);
    expect(evaluate(burn, { predictions: undefined, fallbacks: undefined, overloaded: undefined, errors: undefined, shed: undefined })).toBe(0);
    expect(evaluate(burn, { predictions: undefined, fallbacks: 5, overloaded: undefined, errors: undefined, shed: undefined })).toBe(1000);
  });

  test('error budget left over 30 days: 0.05 % bad of a 99.9 % objective leaves half; 0.2 % bad is 100 % over budget', () => {
    const left = budgetRemainingExpression(AVAILABILITY_SLI, 0.999);
    expect(evaluate(left, { predictions: 999_500, fallbacks: 500, overloaded: 0, errors: 0, shed: 0 })).toBeCloseTo(50, 9);
    expect(evaluate(left, { predictions: 998_000, fallbacks: 2000, overloaded: 0, errors: 0, shed: 0 })).toBeCloseTo(-100, 9);
    expect(evaluate(left, { predictions: 0, fallbacks: 0, overloaded: 0, errors: 0, shed: 0 })).toBe(100);
  });
});

describe('latency SLI: TC(:threshold) against SampleCount', () => {
  test('99 %: 2,000 samples, 1,712 under the threshold = 14.4 % slow → burn 14.4; 1,900 fast = 5 % → 5', () => {
    const burn = burnRateExpression(LATENCY_SLI, 0.99);
    expect(evaluate(burn, { all: 2000, fast: 1712 })).toBe(14.4);
    expect(fires(evaluate(burn, { all: 2000, fast: 1712 }), FAST_BURN.burnRate)).toBe(true);
    expect(evaluate(burn, { all: 2000, fast: 1900 })).toBe(5);
    expect(fires(evaluate(burn, { all: 2000, fast: 1900 }), SLOW_BURN.burnRate)).toBe(false);
    expect(evaluate(burn, { all: undefined, fast: undefined })).toBe(0);
  });
});

describe('feature availability SLI: PRESENT over every status', () => {
  test('99 %: 3 % of values missing, stale or defaulted over 6 hours is 3x (no ticket); 6 % is 6x (ticket)', () => {
    const burn = burnRateExpression(featureAvailabilitySli(1), 0.99);
    expect(evaluate(burn, { present1: 9700, notFound1: 100, outsideMaxAge1: 100, fallback1: 100 })).toBe(3);
    expect(fires(evaluate(burn, { present1: 9400, notFound1: 300, outsideMaxAge1: 200, fallback1: 100 }), SLOW_BURN.burnRate)).toBe(true);
  });
});

test('comparison operands are parenthesised: the check refuses IF(a + b > 0, ...) and accepts IF((a + b) > 0, ...)', () => {
  expect(unparenthesisedComparisons('IF(FILL(a, 0) + FILL(b, 0) > 0, 1, 0)')).toEqual(['> at 27']);
  expect(unparenthesisedComparisons('IF((FILL(a, 0) + FILL(b, 0)) > 0, 1, 0)')).toEqual([]);
  expect(unparenthesisedComparisons('IF(a > 0 + b, 1, 0)')).toEqual(['> at 5']);
  expect(unparenthesisedComparisons('IF(a > 0, 1, 0)')).toEqual([]);
});

test('percentages: part of whole, 0 without traffic', () => {
  const fallbackRate = percentExpression('FILL(fallbacks, 0)', AVAILABILITY_SLI.total);
  expect(evaluate(fallbackRate, { predictions: 950, fallbacks: 50, overloaded: 0, errors: 0, shed: 0 })).toBe(5);
  expect(evaluate(fallbackRate, { predictions: undefined, fallbacks: undefined, overloaded: undefined, errors: undefined, shed: undefined })).toBe(0);
});
