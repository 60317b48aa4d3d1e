/**
 * Dataset profiles: what a baseline stores about a model's inputs and outputs, and what the drift detector builds from
 * a window of prediction logs to compare against it. One pass, bounded memory: per numeric column a KLL sketch plus
 * exact count, mean, standard deviation and range; per categorical column exact counts up to 1,000 distinct values,
 * then heavy hitters; per column the null and wrong-type counts. Profiles are plain JSON (`DatasetProfile`) and merge.
 * Pure TypeScript.
 */
import type { ModelQualitySummary } from '../model-quality';
import { CategoryCounter, CategoryCounterState } from './category-counter';
import { QuantileSketch, QuantileSketchState, upperBound } from './quantile-sketch';
// Globals bound once: hot loops run in Jest's vm realm too, where each global lookup is a slow interceptor call.
const { isFinite: isFiniteNumber, isNaN: isNaNNumber } = Number;
const { isArray } = Array;
const { keys: keysOf } = Object;

/** Version of the `DatasetProfile` JSON format (the `schema` field). */
export const PROFILE_SCHEMA = 1;

/** Whether a column is a model input (feature) or a model output. */
export type ColumnRole = 'feature' | 'output';

/** How a column's values are summarized and compared. */
export type ColumnKind = 'numeric' | 'categorical';

/** Prefix of output column names: output `score` is the column `output:score`. */
export const OUTPUT_PREFIX = 'output:';

/** Vectors up to this length are profiled element by element (`output:<name>[i]`); longer ones by their argmax. */
export const MAX_OUTPUT_VECTOR = 32;

/** Numeric summary of a column (finite numbers only). */
export interface NumericSummary {
  /** Finite values counted. */
  readonly count: number;
  /** Mean (NaN → `null` in JSON when count is 0). */
  readonly mean: number | null;
  /** Population standard deviation (ddof 0, as numpy's `std`, which Evidently normalizes Wasserstein by). */
  readonly std: number | null;
  /** Smallest value (`null` when none). */
  readonly min: number | null;
  /** Largest value (`null` when none). */
  readonly max: number | null;
  /** Quantile sketch of the values. */
  readonly sketch: QuantileSketchState;
  /**
   * Values outside the reference profile's [min, max], when the profile was built with a `reference`
   * (`ProfileBuilderOptions.reference`); absent otherwise.
   */
  readonly outOfRange?: number;
}

/** Profile of one column. */
export interface ColumnProfile {
  /** Feature name, or `output:<name>` for a model output. */
  readonly name: string;
  readonly role: ColumnRole;
  readonly kind: ColumnKind;
  /** Rows profiled (the dataset's rows). */
  readonly rows: number;
  /** Rows where the value was absent, null, undefined or NaN. */
  readonly nulls: number;
  /**
   * Rows whose value had the wrong type for the column: a string, boolean, ±Infinity, array or object in a numeric
   * column; an array or object in a categorical column.
   */
  readonly wrongType: number;
  /** Present when `kind` is `numeric`. */
  readonly numeric?: NumericSummary;
  /** Present when `kind` is `categorical`: counts (all of them while `exact`, else the heavy hitters) and distinct. */
  readonly categorical?: CategoryCounterState;
}

/**
 * How diverse the model's top predictions are — the feedback-loop signal of a collapsing model (a recommender that
 * gives everyone the same item). The "top prediction" of a row is, for the primary output (`output`):
 * - `value`: its value, when it is a string or boolean (a class label);
 * - `argmax`: the index of its largest element, when it is a vector of numbers (class scores);
 * - `decile`: which of the baseline's ten decile buckets it falls in, when it is a single number (a score); the
 *   bucket of x is the number of baseline deciles (q10 … q90, `deciles`) that are ≤ x (0–9).
 * `share` = distinct top predictions / rows with a top prediction; `topShare` = share of those rows whose top
 * prediction is the most common one (independent of the window's size: 1.0 means total collapse).
 */
export interface PredictionDiversity {
  /** Primary output name (without `output:`). */
  readonly output: string;
  readonly basis: 'value' | 'argmax' | 'decile';
  /** Rows that had a top prediction. */
  readonly rows: number;
  /** Distinct top predictions (a lower bound when `distinctExact` is false). */
  readonly distinct: number;
  readonly distinctExact: boolean;
  /** distinct / rows (0 when no rows). */
  readonly share: number;
  /** Share of rows with the most common top prediction (0 when no rows). */
  readonly topShare: number;
  /** `decile` basis: the deciles q10 … q90 of the score the buckets are cut at (the baseline's). */
  readonly deciles?: number[];
}

