/**
 * The data gate: a training set is used only when it has the expected columns with the expected types, few enough
 * nulls, enough rows, a usable label and — when a baseline profile is given — no dataset drift against it (the drift
 * module's `detectDrift`, Evidently's defaults). Works on rows (exact per-value type checks) or on a `DatasetProfile`
 * already built over the data (e.g. by the baseline builder, for sets too large to hold). Pure TypeScript.
 */
import { FeatureDtype, type FeatureSpec, type FeatureViewSpec, FEATURE_REF_SEPARATOR } from '../../../lib/features/spec/index';
import { valueProblem } from '../../../lib/features/spec/values';
import { detectDrift, type DriftOptions } from '../drift/detect';
import { type ColumnKind, type ColumnProfile, type DatasetProfile, ProfileBuilder } from '../drift/profile';
import { QuantileSketch } from '../drift/quantile-sketch';
import { featureColumn } from '../point-in-time';
import { formatNumber, formatShare, GateCheck, gateResult, GateResult, GateSpecError, problemsOf, rangeProblem } from './checks';

/** Defaults of the data gate. */
export const DataGateDefaults = {
  /** Largest share of nulls (absent, null, NaN) in a column. */
  MAX_NULL_RATE: 0.05,
  /** Largest share of nulls in the label column. */
  LABEL_MAX_NULL_RATE: 0,
  /** Largest share of values of the wrong type in a column. */
  MAX_TYPE_ERROR_RATE: 0,
  /** Fewest rows. */
  MIN_ROWS: 1000,
  /** Smallest share of the rarest class of a classification label. */
  MIN_CLASS_SHARE: 0.01,
} as const;

/** A column the training set must have. */
export interface ExpectedColumn {
  /** Column name in the training set (`view__feature` for point-in-time retrieval output). */
  readonly name: string;
  readonly dtype: FeatureDtype;
  /** Vector dimension of a `FLOAT32_VECTOR`. @default - not a vector */
  readonly dimension?: number;
  /** @default the spec's maxNullRate */
  readonly maxNullRate?: number;
  /**
   * The column's name in profiles (the baseline's `view:feature`).
   * @default - `name`
   */
  readonly profileName?: string;
}

/** The label column and what makes it usable. */
export interface LabelExpectation extends ExpectedColumn {
  /** `classification`: classes counted, each at least `minClassShare`; `regression`: values within [min, max]. */
  readonly task: 'classification' | 'regression';
  /** @default DataGateDefaults.MIN_CLASS_SHARE */
  readonly minClassShare?: number;
  /** Smallest regression label allowed. @default - no lower bound */
  readonly min?: number;
  /** Largest regression label allowed. @default - no upper bound */
  readonly max?: number;
}

/** What the data gate enforces. */
export interface DataGateSpec {
  /** Feature columns (build them from views with `expectedColumnsOf`). */
  readonly columns: readonly ExpectedColumn[];
  /** @default - no label checks */
  readonly label?: LabelExpectation;
  /** @default DataGateDefaults.MIN_ROWS */
  readonly minRows?: number;
  /** Largest null share of a column without its own. @default DataGateDefaults.MAX_NULL_RATE */
  readonly maxNullRate?: number;
  /** Largest share of wrong-typed values. @default DataGateDefaults.MAX_TYPE_ERROR_RATE */
  readonly maxTypeErrorRate?: number;
  /**
   * Drift of the features against a baseline profile (feature columns only; dataset drift decides).
   * @default - no drift check
   */
  readonly drift?: { readonly baseline: DatasetProfile; readonly options?: DriftOptions };
}

/** The data checked: the rows themselves, or a profile of them. */
export type TrainingData = { readonly rows: Iterable<Readonly<Record<string, unknown>>> } | { readonly profile: DatasetProfile };

/**
 * The expected columns of a training set retrieved point-in-time from feature views: `view__feature`, typed from the
 * view, profiled as `view:feature` (the name baselines and prediction logs use).
 */
