import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  entityKeyOf, eventDate, FeatureDtype, FeatureSpec, FeatureStatus, FeatureViewSpec, joinKeysOf, offlinePartitionPrefix, resolveFeatureRefs,
} from '../../lib/features/spec';
import { AthenaHistoricalRetrieval } from '../../runtime/aws/athena-historical';
import { encodeParquet, OfflineRow } from '../../runtime/core/offline-parquet';
import { seededRandom } from '../../runtime/core/random';
import { buildPointInTimeSql, servePointInTime } from '../../runtime/core/point-in-time';
import { EntityRow, getHistoricalFeatures, LOCAL_SPINE_TABLE, localFeatureRelation, localHistoricalQuery } from '../../runtime/offline/historical';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 2, 1);

function view(name: string, version: number, joinKeys: string[], ttlSeconds: number, features: FeatureSpec[]): FeatureViewSpec {
  return {
    specFormat: 1, name, version, entities: joinKeys.map((k) => ({ name: k.replace(/_id$/, ''), joinKeys: [k] })),
    eventTimeField: 'event_time', ttlSeconds, freshnessSeconds: 60, features,
  };
}

/** Customer stats, v2 (the version requested), TTL 1 day. */
const customerStats = view('customer_stats', 2, ['customer_id'], 86_400, [
  { name: 'txn_count', dtype: FeatureDtype.INT64, fallback: 0 },
  { name: 'avg_amount', dtype: FeatureDtype.FLOAT64 },
  { name: 'device', dtype: FeatureDtype.STRING, fallback: 'unknown' },
  { name: 'is_new', dtype: FeatureDtype.BOOL },
  { name: 'embedding', dtype: FeatureDtype.FLOAT32_VECTOR, dimension: 3 },
]);
/** v1 of the same view: another schema (txn_count was a float), other values; its files must never be read. */
const customerStatsV1 = view('customer_stats', 1, ['customer_id'], 86_400, [
  { name: 'txn_count', dtype: FeatureDtype.FLOAT64 },
  { name: 'legacy_score', dtype: FeatureDtype.FLOAT64 },
]);
/** Merchant risk, TTL 6 hours (fractional seconds on purpose: 6 h + 0.5 s). */
const merchantRisk = view('merchant_risk', 1, ['merchant_id'], 21_600.5, [
  { name: 'risk', dtype: FeatureDtype.FLOAT64, fallback: 0.5 },
  { name: 'segment', dtype: FeatureDtype.STRING },
]);
/** A view keyed by two join keys, TTL 2 hours. */
const pairStats = view('pair_stats', 1, ['customer_id', 'merchant_id'], 7_200, [
  { name: 'pair_count', dtype: FeatureDtype.INT64 },
]);

const ALL_REFS = [
  ...customerStats.features.map((f) => `customer_stats:${f.name}`),
  ...merchantRisk.features.map((f) => `merchant_risk:${f.name}`),
  'pair_stats:pair_count',
];

let seq = 0;
/** Rows numbered as the materializer numbers them: `<shardId>:<sequence number>`, sequence numbers unpadded. */
function offlineRow(spec: FeatureViewSpec, joinKeys: Record<string, string>, eventTimeMs: number, values: Record<string, unknown>, ingestedAtMs = eventTimeMs + 1000): OfflineRow {
  seq += 1;
  const all = Object.fromEntries(spec.features.map((f) => [f.name, values[f.name] ?? null]));
  return {
    view: spec.name, version: spec.version, entityKey: entityKeyOf(spec, joinKeys), joinKeys, eventTimeMs, ingestedAtMs,
    ingestSeq: `shardId-000000000000:${seq}`, values: all,
  };
}

/** The sequence number of an `ingest_seq`, as a number (they exceed 2^53). */
const sequenceOf = (ingestSeq: string): bigint => BigInt(ingestSeq.slice(ingestSeq.indexOf(':') + 1));