/** A profile of a dataset (a training set, or a window of prediction logs): plain JSON. */
export interface DatasetProfile {
  /** `PROFILE_SCHEMA`. */
  readonly schema: number;
  readonly model: string;
  readonly modelVersion: string;
  /** When the profile was built, ISO-8601 UTC. */
  readonly createdAt: string;
  /** Free text: where the rows came from (a training-set path, a window of logs). */
  readonly source: string;
  /** Rows profiled. */
  readonly rows: number;
  /** Features first, then outputs, each in the order they were first seen (or given). */
  readonly columns: ColumnProfile[];
  /** Model quality measured on the same data (baselines built from labelled data). */
  readonly quality?: ModelQualitySummary;
  /** Diversity of the top predictions (absent when no row had an output). */
  readonly topPrediction?: PredictionDiversity;
}

/** A column to profile. */
export interface ProfileColumnSpec {
  /** Feature name, or `output:<name>` for a model output. */
  readonly name: string;
  readonly role: ColumnRole;
  /** Fixed kind; inferred from the first non-null value when absent. */
  readonly kind?: ColumnKind;
}

/** Options of a `ProfileBuilder`. */
export interface ProfileBuilderOptions {
  /**
   * The columns to profile, kinds fixed: other keys of the rows are ignored. Without it, columns are discovered from
   * the rows (at most `maxColumns`) and their kinds inferred from the first non-null value (number → numeric;
   * string or boolean → categorical; a column never seen non-null is numeric).
   * @default the reference's columns when `reference` is given, else discovered
   */
  readonly columns?: readonly ProfileColumnSpec[];
  /**
   * A profile to measure against (the baseline, when profiling a drift window): numeric values outside its
   * [min, max] are counted (`NumericSummary.outOfRange`), a scalar primary output is bucketed by its deciles, and its
   * columns are the default `columns`.
   * @default none
   */
  readonly reference?: DatasetProfile;
  /**
   * Name of the output whose top prediction measures diversity.
   * @default the reference's, else the first output of the first row that has one
   */
  readonly primaryOutput?: string;
  /**
   * Most columns discovered (when `columns` is not given); keys beyond are ignored.
   * @default 512
   */
  readonly maxColumns?: number;
  /**
   * Accuracy parameter of the numeric columns' KLL sketches.
   * @default 200
   */
  readonly sketchK?: number;
  /**
   * Distinct values counted exactly per categorical column.
   * @default 1000
   */
  readonly categoryCapacity?: number;
}

/** Metadata of a built profile. */
export interface ProfileMeta {
  readonly model: string;
  readonly modelVersion: string;
  /** Free text: where the rows came from. */
  readonly source: string;
  /** @default now */
  readonly createdAt?: string;
  /** Model quality to record with the profile. */
  readonly quality?: ModelQualitySummary;
}

/** The columns of a profile, kinds fixed: pass them to a `ProfileBuilder` to profile a window like the baseline. */
export function columnsOf(profile: DatasetProfile): ProfileColumnSpec[] {
  return profile.columns.map(({ name, role, kind }) => ({ name, role, kind }));
}

const MAX_UNWRAP = 64;

/**
 * Flattens a prediction's outputs into scalar columns: an output whose value is a scalar, or a one-element array
 * (nested too: `[[0.93]]`), is the column `output:<name>`; a vector of n ≤ 32 numbers is `output:<name>[0]` …
 * `output:<name>[n-1]`; a longer vector of numbers is only `output:<name>:argmax` (the index of its largest element, as
 * a category). Booleans become `'true'`/`'false'`; anything else (objects, mixed or ragged arrays, NaN) is `null`.
 * Never throws (no recursion on the value).
 */
export function flattenOutputs(outputs: Record<string, unknown>): Record<string, number | string | null> {
  const flat: Record<string, number | string | null> = {};
  if (outputs === null || typeof outputs !== 'object') return flat;
  for (const name of keysOf(outputs)) {
    const column = OUTPUT_PREFIX + name;
    const value = unwrap(outputs[name]);
    if (!isArray(value)) {
      flat[column] = scalar(value);
    } else if (value.length <= MAX_OUTPUT_VECTOR) {
      for (let i = 0; i < value.length; i++) flat[`${column}[${i}]`] = typeof value[i] === 'number' ? scalar(value[i]) : null;
    } else {
      const best = argmax(value);
      flat[`${column}:argmax`] = best < 0 ? null : String(best);
    }
  }
  return flat;
}