export function expectedColumnsOf(views: readonly FeatureViewSpec[]): ExpectedColumn[] {
  return views.flatMap((view) => view.features.map((f: FeatureSpec) => ({
    name: featureColumn(view.name, f.name),
    dtype: f.dtype,
    ...(f.dimension !== undefined ? { dimension: f.dimension } : {}),
    profileName: `${view.name}${FEATURE_REF_SEPARATOR}${f.name}`,
  })));
}

/** Every problem of a data gate spec (possibly untyped JSON), each naming the field and the fix. */
export function dataGateSpecProblems(spec: DataGateSpec): string[] {
  if (spec === null || typeof spec !== 'object' || !Array.isArray(spec.columns)) return ['columns is required: an array of { name, dtype }'];
  const problems: string[] = [];
  const dtypes = Object.values(FeatureDtype) as string[];
  const columnProblems = (c: ExpectedColumn, where: string) => {
    if (c === null || typeof c !== 'object' || typeof c.name !== 'string' || c.name === '') return [`${where}.name is required`];
    const p: (string | undefined)[] = [
      dtypes.includes(c.dtype) ? undefined : `${where}.dtype is ${String(c.dtype)}; use one of ${dtypes.join(', ')}`,
      c.dtype === FeatureDtype.FLOAT32_VECTOR && !(Number.isSafeInteger(c.dimension) && c.dimension! > 0) ? `${where}.dimension must be a positive integer for a vector` : undefined,
      rangeProblem(`${where}.maxNullRate`, c.maxNullRate, 0, 1, 'a share: 0.05 is 5 %'),
    ];
    return problemsOf(...p);
  };
  spec.columns.forEach((c, i) => problems.push(...columnProblems(c, `columns[${i}]`)));
  const names = spec.columns.map((c) => c?.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) problems.push(`columns: ${String(duplicate)} is listed twice`);
  const label = spec.label;
  if (label !== undefined) {
    problems.push(...columnProblems(label, 'label'));
    if (label?.task !== 'classification' && label?.task !== 'regression') problems.push(`label.task is ${String(label?.task)}; use 'classification' or 'regression'`);
    if (label?.task === 'classification') problems.push(...problemsOf(rangeProblem('label.minClassShare', label.minClassShare, 0, 0.5, 'a share of the rarest class: 0.01 is 1 %')));
    for (const bound of ['min', 'max'] as const) {
      const value = label?.[bound];
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) problems.push(`label.${bound} is ${String(value)}; expected a finite number or leave it unset`);
    }
    if (typeof label?.min === 'number' && typeof label.max === 'number' && label.min > label.max) problems.push(`label.min (${label.min}) is above label.max (${label.max})`);
    if (names.includes(label?.name)) problems.push(`label ${label.name} is also listed in columns; list it once, as the label`);
  }
  if (spec.minRows !== undefined && !(Number.isSafeInteger(spec.minRows) && spec.minRows >= 1)) problems.push(`minRows is ${String(spec.minRows)}; expected an integer ≥ 1`);
  problems.push(...problemsOf(
    rangeProblem('maxNullRate', spec.maxNullRate, 0, 1, 'a share: 0.05 is 5 %'),
    rangeProblem('maxTypeErrorRate', spec.maxTypeErrorRate, 0, 1, 'a share: 0 refuses any wrong-typed value'),
  ));
  if (spec.drift !== undefined && (spec.drift?.baseline === null || typeof spec.drift?.baseline !== 'object' || !Array.isArray(spec.drift.baseline.columns))) {
    problems.push('drift.baseline must be a DatasetProfile (runtime/core/drift), e.g. the model version\'s stored baseline');
  }
  return problems;
}

/**
 * Checks a training set. Throws `GateSpecError` for an invalid spec; never throws on the data (hostile values are
 * counted as nulls or type errors). NaN counts as a null, as in profiles.
 */
