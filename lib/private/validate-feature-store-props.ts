/**
 * Validation of `FeatureStore` props and of `FeatureStore.fromFeatureStoreAttributes` attributes: every problem,
 * each naming the prop and the fix, thrown once by the caller (`throwIfProblems`). Internal: not exported from
 * lib/index.ts.
 */
import { Duration } from 'aws-cdk-lib';
import type { FeatureStoreAttributes } from '../features/feature-store-base';
import type { FeatureStoreProps } from '../features/feature-store';
import type { FeatureView } from '../features/feature-view';
import { earliestEventDateProblem } from '../features/spec';
import { concreteDays } from './validation';

/** Smallest per-query scan limit Athena accepts. */
const MIN_BYTES_SCANNED_CUTOFF = 10_000_000;
/** Smallest age S3 accepts for a transition to Standard-IA. */
const MIN_INFREQUENT_ACCESS_DAYS = 30;

/** Every problem of a store's props. */
export function validateFeatureStoreProps(props: FeatureStoreProps): string[] {
  const problems = [...viewsProblems(props.views), ...earliestEventDateProblems(props.earliestEventDate)];
  const infrequentAccess = concreteDays(props.offlineInfrequentAccessAfter ?? Duration.days(90));
  if (infrequentAccess !== undefined && infrequentAccess < MIN_INFREQUENT_ACCESS_DAYS) {
    problems.push(`offlineInfrequentAccessAfter: ${infrequentAccess} days is below the ${MIN_INFREQUENT_ACCESS_DAYS} days S3 requires before Standard-IA; use Duration.days(${MIN_INFREQUENT_ACCESS_DAYS}) or more`);
  }
  const expiration = concreteDays(props.offlineExpiration);
  if (expiration !== undefined && infrequentAccess !== undefined && expiration <= infrequentAccess) {
    problems.push(`offlineExpiration: ${expiration} days must be later than offlineInfrequentAccessAfter (${infrequentAccess} days); raise it or lower offlineInfrequentAccessAfter`);
  }
  for (const [name, duration] of [
    ['offlineExpiration', props.offlineExpiration], ['deadLetterRetention', props.deadLetterRetention],
    ['queryResultsRetention', props.queryResultsRetention], ['accessLogsRetention', props.accessLogsRetention],
  ] as const) {
    const days = concreteDays(duration);
    if (days !== undefined && (days < 1 || !Number.isInteger(days))) {
      problems.push(`${name}: S3 lifecycle rules count whole days; use a whole number of days of at least 1 (got ${days})`);
    }
  }
  const cutoff = props.bytesScannedCutoffPerQuery;
  if (cutoff && !cutoff.isUnresolved() && cutoff.toBytes() < MIN_BYTES_SCANNED_CUTOFF) {
    problems.push(`bytesScannedCutoffPerQuery: ${cutoff.toBytes()} bytes is below Athena's minimum of 10 MB; use Size.mebibytes(10) or more`);
  }
  if (props.databaseName !== undefined && !/^[a-z0-9_]{1,255}$/.test(props.databaseName)) {
    problems.push(`databaseName: '${props.databaseName}' must be lower case letters, digits and underscores (Athena identifiers)`);
  }
  return problems;
}

/** Every problem of an imported store's attributes (the names themselves are checked at deployment). */
export function validateFeatureStoreAttributes(attrs: FeatureStoreAttributes): string[] {
  const problems = [...viewsProblems(attrs.views), ...earliestEventDateProblems(attrs.earliestEventDate, { relative: true })];
  const missing = (['tableName', 'bucketName', 'keyArn'] as const).filter((name) => !attrs[name]);
  if (missing.length > 0) {
    problems.push(`${missing.join(', ')}: required; give the store's online table name, offline bucket name and KMS key ARN`);
  }
  return problems;
}

/** The views a store holds: at least one, one version of each. */
function viewsProblems(views: readonly FeatureView[] | undefined): string[] {
  const problems: string[] = [];
  if (!views || views.length === 0) problems.push('views: pass at least one FeatureView, e.g. views: [customerTxnStats]');
  const seen = new Set<string>();
  for (const view of views ?? []) {
    if (seen.has(view.name)) {
      problems.push(`views: '${view.name}' is given twice; a store holds one version of each view (bump the version in one FeatureView instead)`);
    }
    seen.add(view.name);
  }
  return problems;
}

/**
 * The projection's first date, when given: a `yyyy-mm-dd` date the spec accepts, or with `relative` also the
 * `NOW-<n>DAYS` a store whose history expires has (`FeatureStore.earliestEventDate`).
 */
function earliestEventDateProblems(date: string | undefined, options: { relative?: boolean } = {}): string[] {
  if (date === undefined) return [];
  const problem = options.relative || /^\d{4}-\d{2}-\d{2}$/.test(date)
    ? earliestEventDateProblem(date) : `'${date}' is not a date; use 'yyyy-mm-dd', e.g. '2024-01-31'`;
  return problem ? [`earliestEventDate: ${problem}`] : [];
}
