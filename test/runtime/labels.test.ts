import { LABEL_SCHEMA } from '../../runtime/core/datasets';
import { LabelParse, MAX_LABEL_BYTES, MAX_PROBLEM_LENGTH, parseLabel, parseLabelText } from '../../runtime/core/labels';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const OPTIONS = { models: ['fraud', 'churn'], nowMs: NOW };

function problemOf(result: LabelParse): string {
  if (!('problem' in result)) throw new Error(`expected a problem, got ${JSON.stringify(result.label)}`);
  return result.problem;
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('parseLabel: valid labels, normalized', () => {
  test('by request id: the time normalized to ISO-8601 UTC, the schema set', () => {
    expect(parseLabel({ model: 'fraud', requestId: 'r-1', label: 1, labelTime: '2026-03-01T13:30:00+02:00' }, OPTIONS)).toEqual({
      label: { schema: LABEL_SCHEMA, model: 'fraud', requestId: 'r-1', label: 1, labelTime: '2026-03-01T11:30:00.000Z' },
    });
  });

  test('by entity + event time: epoch milliseconds become ISO-8601, join keys keep their type', () => {
    const eventTime = Date.parse('2026-02-27T08:00:00Z');
    expect(parseLabel({ model: 'churn', entity: { customer_id: 'c-9', region: 7 }, eventTime, label: 'stayed', labelTime: NOW - 1000 }, OPTIONS)).toEqual({
      label: {
        schema: LABEL_SCHEMA, model: 'churn', entity: { customer_id: 'c-9', region: 7 }, eventTime: '2026-02-27T08:00:00.000Z',
        label: 'stayed', labelTime: '2026-03-01T11:59:59.000Z',
      },
    });
  });

  test('booleans and numbers are labels; labelTime within the clock skew passes; schema 1 is accepted', () => {
    expect(parseLabel({ schema: 1, model: 'fraud', requestId: 'r', label: false, labelTime: NOW + 60_000 }, OPTIONS)).toHaveProperty('label.label', false);
    expect(parseLabel({ model: 'fraud', requestId: 'r', label: -3.25, labelTime: NOW }, OPTIONS)).toHaveProperty('label.label', -3.25);
  });

  test('without a model list any valid model name is accepted', () => {
    expect(parseLabel({ model: 'any.model-v2', requestId: 'r', label: 1, labelTime: NOW }, { nowMs: NOW })).toHaveProperty('label.model', 'any.model-v2');
  });
});

describe('parseLabel: every problem names the field and the fix', () => {
  const base = { model: 'fraud', requestId: 'r-1', label: 1, labelTime: NOW };

  test.each([
    ['not an object', [1, 2], /^label: expected a JSON object/],
    ['both ways to name the prediction', { ...base, entity: { id: 'a' }, eventTime: NOW }, /requestId\/entity: send either requestId, or entity \+ eventTime, not both/],
    ['neither', { model: 'fraud', label: 1, labelTime: NOW }, /requestId\/entity: missing; name the prediction labelled/],
    ['entity without eventTime', { model: 'fraud', entity: { id: 'a' }, label: 1, labelTime: NOW }, /eventTime: expected ISO-8601 with a zone .* got nothing/],
    ['a model not accepted', { ...base, model: 'other' }, /model: the string "other" is not a model this ingestion accepts labels for \(fraud, churn\); .*add the model to the LabelIngestion's models/],
    ['a model name that escapes its partition', { ...base, model: '../x' }, /model: the string "..\/x" is not a model/],
    ['a missing label', { ...base, label: undefined }, /label: expected the outcome as a number, a boolean or a class name \(string\), got nothing/],
    ['a label out of float64 square range', { ...base, label: 1e300 }, /label: 1e\+300 is outside ±1e\+150/],
    ['an empty requestId', { ...base, requestId: '' }, /requestId: expected the request id/],
    ['a time without a zone', { ...base, labelTime: '2026-03-01T12:00:00' }, /labelTime: expected ISO-8601 with a zone/],
    ['a time before 2020', { ...base, labelTime: '2019-12-31T23:59:59Z' }, /labelTime: 2019-12-31T23:59:59.000Z is before 2020-01-01/],
    ['a label from the future', { ...base, labelTime: NOW + 3_600_000 }, /labelTime: 2026-03-01T13:00:00.000Z is more than 300000 ms in the future; check the producer's clock/],
    ['epoch seconds', { ...base, labelTime: NOW / 1000 }, /labelTime: 1772366400 looks like epoch seconds .* send epoch milliseconds \(1772366400000\)/],
    ['epoch microseconds', { ...base, labelTime: NOW * 1000 }, /labelTime: 1772366400000000 looks like epoch microseconds/],
    ['8.7e15, past what a Date holds', { ...base, labelTime: 8.7e15 }, /labelTime: 8700000000000000 ms since the epoch is more than 300000 ms in the future/],
    ['an unknown field', { ...base, score: 0.3 }, /score: unknown field; a label has only schema, model, requestId, entity, eventTime, label, labelTime \(remove it\)/],
    ['another schema', { ...base, schema: 2 }, /schema: number 2 is not a label format/],
    ['an entity value that is an object', { model: 'fraud', entity: { id: { a: 1 } }, eventTime: NOW, label: 1, labelTime: NOW }, /entity.id: join key must be a non-empty string or an integer, got an object/],
    ['an empty entity', { model: 'fraud', entity: {}, eventTime: NOW, label: 1, labelTime: NOW }, /entity: 0 join keys; send from 1 to 16/],
  ])('%s', (_name, raw, expected) => {
    expect(problemOf(parseLabel(raw, OPTIONS))).toMatch(expected);
  });

  test('several problems are reported together', () => {
    const problem = problemOf(parseLabel({ model: 'other', requestId: 'r', label: null, labelTime: 'yesterday' }, OPTIONS));
    expect(problem).toMatch(/^model: .*; label: .*; labelTime: /);
  });
});

describe('parseLabel: hostile input is a bounded problem, never a throw (REVIEW.md)', () => {
  const base = { model: 'fraud', requestId: 'r-1', label: 1, labelTime: NOW };
  const huge = 'x'.repeat(1024 * 1024);

  test.each([
    ['a lone surrogate in a join key value', { model: 'fraud', entity: { id: 'a\uD800b' }, eventTime: NOW, label: 1, labelTime: NOW }, /entity.id: join key contains a lone UTF-16 surrogate at index 1/],
    ['a lone surrogate in a join key name', { model: 'fraud', entity: { ['k\uDC00']: 'v' }, eventTime: NOW, label: 1, labelTime: NOW }, /entity: key .*: contains a lone UTF-16 surrogate/],
    ['a lone surrogate in the requestId', { ...base, requestId: '\uD800' }, /requestId: contains a lone UTF-16 surrogate/],
    ['a lone surrogate in a class label', { ...base, label: 'yes\uDFFF' }, /label: contains a lone UTF-16 surrogate/],
    ['a label nested 5,000 deep', { ...base, label: nested(5000) }, /label: expected the outcome .* got an array of 1/],
    ['an entity value nested 5,000 deep', { model: 'fraud', entity: { id: nested(5000) }, eventTime: NOW, label: 1, labelTime: NOW }, /entity.id: join key .* got an array of 1/],
    ['a 1 MB requestId', { ...base, requestId: huge }, /requestId: 1048576 characters; a request id has at most 256/],
    ['a 1 MB model', { ...base, model: huge }, /model: the string "x{40}…" is not a model/],
    ['a 1 MB labelTime', { ...base, labelTime: huge }, /labelTime: 1048576 characters is no time/],
    ['a 1 MB class label', { ...base, label: huge }, /label: a class name has 1 to 1024 characters, got 1048576/],
    ['a 1 MB join key', { model: 'fraud', entity: { id: huge }, eventTime: NOW, label: 1, labelTime: NOW }, /entity.id: 1048576 characters; a join key value has at most 1024/],
    ['a 1 MB field name', { ...base, [huge]: 1 }, /x{63}…: unknown field/],
    ['8.7e15 as eventTime', { model: 'fraud', entity: { id: 'a' }, eventTime: 8.7e15, label: 1, labelTime: NOW }, /eventTime: 8700000000000000 ms since the epoch/],
    ['-8.7e15', { ...base, labelTime: -8.7e15 }, /labelTime: expected ISO-8601 .* got number -8700000000000000/],
    ['a date that does not exist', { ...base, labelTime: '2026-02-30T00:00:00Z' }, /labelTime: /],
  ])('%s', (_name, raw, expected) => {
    const problem = problemOf(parseLabel(raw, OPTIONS));
    expect(problem).toMatch(expected);
    expect(problem.length).toBeLessThanOrEqual(MAX_PROBLEM_LENGTH);
  });

  test('thousands of unknown fields: a bounded problem', () => {
    const raw: Record<string, unknown> = { ...base };
    for (let i = 0; i < 10_000; i++) raw[`f${i}`] = i;
    const problem = problemOf(parseLabel(raw, OPTIONS));
    expect(problem).toMatch(/…: 9990 more unknown fields$/);
    expect(problem.length).toBeLessThanOrEqual(MAX_PROBLEM_LENGTH);
  });
});

describe('parseLabelText', () => {
  test('parses JSON text', () => {
    expect(parseLabelText(JSON.stringify({ model: 'fraud', requestId: 'r', label: 1, labelTime: NOW }), OPTIONS)).toHaveProperty('label.requestId', 'r');
  });

  test('text that is not JSON is a problem naming the fix', () => {
    expect(problemOf(parseLabelText('{"model": ', OPTIONS))).toMatch(/^label: not JSON \(.*\); send one JSON object per record or line$/);
  });

  test('a join key named __proto__ is kept as a key, not swallowed as the prototype (an entity of only it is not an empty one)', () => {
    const entity = (json: string) => {
      const parsed = parseLabelText(`{"model":"fraud","entity":${json},"eventTime":${NOW - 1000},"label":1,"labelTime":${NOW}}`, OPTIONS);
      if ('problem' in parsed) throw new Error(parsed.problem);
      return parsed.label.entity!;
    };
    const only = entity('{"__proto__":"x"}');
    expect(Object.keys(only)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(only)).toBe(Object.prototype);
    expect(JSON.stringify(only)).toBe('{"__proto__":"x"}');
    expect(JSON.stringify(entity('{"id":"a","__proto__":7}'))).toBe('{"id":"a","__proto__":7}');
    // Its value is validated like any join key's.
    expect(problemOf(parseLabelText(`{"model":"fraud","entity":{"__proto__":{"a":1}},"eventTime":${NOW - 1000},"label":1,"labelTime":${NOW}}`, OPTIONS)))
      .toMatch(/^entity.__proto__: join key must be a non-empty string or an integer/);
  });

  test('receivedAt: kept in a stored label (as the label join reads it), refused from a producer (the ingestion stamps it)', () => {
    const text = JSON.stringify({ model: 'fraud', requestId: 'r', label: 1, labelTime: NOW - 5000, receivedAt: '2026-03-01T11:00:00Z' });
    expect(parseLabelText(text, { ...OPTIONS, stored: true })).toHaveProperty('label.receivedAt', '2026-03-01T11:00:00.000Z');
    expect(problemOf(parseLabelText(text, OPTIONS))).toMatch(/^receivedAt: unknown field/);
    expect(problemOf(parseLabelText(text.replace('2026-03-01T11:00:00Z', 'soon'), { ...OPTIONS, stored: true }))).toMatch(/^receivedAt: expected ISO-8601/);
  });

  test('text over the size limit is refused unread', () => {
    const text = JSON.stringify({ model: 'fraud', requestId: 'x'.repeat(MAX_LABEL_BYTES), label: 1, labelTime: NOW });
    expect(problemOf(parseLabelText(text, OPTIONS))).toBe(`label: ${Buffer.byteLength(text)} bytes; a label takes at most ${MAX_LABEL_BYTES} bytes of JSON (send one small object per record or line)`);
  });
});
