/**
 * Logged predictions: our prediction-log lines (gateway and server) and SageMaker data-capture lines become one row
 * shape; hostile lines (REVIEW.md) become a reason, never an exception.
 */
import { MAX_ROWS_PER_LINE, parseDataCaptureKey, parseDataCaptureLine, parsePredictionLogLine, ParsedLine } from '../../runtime/core/logged-predictions';
import { PREDICTION_LOG_SCHEMA, PredictionLogRecord, toJsonLine } from '../../runtime/core/prediction-log';

const TS = '2026-11-30T10:15:00.000Z';
/** JSON text of an array nested `depth` deep around `inner` (built as text: JSON.stringify itself overflows on it). */
const deep = (depth: number, inner = '') => '['.repeat(depth) + inner + ']'.repeat(depth);
/** `json` with the placeholder string "DEEP" replaced by raw JSON text. */
const withRaw = (json: string, raw: string) => json.replace('"DEEP"', raw);
const base: PredictionLogRecord = {
  schema: PREDICTION_LOG_SCHEMA, ts: TS, requestId: 'r-1', model: 'fraud', modelVersion: 'v3', variant: 'champion',
  outputs: { probability: [0.25] }, latencyMs: 4, fallback: false,
};

/** The reason of an unreadable line, else how many rows it made (or what it threw): a short value to compare. */
function outcome(parse: () => ParsedLine): string {
  try {
    const parsed = parse();
    return parsed.ok ? `${parsed.rows.length} rows` : parsed.reason;
  } catch (error) {
    return `threw ${(error as Error).name}`;
  }
}

function rows(parsed: ParsedLine) {
  if (!parsed.ok) throw new Error(`unreadable: ${parsed.reason}`);
  return parsed.rows;
}

describe('our prediction-log lines', () => {
  test('a gateway line is one row with its named features, entity and outputs', () => {
    const line = toJsonLine({ ...base, entity: { customer_id: 'c-1' }, features: { 'txn:amount': 12.5, 'txn:country': 'FR', 'emb:v': [1, 2] } });
    expect(rows(parsePredictionLogLine(line))).toEqual([{
      ts: Date.parse(TS), requestId: 'r-1', model: 'fraud', modelVersion: 'v3', variant: 'champion', entity: { customer_id: 'c-1' },
      features: { 'txn:amount': 12.5, 'txn:country': 'FR', 'emb:v': [1, 2] }, outputs: { probability: 0.25 }, fallback: false,
    }]);
  });

  test('a server line is one row per row of its batch, inputs named by position or <input>[i]', () => {
    const line = toJsonLine({ ...base, inputs: { x: [[1, 2, 3], [4, 5, 6]], flag: [[1], [0]] }, outputs: { probability: [[0.1], [0.9]], label: [0, 1] } });
    const named = rows(parsePredictionLogLine(line, { inputColumns: ['a', 'b'] }));
    expect(named.map((r) => [r.requestId, r.features, r.outputs])).toEqual([
      ['r-1:0', { a: 1, b: 2, 'x[2]': 3, 'flag[0]': 1 }, { probability: 0.1, label: 0 }],
      ['r-1:1', { a: 4, b: 5, 'x[2]': 6, 'flag[0]': 0 }, { probability: 0.9, label: 1 }],
    ]);
    expect(rows(parsePredictionLogLine(line))[1].features).toEqual({ 'x[0]': 4, 'x[1]': 5, 'x[2]': 6, 'flag[0]': 0 });
  });

  test('a fallback answer is marked', () => {
    expect(rows(parsePredictionLogLine(toJsonLine({ ...base, features: {}, fallback: true })))[0].fallback).toBe(true);
  });

  test.each<[string, string, string]>([
    ['not JSON', '{"schema":1,', 'not-json'],
    ['an array', '[1,2]', 'not-a-record'],
    ['another schema', JSON.stringify({ ...base, schema: 2, features: {} }), 'unknown-schema'],
    ['no model version', JSON.stringify({ ...base, modelVersion: undefined, features: {} }), 'not-a-record'],
    ['ts = 8.7e15 (a number)', JSON.stringify({ ...base, ts: 8.7e15, features: {} }), 'invalid-time'],
    ['ts in year 275000', JSON.stringify({ ...base, ts: '+275000-01-01T00:00:00Z', features: {} }), 'invalid-time'],
    ['ts in seconds (1970)', JSON.stringify({ ...base, ts: new Date(1_764_000_000).toISOString(), features: {} }), 'invalid-time'],
    ['a feature nested 5,000 deep', withRaw(JSON.stringify({ ...base, features: { f: 'DEEP' } }), deep(5000)), 'invalid-value'],
    ['a feature that is an object', JSON.stringify({ ...base, features: { f: { a: 1 } } }), 'invalid-value'],
    ['a 1 MB string feature', JSON.stringify({ ...base, features: { f: 'x'.repeat(1_000_000) } }), 'invalid-value'],
    ['an entity nested', JSON.stringify({ ...base, entity: { c: [1] }, features: {} }), 'invalid-value'],
    ['an input nested 5,000 deep', withRaw(JSON.stringify({ ...base, inputs: { x: 'DEEP' } }), deep(5000, '1')), 'invalid-tensor'],
    ['a ragged input', JSON.stringify({ ...base, inputs: { x: [[1, 2], [3]] } }), 'invalid-tensor'],
    ['batches that disagree', JSON.stringify({ ...base, inputs: { x: [[1], [2]] }, outputs: { y: [1, 2, 3] } }), 'invalid-tensor'],
    ['a 1 MB request id', JSON.stringify({ ...base, requestId: 'r'.repeat(1_000_000), features: {} }), 'not-a-record'],
  ])('%s: a reason, not an exception', (_, line, reason) => {
    expect(parsePredictionLogLine(line)).toEqual({ ok: false, reason });
  });

  test('JSON nested 100,000 deep (past what JSON.parse may take): a reason', () => {
    expect(parsePredictionLogLine(withRaw(JSON.stringify({ ...base, features: { f: 'DEEP' } }), deep(100_000))).ok).toBe(false);
  });

  test('lone surrogates and __proto__ are kept as plain data', () => {
    const line = `{"schema":1,"ts":"${TS}","requestId":"r\\ud800","model":"m","modelVersion":"1","features":{"__proto__":[1,2],"k\\udc00":"v\\ud800"},"outputs":{},"fallback":false}`;
    const [row] = rows(parsePredictionLogLine(line));
    expect(Object.getPrototypeOf(row.features)).toBe(Object.prototype);
    expect(Object.keys(row.features)).toEqual(['__proto__', 'k\udc00']);
    expect(row.features['k\udc00']).toBe('v\ud800');
    expect(() => JSON.stringify(row)).not.toThrow();
  });
});

