import { Duration } from 'aws-cdk-lib';
import { Entity, Feature, FeatureContract, FeatureView, RequestSource } from '../lib';
import {
  checkCompatibility, DEFAULT_EARLIEST_EVENT_DATE, EARLIEST_EVENT_TIME_MS, earliestEventDateProblem, earliestEventTimeMs, formatEpochDate, entityKeyOf, FeatureDtype, MAX_FUTURE_SKEW_LIMIT_MS, maxFutureSkewProblem, FeatureStatus, featureViewProblems, FeatureViewSpec, offlineColumns, onlineKey,
  resolveFeatureRefs, resolveModelInputs, serveValue,
  validateRecord,
} from '../lib/features/spec';

const customer = new Entity({ name: 'customer', joinKeys: ['customer_id'] });

function txnStats(overrides: Partial<ConstructorParameters<typeof FeatureView>[0]> = {}): FeatureView {
  return new FeatureView({
    name: 'customer_txn_stats',
    entities: [customer],
    ttl: Duration.days(7),
    freshness: Duration.minutes(5),
    features: [
      Feature.int64('txn_count_1h', { fallback: 0 }),
      Feature.float64('avg_amount_7d'),
      Feature.string('device_type', { fallback: 'unknown' }),
      Feature.bool('is_new'),
      Feature.float32Vector('embedding', 3),
    ],
    ...overrides,
  });
}