/** Unwraps one-element arrays (`[[0.93]]` → 0.93), at most 64 levels. */
function unwrap(value: unknown): unknown {
  let v = value;
  for (let depth = 0; depth < MAX_UNWRAP && isArray(v) && v.length === 1; depth++) v = v[0];
  return v;
}

function scalar(value: unknown): number | string | null {
  if (typeof value === 'number') return isNaNNumber(value) ? null : value;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return null;
}

/** Index of the largest finite number of an array; -1 when an element is not a finite number. */
function argmax(values: readonly unknown[]): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !isFiniteNumber(v)) return -1;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** Accumulates one column. */
class ColumnAccumulator {
  kind: ColumnKind | undefined;
  wrongType = 0;
  sketch: QuantileSketch | undefined;
  counter: CategoryCounter | undefined;
  // Mean and variance from sums shifted by the first value (stable for large offsets, one pass, mergeable).
  count = 0;
  shift = NaN;
  s1 = 0;
  s2 = 0;
  outOfRange = 0;

  constructor(
    readonly name: string,
    readonly role: ColumnRole,
    kind: ColumnKind | undefined,
    private readonly options: { sketchK?: number; categoryCapacity?: number },
    private readonly range?: { min: number; max: number },
  ) {
    if (kind) this.setKind(kind);
  }

  setKind(kind: ColumnKind): void {
    this.kind = kind;
    if (kind === 'numeric') this.sketch = new QuantileSketch({ k: this.options.sketchK });
    else this.counter = new CategoryCounter({ capacity: this.options.categoryCapacity });
  }

  add(value: unknown): void {
    if (value === null || value === undefined) return;
    const type = typeof value;
    if (this.kind === undefined) {
      if (type === 'number') {
        if (isNaNNumber(value)) return;
        this.setKind('numeric');
      } else if (type === 'string' || type === 'boolean') {
        this.setKind('categorical');
      }
    }
    if (this.kind === 'numeric') {
      if (type !== 'number') {
        this.wrongType++;
        return;
      }
      const x = value as number;
      if (!isFiniteNumber(x)) {
        if (!isNaNNumber(x)) this.wrongType++;
        return;
      }
      this.addNumber(x);
    } else if (this.kind === 'categorical') {
      if (type === 'string') this.counter!.add(value as string);
      else if (type === 'boolean') this.counter!.add(value ? 'true' : 'false');
      else if (type === 'number') {
        if (!isNaNNumber(value)) this.counter!.add(String(value));
      } else this.wrongType++;
    } else {
      this.wrongType++;
    }
  }

  private addNumber(x: number): void {
    if (this.count === 0) this.shift = x;
    const d = x - this.shift;
    this.count++;
    this.s1 += d;
    this.s2 += d * d;
    if (this.range !== undefined && (x < this.range.min || x > this.range.max)) this.outOfRange++;
    this.sketch!.update(x);
  }

  merge(other: ColumnAccumulator): void {
    if (other.kind !== undefined && this.kind === undefined) this.setKind(other.kind);
    this.wrongType += other.wrongType;
    if (other.kind !== this.kind) {
      // A column inferred differently in two builders: the other's values are of the wrong type here.
      this.wrongType += other.kind === 'numeric' ? other.count : other.counter?.total ?? 0;
      return;
    }
    if (this.kind === 'categorical') {
      this.counter!.merge(other.counter!);
      return;
    }
    if (other.count === 0) return;
    if (this.count === 0) this.shift = other.shift;
    const delta = other.shift - this.shift;
    this.s2 += other.s2 + 2 * delta * other.s1 + other.count * delta * delta;
    this.s1 += other.s1 + other.count * delta;
    this.count += other.count;
    this.outOfRange += other.outOfRange;
    this.sketch!.merge(other.sketch!);
  }