/** Writes rows in the offline layout, each date partition split over `filesPerPartition` files (rows shuffled). */
async function writeOffline(root: string, spec: FeatureViewSpec, rows: readonly OfflineRow[], random: () => number = Math.random, filesPerPartition = 2): Promise<void> {
  const byPrefix = new Map<string, OfflineRow[]>();
  for (const row of rows) {
    const prefix = offlinePartitionPrefix(spec, row.eventTimeMs);
    byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), row]);
  }
  for (const [prefix, partition] of byPrefix) {
    const shuffled = partition.map((r) => ({ r, k: random() })).sort((a, b) => a.k - b.k).map((x) => x.r);
    mkdirSync(join(root, prefix), { recursive: true });
    for (let i = 0; i < filesPerPartition; i++) {
      const part = shuffled.filter((_, j) => j % filesPerPartition === i);
      writeFileSync(join(root, prefix, `part-${i}.parquet`), await encodeParquet(spec, part));
    }
  }
}

/** Brute force: scan every row of the view version for the entity; pick the latest in the TTL window, first ingested. */
function referenceRows(views: FeatureViewSpec[], refs: string[], rowsByView: Map<string, OfflineRow[]>, entityRows: EntityRow[], includeStatus = true) {
  const groups = resolveFeatureRefs(views, refs);
  return entityRows.map((entity) => {
    const ts = new Date(entity.event_timestamp as string | number | Date).getTime();
    const out: Record<string, unknown> = { ...entity };
    for (const group of groups) {
      const ttlMs = Math.round(group.view.ttlSeconds * 1000);
      const candidates = (rowsByView.get(group.view.name) ?? []).filter((r) => r.version === group.view.version
        && joinKeysOf(group.view).every((k) => r.joinKeys[k] === String(entity[k]))
        && r.eventTimeMs <= ts && r.eventTimeMs >= ts - ttlMs);
      candidates.sort((a, b) => b.eventTimeMs - a.eventTimeMs || a.ingestedAtMs - b.ingestedAtMs || (sequenceOf(a.ingestSeq) < sequenceOf(b.ingestSeq) ? -1 : 1));
      const best = candidates[0];
      Object.assign(out, servePointInTime(group, best && { eventTimeMs: best.eventTimeMs, values: best.values }, ts, includeStatus));
    }
    return out;
  });
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'historical-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('historical retrieval (DuckDB over the offline Parquet layout)', () => {

  test('randomized: every cell equals the brute-force point-in-time reference', async () => {
    const random = seededRandom(20260301);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const maybe = <T>(value: T): T | null => (random() < 0.2 ? null : value);
    const customers = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
    const merchants = ['m0', 'm1', 'm2'];
    const span = 4 * DAY;
    const minute = () => T0 + Math.floor(random() * (span / 60_000)) * 60_000; // minute grid: collisions make ties
    const customerValues = () => ({
      txn_count: maybe(Math.floor(random() * 2 ** 53) * (random() < 0.5 ? -1 : 1)),
      avg_amount: maybe(random() * 1000 - 500),
      device: maybe(pick(['ios', 'android', 'wéb 🚀', ''])),
      is_new: maybe(random() < 0.5),
      embedding: maybe([0, 1, 2].map(() => Math.fround(random() * 2 - 1))),
    });
    const rows = new Map<string, OfflineRow[]>();
    const customerRows: OfflineRow[] = [];
    for (let i = 0; i < 400; i++) customerRows.push(offlineRow(customerStats, { customer_id: pick(customers) }, minute(), customerValues(), T0 + Math.floor(random() * 5) * 1000));
    // Deliberate ties: same entity and event time, other values; half later ingested, half same ingested_at (seq decides).
    for (const original of customerRows.slice(0, 60)) {
      const ingestedAt = random() < 0.5 ? original.ingestedAtMs + 1 : original.ingestedAtMs;
      customerRows.push(offlineRow(customerStats, original.joinKeys, original.eventTimeMs, customerValues(), ingestedAt));
    }
    // A tie ingested EARLIER than the existing row (so file order and ingest order disagree).
    for (const original of customerRows.slice(60, 80)) {
      customerRows.push(offlineRow(customerStats, original.joinKeys, original.eventTimeMs, customerValues(), original.ingestedAtMs - 1));
    }
    rows.set('customer_stats', customerRows);
    const merchantRows: OfflineRow[] = [];
    for (let i = 0; i < 150; i++) {
      merchantRows.push(offlineRow(merchantRisk, { merchant_id: pick(merchants) }, minute(), { risk: maybe(random()), segment: maybe(pick(['a', 'b'])) }));
    }
    rows.set('merchant_risk', merchantRows);
    const pairRows: OfflineRow[] = [];
    for (let i = 0; i < 150; i++) {
      pairRows.push(offlineRow(pairStats, { customer_id: pick(customers), merchant_id: pick(merchants) }, minute(), { pair_count: maybe(Math.floor(random() * 100)) }));
    }
    rows.set('pair_stats', pairRows);
    // v1 files of customer_stats: same entities and times, a different schema and values.
    const v1Rows = customerRows.slice(0, 100).map((r) => offlineRow(customerStatsV1, r.joinKeys, r.eventTimeMs, { txn_count: 1e9, legacy_score: 1 }));
    await writeOffline(root, customerStats, customerRows, random);
    await writeOffline(root, customerStatsV1, v1Rows, random);
    await writeOffline(root, merchantRisk, merchantRows, random);
    await writeOffline(root, pairStats, pairRows, random);

    // Spine: random points (including entities without rows: c9, m9), then the edges around real rows.
    const entityRows: EntityRow[] = [];
    const spineRow = (customer: string, merchant: string, ts: number) => {
      const form = entityRows.length % 3;
      const event_timestamp = form === 0 ? new Date(ts) : form === 1 ? new Date(ts).toISOString() : ts;
      entityRows.push({ customer_id: customer, merchant_id: merchant, event_timestamp, label: entityRows.length % 2 });
    };
    for (let i = 0; i < 300; i++) spineRow(pick([...customers, 'c9']), pick([...merchants, 'm9']), T0 - DAY / 2 + Math.floor(random() * (span + DAY)));
    for (const r of [...customerRows.slice(0, 80), ...merchantRows.slice(0, 40), ...pairRows.slice(0, 40)]) {
      const ttlMs = Math.round((r.view === 'customer_stats' ? customerStats : r.view === 'merchant_risk' ? merchantRisk : pairStats).ttlSeconds * 1000);
      const c = r.joinKeys.customer_id ?? pick(customers);
      const m = r.joinKeys.merchant_id ?? pick(merchants);
      for (const ts of [r.eventTimeMs, r.eventTimeMs - 1, r.eventTimeMs + ttlMs, r.eventTimeMs + ttlMs + 1]) spineRow(c, m, ts);
    }
    const views = [customerStats, merchantRisk, pairStats];
    const actual = await getHistoricalFeatures({ views, entityRows, featureRefs: ALL_REFS, offlineRoot: root, includeStatus: true });
    const expected = referenceRows(views, ALL_REFS, rows, entityRows);
    expect(actual).toHaveLength(entityRows.length);
    for (let i = 0; i < entityRows.length; i++) expect({ i, row: actual[i] }).toEqual({ i, row: expected[i] });
    // The data exercise every outcome, so the comparison above is not vacuous.
    const statuses = new Set(actual.flatMap((r) => Object.entries(r).filter(([k]) => k.endsWith('__status')).map(([, v]) => v)));
    expect([...statuses].sort()).toEqual([FeatureStatus.FALLBACK, FeatureStatus.NOT_FOUND, FeatureStatus.PRESENT]);
    expect(actual.some((r) => r.customer_stats__txn_count === 1e9)).toBe(false);
  });

  describe('edge cases, with hand-written expectations', () => {
    const ttl = view('edge', 1, ['customer_id'], 3600, [
      { name: 'score', dtype: FeatureDtype.FLOAT64 },
      { name: 'tier', dtype: FeatureDtype.STRING, fallback: 'none' },
    ]);
    const at = (h: number, ms = 0) => T0 + h * HOUR + ms;
    let edgeRoot: string;

    beforeAll(async () => {
      edgeRoot = join(root, 'edge');
      await writeOffline(edgeRoot, ttl, [
        offlineRow(ttl, { customer_id: 'a' }, at(10), { score: 1, tier: 'gold' }),
        offlineRow(ttl, { customer_id: 'a' }, at(12), { score: 2, tier: 'silver' }),
        // Tie at 14:00: ingested later but first in the file → loses; ingested first → wins.
        offlineRow(ttl, { customer_id: 'a' }, at(14), { score: 99, tier: 'late' }, at(14, 5000)),
        offlineRow(ttl, { customer_id: 'a' }, at(14), { score: 3, tier: 'first' }, at(14, 1000)),
        // Tie at 16:00 with the same ingested_at: the lower ingest_seq (written first here) wins.
        offlineRow(ttl, { customer_id: 'a' }, at(16), { score: 4, tier: 'seq-first' }, at(16, 1000)),
        offlineRow(ttl, { customer_id: 'a' }, at(16), { score: 98, tier: 'seq-second' }, at(16, 1000)),
        // Tie at 17:00 with the same ingested_at: sequence numbers compare as numbers ("9" before "10"), not as text.
        { ...offlineRow(ttl, { customer_id: 'a' }, at(17), { score: 10, tier: 'seq-10' }, at(17, 1000)), ingestSeq: 'shardId-000000000000:10' },
        { ...offlineRow(ttl, { customer_id: 'a' }, at(17), { score: 9, tier: 'seq-9' }, at(17, 1000)), ingestSeq: 'shardId-000000000000:9' },
        // The latest row carries nulls: served as missing, never the older non-null value.
        offlineRow(ttl, { customer_id: 'a' }, at(18), { score: null, tier: null }),
        offlineRow(ttl, { customer_id: '42' }, at(1), { score: 42, tier: 'int-key' }),
        // The day before, in another partition.
        offlineRow(ttl, { customer_id: 'b' }, at(-1), { score: 7, tier: 'yesterday' }),
      ], () => 0.5, 1);
    });

    const query = async (points: Array<[string | number, number]>) => getHistoricalFeatures({
      views: [ttl], featureRefs: ['edge:score', 'edge:tier'], offlineRoot: edgeRoot, includeStatus: true,
      entityRows: points.map(([customer_id, ts]) => ({ customer_id, event_timestamp: ts })),
    });
    const served = (rows: Array<Record<string, unknown>>) => rows.map((r) => [r.edge__score, r.edge__tier]);

    test('a row exactly at the timestamp is included; one 1 ms in the future is not', async () => {
      // 1 ms before 12:00 the 12:00 row is in the future and the 10:00 row is older than the 1 h TTL.
      expect(served(await query([['a', at(12)], ['a', at(12, -1)], ['a', at(10, 30 * 60_000)]]))).toEqual([[2, 'silver'], [null, 'none'], [1, 'gold']]);
    });

    test('a row exactly TTL old is included; 1 ms older is not (fallback or NOT_FOUND)', async () => {
      expect(served(await query([['a', at(11)], ['a', at(13)]]))).toEqual([[1, 'gold'], [2, 'silver']]);
      const expired = await query([['a', at(13, 1)], ['b', at(0, 1)], ['b', at(0)]]);
      expect(expired).toEqual([
        { customer_id: 'a', event_timestamp: at(13, 1), edge__score: null, edge__score__status: 'NOT_FOUND', edge__tier: 'none', edge__tier__status: 'FALLBACK' },
        { customer_id: 'b', event_timestamp: at(0, 1), edge__score: null, edge__score__status: 'NOT_FOUND', edge__tier: 'none', edge__tier__status: 'FALLBACK' },
        { customer_id: 'b', event_timestamp: at(0), edge__score: 7, edge__score__status: 'PRESENT', edge__tier: 'yesterday', edge__tier__status: 'PRESENT' },
      ]);
    });

    test('event-time ties go to the first ingested row (ingested_at, then ingest_seq), whatever the file order', async () => {
      expect(served(await query([['a', at(14)], ['a', at(16)], ['a', at(17)]]))).toEqual([[3, 'first'], [4, 'seq-first'], [9, 'seq-9']]);
    });

    test('a null in the latest row is served as missing, not as an older value', async () => {
      const [row] = await query([['a', at(18, 30)]]);
      expect(row).toMatchObject({ edge__score: null, edge__score__status: 'NOT_FOUND', edge__tier: 'none', edge__tier__status: 'FALLBACK' });
    });

    test('entities without rows get no value; integer join keys match; rows come back in entity-row order with their fields', async () => {
      const rows = await getHistoricalFeatures({
        views: [ttl], featureRefs: ['edge:score'], offlineRoot: edgeRoot,
        entityRows: [
          { customer_id: 'nobody', event_timestamp: '2026-03-01T12:00:00Z', label: 1 },
          { customer_id: 42, event_timestamp: new Date(at(1, 30)), label: 0 },
          { customer_id: 'b', event_timestamp: at(-0.5), label: 1 },
        ],
      });
      expect(rows).toEqual([
        { customer_id: 'nobody', event_timestamp: '2026-03-01T12:00:00Z', label: 1, edge__score: null },
        { customer_id: 42, event_timestamp: new Date(at(1, 30)), label: 0, edge__score: 42 },
        { customer_id: 'b', event_timestamp: at(-0.5), label: 1, edge__score: 7 },
      ]);
    });

    test('only the requested version is read; a version without files serves every value as missing', async () => {
      const v2 = { ...ttl, version: 2 };
      const [row] = await getHistoricalFeatures({
        views: [v2], featureRefs: ['edge:score', 'edge:tier'], offlineRoot: edgeRoot, entityRows: [{ customer_id: 'a', event_timestamp: at(12) }],
      });
      expect(row).toEqual({ customer_id: 'a', event_timestamp: at(12), edge__score: null, edge__tier: 'none' });
    });

    test('the SQL itself keeps only the requested version, as Athena needs over a table holding every version', async () => {
      const versionsRoot = join(root, 'versions');
      const v2 = { ...ttl, version: 2 };
      await writeOffline(versionsRoot, ttl, [offlineRow(ttl, { customer_id: 'a' }, at(12), { score: 2, tier: 'v1' })]);
      await writeOffline(versionsRoot, v2, [offlineRow(v2, { customer_id: 'a' }, at(12), { score: 222, tier: 'v2' })]);
      const allVersions = `read_parquet('${versionsRoot}/offline/edge/*/*/*.parquet', hive_partitioning = true, hive_types = {'version': 'BIGINT', 'event_date': 'VARCHAR'})`;
      const instance = await DuckDBInstance.create(':memory:');
      const duck = await instance.connect();
      try {
        await duck.run(`CREATE TABLE spine AS SELECT * FROM (VALUES ('a', TIMESTAMP '2026-03-01 12:30:00')) t(customer_id, event_timestamp)`);
        for (const [spec, expected] of [[ttl, 2], [v2, 222]] as const) {
          const sql = buildPointInTimeSql({
            refs: resolveFeatureRefs([spec], ['edge:score']), spineRelation: 'spine', featureRelations: { edge: allVersions }, fromMs: at(12), toMs: at(13),
          });
          expect((await duck.runAndReadAll(sql)).getRowObjectsJS().map((r) => r.edge__score)).toEqual([expected]);
        }
      } finally {
        duck.closeSync();
        instance.closeSync();
      }
    });

    test('a feature added to the view after files were written reads as missing in those files', async () => {
      const grown = { ...ttl, features: [...ttl.features, { name: 'added_later', dtype: FeatureDtype.FLOAT32_VECTOR, dimension: 2, fallback: [0, 0] }] };
      const [row] = await getHistoricalFeatures({
        views: [grown], featureRefs: ['edge:score', 'edge:added_later'], offlineRoot: edgeRoot, entityRows: [{ customer_id: 'a', event_timestamp: at(12) }],
      });
      expect(row).toEqual({ customer_id: 'a', event_timestamp: at(12), edge__score: 2, edge__added_later: [0, 0] });
    });

    test('no entity rows, no output rows', async () => {
      expect(await getHistoricalFeatures({ views: [ttl], featureRefs: ['edge:score'], offlineRoot: edgeRoot, entityRows: [] })).toEqual([]);
    });
  });

  describe('bad requests fail with one clear error', () => {
    test('unknown references name the view or feature', async () => {
      await expect(getHistoricalFeatures({
        views: [customerStats], featureRefs: ['customer_stats:nope', 'ghost:x', 'no_colon'], offlineRoot: root,
        entityRows: [{ customer_id: 'c1', event_timestamp: T0 }],
      })).rejects.toThrow(/'customer_stats:nope': view 'customer_stats' v2 has no feature 'nope'[\s\S]*'ghost:x': unknown view 'ghost'[\s\S]*'no_colon': feature references look like/);
    });

    test('missing join keys and bad timestamps name the entity row and the field', async () => {
      let message = '';
      try {
        localHistoricalQuery({
          views: [customerStats, pairStats], featureRefs: ['customer_stats:txn_count', 'pair_stats:pair_count'], offlineRoot: root,
          entityRows: [
            { customer_id: 'c1', merchant_id: 'm1', event_timestamp: T0 },
            { customer_id: 'c1', event_timestamp: '2026-03-01 10:00' },
            { customer_id: 1.5, merchant_id: 'm1', event_timestamp: new Date('nope') },
          ] as EntityRow[],
        });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/entityRows\[1\]\.merchant_id: join key of view 'pair_stats' must be a non-empty string or an integer, got nothing/);
      expect(message).toMatch(/entityRows\[1\]\.event_timestamp: must be a Date, epoch milliseconds or ISO-8601 with a zone/);
      expect(message).toMatch(/entityRows\[2\]\.customer_id: join key of view 'customer_stats', 'pair_stats' must be .* got 1\.5/);
      expect(message).toMatch(/entityRows\[2\]\.event_timestamp/);
      expect(message).not.toMatch(/entityRows\[0\]/);
    });
  });
});