describe('FeatureView', () => {
  test('compiles to a plain JSON spec that round-trips', () => {
    const spec = txnStats().toSpec();
    expect(spec).toMatchObject({
      specFormat: 1, name: 'customer_txn_stats', version: 1, eventTimeField: 'event_time', ttlSeconds: 604800, freshnessSeconds: 300,
      entities: [{ name: 'customer', joinKeys: ['customer_id'] }],
    });
    expect(spec.features[0]).toEqual({ name: 'txn_count_1h', dtype: FeatureDtype.INT64, fallback: 0 });
    expect(spec.features[4]).toEqual({ name: 'embedding', dtype: FeatureDtype.FLOAT32_VECTOR, dimension: 3 });
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
    expect(FeatureView.fromSpec(spec).toSpec()).toEqual(spec);
  });

  test('reports every problem at once, naming the field and the fix', () => {
    let message = '';
    try {
      new FeatureView({
        name: 'Bad-Name', version: 0, entities: [], ttl: Duration.minutes(1), freshness: Duration.minutes(10),
        features: [Feature.int64('x', { fallback: 1.5 }), Feature.float32Vector('v', 0), Feature.string('x'), Feature.bool('event_date')],
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/8 problems/);
    expect(message).toMatch(/name: 'Bad-Name' is not a valid name; use lower snake case/);
    expect(message).toMatch(/version: 0 must be a positive integer/);
    expect(message).toMatch(/entities: at least one entity is required/);
    expect(message).toMatch(/features\[0\]\.fallback: expected an int64/);
    expect(message).toMatch(/features\[1\]\.dimension: 0 must be an integer between 1 and 4096/);
    expect(message).toMatch(/'x' is used by both feature 'x' and feature 'x'/);
    expect(message).toMatch(/'event_date' is reserved by the offline store layout/);
    expect(message).toMatch(/freshness: 600 s exceeds ttl 60 s/);
  });

  test('a join key may not collide with a feature', () => {
    expect(() => txnStats({ features: [Feature.string('customer_id')] })).toThrow(/'customer_id' is used by both join key of entity 'customer' and feature 'customer_id'/);
  });

  test('FeatureContract validates raw JSON specs, e.g. one loaded from disk', () => {
    const spec = { ...txnStats().toSpec(), specFormat: 2 } as FeatureViewSpec;
    expect(FeatureContract.problems(spec)).toEqual([expect.stringMatching(/specFormat: 2 is not supported/)]);
    expect(featureViewProblems(txnStats().toSpec())).toEqual([]);
  });
});

describe('record validation', () => {
  const spec = txnStats().toSpec();
  const nowMs = Date.parse('2026-06-01T00:00:00Z');
  const good = { customer_id: 'c-1', event_time: '2026-05-31T23:00:00Z', txn_count_1h: 3, avg_amount_7d: 12.5, device_type: 'ios', is_new: false, embedding: [0.1, 0.2, 0.3] };

  test('normalizes a valid record into a row', () => {
    const { row, errors } = validateRecord(spec, good, { nowMs });
    expect(errors).toEqual([]);
    expect(row).toEqual({
      view: 'customer_txn_stats', version: 1, entityKey: 'customer_id=c-1', joinKeys: { customer_id: 'c-1' },
      eventTimeMs: Date.parse('2026-05-31T23:00:00Z'), values: { txn_count_1h: 3, avg_amount_7d: 12.5, device_type: 'ios', is_new: false, embedding: [0.1, 0.2, 0.3] },
    });
  });

  test('accepts epoch milliseconds and integer join keys; missing features become null', () => {
    const { row } = validateRecord(spec, { customer_id: 42, event_time: 1700000000000, txn_count_1h: 1 }, { nowMs });
    expect(row?.entityKey).toBe('customer_id=42');
    expect(row?.eventTimeMs).toBe(1700000000000);
    expect(row?.values.device_type).toBeNull();
  });

  test('lists every problem of a bad record', () => {
    const { row, errors } = validateRecord(spec, {
      event_time: '2026-05-31 23:00', txn_count_1h: 1.5, avg_amount_7d: 'x', is_new: 1, embedding: [1, 2], color: 'red',
    }, { nowMs });
    expect(row).toBeUndefined();
    expect(errors).toEqual([
      expect.stringMatching(/^customer_id: join key must be/),
      expect.stringMatching(/^event_time: event time must be ISO-8601 with a zone/),
      expect.stringMatching(/^txn_count_1h: expected an int64/),
      expect.stringMatching(/^avg_amount_7d: expected a finite float64, got the string "x"/),
      expect.stringMatching(/^is_new: expected a bool/),
      expect.stringMatching(/^embedding: expected 3 values, got 2/),
      expect.stringMatching(/^color: unknown field/),
    ]);
  });

  test('refuses event times beyond the clock-skew allowance and non-objects', () => {
    expect(validateRecord(spec, { ...good, event_time: '2026-06-01T00:10:00Z' }, { nowMs }).errors[0]).toMatch(/in the future/);
    expect(validateRecord(spec, [1, 2], { nowMs }).errors[0]).toMatch(/expected a JSON object/);
    expect(validateRecord(spec, { ...good, embedding: [1, Number.MAX_VALUE, 3] }, { nowMs }).errors[0]).toMatch(/element 1 .* finite float32/);
  });

  test('float32 vectors: a value that rounds to the largest float32 fits (3.4028235e38, as numpy prints it); one that rounds to Infinity is refused', () => {
    expect(Math.fround(3.4028236e38)).toBe(Infinity);
    expect(validateRecord(spec, { ...good, embedding: [1, 3.4028235e38, -3.4028235e38] }, { nowMs }).errors).toEqual([]);
    expect(validateRecord(spec, { ...good, embedding: [1, 2, -3.4028236e38] }, { nowMs }).errors[0]).toMatch(/element 2 is number -3\.4028236e\+38, expected a finite float32/);
  });

  test('event times outside the window are refused with the fix: epoch seconds, before the projection start, far future', () => {
    const eventTime = (event_time: unknown, maxFutureSkewMs?: number) => validateRecord(spec, { ...good, event_time }, { nowMs, maxFutureSkewMs }).errors;
    // 2026-01-01 in epoch seconds is 1970-01-21 in milliseconds.
    expect(eventTime(1767225600)).toEqual(['event_time: 1767225600 looks like epoch seconds (as milliseconds it is 1970-01-21T10:53:45.600Z); send epoch milliseconds (1767225600000) or ISO-8601']);
    expect(eventTime(1767225600000000)[0]).toMatch(/^event_time: 1767225600000000 looks like epoch microseconds .*send epoch milliseconds \(1767225600000\)/);
    expect(eventTime('2019-12-31T23:59:59.999Z')).toEqual([
      `event_time: event time 2019-12-31T23:59:59.999Z is before ${DEFAULT_EARLIEST_EVENT_DATE}, the first date of the offline tables' partition projection (it would never be read); send event times from ${DEFAULT_EARLIEST_EVENT_DATE} on, in epoch milliseconds or ISO-8601, or start the projection earlier (FeatureStore earliestEventDate)`,
    ]);
    expect(eventTime('1960-01-01T00:00:00Z')[0]).toMatch(/before 2020-01-01/);
    expect(eventTime(EARLIEST_EVENT_TIME_MS)).toEqual([]);
    // Beyond what a Date holds: refused, and the message itself does not throw.
    expect(eventTime(8.7e15)).toEqual(['event_time: event time 8700000000000000 ms since the epoch is more than 300000 ms in the future; check the producer\'s clock']);
    expect(eventTime(nowMs + 300_000)).toEqual([]);
    expect(eventTime(nowMs + 300_001)[0]).toMatch(/more than 300000 ms in the future/);
    expect(eventTime(nowMs + MAX_FUTURE_SKEW_LIMIT_MS, MAX_FUTURE_SKEW_LIMIT_MS)).toEqual([]);
    expect(maxFutureSkewProblem(MAX_FUTURE_SKEW_LIMIT_MS + 1)).toMatch(/from 0 to 86400000 \(the offline partition projection ends 1 day past today\)/);
  });

  test("the window starts at the store's projection start: a fixed date, or NOW-<n>DAYS (today - n days, UTC)", () => {
    const eventTime = (event_time: unknown, earliestEventDate: string) => validateRecord(spec, { ...good, event_time }, { nowMs, earliestEventDate }).errors;
    // A backfill from 2018 is accepted when the projection starts then (the default window refused it).
    expect(eventTime('2018-03-01T00:00:00Z', '2018-01-01')).toEqual([]);
    expect(eventTime('2017-12-31T23:59:59.999Z', '2018-01-01')).toEqual([expect.stringMatching(/is before 2018-01-01, the first date of the offline tables' partition projection/)]);
    // A later projection start refuses what it would never show.
    expect(eventTime('2024-05-31T23:59:59.999Z', '2024-06-01')).toEqual([expect.stringMatching(/^event_time: event time 2024-05-31T23:59:59\.999Z is before 2024-06-01/)]);
    expect(eventTime('2024-06-01T00:00:00Z', '2024-06-01')).toEqual([]);
    // nowMs is 2026-06-01T00:00Z: NOW-30DAYS shows 2026-05-02 on.
    expect(eventTime('2026-05-02T00:00:00Z', 'NOW-30DAYS')).toEqual([]);
    expect(eventTime('2026-05-01T23:59:59.999Z', 'NOW-30DAYS')).toEqual([
      expect.stringMatching(/is before 2026-05-02 \(NOW-30DAYS: the offline history is kept for that long\)/),
    ]);
    expect(earliestEventTimeMs('NOW-1DAYS', Date.parse('2026-06-01T13:45:00Z'))).toBe(Date.parse('2026-05-31T00:00:00Z'));
    // Epoch seconds stay refused with the hint whatever the start.
    expect(eventTime(1767225600, '1971-01-01')[0]).toMatch(/looks like epoch seconds/);
    expect(earliestEventDateProblem('2024-02-30')).toMatch(/'2024-02-30' is not a date; use 'yyyy-mm-dd'/);
    expect(earliestEventDateProblem('1970-06-01')).toMatch(/is before 1971-01-01; event times in epoch seconds would then pass/);
    expect(earliestEventDateProblem('NOW-0DAYS')).toMatch(/is not a date/);
    expect(() => validateRecord(spec, good, { nowMs, earliestEventDate: 'yesterday' })).toThrow(/earliestEventDate: 'yesterday' is not a date/);
  });

  test('event dates for keys never throw: unknown-date where no four-digit-year date exists', () => {
    expect(formatEpochDate(Date.parse('2026-06-01T23:59:59Z'))).toBe('2026-06-01');
    for (const ms of [NaN, Infinity, 8.7e15, -8.7e15, Date.parse('+010000-01-01T00:00:00Z')]) expect(formatEpochDate(ms)).toBe('unknown-date');
  });

  test('never throws, whatever the record holds: lone surrogates, deep nesting, huge and odd fields', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    const lone = 'c-\ud800';
    const { row, errors } = validateRecord(spec, { customer_id: lone, event_time: deep, device_type: 'ios\udc00', txn_count_1h: deep, ['k'.repeat(100_000)]: 1 }, { nowMs });
    expect(row).toBeUndefined();
    expect(errors).toEqual([
      'customer_id: join key contains a lone UTF-16 surrogate at index 2 (not valid Unicode); send well-formed text',
      "event_time: event time must be ISO-8601 with a zone (e.g. '2026-01-01T12:00:00Z') or epoch milliseconds, got an array of 1",
      'txn_count_1h: expected an int64 (an integer within ±2^53), got an array of 1',
      'device_type: contains a lone UTF-16 surrogate at index 3 (not valid Unicode); send well-formed text',
      expect.stringMatching(/^k{64}…: unknown field/),
    ]);
    expect(validateRecord(spec, { ...good, customer_id: deep }, { nowMs }).errors).toEqual(['customer_id: join key must be a non-empty string or an integer, got an array of 1']);
    // A well-formed surrogate pair is fine; so is the same text as a join key.
    expect(validateRecord(spec, { ...good, customer_id: 'c-😀', device_type: '😀' }, { nowMs }).row?.entityKey).toBe(`customer_id=${encodeURIComponent('c-😀')}`);
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`extra_${i}`, i]));
    const manyErrors = validateRecord(spec, { ...good, ...many }, { nowMs }).errors;
    expect(manyErrors).toHaveLength(21);
    expect(manyErrors[20]).toBe('…: 980 more unknown fields');
  });

  test('entity keys encode every join key unambiguously', () => {
    const twoKeys = new FeatureView({
      name: 'pair', entities: [customer, new Entity({ name: 'merchant', joinKeys: ['merchant_id'] })], ttl: Duration.hours(1),
      features: [Feature.int64('n')],
    }).toSpec();
    expect(entityKeyOf(twoKeys, { customer_id: 'a|b', merchant_id: 'm=1' })).toBe('customer_id=a%7Cb|merchant_id=m%3D1');
    expect(onlineKey(twoKeys, 'customer_id=a')).toBe('pair#1#customer_id=a');
    expect(offlineColumns(twoKeys).map((c) => `${c.name}:${c.type}`)).toEqual([
      'customer_id:string', 'merchant_id:string', 'entity_key:string', 'event_time:timestamp', 'ingested_at:timestamp', 'ingest_seq:string', 'n:bigint',
    ]);
  });
});

describe('compatibility', () => {
  const v1 = txnStats();

  test('adding a feature is compatible', () => {
    const report = txnStats({ features: [...[Feature.int64('txn_count_1h', { fallback: 0 }), Feature.float64('avg_amount_7d'), Feature.string('device_type', { fallback: 'unknown' }), Feature.bool('is_new'), Feature.float32Vector('embedding', 3)], Feature.float64('new_one')] }).checkCompatibilityWith(v1);
    expect(report).toEqual({ compatible: true, breakingChanges: [], compatibleChanges: ["feature 'new_one' added"] });
  });

  test('removing, renaming or retyping without a version bump is refused with every breaking change', () => {
    const next = txnStats({ features: [Feature.float64('txn_count_1h'), Feature.float64('avg_amount_7d'), Feature.string('device'), Feature.bool('is_new'), Feature.float32Vector('embedding', 4)] });
    const report = next.checkCompatibilityWith(v1);
    expect(report.compatible).toBe(false);
    expect(report.breakingChanges).toEqual([
      "feature 'txn_count_1h' retyped from int64 to float64",
      "feature 'device_type' removed (or renamed)",
      "feature 'embedding' retyped from float32_vector[3] to float32_vector[4]",
    ]);
  });

  test('the same breaking change is accepted under a version bump, but never a version going down', () => {
    const bumped = txnStats({ version: 2, features: [Feature.float64('txn_count_1h')] });
    expect(bumped.checkCompatibilityWith(v1).compatible).toBe(true);
    expect(bumped.checkCompatibilityWith(v1).breakingChanges).toHaveLength(5);
    expect(checkCompatibility(bumped.toSpec(), v1.toSpec())).toMatchObject({ compatible: false, breakingChanges: expect.arrayContaining([expect.stringMatching(/version went down/)]) });
  });

  test('changing join keys or the event time field is breaking', () => {
    const next = txnStats({ entities: [new Entity({ name: 'customer', joinKeys: ['cust_id'] })], eventTimeField: 'ts' });
    expect(FeatureContract.compare(v1.toSpec(), next.toSpec()).breakingChanges).toEqual([
      'join keys changed from [customer_id] to [cust_id]', "event time field changed from 'event_time' to 'ts'",
    ]);
  });
});

describe('serving rule and feature references', () => {
  const spec = txnStats().toSpec();
  const [count, avg] = spec.features;

  test('present within TTL, fallback when missing or expired, otherwise a status and null — never a silent zero', () => {
    const ttlMs = spec.ttlSeconds * 1000;
    expect(serveValue(spec, avg, 2.5, ttlMs)).toEqual({ value: 2.5, status: FeatureStatus.PRESENT });
    expect(serveValue(spec, avg, 2.5, ttlMs + 1)).toEqual({ value: null, status: FeatureStatus.OUTSIDE_MAX_AGE });
    expect(serveValue(spec, avg, undefined)).toEqual({ value: null, status: FeatureStatus.NOT_FOUND });
    expect(serveValue(spec, avg, null, 0)).toEqual({ value: null, status: FeatureStatus.NOT_FOUND });
    expect(serveValue(spec, count, undefined)).toEqual({ value: 0, status: FeatureStatus.FALLBACK });
    expect(serveValue(spec, count, 7, ttlMs + 1, 123)).toEqual({ value: 0, status: FeatureStatus.FALLBACK, eventTimeMs: 123 });
  });

  test('feature references resolve per view and unknown ones are all reported', () => {
    expect(resolveFeatureRefs([spec], ['customer_txn_stats:avg_amount_7d', 'customer_txn_stats:txn_count_1h', 'customer_txn_stats:avg_amount_7d']))
      .toEqual([{ view: spec, features: [avg, count] }]);
    expect(() => resolveFeatureRefs([spec], ['nope:x', 'customer_txn_stats:nope', 'bad'])).toThrow(
      /unknown view 'nope'[\s\S]*has no feature 'nope'[\s\S]*'bad': feature references look like 'view_name:feature_name'/,
    );
  });

  test('model inputs: stored and request-time columns in reference order, strings refused — the one rule both gateway sides apply', () => {
    const merchant = new FeatureView({
      name: 'merchant', entities: [new Entity({ name: 'merchant', joinKeys: ['merchant_id'] })], ttl: Duration.days(1),
      features: [Feature.string('country'), Feature.float64('risk')],
    }).toSpec();
    const request = new RequestSource({ name: 'txn', features: [Feature.float64('amount'), Feature.bool('present', { fallback: false })] }).toSpec();
    const columns = resolveModelInputs([spec, merchant], request, ['txn:amount', 'merchant:risk', 'customer_txn_stats:txn_count_1h', 'txn:present']);
    expect(columns.map((c) => [c.ref, c.from])).toEqual([['txn:amount', 'request'], ['merchant:risk', 'store'], ['customer_txn_stats:txn_count_1h', 'store'], ['txn:present', 'request']]);
    const refs = ['customer_txn_stats:txn_count_1h', 'customer_txn_stats:device_type', 'merchant:risk', 'merchant:country', 'nope:x', 'txn:gone'];
    expect(() => resolveModelInputs([spec, merchant], request, refs)).toThrow(
      /'customer_txn_stats:device_type' is a string[\s\S]*'merchant:country' is a string[\s\S]*unknown view or request source 'nope'[\s\S]*'txn' has no feature 'gone'/,
    );
    // A request source may not hide a view, and may not declare strings.
    expect(() => resolveModelInputs([merchant], { ...request, name: 'merchant' }, ['merchant:risk'])).toThrow(/has the name of a feature view/);
    expect(() => new RequestSource({ name: 'txn', features: [Feature.string('country')] })).toThrow(/'country' is a string; request-time features are model inputs/);
  });
});

test('float64 values outside what the online store can hold are refused at validation, not at write time', () => {
  const spec = new FeatureView({ name: 'ranges', entities: [customer], ttl: Duration.hours(1), features: [Feature.float64('x')] }).toSpec();
  const at = (x: number) => validateRecord(spec, { customer_id: 'c', event_time: '2026-01-01T00:00:00Z', x }).errors;
  expect(at(0)).toEqual([]);
  expect(at(-1e125)).toEqual([]);
  expect(at(1e-130)).toEqual([]);
  expect(at(1e300)[0]).toMatch(/outside the range the online store holds/);
  expect(at(1e-200)[0]).toMatch(/outside the range the online store holds/);
});

test('descriptions longer than Glue accepts are refused at synth, not at deploy', () => {
  expect(() => new FeatureView({
    name: 'long', entities: [customer], ttl: Duration.hours(1), description: 'd'.repeat(2049),
    features: [Feature.int64('n', { description: 'c'.repeat(256) })],
  })).toThrow(/features\[0\]\.description: 256 characters; at most 255[\s\S]*description: 2049 characters; at most 2048/);
});

test('a renamed view is a new view: incompatible even with a version bump', () => {
  const v1 = new FeatureView({ name: 'before', entities: [customer], ttl: Duration.hours(1), features: [Feature.int64('n')] });
  const renamed = new FeatureView({ name: 'after', version: 2, entities: [customer], ttl: Duration.hours(1), features: [Feature.int64('n')] });
  expect(renamed.checkCompatibilityWith(v1)).toMatchObject({ compatible: false, breakingChanges: [expect.stringMatching(/view renamed from 'before' to 'after'/)] });
});
