/** Argument checks shared by the experiment statistics: each throws a RangeError naming the argument and the fix. */

/** Requires 0 < value < 1. */
export function requireProbability(where: string, name: string, value: number): void {
  if (!(value > 0 && value < 1)) throw new RangeError(`${where}: ${name} must be strictly between 0 and 1 (got ${value})`);
}

/** Requires a finite number. */
export function requireFinite(where: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`${where}: ${name} must be a finite number (got ${value})`);
}

/** Requires a finite number > 0. */
export function requirePositive(where: string, name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${where}: ${name} must be a finite number above 0 (got ${value})`);
}

/** Requires a finite number ≥ 0. */
export function requireNonNegative(where: string, name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${where}: ${name} must be a finite number of at least 0 (got ${value})`);
}
