/** Naming rules shared by every part of the spec: names end up as DynamoDB attributes, Parquet and Glue columns. */

/** Lower snake case, starting with a letter, at most 64 characters: valid in Glue, Athena, DuckDB and DynamoDB. */
export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** Column names the offline layout reserves for itself. */
export const RESERVED_COLUMNS = ['event_time', 'ingested_at', 'ingest_seq', 'entity_key', 'version', 'event_date'];

/** Returns an error message if `name` is not a valid identifier, otherwise undefined. */
export function nameProblem(field: string, name: unknown): string | undefined {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    return `${field}: '${String(name)}' is not a valid name; use lower snake case matching ${NAME_PATTERN} (e.g. 'txn_count_1h')`;
  }
  return undefined;
}