  build(rows: number, withRange: boolean): ColumnProfile {
    const kind = this.kind ?? 'numeric';
    const present = kind === 'numeric' ? this.count : this.counter!.total;
    const base = { name: this.name, role: this.role, kind, rows, nulls: rows - present - this.wrongType, wrongType: this.wrongType };
    if (kind === 'categorical') return { ...base, categorical: this.counter!.toJSON() };
    const sketch = this.sketch ?? new QuantileSketch({ k: this.options.sketchK });
    const mean = this.count === 0 ? null : this.shift + this.s1 / this.count;
    const variance = this.count === 0 ? null : Math.max(0, this.s2 / this.count - (this.s1 / this.count) ** 2);
    return {
      ...base,
      numeric: {
        count: this.count,
        mean,
        std: variance === null ? null : Math.sqrt(variance),
        min: this.count === 0 ? null : sketch.min,
        max: this.count === 0 ? null : sketch.max,
        sketch: sketch.toJSON(),
        ...(withRange ? { outOfRange: this.outOfRange } : {}),
      },
    };
  }
}

/** Counts the top predictions of the primary output, row by row. */
class TopPredictionAccumulator {
  basis: PredictionDiversity['basis'] | undefined;
  readonly counter = new CategoryCounter();

  constructor(readonly output: string, readonly deciles: Float64Array | undefined) {}

  add(raw: unknown): void {
    const value = unwrap(raw);
    if (typeof value === 'string' || typeof value === 'boolean') {
      this.basis ??= 'value';
      this.counter.add(String(value));
    } else if (isArray(value)) {
      const best = argmax(value);
      if (best < 0) return;
      this.basis ??= 'argmax';
      this.counter.add(String(best));
    } else if (typeof value === 'number' && isFiniteNumber(value)) {
      this.basis ??= 'decile';
      // Without the baseline's deciles (building a baseline) the buckets come from the column's sketch at build.
      if (this.deciles) this.counter.add(String(upperBound(this.deciles, value)));
    }
  }

  build(scoreColumn: ColumnProfile | undefined): PredictionDiversity | undefined {
    if (this.basis === undefined) return undefined;
    if (this.basis === 'decile') return this.decileDiversity(scoreColumn);
    const counter = this.counter;
    const top = counter.top(1)[0]?.[1] ?? 0;
    return this.diversity(counter.total, counter.distinct, counter.exact, top);
  }

  private decileDiversity(scoreColumn: ColumnProfile | undefined): PredictionDiversity | undefined {
    if (this.deciles) {
      const top = this.counter.top(1)[0]?.[1] ?? 0;
      return this.diversity(this.counter.total, this.counter.distinct, true, top, Array.from(this.deciles));
    }
    if (!scoreColumn?.numeric) return undefined;
    const sketch = QuantileSketch.fromJSON(scoreColumn.numeric.sketch);
    const edges = Float64Array.from({ length: 9 }, (_, i) => sketch.quantile((i + 1) / 10));
    const buckets = new Float64Array(10);
    const { values, cumulative } = sketch.sorted();
    for (let i = 0; i < values.length; i++) buckets[upperBound(edges, values[i])] += cumulative[i] - (i > 0 ? cumulative[i - 1] : 0);
    const distinct = buckets.filter((b) => b > 0).length;
    return this.diversity(sketch.count, distinct, true, Math.max(...buckets), Array.from(edges));
  }

  private diversity(rows: number, distinct: number, distinctExact: boolean, top: number, deciles?: number[]): PredictionDiversity {
    return {
      output: this.output,
      basis: this.basis!,
      rows,
      distinct,
      distinctExact,
      share: rows === 0 ? 0 : distinct / rows,
      topShare: rows === 0 ? 0 : top / rows,
      ...(deciles ? { deciles } : {}),
    };
  }
}

/**
 * Builds a `DatasetProfile` from rows of features and outputs, in one pass and bounded memory. Builders of parts of
 * a dataset merge. Never throws on a row's values (hostile values are counted as nulls or wrong types).
 */
export class ProfileBuilder {
  private readonly columns = new Map<string, ColumnAccumulator>();
  private readonly featureColumns: ColumnAccumulator[] = [];
  private readonly outputColumns: ColumnAccumulator[] = [];
  private readonly fixed: boolean = false;
  private readonly maxColumns: number;
  private readonly reference: DatasetProfile | undefined;
  private primaryOutput: string | undefined;
  private top: TopPredictionAccumulator | undefined;
  private rows = 0;

