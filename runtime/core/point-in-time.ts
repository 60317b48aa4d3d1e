import {
  eventDate, FeatureSpec, FeatureViewSpec, joinKeysOf, OFFLINE_PARTITION_COLUMNS, ResolvedFeatureRefs, serveValue,
} from '../../lib/features/spec';

/**
 * Point-in-time correct historical retrieval, as ONE SQL text that both DuckDB (local, tests) and Athena/Trino (at
 * scale) run, plus the shared serving step that turns the selected rows into training values.
 *
 * Semantics, per entity row (join keys + `event_timestamp`) and requested view: the view's latest offline row of
 * that entity with `event_timestamp − TTL <= event_time <= event_timestamp` (both bounds inclusive; never a future
 * row). Ties on `event_time` go to the first ingested row (`ingested_at` asc, then `ingest_seq` in numeric order), as
 * online, where an equal event time never overwrites. `ingest_seq` is `<shardId>:<sequence number>` (fixed-width shard
 * ids, decimal sequence numbers without leading zeros, up to 129 digits: beyond BIGINT and DECIMAL(38) in both
 * engines), so it is ordered by length, then text — numeric order of the sequence numbers ("9" before "10"). The selected row's values then go through `serveValue()` — the rule
 * serving applies — so training sees what serving would have served.
 *
 * Only portable SQL is used: CTEs, `row_number() OVER (PARTITION BY … ORDER BY …)`, `CAST(… AS VARCHAR)`, `length()`,
 * `timestamp - INTERVAL 'n' SECOND` and string comparison of the `event_date` partition (no ASOF JOIN).
 */

/** Spine column holding each entity row's point in time (a TIMESTAMP, UTC). */
export const SPINE_TIMESTAMP_COLUMN = 'event_timestamp';

/** Output column of a feature value: `<view>__<feature>` (Feast's full feature names). */
export function featureColumn(view: string, feature: string): string {
  return `${view}__${feature}`;
}

/** Output column of a feature value's status (`FeatureStatus`): `<view>__<feature>__status`. */
export function statusColumn(view: string, feature: string): string {
  return `${featureColumn(view, feature)}__status`;
}

/** Output column of the event time of the row selected for a view: `<view>__event_time` (null when none). */
export function selectedEventTimeColumn(view: string): string {
  return `${view}__event_time`;
}

/** Inputs of `buildPointInTimeSql`. Relation texts are inserted verbatim: callers build them, never users. */
export interface PointInTimeSqlInput {
  /** Requested features, grouped by view (`resolveFeatureRefs`). */
  readonly refs: readonly ResolvedFeatureRefs[];
  /** Relation of the entity rows: the views' join key columns and `event_timestamp` (TIMESTAMP). */
  readonly spineRelation: string;
  /** Relation of each view's offline rows, by view name: the offline columns plus `version` and `event_date`. */
  readonly featureRelations: Readonly<Record<string, string>>;
  /** Earliest `event_timestamp` of the spine, epoch ms: bounds the `event_date` partitions read. */
  readonly fromMs: number;
  /** Latest `event_timestamp` of the spine, epoch ms: bounds the `event_date` partitions read. */
  readonly toMs: number;
  /**
   * Spine column to order the output by.
   * @default - no ORDER BY (engine order)
   */
  readonly orderBy?: string;
}

/** Double-quotes an identifier (names are validated lower snake case; quotes are doubled regardless). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** `INTERVAL '<seconds>' SECOND` for the view's TTL, at millisecond precision (valid in DuckDB and Trino). */
function ttlInterval(view: FeatureViewSpec): string {
  return `INTERVAL '${Number(view.ttlSeconds.toFixed(3))}' SECOND`;
}

/** The CTE selecting, per distinct (join keys, timestamp) of the spine, the point-in-time row of one view. */
function viewCte(group: ResolvedFeatureRefs, input: PointInTimeSqlInput): string {
  const { view, features } = group;
  const relation = input.featureRelations[view.name];
  if (relation === undefined) throw new Error(`featureRelations: no relation given for view '${view.name}'`);
  const keys = joinKeysOf(view).map(quoteIdentifier);
  const ts = quoteIdentifier(SPINE_TIMESTAMP_COLUMN);
  const featureNames = features.map((f) => quoteIdentifier(f.name));
  const [version, date] = OFFLINE_PARTITION_COLUMNS.map((c) => quoteIdentifier(c.name));
  const fromDate = eventDate(input.fromMs - Math.round(view.ttlSeconds * 1000));
  const toDate = eventDate(input.toMs);
  return [
    `${quoteIdentifier(`pit__${view.name}`)} AS (`,
    `  SELECT ${[...keys, ts, '"__event_time"', ...featureNames].join(', ')}`,
    '  FROM (',
    `    SELECT ${[...keys.map((k) => `s.${k}`), `s.${ts}`, 'f."event_time" AS "__event_time"', ...featureNames.map((f) => `f.${f}`)].join(', ')},`,
    `      row_number() OVER (PARTITION BY ${[...keys.map((k) => `s.${k}`), `s.${ts}`].join(', ')}`,
    '        ORDER BY f."event_time" DESC, f."ingested_at" ASC, length(f."ingest_seq") ASC, f."ingest_seq" ASC) AS "__rank"',
    `    FROM (SELECT DISTINCT ${[...keys.map((k) => `CAST(${k} AS VARCHAR) AS ${k}`), ts].join(', ')} FROM ${input.spineRelation}) s`,
    '    JOIN (',
    `      SELECT ${[...keys, '"event_time"', '"ingested_at"', '"ingest_seq"', ...featureNames].join(', ')}`,
    `      FROM ${relation}`,
    `      WHERE ${version} = ${view.version} AND ${date} BETWEEN ${quoteLiteral(fromDate)} AND ${quoteLiteral(toDate)}`,
    '    ) f',
    `      ON ${keys.map((k) => `f.${k} = s.${k}`).join(' AND ')}`,
    `      AND f."event_time" <= s.${ts}`,
    `      AND f."event_time" >= s.${ts} - ${ttlInterval(view)}`,
    '  ) ranked',
    '  WHERE "__rank" = 1',
    ')',
  ].join('\n');
}