export function checkTrainingData(data: TrainingData, spec: DataGateSpec): GateResult {
  if ('profile' in data) {
    const expected = expectedOf(validSpec(spec));
    return judge(observeProfile(data.profile, expected), spec, expected);
  }
  const check = new TrainingDataCheck(spec);
  for (const row of data.rows ?? []) check.addRow(row);
  return check.result();
}

/**
 * The data gate over rows given one at a time, for sets streamed rather than held (the data gate step reads its JSON
 * lines from S3 as they arrive): `addRow` each row, then `result`. Memory is the profile's, not the set's.
 */
export class TrainingDataCheck {
  private readonly expected: readonly ExpectedColumn[];
  private readonly observer: RowObserver;

  /** Throws `GateSpecError` for an invalid spec. */
  constructor(private readonly spec: DataGateSpec) {
    this.expected = expectedOf(validSpec(spec));
    this.observer = new RowObserver(this.expected);
  }

  /** Counts one row (anything that is not an object counts as a row of nulls); never throws. */
  addRow(row: unknown): void {
    this.observer.add(row);
  }

  /** The verdict on the rows added so far. */
  result(): GateResult {
    return judge(this.observer.observation(), this.spec, this.expected);
  }
}

function validSpec(spec: DataGateSpec): DataGateSpec {
  const problems = dataGateSpecProblems(spec);
  if (problems.length > 0) throw new GateSpecError('data gate spec', problems);
  return spec;
}

const expectedOf = (spec: DataGateSpec): readonly ExpectedColumn[] => (spec.label ? [...spec.columns, spec.label] : spec.columns);

function judge(observed: Observation, spec: DataGateSpec, expected: readonly ExpectedColumn[]): GateResult {
  const checks: GateCheck[] = [rowCountCheck(observed.rows, spec.minRows ?? DataGateDefaults.MIN_ROWS)];
  for (const column of expected) {
    const o = observed.columns.get(column.name)!;
    const isLabel = column === spec.label;
    checks.push(schemaCheck(column, o, observed.rows, spec.maxTypeErrorRate ?? DataGateDefaults.MAX_TYPE_ERROR_RATE));
    const maxNulls = column.maxNullRate ?? (isLabel ? DataGateDefaults.LABEL_MAX_NULL_RATE : spec.maxNullRate ?? DataGateDefaults.MAX_NULL_RATE);
    checks.push(nullRateCheck(column.name, o, observed.rows, maxNulls));
  }
  if (spec.label) checks.push(...labelChecks(spec.label, observed.profile.columns.find((c) => c.name === profileNameOf(spec.label!))));
  if (spec.drift) checks.push(driftCheck(spec.drift.baseline, observed.profile, spec.drift.options));
  return gateResult(checks);
}

/** What was seen of one expected column. */
interface ColumnObservation {
  present: boolean;
  nulls: number;
  typeErrors: number;
}

interface Observation {
  readonly rows: number;
  readonly columns: Map<string, ColumnObservation>;
  /** Profile of the non-vector columns, named by `profileName`. */
  readonly profile: DatasetProfile;
}

const KIND: Readonly<Record<FeatureDtype, ColumnKind | undefined>> = {
  [FeatureDtype.INT64]: 'numeric', [FeatureDtype.FLOAT64]: 'numeric', [FeatureDtype.STRING]: 'categorical',
  [FeatureDtype.BOOL]: 'categorical', [FeatureDtype.FLOAT32_VECTOR]: undefined,
};

function kindOf(column: ExpectedColumn): ColumnKind | undefined {
  const label = column as LabelExpectation;
  if (label.task === 'classification') return 'categorical';
  return KIND[column.dtype];
}

function profileNameOf(column: ExpectedColumn): string {
  return column.profileName ?? column.name;
}

const META = { model: 'training-set', modelVersion: 'candidate', source: 'training-data-gate', createdAt: '1970-01-01T00:00:00.000Z' };

/** What rows show of the expected columns, one row at a time. */
class RowObserver {
  private readonly builder: ProfileBuilder;
  private readonly columns: Map<string, ColumnObservation>;
  private readonly tracked: readonly { column: ExpectedColumn; seen: ColumnObservation; feature: FeatureSpec }[];
  private rows = 0;