describe('one SQL text for DuckDB and Athena', () => {
  const athena = new AthenaHistoricalRetrieval({ client: new AthenaClient({ region: 'us-east-1' }), workGroup: 'ml', database: 'feature_store' });
  const views = [customerStats, merchantRisk, pairStats];
  const fromMs = T0 + 5 * HOUR;
  const toMs = T0 + 3 * DAY;

  test('Athena runs exactly the local query, with the Glue tables in place of the local relations', () => {
    const local = localHistoricalQuery({
      views, featureRefs: ALL_REFS, offlineRoot: root,
      entityRows: [{ customer_id: 'c', merchant_id: 'm', event_timestamp: fromMs }, { customer_id: 'c', merchant_id: 'm', event_timestamp: toMs }],
    });
    const athenaSql = athena.queryText({ views, featureRefs: ALL_REFS, spineTable: 'training.entity_rows', orderBy: 'entity_row' }, fromMs, toMs);
    const refs = resolveFeatureRefs(views, ALL_REFS);
    expect(athenaSql).toBe(buildPointInTimeSql({
      refs, spineRelation: '"training"."entity_rows"', fromMs, toMs, orderBy: 'entity_row',
      featureRelations: { customer_stats: '"feature_store"."customer_stats"', merchant_risk: '"feature_store"."merchant_risk"', pair_stats: '"feature_store"."pair_stats"' },
    }));
    // Swap the relations back: the texts are identical.
    let swapped = athenaSql.split('"training"."entity_rows"').join(`"${LOCAL_SPINE_TABLE}"`);
    for (const { view: v } of refs) {
      swapped = swapped.split(`"feature_store"."${v.name}"`).join(localFeatureRelation(root, v));
    }
    expect(swapped).toBe(local.sql);
  });

  test('the SQL is portable: window functions and interval arithmetic, no ASOF JOIN; partitions pruned by version and event_date', () => {
    const sql = athena.queryText({ views, featureRefs: ALL_REFS, spineTable: 'entity_rows' }, fromMs, toMs);
    expect(sql).not.toMatch(/ASOF/i);
    expect(sql).toContain('row_number() OVER (PARTITION BY s."customer_id", s."event_timestamp"');
    expect(sql).toContain('ORDER BY f."event_time" DESC, f."ingested_at" ASC, length(f."ingest_seq") ASC, f."ingest_seq" ASC');
    expect(sql).toContain('AND f."event_time" >= s."event_timestamp" - INTERVAL \'86400\' SECOND');
    expect(sql).toContain('AND f."event_time" >= s."event_timestamp" - INTERVAL \'21600.5\' SECOND');
    expect(sql).toContain(`WHERE "version" = 2 AND "event_date" BETWEEN '${eventDate(fromMs - DAY)}' AND '${eventDate(toMs)}'`);
    expect(sql).toContain('FROM "feature_store"."entity_rows" s');
    expect(sql).not.toContain('ORDER BY s.');
  });

  test('refuses table and column names that are not Glue identifiers', () => {
    expect(() => athena.queryText({ views, featureRefs: ALL_REFS, spineTable: 'x; DROP TABLE y' }, fromMs, toMs)).toThrow(/spineTable: 'x; DROP TABLE y' is not 'table' or 'database.table'/);
    expect(() => athena.queryText({ views, featureRefs: ALL_REFS, spineTable: 't', orderBy: 'a"b' }, fromMs, toMs)).toThrow(/orderBy: 'a"b' is not a column name/);
    expect(() => new AthenaHistoricalRetrieval({ client: new AthenaClient({ region: 'us-east-1' }), workGroup: '', database: 'Bad-Name' }))
      .toThrow(/workGroup: required[\s\S]*database: 'Bad-Name' is not a Glue database name/);
  });
});