/**
 * Builds the point-in-time join. Output: every spine column (`s.*`), then per view `<view>__event_time` (the
 * selected row's event time, null when none) and `<view>__<feature>` per requested feature — raw stored values;
 * apply `servePointInTime` to get what serving would serve. One output row per spine row.
 */
export function buildPointInTimeSql(input: PointInTimeSqlInput): string {
  const ts = quoteIdentifier(SPINE_TIMESTAMP_COLUMN);
  const columns = ['s.*'];
  const joins: string[] = [];
  for (const { view, features } of input.refs) {
    const cte = quoteIdentifier(`pit__${view.name}`);
    columns.push(`${cte}."__event_time" AS ${quoteIdentifier(selectedEventTimeColumn(view.name))}`);
    for (const f of features) columns.push(`${cte}.${quoteIdentifier(f.name)} AS ${quoteIdentifier(featureColumn(view.name, f.name))}`);
    const keys = joinKeysOf(view).map(quoteIdentifier);
    joins.push(`LEFT JOIN ${cte}\n  ON ${[...keys.map((k) => `${cte}.${k} = CAST(s.${k} AS VARCHAR)`), `${cte}.${ts} = s.${ts}`].join(' AND ')}`);
  }
  return [
    `WITH\n${input.refs.map((group) => viewCte(group, input)).join(',\n')}`,
    `SELECT ${columns.join(',\n  ')}`,
    `FROM ${input.spineRelation} s`,
    ...joins,
    ...(input.orderBy ? [`ORDER BY s.${quoteIdentifier(input.orderBy)}`] : []),
  ].join('\n');
}

/** The row a view contributed at one point in time, values already converted to JS by the engine adapter. */
export interface SelectedRow {
  /** Event time of the selected row, epoch ms. */
  readonly eventTimeMs: number;
  /** Stored values by feature name (null where the row has none). */
  readonly values: Readonly<Record<string, unknown>>;
}

/**
 * The training values of one entity row for one view: `serveValue()` applied to the selected row (or to nothing
 * when none was in the TTL window), keyed by `<view>__<feature>` and, with `includeStatus`, `<view>__<feature>__status`.
 */
export function servePointInTime(group: ResolvedFeatureRefs, selected: SelectedRow | undefined, timestampMs: number, includeStatus: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const feature of group.features) {
    const served = selected
      ? serveValue(group.view, feature, selected.values[feature.name] ?? null, timestampMs - selected.eventTimeMs, selected.eventTimeMs)
      : serveValue(group.view, feature, undefined);
    out[featureColumn(group.view.name, feature.name)] = served.value;
    if (includeStatus) out[statusColumn(group.view.name, feature.name)] = served.status;
  }
  return out;
}

/** An int64 read back from an engine: a number when within ±2^53 (always, for validated rows), else the exact bigint. */
export function int64Value(raw: bigint | string): number | bigint {
  const exact = BigInt(raw);
  return exact >= BigInt(Number.MIN_SAFE_INTEGER) && exact <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(exact) : exact;
}

/** How an engine adapter turns its result cells into JS values. */
export interface CellDecoder {
  /** A non-null timestamp cell as epoch ms. */
  timestampMs(raw: unknown): number;
  /** A non-null feature cell as the feature's JS value (number, string, boolean, number[]). */
  value(feature: FeatureSpec, raw: unknown): unknown;
}

/**
 * The training values of one result row of `buildPointInTimeSql` for every requested view: decodes the selected
 * rows' cells and applies `servePointInTime`.
 */
export function trainingValues(
  refs: readonly ResolvedFeatureRefs[], row: Readonly<Record<string, unknown>>, timestampMs: number, includeStatus: boolean, decode: CellDecoder,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const group of refs) {
    const eventTime = row[selectedEventTimeColumn(group.view.name)];
    const selected = eventTime === null || eventTime === undefined ? undefined : {
      eventTimeMs: decode.timestampMs(eventTime),
      values: Object.fromEntries(group.features.map((f) => {
        const raw = row[featureColumn(group.view.name, f.name)];
        return [f.name, raw === null || raw === undefined ? null : decode.value(f, raw)];
      })),
    };
    Object.assign(out, servePointInTime(group, selected, timestampMs, includeStatus));
  }
  return out;
}
