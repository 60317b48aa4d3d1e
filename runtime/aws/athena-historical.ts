import {
  AthenaClient, ColumnInfo, GetQueryExecutionCommand, GetQueryResultsCommand, Row, StartQueryExecutionCommand, StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { FeatureDtype, FeatureSpec, FeatureViewSpec, resolveFeatureRefs, ResolvedFeatureRefs } from '../../lib/features/spec';
import {
  buildPointInTimeSql, CellDecoder, featureColumn, int64Value, quoteIdentifier, selectedEventTimeColumn, SPINE_TIMESTAMP_COLUMN, trainingValues,
} from '../core/point-in-time';

/**
 * Historical retrieval at scale: the same point-in-time SQL as the local DuckDB engine (`buildPointInTimeSql`), run
 * by Athena over the offline store's Glue tables (one table per view, named after the view, partitioned by
 * `version` bigint and `event_date` string). The spine is an existing table of entity rows (join keys and
 * `event_timestamp` timestamp, plus any label columns).
 */

/** Props of `AthenaHistoricalRetrieval`. */
export interface AthenaHistoricalRetrievalProps {
  /** Athena client (region, credentials, endpoint). */
  readonly client: AthenaClient;
  /** Athena workgroup (its result location and encryption apply). */
  readonly workGroup: string;
  /** Glue database holding the offline tables (one per view, named after the view). */
  readonly database: string;
  /**
   * Data catalog.
   * @default 'AwsDataCatalog'
   */
  readonly catalog?: string;
  /**
   * How long one query may take, from start to the last result page, in milliseconds; past it the query is stopped.
   * @default 600000 (10 minutes)
   */
  readonly timeoutMs?: number;
  /**
   * Interval between GetQueryExecution polls, in milliseconds.
   * @default 500
   */
  readonly pollIntervalMs?: number;
}

/** Request of `AthenaHistoricalRetrieval.getHistoricalFeatures`. */
export interface AthenaHistoricalRequest {
  /** Views to read, exactly one version of each. */
  readonly views: readonly FeatureViewSpec[];
  /** Feature references, `view_name:feature_name`. */
  readonly featureRefs: readonly string[];
  /** Table of entity rows: `table` (in `database`) or `other_database.table`. */
  readonly spineTable: string;
  /**
   * Spine column giving the output order.
   * @default - Athena's order
   */
  readonly orderBy?: string;
  /**
   * Also output `<view>__<feature>__status` next to each value.
   * @default false
   */
  readonly includeStatus?: boolean;
}

/** A result row: spine columns (typed from Athena's metadata; timestamps as ISO-8601), then the training values. */
export type AthenaHistoricalRow = Record<string, unknown>;

const GLUE_NAME = /^[a-z0-9_]{1,255}$/;

/** Athena result cells are strings; this turns them into the JS values the local engine returns. */
const ATHENA_CELLS: CellDecoder = {
  timestampMs: (raw) => athenaTimestampMs(raw as string),
  value: (feature: FeatureSpec, raw) => athenaFeatureValue(feature.dtype, raw as string),
};

/** Parses Athena's `yyyy-mm-dd hh:mm:ss.fff` (UTC) rendering of a timestamp. */
function athenaTimestampMs(text: string): number {
  return Date.parse(`${text.replace(' ', 'T')}Z`);
}

function athenaFeatureValue(dtype: FeatureDtype, text: string): unknown {
  switch (dtype) {
    case FeatureDtype.INT64: return int64Value(text);
    case FeatureDtype.FLOAT64: return Number(text);
    case FeatureDtype.BOOL: return text === 'true';
    case FeatureDtype.FLOAT32_VECTOR: {
      const inner = text.slice(1, -1).trim();
      return inner === '' ? [] : inner.split(',').map((v) => Math.fround(Number(v)));
    }
    default: return text;
  }
}

/** A spine column's cell, by Athena's column type. */
function athenaSpineValue(info: ColumnInfo, text: string): unknown {
  const type = (info.Type ?? '').toLowerCase();
  if (['tinyint', 'smallint', 'integer', 'bigint'].includes(type)) return int64Value(text);
  if (['real', 'float', 'double', 'decimal'].includes(type)) return Number(text);
  if (type === 'boolean') return text === 'true';
  if (type.startsWith('timestamp')) return new Date(athenaTimestampMs(text)).toISOString();
  return text;
}

/** Runs the point-in-time SQL on Athena and pages its results. Every call has a deadline. */
export class AthenaHistoricalRetrieval {
  private readonly props: AthenaHistoricalRetrievalProps;

  constructor(props: AthenaHistoricalRetrievalProps) {
    const problems: string[] = [];
    if (!props.workGroup) problems.push('workGroup: required, the Athena workgroup to run the queries in');
    if (!GLUE_NAME.test(props.database ?? '')) problems.push(`database: '${props.database}' is not a Glue database name (lower case letters, digits, '_')`);
    if (problems.length > 0) throw new Error(`Invalid AthenaHistoricalRetrieval props:\n  - ${problems.join('\n  - ')}`);
    this.props = props;
  }

  /**
   * The exact SQL run for a request whose spine timestamps span `[fromMs, toMs]` — `buildPointInTimeSql` over
   * `"<database>"."<view>"` tables and the spine table.
   */
  public queryText(request: AthenaHistoricalRequest, fromMs: number, toMs: number): string {
    return this.query(request, resolveFeatureRefs(request.views, request.featureRefs), fromMs, toMs);
  }

  /**
   * Point-in-time correct training data: each spine row's columns plus, per requested feature, what serving would
   * have served at its `event_timestamp`. Runs two queries: the spine's time bounds (for partition pruning), then
   * the point-in-time join.
   */
  public async getHistoricalFeatures(request: AthenaHistoricalRequest): Promise<AthenaHistoricalRow[]> {
    const refs = resolveFeatureRefs(request.views, request.featureRefs);
    const deadline = Date.now() + (this.props.timeoutMs ?? 600_000);
    const ts = quoteIdentifier(SPINE_TIMESTAMP_COLUMN);
    const bounds = await this.run(`SELECT min(${ts}) AS "from_ts", max(${ts}) AS "to_ts" FROM ${this.spineRelation(request.spineTable)}`, deadline);
    const [from, to] = bounds.rows[0] ?? [];
    if (from === undefined || to === undefined) return [];
    const result = await this.run(this.query(request, refs, athenaTimestampMs(from), athenaTimestampMs(to)), deadline);
    const internal = new Set(refs.map(({ view }) => selectedEventTimeColumn(view.name)));
    const featureColumns = new Set(refs.flatMap(({ view, features }) => features.map((f) => featureColumn(view.name, f.name))));
    const tsIndex = result.columns.findIndex((c) => c.Name === SPINE_TIMESTAMP_COLUMN);
    return result.rows.map((cells) => {
      const raw: Record<string, string | undefined> = {};
      const spine: AthenaHistoricalRow = {};
      result.columns.forEach((info, i) => {
        const name = info.Name ?? '';
        raw[name] = cells[i];
        if (!internal.has(name) && !featureColumns.has(name)) spine[name] = cells[i] === undefined ? null : athenaSpineValue(info, cells[i]!);
      });
      return { ...spine, ...trainingValues(refs, raw, athenaTimestampMs(cells[tsIndex]!), request.includeStatus ?? false, ATHENA_CELLS) };
    });
  }

  private query(request: AthenaHistoricalRequest, refs: ResolvedFeatureRefs[], fromMs: number, toMs: number): string {
    if (request.orderBy !== undefined && !GLUE_NAME.test(request.orderBy)) {
      throw new Error(`orderBy: '${request.orderBy}' is not a column name (lower case letters, digits, '_')`);
    }
    return buildPointInTimeSql({
      refs,
      spineRelation: this.spineRelation(request.spineTable),
      featureRelations: Object.fromEntries(refs.map(({ view }) => [view.name, `${quoteIdentifier(this.props.database)}.${quoteIdentifier(view.name)}`])),
      fromMs,
      toMs,
      orderBy: request.orderBy,
    });
  }

  private spineRelation(spineTable: string): string {
    const parts = spineTable.split('.');
    if (parts.length > 2 || !parts.every((p) => GLUE_NAME.test(p))) {
      throw new Error(`spineTable: '${spineTable}' is not 'table' or 'database.table' (lower case letters, digits, '_')`);
    }
    return (parts.length === 1 ? [this.props.database, ...parts] : parts).map(quoteIdentifier).join('.');
  }

  /** Runs one query to completion and returns its columns and rows (cells undefined where null). */
  private async run(sql: string, deadline: number): Promise<{ columns: ColumnInfo[]; rows: Array<Array<string | undefined>> }> {
    const { client } = this.props;
    const signal = () => AbortSignal.timeout(Math.max(deadline - Date.now(), 1));
    const started = await client.send(new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: this.props.workGroup,
      QueryExecutionContext: { Database: this.props.database, Catalog: this.props.catalog ?? 'AwsDataCatalog' },
    }), { abortSignal: signal() });
    const id = started.QueryExecutionId!;
    for (;;) {
      const { QueryExecution: execution } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }), { abortSignal: signal() });
      const state = execution?.Status?.State;
      if (state === 'SUCCEEDED') break;
      if (state === 'FAILED' || state === 'CANCELLED') {
        throw new Error(`Athena query ${id} ${state}: ${execution?.Status?.StateChangeReason ?? 'no reason given'}`);
      }
      if (Date.now() + (this.props.pollIntervalMs ?? 500) >= deadline) {
        await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }), { abortSignal: AbortSignal.timeout(5_000) });
        throw new Error(`Athena query ${id} still ${state} at its deadline (timeoutMs ${this.props.timeoutMs ?? 600_000}); it was stopped`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.props.pollIntervalMs ?? 500));
    }
    const rows: Row[] = [];
    let columns: ColumnInfo[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: nextToken, MaxResults: 1000 }), { abortSignal: signal() });
      columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? columns;
      rows.push(...(page.ResultSet?.Rows ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    // The first row of a SELECT's results is the header.
    return { columns, rows: rows.slice(1).map((row) => (row.Data ?? []).map((d) => d.VarCharValue)) };
  }
}