  constructor(private readonly options: ProfileBuilderOptions = {}) {
    this.reference = options.reference;
    this.maxColumns = options.maxColumns ?? 512;
    const columns = options.columns ?? (options.reference ? columnsOf(options.reference) : undefined);
    for (const spec of columns ?? []) this.column(spec.name, spec.role, spec.kind);
    this.fixed = columns !== undefined;
    this.primaryOutput = options.primaryOutput ?? options.reference?.topPrediction?.output;
  }

  /** Rows added. */
  get rowCount(): number {
    return this.rows;
  }

  /** Profiles one row: its feature values and its model outputs (as logged: by output name, plain arrays). */
  addRow(features: Record<string, unknown>, outputs: Record<string, unknown>): void {
    this.rows++;
    const safeFeatures = features !== null && typeof features === 'object' ? features : {};
    const safeOutputs = outputs !== null && typeof outputs === 'object' ? outputs : {};
    const flat = flattenOutputs(safeOutputs);
    if (this.fixed) {
      for (const column of this.featureColumns) column.add(safeFeatures[column.name]);
      for (const column of this.outputColumns) column.add(flat[column.name]);
    } else {
      for (const name of keysOf(safeFeatures)) this.column(name, 'feature')?.add(safeFeatures[name]);
      for (const name of keysOf(flat)) this.column(name, 'output')?.add(flat[name]);
    }
    this.addTopPrediction(safeOutputs);
  }

  /** Folds another builder's rows into this one (the other is unchanged in count, but shares no state). */
  merge(other: ProfileBuilder): this {
    this.rows += other.rows;
    for (const column of [...other.featureColumns, ...other.outputColumns]) {
      const mine = this.column(column.name, column.role, column.kind);
      mine?.merge(column);
    }
    if (other.top) {
      this.primaryOutput ??= other.top.output;
      this.top ??= new TopPredictionAccumulator(other.top.output, other.top.deciles);
      if (this.top.output === other.top.output) {
        this.top.basis ??= other.top.basis;
        this.top.counter.merge(other.top.counter);
      }
    }
    return this;
  }

  /** The profile of the rows added so far. */
  build(meta: ProfileMeta): DatasetProfile {
    const withRange = this.reference !== undefined;
    const columns = [...this.featureColumns, ...this.outputColumns].map((c) => c.build(this.rows, withRange));
    const primary = this.top ? columns.find((c) => c.name === OUTPUT_PREFIX + this.top!.output) : undefined;
    const topPrediction = this.top?.build(primary);
    return {
      schema: PROFILE_SCHEMA,
      model: meta.model,
      modelVersion: meta.modelVersion,
      createdAt: meta.createdAt ?? new Date().toISOString(),
      source: meta.source,
      rows: this.rows,
      columns,
      ...(meta.quality ? { quality: meta.quality } : {}),
      ...(topPrediction ? { topPrediction } : {}),
    };
  }

  private addTopPrediction(outputs: Record<string, unknown>): void {
    if (this.primaryOutput === undefined) {
      const first = keysOf(outputs)[0];
      if (first === undefined) return;
      this.primaryOutput = first;
    }
    if (!(this.primaryOutput in outputs)) return;
    this.top ??= new TopPredictionAccumulator(this.primaryOutput, this.referenceDeciles());
    this.top.add(outputs[this.primaryOutput]);
  }

  private referenceDeciles(): Float64Array | undefined {
    const deciles = this.reference?.topPrediction?.deciles;
    return deciles && deciles.length === 9 && deciles.every(Number.isFinite) ? Float64Array.from(deciles) : undefined;
  }

  /** The accumulator of a column, created when new (undefined past `maxColumns` or for an unknown fixed column). */
  private column(name: string, role: ColumnRole, kind?: ColumnKind): ColumnAccumulator | undefined {
    const key = `${role}\u0000${name}`;
    const existing = this.columns.get(key);
    if (existing || this.fixed) return existing;
    if (this.columns.size >= this.maxColumns) return undefined;
    const referenceColumn = this.reference?.columns.find((c) => c.name === name && c.role === role);
    const range = referenceColumn?.numeric && referenceColumn.numeric.min !== null && referenceColumn.numeric.max !== null
      ? { min: referenceColumn.numeric.min, max: referenceColumn.numeric.max }
      : undefined;
    const column = new ColumnAccumulator(name, role, kind, this.options, range);
    this.columns.set(key, column);
    (role === 'feature' ? this.featureColumns : this.outputColumns).push(column);
    return column;
  }
}