  constructor(expected: readonly ExpectedColumn[]) {
    const profiled = expected.filter((c) => kindOf(c) !== undefined);
    this.builder = new ProfileBuilder({ columns: profiled.map((c) => ({ name: profileNameOf(c), role: 'feature' as const, kind: kindOf(c)! })) });
    this.columns = new Map(expected.map((c) => [c.name, { present: false, nulls: 0, typeErrors: 0 }]));
    this.tracked = expected.map((c) => ({ column: c, seen: this.columns.get(c.name)!, feature: { name: c.name, dtype: c.dtype, dimension: c.dimension } }));
  }

  add(raw: unknown): void {
    this.rows++;
    const row = (raw !== null && typeof raw === 'object' ? raw : {}) as Readonly<Record<string, unknown>>;
    const profileRow: Record<string, unknown> = {};
    for (const { column, seen, feature } of this.tracked) {
      const value = row[column.name];
      if (value !== undefined) seen.present = true;
      profileRow[profileNameOf(column)] = value;
      if (value === null || value === undefined || Number.isNaN(value)) seen.nulls++;
      else if (valueProblem(feature, value) !== undefined) seen.typeErrors++;
    }
    this.builder.addRow(profileRow, {});
  }

  observation(): Observation {
    return { rows: this.rows, columns: this.columns, profile: this.builder.build(META) };
  }
}

function observeProfile(profile: DatasetProfile, expected: readonly ExpectedColumn[]): Observation {
  const rows = Number.isSafeInteger(profile?.rows) && profile.rows >= 0 ? profile.rows : 0;
  const byName = new Map((Array.isArray(profile?.columns) ? profile.columns : []).filter((c) => c.role === 'feature').map((c) => [c.name, c]));
  const columns = new Map(expected.map((c): [string, ColumnObservation] => {
    const p = byName.get(profileNameOf(c));
    if (!p) return [c.name, { present: false, nulls: rows, typeErrors: 0 }];
    const kind = kindOf(c);
    const present = p.rows - p.nulls - p.wrongType;
    // An int64 class label profiled as numbers is fine too: its classes come from the sketch.
    const kindMismatch = kind !== undefined && p.kind !== kind && !(p.kind === KIND[c.dtype]);
    return [c.name, { present: true, nulls: p.nulls, typeErrors: p.wrongType + (kindMismatch ? present : 0) }];
  }));
  return { rows, columns, profile };
}

function rowCountCheck(rows: number, minRows: number): GateCheck {
  const passed = rows >= minRows;
  return { name: 'row-count', passed, observed: rows, threshold: minRows, reason: `${rows} rows ${passed ? 'meets' : 'is fewer than'} the minimum of ${minRows}` };
}

function schemaCheck(column: ExpectedColumn, o: ColumnObservation, rows: number, maxRate: number): GateCheck {
  const base = { name: 'schema', column: column.name, threshold: maxRate };
  if (!o.present) return { ...base, passed: false, observed: null, reason: `column ${column.name} (${column.dtype}) is missing from the training set` };
  const rate = rows === 0 ? 0 : o.typeErrors / rows;
  const passed = rate <= maxRate;
  return {
    ...base, passed, observed: rate,
    reason: passed ? `column ${column.name}: ${o.typeErrors} values not ${column.dtype} (${formatShare(rate)}), within ${formatShare(maxRate)}`
      : `column ${column.name}: ${o.typeErrors} of ${rows} values are not ${column.dtype} (${formatShare(rate)}), above ${formatShare(maxRate)}; fix the producer or the declared type`,
  };
}

function nullRateCheck(name: string, o: ColumnObservation, rows: number, maxRate: number): GateCheck {
  const base = { name: 'null-rate', column: name, threshold: maxRate };
  if (rows === 0) return { ...base, passed: false, observed: null, reason: `column ${name}: no rows to measure the null rate on` };
  const rate = o.nulls / rows;
  const passed = rate <= maxRate;
  return { ...base, passed, observed: rate, reason: `column ${name}: ${o.nulls} of ${rows} null (${formatShare(rate)}), ${passed ? 'within' : 'above'} the maximum of ${formatShare(maxRate)}` };
}