describe('SageMaker data-capture lines', () => {
  const source = { model: 'fraud', modelVersion: 'v3', variant: 'AllTraffic' };
  const capture = (input: object, output: object, encoding: 'JSON' | 'BASE64' = 'JSON', metadata: object = { eventId: 'e-1', inferenceTime: TS }) => {
    const payload = (body: object, mode: string) => ({
      observedContentType: 'application/json', mode,
      data: encoding === 'JSON' ? JSON.stringify(body) : Buffer.from(JSON.stringify(body)).toString('base64'), encoding,
    });
    return JSON.stringify({ captureData: { endpointInput: payload(input, 'INPUT'), endpointOutput: payload(output, 'OUTPUT') }, eventMetadata: metadata, eventVersion: '0' });
  };
  const oipIn = { inputs: [{ name: 'features', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }] };
  const oipOut = { outputs: [{ name: 'probability', shape: [2, 1], datatype: 'FP32', data: [0.1, 0.9] }] };

  test.each(['JSON', 'BASE64'] as const)('a batch of n rows (%s) is n predictions of the source model, version and variant', (encoding) => {
    const parsed = rows(parseDataCaptureLine(capture(oipIn, oipOut, encoding), { ...source, inputColumns: ['txn:amount', 'txn:count'] }));
    expect(parsed).toEqual([
      { ts: Date.parse(TS), requestId: 'e-1:0', ...source, fallback: false, features: { 'txn:amount': 1, 'txn:count': 2 }, outputs: { probability: 0.1 } },
      { ts: Date.parse(TS), requestId: 'e-1:1', ...source, fallback: false, features: { 'txn:amount': 3, 'txn:count': 4 }, outputs: { probability: 0.9 } },
    ]);
  });

  test('the inference id, when given, is the request id; nested OIP data is accepted', () => {
    const line = capture({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [[5, 6]] }] }, { outputs: [] }, 'JSON', { eventId: 'e', inferenceId: 'req-9', inferenceTime: TS });
    expect(rows(parseDataCaptureLine(line, source))).toEqual([expect.objectContaining({ requestId: 'req-9', features: { 'x[0]': 5, 'x[1]': 6 }, outputs: {} })]);
  });

  test('CSV payloads: a line per row', () => {
    const line = JSON.stringify({
      captureData: {
        endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data: '1,2\n3,4', encoding: 'CSV' },
        endpointOutput: { observedContentType: 'text/csv', mode: 'OUTPUT', data: '0.5\n0.7', encoding: 'CSV' },
      },
      eventMetadata: { eventId: 'e', inferenceTime: TS }, eventVersion: '0',
    });
    expect(rows(parseDataCaptureLine(line, source)).map((r) => [r.features, r.outputs])).toEqual([
      [{ 'input[0]': 1, 'input[1]': 2 }, { output: 0.5 }], [{ 'input[0]': 3, 'input[1]': 4 }, { output: 0.7 }],
    ]);
  });

  test.each<[string, string, string]>([
    ['not JSON', 'x', 'not-json'],
    ['no metadata', JSON.stringify({ captureData: {} }), 'not-a-record'],
    ['inferenceTime 8.7e15', capture(oipIn, oipOut, 'JSON', { eventId: 'e', inferenceTime: 8.7e15 }), 'invalid-time'],
    ['a binary payload', JSON.stringify({
      captureData: { endpointInput: { observedContentType: 'application/x-npy', mode: 'INPUT', data: 'AAAA', encoding: 'BASE64' } },
      eventMetadata: { eventId: 'e', inferenceTime: TS },
    }), 'unsupported-payload'],
    ['shape and data disagree', capture({ inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1] }] }, oipOut), 'invalid-tensor'],
    ['batches that disagree', capture(oipIn, { outputs: [{ name: 'p', shape: [3], datatype: 'FP32', data: [1, 2, 3] }] }), 'invalid-tensor'],
    ['data nested 5,000 deep', capture({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: 'DEEP' }] }, { outputs: [] }).replace('\\"DEEP\\"', deep(5000, '1')), 'invalid-tensor'],
    ['a payload that is not JSON', JSON.stringify({
      captureData: { endpointInput: { observedContentType: 'application/json', mode: 'INPUT', data: '{', encoding: 'JSON' } },
      eventMetadata: { eventId: 'e', inferenceTime: TS },
    }), 'invalid-tensor'],
  ])('%s: a reason, not an exception', (_, line, reason) => {
    expect(parseDataCaptureLine(line, source)).toEqual({ ok: false, reason });
  });

  test.each<[string, number[], string]>([
    ['a million empty rows ([1e6, 0], no data)', [1e6, 0], 'too-many-rows'],
    ['2^32 empty rows (past what an array may hold)', [2 ** 32, 0], 'too-many-rows'],
    ['1e308 empty rows', [1e308, 0], 'too-many-rows'],
    ['MAX_ROWS_PER_LINE + 1 empty rows', [MAX_ROWS_PER_LINE + 1, 0], 'too-many-rows'],
    ['3 rows of no elements', [3, 0], 'invalid-tensor'],
    ['1 row of no elements (a zero inner dimension)', [1, 5, 0], 'invalid-tensor'],
  ])('a shape declaring %s: a reason, no rows built', (_, shape, reason) => {
    const line = capture({ inputs: [{ name: 'x', shape, datatype: 'FP32', data: [] }] }, { outputs: [] });
    expect(outcome(() => parseDataCaptureLine(line, source))).toBe(reason);
  });

  test('a batch of exactly MAX_ROWS_PER_LINE rows reads; one more is refused (data capture and our server lines)', () => {
    const batch = (n: number) => capture({ inputs: [{ name: 'x', shape: [n], datatype: 'FP32', data: Array(n).fill(1) }] }, { outputs: [] });
    expect(rows(parseDataCaptureLine(batch(MAX_ROWS_PER_LINE), source))).toHaveLength(MAX_ROWS_PER_LINE);
    expect(outcome(() => parseDataCaptureLine(batch(MAX_ROWS_PER_LINE + 1), source))).toBe('too-many-rows');
    const server = (n: number) => toJsonLine({ ...base, inputs: { x: Array(n).fill([1]) }, outputs: {} });
    expect(rows(parsePredictionLogLine(server(MAX_ROWS_PER_LINE)))).toHaveLength(MAX_ROWS_PER_LINE);
    expect(outcome(() => parsePredictionLogLine(server(MAX_ROWS_PER_LINE + 1)))).toBe('too-many-rows');
    expect(outcome(() => parsePredictionLogLine(toJsonLine({ ...base, inputs: { x: Array(100_000).fill([]) }, outputs: {} })))).toBe('too-many-rows');
    expect(outcome(() => parsePredictionLogLine(toJsonLine({ ...base, inputs: { x: [[], []] }, outputs: {} })))).toBe('invalid-tensor');
  });

  test('a CSV payload of more than MAX_ROWS_PER_LINE lines is refused', () => {
    const line = JSON.stringify({
      captureData: { endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data: '1\n'.repeat(MAX_ROWS_PER_LINE + 1), encoding: 'CSV' } },
      eventMetadata: { eventId: 'e', inferenceTime: TS }, eventVersion: '0',
    });
    expect(outcome(() => parseDataCaptureLine(line, source))).toBe('too-many-rows');
  });

  test('the placeholder of the 5,000-deep case is replaced (2 deep reads fine)', () => {
    const line = capture({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: 'DEEP' }] }, { outputs: [] }).replace('\\"DEEP\\"', deep(2, '7'));
    expect(rows(parseDataCaptureLine(line, source))[0].features).toEqual({ 'x[0]': 7 });
  });

  test('keys: endpoint, variant and hour from <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>', () => {
    expect(parseDataCaptureKey('data-capture/ep/AllTraffic/2026/11/30/10/a.jsonl', 'data-capture')).toEqual({
      endpoint: 'ep', variant: 'AllTraffic', hourMs: Date.UTC(2026, 10, 30, 10),
    });
    expect(parseDataCaptureKey('data-capture/ep/AllTraffic/2026/13/30/10/a.jsonl', 'data-capture')).toBeUndefined();
    expect(parseDataCaptureKey('data-capture/ep/AllTraffic/2026/11/30/a.jsonl', 'data-capture')).toBeUndefined();
    expect(parseDataCaptureKey('other/ep/AllTraffic/2026/11/30/10/a.jsonl', 'data-capture')).toBeUndefined();
  });
});