function labelChecks(label: LabelExpectation, column: ColumnProfile | undefined): GateCheck[] {
  if (label.task === 'regression') {
    const min = column?.numeric?.min ?? null;
    const max = column?.numeric?.max ?? null;
    const checks: GateCheck[] = [];
    if (label.min !== undefined) {
      const passed = min !== null && min >= label.min;
      checks.push({ name: 'label-min', column: label.name, passed, observed: min, threshold: label.min, reason: min === null ? `label ${label.name} has no values` : `label ${label.name} minimum ${formatNumber(min)} ${passed ? 'is at or above' : 'is below'} the bound ${formatNumber(label.min)}` });
    }
    if (label.max !== undefined) {
      const passed = max !== null && max <= label.max;
      checks.push({ name: 'label-max', column: label.name, passed, observed: max, threshold: label.max, reason: max === null ? `label ${label.name} has no values` : `label ${label.name} maximum ${formatNumber(max)} ${passed ? 'is at or below' : 'is above'} the bound ${formatNumber(label.max)}` });
    }
    return checks;
  }
  const counts = classCounts(column);
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  const minShare = label.minClassShare ?? DataGateDefaults.MIN_CLASS_SHARE;
  const classes: GateCheck = {
    name: 'label-classes', column: label.name, passed: counts.length >= 2, observed: counts.length, threshold: 2,
    reason: counts.length >= 2 ? `label ${label.name} has ${counts.length} classes` : `label ${label.name} has ${counts.length} class${counts.length === 1 ? ` (${counts[0][0]})` : 'es'}; a classifier needs at least 2`,
  };
  if (counts.length < 2) return [classes];
  const [rarest, rareCount] = counts[counts.length - 1];
  const share = rareCount / total;
  const passed = share >= minShare;
  return [classes, {
    name: 'label-class-share', column: label.name, passed, observed: share, threshold: minShare,
    reason: `label ${label.name}: rarest class ${rarest} is ${rareCount} of ${total} (${formatShare(share)}), ${passed ? 'at or above' : 'below'} the minimum of ${formatShare(minShare)}`,
  }];
}

/**
 * Class counts of a label column, largest first: exact categorical counts (up to 1,000 classes), or — for a label
 * profiled as numbers — the weights of its KLL sketch, approximate once the sketch has compacted.
 */
function classCounts(column: ColumnProfile | undefined): [string, number][] {
  if (column?.categorical) return column.categorical.counts.slice().sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (!column?.numeric) return [];
  const { values, cumulative } = QuantileSketch.fromJSON(column.numeric.sketch).sorted();
  const counts = Array.from(values, (v, i): [string, number] => [String(v), cumulative[i] - (i > 0 ? cumulative[i - 1] : 0)]);
  return counts.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function driftCheck(baseline: DatasetProfile, current: DatasetProfile, options: DriftOptions = {}): GateCheck {
  const features = { ...baseline, columns: baseline.columns.filter((c) => c.role === 'feature') };
  const report = detectDrift(features, current, options);
  const driftShare = options.driftShare ?? 0.5;
  const drifted = report.columns.filter((c) => c.drifted).map((c) => `${c.name} (${c.method} ${formatNumber(c.score ?? NaN)})`);
  const listed = drifted.length > 10 ? `${drifted.slice(0, 10).join(', ')} and ${drifted.length - 10} more` : drifted.join(', ');
  return {
    name: 'drift', passed: !report.datasetDrift, observed: report.driftedFeatureShare, threshold: driftShare,
    reason: `${drifted.length} of ${report.columns.filter((c) => c.score !== null).length} features drifted against the baseline (${formatShare(report.driftedFeatureShare)}; dataset drift at ${formatShare(driftShare)})${drifted.length > 0 ? `: ${listed}` : ''}`,
  };
}
